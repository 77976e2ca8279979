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

The primitives and their gradients are in ``indexed_update_rules.py``.
"""
from __future__ import annotations

from .._args import listed_names, pointer
from ..creation import asarray
from ..primitive import apply
from ..tensor import Tensor
from .indexed_update_rules import _at_add, _at_maximum, _at_minimum, _at_multiply
from .indexing import _is_bool, _raw_key, _setitem, getitem
from .masked_updates import masked_update, picking_mask
from .update_keys import _is_lone_mask, _mask_raveled, _masks_as_positions

#: the hints JAX's ``at[...]`` methods take; they change nothing here
_HINTS = ("indices_are_sorted", "unique_indices", "wrap_negative_indices")




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

    #: JAX's methods xpgrad spells with ``set`` (where no index repeats: JAX's apply each
    #: repeat in turn)
    power = pointer("power", "x.at[key].set(x[key] ** y) where no index repeats (JAX's power "
                             "raises a repeated place to y once per repeat)")
    apply = pointer("apply", "x.at[key].set(f(x[key])) where no index repeats (JAX's apply "
                             "applies f once per repeat)")

    def __dir__(self):
        return listed_names(self)

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
