"""Orthogonal initialization (Saxe et al. 2014): PyTorch's ``orthogonal_``, Keras'
``Orthogonal``.

>>> import xpgrad as xg
>>> q = orthogonal()(xg.random.default_rng(0), (3, 3), xg.float64).numpy()
>>> bool(abs(q.T @ q - np.eye(3)).max() < 1e-12)
True
"""
from __future__ import annotations

import math

import numpy as np  # noqa: F401 (the examples)

from ... import dtypes as _dt
from ...ops.casting import astype
from ...ops.elementwise import sign
from ...ops.linalg import diagonal, matrix_transpose
from ...ops.linalg_decomp import qr
from ...ops.shape import reshape
from ._common import as_rng, empty_or_none, float_dtype, named, real, shape_arg


def orthogonal(gain=1.0):
    """An initializer ``(rng, shape, dtype=float32)`` giving ``gain`` times a random matrix
    with orthonormal columns (or rows, when it is wide). A shape of more than 2 axes is
    flattened to ``(prod(shape[:-1]), shape[-1])``: in xpgrad's ``(..., in, out)`` layout that is
    the transpose of PyTorch's flattening of its ``(out, in, ...)`` weights to
    ``(out, in * ...)``. The matrix is the Q of the QR decomposition of a Gaussian draw (in
    float64, then rounded to ``dtype``), its columns' signs set by R's diagonal so that it is
    uniformly (Haar) distributed. ``gain`` is a finite number > 0; the shape needs >= 2 axes.

    >>> import xpgrad as xg
    >>> w = orthogonal(gain=2.0)(xg.random.default_rng(0), (5, 3), xg.float64).numpy()
    >>> bool(abs(w.T @ w - 4 * np.eye(3)).max() < 1e-12)         # tall: orthogonal columns
    True
    >>> w = orthogonal()(xg.random.default_rng(0), (3, 5), xg.float64).numpy()
    >>> bool(abs(w @ w.T - np.eye(3)).max() < 1e-12)             # wide: orthogonal rows
    True
    """
    gain = real("gain", gain, "orthogonal", positive=True)

    def init(rng, shape, dtype=_dt.float32):
        rng, shape = as_rng(rng), shape_arg(shape)
        dtype = float_dtype(dtype, "orthogonal")
        if len(shape) < 2:
            raise ValueError(f"orthogonal: shape must have at least 2 axes, got shape {shape}")
        empty = empty_or_none(rng, shape, dtype)
        if empty is not None:
            return empty
        rows, cols = math.prod(shape[:-1]), shape[-1]
        a = rng.normal(0.0, 1.0, size=(max(rows, cols), min(rows, cols)), dtype=_dt.float64)
        q, r = qr(a)
        q = q * sign(diagonal(r))                  # the column signs of a Haar-random Q
        if rows < cols:
            q = matrix_transpose(q)
        return astype(reshape(q * gain, shape), dtype)

    return named(init, f"orthogonal(gain={gain!r})")
