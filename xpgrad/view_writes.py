"""Writing through a view (``views.py``): ``view[key] = value`` and ``view op= value`` land in
the view's base, and in the base's base, up to the root.

Where no tape knows the views, the root or the value, the root's array is written in place when
nothing but the root and its views see it (``views.exclusive``), else a copy of it once
(however deep the view); ``view += y`` (``-=``, ``*=``) is computed into the buffer there, as
NumPy's is (``update_in_place``). Otherwise the writes are functional updates that tapes
record: the view's value updated (``setitem``), then written back into its base (``_unread``:
the block itself at the view's key, or transposed back), and so on up to the root.

>>> import xpgrad as xg
>>> c = xg.zeros((2, 3))
>>> c.T[1:, 0] = xg.asarray([1.0, 2.0])
>>> c.tolist()
[[0.0, 1.0, 2.0], [0.0, 0.0, 0.0]]
"""
from __future__ import annotations

from sys import getrefcount

import numpy as _np

from .inplace import (_SOLE, _SOLE_BASE, _counts, _exclusive, _value, _writable,
                      check_made_in_trace, known_to_tapes, on_tape, rewrites_itself, write)
from .jit.trace_state import THREAD as _traces
from .ops.indexing import _raw_key, _setitem_error
from .ops.shape import _inverse
from .appliers import _plain_for_tape
from .primitive import apply, tape_state
from .tensor import Tensor, Variable
from . import inplace_operators as _inplace_operators
from . import views as _views_module
from .views import _SOLE_RAW, DETACHED, View, _raw_refs, exclusive, root_of
from .fast_updates import _DIVIDES, _NUMBERS, UFUNCS, operand, update_sole_buffer  # (it imports inplace's names)


def write_through(view: View, key, value, stacklevel=4) -> None:
    """``view[key] = value``: the base gets the written block at the view's place. Where no tape
    knows the view, its bases or the value, the root's array is written in place when nothing
    else sees it (``exclusive``), else a copy of it once; otherwise the writes are functional
    updates that tapes record: the view's value updated, then written into the base, and so on
    up to the root. A ``t.data`` view is ``t`` itself to a write: ``t[key] = value``, so the
    entries it leaves keep their gradient."""
    if view._how[0] is DETACHED:
        write(view._base, key, value)
        return
    raw_key = _raw_key(view, key)
    if value.__class__ is View and rewrites_itself(view, raw_key, value):
        return
    if _traces.tracer is not None:
        check_made_in_trace(root_of(view))
    value = _value(view, value, stacklevel=stacklevel + 1)
    chain = _untaped_chain(view, value)
    if chain is not None:
        try:
            if _in_place(view, chain, raw_key, value) or \
                    _into_copy_of_root(chain, raw_key, value):
                return
        except (IndexError, ValueError) as e:
            raise _setitem_error(view, key, value, e) from None
    block = _taped_value(view)         # the view's value, as the tapes know it
    write(block, key, value)           # the block updated (a copy: the view holds its array)
    where, written = _unread(view._how, block)
    write(view._base, where, written)  # (which refuses a base it may not write)


def _taped_value(view) -> Tensor:
    """``view``'s value as the tapes know it; below a ``t.data`` view, read again from ``t``
    (recorded), so that the entries a write through ``t.data[i]`` leaves keep their gradient."""
    chain = []
    t = view
    while t.__class__ is View and t._how[0] is not DETACHED:
        chain.append(t)
        t = t._base
    if t.__class__ is not View:
        return _plain_for_tape(view)      # a small view's elements: the tape keeps no base
    value = t._base
    for v in reversed(chain):
        prim, params = v._how
        value = apply(prim, value, **params)
    return value


def _untaped_chain(view, value):
    """The views from ``view`` to its root, then the root, where no tape knows any of them or
    ``value`` (reading a view again where its base changed first); else None. A key no live
    tape knows (the tape gave its gradients) is dropped: that view or root is only its
    value."""
    recording = tape_state.recording
    if recording and isinstance(value, Tensor) and on_tape(value):
        return None
    chain = []
    t = view
    while t.__class__ is View:
        if t._key:
            if recording or known_to_tapes(t._vkey):
                return None
            t._vkey = 0
        chain.append(t)
        t = t._base
    if t._key:
        if recording:
            return None
        if not isinstance(t, Variable):     # (a Variable keeps its key: tapes watch it by it)
            if known_to_tapes(t._key):
                return None
            t._key = 0
    elif recording and on_tape(t):
        return None
    chain.append(t)
    return chain


def _in_place(view, chain, raw_key, value) -> bool:
    """Write ``view``'s array in place where only the chain sees its root's buffer
    (``_only_the_views_see``)."""
    if not _only_the_views_see(view, chain):
        return False
    view._raw[raw_key] = value._data if isinstance(value, Tensor) else value
    return True


def _only_the_views_see(view, chain) -> bool:
    """Whether ``view``'s array is a view of its root's buffer, which nothing but the root and
    its views sees (``exclusive``: the chain's views alone, the common case, else every view
    registered)."""
    root = chain[-1]
    if not (_writable(view._raw) and _owner(view._raw) is _owner(root._data)
            and _writable(root._data)):
        return False
    # (no local may hold an array here: the counts would see it)
    own, base = _counts(root)
    return exclusive(chain[:-1], id(root._data), id(getattr(root._data, "base", None)),
                     own - _SOLE, None if base is None else base - _SOLE_BASE) \
        or _exclusive(root)


def _the_one_view(view, chain) -> bool:
    """``_only_the_views_see``'s answer where it is quick to give (``x[a:b] += v`` in a loop):
    ``view`` is a NumPy view of the buffer of its base, a tensor that is no view, and nothing
    else holds the view's array, the base's (but its tensor and the view's ``_synced``) or the
    buffer's owner (but those two arrays' ``base``). False where that does not show (the
    general check may still pass)."""
    if len(chain) != 2:
        return False
    root = chain[1]
    # (no local may hold an array here: the counts would see it)
    if root._data.__class__ is not _np.ndarray or view._synced is not root._data or \
            not (view._raw.flags.writeable and root._data.flags.writeable):
        return False
    own, base = _counts(root)
    if base is None:                # the base's array owns the buffer
        sole = own <= _SOLE + 2 and view._raw.base is root._data
    else:
        sole = own <= _SOLE + 1 and base <= _SOLE_BASE + 1 and \
            view._raw.base is root._data.base
    return sole and _raw_refs(view) <= _SOLE_RAW


def update_in_place(view: View, op: str, other, alpha=1) -> bool:
    """``view op= alpha * other`` computed into the view's buffer, as NumPy's ``view += other``
    is, where the result would be written there anyway: no tape records, ``other`` is a tensor
    of the view's backend and dtype or a Python number beside floats, both NumPy arrays
    (``fast_updates.operand``), and only the root and its views see the buffer. The values are
    those of ``view op other`` written back (the primitive runs the same ufunc); False, having
    written nothing, where any of it does not hold (``operate_in_place`` then computes ``view op
    other`` and writes it). A ``t.data`` view is written so too: no tape records, so none
    keeps a gradient through it."""
    base = view._base
    if view._index is not None:     # an untaped x[key] (so no ``t.data`` view)
        ufunc = UFUNCS.get(op)
        if ufunc is None or tape_state.recording or _traces.tracer is not None:
            return False
        if base.__class__ is not View and not view._vkey and not base._key and \
                view._synced is base._data:
            # ``x[a:b] += v``'s usual case, the general checks in short: a view of a tensor no
            # tape knows, read from its current array (no local may hold an array: counts)
            if other.__class__ is Tensor and alpha.__class__ is int and alpha == 1 and \
                    other._backend is view._backend and other._data.__class__ is _np.ndarray \
                    and other._data.dtype is view._raw.dtype and op in _SAME_KIND and \
                    view._raw.dtype.kind in _NUMBERS:
                value = other._data     # operand's answer, in short
            else:
                value = operand(view._raw.dtype, view._backend, op, other, alpha)
                if value is None:
                    return False
            # _sole_view_of(view, base), inline (each local holding an array counts)
            if base._data.__class__ is not _np.ndarray:
                return _through_chain(view, ufunc, op, other, alpha)
            raw = base._data
            owner = raw.base
            if owner is None:
                alone = getrefcount(raw) <= _SOLE + 2 and view._raw.base is raw
            else:
                alone = getrefcount(raw) <= _SOLE + 1 and \
                    getrefcount(owner) <= _SOLE_BASE + 1 and view._raw.base is owner
            del raw, owner
            if not (alone and getrefcount(view._raw) <= _SOLE_RAW):
                return _through_chain(view, ufunc, op, other, alpha)
            try:                    # (a read-only array raises here too, before any write)
                ufunc(view._raw, value, out=view._raw)
            except ValueError:      # (a shape that does not fit, refused before any write)
                return False
            return True
        return _through_chain(view, ufunc, op, other, alpha)
    if view._how[0] is DETACHED and base.__class__ is not View and view._raw is base._data \
            and view._synced is base._data:
        # ``t.data op= other``: ``t op= other``, with the view's two references to the array
        return update_sole_buffer(base, op, other, alpha, held=2)
    ufunc = UFUNCS.get(op)
    if ufunc is None or tape_state.recording or _traces.tracer is not None:
        return False
    return _through_chain(view, ufunc, op, other, alpha)


#: the updates ``operand`` takes for every number kind (not a division)
_SAME_KIND = frozenset(op for op in UFUNCS if op not in _DIVIDES)


def _through_chain(view, ufunc, op, other, alpha) -> bool:
    """``update_in_place`` past its usual case: any chain of views, keys no live tape knows."""
    if view._data.__class__ is not _np.ndarray:      # (re-read if its base changed)
        return False
    value = operand(view._raw.dtype, view._backend, op, other, alpha)
    if value is None:
        return False
    chain = _untaped_chain(view, other)
    if chain is None or not (_the_one_view(view, chain) or _only_the_views_see(view, chain)):
        return False
    try:
        ufunc(view._raw, value, out=view._raw)
    except ValueError:              # (a shape that does not fit, refused before any write)
        return False
    return True


def _into_copy_of_root(chain, raw_key, value) -> bool:
    """Write into a copy of the root's array, through the chain's windows taken on the copy
    (one copy of the root however deep the view); the root then holds the copy."""
    root = chain[-1]
    if not _writable(root._data):
        return False                   # (an xg.function trace's stand-in, a vmap's batch)
    be = root._backend
    new = be.xp.asarray(root._data, copy=True)
    place = new
    for t in reversed(chain[:-1]):
        prim, params = t._how
        place = prim.forward(be.xp, place, **params)
    if not (_writable(place) and _owner(place) is new):
        return False
    place[raw_key] = value._data if isinstance(value, Tensor) else value
    root._data = new
    return True


def _owner(raw):
    base = getattr(raw, "base", None)
    return raw if base is None else base


# -- how a view is read from its base, and how a block is written back -----------------------------
def _unread(how, block):
    """``(key, value)``: what writes ``block``, a new value of the view read as ``how`` says,
    into the base."""
    prim, params = how
    if prim.name == "getitem":
        return params["key"], block
    if prim.name == "permute_dims":
        return (Ellipsis,), apply(prim, block, axes=_inverse(params["axes"]))
    return (Ellipsis,), apply(prim, block)          # matrix_transpose, its own inverse


_views_module._write_through = write_through
_inplace_operators._View, _inplace_operators._update_in_place = View, update_in_place

__all__ = ["update_in_place", "write_through"]
