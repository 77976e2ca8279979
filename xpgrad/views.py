"""Views: what basic indexing (ints, slices, Ellipsis, None) and the transposes
(``permute_dims``, ``.T``, ``.mT``, ``transpose``, ``swapaxes``, ``moveaxis``) return, as in
NumPy and PyTorch, and ``t.data`` (``data_view``). Reshapes, integer-array and mask indices,
and an int for every axis (NumPy's scalar) give copies. A ``View`` remembers its base and how
it was taken from it:

- writing into a view (``v[k] = value``, ``v += value``) writes through to its base, and to the
  base's base, recursively (``view_writes.py``);
- a view reads its base again when the base's array changed since it last did (``base._data is
  not view._synced``), so a write into the base, or into another view of it, is seen by the
  views taken before it. A write that goes into the base's buffer in place is seen at once: a
  view's array is the backend's view of that buffer.

On the tapes everything is a functional update, as ``x[key] = value`` is (``inplace.py``): a
write through a view is ``setitem`` of the view's value, then ``setitem`` of that block into the
base; a view read again is a ``getitem`` (or transpose) of the base's new value. So gradients
reach the base, the written values and the view as PyTorch computes them. Outside tapes, a
write goes into the base's buffer in place when nothing but the views registered here (each
when made) sees it (``exclusive``): a loop writing block after block costs the blocks, not the
base.

Other tensors pay nothing: only a ``View``'s ``_data`` and ``_key`` are properties that check.

>>> import xpgrad as xg
>>> c = xg.zeros((2, 3))
>>> row = c[1]
>>> row += 1.0
>>> row[0] = 5.0
>>> c.tolist()
[[0.0, 0.0, 0.0], [5.0, 1.0, 1.0]]
>>> c[1, 2] = 7.0
>>> row.tolist()
[5.0, 1.0, 7.0]
"""
from __future__ import annotations

import sys
import weakref

from . import tensor as _tensor_module
from .tensor import Tensor, _keyed

_new = object.__new__


class View(Tensor):
    """A tensor that is a window on another one, its base (module docstring).

    >>> import xpgrad as xg
    >>> x = xg.arange(6.0).reshape((2, 3))
    >>> x.T[0, 1] = 30.0        # .T is a view: the write lands in x
    >>> x.tolist()
    [[0.0, 1.0, 2.0], [30.0, 4.0, 5.0]]
    """

    # _raw: the array (a backend view of the base's); _vkey: the tape key; _base: the tensor it
    # is a view of; _how: how it is read from the base, (primitive, keywords); _synced: the base's array it
    # was read from; _index: the key object ``base[key]`` was given, where an untaped read made
    # it (``x[key] += y`` writes the view back with that same object: ``Tensor.__setitem__``),
    # whose ``_how`` is then made on first use (``_read`` None till then)
    __slots__ = ("_raw", "_vkey", "_base", "_read", "_synced", "_index")

    @property
    def _how(self):
        how = self._read
        if how is None:
            how = self._read = (_GETITEM, {"key": _VIEW_KEY(self._index, self._raw_ndim()),
                                           "backend": self._backend})
        return how

    def _raw_ndim(self) -> int:
        base = self._base
        return (base._raw if base.__class__ is View else base._data).ndim

    @property
    def _data(self):
        if self._base._data is not self._synced:
            _read_again(self)
        return self._raw

    @_data.setter
    def _data(self, raw):
        self._raw = raw

    @property
    def _key(self):
        if self._base._data is not self._synced:
            _read_again(self)
        return self._vkey

    @_key.setter
    def _key(self, key):
        self._vkey = key

    @property
    def base(self):
        """The tensor this view was taken from (NumPy's and PyTorch's ``_base``)."""
        return self._base

    def __setitem__(self, key, value):
        """``v[key] = value`` writes through to the base (``view_writes.py``)."""
        _write_through(self, key, value)

    def _plain(self) -> Tensor:
        return _keyed(self._data, self._backend, self._key)

    def __repr__(self) -> str:
        return Tensor.__repr__(self._plain())

    def __deepcopy__(self, memo):
        """A copy is a plain tensor with this value (a view of nothing)."""
        return self._plain().__deepcopy__(memo)

    def __reduce_ex__(self, protocol):
        """Pickled as a plain tensor with this value."""
        return _unpickled, (self._plain(),)


#: ``view_writes.write_through``, set when ``xpgrad.view_writes`` loads (it imports this module);
#: the getitem primitive and ``ops.indexing._view_key``, when ``xpgrad.ops.indexing`` does
_write_through = _GETITEM = _VIEW_KEY = None


def _unpickled(tensor):
    return tensor


def is_basic(key: tuple) -> bool:
    """Whether an index (``_raw_key``'s tuple) is basic: ints, slices, Ellipsis and None, what
    NumPy answers with a view."""
    for k in key:
        if not (k is None or k is Ellipsis or k.__class__ is int or k.__class__ is slice):
            return False
    return True


def view_of(base: Tensor, out: Tensor, prim, params) -> View:
    """``out`` (``apply(prim, base, **params)``, just made) as a view of ``base``."""
    return new_view(base, out._data, out._key, out._backend, (prim, params))


def new_view(base: Tensor, raw, key: int, backend, how, index=None) -> View:
    """The view of ``base`` holding the array ``raw`` (tape key ``key``), read as ``how``,
    ``(primitive, keywords)``, says; ``index``: the key object the user indexed ``base`` with
    (``View._index``), where the read was untaped: ``how`` may then be None (``base[index]``,
    made when asked for)."""
    v = _new(View)
    v._raw = raw
    v._vkey = key
    v._backend = backend
    v._base = base
    v._read = how
    v._synced = base._data
    v._index = index
    root = base
    while root.__class__ is View:
        root = root._base
    remember_view(root, v)
    return v


class _Detached:
    """How ``t.data`` reads its base (``data_view``): the same array, cut from the tapes."""

    __slots__ = ()
    name = "data"

    @staticmethod
    def forward(xp, x):
        return x


DETACHED = _Detached()


def data_view(base: Tensor) -> View:
    """PyTorch's ``t.data``: ``base``'s value, cut from the tapes (no gradient flows through
    it), sharing its buffer: a write into it is a write into ``base`` (``Tensor.data``).

    >>> import xpgrad as xg
    >>> w = xg.Variable([1.0, 2.0], name="w")
    >>> _ = w.data.mul_(2.0)                 # PyTorch's spelling of w.data *= 2.0
    >>> w.data[0] = 5.0
    >>> w.tolist()
    [5.0, 4.0]
    """
    raw = base._data
    return new_view(base, raw, 0, base._backend, _DATA_HOW)


_DATA_HOW = (DETACHED, {})


def index_key(key: tuple) -> tuple:
    """A basic key with an Ellipsis: ``x[1, ...]`` of a vector is a 0-d view of ``x``'s
    buffer, where ``x[1]`` is NumPy's scalar (a copy)."""
    for k in key:
        if k is Ellipsis:
            return key
    return key + (Ellipsis,)


def _read_again(view):
    """Read ``view`` from its base's current value, recorded as any getitem on the tapes
    recording, and on the live tapes that know the base but do not record now (the view of a
    tensor written inside ``with tape:`` read after the block, as PyTorch's view of a base
    written in place is read again when used)."""
    from .primitive import apply

    base = view._base
    prim, params = view._how
    if prim is DETACHED:
        view._raw = view._synced = base._data
        return
    fresh = apply(prim, base, **params)
    key = base._key
    if key:
        _record_on_paused_tapes(prim, base, fresh, params, key)
    view._raw = fresh._data
    view._vkey = fresh._key
    view._synced = base._data


def _record_on_paused_tapes(prim, base, fresh, params, key):
    from .primitive import tape_state
    from .tape import LIVE_TAPES

    recording = tape_state.recording
    for tape in list(LIVE_TAPES):
        if key in tape._keys and all(t is not tape for t in recording):
            tape._record(prim, (base,), (base._data,), fresh, params, None, None, False)


def root_of(t):
    while t.__class__ is View:
        t = t._base
    return t


# -- who else sees a root's buffer ----------------------------------------------------------------
# root id -> [weakref to the root, weakrefs to its views, how many to keep]
_FAMILIES: dict = {}
_ref = weakref.ref


def remember_view(root, view) -> None:
    """Count ``view``, just made, among the holders of ``root``'s buffer that a write in place
    keeps right (``exclusive``; every view is remembered when made: ``new_view``, and
    ``ops/indexing.py``'s untaped ``x[a:b]``).

    >>> import xpgrad as xg
    >>> x = xg.zeros(4)
    >>> part = x[1:3]
    >>> family(x) == [part]
    True
    """
    entry = _FAMILIES.get(id(root))
    if entry is None or entry[0]() is not root:
        ident = id(root)
        entry = _FAMILIES[ident] = [_ref(root, lambda _, i=ident: _forget(i)), [], 16]
    refs = entry[1]
    refs.append(_ref(view))
    if len(refs) > entry[2]:
        refs[:] = [r for r in refs if r() is not None]
        entry[2] = 2 * len(refs) + 16


def _forget(ident):
    entry = _FAMILIES.get(ident)
    if entry is not None and entry[0]() is None:
        del _FAMILIES[ident]


def family(root) -> list | None:
    """The live registered views of ``root``, or None when it has none."""
    entry = _FAMILIES.get(id(root))
    if entry is None or entry[0]() is not root:
        return None
    views = [v for v in (r() for r in entry[1]) if v is not None]
    return views or None


class _Probe:
    __slots__ = ("_raw",)


def _raw_refs(holder) -> int:
    return sys.getrefcount(holder._raw)


_probe = _Probe()
_probe._raw = _Probe()
_SOLE_RAW = _raw_refs(_probe)
del _probe


def exclusive(views, raw_id, owner_id, own, base) -> bool:
    """Whether the root's array (id ``raw_id``, ``own`` references beyond a sole holder's) and
    its owner (``owner_id``, ``base`` beyond) are held only by ``views``: each view's array by
    the view alone (and by its own views' ``_synced``), no live tape knowing any of them."""
    extra = {}
    for v in views:
        if v._vkey:
            from .tape import known_to_tapes

            if known_to_tapes(v._vkey):
                return False
            v._vkey = 0                 # (a key no live tape knows: only its value)
        for held in (v._synced, getattr(v._raw, "base", None)):
            if held is not None:
                extra[id(held)] = extra.get(id(held), 0) + 1
        if _holds_its_bases_array(v):   # a ``t.data`` view: one more holder of t's array
            extra[id(v._raw)] = extra.get(id(v._raw), 0) + 1
    for v in views:
        if not _holds_its_bases_array(v) and _raw_refs(v) > _SOLE_RAW + extra.get(id(v._raw), 0):
            return False
    return own <= extra.get(raw_id, 0) and (base is None or base <= extra.get(owner_id, 0))


def _holds_its_bases_array(v) -> bool:
    """Whether ``v`` is a ``t.data`` view holding ``t``'s current array itself (whose holders
    are counted as ``t``'s, not as a view's own array)."""
    if v._index is not None or v._how[0] is not DETACHED:      # (an untaped x[key]: not)
        return False
    base = v._base
    return v._raw is (base._raw if base.__class__ is View else base._data)


_tensor_module._data_view, _tensor_module._View, _tensor_module._DETACHED = \
    data_view, View, DETACHED

# a view is a Tensor to its users (PyTorch's views are torch.Tensor): messages that name
# type(x).__name__ say "Tensor"; repr(View) still shows this module
View.__name__ = View.__qualname__ = "Tensor"

__all__ = ["View", "data_view", "is_basic", "view_of"]
