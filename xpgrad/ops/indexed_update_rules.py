"""The primitives behind ``x.at[key]``'s combining updates (``indexed_updates.py`` holds the
user-facing ``IndexUpdate``): ``at_add`` (the scatter of ``getitem``'s gradient), ``at_multiply``
(each repeat's gradient the product of the others) and ``at_minimum`` / ``at_maximum`` (a tie
split evenly between ``x`` and the tied values, as JAX does), each combining repeated indices
in turn (``ufunc.at``, or a sort where the arrays have none: ``segment_rules.reduce_sorted``).

>>> import xpgrad as xg
>>> xg.ones(3).at[xg.asarray([0, 0, 2])].multiply(2.0).tolist()
[4.0, 1.0, 2.0]
"""
from __future__ import annotations

from ..accumulate import Scatter, _without_newaxes, index_add, is_basic
from ..primitive import Primitive, apply
from ..tensor import Tensor
from .update_keys import _distinct_places, _positions, _size

def _call(prim, xp, *args, **params):
    """``prim`` on raw arrays (a first-order rule) or, when an outer tape records and the
    arguments are Tensors, as a recorded primitive (so the rule is differentiable)."""
    if any(isinstance(a, Tensor) for a in args):
        return apply(prim, *args, **params)
    return prim.forward(xp, *args, **params)


def _combine_at(xp, out, key, values, ufunc, backend):
    """``out[key] = ufunc(out[key], values)`` in place, repeated indices combined in turn."""
    if is_basic(key):               # each place at most once
        if any(k is None for k in key):
            key, values = _without_newaxes(key, values, len(out.shape))
        out[key] = getattr(xp, ufunc)(out[key], values)
        return
    if _distinct_places(backend, out, key):
        out[key] = getattr(xp, ufunc)(out[key], values)      # the same, without ufunc.at
        return
    at = getattr(getattr(xp, ufunc, None), "at", None)
    if at is not None:
        flags = getattr(out, "flags", None)
        if len(out.shape) > 1 and flags is not None and flags.c_contiguous:
            # through 1-D positions: NumPy's fast path (multiply.at on 128 rows of 256 float32:
            # 31 us, 177 through the rows), the same operations in the same order
            at(xp.reshape(out, (-1,)), _positions(xp, tuple(out.shape), key),
               xp.reshape(values, (-1,)))
        else:
            at(out, key, values)
        return
    # no ufunc.at (xg.function's trace, xg.vmap, array-API backends): the values combined
    # by place first (segment_rules' sort-based reduction), then with ``out`` once
    from .segment_rules import reduce_sorted

    shape = tuple(out.shape)
    places = _positions(xp, shape, key)
    combine = getattr(xp, ufunc)
    merged = reduce_sorted(xp, combine, xp.reshape(values, (-1,)), places, _size(shape),
                           _identity(xp, ufunc, out.dtype))
    out[...] = combine(out, xp.reshape(merged, shape))


def _identity(xp, ufunc, dtype):
    """What combines with a place no index reaches and leaves it as it was."""
    if ufunc == "multiply":
        return 1
    if xp.isdtype(dtype, "bool"):
        return ufunc == "minimum"
    if xp.isdtype(dtype, "integral"):
        info = xp.iinfo(dtype)
        return info.max if ufunc == "minimum" else info.min
    return float("inf") if ufunc == "minimum" else float("-inf")


_METHOD = {"multiply": "multiply", "minimum": "min", "maximum": "max"}


# -- add: Scatter's scatter-add, into a copy of x -------------------------------------------------

def _add_forward(xp, x, values, key, region, backend):
    out = xp.asarray(x, copy=True)
    Scatter(tuple(out.shape), key, xp.broadcast_to(values, region), backend).add_into(out)
    return out


_at_add = Primitive("at_add", _add_forward,
                    lambda xp, g, ans, x, values, key, region, backend: g,
                    lambda xp, g, ans, x, values, key, region, backend: g[key], saves=())


# -- multiply -------------------------------------------------------------------------------------

def _multiply_forward(xp, x, values, key, region, backend):
    out = xp.asarray(x, copy=True)
    _combine_at(xp, out, key, xp.broadcast_to(values, region), "multiply", backend)
    return out


def _multiply_vjp_x(xp, g, ans, x, values, key, region, backend):
    if not isinstance(values, Tensor) and not isinstance(g, Tensor) \
            and _distinct_places(backend, g, key):       # g * (1 * v) where v lands: g * v
        out = xp.asarray(g, copy=True)
        out[key] = out[key] * xp.broadcast_to(values, region)
        return out
    factor = _call(_at_multiply, xp, xp.ones_like(x), values, key=key, region=region,
                   backend=backend)
    return g * factor


def _multiply_vjp_values(xp, g, ans, x, values, key, region, backend):
    if not isinstance(values, Tensor) and not isinstance(g, Tensor) \
            and _distinct_places(backend, x, key):       # no other value lands beside one
        return g[key] * x[key]
    direct = (g * x)[key]
    if is_basic(key):
        return direct
    if isinstance(values, Tensor) or isinstance(g, Tensor):
        if _repeats(x, key):
            raise NotImplementedError(
                "higher-order gradients of x.at[...].multiply(v) with repeated indices are "
                "not implemented (first order is); make the indices unique")
        return direct
    return direct * _others_product(xp, tuple(x.shape), key,
                                    xp.broadcast_to(values, region), backend)


def _repeats(x, key) -> bool:
    """Whether the integer-array ``key`` selects some place of ``x`` twice."""
    xp = x._backend.xp
    positions = _positions(xp, tuple(x.shape), _raw(key))
    return int(xp.unique_values(positions).shape[0]) < int(positions.shape[0])


def _raw(key):
    return tuple(k._data if isinstance(k, Tensor) else k for k in key)


def _others_product(xp, shape, key, values, backend):
    """For each entry of ``values`` (shaped like ``x[key]``), the product of the other entries
    written to its place: the derivative of a repeated multiply (zeros counted apart, so no
    0 / 0)."""
    positions = _positions(xp, shape, key)
    flat = xp.reshape(values, (-1,))
    zero = flat == 0
    nonzero = xp.where(zero, xp.ones_like(flat), flat)
    n = 1
    for s in shape:
        n *= s
    zeros_at = xp.zeros((n,), dtype=flat.dtype)
    # (accumulate's: under xg.function the backend's own scatter is replayed, not np.add.at)
    index_add(backend, zeros_at, (positions,), xp.astype(zero, flat.dtype))
    product_at = xp.ones((n,), dtype=flat.dtype)
    _combine_at(xp, product_at, (positions,), nonzero, "multiply", backend)
    zeros_here, product_here = zeros_at[positions], product_at[positions]
    others = xp.where(zero, xp.where(zeros_here == 1, product_here, 0.0),
                      xp.where(zeros_here == 0, product_here / nonzero, 0.0))
    return xp.reshape(others, tuple(values.shape))


_at_multiply = Primitive("at_multiply", _multiply_forward, _multiply_vjp_x,
                         _multiply_vjp_values)


# -- min / max ------------------------------------------------------------------------------------

def _extremum_vjp(xp, g, ans, needs, x, values, key, region, backend):
    """JAX's rule: each place's gradient is shared evenly by ``x`` and the values tied with
    the result there."""
    from_x = x == ans
    values = xp.broadcast_to(values, region)
    from_values = values == ans[key]
    dtype = g.dtype
    ties = _call(_at_add, xp, xp.astype(from_x, dtype), xp.astype(from_values, dtype),
                 key=key, region=region, backend=backend)
    share = g / ties
    zero = xp.zeros_like(g)
    return (xp.where(from_x, share, zero) if needs[0] else None,
            xp.where(from_values, share[key], zero[key]) if needs[1] else None)


def _extremum(ufunc):
    def forward(xp, x, values, key, region, backend):
        out = xp.asarray(x, copy=True)
        _combine_at(xp, out, key, xp.broadcast_to(values, region), ufunc, backend)
        return out

    return Primitive(f"at_{ufunc}", forward, joint=_extremum_vjp)


_at_minimum = _extremum("minimum")
_at_maximum = _extremum("maximum")
