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


class FusedCall:
    """Replay of a fused run: its kernel on flat operands, writing the packs; returns the packs
    and the row views that other steps use."""

    def __init__(self, kernel, flatten, n, packs, views, source, reduction=None):
        self.kernel, self.flatten, self.n = kernel, flatten, n
        self.reduction = reduction    # (accumulators, dtype, shape of the result) or None
        self.packs = packs        # (rows, dtype) per pack
        self.views = views        # (pack index, row, shape) per view
        self.source = source

    def __call__(self, *args):
        n = self.n
        flats = [a.reshape(-1) if f else a for a, f in zip(args, self.flatten)]
        packs = [np.empty((rows, n), dtype) for rows, dtype in self.packs]
        if self.reduction is None:
            self.kernel(n, *flats, *packs)
        else:
            size, dtype, shape = self.reduction
            acc = np.zeros(size)
            self.kernel(n, *flats, *packs, acc)
        views = [packs[p][row] if shape is None else packs[p][row].reshape(shape)
                 for p, row, shape in self.views]
        if self.reduction is not None:
            views.append(acc.astype(dtype).reshape(shape))
        return (*packs, *views)

    def __repr__(self):
        return f"<fused kernel of {self.source.count(chr(10)) + 1} ops>"


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
    os.makedirs(path, exist_ok=True)
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
