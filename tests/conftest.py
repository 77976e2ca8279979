import os

os.environ.setdefault("SCIPY_ARRAY_API", "1")  # read by SciPy at import (tests/test_third_party.py)

import functools  # noqa: E402
import importlib.util  # noqa: E402

import sys  # noqa: E402
from collections import Counter  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np
import pytest

import xpgrad as xg
from collection_gc import collecting_done, collecting_starts, run_done
from seeded_tests import seed_test, unseed

try:
    import tqdm
except ImportError:
    pass
else:
    # no TMonitor thread (tqdm's bar watcher, started by the first bar and left running) behind
    # the tests that show a progress bar (xg.training, xg.data downloads)
    tqdm.tqdm.monitor_interval = 0

REPOSITORY = str(Path(__file__).resolve().parents[1])

@functools.cache
def backend_report():
    """``xg.available_backends()`` computed once per test process, for the tests that only ask
    whether numpy or numba runs here (it reads every Numba kernel's cache index: ~20 ms a call,
    some 500 calls a run). Tests of the report itself call ``xg.available_backends()``.

    >>> backend_report()["numpy"]["available"]
    True
    """
    return xg.available_backends()


EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples")


def load_example(name):
    """The module ``examples/<name>.py``, imported from its path."""
    spec = importlib.util.spec_from_file_location(f"example_{name}",
                                                  os.path.join(EXAMPLES, f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def shuffled(items, seed):
    """``items`` in an order drawn from ``seed`` (a string of digits), the same on every call:
    the order ``XPGRAD_TEST_SHUFFLE=<seed>`` runs the collected tests in, so that a test which
    passes only after (or apart from) some other test shows up, and the failing order can be run
    again. Every xdist worker draws the same order, as xdist requires.

    >>> shuffled(list("abcdef"), "1") == shuffled(list("abcdef"), "1") != list("abcdef")
    True
    """
    import random

    items = list(items)
    random.Random(int(seed)).shuffle(items)
    return items


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items):
    """``XPGRAD_TEST_SHUFFLE=<seed>`` (an integer; unset by default) runs the tests in the order
    ``shuffled`` draws from it, across files; the header names the seed."""
    seed = os.environ.get("XPGRAD_TEST_SHUFFLE")
    if seed:
        if not seed.isdigit():
            raise pytest.UsageError(f"XPGRAD_TEST_SHUFFLE must be a non-negative integer, got "
                                    f"{seed!r}")
        items[:] = shuffled(items, seed)


def pytest_collectstart(collector):
    collecting_starts()            # tests/collection_gc.py


def pytest_collection_finish(session):
    collecting_done()


def pytest_report_header(config):
    seed = os.environ.get("XPGRAD_TEST_SHUFFLE")
    return [f"XPGRAD_TEST_SHUFFLE={seed}: tests run in a shuffled order"] if seed else []


_BYTECODE = pytest.StashKey[object]()


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    """The processes the tests start keep their bytecode in a folder of the run
    (``tests/subprocess_bytecode.py``), made in the controller; an xdist worker names the one
    it was handed (``pytest_configure_node``) once it has started."""
    from subprocess_bytecode import bytecode_folder, use_bytecode_folder

    # registered before pytest's own cleanups, so run after them (last in, first out): its
    # five full collections at the run's end walk what the tests made, not what collecting
    # built (tests/collection_gc.py)
    config.add_cleanup(run_done)
    if hasattr(config, "workerinput"):
        use_bytecode_folder(config.workerinput.get("xpgrad_bytecode"))
        return
    config.stash[_BYTECODE] = bytecode_folder()
    if runs_tests(config):
        use_bytecode_folder(config.stash[_BYTECODE])


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node):
    node.workerinput["xpgrad_bytecode"] = node.config.stash.get(_BYTECODE, None)


def pytest_unconfigure(config):
    from subprocess_bytecode import remove_bytecode

    remove_bytecode(config.stash.get(_BYTECODE, None))


def runs_tests(config):
    """Whether this process runs tests: an xdist worker, or a run without workers (not the
    controller of one with them).

    >>> import types
    >>> runs_tests(types.SimpleNamespace(workerinput={}))
    True
    """
    if hasattr(config, "workerinput"):
        return True
    return config.getoption("dist", "no") == "no"


def blas_threads_per_worker():
    """In an xdist worker, BLAS gets the worker's share of the cores (as scikit-learn's
    conftest does): with every worker's BLAS starting a thread per core, 2 workers on 2 cores
    ran 4 spinning BLAS threads, and a test of many small solves (the erf fit script) took 71
    CPU-s instead of 12. Tests that check thread counts compare with the count they found.
    SciPy's wheels bring a BLAS of their own, loaded by ``import scipy.linalg``: it is loaded
    first (0.2 s), since a limit reaches only the libraries loaded when it is set (it kept 2
    threads per worker while NumPy's got 1). Returns the number of threads given, or None
    outside a worker.

    >>> blas_threads_per_worker() is None or blas_threads_per_worker() >= 1
    True
    """
    if "PYTEST_XDIST_WORKER" not in os.environ:
        return None
    from threadpoolctl import threadpool_limits

    if importlib.util.find_spec("scipy") is not None:
        import scipy.linalg  # noqa: F401  (its BLAS, to be limited too)
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    share = max(1, (os.cpu_count() or 1) // max(1, workers))
    threadpool_limits(limits=share, user_api="blas")
    return share


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session):
    """A whole-suite run with xdist workers compiles a cold Numba kernel cache once, here in
    the controller before the workers start, instead of in every worker
    (``tests/numba_cache_warm.py``). Every process that runs tests computes PyTorch's side on
    one thread (``tests/torch_threads.py``), and BLAS on the worker's share of the cores; a
    ``--collect-only`` run, which runs none, does not import PyTorch for it (seconds per
    collection, in tests/test_shuffled_order.py's)."""
    from numba_cache_warm import warm_numba_cache, whole_suite_with_workers
    from torch_threads import one_torch_thread

    if runs_tests(session.config) and not session.config.option.collectonly:
        one_torch_thread()
        blas_threads_per_worker()
    if whole_suite_with_workers(session.config):
        seconds = warm_numba_cache()
        if seconds is not None:
            session.config.get_terminal_writer().line(
                f"Numba kernel cache was cold: compiled once before the workers ({seconds:.0f} s)")


@pytest.fixture(autouse=True, scope="session")
def _no_internet():
    """Downloads (``xpgrad.data``) may reach this machine only: no test touches the internet.
    Set once per process (a test that patches ``_urlopen`` itself does so with ``monkeypatch``,
    which puts this guard back after it), not per test: a function-scoped fixture and its
    ``monkeypatch`` cost every one of the suite's 34,000 tests their setup and teardown."""
    import urllib.parse

    from xpgrad.data import downloads

    real = downloads._urlopen

    def local_only(url, timeout):
        host = urllib.parse.urlsplit(url).hostname
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise AssertionError(f"a test tried to download {url}; tests never touch the "
                                 f"internet (serve the files locally, see tests/test_data.py)")
        return real(url, timeout)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(downloads, "_urlopen", local_only)
        yield


def repository_folders_added(before):
    """The folders of this repository on ``sys.path`` now that were not (as often) ``before``."""
    added = Counter(map(str, sys.path)) - Counter(map(str, before))
    return [p for p in added if p.startswith(REPOSITORY)]


_SYS_PATH = pytest.StashKey[list]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item):
    item.stash[_SYS_PATH] = list(sys.path)          # before any fixture of the test
    seed_test(item.nodeid)       # here rather than in a fixture: module-scoped fixtures too
    return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    seed_test(item.nodeid)       # the test's draws whatever its (cached or not) fixtures drew
    return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item, nextitem):
    """A test that puts a folder of this repository on ``sys.path`` (benchmarks/, tools/) takes
    it off again (``monkeypatch.syspath_prepend``): one left there would decide the imports of
    every later test of the process. Checked once the test's fixtures are torn down; such a
    test errors, naming the folder."""
    result = yield
    unseed()
    before = item.stash.get(_SYS_PATH, None)
    if before is not None and sys.path != before:
        ours = repository_folders_added(before)
        if ours:
            sys.path[:] = before
            pytest.fail(f"{item.nodeid} left {ours} on sys.path: use "
                        "monkeypatch.syspath_prepend")
    return result


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture(params=["numpy", "numba"])
def host_backend(request):
    """Each host backend's name in turn (a test of it skipped where it does not run here)."""
    row = backend_report().get(request.param, {"available": False, "reason": "not registered"})
    if not row["available"]:
        pytest.skip(f"{request.param}: {row['reason']}")
    return request.param


def f64(a):
    return xg.asarray(np.asarray(a, dtype=np.float64))


def default_run_environ():
    """``os.environ`` less ``XPGRAD_BACKEND``: for a subprocess that checks what a run naming
    no backend does (``xpgrad train``'s imports), whatever backend the suite runs on.

    >>> "XPGRAD_BACKEND" in default_run_environ()
    False
    """
    return {k: v for k, v in os.environ.items() if k != "XPGRAD_BACKEND"}


@pytest.fixture
def numpy_default():
    """Make numpy the current backend for the test (``xg.use_backend("numpy")``), whatever
    ``$XPGRAD_BACKEND`` says: for tests of the NumPy backend's own kernels, and tests that mix
    ``backend="numpy"`` tensors with tensors made without ``backend=``. A file takes it with
    ``pytestmark = pytest.mark.usefixtures("numpy_default")``, a test with the same decorator.

    >>> import xpgrad as xg
    >>> with xg.use_backend("numpy"):
    ...     xg.zeros(2).backend.name
    'numpy'
    """
    with xg.use_backend("numpy") as backend:
        yield backend


@pytest.fixture
def numpy_scatter_paths(monkeypatch):
    """Switch off the NumPy backend's row scatter-add by SciPy's CSR product
    (``backends/numpy/csr_rows.py``), as where SciPy is not installed: for the tests of the
    NumPy paths of ``backends/numpy/scatter.py``.

    >>> from xpgrad.backends.numpy import csr_rows
    >>> csr_rows._MISSING
    False
    """
    from xpgrad.backends.numpy import csr_rows

    monkeypatch.setattr(csr_rows, "_MATVECS", csr_rows._MISSING)


@pytest.fixture(scope="module")
def jax():
    """JAX with 64-bit types on for the test module that asks for it, and off again after it
    (the comparisons with JAX run in float64; ``jax_enable_x64`` must not leak to other
    modules); the module's tests are skipped where JAX is not installed."""
    jax = pytest.importorskip("jax")
    with jax.enable_x64(True):
        yield jax


@pytest.fixture
def clean_backends(monkeypatch):
    """Undo every change a test makes to the backend registry, selection and XPGRAD_BACKEND."""
    from xpgrad import backend as B

    for attr in ("_factories", "_instances", "_failures"):
        monkeypatch.setattr(B, attr, dict(getattr(B, attr)))
    monkeypatch.setattr(B, "_entry_points_loaded", B._entry_points_loaded)
    monkeypatch.setattr(B, "_global_default", B._global_default)
    monkeypatch.delenv("XPGRAD_BACKEND", raising=False)
    stack = list(B._selection.stack)
    yield B
    B._selection.stack[:] = stack


@pytest.fixture
def environ_kept():
    """``os.environ`` as it was before the test, back after it: for tests that import a
    benchmark script, which sets OMP_NUM_THREADS, MKL_NUM_THREADS, OPENBLAS_NUM_THREADS=1 (if
    unset) for the libraries of the fresh process it expects; here every process that later
    tests of the worker start would inherit them."""
    before = dict(os.environ)
    yield
    for name in [name for name in os.environ if name not in before]:
        del os.environ[name]
    for name, value in before.items():
        if os.environ.get(name) != value:
            os.environ[name] = value


@pytest.fixture
def one_thread(thread_counts_kept):
    """One thread for BLAS and PyTorch during the test (tiny products: a BLAS thread pool on
    a busy machine costs seconds), the counts before it back after."""
    import xpgrad.threads

    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    limits = xpgrad.threads.limit(1)
    yield
    limits.restore()


@pytest.fixture
def thread_counts_kept():
    """The thread counts BLAS, Numba and PyTorch had before the test, back after it: for tests
    that run an asv benchmark's setup or a benchmark script in the test process, which limit
    them (to one thread, for the fresh process they expect) in the worker that runs the tests
    after it. Numba imported during the test gets its default count back; PyTorch is imported
    first (in a full run the test modules' imports have done it), so that its count and OpenMP
    pool are noted too."""
    import sys

    from threadpoolctl import threadpool_limits

    torch = importlib.import_module("torch") if importlib.util.find_spec("torch") else None
    torch_threads = torch.get_num_threads() if torch else None
    numba = sys.modules.get("numba")
    numba_threads = numba.get_num_threads() if numba else None
    blas = threadpool_limits(limits=None)       # notes each BLAS's count, changes none
    yield
    blas.restore_original_limits()
    if "numba" in sys.modules:
        numba = sys.modules["numba"]
        numba.set_num_threads(numba_threads or numba.config.NUMBA_NUM_THREADS)
    if torch is not None:
        torch.set_num_threads(torch_threads)


@pytest.fixture
def rates(monkeypatch):
    """The learning rate of every ``Optimizer.apply_gradients`` call, as the optimizer reads
    it there."""
    used = []
    apply = xg.optim.Optimizer.apply_gradients

    def recording(self, pairs):
        used.append(self.learning_rate)
        return apply(self, pairs)

    monkeypatch.setattr(xg.optim.Optimizer, "apply_gradients", recording)
    return used
