"""Shared helpers for the suites: the workload module and the ``lib`` parameter.

The workloads are loaded from this source tree's xpgrad/bench_workloads/ package (not from
the installed xpgrad), so the benchmark definitions stay fixed while asv measures older
commits; they reach xpgrad only through its public API.
"""
import importlib.util
import os
import sys
from pathlib import Path

_SOURCE = Path(__file__).resolve().parents[1] / "xpgrad" / "bench_workloads" / "__init__.py"


def _load_workloads():
    name = "_xpgrad_bench_workloads"
    if name in sys.modules:
        return sys.modules[name]
    if not _SOURCE.exists():
        from xpgrad import bench_workloads
        return bench_workloads
    spec = importlib.util.spec_from_file_location(
        name, _SOURCE, submodule_search_locations=[str(_SOURCE.parent)])
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


W = _load_workloads()
LIBS = list(W.LIBS)


#: threads per library, the same for xpgrad and its peers (as ``xpgrad bench``'s default)
def _threads():
    text = os.environ.get("XPGRAD_BENCH_THREADS", "1")
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        raise ValueError(f"XPGRAD_BENCH_THREADS must be an integer >= 1, got {text!r}")
    return n


THREADS = _threads()


def build(workload, lib, **params):
    """The workload's callable, run once, with every library limited to ``THREADS`` threads;
    raises NotImplementedError (asv: skipped) when ``lib`` or the xpgrad module it needs is
    unavailable here."""
    W.limit_threads(THREADS, torch=lib.startswith("torch"), numba=lib == "xpgrad-numba")
    if lib.startswith("jax"):
        W.limit_jax_threads(THREADS)     # XLA reads its flags when jax is imported (in build)
    return W.build(workload, lib, **params)

# seconds per benchmark, setup included: the first Numba benchmark in a fresh asv environment
# compiles every kernel (its disk cache is per environment)
TIMEOUT = 300
