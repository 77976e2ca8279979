"""Data loading for `xpgrad train`: the shipped digits and their split (the same arrays as
scikit-learn's), the MNIST IDX reader, downloads (from a local HTTP server: no test touches
the internet), normalization (batches: test_data_batches.py)."""
import gzip
import hashlib
import http.server
import os
import threading
import types

import numpy as np
import pytest

from conftest import default_run_environ
from xpgrad import data
from xpgrad.data import (DataError, DownloadError, load_dataset, load_digits, load_mnist,
                         normalized, read_idx, split, write_idx)


def test_digits_split_is_seeded_stratified_and_scaled():
    a, b, c = load_digits(seed=0), load_digits(seed=0), load_digits(seed=1)
    assert a.x_train.shape == (1437, 64) and a.x_test.shape == (360, 64)
    assert a.x_train.dtype == np.float32 and a.y_train.dtype == np.int64
    assert 0.0 <= a.x_train.min() and a.x_train.max() <= 1.0
    np.testing.assert_array_equal(a.x_test, b.x_test)
    assert not np.array_equal(a.y_test, c.y_test)
    # stratified: every class has its share (about 36) of the 360 test images
    counts = np.bincount(a.y_test, minlength=10)
    assert counts.min() >= 35 and counts.max() <= 37
    assert a.image_shape == (8, 8) and a.n_classes == 10


def test_the_shipped_digits_are_scikit_learns():
    sklearn_datasets = pytest.importorskip("sklearn.datasets")
    raw = sklearn_datasets.load_digits()
    with np.load(data.DIGITS_FILE) as z:
        images, target = z["images"], z["target"]
    assert images.shape == (1797, 8, 8) and images.dtype == np.uint8
    np.testing.assert_array_equal(images.reshape(1797, 64), raw.data)
    np.testing.assert_array_equal(target, raw.target)


@pytest.mark.parametrize("seed", [0, 1, 7, 123456, 2**32 - 1])
def test_digits_split_and_standardization_are_what_scikit_learn_gave(seed):
    """The arrays the training loop sees are identical to the ones it saw when the digits
    came from scikit-learn's load_digits and train_test_split (xpgrad <= issue 14)."""
    sklearn_datasets = pytest.importorskip("sklearn.datasets")
    from sklearn.model_selection import train_test_split

    raw = sklearn_datasets.load_digits()
    x, y = (raw.data / 16.0).astype(np.float32), raw.target.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.2, random_state=seed,
                                                        stratify=y)
    ours = load_digits(seed=seed)
    for a, b in zip((ours.x_train, ours.x_test, ours.y_train, ours.y_test),
                    (x_train, x_test, y_train, y_test)):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)
    before = normalized(data.Dataset("digits", x_train, y_train, x_test, y_test, (8, 8), 10))
    after = normalized(ours)
    np.testing.assert_array_equal(after.x_train, before.x_train)
    np.testing.assert_array_equal(after.x_test, before.x_test)


def test_split_is_scikit_learns_stratified_split():
    """Random label sets, class counts, fractions and seeds: the same four arrays, and a
    ValueError where scikit-learn raises one."""
    pytest.importorskip("sklearn")
    from sklearn.model_selection import train_test_split

    rng = np.random.default_rng(0)
    compared = 0
    for _ in range(300):
        n, k = int(rng.integers(6, 300)), int(rng.integers(2, 12))
        y = rng.integers(0, k, n) * 3 - 5                  # labels need not be 0..k-1
        if np.bincount(y - y.min()).max() < 2 or np.unique(y, return_counts=True)[1].min() < 2:
            continue
        x = rng.normal(size=(n, 3))
        fraction, seed = float(rng.uniform(0.02, 0.95)), int(rng.integers(0, 2**32))
        try:
            expected = train_test_split(x, y, test_size=fraction, random_state=seed, stratify=y)
        except ValueError:
            with pytest.raises(ValueError):
                split(x, y, fraction, seed)
            continue
        for a, b in zip(split(x, y, fraction, seed), expected):
            np.testing.assert_array_equal(a, b)
        compared += 1
    assert compared > 150


def test_training_imports_neither_scikit_learn_nor_torch():
    """The main job's dependencies: `xpgrad train` (events, history, a checkpoint) runs
    without importing scikit-learn, PyTorch, tensorboardX, protobuf or matplotlib, here where all of
    them are installed (a fresh process, so no other test's imports count)."""
    import subprocess
    import sys
    import tempfile

    code = ("import sys\n"
            "from xpgrad.cli import main\n"
            "d = sys.argv[1]\n"
            "assert main(['train', '--epochs', '1', '--hidden', '16', '--logdir', d + '/run', "
            "'--checkpoint', d + '/c.npz', '--progress', 'always']) == 0\n"
            "bad = sorted(m for m in ('sklearn', 'torch', 'tensorboardX', 'google.protobuf', "
            "'scipy', 'matplotlib') if m in sys.modules)\n"
            "print('imported:', bad)\n")
    with tempfile.TemporaryDirectory() as d:
        res = subprocess.run([sys.executable, "-c", code, d], capture_output=True, text=True,
                             timeout=300, env=default_run_environ())
        assert res.returncode == 0, res.stderr[-3000:]
        assert "imported: []" in res.stdout, res.stdout
        assert os.path.exists(os.path.join(d, "run", "history.json"))
        assert not os.path.exists(os.path.join(d, "run", "curves.png"))     # only with --curves


def test_normalized_uses_training_statistics():
    ds = load_digits(seed=0)
    nd = normalized(ds)
    assert np.allclose(nd.x_train.mean(axis=0), 0.0, atol=1e-5)
    std = nd.x_train.std(axis=0)
    assert np.allclose(std[std > 0], 1.0, atol=1e-4)
    # the test split is shifted by the *training* mean, so its mean is not exactly zero
    assert not np.allclose(nd.x_test.mean(axis=0), 0.0, atol=1e-5)
    assert np.isfinite(nd.x_test).all()


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
@pytest.mark.parametrize("gz", [False, True])
def test_idx_round_trip(tmp_path, dtype, gz):
    a = (np.arange(24).reshape(2, 3, 4) % 100).astype(dtype)
    p = tmp_path / ("a.idx" + (".gz" if gz else ""))
    write_idx(p, a)
    b = read_idx(p)
    assert b.dtype == np.dtype(dtype) and b.shape == a.shape
    np.testing.assert_array_equal(a, b)


def test_idx_reader_matches_the_published_layout(tmp_path):
    # written by hand: magic 0x00000801 (unsigned byte, 1 dim), count 3 big-endian, then bytes
    p = tmp_path / "labels-idx1-ubyte"
    p.write_bytes(bytes([0, 0, 8, 1, 0, 0, 0, 3, 7, 2, 1]))
    assert read_idx(p).tolist() == [7, 2, 1]
    p = tmp_path / "ints.idx"
    p.write_bytes(bytes([0, 0, 0x0C, 1, 0, 0, 0, 2]) + np.array([1, -2], ">i4").tobytes())
    assert read_idx(p).tolist() == [1, -2]


def test_idx_reader_rejects_bad_files(tmp_path):
    p = tmp_path / "bad"
    p.write_bytes(b"\x01\x02\x08\x01\x00\x00\x00\x01\x05")
    with pytest.raises(DataError, match="not an IDX file"):
        read_idx(p)
    p.write_bytes(bytes([0, 0, 0x42, 1, 0, 0, 0, 1, 5]))
    with pytest.raises(DataError, match="unknown IDX element type 0x42"):
        read_idx(p)
    p.write_bytes(bytes([0, 0, 8, 1, 0, 0, 0, 4, 5]))
    with pytest.raises(DataError, match="body has 1 bytes, expected 4"):
        read_idx(p)


def _fake_mnist(d, n_train=30, n_test=10, gz=True):
    rng = np.random.default_rng(0)
    suffix = ".gz" if gz else ""
    files = {"train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
             "train-labels-idx1-ubyte": rng.integers(0, 10, n_train, dtype=np.uint8),
             "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
             "t10k-labels-idx1-ubyte": rng.integers(0, 10, n_test, dtype=np.uint8)}
    for name, arr in files.items():
        write_idx(d / (name + suffix), arr)
    return files


@pytest.mark.parametrize("gz", [True, False])
def test_load_mnist_from_idx_files(tmp_path, gz):
    files = _fake_mnist(tmp_path, gz=gz)
    ds = load_dataset("mnist", data_dir=str(tmp_path))
    assert ds.x_train.shape == (30, 784) and ds.x_test.shape == (10, 784)
    assert ds.image_shape == (28, 28) and ds.x_train.dtype == np.float32
    np.testing.assert_allclose(ds.x_train[3], files["train-images-idx3-ubyte"][3].ravel() / 255.0,
                               rtol=1e-6)
    np.testing.assert_array_equal(ds.y_test, files["t10k-labels-idx1-ubyte"])
    if gz:  # really gzipped on disk
        with open(tmp_path / "train-labels-idx1-ubyte.gz", "rb") as f:
            assert f.read(2) == b"\x1f\x8b"
        assert gzip.decompress((tmp_path / "train-labels-idx1-ubyte.gz").read_bytes())[:4] \
            == bytes([0, 0, 8, 1])


def test_load_mnist_errors_name_the_problem(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        load_mnist(str(tmp_path / "nope"))
    with pytest.raises(DataError, match="train-images-idx3-ubyte.*not found"):
        load_mnist(str(tmp_path))
    _fake_mnist(tmp_path)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.zeros(3, np.uint8))
    with pytest.raises(DataError, match="test files disagree"):
        load_mnist(str(tmp_path))
    with pytest.raises(DataError, match="unknown dataset 'cifar'"):
        load_dataset("cifar")


def test_the_gzipped_file_wins_over_a_stale_plain_one(tmp_path):
    """A download verifies the .gz files: a plain file beside one (left by gunzip -k, or
    stale) is not read instead."""
    files = _fake_mnist(tmp_path, gz=True)
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.full(30, 7, np.uint8))
    ds = load_mnist(str(tmp_path))
    np.testing.assert_array_equal(ds.y_train, files["train-labels-idx1-ubyte"])


def test_declared_sizes_past_int64_are_a_data_error(tmp_path):
    import struct

    path = tmp_path / "huge"
    path.write_bytes(bytes([0, 0, 8, 4]) + struct.pack(">4I", *[65536] * 4))
    with pytest.raises(DataError, match="expected 18446744073709551616 for shape"):
        read_idx(path)


def _damaged(d, case):
    """One of the four files damaged as ``case`` says (the probe's cases, which gave
    tracebacks or trained until a label broke the loss)."""
    files = _fake_mnist(d)
    images = d / "train-images-idx3-ubyte.gz"
    if case == "truncated gzip":
        images.write_bytes(images.read_bytes()[:200])
    elif case == "gzip magic then garbage":
        images.write_bytes(b"\x1f\x8b" + b"garbage" * 40)
    elif case == "a directory":
        images.unlink()
        images.mkdir()
    elif case == "label 11":
        labels = files["train-labels-idx1-ubyte"].copy()
        labels[4] = 11
        write_idx(d / "train-labels-idx1-ubyte.gz", labels)
    elif case == "test images 20x20":
        write_idx(d / "t10k-images-idx3-ubyte.gz", np.zeros((10, 20, 20), np.uint8))
    elif case == "NaN and fractional labels":
        labels = files["train-labels-idx1-ubyte"].astype(np.float32)
        labels[:2] = np.nan, 2.9
        write_idx(d / "train-labels-idx1-ubyte.gz", labels)
    elif case == "int16 pixels":
        write_idx(images, np.full((30, 28, 28), 1000, np.int16))
    elif case == "no test image":
        write_idx(d / "t10k-images-idx3-ubyte.gz", np.zeros((0, 28, 28), np.uint8))
        write_idx(d / "t10k-labels-idx1-ubyte.gz", np.zeros(0, np.uint8))


DAMAGE = {"truncated gzip": "cannot be read as an IDX file",
          "gzip magic then garbage": "cannot be read as an IDX file",
          "a directory": "cannot be read as an IDX file",
          "label 11": "train labels must be classes 0 to 9, got 0 to 11",
          "test images 20x20": "train and test images differ in shape",
          "NaN and fractional labels": "train labels must be integers, got float32",
          "int16 pixels": "train images must be unsigned bytes",
          "no test image": "test images file holds no image"}


@pytest.mark.parametrize("case", sorted(DAMAGE))
def test_damaged_files_are_a_data_error_before_training(tmp_path, case, capsys):
    from xpgrad.cli import main

    _damaged(tmp_path, case)
    with pytest.raises(DataError, match=DAMAGE[case]):
        load_mnist(str(tmp_path))
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--dataset", "mnist", "--data-dir", str(tmp_path), "--epochs", "1",
              "--no-log", "--progress", "never"])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and "Traceback" not in err, err
    assert err.startswith("xpgrad: error:") and DAMAGE[case] in err, err


# -- downloads, from a local server ------------------------------------------------------------
class _Handler(http.server.SimpleHTTPRequestHandler):
    def log_request(self, code="-", size="-"):      # record each request instead of printing
        self.server.requests.append((self.command, self.path, str(int(code))))

    def log_message(self, format, *args):
        pass


@pytest.fixture
def idx_server(tmp_path, monkeypatch):
    """http.server in a thread serving small generated MNIST-style gzipped IDX files under
    /mirror/ (and nothing under /missing/); ``data.SOURCES`` points at both, with the
    files' real checksums, and ``XPGRAD_DATA_DIR`` at an empty cache."""
    www = tmp_path / "www"
    (www / "mirror").mkdir(parents=True)
    arrays = _fake_mnist(www / "mirror", n_train=40, n_test=20)
    sha = {f"{stem}.gz": hashlib.sha256((www / "mirror" / f"{stem}.gz").read_bytes()).hexdigest()
           for stem in arrays}
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), lambda *a: _Handler(*a, directory=str(www)))
    server.requests = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    mirrors = (f"{base}/missing/", f"{base}/mirror/")
    for name in ("mnist", "fashion-mnist"):
        monkeypatch.setitem(data.SOURCES, name, data.Source(name, mirrors, dict(sha)))
    cache = tmp_path / "cache"
    monkeypatch.setenv("XPGRAD_DATA_DIR", str(cache))
    yield types.SimpleNamespace(arrays=arrays, sha=sha, cache=cache, www=www, base=base,
                                requests=server.requests)
    server.shutdown()
    server.server_close()


def test_download_checks_checksums_falls_back_to_the_next_mirror_and_caches(idx_server, capsys):
    lines = []
    ds = load_dataset("mnist", progress=True, echo=lines.append)
    assert ds.x_train.shape == (40, 784) and ds.x_test.shape == (20, 784)
    np.testing.assert_array_equal(ds.y_test, idx_server.arrays["t10k-labels-idx1-ubyte"])
    cached = idx_server.cache / "mnist"
    assert sorted(os.listdir(cached)) == sorted(idx_server.sha)        # no partial files
    for name, digest in idx_server.sha.items():
        assert data.sha256_of(cached / name) == digest
    # each file: a 404 from the first mirror, then the second
    assert sorted(p for _, p, _ in idx_server.requests) == sorted(
        [f"/missing/{n}" for n in idx_server.sha] + [f"/mirror/{n}" for n in idx_server.sha])
    assert len(lines) == 8 and lines[0] == f"downloading {idx_server.base}/missing/" \
        "train-images-idx3-ubyte.gz"
    err = capsys.readouterr().err
    assert "train-images-idx3-ubyte.gz" in err and "B/s" in err           # the tqdm bars
    # a second load reads the cache: no request
    n = len(idx_server.requests)
    again = load_dataset("mnist")
    np.testing.assert_array_equal(again.x_train, ds.x_train)
    assert len(idx_server.requests) == n


def test_a_wrong_checksum_is_an_error_and_leaves_nothing_behind(idx_server, monkeypatch):
    sha = dict(idx_server.sha)
    sha["t10k-labels-idx1-ubyte.gz"] = "0" * 64
    monkeypatch.setitem(data.SOURCES, "mnist", data.Source("MNIST", data.SOURCES["mnist"].mirrors,
                                                           sha))
    with pytest.raises(DownloadError) as e:
        load_dataset("mnist")
    msg = str(e.value)
    assert "could not download MNIST file t10k-labels-idx1-ubyte.gz" in msg
    assert "/missing/t10k-labels-idx1-ubyte.gz: HTTP Error 404" in msg
    assert f"differs from the published {'0' * 64}" in msg and "--data-dir" in msg
    left = sorted(os.listdir(idx_server.cache / "mnist"))
    assert "t10k-labels-idx1-ubyte.gz" not in left and not [f for f in left if ".part" in f]


def test_a_damaged_cached_file_is_downloaded_again(idx_server):
    load_dataset("fashion-mnist")
    damaged = idx_server.cache / "fashion-mnist" / "train-labels-idx1-ubyte.gz"
    damaged.write_bytes(b"not what was published")
    n = len(idx_server.requests)
    ds = load_dataset("fashion-mnist")
    assert ds.name == "fashion-mnist"
    np.testing.assert_array_equal(ds.y_train, idx_server.arrays["train-labels-idx1-ubyte"])
    assert [p for _, p, _ in idx_server.requests[n:]] == [
        "/missing/train-labels-idx1-ubyte.gz", "/mirror/train-labels-idx1-ubyte.gz"]


def test_the_cli_downloads_on_first_use_with_a_progress_bar(idx_server, tmp_path, capsys):
    from xpgrad.cli import main

    small = ["--epochs", "1", "--hidden", "16", "--batch-size", "16", "--no-log"]
    assert main(["train", "--dataset", "fashion-mnist", "--progress", "always", *small]) == 0
    captured = capsys.readouterr()
    assert f"xpgrad: downloading {idx_server.base}/mirror/t10k-images-idx3-ubyte.gz" \
        in captured.err
    assert "t10k-images-idx3-ubyte.gz" in captured.err and "B/s" in captured.err
    assert "on 20 fashion-mnist test images" in captured.out
    assert main(["train", "--dataset", "fashion-mnist", "--quiet", *small]) == 0
    assert capsys.readouterr().err == ""                   # cached: nothing downloaded
    # --data-dir reads local files and downloads nothing
    n = len(idx_server.requests)
    assert main(["train", "--dataset", "mnist", "--data-dir", str(idx_server.www / "mirror"),
                 "--quiet", *small]) == 0
    assert len(idx_server.requests) == n


def test_no_mirror_answering_is_a_one_line_error_exit_1(idx_server, monkeypatch, capsys):
    from xpgrad.cli import main

    dead = data.Source("MNIST", (f"{idx_server.base}/missing/",), idx_server.sha)
    monkeypatch.setitem(data.SOURCES, "mnist", dead)
    with pytest.raises(SystemExit) as e:
        main(["train", "--dataset", "mnist", "--no-log", "--quiet"])
    err = capsys.readouterr().err
    assert e.value.code == 1 and err.count("\n") == 1
    assert err.startswith("xpgrad: error: could not download MNIST file train-images-idx3-ubyte")


def test_data_home_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.delenv("XPGRAD_DATA_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert data.data_home() == str(tmp_path / "xdg" / "xpgrad")
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert data.data_home() == str(tmp_path / "home" / ".cache" / "xpgrad")
    monkeypatch.setenv("XPGRAD_DATA_DIR", "~/data")
    assert data.data_home() == str(tmp_path / "home" / "data")


def test_tests_never_touch_the_internet():
    """conftest refuses every download from a host other than this machine."""
    with pytest.raises(AssertionError, match="tests never touch the internet"):
        data.downloads._urlopen("https://example.com/x", 1)
