"""Sorting: sort (its gradient goes back through the permutation) and argsort (no gradient).

``sort``'s vjp puts each output gradient back where its entry came from: a gather with the
inverse of the sorting permutation, which the rule recomputes from ``x`` with a stable sort, so
tied entries take the gradients of the positions the stable order gave them. The gather is
itself a primitive whose vjp is the gather with the forward permutation, so every order works.

>>> import xpgrad as xg
>>> x = xg.asarray([3.0, 1.0, 2.0], dtype=xg.float64)
>>> with xg.GradientTape() as tape:
...     tape.watch(x)
...     y = xg.sort(x) * xg.asarray([1.0, 10.0, 100.0], dtype=xg.float64)
>>> tape.gradient(y, x).tolist()
[100.0, 1.0, 10.0]
"""
from __future__ import annotations

import numbers

from .. import dtypes as _dt
from .._args import flag, refuse_extra_positional, refuse_keywords
from ..primitive import Primitive, apply
from ..tensor import Tensor, _wrap
from ._define import as_tensor, norm_axis
from .indexing import take_along_axis


def _raw(a):
    return a._data if isinstance(a, Tensor) else a


# ``permute_along``: ``take_along_axis(x, perm)`` for a permutation ``perm`` along ``axis``;
# its transpose is the gather with the inverse permutation ``inv``.
def _gather(xp, x, perm, axis):
    return xp.take_along_axis(x, perm, axis=axis)


_permute_along = Primitive(
    "permute_along", lambda xp, x, perm, inv, axis: _gather(xp, x, perm, axis),
    lambda xp, g, ans, x, perm, inv, axis: _permuted(xp, g, inv, perm, axis))


def _permuted(xp, g, perm, inv, axis):
    """``take_along_axis(g, perm)`` for raw permutation indices (``inv`` their inverse): on a
    raw array directly, on a Tensor (a higher-order pass) through the recorded primitive."""
    if isinstance(g, Tensor):
        return apply(_permute_along, g, perm=perm, inv=inv, axis=axis)
    return _gather(xp, g, perm, axis)


def _sort_vjp(xp, g, ans, x, axis, descending):
    raw_xp = x._backend.xp if isinstance(x, Tensor) else xp
    perm = raw_xp.argsort(_raw(x), axis=axis, descending=descending, stable=True)
    inv = raw_xp.argsort(perm, axis=axis, stable=True)
    return _permuted(xp, g, inv, perm, axis)


def _sort(xp, x, axis, descending):
    if descending:      # tied entries in their order, as the gradient's stable argsort takes
        return xp.flip(xp.sort(xp.flip(x, axis=axis), axis=axis, stable=True), axis=axis)
    return xp.sort(x, axis=axis, stable=True)


_sort_prim = Primitive("sort", _sort, _sort_vjp)
_argsort_prim = Primitive(
    "argsort", lambda xp, x, axis, descending, stable:
        xp.argsort(x, axis=axis, descending=descending, stable=stable))


def _checked(x, axis, what):
    x = as_tensor(x, what)
    if x.ndim == 0:
        raise ValueError(f"{what} needs a tensor with at least one dimension")
    return x, norm_axis(axis, x.ndim, f"{what}: axis")


def sort(x, /, axis=-1, *extra, descending=False, stable=True, **unexpected):
    """A sorted copy of ``x`` along ``axis`` (NaNs last when ascending; complex numbers, where
    the backend allows, lexicographically). Always stable; the gradient goes back through the
    permutation. ``axis`` by keyword or positionally, as ``np.sort(x, 0)``; ``descending`` and
    ``stable`` by keyword only (NumPy's third positional argument is ``kind``).

    >>> import xpgrad as xg
    >>> xg.sort(xg.asarray([[3.0, 1.0, 2.0]]), descending=True).tolist()
    [[3.0, 2.0, 1.0]]
    """
    if unexpected:
        refuse_keywords("sort", unexpected)
    if extra:
        refuse_extra_positional("sort", ("x", "axis"), extra, ("descending", "stable"))
    x, axis = _checked(x, axis, "sort")
    flag(stable, "stable", "sort")            # every sort here is stable
    return apply(_sort_prim, x, axis=axis, descending=flag(descending, "descending", "sort"))


def argsort(x, /, axis=-1, *extra, descending=False, stable=True, **unexpected):
    """Indices (int64) that sort ``x`` along ``axis``; no gradient. ``axis`` by keyword or
    positionally, the rest by keyword only (as ``sort``).

    >>> import xpgrad as xg
    >>> xg.argsort(xg.asarray([3.0, 1.0, 2.0])).tolist()
    [1, 2, 0]
    """
    if unexpected:
        refuse_keywords("argsort", unexpected)
    if extra:
        refuse_extra_positional("argsort", ("x", "axis"), extra, ("descending", "stable"))
    x, axis = _checked(x, axis, "argsort")
    out = apply(_argsort_prim, x, axis=axis, descending=flag(descending, "descending", "argsort"),
                stable=flag(stable, "stable", "argsort"))
    if out.dtype != _dt.int64:
        be = out._backend
        out = _wrap(be.xp.astype(out._data, be.native_dtype(_dt.int64)), be)
    return out


def topk(x, k, /, axis=-1, *extra, largest=True, sorted=True, **unexpected):
    """``(values, indices)``: the ``k`` largest entries of ``x`` along ``axis`` (smallest with
    ``largest=False``), as ``torch.topk``: largest first, NaN above everything, and which of
    several equal entries are taken unspecified, as PyTorch's; the values are differentiable
    (their gradient goes back to the entries they came from), the indices are int64.
    ``sorted`` is accepted for PyTorch's signature: the result is always sorted. A partial
    sort (``argpartition``), not a full one. ``axis`` by keyword or positionally (PyTorch's
    ``dim``); ``largest`` and ``sorted`` by keyword only.

    >>> import xpgrad as xg
    >>> values, indices = xg.topk(xg.asarray([[1.0, 5.0, 3.0, 4.0]]), 2)
    >>> values.tolist(), indices.tolist()
    ([[5.0, 4.0]], [[1, 3]])
    """
    if unexpected:
        refuse_keywords("topk", unexpected)
    if extra:
        refuse_extra_positional("topk", ("x", "k", "axis"), extra, ("largest", "sorted"))
    x, axis = _checked(x, axis, "topk")
    largest, _ = flag(largest, "largest", "topk"), flag(sorted, "sorted", "topk")
    n = x.shape[axis]
    if not isinstance(k, bool) and isinstance(k, numbers.Integral):
        k = int(k)                      # a NumPy integer too
    if isinstance(k, bool) or not isinstance(k, int) or not 0 <= k <= n:
        raise ValueError(f"topk: k must be an integer in [0, {n}] (the size of axis {axis}), "
                         f"got {k!r}")
    be = x._backend
    raw = x._data
    xp = be.xp
    partition = getattr(xp, "argpartition", None)
    partial = partition is not None and 0 < k < n
    if partial:
        # the k candidates (NaN sorts last: above everything), then in index order
        picked = partition(raw, n - k if largest else k - 1, axis=axis)
        keep = (slice(None),) * axis + (slice(n - k, n) if largest else slice(0, k),)
        candidates = xp.sort(picked[keep], axis=axis)
    else:
        candidates = xp.broadcast_to(
            xp.reshape(xp.arange(n), tuple(n if d == axis else 1 for d in range(raw.ndim))),
            raw.shape)
    values = xp.take_along_axis(raw, candidates, axis=axis)
    order = xp.argsort(values, axis=axis, descending=largest, stable=True)
    if not partial:
        order = order[(slice(None),) * axis + (slice(0, k), ...)]
    indices = xp.take_along_axis(candidates, order, axis=axis)
    indices = _wrap(xp.astype(indices, be.native_dtype(_dt.int64)), be)
    return take_along_axis(x, indices, axis=axis), indices


__all__ = ["sort", "argsort", "topk"]
