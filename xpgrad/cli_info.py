"""``xpgrad info``: versions, backends (with why not), peers and thread pools.

>>> sorted(info())[:3]
['backends', 'current_backend', 'installed']
"""
from __future__ import annotations

import json
import os
import platform

# name shown -> distributions that provide it (CuPy ships as cupy-cudaXXx wheels)
PEERS = {"torch": ("torch",), "jax": ("jax",), "jaxlib": ("jaxlib",),
         "cupy": ("cupy", "cupy-cuda12x", "cupy-cuda11x", "cupy-cuda13x"), "numba": ("numba",),
         "array-api-strict": ("array-api-strict",), "tqdm": ("tqdm",),
         "tensorboardX": ("tensorboardX",), "matplotlib": ("matplotlib",),
         "scikit-learn": ("scikit-learn",), "threadpoolctl": ("threadpoolctl",)}


def _version(dists):
    from importlib.metadata import PackageNotFoundError, version

    for dist in dists:
        try:
            return version(dist)
        except PackageNotFoundError:
            pass
    return None


def _current_backend() -> str:
    """The current backend's name, or why there is none ($XPGRAD_BACKEND names no backend that
    runs here): the report is what tells the user so."""
    import xpgrad

    try:
        return xpgrad.current_backend().name
    except (xpgrad.UnknownBackendError, xpgrad.BackendUnavailableError) as e:
        return f"none ({e})"


def info() -> dict:
    """What ``xpgrad info`` prints, as a dict: versions, backends (with why not), peers, and
    the thread pools (BLAS and OpenMP libraries loaded, Numba's threading layer).

    >>> sorted(info()["threads"])
    ['blas', 'cpus', 'default', 'numba']
    """
    import numpy

    import xpgrad
    from . import allocator
    from .threads import DEFAULT_THREADS, available_cpus, blas_info, numba_threading

    report = {
        "xpgrad": xpgrad.__version__,
        "python": f"{platform.python_version()} ({platform.python_implementation()}, "
                  f"{platform.system()} {platform.machine()})",
        "numpy": numpy.__version__,
        "current_backend": _current_backend(),
        "backends": xpgrad.available_backends(),
        "installed": {name: _version(dists) for name, dists in PEERS.items()},
    }
    numba_ok = report["backends"].get("numba", {}).get("available")
    nb = numba_threading() if numba_ok else {}      # starts Numba's pool to name its layer
    if nb:
        report["backends"]["numba"]["threading_layer"] = nb["threading_layer"]
    report["threads"] = {"cpus": available_cpus(), "default": DEFAULT_THREADS,
                         "blas": blas_info(), "numba": nb}
    report["malloc"] = allocator.STATE
    report["products"] = _products()
    return report


def _products() -> str:
    """What the host backends' matrix products run on, or why that cannot be told."""
    from .backends import blas

    try:
        return f"{blas.describe()} (XPGRAD_BLAS={blas.choice()})"
    except (ValueError, RuntimeError) as e:
        return f"unavailable: {e}"


def cmd_info(args, parser) -> int:
    report = info()
    if args.json:
        print(json.dumps(report, indent=2, default=str))
        return 0
    print(f"xpgrad   {report['xpgrad']}")
    print(f"python   {report['python']}")
    print(f"numpy    {report['numpy']}")
    print(f"current backend: {report['current_backend']}")
    print("backends:")
    for name, row in report["backends"].items():
        if row["available"]:
            details = ", ".join(f"{k}={v}" for k, v in row.items()
                                if k not in ("available", "reason", "name"))
            print(f"  {name:8s} available   {details}")
            if row.get("cache_stale_dirs"):
                print(f"           (`xpgrad warmup --backend {name} --prune` deletes the "
                      f"stale cache directories)")
        else:
            print(f"  {name:8s} unavailable {row['reason']}")
    print("installed packages:")
    for name, ver in report["installed"].items():
        print(f"  {name:17s} {ver or '-'}")
    threads = report["threads"]
    print(f"threads: {threads['cpus']} CPUs available to this process; xpgrad train and bench "
          f"use {threads['default']} per pool unless --threads N says otherwise")
    for row in threads["blas"]:
        what = " ".join(str(p) for p in (row["internal_api"], row.get("version")) if p)
        what += _blas_kernels(row)
        print(f"  {row['user_api']:8s} {what}: {row['num_threads']} threads  {row['filepath']}")
    if not threads["blas"]:
        print("  blas     unknown (threadpoolctl is not installed)")
    nb = threads["numba"]
    if nb:
        print(f"  numba    threading layer {nb['threading_layer']}: {nb['threads']} threads "
              f"(NUMBA_NUM_THREADS {nb['max_threads']}, NUMBA_THREADING_LAYER "
              f"{nb['requested_layer']})")
    print(f"malloc: {report['malloc']} (xpgrad/allocator.py)")
    print(f"matrix products: {report['products']} (xpgrad/backends/blas.py)")
    return 0


def _blas_kernels(row) -> str:
    """`` (pthreads, Haswell kernels forced by OPENBLAS_CORETYPE)``: the threading layer and
    the CPU kernels a BLAS uses, and whether the environment chose them (OpenBLAS otherwise
    picks the best for the CPU; a forced older core type can cost large products half their
    speed)."""
    parts = [row["threading_layer"]] if row.get("threading_layer") else []
    if row.get("architecture"):
        kernels = f"{row['architecture']} kernels"
        forced = os.environ.get("OPENBLAS_CORETYPE")
        if row.get("internal_api") == "openblas" and forced:
            kernels += f" forced by OPENBLAS_CORETYPE={forced}"
        parts.append(kernels)
    return f" ({', '.join(parts)})" if parts else ""
