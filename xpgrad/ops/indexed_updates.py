"""JAX's functional indexed updates: ``x.at[key].set(v)``, ``.add``, ``.subtract``,
``.multiply``, ``.divide``, ``.min``, ``.max`` and ``.get()`` return a new Tensor (``x`` is
unchanged), differentiable with respect to ``x`` and ``v``.

``key`` is any index ``x[key]`` takes (ints, negative ones too, slices, None, Ellipsis,
integer arrays, masks); ``v`` broadcasts to the shape of ``x[key]``. Repeated indices follow
JAX: ``add``, ``multiply``, ``min`` and ``max`` combine every repeat (``np.add.at``), ``set``
keeps the last one written (NumPy's order; JAX calls it unspecified, and its CPU backend
agrees), and its gradient goes to that one only. ``set`` reuses the primitive behind
``x[key] = v`` (``inplace.py``); ``add`` reuses the scatter of ``getitem``'s gradient
(``accumulate.Scatter``, HIPS autograd's ``untake``). ``add``, ``subtract`` and ``set`` by one
mask with the same value at every place it picks are a select (``masked_updates.py``).
Gradients: overwritten places of ``x`` get none under ``set``; ``min``/``max`` split a tie
evenly between ``x`` and the tied values, as JAX does; ``multiply`` gives each repeat the
product of the others (JAX refuses this gradient unless ``unique_indices=True``).

An index out of range is an IndexError, where JAX drops the update silently (``mode='drop'``).
Where the arrays have no ``ufunc.at`` (``xg.function``'s trace, ``xg.vmap``), repeats are
combined by a sort (``segment_rules.reduce_sorted``) and then with ``x``.

>>> import xpgrad as xg
>>> x = xg.zeros(4)
>>> x.at[xg.asarray([0, 2, 0])].add(1.0).tolist(), x.tolist()
([2.0, 0.0, 1.0, 0.0], [0.0, 0.0, 0.0, 0.0])
"""
from __future__ import annotations

from ..accumulate import Scatter, _without_newaxes, index_add, is_basic
from ..creation import asarray
from ..primitive import Primitive, apply
from ..tensor import Tensor
from .indexing import _is_bool, _raw_key, _setitem, getitem
from .masked_updates import masked_update, picking_mask
from .update_keys import (_distinct_places, _is_lone_mask, _mask_raveled, _masks_as_positions,
                          _positions, _size)

#: the hints JAX's ``at[...]`` methods take; they change nothing here
_HINTS = ("indices_are_sorted", "unique_indices", "wrap_negative_indices")


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


# -- the user-facing objects ------------------------------------------------------------------

class IndexUpdates:
    """``x.at``: index it, ``x.at[key]``, for the updates of ``IndexUpdate``.

    >>> import xpgrad as xg
    >>> xg.arange(3.0).at[1].set(9.0).tolist()
    [0.0, 9.0, 2.0]
    """

    __slots__ = ("_tensor",)

    def __init__(self, tensor):
        self._tensor = tensor

    def __getitem__(self, key):
        return IndexUpdate(self._tensor, key)

    def __repr__(self):
        return f"<{self._tensor.shape} tensor>.at"


class IndexUpdate:
    """``x.at[key]``: each method returns a new Tensor, ``x`` with ``x[key]`` updated by
    ``values`` (broadcast to ``x[key]``'s shape, cast to ``x``'s dtype as NumPy's setitem
    casts, with a UserWarning where that truncates a float or drops an imaginary part, as JAX's
    ``at[]`` warns; ``x[key] = values`` does the same). Repeated indices:
    ``add``/``subtract``/``multiply``/``divide``/``min``/``max`` combine them all, ``set``
    keeps the last (module docstring).

    >>> import xpgrad as xg
    >>> x = xg.asarray([[1.0, 2.0], [3.0, 4.0]])
    >>> x.at[:, 0].multiply(10.0).tolist(), x.at[-1].max(3.5).tolist()
    ([[10.0, 2.0], [30.0, 4.0]], [[1.0, 2.0], [3.5, 4.0]])
    >>> rows = xg.asarray([1, 1])
    >>> x.at[rows, 0].set(xg.asarray([7.0, 8.0])).tolist(), x.at[rows, 0].add(1.0).tolist()
    ([[1.0, 2.0], [8.0, 4.0]], [[1.0, 2.0], [5.0, 4.0]])
    >>> x.at[0].min(xg.asarray([0.0, 5.0])).tolist(), x.at[x > 2.5].get().tolist()
    ([[0.0, 2.0], [3.0, 4.0]], [3.0, 4.0])
    """

    __slots__ = ("_tensor", "_key")

    def __init__(self, tensor, key):
        self._tensor = tensor
        self._key = key

    def get(self, **hints):
        """``x[key]`` (JAX's ``x.at[key].get()``)."""
        _check_hints("get", hints)
        return getitem(self._tensor, self._key)

    def set(self, values, **hints):
        """``x`` with ``x[key]`` replaced by ``values``; of repeated indices the last wins."""
        selected, values = self._masked("set", values, hints)
        if selected is not None:
            return selected
        x, key, values, region = self._prepared("set", values, hints)
        return self._shaped(apply(_setitem, x, values, key=key))

    def add(self, values, **hints):
        """``x`` with ``values`` added at ``key``; repeated indices accumulate."""
        selected, values = self._masked("add", values, hints)
        if selected is not None:
            return selected
        x, key, values, region = self._prepared("add", values, hints)
        return self._shaped(apply(_at_add, x, values, key=key, region=region,
                                  backend=x._backend))

    def subtract(self, values, **hints):
        """``x`` with ``values`` subtracted at ``key`` (``add(-values)``)."""
        selected, values = self._masked("subtract", values, hints)
        if selected is not None:
            return selected
        x, key, values, region = self._prepared("subtract", values, hints)
        return self._shaped(apply(_at_add, x, -values, key=key, region=region,
                                  backend=x._backend))

    def multiply(self, values, **hints):
        """``x`` with ``x[key]`` multiplied by ``values``; repeated indices multiply in turn."""
        x, key, values, region = self._prepared("multiply", values, hints)
        return self._shaped(apply(_at_multiply, x, values, key=key, region=region,
                                  backend=x._backend))

    mul = multiply

    def divide(self, values, **hints):
        """``x`` with ``x[key]`` divided by ``values`` (``multiply(1 / values)``); x must be
        floating (an integer quotient would be truncated: TypeError)."""
        x, key, values, region = self._prepared("divide", values, hints)
        if not x.dtype.is_inexact:
            raise TypeError(f"x.at[...].divide: x has dtype {x.dtype}, and a quotient written "
                            "back into it would be truncated (JAX makes it float, NumPy's "
                            "divide.at refuses); cast x to a floating dtype first")
        return self._shaped(apply(_at_multiply, x, 1.0 / values, key=key, region=region,
                                  backend=x._backend))

    def min(self, values, **hints):
        """``x`` with ``x[key]`` replaced by ``minimum(x[key], values)``, over every repeat."""
        x, key, values, region = self._prepared("min", values, hints)
        return self._shaped(apply(_at_minimum, x, values, key=key, region=region,
                                  backend=x._backend))

    def max(self, values, **hints):
        """``x`` with ``x[key]`` replaced by ``maximum(x[key], values)``, over every repeat."""
        x, key, values, region = self._prepared("max", values, hints)
        return self._shaped(apply(_at_maximum, x, values, key=key, region=region,
                                  backend=x._backend))

    def _masked(self, method, values, hints):
        """``(the update as a select (``masked_updates.py``) or None, the values as
        ``_prepared`` takes them)``: cast once, so a truncation warns once."""
        key = self._key
        first = key[0] if isinstance(key, tuple) and key else key
        if not (hasattr(first, "shape") and hasattr(first, "dtype") and _is_bool(first)):
            return None, values
        x = self._tensor
        picked = picking_mask(x, _raw_key(x, key))
        if picked is None:
            return None, values
        _check_hints(method, hints)
        values = _as_values(x, values, method)
        return masked_update(x, picked, values, method), values

    def _prepared(self, method, values, hints):
        """``(x, raw key, values as a Tensor of x's dtype, the shape of x[key])``; ``x`` is
        ``_mask_raveled``'s view where the key is one mask over leading axes (the methods
        give their result ``_shaped`` back)."""
        _check_hints(method, hints)
        x, key = _mask_raveled(self._tensor, _raw_key(self._tensor, self._key))
        lone_mask = _is_lone_mask(x, key)
        key = _masks_as_positions(x, key)
        xp = x._backend.xp
        try:
            region = (tuple(key[0].shape) + tuple(x.shape[1:]) if lone_mask else
                      tuple(xp.broadcast_to(xp.zeros((), dtype=xp.bool), x.shape)[key].shape))
        except IndexError as e:
            raise IndexError(f"x.at[{self._key!r}].{method}: the index is invalid for a tensor "
                             f"of shape {x.shape}: {e} (JAX drops out-of-range updates; "
                             "xpgrad refuses them, as NumPy does)") from None
        values = _as_values(x, values, method)
        if _broadcast(tuple(values.shape), region) != region:
            raise ValueError(f"x.at[{self._key!r}].{method}(values): values of shape "
                             f"{tuple(values.shape)} do not broadcast to the shape {region} of "
                             f"x[{self._key!r}]")
        return x, key, values, region

    def _shaped(self, out):
        """``out`` in the shape of ``x`` (undoing ``_mask_raveled``)."""
        shape = self._tensor.shape
        return out if out.shape == shape else out.reshape(shape)


def _check_hints(method, hints):
    for name, value in hints.items():
        if name == "mode" and value in (None, "promise_in_bounds"):
            continue
        if name == "mode":
            raise ValueError(f"x.at[...].{method}: mode={value!r} is not supported; indices out "
                             "of range are an IndexError (mode=None)")
        if name not in _HINTS:
            raise TypeError(f"x.at[...].{method}() got an unexpected keyword argument {name!r}")


def _as_values(x, values, method):
    if isinstance(values, Tensor) and values._backend is not x._backend:
        from ..primitive import _mixed

        raise _mixed(x._backend, values._backend)
    try:
        values = (_inplace or _import_inplace())._value(x, values, f"x.at[...].{method}",
                                                         stacklevel=5)
        return values if isinstance(values, Tensor) else asarray(values, dtype=x.dtype,
                                                                  backend=x._backend)
    except (TypeError, ValueError) as e:
        raise TypeError(f"x.at[...].{method}(values): {e}") from None


def _broadcast(shape, target):
    """The broadcast of ``shape`` with ``target``, or None when they do not broadcast."""
    if len(shape) > len(target):
        return None
    for a, b in zip(shape[::-1], target[::-1]):
        if a not in (1, b):
            return None
    return target


__all__ = []


#: xpgrad.inplace once imported (it imports the ops, this module among them); its ``_value`` warns
#: with a stacklevel, so it is called directly, and an import statement per call cost a microsecond
_inplace = None


def _import_inplace():
    global _inplace
    from .. import inplace

    _inplace = inplace
    return inplace
