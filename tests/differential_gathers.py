"""Cases of ``tests/test_differential_fuzz_more.py`` that gather and scatter by index arrays
beyond ``differential_shapes.gathers``: ``take`` without an axis, TensorFlow's
``gather_nd``, ``scatter_nd`` and ``tensor_scatter_nd_add`` / ``_update`` (written with
PyTorch's ``index_put``, duplicates summed where TensorFlow sums them), and ``where`` with a
Python scalar branch. See ``differential_cases.py`` for ``Case``.
"""
from __future__ import annotations

import numpy as np
import torch
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import xpgrad as xg
from differential_cases import Case, _rng, _t


def _positions(rng, shape, k, count, unique):
    """``count`` index rows into the first ``k`` axes of ``shape`` (an (count, k) array)."""
    lead = int(np.prod(shape[:k], dtype=int))
    flat = rng.permutation(lead)[:count] if unique else rng.integers(0, lead, size=count)
    return np.stack(np.unravel_index(flat, shape[:k]), axis=-1).reshape(count, k)


def _key(indices):
    return tuple(_t(indices[..., i]) for i in range(indices.shape[-1]))


@st.composite
def scatter_gathers(draw):
    rng = _rng(draw)
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4))
    k = draw(st.integers(1, len(shape)))
    which = draw(st.sampled_from(["take_flat", "gather_nd", "scatter_nd", "scatter_add",
                                  "scatter_update", "where_scalar"]))
    x = rng.normal(size=shape)
    if which == "take_flat":        # axis=None: the standard's for a 1-d array only
        x, n = x.reshape(-1), x.size
        idx = rng.integers(-n, n, size=draw(st.integers(0, 5)))   # 1-d, as the standard's
        return Case(f"take({idx.tolist()}) of ({n},)", lambda a: xg.take(a[0], xg.asarray(idx)),
                    lambda t: t[0][_t(idx % n)], [x])
    if which == "where_scalar":
        cond = rng.random(shape) < 0.5
        value, left = draw(st.sampled_from([0.0, -1.5, 2])), draw(st.booleans())
        return Case(f"where(cond, {'x, ' + repr(value) if left else repr(value) + ', x'})",
                    lambda a: xg.where(xg.asarray(cond), *((a[0], value) if left
                                                          else (value, a[0]))),
                    lambda t: torch.where(_t(cond), *((t[0], value) if left
                                                      else (value, t[0]))), [x])
    count = draw(st.integers(0, 5))
    unique = which == "scatter_update"
    if unique:
        count = min(count, int(np.prod(shape[:k], dtype=int)))
    indices = _positions(rng, shape, k, count, unique)
    slice_shape = shape[k:]
    updates = rng.normal(size=(count,) + slice_shape)
    if which == "gather_nd":
        return Case(f"gather_nd({indices.tolist()}) of {shape}",
                    lambda a: xg.gather_nd(a[0], xg.asarray(indices)),
                    lambda t: t[0][_key(indices)], [x])
    if which == "scatter_nd":
        return Case(f"scatter_nd({indices.tolist()}, shape={shape})",
                    lambda a: xg.scatter_nd(xg.asarray(indices), a[0], shape),
                    lambda t: torch.zeros(shape, dtype=t[0].dtype).index_put(
                        _key(indices), t[0], accumulate=True), [updates])
    name = "tensor_scatter_nd_add" if which == "scatter_add" else "tensor_scatter_nd_update"
    return Case(f"{name}({indices.tolist()}) of {shape}",
                lambda a: getattr(xg, name)(a[0], xg.asarray(indices), a[1]),
                lambda t: t[0].index_put(_key(indices), t[1], accumulate=not unique),
                [x, updates])
