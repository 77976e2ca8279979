"""NumPy's joining and shaping functions on Tensors: ``np.concatenate``, ``np.stack``,
``np.hstack``, ``np.vstack``, ``np.column_stack``, ``np.dstack``, ``np.atleast_2d``,
``np.transpose``, ``np.reshape``, ``np.squeeze``, ``np.split``, ``np.tile``,
``np.apply_along_axis``, ``np.copy``, ``np.copyto`` and more.

>>> import numpy as np, xpgrad as xg
>>> np.hstack([xg.ones(2), xg.zeros(1)]).tolist()
[1.0, 1.0, 0.0]
"""
from __future__ import annotations

import numbers
import operator

from numpy.exceptions import AxisError

from ..tensor import Tensor
from .arguments import (_Unsupported, _axis_and_input, _cast, _dtype, _flat, _fn, _norm_axes,
                        _refuse, _tensor)
from .functions import numpy_function


# -- joining, shaping -----------------------------------------------------------------------------

@numpy_function("concatenate", "concat")
def _concatenate(arrays, axis=0, dtype=None, casting="same_kind"):
    _refuse({"casting": casting}, "np.concatenate", casting="same_kind")
    arrays = [_tensor(a) for a in arrays]
    if axis is None:
        arrays, axis = [_flat(a) for a in arrays], 0
    if dtype is not None:
        arrays = [_cast(a, dtype) for a in arrays]
    return _fn("concat")(arrays, axis=axis)


@numpy_function("stack")
def _stack(arrays, axis=0, dtype=None, casting="same_kind"):
    _refuse({"casting": casting}, "np.stack", casting="same_kind")
    arrays = [_tensor(a) for a in arrays]
    if dtype is not None:
        arrays = [_cast(a, dtype) for a in arrays]
    return _fn("stack")(arrays, axis=axis)


def _at_least(a, n):
    a = _tensor(a)
    if a.ndim >= n:
        return a
    if n == 3 and a.ndim == 2:
        return _fn("reshape")(a, tuple(a.shape) + (1,))
    if n == 3 and a.ndim == 1:
        return _fn("reshape")(a, (1,) + tuple(a.shape) + (1,))
    return _fn("reshape")(a, (1,) * (n - a.ndim) + tuple(a.shape))


def _at_least_n(n):
    def adapter(*arys):
        out = [_at_least(a, n) for a in arys]
        return out[0] if len(out) == 1 else tuple(out)
    return adapter


numpy_function("atleast_1d")(_at_least_n(1))
numpy_function("atleast_2d")(_at_least_n(2))
numpy_function("atleast_3d")(_at_least_n(3))


@numpy_function("hstack")
def _hstack(tup, *, dtype=None, casting="same_kind"):
    arrays = [_at_least(a, 1) for a in tup]
    return _concatenate(arrays, axis=0 if arrays[0].ndim == 1 else 1, dtype=dtype,
                        casting=casting)


@numpy_function("vstack", "row_stack")
def _vstack(tup, *, dtype=None, casting="same_kind"):
    return _concatenate([_at_least(a, 2) for a in tup], axis=0, dtype=dtype, casting=casting)


@numpy_function("column_stack")
def _column_stack(tup):
    """1-D arrays as columns (a 0-d one as a 1x1 block), 2-D and higher as they are, joined
    along axis 1 (``scipy.stats.spearmanr`` stacks its two samples so)."""
    def column(a):
        a = _tensor(a)
        return _fn("reshape")(a, (-1, 1) if a.ndim == 1 else (1, 1)) if a.ndim < 2 else a
    return _concatenate([column(a) for a in tup], axis=1)


@numpy_function("dstack")
def _dstack(tup):
    return _concatenate([_at_least(a, 3) for a in tup], axis=2)


@numpy_function("apply_along_axis")
def _apply_along_axis(func1d, axis, arr, *args, **kwargs):
    """``func1d`` on each 1-D slice of ``arr`` along ``axis``, called with Tensors (so a tape
    sees what it does), its results stacked where that axis was, as NumPy's."""
    arr = _tensor(arr)
    axis = operator.index(axis)
    if not -arr.ndim <= axis < arr.ndim:
        raise AxisError(axis, arr.ndim)
    axis %= arr.ndim
    outer = tuple(arr.shape[:axis]) + tuple(arr.shape[axis + 1:])
    if 0 in outer:
        raise ValueError("Cannot apply_along_axis when any iteration dimensions are 0")
    rows = _fn("reshape")(_fn("moveaxis")(arr, axis, -1), (-1, arr.shape[axis]))
    results = _fn("stack")([_tensor(func1d(rows[i], *args, **kwargs))
                            for i in range(rows.shape[0])])
    inner = tuple(results.shape[1:])
    out = _fn("reshape")(results, outer + inner)
    moved = list(range(len(outer), len(outer) + len(inner)))
    return _fn("moveaxis")(out, moved, [axis + k for k in range(len(inner))])


@numpy_function("transpose", "permute_dims")
def _transpose(a, axes=None):
    a = _tensor(a)
    axes = tuple(range(a.ndim))[::-1] if axes is None else tuple(axes)
    return _fn("permute_dims")(a, axes)


@numpy_function("matrix_transpose")
def _matrix_transpose(x):
    return _fn("matrix_transpose")(_tensor(x))


@numpy_function("swapaxes")
def _swapaxes(a, axis1, axis2):
    a = _tensor(a)
    perm = list(range(a.ndim))
    i, j = axis1 % a.ndim, axis2 % a.ndim
    perm[i], perm[j] = perm[j], perm[i]
    return _fn("permute_dims")(a, tuple(perm))


@numpy_function("moveaxis")
def _moveaxis(a, source, destination):
    return _fn("moveaxis")(_tensor(a), source, destination)


@numpy_function("reshape")
def _reshape(a, shape=None, order="C", *, newshape=None, copy=None):
    _refuse({"order": order}, "np.reshape", order="C")
    shape = newshape if shape is None else shape
    out = _fn("reshape")(_tensor(a), shape)
    return _fn("asarray")(out, copy=True) if copy else out


@numpy_function("ravel")
def _ravel(a, order="C"):
    _refuse({"order": order}, "np.ravel", order="C")
    return _flat(a)


@numpy_function("squeeze")
def _squeeze(a, axis=None):
    a = _tensor(a)
    if axis is None:
        axis = tuple(i for i, s in enumerate(a.shape) if s == 1)
    return _fn("squeeze")(a, axis)


@numpy_function("expand_dims")
def _expand_dims(a, axis):
    a = _tensor(a)
    axes = (axis,) if isinstance(axis, numbers.Integral) else tuple(axis)
    nd = a.ndim + len(axes)
    for ax in sorted(ax % nd for ax in axes):
        a = _fn("expand_dims")(a, axis=ax)
    return a


@numpy_function("broadcast_to")
def _broadcast_to(array, shape, subok=False):
    shape = (shape,) if isinstance(shape, numbers.Integral) else tuple(shape)
    return _fn("broadcast_to")(_tensor(array), shape)


@numpy_function("broadcast_arrays")
def _broadcast_arrays(*args, subok=False):
    return tuple(_fn("broadcast_arrays")(*[_tensor(a) for a in args]))


@numpy_function("flip")
def _flip(m, axis=None):
    return _fn("flip")(_tensor(m), axis=_norm_axes(axis))


@numpy_function("fliplr")
def _fliplr(m):
    return _fn("flip")(_tensor(m), axis=1)


@numpy_function("flipud")
def _flipud(m):
    return _fn("flip")(_tensor(m), axis=0)


@numpy_function("roll")
def _roll(a, shift, axis=None):
    return _fn("roll")(_tensor(a), shift, axis=_norm_axes(axis))


@numpy_function("tile")
def _tile(A, reps):
    reps = (reps,) if isinstance(reps, numbers.Integral) else tuple(reps)
    return _fn("tile")(_tensor(A), reps)


@numpy_function("repeat")
def _repeat(a, repeats, axis=None):
    a, axis = _axis_and_input(a, axis)
    return _fn("repeat")(a, repeats, axis=axis)


@numpy_function("unstack")
def _unstack(x, *, axis=0):
    return _fn("unstack")(_tensor(x), axis=axis)


@numpy_function("array_split")
def _array_split(ary, indices_or_sections, axis=0):
    return _pieces(ary, indices_or_sections, axis, equal=False)


@numpy_function("split")
def _split(ary, indices_or_sections, axis=0):
    return _pieces(ary, indices_or_sections, axis, equal=True)


def _pieces(ary, indices_or_sections, axis, equal):
    """NumPy's split: ``k`` sections (of equal size with ``equal``, as ``np.split`` demands),
    or the pieces between split points, each a Python slice (negative points count from the
    end; a point before the previous one gives an empty piece)."""
    a = _tensor(ary)
    n = a.shape[axis]
    if isinstance(indices_or_sections, numbers.Integral):
        k = int(indices_or_sections)
        if k <= 0:
            raise ValueError("number sections must be larger than 0.")
        if equal and n % k:
            raise ValueError("array split does not result in an equal division")
        base, extra = divmod(n, k)
        cuts = [0]
        for i in range(k):
            cuts.append(cuts[-1] + base + (i < extra))
    else:
        cuts = [0] + [int(i) for i in indices_or_sections] + [n]
    lead = (slice(None),) * (axis % a.ndim)
    return [a[lead + (slice(lo, hi),)] for lo, hi in zip(cuts[:-1], cuts[1:])]


@numpy_function("copy")
def _copy(a, order="K", subok=False):
    return _fn("asarray")(_tensor(a), copy=True)


@numpy_function("astype")
def _astype(x, dtype, /, *, copy=True, device=None):
    x = _tensor(x)
    out = _fn("astype")(x, _dtype(dtype))
    return _fn("asarray")(out, copy=True) if copy and out is x else out


@numpy_function("copyto")
def _copyto(dst, src, casting="same_kind", where=True):
    if not isinstance(dst, Tensor):
        raise _Unsupported("np.copyto into a NumPy array")
    _refuse({"where": where}, "np.copyto", where=True)
    dst[...] = src


# -- NumPy's in-place writers ------------------------------------------------------------------
def _writes_in_place(name):
    """An adapter refusing ``np.<name>`` into a Tensor with advice (NumPy's own "read-only"
    error said nothing of what to do); into a NumPy array it is NumPy's."""
    def refuse(target, *args, **kwargs):
        if not isinstance(target, Tensor):
            raise _Unsupported(f"np.{name} into a NumPy array")
        raise TypeError(f"np.{name} writes into its first argument's memory, which a Tensor "
                        f"does not lend to NumPy; write x[idx] = v (or x = xg.where(mask, v, "
                        f"x)) instead")
    return refuse


for _name in ("put", "put_along_axis", "fill_diagonal", "place", "putmask"):   # copyto: mapped
    numpy_function(_name)(_writes_in_place(_name))
