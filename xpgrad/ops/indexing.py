"""Indexing: ``x[key]`` (slices, ellipsis, None, integer arrays, masks) and ``x[key] = value``;
``take``, ``take_along_axis`` and ``one_hot`` are ``gathering.py``'s (re-exported here).

The gradient of indexing scatters and adds, so repeated indices accumulate; on a first-order
pass it is a ``Scatter`` that the tape adds into one buffer (``xpgrad/accumulate.py``).
``x[key] = value`` is a functional update (``xpgrad/inplace.py``): the primitive ``setitem``
makes the new value, the old value's gradient is ``g`` with the written region zeroed and
``value``'s is ``g[key]``.

>>> import xpgrad as xg
>>> x = xg.arange(6.0).reshape((2, 3))
>>> x[:, ::2].tolist(), xg.take(x, xg.asarray([2, 0]), axis=1).tolist()
([[0.0, 2.0], [3.0, 5.0]], [[2.0, 0.0], [5.0, 3.0]])
"""
from __future__ import annotations

import operator

from ..accumulate import Scatter
from ..backend import MixedBackendError
from ..jit.traced import index
from ..primitive import Primitive, apply, tape_state
from ..tensor import Tensor
from ..views import View, index_key, is_basic, new_view, remember_view, view_of
from ._define import as_tensor
from .linalg_helpers import readable
from .gathering import one_hot, take, take_along_axis
from .shape import reshape


# -- getitem --------------------------------------------------------------------------------------

def _scatter_forward(xp, g, shape, key, backend):
    return Scatter(shape, key, g, backend).dense(xp)


_scatter = Primitive("index_scatter", _scatter_forward,
                     lambda xp, g, ans, v, shape, key, backend: g[key])


def _getitem_vjp(xp, g, ans, x, key, backend):
    if isinstance(g, Tensor):
        return apply(_scatter, g, shape=x.shape, key=key, backend=backend)
    return Scatter(x.shape, key, g, backend)     # the tape adds it into one buffer


def _read(xp, x, key, backend):
    """``x[key]``. A key that is one mask over ``x``'s leading axes is read through the mask's
    flat positions where ``x`` and the mask are the backend's own arrays (not traced, not
    batched): NumPy's boolean index of a random (256, 256) mask takes 210 us, branching on
    each element; its raveled nonzero 24 us and the take 10."""
    mask = key[0] if len(key) == 1 or (len(key) == 2 and key[1] is Ellipsis) else None
    # (the backend's own arrays have NumPy's dtypes: a kind)
    if type(x) is not backend.array_class or type(mask) is not type(x) \
            or mask.dtype.kind != "b" or mask.ndim == 0 or mask.shape != x.shape[:mask.ndim]:
        return index(x, key)
    places = xp.nonzero(xp.reshape(mask, (-1,)))[0]
    return xp.take(xp.reshape(x, (-1,) + tuple(x.shape[mask.ndim:])), places, axis=0)


_getitem = Primitive("getitem", _read, _getitem_vjp, saves=())


_ELLIPSIS = (Ellipsis,)


def _basic_key(key, ndim: int):
    """``_raw_key``'s tuple for a key of Python ints, slices, None and Ellipsis (``x[a:b]``,
    ``x[i, :]``: the common key, read without a conversion per entry), else None."""
    cls = key.__class__
    if cls is slice or cls is int:
        return (key,) if ndim <= 1 else (key, Ellipsis)
    if key is Ellipsis:
        return _ELLIPSIS
    if cls is not tuple:
        return None
    used = 0
    for k in key:
        cls = k.__class__
        if cls is int or cls is slice:
            used += 1
        elif k is Ellipsis:
            used = ndim
        elif k is not None:
            return None
    return key if used >= ndim else key + (Ellipsis,)


def _raw_key(x: Tensor, key):
    basic = _basic_key(key, x.ndim)
    if basic is not None:
        return basic
    items = key if isinstance(key, tuple) else (key,)
    out = []
    for k in items:
        if isinstance(k, Tensor):
            if k._backend is not x._backend:
                raise MixedBackendError(
                    f"index on backend {k._backend.name!r} used on a tensor on "
                    f"{x._backend.name!r}; move one explicitly with .to({x._backend.name!r})")
            if k.dtype.kind not in "iub":
                raise IndexError(f"tensors used as indices must be integer or boolean, got "
                                 f"{k.dtype}")
            k = k._data
        elif isinstance(k, (list, tuple)):
            k = x._backend.asarray(k)
        elif isinstance(k, range):          # x[range(n), labels], as NumPy and PyTorch take it
            k = x._backend.xp.arange(k.start, k.stop, k.step)
        elif hasattr(k, "shape"):
            if not hasattr(k, "dtype"):
                raise IndexError(f"invalid index {k!r}")
            pass  # a raw backend array (from a vjp rule, or a NumPy array)
        elif not (k is None or k is Ellipsis or isinstance(k, (slice, bool))):
            try:
                k = operator.index(k)
            except TypeError:
                raise IndexError(f"only integers, slices, ellipsis, None, and integer or "
                                 f"boolean tensors are valid indices, got {k!r}") from None
        out.append(k)
    return _complete(out, x.ndim)


def _complete(key: list, ndim: int) -> tuple:
    """``key`` with a trailing Ellipsis when it indexes fewer axes than ``ndim`` and has none:
    NumPy's reading, which strict array-API backends want spelled out."""
    used = 0
    for k in key:
        if k is Ellipsis or (hasattr(k, "shape") and _is_bool(k)):
            return tuple(key)      # a mask stands alone on strict backends
        if not (k is None or isinstance(k, bool)):
            used += 1
    if used < ndim:
        key.append(Ellipsis)
    return tuple(key)


def getitem(x, key):
    """``x[key]`` with NumPy semantics for slices, ellipsis, None, integer arrays and masks.

    >>> import xpgrad as xg
    >>> x = xg.asarray([1.0, 2.0, 3.0])
    >>> x[xg.asarray([0, 0, 2])].tolist(), x[x > 1.5].tolist()
    ([1.0, 1.0, 3.0], [2.0, 3.0])
    """
    if not tape_state.recording and (x.__class__ is Tensor or x.__class__ is View):
        view = _untaped_view(x, key)
        if view is not None:
            return view
    x = as_tensor(x, "getitem")
    raw = _raw_key(x, key)
    try:
        if is_basic(raw) and not _one_element(raw, x.ndim):   # a view, as NumPy's (views.py)
            raw = index_key(raw)
            out = apply(_getitem, x, key=raw, backend=x._backend)
            return view_of(x, out, _getitem, {"key": raw, "backend": x._backend})
        return apply(_getitem, x, key=raw, backend=x._backend)
    except IndexError as e:
        axis = _one_array_axis(raw, x.ndim)
        if axis is not None:       # a strict backend: x[:, idx] is take(x, idx, axis=1)
            idx = _wrap(raw[axis], x._backend)
            flat = take(x, reshape(idx, (-1,)), axis=axis)
            return reshape(flat, x.shape[:axis] + idx.shape + x.shape[axis + 1:])
        raise IndexError(f"index {key!r} is invalid for a tensor of shape {x.shape}: {e}") \
            from None


_new = object.__new__


def _untaped_view(x, key):
    """``x[key]`` for a basic key where no tape records and ``x`` holds its backend's own
    array: the view, made without a trip through ``apply`` (what it would make); None for any
    other key, a one-element key (a copy) or a key NumPy refuses (``getitem`` says why)."""
    raw = x._data
    be = x._backend
    if raw.__class__ is not be.array_class or (be.kernels and "getitem" in be.kernels):
        return None
    k = (key, Ellipsis) if key.__class__ is slice else _view_key(key, raw.ndim)
    if k is None:
        return None
    try:
        out = raw[k]
    except IndexError:
        return None
    if x.__class__ is not Tensor:
        return new_view(x, out, 0, be, None, key)     # (its _how, getitem at k, made if asked)
    # new_view(x, out, 0, be, None, key) for a root, inline: the first half of x[a:b] += v
    v = _new(View)
    v._raw = out
    v._vkey = 0
    v._backend = be
    v._base = x
    v._read = None
    v._synced = raw
    v._index = key
    remember_view(x, v)
    return v


def _view_key(key, ndim: int):
    """The key a view of a basic key keeps (``index_key(_raw_key(...))``, in one pass), or
    None where ``key`` is not basic or is an int per axis (NumPy's scalar, a copy)."""
    cls = key.__class__
    if cls is slice:
        return (key, Ellipsis)
    if cls is int:
        return None if ndim <= 1 else (key, Ellipsis)
    if cls is not tuple:
        return None
    ints = 0
    ellipsis = False
    for k in key:
        cls = k.__class__
        if cls is int:
            ints += 1
        elif k is Ellipsis:
            ellipsis = True
        elif not (cls is slice or k is None):
            return None
    if ellipsis:
        return key
    if ints == len(key) == ndim:
        return None
    return key + (Ellipsis,)


def _one_element(key, ndim) -> bool:
    """Whether ``key`` is an int per axis: NumPy answers with a scalar, a copy (``x[1, 2,
    ...]`` is the 0-d view)."""
    if len(key) != ndim:
        return False
    for k in key:
        if k.__class__ is not int:
            return False
    return True


def _one_array_axis(key, ndim):
    """The axis of ``key``'s one integer array when every other entry is a full slice (or a
    trailing Ellipsis), else None."""
    if key and key[-1] is Ellipsis:
        key = key[:-1]
    arrays = [i for i, k in enumerate(key) if hasattr(k, "shape") and not _is_bool(k)]
    if len(arrays) != 1 or len(key) > ndim:
        return None
    if all(i in arrays or (isinstance(k, slice) and k == slice(None))
           for i, k in enumerate(key)):
        return arrays[0]
    return None


def _wrap(raw, backend):
    from ..tensor import _wrap as wrap

    return wrap(raw, backend)


# -- setitem: the functional update behind x[key] = value -----------------------------------------

def _setitem_forward(xp, x, value, key):
    out = xp.asarray(x, copy=True)
    out[key] = value
    return out


def _setitem_vjp_old(xp, g, ans, x, value, key):
    if isinstance(g, Tensor):
        return apply(_setitem, g, 0, key=key)
    out = xp.asarray(g, copy=True)
    out[key] = 0
    return out


def _has_int_array(key) -> bool:
    return any(hasattr(k, "dtype") and not _is_bool(k) for k in key)


def _is_bool(k) -> bool:
    """Whether ``k`` (a Tensor, a NumPy or CuPy array) holds booleans: its dtype's kind where
    it has one (``str`` of a NumPy dtype takes 2.6 us, five times per ``x.at[mask].add``)."""
    kind = getattr(k.dtype, "kind", None)
    return kind == "b" if isinstance(kind, str) else "bool" in str(k.dtype)


def _landed(rxp, shape, key, region):
    """For a key with integer arrays: which entries of ``x[key]`` (of shape ``region``)
    landed (the last write of each repeated index wins, as in the forward), shaped to
    broadcast against ``region``. A key of one integer array along an axis, whole axes
    around it, marks the indices that landed (their count, not the region's)."""
    axis = _lone_array_axis(key)
    if axis is not None:
        ids = key[axis]
        n = shape[axis]
        flat = rxp.reshape(ids, (-1,))
        flat = rxp.where(flat < 0, flat + n, flat)
        order = rxp.arange(flat.shape[0], dtype=rxp.int64)
        written = rxp.full((n,), -1, dtype=rxp.int64)
        written[flat] = order
        hit = written[flat] == order
        return rxp.reshape(hit, (1,) * axis + tuple(ids.shape) + (1,) * (len(shape) - axis - 1))
    n = 1
    for s in region:
        n *= s
    ids = rxp.reshape(rxp.arange(n, dtype=rxp.int64), region)
    written = rxp.full(shape, -1, dtype=rxp.int64)
    written[key] = ids
    return written[key] == ids


def _lone_array_axis(key):
    """The position of the one integer array in ``key`` when all else is whole axes
    (``slice(None)`` before it; ``slice(None)`` or Ellipsis after), else None."""
    found = None
    for i, k in enumerate(key):
        if hasattr(k, "shape"):
            if found is not None or _is_bool(k) or k.ndim == 0:
                return None
            found = i
        elif not (isinstance(k, slice) and k == slice(None)) and \
                not (k is Ellipsis and found is not None):
            return None
    return found


def _setitem_vjp_value(xp, g, ans, x, value, key):
    if not hasattr(value, "shape"):
        return None
    gv = g[key]
    if _has_int_array(key):
        raw_xp = g._backend.xp if isinstance(g, Tensor) else xp
        landed = _landed(raw_xp, tuple(x.shape), key, tuple(gv.shape))
        if isinstance(g, Tensor):
            gv = xp.where(_wrap(landed, g._backend), gv, xp.zeros_like(gv))
        elif not (readable(landed) and bool(xp.all(landed))):   # distinct indices: all did
            gv = xp.where(landed, gv, xp.zeros_like(gv))
    extra = len(value.shape) - len(gv.shape)
    if extra > 0:                  # value has leading 1-sized axes beyond the region's
        gv = xp.reshape(gv, (1,) * extra + tuple(gv.shape))
    return gv


_setitem = Primitive("setitem", _setitem_forward, _setitem_vjp_old, _setitem_vjp_value,
                     saves=())


def _setitem_error(x, key, value, err):
    what = f"{type(value).__name__}" if not hasattr(value, "shape") \
        else f"value of shape {tuple(value.shape)}"
    return type(err)(f"x[{key!r}] = {what} is invalid for a tensor of shape {x.shape}: {err}")


from .. import tensor_methods as _tensor_methods, views as _views  # noqa: E402

_tensor_methods._Tensor, _tensor_methods._View, _tensor_methods._tape_state, \
    _tensor_methods._untaped_view = Tensor, View, tape_state, _untaped_view
_views._GETITEM, _views._VIEW_KEY = _getitem, _view_key

__all__ = ["getitem", "take", "take_along_axis", "one_hot"]
