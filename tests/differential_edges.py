"""Cases of ``tests/test_differential_fuzz_more.py`` at the edges ``differential_cases.py``
steers clear of: max/min and maximum/minimum at ties (the gradient split equally, as PyTorch's
amax and maximum split it, docs/design-choices.md), logsumexp and softmax over rows of -inf,
reductions over zero-size axes (sum 0, prod 1, mean NaN, logsumexp -inf), products and
cumulative products holding zeros, and norms of zero vectors. See ``differential_cases.py``
for ``Case``.
"""
from __future__ import annotations

import numpy as np
import torch
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import xpgrad as xg
from differential_cases import REDUCTIONS, Case, _axes, _dims, _rng

TF = torch.nn.functional


def _ties(rng, shape):
    """Small integers: many entries equal the largest and the smallest of their row."""
    return rng.integers(-1, 2, size=shape).astype(float)


@st.composite
def ties(draw):
    rng = _rng(draw)
    if draw(st.booleans()):
        pair = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3,
                                                      min_side=1, max_side=3))
        name = draw(st.sampled_from(["maximum", "minimum"]))
        a, b = (_ties(rng, s) for s in pair.input_shapes)
        return Case(f"{name} at ties", lambda x: getattr(xg, name)(x[0], x[1]),
                    lambda t: getattr(torch, name)(t[0], t[1]), [a, b])
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=4))
    name = draw(st.sampled_from(["max", "min"]))
    axis, keepdims = _axes(draw, len(shape)), draw(st.booleans())
    ours, theirs = REDUCTIONS[name][:2]
    return Case(f"{name}(axis={axis}, keepdims={keepdims}) at ties",
                lambda a: ours(a[0], axis=axis, keepdims=keepdims),
                lambda t: theirs(t[0], axis, keepdims), [_ties(rng, shape)])


def _some_rows_minus_inf(rng, shape, axis):
    """Normal values, with whole rows along ``axis`` (and some single entries) -inf."""
    x = rng.normal(size=shape) * 3
    row_shape = tuple(1 if d in _dims(axis, len(shape)) else s for d, s in enumerate(shape))
    rows = rng.random(row_shape) < 0.4
    return np.where(rows | (rng.random(shape) < 0.2), -np.inf, x)


@st.composite
def minus_infinity(draw):
    rng = _rng(draw)
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4))
    ndim = len(shape)
    if draw(st.booleans()):
        axis, keepdims = _axes(draw, ndim), draw(st.booleans())
        ours, theirs = REDUCTIONS["logsumexp"][:2]
        return Case(f"logsumexp(axis={axis}, keepdims={keepdims}) with -inf",
                    lambda a: ours(a[0], axis=axis, keepdims=keepdims),
                    lambda t: theirs(t[0], axis, keepdims), [_some_rows_minus_inf(rng, shape,
                                                                                  axis)])
    axis = draw(st.integers(-ndim, ndim - 1))
    x = rng.normal(size=shape) * 3      # some entries -inf, never a whole row (NaN rows)
    x = np.where(rng.random(shape) < 0.3, -np.inf, x)
    x = np.where(np.all(np.isinf(x), axis=axis, keepdims=True) &
                 (np.arange(shape[axis]).reshape([-1 if d == axis % ndim else 1
                                                  for d in range(ndim)]) == 0), 0.5, x)
    name = draw(st.sampled_from(["softmax", "log_softmax"]))
    return Case(f"{name}(axis={axis}) with -inf",
                lambda a: getattr(xg.nn, name)(a[0], axis=axis),
                lambda t: getattr(TF, name)(t[0], dim=axis), [x])


@st.composite
def empty_reductions(draw):
    """Reductions whose reduced axes hold no entry (the rest of the shape may)."""
    rng = _rng(draw)
    shape = list(draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=0, max_side=3)))
    shape[draw(st.integers(0, len(shape) - 1))] = 0
    shape = tuple(shape)
    ndim = len(shape)
    empty = [d for d in range(ndim) if shape[d] == 0]
    axis = draw(st.one_of(st.none(), st.sampled_from(empty + [d - ndim for d in empty]),
                          st.lists(st.integers(0, ndim - 1), min_size=1, unique=True)
                          .map(lambda a: tuple(sorted(a + [empty[0]] if empty[0] not in a
                                                      else a)))))
    name = draw(st.sampled_from(["sum", "prod", "mean", "logsumexp", "var", "cumulative_sum"]))
    x = rng.normal(size=shape)
    if name == "cumulative_sum":
        axis = draw(st.integers(-ndim, ndim - 1))
        return Case(f"cumulative_sum(axis={axis}) of {shape}",
                    lambda a: xg.cumulative_sum(a[0], axis=axis),
                    lambda t: torch.cumsum(t[0], axis), [x])
    keepdims = draw(st.booleans())
    ours, theirs = REDUCTIONS[name][:2]
    return Case(f"{name}(axis={axis}, keepdims={keepdims}) of {shape}",
                lambda a: ours(a[0], axis=axis, keepdims=keepdims),
                lambda t: theirs(t[0], axis, keepdims), [x])


@st.composite
def zeros(draw):
    """Products, cumulative products and norms whose rows hold zeros (one, two, or all)."""
    rng = _rng(draw)
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4))
    ndim = len(shape)
    x = rng.uniform(0.5, 1.5, size=shape) * rng.choice([-1, 1], size=shape)
    x = np.where(rng.random(shape) < draw(st.sampled_from([0.15, 0.4, 1.0])), 0.0, x)
    which = draw(st.sampled_from(["prod", "cumulative_prod", "vector_norm"]))
    if which == "cumulative_prod":
        axis = draw(st.integers(-ndim, ndim - 1))
        return Case(f"cumulative_prod(axis={axis}) with zeros",
                    lambda a: xg.cumulative_prod(a[0], axis=axis),
                    lambda t: torch.cumprod(t[0], axis), [x])
    axis, keepdims = _axes(draw, ndim), draw(st.booleans())
    if which == "prod":
        ours, theirs = REDUCTIONS["prod"][:2]
        return Case(f"prod(axis={axis}, keepdims={keepdims}) with zeros",
                    lambda a: ours(a[0], axis=axis, keepdims=keepdims),
                    lambda t: theirs(t[0], axis, keepdims), [x])
    x = np.where(np.abs(x) < 1.0, 0.0, x)       # |x|'s kink: PyTorch's subgradient there is 0
    ord = draw(st.sampled_from([2, 3, np.inf]))
    dims = _dims(axis, ndim)
    return Case(f"vector_norm(ord={ord}, axis={axis}) with zeros",
                lambda a: xg.linalg.vector_norm(a[0], axis=axis, keepdims=keepdims, ord=ord),
                lambda t: torch.linalg.vector_norm(t[0], ord, dims, keepdims), [x])
