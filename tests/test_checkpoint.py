"""Checkpoints: round trip with optimizer state, each kind of mismatch, atomic saving."""
import os

import numpy as np
import pytest

import xpgrad as xg


def _train(model, opt, steps, seed=0):
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        x = xg.asarray(rng.standard_normal((8, 4)).astype(np.float32))
        y = xg.asarray(rng.integers(0, 3, 8))
        opt.minimize(lambda: xg.losses.softmax_cross_entropy(model(x), y), model)


def test_round_trip_restores_model_and_optimizer(tmp_path):
    model, opt = xg.nn.MLP([4, 6, 3], rng=0), xg.optim.Adam(0.01)
    _train(model, opt, 3)
    path = tmp_path / "ckpt.npz"
    xg.save_checkpoint(path, model, opt)
    with np.load(path) as z:
        assert "model/mlp/linear0/w" in z.files and "optimizer/mlp/linear1/b/m" in z.files
    model2, opt2 = xg.nn.MLP([4, 6, 3], rng=1), xg.optim.Adam(0.01)
    xg.load_checkpoint(path, model2, opt2)
    assert opt2.iterations == 3
    for a, b in zip(model.variables, model2.variables):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    _train(model, opt, 2, seed=5)          # the same next steps give the same weights
    _train(model2, opt2, 2, seed=5)
    for a, b in zip(model.variables, model2.variables):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_model_only_and_ignoring_optimizer_entries(tmp_path):
    model, opt = xg.nn.MLP([2, 3, 1], rng=0), xg.optim.SGD(0.1, momentum=0.9)
    opt.minimize(lambda: xg.sum(model(xg.ones((1, 2)))), model)
    xg.save_checkpoint(tmp_path / "a.npz", model, opt)
    other = xg.nn.MLP([2, 3, 1], rng=9)
    xg.load_checkpoint(tmp_path / "a.npz", other)           # optimizer entries ignored
    np.testing.assert_array_equal(other.layers[0].w.numpy(), model.layers[0].w.numpy())
    xg.save_checkpoint(tmp_path / "b.npz", model)
    with pytest.raises(xg.CheckpointError, match="missing 'optimizer/iterations'"):
        xg.load_checkpoint(tmp_path / "b.npz", other, xg.optim.SGD(0.1, momentum=0.9))
    with pytest.raises(xg.CheckpointError, match="holds SGD state, not Adam"):
        xg.load_checkpoint(tmp_path / "a.npz", other, xg.optim.Adam())


def test_fresh_optimizer_state_for_untouched_variables_is_optional(tmp_path):
    model, opt = xg.nn.MLP([2, 3, 1], rng=0), xg.optim.Adam()
    xg.save_checkpoint(tmp_path / "c.npz", model, opt)      # before any step: no slots
    opt2 = xg.optim.Adam()
    xg.load_checkpoint(tmp_path / "c.npz", model, opt2)
    assert opt2.iterations == 0


def test_each_mismatch_is_named(tmp_path):
    path = tmp_path / "m.npz"
    xg.save_checkpoint(path, xg.nn.MLP([4, 5, 3], rng=0))
    cases = [
        (xg.nn.MLP([4, 5, 5, 3], rng=0), ["missing 'model/mlp/linear2/w'",
                                          "shape of 'model/mlp/linear1/w': checkpoint (5, 3), "
                                          "model (5, 5)"]),
        (xg.nn.MLP([4, 3], rng=0), ["unexpected 'model/mlp/linear1/w'",
                                    "shape of 'model/mlp/linear0/w': checkpoint (4, 5), "
                                    "model (4, 3)"]),
        (xg.nn.MLP([4, 5, 3], rng=0, dtype="float64"),
         ["dtype of 'model/mlp/linear0/w': checkpoint float32, model float64"]),
        (xg.nn.MLP([4, 5, 3], rng=0, name="net"), ["missing 'model/net/linear0/w'",
                                                   "unexpected 'model/mlp/linear0/w'"]),
    ]
    for model, expected in cases:
        before = [v.numpy().copy() for v in model.variables]
        with pytest.raises(xg.CheckpointError) as err:
            xg.load_checkpoint(path, model)
        for line in expected:
            assert line in str(err.value)
        for v, b in zip(model.variables, before):       # nothing was changed
            np.testing.assert_array_equal(v.numpy(), b)


def test_not_an_xpgrad_checkpoint(tmp_path):
    np.savez(tmp_path / "plain.npz", w=np.ones(2))
    with pytest.raises(xg.CheckpointError, match="not an xpgrad checkpoint"):
        xg.load_checkpoint(tmp_path / "plain.npz", xg.nn.Linear(2, 1, rng=0))


def test_save_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.npz"
    model = xg.nn.MLP([3, 4, 2], rng=0)
    xg.save_checkpoint(path, model)
    good = path.read_bytes()

    def broken_savez(f, **arrays):
        f.write(b"PK\x03\x04 partial")
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", broken_savez)
    model.layers[0].w.assign(np.zeros((3, 4)))
    with pytest.raises(OSError, match="disk full"):
        xg.save_checkpoint(path, model)
    assert path.read_bytes() == good                       # the old checkpoint survives
    assert os.listdir(tmp_path) == ["ckpt.npz"]            # no temporary file left
    with pytest.raises(OSError, match="disk full"):
        xg.save_checkpoint(tmp_path / "new.npz", model)
    assert os.listdir(tmp_path) == ["ckpt.npz"]            # no partial new file


def test_dict_and_list_of_variables(tmp_path):
    a, b = xg.Variable([1.0, 2.0], name="a"), xg.Variable([[3.0]], name="b")
    xg.save_checkpoint(tmp_path / "v.npz", [a, b])
    c, d = xg.Variable([0.0, 0.0], name="a"), xg.Variable([[0.0]], name="b")
    xg.load_checkpoint(tmp_path / "v.npz", {"a": c, "b": d})
    assert c.tolist() == [1.0, 2.0] and d.tolist() == [[3.0]]
    with pytest.raises(ValueError, match="two variables are named 'a'"):
        xg.save_checkpoint(tmp_path / "x.npz", [a, c])


# -- damaged files, paths, temporaries, permissions, kills --------------------------------------
import signal  # noqa: E402
import stat  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import zipfile  # noqa: E402

from xpgrad.checkpoint import checkpoint_metadata, remove_stale_temporaries  # noqa: E402


def _saved(tmp_path, name="c.npz"):
    model, opt = xg.nn.MLP([3, 4, 2], rng=0), xg.optim.Adam(0.01)
    opt.minimize(lambda: xg.sum(model(xg.ones((1, 3)))), model)
    path = tmp_path / name
    xg.save_checkpoint(path, model, opt)
    return path, model, opt


def _temporaries(directory):
    return sorted(n for n in os.listdir(directory) if n.endswith(".tmp"))


@pytest.mark.parametrize("damage, message", [
    (lambda b: b[: len(b) // 2], r"not a .npz \(zip\) archive"),             # truncated
    (lambda b: b[:-30], r"not a .npz \(zip\) archive"),                       # tail cut
    (lambda b: b"", "empty"),
    (lambda b: b"hello, I am not a zip file at all" * 10, r"not a .npz \(zip\) archive"),
])
def test_damaged_files_raise_checkpoint_error_naming_the_file(tmp_path, damage, message):
    path, model, opt = _saved(tmp_path)
    path.write_bytes(damage(path.read_bytes()))
    before = [v.numpy().copy() for v in model.variables]
    with pytest.raises(xg.CheckpointError, match=message) as e:
        xg.load_checkpoint(path, model, opt)
    assert str(path) in str(e.value)
    for v, b in zip(model.variables, before):
        np.testing.assert_array_equal(v.numpy(), b)


def test_every_flipped_byte_is_caught_or_harmless(tmp_path):
    """Flip each byte of a small checkpoint in turn: loading either raises CheckpointError
    naming the file, or (a byte the format does not use, like a timestamp) loads the same
    values. Never another exception, never different numbers."""
    path, model, opt = _saved(tmp_path)
    good = path.read_bytes()
    want = {k: v.numpy().copy() for k, v in model.named_variables().items()}
    outcomes = {"error": 0, "same": 0}
    for i in range(0, len(good), max(1, len(good) // 500)):
        bad = bytearray(good)
        bad[i] ^= 0x5A
        path.write_bytes(bytes(bad))
        other = xg.nn.MLP([3, 4, 2], rng=0)
        try:
            xg.load_checkpoint(path, other, xg.optim.Adam(0.01))
        except xg.CheckpointError as e:
            assert str(path) in str(e), (i, str(e))
            outcomes["error"] += 1
            continue
        for k, v in other.named_variables().items():
            np.testing.assert_array_equal(v.numpy(), want[k], err_msg=f"byte {i}")
        outcomes["same"] += 1
    assert outcomes["error"] > 0.5 * sum(outcomes.values()), outcomes


def test_a_flipped_data_byte_names_the_damage(tmp_path):
    path, model, opt = _saved(tmp_path)
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as z:
        info = z.getinfo("model/mlp/linear0/w.npy")
    data[info.header_offset + 30 + len(info.filename) + info.file_size - 3] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(xg.CheckpointError, match=r"is damaged \(reading 'model/mlp/linear0/w'"
                                                 r"\): BadZipFile"):
        xg.load_checkpoint(path, model, opt)


def test_object_arrays_and_other_files_are_refused(tmp_path):
    path = tmp_path / "obj.npz"
    np.savez(path, **{"__xpgrad__": np.asarray('{"format": 1}'),
                      "model/w": np.array([{"a": 1}], dtype=object)})
    with pytest.raises(xg.CheckpointError, match="holds pickled Python objects under "
                                                 "'model/w'"):
        xg.load_checkpoint(path, {"w": xg.Variable([1.0], name="w")})
    npy = tmp_path / "plain.npy"
    np.save(npy, np.ones(3))
    with pytest.raises(xg.CheckpointError, match="not a .npz"):
        xg.load_checkpoint(npy, {"w": xg.Variable([1.0], name="w")})
    bad_meta = tmp_path / "meta.npz"
    np.savez(bad_meta, **{"__xpgrad__": np.asarray("{not json")})
    with pytest.raises(xg.CheckpointError, match="'__xpgrad__' entry is not valid"):
        xg.load_checkpoint(bad_meta, {"w": xg.Variable([1.0], name="w")})
    with pytest.raises(xg.CheckpointError, match="is a directory, not a checkpoint file"):
        xg.load_checkpoint(tmp_path, {"w": xg.Variable([1.0], name="w")})
    with pytest.raises(FileNotFoundError, match="no checkpoint file"):
        xg.load_checkpoint(tmp_path / "none.npz", {"w": xg.Variable([1.0], name="w")})


def test_bad_save_paths_raise_before_any_work(tmp_path):
    model = xg.nn.Linear(2, 1, rng=0)
    with pytest.raises(xg.CheckpointError, match="the directory .*no/such' does not exist"):
        xg.save_checkpoint(tmp_path / "no" / "such" / "c.npz", model)
    with pytest.raises(xg.CheckpointError, match="it is a directory"):
        xg.save_checkpoint(tmp_path, model)
    (tmp_path / "file").write_text("x")
    with pytest.raises(xg.CheckpointError, match="is a file, not a directory"):
        xg.save_checkpoint(tmp_path / "file" / "c.npz", model)
    with pytest.raises(TypeError, match="path must be a str or os.PathLike, got int"):
        xg.save_checkpoint(3, model)
    with pytest.raises(xg.CheckpointError, match="path is empty"):
        xg.save_checkpoint("", model)
    with pytest.raises(TypeError, match="metadata must be JSON-serializable"):
        xg.save_checkpoint(tmp_path / "m.npz", model, metadata={"lr": object()})
    assert os.listdir(tmp_path) == ["file"]


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0,
                    reason="needs POSIX permissions and a non-root user")
def test_unwritable_directory_raises_before_any_work(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        with pytest.raises(xg.CheckpointError, match="cannot create a file in"):
            xg.save_checkpoint(ro / "c.npz", xg.nn.Linear(2, 1, rng=0))
    finally:
        ro.chmod(0o700)


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_saved_file_respects_the_umask(tmp_path, umask):
    old = os.umask(umask)
    try:
        xg.save_checkpoint(tmp_path / "c.npz", xg.nn.Linear(2, 1, rng=0))
    finally:
        os.umask(old)
    mode = stat.S_IMODE(os.stat(tmp_path / "c.npz").st_mode)
    assert mode == 0o666 & ~umask, oct(mode)


def test_save_fsyncs_the_file_and_the_directory(tmp_path, monkeypatch):
    synced = []
    real = os.fsync

    def spy(fd):
        synced.append(stat.S_ISDIR(os.fstat(fd).st_mode))
        return real(fd)

    monkeypatch.setattr(os, "fsync", spy)
    xg.save_checkpoint(tmp_path / "c.npz", xg.nn.Linear(2, 1, rng=0))
    assert synced[0] is False                     # the data, before the rename
    if os.name == "posix":
        assert synced[-1] is True                 # the directory entry, after it


def test_keyboard_interrupt_mid_save_leaves_no_temporary(tmp_path, monkeypatch):
    path, model, opt = _saved(tmp_path)
    good = path.read_bytes()

    def interrupted(f, **arrays):
        f.write(b"PK partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez", interrupted)
    with pytest.raises(KeyboardInterrupt):
        xg.save_checkpoint(path, model, opt)
    assert path.read_bytes() == good and _temporaries(tmp_path) == []


def test_metadata_round_trip(tmp_path):
    model = xg.nn.Linear(2, 1, rng=0)
    xg.save_checkpoint(tmp_path / "c.npz", model, metadata={"model": "mlp", "hidden": [8]})
    assert checkpoint_metadata(tmp_path / "c.npz") == {"model": "mlp", "hidden": [8]}
    xg.save_checkpoint(tmp_path / "d.npz", model)
    assert checkpoint_metadata(tmp_path / "d.npz") == {}


def test_stale_temporaries_of_dead_processes_are_removed(tmp_path):
    from xpgrad.checkpoint import _host

    path = tmp_path / "c.npz"
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    host = _host()
    stale = tmp_path / f".c.npz.{host}.{dead.pid}.abcd1234.tmp"
    alive = tmp_path / f".c.npz.{host}.{os.getppid()}.abcd1234.tmp"      # a live process
    other_host = tmp_path / f".c.npz.elsewhere.{dead.pid}.abcd1234.tmp"
    other_file = tmp_path / f".d.npz.{host}.{dead.pid}.abcd1234.tmp"
    for p in (stale, alive, other_host, other_file):
        p.write_bytes(b"x" * 100)
    assert remove_stale_temporaries(path) == [str(stale)]
    xg.save_checkpoint(path, xg.nn.Linear(2, 1, rng=0))
    assert _temporaries(tmp_path) == sorted(p.name for p in (alive, other_host, other_file))


# one complete save, then a second one that stops inside its write (at the fsync of its temporary
# file) and says so: the test kills it there, so the kill lands mid-save every time (killing a
# loop of saves at a random moment missed them all on a busy machine: the kill came between two)
_SAVER = r'''
import os, sys, time
import numpy as np
import xpgrad as xg
big = {"w%d" % i: xg.Variable(np.full((256, 1024), float(i), np.float32), name="w%d" % i)
       for i in range(8)}
xg.save_checkpoint(sys.argv[1], big)


def stalled_fsync(fd):
    print("mid-save", flush=True)
    time.sleep(600)


os.fsync = stalled_fsync
big["w3"].assign(np.full((256, 1024), -1.0, np.float32))
xg.save_checkpoint(sys.argv[1], big)
'''


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_sigkill_mid_save_then_a_save_leaves_no_temporaries(tmp_path):
    path = tmp_path / "big.npz"
    proc = subprocess.Popen([sys.executable, "-c", _SAVER, str(path)],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "mid-save"
        assert _temporaries(tmp_path)                    # the second save's, written, not renamed
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
        proc.stdout.close()
    assert _temporaries(tmp_path)                        # what the killed save left behind
    with np.load(path) as z:                             # the complete save survives whole
        assert z["model/w3"][0, 0] == 3.0
    xg.save_checkpoint(path, {"w": xg.Variable([1.0], name="w")})
    assert _temporaries(tmp_path) == []
    assert sorted(os.listdir(tmp_path)) == ["big.npz"]
