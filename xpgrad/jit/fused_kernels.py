"""The generated kernels of numba fusion (``fusion``): a fused run's source, its compiled
kernel and the step that replays it.

The generated source is written to a file named by its hash and compiled with
``numba.njit(cache=True)``, so a new process loads it from Numba's disk cache. The directory is
``$XPGRAD_NUMBA_CACHE_DIR/fused`` when that is set, else ``xpgrad-fused`` in the temp dir.

>>> import numpy as np
>>> source = kernel_source(2, 1, ["v0 = a0[i]", "v1 = a1[0]",          # a1: one element
...                                "t0 = np.float64(v0 * v1)", "t1 = np.float64(t0 + v0)"],
...                        ["p0[0, i] = t1"])
>>> a, b, pack = np.arange(3.0), np.full(1, 2.0), np.empty((1, 3))
>>> _compiled(source)(3, a, b, pack); pack.tolist()
[[0.0, 3.0, 6.0]]
"""
from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
import tempfile

import numpy as np


def fused_call(kernel, flatten, n, packs, views, source, reduction=None):
    """Replay of a fused run: a function calling ``kernel`` on flat operands (``flatten``: which
    arguments to flatten), writing new packs (``(rows, dtype)`` each, of ``n`` columns) and
    returning the packs, then the row views other steps use (``(pack, row, shape)`` each), then
    the reduction's result (``reduction``: its accumulators, dtype and shape) if any.

    Generated as straight-line code: a loop over the arguments, packs and views cost 3 us a
    call, twice the kernel's own time on a 32x256 ReLU.

    >>> import numpy as np
    >>> kernel = _compiled(kernel_source(1, 1, ["v0 = a0[i]", "t0 = np.float64(v0 * v0)"],
    ...                                  ["p0[0, i] = t0"]))
    >>> call = fused_call(kernel, [True], 4, [(1, np.dtype("float64"))], [(0, 0, (2, 2))],
    ...                   "t0 = np.float64(v0 * v0)")
    >>> pack, square = call(np.arange(4.0).reshape(2, 2)); square.tolist(), call.__qualname__
    ([[0.0, 1.0], [4.0, 9.0]], '<fused kernel of 1 ops>')
    """
    args = [f"a{k}" for k in range(len(flatten))]
    operands = [f"{a}.reshape(-1)" if f else a for a, f in zip(args, flatten)]
    names = {"kernel": kernel, "empty": np.empty, "zeros": np.zeros}
    lines = [f"def call({', '.join(args)}):"]
    for p, (rows, dtype) in enumerate(packs):
        names[f"d{p}"] = np.dtype(dtype)
        lines.append(f"    p{p} = empty(({rows}, {n}), d{p})")
    operands += [f"p{p}" for p in range(len(packs))]
    if reduction is not None:
        size, dtype, shape = reduction
        names["reduced"] = np.dtype(dtype)
        lines.append(f"    acc = zeros({size})")
        operands.append("acc")
    lines.append(f"    kernel({n}, {', '.join(operands)})")
    results = [f"p{p}" for p in range(len(packs))]
    results += [f"p{p}[{row}]" if shape is None else f"p{p}[{row}].reshape({tuple(shape)})"
                for p, row, shape in views]
    if reduction is not None:
        results.append(f"acc.astype(reduced).reshape({tuple(reduction[2])})")
    lines.append(f"    return ({', '.join(results)},)" if results else "    return ()")
    exec("\n".join(lines), names)
    call = names.pop("call")         # (its globals holding it would be a reference cycle)
    call.__qualname__ = f"<fused kernel of {source.count(chr(10)) + 1} ops>"
    call.kernel, call.source, call.reduction = kernel, source, reduction
    return call


_KERNELS = {}


def kernel_source(n_args, n_packs, lines, stores, reduces=False, columns=0) -> str:
    """The text of a fused kernel ``kernel(n, a0, a1, ..., p0, ..., [acc])``: one loop over
    ``n`` elements (element ``i``) running ``lines`` (loads and ops) then ``stores`` (into the
    packs, and into the float64 accumulator ``acc`` of a reduction). With ``columns``, a loop
    over rows of a loop over ``columns`` columns (``j``), which vectorizes a column sum
    ``acc[j] += ...`` (``acc[i % columns]`` in one loop did not: 3x as long)."""
    params = ["n"] + [f"a{k}" for k in range(n_args)] + [f"p{k}" for k in range(n_packs)] + \
        (["acc"] if reduces else [])
    body = ["def kernel(" + ", ".join(params) + "):"]
    if columns:
        body += [f"    for r in range(n // {columns}):", f"        for j in range({columns}):",
                 f"            i = r * {columns} + j"]
        body += [f"            {line}" for line in lines + stores]
    else:
        body.append("    for i in range(n):")
        body += [f"        {line}" for line in lines + stores]
    return "import numpy as np\nfrom numba import njit\n\n\n" + "\n".join(body) + \
        "\n\n\nkernel = njit(cache=True, error_model='numpy')(kernel)\n"


def cache_dir() -> str:
    base = os.environ.get("XPGRAD_NUMBA_CACHE_DIR")
    path = os.path.join(base, "fused") if base else os.path.join(tempfile.gettempdir(),
                                                                 "xpgrad-fused")
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as e:
        where = f"XPGRAD_NUMBA_CACHE_DIR={base!r}" if base else "the temporary directory"
        raise OSError(e.errno, f"{where}: cannot make the fused-kernel cache {path!r} "
                               f"({e.strerror}); point XPGRAD_NUMBA_CACHE_DIR at a writable "
                               f"directory") from None
    return path


def _compiled(source):
    """The compiled kernel of ``source`` (from this process's table, Numba's disk cache, or a
    fresh compile), its source written to a file named by its hash."""
    digest = hashlib.sha256(source.encode()).hexdigest()[:20]
    kernel = _KERNELS.get(digest)
    if kernel is not None:
        return kernel
    path = os.path.join(cache_dir(), f"fused_{digest}.py")
    if not os.path.exists(path):
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), suffix=".tmp")
        with os.fdopen(fd, "w") as f:
            f.write(source)
        os.replace(tmp, path)
    spec = importlib.util.spec_from_file_location(f"xpgrad_fused_{digest}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module       # Numba's cache finds the module by name
    spec.loader.exec_module(module)
    kernel = _KERNELS[digest] = module.kernel
    return kernel
