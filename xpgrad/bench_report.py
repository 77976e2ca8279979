"""What an ``xpgrad bench`` report says about its run: the threads every library was given
(``_limit_threads``), the versions and host products that ran (``_versions``), the table's
header (``_header``), the peers each xpgrad library is divided by (``_references``) and the
JSON form of the results (``_json_report``).

>>> _header({"requested": 1, "blas": 1}, {"python": "3.12"}, 7)[1]
'threads: 1 per library (blas 1)'
"""
from __future__ import annotations

import datetime
import platform
import sys

from . import bench_workloads as W


def _limit_threads(n, libs) -> tuple:
    """The same ``n`` threads for every library timed: the counts now in force, and the
    ``xpgrad.threads.Limits`` whose ``restore()`` gives the libraries their counts back."""
    from .threads import limit, numba_threading

    uses_numba = any(lib == "xpgrad-numba" for lib in libs)
    if uses_numba:
        numba_threading()       # start Numba's pool first, so its OpenMP runtime is limited too
    lim = limit(n, torch=any(lib.startswith("torch") for lib in libs) or None,
                numba=uses_numba or None)
    out = {"requested": n, "blas": lim.blas, "numba": lim.numba, "torch": lim.torch}
    if any(lib.startswith("jax") for lib in libs):
        out["jax"] = W.limit_jax_threads(n)     # before jax is imported (XLA reads it then)
    return out, lim


def _versions(libs) -> dict:
    import importlib

    import numpy

    import xpgrad

    out = {"python": platform.python_version(), "xpgrad": xpgrad.__version__,
           "numpy": numpy.__version__}
    for module in ("numba", "torch", "jax", "cupy"):
        if module in sys.modules or any(lib.split("-")[-1] == module or
                                        lib.startswith(module) for lib in libs):
            try:
                out[module] = importlib.import_module(module).__version__
            except ImportError:
                pass
    from .threads import blas_info, ships

    blas = [row for row in blas_info() if row["user_api"] == "blas"]
    # NumPy's first: SciPy's copy (loaded by Numba) runs only the compiled SGD's gemm
    blas.sort(key=lambda row: not ships("numpy", row.get("filepath")))
    if blas:
        out["blas"] = " ".join(str(blas[0][k]) for k in ("internal_api", "version",
                                                         "architecture") if blas[0].get(k))
    from .allocator import STATE

    out["malloc"] = STATE.split(":")[0]     # tuned / off (xpgrad/allocator.py): both libraries
    from .backends import blas

    out["products"] = blas.describe()       # xpgrad's host products: mkl <version> or numpy
    return out


def _header(threads, versions, repeats) -> list:
    counts = ", ".join(f"{k} {v}" for k, v in threads.items() if k != "requested" and v)
    if "jax" in threads and not threads["jax"]:
        counts += ", jax: XLA's own choice"
    return [f"xpgrad bench: median time per call over {repeats} repeats (ratio columns: "
            f"xpgrad / peer, < 1 means xpgrad is faster)",
            f"threads: {threads['requested']} per library ({counts})",
            "versions: " + ", ".join(f"{k} {v}" for k, v in versions.items())]


def _references(lib) -> list:
    """The peers an xpgrad library's time is divided by (same device): PyTorch, then JAX."""
    return [r for r in (W.REFERENCE.get(lib), W.SECOND_REFERENCE.get(lib)) if r]


def _json_report(todo, libs, results, why, threads, versions, repeats, min_time, quick):
    rows = []
    for group, row_label, params in todo:
        for lib in libs:
            t = results[row_label, lib]
            ref = W.REFERENCE.get(lib)
            r = results.get((row_label, ref)) if ref else None
            rows.append({
                "group": group, "label": row_label, "lib": lib,
                "params": {k: list(v) if isinstance(v, tuple) else v for k, v in params.items()},
                "seconds": t, "reference": ref if r else None,
                "ratio": t / r if t is not None and r else None,
                "ratios": {p: t / results[row_label, p] for p in _references(lib)
                           if t is not None and results.get((row_label, p))},
                "unavailable": "; ".join(sorted(why[lib])) if t is None and lib in why
                else None})
    return {"format": "xpgrad-bench/1",
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "machine": {"platform": platform.platform(), "machine": platform.machine(),
                        "cpus": _cpus()},
            "versions": versions, "threads": threads, "repeats": repeats,
            "min_time": min_time, "quick": quick, "libs": libs, "results": rows}


def _cpus():
    from .threads import available_cpus

    return available_cpus()
