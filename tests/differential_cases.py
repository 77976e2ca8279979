"""The cases ``tests/test_differential_fuzz.py`` draws: hypothesis strategies that each return a
``Case`` -- one call of a namespace function with its parameters drawn, the same call written
in PyTorch, and the float64 values of the arguments it is differentiated in.

Kept apart from the test so the table can grow without the runner growing with it. Values are
drawn from a seed (NumPy's generator) rather than element by element, which keeps a draw cheap;
shapes, axes and parameters are drawn by hypothesis, so a failure shrinks to a small shape.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import xpgrad as xg

TF = torch.nn.functional


@dataclass
class Case:
    name: str
    ours: Callable          # list of xg Tensors -> xg Tensor
    theirs: Callable        # list of float64 torch tensors -> torch tensor
    inputs: list            # float64 NumPy arrays, the differentiated arguments


# sides about the NumPy backend's thresholds (blocks of 16 in cumulative sums, rows of 32 in
# products, 4096 elements for the blocked and BLAS-summed paths, 256 KiB blocks)
_BIG_SIDES = [1, 2, 3, 15, 16, 17, 32, 33, 65, 127, 257, 1025, 4097, 9000]
LARGE = st.lists(st.sampled_from(_BIG_SIDES), min_size=1, max_size=3).map(tuple).filter(
    lambda s: 2000 <= np.prod(s, dtype=int) <= 70000)
SHAPES = st.one_of(hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4), LARGE)
NONEMPTY = st.one_of(hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=4), LARGE)


def _rng(draw):
    return np.random.default_rng(draw(st.integers(0, 2**32 - 1)))


def _off(x, kinks, gap=0.1):
    """``x`` with every entry within ``gap`` of a kink moved ``2 gap`` above it: a rounding
    to float32 then never crosses a kink, where the two libraries may pick different sides."""
    for k in kinks:
        x = np.where(np.abs(x - k) < gap, k + 2 * gap, x)
    return x


def _distinct(rng, shape, scale=1.0):
    """Values at least 0.3 scale apart: no ties for max, min, sort or an inf-norm."""
    n = int(np.prod(shape, dtype=int))
    return ((rng.permutation(n) - n / 2) * 0.3 * scale).reshape(shape)


def _axes(draw, ndim, allow_none=True):
    """None, one axis, or a tuple of distinct axes (some negative) of an ``ndim``-d array."""
    choices = [st.just(None)] if allow_none else []
    if ndim:
        choices.append(st.integers(-ndim, ndim - 1))
        choices.append(st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim,
                                unique=True).map(lambda a: tuple(i - ndim if i % 2 else i
                                                                 for i in a)))
    return draw(st.one_of(*choices)) if choices else None


def _dims(axis, ndim):
    """The axes ``axis`` names, non-negative, as a tuple (None: all)."""
    if axis is None:
        return tuple(range(ndim))
    return tuple(a % ndim for a in ((axis,) if isinstance(axis, int) else axis))


def _reduced(shape, axis):
    return int(np.prod([shape[a] for a in _dims(axis, len(shape))], dtype=int))


def _t(a):
    return torch.as_tensor(np.array(a))     # a copy: PyTorch takes no negative strides


# -- elementwise ----------------------------------------------------------------------------
UNARY = {   # name: (ours, theirs, values from rng and shape)
    "negative": (xg.negative, torch.neg, None),
    "square": (xg.square, torch.square, None),
    "exp": (xg.exp, torch.exp, None),
    "expm1": (xg.expm1, torch.expm1, None),
    "log": (xg.log, torch.log, (0.1, 5)),
    "log1p": (xg.log1p, torch.log1p, (-0.9, 5)),
    "log2": (xg.log2, torch.log2, (0.1, 5)),
    "log10": (xg.log10, torch.log10, (0.1, 5)),
    "sqrt": (xg.sqrt, torch.sqrt, (0.1, 5)),
    "reciprocal": (xg.reciprocal, torch.reciprocal, (0.3, 3)),
    "sin": (xg.sin, torch.sin, None),
    "cos": (xg.cos, torch.cos, None),
    "tan": (xg.tan, torch.tan, (-1.3, 1.3)),
    "tanh": (xg.tanh, torch.tanh, None),
    "sinh": (xg.sinh, torch.sinh, None),
    "cosh": (xg.cosh, torch.cosh, None),
    "asin": (xg.asin, torch.asin, (-0.9, 0.9)),
    "acos": (xg.acos, torch.acos, (-0.9, 0.9)),
    "atan": (xg.atan, torch.atan, None),
    "asinh": (xg.asinh, torch.asinh, None),
    "acosh": (xg.acosh, torch.acosh, (1.1, 5)),
    "atanh": (xg.atanh, torch.atanh, (-0.9, 0.9)),
    "abs": (xg.abs, torch.abs, [0.0]),
    "sign": (xg.sign, torch.sign, [0.0]),
    "floor": (xg.floor, torch.floor, "integers"),
    "ceil": (xg.ceil, torch.ceil, "integers"),
    "trunc": (xg.trunc, torch.trunc, "integers"),
    "positive": (xg.positive, torch.positive, None),
    "sinc": (xg.sinc, torch.sinc, [0.0]),   # PyTorch's derivatives cancel near 0 (7e-7 off)
    "sigmoid": (xg.nn.sigmoid, torch.sigmoid, None),
    "relu": (xg.nn.relu, torch.relu, [0.0]),
    "relu6": (xg.nn.relu6, TF.relu6, [0.0, 6.0]),
    "selu": (xg.nn.selu, TF.selu, [0.0]),
    "silu": (xg.nn.silu, TF.silu, None),
    "mish": (xg.nn.mish, TF.mish, None),
    "softsign": (xg.nn.softsign, TF.softsign, [0.0]),
    "log_sigmoid": (xg.nn.log_sigmoid, TF.logsigmoid, None),
    "hardsigmoid": (xg.nn.hardsigmoid, TF.hardsigmoid, [-3.0, 3.0]),
    "hardswish": (xg.nn.hardswish, TF.hardswish, [-3.0, 3.0]),
}


def _unary_values(rng, shape, domain):
    if isinstance(domain, tuple):
        return rng.uniform(*domain, size=shape)
    x = rng.normal(size=shape) * 3
    if domain == "integers":
        return _off(x, np.arange(-12, 13))
    return _off(x, domain or [])


@st.composite
def unary(draw):
    name = draw(st.sampled_from(sorted(UNARY)))
    ours, theirs, domain = UNARY[name]
    x = _unary_values(_rng(draw), draw(SHAPES), domain)
    return Case(name, lambda a: ours(a[0]), lambda t: theirs(t[0]), [x])


@st.composite
def parametrized_activations(draw):
    rng = _rng(draw)
    x = rng.normal(size=draw(SHAPES)) * 3
    which = draw(st.sampled_from(["leaky_relu", "elu", "celu", "softplus", "gelu", "hardtanh"]))
    if which == "leaky_relu":
        s = draw(st.sampled_from([0.01, 0.2, 1.5]))
        return Case(f"leaky_relu({s})", lambda a: xg.nn.leaky_relu(a[0], negative_slope=s),
                    lambda t: TF.leaky_relu(t[0], s), [_off(x, [0.0])])
    if which in ("elu", "celu"):
        alpha = draw(st.sampled_from([0.5, 1.0, 2.0]))
        return Case(f"{which}({alpha})", lambda a: getattr(xg.nn, which)(a[0], alpha=alpha),
                    lambda t: getattr(TF, which)(t[0], alpha), [_off(x, [0.0])])
    if which == "softplus":
        beta, threshold = draw(st.sampled_from([0.5, 1.0, 3.0])), draw(st.sampled_from([2.0, 20.0]))
        x = _off(x, [threshold / beta])
        return Case(f"softplus({beta}, {threshold})",
                    lambda a: xg.nn.softplus(a[0], beta=beta, threshold=threshold),
                    lambda t: TF.softplus(t[0], beta, threshold), [x])
    if which == "gelu":
        approximate = draw(st.sampled_from(["none", "tanh"]))
        return Case(f"gelu({approximate})", lambda a: xg.nn.gelu(a[0], approximate=approximate),
                    lambda t: TF.gelu(t[0], approximate=approximate), [x])
    lo, hi = draw(st.sampled_from([(-1.0, 1.0), (-2.0, 0.5)]))
    return Case(f"hardtanh({lo}, {hi})", lambda a: xg.nn.hardtanh(a[0], min_val=lo, max_val=hi),
                lambda t: TF.hardtanh(t[0], lo, hi), [_off(x, [lo, hi])])


BINARY = {  # name: (ours, theirs, domain of x1, domain of x2)
    "add": (xg.add, torch.add, None, None),
    "subtract": (xg.subtract, torch.sub, None, None),
    "multiply": (xg.multiply, torch.mul, None, None),
    "divide": (xg.divide, torch.div, None, "away"),
    "pow": (xg.pow, torch.pow, (0.3, 3), (-2, 2)),
    "maximum": (xg.maximum, torch.maximum, "grid", "grid2"),
    "minimum": (xg.minimum, torch.minimum, "grid", "grid2"),
    "atan2": (xg.atan2, torch.atan2, None, "away"),
    "hypot": (xg.hypot, torch.hypot, "away", None),
    "logaddexp": (xg.logaddexp, torch.logaddexp, None, None),
    "copysign": (xg.copysign, torch.copysign, None, "away"),
}


def _binary_values(rng, shape, domain):
    if isinstance(domain, tuple):
        return rng.uniform(*domain, size=shape)
    x = rng.normal(size=shape) * 2
    if domain == "away":
        return _off(x, [0.0], gap=0.3)
    if domain in ("grid", "grid2"):     # maximum/minimum: the two sides never tie
        return np.round(x) + (0.0 if domain == "grid" else 0.5)
    return x


def _broadcast_partner(shape):
    """(shape, a shape broadcasting against it: trailing axes, some of length 1), either way
    round."""
    def partner(keep, ones):
        return tuple(1 if one else side for side, one in zip(shape[len(shape) - keep:], ones))
    other = st.integers(0, len(shape)).flatmap(lambda keep: st.lists(
        st.booleans(), min_size=keep, max_size=keep).map(lambda ones: partner(keep, ones)))
    return st.tuples(st.just(shape), other).flatmap(
        lambda p: st.sampled_from([p, p[::-1]]))


@st.composite
def binary(draw):
    name = draw(st.sampled_from(sorted(BINARY)))
    ours, theirs, d1, d2 = BINARY[name]
    pair = draw(st.one_of(hnp.mutually_broadcastable_shapes(
        num_shapes=2, min_dims=0, max_dims=3, min_side=0, max_side=3).map(
            lambda s: s.input_shapes), LARGE.flatmap(_broadcast_partner)))
    rng = _rng(draw)
    a = _binary_values(rng, pair[0], d1)
    b = _binary_values(rng, pair[1], d2)
    return Case(name, lambda x: ours(x[0], x[1]), lambda t: theirs(t[0], t[1]), [a, b])


@st.composite
def where_and_clip(draw):
    shapes = draw(hnp.mutually_broadcastable_shapes(num_shapes=3, min_dims=0, max_dims=3,
                                                    min_side=0, max_side=3))
    rng = _rng(draw)
    if draw(st.booleans()):
        cond = rng.random(shapes.input_shapes[0]) < 0.5
        a, b = (rng.normal(size=s) for s in shapes.input_shapes[1:])
        return Case("where", lambda x: xg.where(xg.asarray(cond), x[0], x[1]),
                    lambda t: torch.where(_t(cond), t[0], t[1]), [a, b])
    x = np.round(rng.normal(size=shapes.result_shape) * 2) + 0.25   # never at a bound
    lo = np.minimum(np.round(rng.normal(size=shapes.input_shapes[1])), 0.0) - 0.5
    hi = np.maximum(np.round(rng.normal(size=shapes.input_shapes[2])), 0.0) + 0.5
    return Case("clip", lambda v: xg.clip(v[0], v[1], v[2]),
                lambda t: torch.clamp(t[0], t[1], t[2]), [x, lo, hi])


# -- reductions -------------------------------------------------------------------------------
def _full(op):
    """``op(t, dims, keepdim)`` over all axes when ``axis`` is None, 0-d included."""
    def run(t, axis, keepdims):
        dims = _dims(axis, t.ndim)
        if not dims:
            return op(t.reshape(1), (0,), False).reshape(()) if t.ndim == 0 else t
        return op(t, dims, keepdims)
    return run


def _prod(t, dims, keepdim):
    for d in sorted(dims, reverse=True):
        t = t.prod(dim=d, keepdim=keepdim)
    return t


REDUCTIONS = {  # name: (ours, theirs, values, smallest reduced size)
    "sum": (xg.sum, _full(lambda t, d, k: t.sum(dim=d, keepdim=k)), "normal", 0),
    "mean": (xg.mean, _full(lambda t, d, k: t.mean(dim=d, keepdim=k)), "normal", 1),
    "prod": (xg.prod, _full(_prod), "prod", 0),
    "max": (xg.max, _full(lambda t, d, k: t.amax(dim=d, keepdim=k)), "distinct", 1),
    "min": (xg.min, _full(lambda t, d, k: t.amin(dim=d, keepdim=k)), "distinct", 1),
    "logsumexp": (xg.logsumexp, _full(lambda t, d, k: t.logsumexp(dim=d, keepdim=k)),
                  "normal", 1),
    "var": (xg.var, _full(lambda t, d, k: t.var(dim=d, keepdim=k, correction=0)), "normal", 1),
    "var1": (lambda x, axis, keepdims: xg.var(x, axis=axis, keepdims=keepdims, correction=1),
             _full(lambda t, d, k: t.var(dim=d, keepdim=k, correction=1)), "normal", 2),
    "std": (xg.std, _full(lambda t, d, k: t.std(dim=d, keepdim=k, correction=0)), "normal", 2),
    "std1": (lambda x, axis, keepdims: xg.std(x, axis=axis, keepdims=keepdims, correction=1),
             _full(lambda t, d, k: t.std(dim=d, keepdim=k, correction=1)), "normal", 2),
}


@st.composite
def reductions(draw):
    name = draw(st.sampled_from(sorted(REDUCTIONS)))
    ours, theirs, values, smallest = REDUCTIONS[name]
    shape = draw(SHAPES if smallest == 0 else NONEMPTY)
    axis, keepdims = _axes(draw, len(shape)), draw(st.booleans())
    if _reduced(shape, axis) < smallest:
        axis = None
        if int(np.prod(shape, dtype=int)) < smallest:
            shape = (smallest,) + tuple(shape)[1:]
    rng = _rng(draw)
    x = (_distinct(rng, shape) if values == "distinct" else
         rng.uniform(0.5, 1.5, size=shape) * rng.choice([-1, 1], size=shape)
         if values == "prod" else rng.normal(size=shape))
    return Case(f"{name}(axis={axis}, keepdims={keepdims})",
                lambda a: ours(a[0], axis=axis, keepdims=keepdims),
                lambda t: theirs(t[0], axis, keepdims), [x])


@st.composite
def cumulative_sums(draw):
    shape = draw(st.one_of(hnp.array_shapes(min_dims=1, max_dims=3, min_side=0, max_side=4),
                           LARGE))
    axis = draw(st.integers(-len(shape), len(shape) - 1))
    initial = draw(st.booleans())
    x = _rng(draw).normal(size=shape)

    def theirs(t):
        out = torch.cumsum(t[0], axis)
        if initial:
            zero_shape = list(t[0].shape)
            zero_shape[axis] = 1
            out = torch.cat([torch.zeros(zero_shape, dtype=t[0].dtype), out], axis)
        return out
    return Case(f"cumulative_sum(axis={axis}, include_initial={initial})",
                lambda a: xg.cumulative_sum(a[0], axis=axis, include_initial=initial),
                theirs, [x])


@st.composite
def norms(draw):
    rng = _rng(draw)
    keepdims = draw(st.booleans())
    if draw(st.booleans()):
        shape = draw(NONEMPTY)
        axis = _axes(draw, len(shape))
        ord = draw(st.sampled_from([1, 2, 3, np.inf, -np.inf, 0.5]))
        x = _distinct(rng, shape) + 0.1          # no zeros: |x| has a kink there
        torch_dim = None if axis is None else _dims(axis, len(shape))
        return Case(f"vector_norm(ord={ord}, axis={axis}, keepdims={keepdims})",
                    lambda a: xg.linalg.vector_norm(a[0], axis=axis, keepdims=keepdims, ord=ord),
                    lambda t: torch.linalg.vector_norm(t[0], ord, torch_dim, keepdims), [x])
    shape = draw(hnp.array_shapes(min_dims=2, max_dims=3, min_side=1, max_side=4))
    ord = draw(st.sampled_from(["fro", "nuc", 1, -1, np.inf, -np.inf, 2, -2]))
    x = rng.normal(size=shape)       # continuous: no two row or column sums of |x| tie
    return Case(f"matrix_norm(ord={ord}, keepdims={keepdims})",
                lambda a: xg.linalg.matrix_norm(a[0], keepdims=keepdims, ord=ord),
                lambda t: torch.linalg.matrix_norm(t[0], ord, keepdim=keepdims), [x])


@st.composite
def scans_and_sorts(draw):
    """cumulative_prod, diff, sort, topk, tril/triu, nansum/nanmean: axis-wise functions
    next to the reductions (PyTorch's torch.cumprod, diff, sort, topk, tril, triu, nansum)."""
    rng = _rng(draw)
    shape = draw(st.one_of(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4),
                           LARGE))
    ndim = len(shape)
    axis = draw(st.integers(-ndim, ndim - 1))
    which = draw(st.sampled_from(["cumulative_prod", "diff", "sort", "topk", "tril", "nansum"]))
    if which == "cumulative_prod":
        x = rng.uniform(0.5, 1.5, size=shape) * rng.choice([-1, 1], size=shape)
        if shape[axis] > 64:        # keep the running products of finite size
            x = 1.0 + rng.uniform(-0.01, 0.01, size=shape)
        return Case(f"cumulative_prod(axis={axis})",
                    lambda a: xg.cumulative_prod(a[0], axis=axis),
                    lambda t: torch.cumprod(t[0], axis), [x])
    if which == "diff":
        n = draw(st.integers(0, 3))
        return Case(f"diff(n={n}, axis={axis})", lambda a: xg.diff(a[0], n=n, axis=axis),
                    lambda t: torch.diff(t[0], n=n, dim=axis) if n else t[0],
                    [rng.normal(size=shape)])
    if which in ("sort", "topk"):
        x = _distinct(rng, shape)
        descending = draw(st.booleans())
        if which == "sort":
            return Case(f"sort(axis={axis}, descending={descending})",
                        lambda a: xg.sort(a[0], axis=axis, descending=descending),
                        lambda t: torch.sort(t[0], axis, descending=descending).values, [x])
        k = draw(st.integers(0, shape[axis]))
        return Case(f"topk(k={k}, axis={axis}, largest={descending})",
                    lambda a: xg.topk(a[0], k, axis=axis, largest=descending)[0],
                    lambda t: torch.topk(t[0], k, axis, largest=descending).values, [x])
    if which == "tril" and ndim >= 2:
        k, upper = draw(st.integers(-3, 3)), draw(st.booleans())
        name = "triu" if upper else "tril"
        return Case(f"{name}(k={k})", lambda a: getattr(xg, name)(a[0], k=k),
                    lambda t: getattr(torch, name)(t[0], k), [rng.normal(size=shape)])
    x = np.where(rng.random(shape) < 0.2, np.nan, rng.normal(size=shape))
    keepdims = draw(st.booleans())
    return Case(f"nansum(axis={axis}, keepdims={keepdims})",
                lambda a: xg.nansum(a[0], axis=axis, keepdims=keepdims),
                lambda t: torch.nansum(t[0], dim=axis, keepdim=keepdims), [x])
