"""The benchmarks stay runnable: `asv check`, one dry pass over every suite, `xpgrad bench`.

No timings are asserted; a broken benchmark (import error, bad parameter, a workload that
raises) fails here instead of silently vanishing from the dashboard.
"""
import importlib
import importlib.util
import inspect
import itertools
import json
import math
import os
import pkgutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from xpgrad import bench, bench_workloads as W

ROOT = Path(__file__).resolve().parents[1]
PREFIXES = ("time_", "peakmem_", "mem_", "track_", "timeraw_")
# the asv setups and the benchmark scripts limit BLAS, Numba and PyTorch to one thread, and
# set their thread variables, in the process they run in: here the worker of the next tests
pytestmark = pytest.mark.usefixtures("thread_counts_kept", "environ_kept")


def _suites():
    sys.path.insert(0, str(ROOT))
    try:
        pkg = importlib.import_module("asv_benchmarks")
        names = [m.name for m in pkgutil.iter_modules(pkg.__path__) if m.name.startswith("bench")]
        return [importlib.import_module(f"asv_benchmarks.{n}") for n in names]
    finally:
        sys.path.remove(str(ROOT))


#: workloads PyTorch has no peer for (odeint: torchdiffeq is another package)
NO_TORCH_PEER = ("ode_fit", "neural_ode")
SIZE_PARAMS = {"n_ops", "shape", "batch", "steps"}   # the dry pass takes only their first (smallest) value


def _benchmarks():
    """(class, method name, parameter tuple) for every benchmark method and parameter
    combination, with size parameters at their smallest value."""
    out = []
    for mod in _suites():
        for cls_name, cls in inspect.getmembers(mod, inspect.isclass):
            if cls.__module__ != mod.__name__:
                continue
            methods = [m for m in dir(cls) if m.startswith(PREFIXES)]
            names = list(getattr(cls, "param_names", []))
            params = list(getattr(cls, "params", []))
            assert methods, f"{cls_name} has no benchmark methods"
            assert len(names) == len(params), f"{cls_name}: params and param_names differ"
            assert names[:1] == ["lib"] and params[0] == list(W.LIBS), cls_name
            values = [p[:1] if n in SIZE_PARAMS else p for n, p in zip(names, params)]
            for combo in itertools.product(*values):
                for m in methods:
                    label = "-".join(str(c) for c in combo)
                    out.append(pytest.param(cls, m, combo, id=f"{cls_name}.{m}-{label}"))
    return out


@pytest.mark.parametrize("cls, method, combo", _benchmarks())
def test_benchmark_dry_pass(cls, method, combo):
    """setup + the benchmark once on the smallest parameters; an unavailable lib skips."""
    obj = cls()
    try:
        obj.setup(*combo)
    except NotImplementedError as e:
        pytest.skip(f"{combo[0]}: {e}")
    getattr(obj, method)(*combo)
    if hasattr(obj, "teardown"):
        obj.teardown(*combo)


def test_numpy_and_torch_benchmarks_really_run():
    """The dry pass must not pass by skipping everything: numpy and torch workloads build."""
    W.build("chain", "xpgrad-numpy", n_ops=8)
    pytest.importorskip("torch")
    W.build("chain", "torch-cpu", n_ops=8)


def test_workloads_compute_the_same_gradient_as_torch():
    """The peer does the same work: the chain's gradient agrees with PyTorch's."""
    torch = pytest.importorskip("torch")
    import numpy as np
    import xpgrad as xg

    x0 = np.linspace(-1, 1, 4)
    x = xg.asarray(x0)
    with xg.GradientTape() as tape:
        tape.watch(x)
        y = x
        for _ in range(5):
            y = xg.tanh(xg.sin(y) * 1.5 + 0.1)
        s = xg.sum(y)
    ours = tape.gradient(s, x).numpy()
    t = torch.tensor(x0, requires_grad=True)
    y = t
    for _ in range(5):
        y = torch.tanh(torch.sin(y) * 1.5 + 0.1)
    (theirs,) = torch.autograd.grad(y.sum(), t)
    np.testing.assert_allclose(ours, theirs.numpy(), rtol=1e-12)


@pytest.mark.parametrize("peer", ["torch-cpu", "jax-cpu"])
def test_activation_workloads_compute_the_same_function_as_the_peers(peer):
    """Each activation row times the same function in xpgrad and in the peer (gelu exact in
    JAX too, not its default tanh form; PyTorch's and JAX's default parameters)."""
    import numpy as np

    from xpgrad.bench_workloads import ops

    assert {"silu", "gelu", "elu", "mish", "hardswish", "log_sigmoid"} <= set(W.ACTIVATIONS)
    x0 = np.linspace(-7.0, 7.0, 29)
    mine, theirs = W._Lib("xpgrad-numpy"), _peer_or_skip(peer)
    for name in W.ACTIVATIONS:
        ours = ops._activation_fn(mine, name)(mine.put(x0)).numpy()
        other = np.asarray(ops._activation_fn(theirs, name)(theirs.put(x0)).tolist())
        np.testing.assert_allclose(ours, other, rtol=1e-6, atol=1e-7, err_msg=name)


def _peer_or_skip(name):
    try:
        return W._Lib(name)
    except W.Unavailable as e:
        pytest.skip(str(e))


def test_rnn_loop_workload_does_the_same_work_in_xpgrad_and_torch():
    """The RNN-loop workload's gradients (x, w, u, b) agree between its xpgrad and torch runs."""
    pytest.importorskip("torch")
    import numpy as np

    ours = W.build("rnn_loop", "xpgrad-numpy", steps=12)()
    theirs = W.build("rnn_loop", "torch-cpu", steps=12)()
    assert len(ours) == len(theirs) == 4
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a.numpy(), b.detach().numpy(), rtol=2e-4, atol=2e-5)


@pytest.mark.parametrize("lib", ["xpgrad-numpy", "xpgrad-numba"])
def test_char_lm_workload_trains_the_same_model_in_xpgrad_and_torch(lib):
    """The char-LM step: the same loss after each SGD step (so the gradients and updates agree
    too); each library reports the sizes it built. (Numba's LSTM takes its one-hot path.)"""
    pytest.importorskip("torch")
    if lib == "xpgrad-numba":
        pytest.importorskip("numba")
    ours = W.build("char_lm_step", lib, batch=4, steps=6, vocab=11, hidden=8)
    theirs = W.build("char_lm_step", "torch-cpu", batch=4, steps=6, vocab=11, hidden=8)
    assert ours.work == theirs.work == {"batch": 4, "steps": 6, "vocab": 11, "hidden": 8}
    replayed = W.build("char_lm_step", lib, batch=4, steps=6, vocab=11, hidden=8,
                       compiled=True)       # traced on its first calls: three steps ahead
    losses = [(float(ours().numpy()), float(theirs().detach())) for _ in range(6)]
    for a, b in losses:
        assert abs(a - b) < 1e-5 * abs(b), losses
    assert losses[-1][0] < losses[0][0]        # the steps do train
    for a, _ in losses[3:]:
        assert abs(float(replayed().numpy()) - a) < 1e-5 * abs(a)


def test_rnn_loop_floor_script_runs_and_checks_gradients(capsys):
    """benchmarks/rnn_loop_floor.py: the hand-written NumPy loop, xpgrad and torch agree."""
    spec = importlib.util.spec_from_file_location("rnn_loop_floor",
                                                  ROOT / "benchmarks" / "rnn_loop_floor.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.main(["--steps", "6", "--repeats", "1", "--calls", "1"]) == 0
    assert "hand-written floor" in capsys.readouterr().out


def test_trace_long_programs_script_replays_its_workloads_as_run_eagerly(monkeypatch):
    """benchmarks/trace_long_programs.py, shortened: each workload traced once and replayed
    with the eager values; its Lennard-Jones forces (from xg.grad) are torch.autograd's."""
    torch = pytest.importorskip("torch")
    spec = importlib.util.spec_from_file_location(
        "trace_long_programs", ROOT / "benchmarks" / "trace_long_programs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "DRAWS", 3)
    monkeypatch.setattr(module, "MD_STEPS", 4)
    for name in module.WORKLOADS:
        result = module.measure(name, replays=2)
        assert result["max_diff"] == 0.0, (name, result)
    x, _ = module.md_inputs()
    import xpgrad as xg
    force = xg.grad(lambda y: -module.lennard_jones_energy(y))(x).numpy()
    xt = torch.tensor(x.numpy(), requires_grad=True)
    r2 = ((xt[:, None, :] - xt[None, :, :]) ** 2).sum(-1) + torch.eye(len(xt),
                                                                      dtype=torch.float64)
    inv6 = r2 ** -3
    energy = 2.0 * ((1 - torch.eye(len(xt), dtype=torch.float64)) * (inv6 ** 2 - inv6)).sum()
    (expected,) = torch.autograd.grad(-energy, xt)
    np.testing.assert_allclose(force, expected.numpy(), rtol=1e-12, atol=1e-12)


def test_first_call_latency_script_splits_each_trace_into_its_phases():
    """benchmarks/first_call_latency.py: each compiled bench row traced once, its phases (the
    recording, the passes inside the program's build) within the trace's time, the names of
    Program's passes it times all still there."""
    spec = importlib.util.spec_from_file_location(
        "first_call_latency", ROOT / "benchmarks" / "first_call_latency.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    from xpgrad.bench_workloads._libs import _Lib
    from xpgrad.jit import program

    assert all(hasattr(program, name) for name in module.PASSES)
    assert all(hasattr(program.Program, name) for name in module.METHODS)
    lib = _Lib("xpgrad-numpy")
    for name in module.WORKLOADS:
        r = module.measure(name, lib)
        phases = r["phases"]
        assert r["recorded"] > 0 and r["steps"] > 0, (name, r)
        assert 0 < phases["capture"] <= r["trace"] and 0 < phases["Program"] <= r["trace"]
        inside = sum(v for k, v in phases.items() if k not in ("capture", "Program"))
        assert phases["compile"] > 0 and inside <= phases["Program"] + 1e-3, (name, phases)
    assert "compile" not in vars(program) and program.Program.__init__.__name__ == "__init__"


def test_operator_mlp_script_trains_the_same_weights_in_xpgrad_and_torch(capsys):
    """benchmarks/operator_mlp.py: both steps do the same work (also once the SGD fold runs),
    and the script prints its rows."""
    pytest.importorskip("torch")
    spec = importlib.util.spec_from_file_location("operator_mlp",
                                                  ROOT / "benchmarks" / "operator_mlp.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    ours, theirs, params, tensors = module.steps(32, "numpy")
    for _ in range(4):
        ours()
        theirs()
    for p, t in zip(params, tensors):
        np.testing.assert_allclose(p.numpy(), t.detach().numpy(), rtol=1e-4, atol=1e-6)
    module.main(["--backend", "numpy", "--batches", "8", "--repeats", "1"])
    assert "torch / xpgrad" in capsys.readouterr().out


def test_unknown_lib_and_bad_mode_raise_clearly():
    with pytest.raises(ValueError, match="unknown library 'tensorflow'"):
        W.build("chain", "tensorflow")
    with pytest.raises(ValueError, match="mode must be 'forward' or 'forward\\+gradient'"):
        W.build("chain", "xpgrad-numpy", mode="backward")
    with pytest.raises(ValueError, match="unknown loss 'hinge'"):
        W.build("loss", "xpgrad-numpy", name="hinge")


@pytest.mark.skipif(importlib.util.find_spec("asv") is None,
                    reason="asv is not installed (pip install -e '.[dev]' or '.[bench]')")
def test_asv_check():
    """asv itself discovers and validates every suite in this environment."""
    json.loads((ROOT / "asv.conf.json").read_text())
    res = subprocess.run([sys.executable, "-m", "asv", "check", "--python=same"], cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "No problems found" in res.stdout, res.stdout


def test_xpgrad_bench_quick_prints_a_table(capsys):
    # the groups whose rows are read below; every group runs in test_readme.py's plain
    # `xpgrad bench --quick` (numpy and numba) and in test_benchmark_dry_pass
    assert bench.main(["--quick", "--backend", "numpy", "--repeat", "1", "--only", "chain",
                       "loss", "optimizer", "mlp_step"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    # the header: equal threads for every library, and the versions that ran
    assert lines[1].startswith("threads: 1 per library (blas 1"), out
    assert lines[2].startswith("versions: python ") and " xpgrad 0." in lines[2], out
    from xpgrad import allocator
    from xpgrad.backends import blas
    assert lines[2].endswith(f"malloc {allocator.STATE.split(':')[0]}, products "
                             f"{blas.describe()}"), out
    header = next(line for line in lines if line.startswith("workload")).split()
    assert header[0] == "workload" and "xpgrad-numpy" in header, out
    has_torch = importlib.util.find_spec("torch") is not None
    has_jax = importlib.util.find_spec("jax") is not None
    if has_torch:
        assert header[1:] == ["torch-cpu", *(["jax-cpu"] if has_jax else []), "xpgrad-numpy",
                              "/torch-cpu", *(["/jax-cpu"] if has_jax else [])], out
    for label in ("chain 100 ops, 4 floats, forward+gradient", "softmax_cross_entropy 128x10",
                  "adam update", "MLP 784-256-10 train step, batch 128"):
        assert any(line.startswith(label) for line in lines), (label, out)
    chain = next(line for line in lines if line.startswith("chain 100 ops"))
    if has_torch:
        assert chain.split()[-1].endswith("x"), chain     # the ratio to torch-cpu (or jax)


def test_xpgrad_bench_through_the_cli():
    res = subprocess.run([sys.executable, "-m", "xpgrad.cli", "bench", "--quick", "--only",
                          "chain", "--backend", "numpy", "--peers", "--repeat", "1"],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    assert "chain 100 ops, 4 floats, forward+gradient" in res.stdout


def test_xpgrad_bench_rejects_unknown_backend(capsys):
    with pytest.raises(SystemExit) as e:
        bench.main(["--backend", "nosuch"])
    assert e.value.code == 2
    assert "unknown backend 'nosuch'" in capsys.readouterr().err


def test_every_row_says_the_work_it_does():
    """A row's label is made from its sizes, and each library's workload, built, reports the
    sizes of the arrays it made: they must be the row's (the quick LSTM row runs 10 steps and
    says so)."""
    for quick in (True, False):
        rows = bench.cases(quick)
        assert len({label for _, label, _ in rows}) == len(rows)
        for group, label, params in rows:
            assert label == bench.label(group, params)
    quick_lstm = [r for r in bench.cases(True)
                  if r[0] == "lstm_step" and not r[2].get("compiled")]
    assert [label for _, label, _ in quick_lstm] == [
        "LSTM 64-128 train step, batch 64, 10 steps"]
    has_torch = importlib.util.find_spec("torch") is not None
    for group, label, params in bench.cases(True):
        small = dict(params)
        if group in ("loss", "activation"):
            small["shape"] = (8, 5)
        for key, value in (("n_ops", 8), ("batch", 4), ("steps", 3)):
            if key in small:
                small[key] = value
        for lib in ["xpgrad-numpy"] + (["torch-cpu"] if has_torch else []):
            if lib == "torch-cpu" and group in NO_TORCH_PEER:
                with pytest.raises(W.Unavailable, match="PyTorch has no odeint"):
                    W.build(group, lib, **small)
                continue
            bench.check_work(W.build(group, lib, **small), group, small, lib)


def test_each_library_is_timed_first_in_turn():
    """``measure`` rotates the order of its rounds, so no library always runs right after the
    same other one (whose run leaves the caches cold for the next)."""
    log = []
    fns = {name: (lambda name=name: log.append(name)) for name in "abc"}
    times = bench.measure(fns, 0.0, 4)        # min_time 0: one calibration call each
    assert "".join(log) == "abc" + "abc" + "bca" + "cab" + "abc"
    assert sorted(times) == ["a", "b", "c"] and all(t >= 0 for t in times.values())


def test_a_row_whose_workload_does_other_work_is_refused():
    fn = W.build("lstm_step", "xpgrad-numpy", batch=2, steps=3, hidden=4, input_size=5)
    params = dict(batch=2, steps=50, hidden=4, input_size=5)
    with pytest.raises(AssertionError, match="built steps=3, but the row 'LSTM 5-4 train step, "
                                             "batch 2, 50 steps' says 50"):
        bench.check_work(fn, "lstm_step", params, "xpgrad-numpy")


def test_xpgrad_bench_json(tmp_path, capsys):
    assert bench.main(["--quick", "--only", "chain", "--backend", "numpy", "--repeat", "1",
                       "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["format"] == "xpgrad-bench/1" and report["threads"]["requested"] == 1
    assert report["versions"]["xpgrad"].startswith("0.") and report["machine"]["cpus"] >= 1
    rows = [r for r in report["results"] if r["lib"] == "xpgrad-numpy"]
    assert [r["label"] for r in rows] == [
        "chain 100 ops, 4 floats, forward+gradient", "chain 100 ops, 4 floats, forward",
        "chain 100 ops, 4 floats, forward+gradient (xpgrad compiled)"]
    assert all(r["seconds"] > 0 and r["params"]["n_ops"] == 100 for r in rows)
    if importlib.util.find_spec("torch") is not None:
        assert all(r["reference"] == "torch-cpu" and r["ratio"] > 0 for r in rows)
    path = tmp_path / "bench.json"
    assert bench.main(["--quick", "--only", "chain", "--backend", "numpy", "--peers",
                       "--repeat", "1", "--threads", "2", "--json", str(path)]) == 0
    out = capsys.readouterr().out
    assert "threads: 2 per library" in out and f"wrote {path}" in out
    saved = json.loads(path.read_text())
    assert saved["threads"]["requested"] == 2 and saved["libs"] == ["xpgrad-numpy"]
    assert all(r["ratio"] is None for r in saved["results"])


def test_xpgrad_bench_gives_the_thread_counts_back(monkeypatch, capsys):
    """``xpgrad bench`` limits BLAS, Numba and PyTorch to ``--threads`` while it times, and
    gives each its count back at the end: run in-process (a notebook, this suite), it left
    every later computation of the process on one thread, and its limit in force."""
    torch = pytest.importorskip("torch")
    from threadpoolctl import threadpool_info

    from xpgrad import threads

    def counts():
        return (sorted((lib["internal_api"], lib["num_threads"]) for lib in threadpool_info()),
                torch.get_num_threads(), list(threads._active))

    during = []
    build = W.build
    monkeypatch.setattr(W, "build", lambda *a, **k: during.append(counts()) or build(*a, **k))
    with threads.limit(2, torch=True):          # not bench's one thread, whatever ran before
        before = counts()
        assert bench.main(["--quick", "--only", "chain", "--backend", "numpy", "--peers",
                           "torch-cpu", "--repeat", "1", "--threads", "1"]) == 0
        assert counts() == before
    assert "threads: 1 per library" in capsys.readouterr().out
    assert during and all(blas == [(name, 1) for name, _ in blas] and torch_threads == 1
                          and len(active) == len(before[2]) + 1
                          for blas, torch_threads, active in during), during


def test_xpgrad_bench_threads_must_be_positive(capsys):
    with pytest.raises(SystemExit) as e:
        bench.main(["--threads", "0"])
    assert e.value.code == 2
    assert "argument --threads: must be an integer >= 1, got 0" in capsys.readouterr().err


def test_xpgrad_bench_without_torch_shows_na(monkeypatch, capsys):
    """Where PyTorch is not installed (the [train] install), the peers' columns are n/a and
    the thread limits skip it."""
    monkeypatch.setitem(sys.modules, "torch", None)          # `import torch` now fails
    assert bench.main(["--quick", "--only", "chain", "--backend", "numpy", "--repeat", "1"]) == 0
    out = capsys.readouterr().out
    assert "n/a for torch-cpu: PyTorch is not installed" in out
    threads, versions = out.splitlines()[1:3]
    assert threads.startswith("threads: 1 per library (blas 1") and "torch" not in threads
    assert "torch" not in versions


def test_jax_is_a_default_peer_where_installed(monkeypatch, capsys):
    """With JAX installed, ``xpgrad bench`` times it too and divides by it (here its import
    fails, so its column is n/a and says why)."""
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: object() if name == "jax" else real_find_spec(name, *a))
    monkeypatch.setitem(sys.modules, "jax", None)            # `import jax` now fails
    assert bench.main(["--quick", "--only", "chain", "--backend", "numpy", "--repeat", "1"]) == 0
    out = capsys.readouterr().out
    header = next(line for line in out.splitlines() if line.startswith("workload")).split()
    assert "jax-cpu" in header and "/jax-cpu" in header, out
    assert "n/a for jax-cpu: JAX is not installed" in out


def test_one_jax_thread_is_asked_for_before_jax_is_imported(monkeypatch):
    monkeypatch.delitem(sys.modules, "jax", raising=False)
    monkeypatch.setenv("XLA_FLAGS", "--xla_dump_to=/tmp/x")
    assert W.limit_jax_threads(1) == 1
    flags = os.environ["XLA_FLAGS"].split()
    assert flags[0] == "--xla_dump_to=/tmp/x" and set(W._libs.JAX_ONE_THREAD_FLAGS) <= set(flags)
    assert W.limit_jax_threads(1) == 1 and os.environ["XLA_FLAGS"].split() == flags  # once
    monkeypatch.delenv("XLA_FLAGS")
    assert W.limit_jax_threads(2) is None and "XLA_FLAGS" not in os.environ


@pytest.mark.skipif(len(getattr(os, "sched_getaffinity", lambda _: ())(0)) < 2,
                    reason="needs sched_setaffinity and two CPUs")
def test_one_cpu_while_asked_and_all_of_them_after():
    cpus = os.sched_getaffinity(0)
    with W._libs._one_cpu_if(False):
        assert os.sched_getaffinity(0) == cpus
    with pytest.raises(KeyError):
        with W._libs._one_cpu_if(True):
            assert os.sched_getaffinity(0) == {min(cpus)}
            raise KeyError("the block failed")
    assert os.sched_getaffinity(0) == cpus


_JAX_POOL = """
import collections, os
from xpgrad.bench_workloads import _Lib, limit_jax_threads
limit_jax_threads(1)
cpus = os.sched_getaffinity(0)
lib = _Lib("jax-cpu")
assert os.sched_getaffinity(0) == cpus, "the CPUs were not given back"
import numpy as np
a, b = lib.put(np.ones((512, 784), np.float32)), lib.put(np.ones((784, 256), np.float32))
lib.jax.jit(lambda a, b: a @ b)(a, b).block_until_ready()
print(sum(open(f"/proc/self/task/{t}/comm").read().strip() == "tf_XLAEigen"
          for t in os.listdir("/proc/self/task")))
"""


@pytest.mark.skipif(len(getattr(os, "sched_getaffinity", lambda _: ())(0)) < 2
                    or not os.path.isdir("/proc/self/task"),
                    reason="needs sched_setaffinity, /proc and two CPUs")
def test_the_jax_peer_computes_on_one_thread():
    """jax 0.10 ignores the XLA flags for its products: its pool of ``tf_XLAEigen`` threads
    has one per CPU (2 here, 1.7 CPU-seconds per second on a product) unless the client is
    created on one CPU."""
    pytest.importorskip("jax")
    out = subprocess.run([sys.executable, "-c", _JAX_POOL], capture_output=True,
                         text=True, timeout=300, env={**os.environ, "XLA_FLAGS": ""})
    assert out.returncode == 0, out.stderr
    assert int(out.stdout) == 1, out.stdout


def test_xpgrad_bench_divides_by_jax_where_installed(capsys):
    pytest.importorskip("jax")
    assert bench.main(["--quick", "--only", "chain", "--backend", "numpy", "--peers", "jax-cpu",
                       "--repeat", "1", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["versions"]["jax"]
    rows = [r for r in report["results"] if r["lib"] == "xpgrad-numpy"]
    assert all(r["ratios"]["jax-cpu"] > 0 for r in rows), rows


def test_mlp_step_script_times_the_compiled_step(capsys):
    """benchmarks/mlp_step.py: eager and compiled xpgrad, hand-written NumPy (and torch) run;
    a batch below 1 is refused naming the option."""
    spec = importlib.util.spec_from_file_location("mlp_step", ROOT / "benchmarks" / "mlp_step.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main(["--batch", "4", "--steps", "2", "--repeats", "1"])
    out = capsys.readouterr().out
    assert "compiled: wall" in out and "numpy: wall" in out
    with pytest.raises(SystemExit):
        module.main(["--batch", "0"])
    assert "argument --batch: must be an integer > 0, got 0" in capsys.readouterr().err


def test_the_header_names_numpys_blas_when_scipy_loaded_its_own(monkeypatch):
    """SciPy's wheels ship a second OpenBLAS (Numba loads it; xg.function's SGD gemm runs on
    it); the header's BLAS is NumPy's, which runs every other product, in whatever order
    threadpoolctl lists them (here reversed)."""
    pytest.importorskip("scipy.linalg.blas")
    import numpy as np

    from xpgrad import threads

    listed = threads.blas_info
    monkeypatch.setattr(threads, "blas_info", lambda: listed()[::-1])

    numpy_blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
    if numpy_blas.get("name") != "scipy-openblas" or not numpy_blas.get("version"):
        pytest.skip("NumPy is not built on its wheel's OpenBLAS here")
    assert bench._versions(["xpgrad-numpy"])["blas"].startswith(
        f"openblas {numpy_blas['version']}")


def test_jax_chains_stop_where_compiling_them_would_take_minutes():
    """JAX's jit compiles the chain's Python loop unrolled: a 100k-op chain did not compile in
    17 minutes, so `xpgrad bench --only chain` never finished with JAX installed. Past the limit
    the row is n/a for JAX, with the reason (a 10k-op one took 16 s to compile in each asv
    setup); the limit itself is still timed."""
    from xpgrad.bench_workloads import ops

    jax = _peer_or_skip("jax-cpu")
    with pytest.raises(W.Unavailable, match="JAX compiles the chain unrolled"):
        ops.chain(jax, n_ops=ops.JAX_CHAIN_LIMIT + 4)
    assert ops.chain(jax, n_ops=100).work["n_ops"] == 100


def _gemm_floor():
    spec = importlib.util.spec_from_file_location("gemm_floor", ROOT / "benchmarks" /
                                                  "gemm_floor.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_floor_counts_each_steps_products():
    """An MLP step's products: forward (784x256, 256x10), both weight gradients and the hidden
    layer's input gradient; an LSTM step's: the input projections and their gradient over the
    whole sequence, and per step the recurrent product and its input gradient."""
    module = _gemm_floor()

    def work(shapes):
        assert all(a[-1] == b[0] for a, b in shapes), shapes
        return sum(math.prod(a) * b[1] for a, b in shapes)

    assert work(module.mlp_products(32)) == 32 * (2 * 784 * 256 + 3 * 256 * 10)
    assert work(module.lstm_products(batch=8, hidden=16, steps=5, input_size=4)) == (
        2 * 5 * 8 * 4 * 64 + 5 * 8 * 16 * 64 + 5 * 2 * 8 * 16 * 64)


def test_the_floor_script_times_every_column(capsys):
    _gemm_floor().main(["--only", "mlp", "lstm", "char_lm", "--batches", "4", "--steps", "3",
                        "--repeats", "1", "--backend", "numpy"])
    rows = [line for line in capsys.readouterr().out.splitlines()
            if line.startswith(("MLP", "LSTM", "char-LM"))]
    assert [row.split()[0] for row in rows] == ["MLP", "LSTM", "char-LM"]
    for row in rows:       # four times, then three ratios: torch / floor, eager, compiled
        words = row.split()[-7:]
        floor, torch, eager, compiled = (float(word.removesuffix("us")) for word in words[:4])
        assert min(floor, torch, eager, compiled) > 0, row
        # each ratio is the quotient of the times it names, to their printed precision (a
        # time of a loaded machine can make one print as 0.00: a number, not a check of load)
        for ratio, want in zip(words[4:], (torch / floor, torch / eager, torch / compiled)):
            assert float(ratio) == pytest.approx(want, rel=0.05, abs=0.006), row


def test_a_row_no_library_runs_is_all_n_a():
    assert bench.measure({}, 0.01, 3) == {}


def test_asv_suites_limit_numba_before_it_is_imported():
    """An asv benchmark's fresh process imports Numba only while building its workload: the
    thread limit imports it first (it ran on every core, PyTorch on one)."""
    code = ("import sys; sys.path.insert(0, %r)\n"
            "from asv_benchmarks import _common\n"
            "_common.build('loss', 'xpgrad-numba', name='mse', shape=(4, 3))\n"
            "import numba; print(numba.get_num_threads())") % str(Path(__file__).parents[1])
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_NUM_THREADS"}
    res = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         timeout=600)
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.split()[-1] == "1"


@pytest.mark.parametrize("value", ["abc", "0", "-1"])
def test_a_bad_asv_thread_count_is_named(value, monkeypatch):
    import asv_benchmarks._common as common

    monkeypatch.setenv("XPGRAD_BENCH_THREADS", value)
    with pytest.raises(ValueError, match="XPGRAD_BENCH_THREADS must be an integer >= 1"):
        common._threads()


def test_cell_loop_script_runs_with_losses_equal_to_torchs(capsys, monkeypatch):
    """benchmarks/cell_loop.py, one round per cell: both libraries' first losses agree."""
    pytest.importorskip("torch")
    spec = importlib.util.spec_from_file_location("cell_loop", ROOT / "benchmarks" / "cell_loop.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    # its set_backend is undone as set (restoring the name would pin a backend that was only
    # $XPGRAD_BACKEND's or the default: test_info_reports_a_bad_xpgrad_backend then failed)
    monkeypatch.setattr(module.xg.backend, "_global_default", module.xg.backend._global_default)
    module.main("numpy", ["LSTMCell", "GRUCell", "RNNCell"], 1)
    for part in capsys.readouterr().out.split(" | "):
        theirs, ours = part.split("first losses ")[1].rstrip(")\n").split("/")
        assert abs(float(theirs) - float(ours)) < 1e-3, part
