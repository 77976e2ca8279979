"""In-place writes, ``x[key] = value``, as functional updates that tapes can differentiate.

A Tensor is a value, and a tape knows tensors by identity, so ``x[key] = value`` makes ``x``
hold a *new* value: a copy of the old one with ``value`` written at ``key`` (the buffer is
written in place only when nothing else can see it). On the tapes:

- every tape that holds ``x`` (a recorded input or output, recording now or not) is re-keyed
  first: its nodes and watch list get a snapshot tensor with the old value in ``x``'s place, so
  what it recorded keeps meaning the old value (no gradient through a stale version, ever);
- while a tape records ``x`` (derived from a watched tensor) or ``value``, the write is a node
  of its own, ``setitem(old, value)``, whose output is ``x``: the gradient of the old value is
  ``g`` with the written region zeroed, that of ``value`` is ``g[key]`` (summed over
  broadcasting; for repeated integer indices, only the write that landed gets it);
- a tensor a tape watches as a gradient source, or a Variable while a tape records it, cannot be
  written: that would change what the gradient is taken with respect to. Write into a copy
  (``xg.asarray(x, copy=True)``), compute the value with ``xg.where``, or use ``assign()``.

Finding what to re-key costs nothing for a tensor no tape holds (told by its reference count),
and for a tensor a tape derived, a walk back over the nodes recorded since it was made; only a
constant that recorded nodes read costs a pass over those tapes.

>>> import xpgrad as xg
>>> x = xg.asarray([1.0, 2.0, 3.0])
>>> with xg.GradientTape() as tape:
...     tape.watch(x)
...     y = x * 2.0
...     y[1] = x[0] ** 2      # y is derived: a recorded update
...     loss = xg.sum(y)
>>> tape.gradient(loss, x).tolist()
[4.0, 0.0, 2.0]
"""
from __future__ import annotations

import sys

from .primitive import apply, run, tape_state
from .tensor import Tensor, Variable, _wrap


def on_tape(t: Tensor) -> bool:
    """Whether a recording tape differentiates ``t``: watched, derived from a watched tensor,
    or a trainable Variable that the tape watches on access."""
    tid = id(t)
    for tape in tape_state.recording:
        if tid in tape._watched or (t._trainable and tape._auto):
            return True
    return False


def _live_tapes():
    from .tape import LIVE_TAPES

    return list(LIVE_TAPES) if LIVE_TAPES else ()


def _holders(x, tapes):
    """``{tape: indices of the nodes that mention x}`` for the tapes holding ``x``; raises if
    one of them watches ``x`` as a gradient source."""
    found = {}
    for tape in tapes:
        hits = _mentions(tape, x)
        if hits is None:
            raise _WriteRefused(
                "cannot write into a tensor that a GradientTape watches as a gradient source: "
                "the tape's gradient is taken with respect to its value. Write into a copy "
                "(y = xg.asarray(x, copy=True); y[key] = value) or build the new value "
                "functionally (xg.where)")
        if hits or id(x) in tape._watched:
            found[tape] = hits
    return found


def _mentions(tape, x):
    """Indices of ``tape``'s nodes that mention ``x``; None when the tape watches ``x`` as a
    source (no node made it). A tensor the tape derived appears only from the node that made it
    on (an earlier write re-keyed what came before), so that search walks back to it."""
    nodes = tape._nodes
    xid = id(x)
    if xid not in tape._watched:
        return [i for i, node in enumerate(nodes) if xid in map(id, node[1])]
    hits = []
    for i in range(len(nodes) - 1, -1, -1):
        node = nodes[i]
        if node[3] is x:
            hits.append(i)
            return hits
        if xid in map(id, node[1]):
            hits.append(i)
    return None


def _rekey(tape, hits, x, snap):
    nodes = tape._nodes
    for i in hits:
        prim, args, raws, out, params, saved, kern, needs = nodes[i]
        args = tuple(snap if a is x else a for a in args)
        nodes[i] = (prim, args, raws, snap if out is x else out, params, saved, kern, needs)
    watched = tape._watched
    if watched.pop(id(x), None) is not None:
        watched[id(snap)] = snap


# -- who else sees a buffer -----------------------------------------------------------------------
# An array is written in place only when the tensor's slot is its one holder and, for a view, the
# view is the one holder of its base; reference counts are compared with those of a probe held the
# same way (as the tape judges which gradients it must copy).
def _counts(holder):
    raw = holder._data
    base = getattr(raw, "base", None)
    return sys.getrefcount(raw), (None if base is None else sys.getrefcount(base))


class _Probe:
    __slots__ = ("_data", "base")


def _probe_counts():
    probe = _Probe()
    probe._data = _Probe()
    probe._data.base = _Probe()
    return _counts(probe)


_SOLE, _SOLE_BASE = _probe_counts()


def _writable(raw) -> bool:
    flags = getattr(raw, "flags", None)
    return flags is not None and hasattr(raw, "base") and getattr(flags, "writeable", True)


def _exclusive(x) -> bool:
    """Whether writing into ``x``'s buffer in place changes nothing anyone else can see."""
    if not _writable(x._data):
        return False       # an array type whose sharing cannot be told: always copy
    own, base = _counts(x)
    return own <= _SOLE and (base is None or base <= _SOLE_BASE)


# -- the write ------------------------------------------------------------------------------------
def _value(x, value):
    """``value`` as a Tensor of ``x``'s dtype and backend, or a Python scalar as it is."""
    if isinstance(value, (bool, int, float, complex)):
        return value
    from .creation import asarray
    from .ops.casting import astype

    if isinstance(value, Tensor):
        if value._backend is not x._backend:
            from .primitive import _mixed

            raise _mixed(x._backend, value._backend)
        return value if value.dtype == x.dtype else astype(value, x.dtype)
    return asarray(value, dtype=x.dtype, backend=x._backend)


# A tape holds the tensors it recorded, so a tensor referenced only by the code writing into it
# is on no tape and needs no search: write() compares its reference count with that of a probe
# written through the same path from one local variable (measured once, on the first write).
_sole_refs = None
_calibrating = False


def _calibrate() -> int:
    global _calibrating
    _calibrating = True
    try:
        probe = _wrap(None, None)
        probe[0] = 0
    finally:
        _calibrating = False
    return _sole_refs


def write(x: Tensor, key, value) -> None:
    """``x[key] = value`` (what ``Tensor.__setitem__`` does; see the module docstring)."""
    global _sole_refs
    refs = sys.getrefcount(x)
    if _calibrating:
        _sole_refs = refs
        return
    from .ops.indexing import _raw_key, _setitem_error

    raw_key = _raw_key(x, key)
    value = _value(x, value)
    recording = tape_state.recording
    variable = isinstance(x, Variable)
    if variable:
        if recording and on_tape(x):
            raise _WriteRefused(
                f"cannot write into Variable {x.name!r} while a GradientTape records it: "
                "in-place writes to Variables are not recorded. Update it with assign() "
                "outside the tape, or compute a new tensor (xg.where)")
        holders = {}
    else:
        tapes = _live_tapes()
        holders = {}
        if tapes and refs > (_sole_refs or _calibrate()):
            holders = _holders(x, tapes)
    snap = None
    if holders:
        snap = _wrap(x._data, x._backend)
        for tape, hits in holders.items():
            _rekey(tape, hits, x, snap)
    if value is x:                  # x[...] = x: the value is the old version
        value = snap if snap is not None else _wrap(x._data, x._backend)
    try:
        _update(x, snap, raw_key, value, recording)
    except BaseException as e:
        for tape, hits in holders.items():      # undo: the tapes hold x again
            _rekey(tape, hits, snap, x)
        if isinstance(e, (IndexError, ValueError)) and not isinstance(e, _WriteRefused):
            raise _setitem_error(x, key, value, e) from None
        raise


class _WriteRefused(ValueError):
    pass


def _update(x, snap, raw_key, value, recording):
    from .ops.indexing import _setitem

    if recording and ((isinstance(value, Tensor) and on_tape(value))
                      or (snap is not None and on_tape(snap))):
        old = _wrap(x._data, x._backend) if snap is None else snap
        out = apply(_setitem, old, value, key=raw_key)
        x._data = out._data
        for tape in recording:
            nodes = tape._nodes
            if nodes and nodes[-1][3] is out:
                nodes[-1] = nodes[-1][:3] + (x,) + nodes[-1][4:]
                del tape._watched[id(out)]
                tape._watched[id(x)] = x
        return
    value_raw = value._data if isinstance(value, Tensor) else value
    if snap is None and _exclusive(x):
        x._data[raw_key] = value_raw
    else:
        x._data = run(_setitem, x._backend, x._data, value_raw, key=raw_key)
