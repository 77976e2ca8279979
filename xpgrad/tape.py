"""GradientTape: records operations on watched tensors and differentiates them in reverse.

TensorFlow semantics: ``watch``, ``watch_accessed_variables``, ``persistent``, ``gradient`` with
``output_gradients`` and ``unconnected_gradients``, ``jacobian``, ``stop_recording``, ``reset``.

>>> import xpgrad as xg
>>> x = xg.asarray(3.0)
>>> with xg.GradientTape() as tape:
...     tape.watch(x)
...     y = x * x
>>> float(tape.gradient(y, x))
6.0
"""
from __future__ import annotations

import contextlib
import sys
import weakref

from .accumulate import Scatter
from .primitive import tape_state
from .tensor import Tensor, _wrap


#: every tape not yet collected: an in-place write re-keys the old value on each (inplace.py)
LIVE_TAPES = weakref.WeakSet()


def _is_float(t: Tensor) -> bool:
    return t._backend.xg_dtype(t._data.dtype).kind in "fc"


class GradientTape:
    """Record operations for automatic differentiation (see the module docstring)."""

    #: xpgrad.distributed sets this on an instance for one gradient call: ``hook(order, grads)``
    #: wraps the backward walk's node iterator, to learn when a source's gradient is final
    _walk_hook = None

    def __init__(self, persistent: bool = False, watch_accessed_variables: bool = True):
        self._persistent = persistent
        self._auto = watch_accessed_variables
        self._nodes: list = []
        self._watched: dict = {}      # id -> tensor watched by the user or derived from one
        self._variables: dict = {}    # id -> Variable watched (explicitly or by access)
        self._used = False
        self._recording = False
        LIVE_TAPES.add(self)

    # -- recording ----------------------------------------------------------------------------
    def __enter__(self):
        if self._recording:
            raise RuntimeError("this GradientTape is already recording")
        self._push()
        return self

    def __exit__(self, *exc):
        self._pop()
        return False

    def _push(self):
        tape_state.recording.append(self)
        self._recording = True

    def _pop(self):
        rec = tape_state.recording
        for i in range(len(rec) - 1, -1, -1):
            if rec[i] is self:
                del rec[i]
                break
        self._recording = False

    def watch(self, tensor) -> None:
        """Watch a floating-point tensor (or a list/tuple of them) so gradients can reach it."""
        if isinstance(tensor, (list, tuple)):
            for t in tensor:
                self.watch(t)
            return
        if not isinstance(tensor, Tensor):
            raise TypeError(f"watch() takes Tensors, got {type(tensor).__name__}; "
                            "convert with xg.asarray first")
        if not _is_float(tensor):
            raise ValueError(f"cannot watch a tensor of dtype {tensor.dtype}: only "
                             "floating-point (real or complex) tensors have gradients")
        self._watched[id(tensor)] = tensor
        if tensor._trainable:
            self._variables[id(tensor)] = tensor

    def watched_variables(self) -> tuple:
        """The Variables this tape watches, in the order it first saw them."""
        return tuple(self._variables.values())

    @contextlib.contextmanager
    def stop_recording(self):
        """Temporarily stop recording on this tape."""
        if not self._recording:
            raise RuntimeError("stop_recording() needs a tape that is recording")
        self._pop()
        try:
            yield
        finally:
            self._push()

    def reset(self) -> None:
        """Forget everything recorded and watched; the tape may be used again."""
        self._nodes.clear()
        self._watched.clear()
        self._variables.clear()
        self._used = False

    def _record(self, prim, args, raws, out, params, saved, kern):
        watched = self._watched
        needs = []
        any_need = False
        for a in args:
            need = False
            if isinstance(a, Tensor):
                if id(a) in watched:
                    need = True
                elif a._trainable and self._auto:
                    watched[id(a)] = a
                    self._variables[id(a)] = a
                    need = True
            needs.append(need)
            any_need = any_need or need
        if any_need:
            self._nodes.append((prim, args, tuple(raws), out, params, saved, kern, needs))
            watched[id(out)] = out

    # -- differentiation ----------------------------------------------------------------------
    def gradient(self, target, sources, output_gradients=None,
                 unconnected_gradients="none"):
        """Gradient of ``target`` (or the sum of its entries) with respect to ``sources``.

        ``sources`` is a tensor or a list/tuple of them; the result has the same structure. A
        source ``target`` does not depend on gives None, or zeros with
        ``unconnected_gradients="zero"``. ``output_gradients`` weights a non-scalar target.
        """
        if unconnected_gradients not in ("none", "zero"):
            raise ValueError("unconnected_gradients must be 'none' or 'zero', got "
                             f"{unconnected_gradients!r}")
        single = isinstance(sources, Tensor)
        src = [sources] if single else list(sources)
        for s in src:
            if not isinstance(s, Tensor):
                raise TypeError(f"sources must be Tensors, got {type(s).__name__}")
        if not isinstance(target, Tensor):
            raise TypeError(f"target must be a Tensor, got {type(target).__name__}")
        self._check_usable()
        seed = self._seed(target, output_gradients)
        grads = self._backward(target, src, seed, consume=not self._persistent)
        out = []
        for s in src:
            g = grads.pop(id(s), None)
            # the aliasing policy (below): a gradient something else still holds is copied
            if g is not None and not isinstance(g, Tensor) and (
                    sys.getrefcount(g) > _SOLE or ((base := getattr(g, "base", None)) is not None
                                                   and sys.getrefcount(base) > _SOLE_BASE)):
                g = s._backend.xp.asarray(g, copy=True)
            out.append(self._finish(g, s, unconnected_gradients))
            if g is not None:
                grads[id(s)] = g       # the same source again in the list gets a copy
        return out[0] if single else (tuple(out) if isinstance(sources, tuple) else out)

    def jacobian(self, target, source, unconnected_gradients="none"):
        """Full Jacobian, shape ``target.shape + source.shape``, one reverse pass per entry.

        >>> import xpgrad as xg
        >>> x = xg.asarray([1.0, 2.0])
        >>> with xg.GradientTape() as tape:
        ...     tape.watch(x)
        ...     y = x * x
        >>> tape.jacobian(y, x).tolist()
        [[2.0, 0.0], [0.0, 4.0]]
        """
        from . import creation, ops

        self._check_usable()
        n = target.size
        be = target._backend
        flat_eye = be.xp.eye(n, dtype=target._data.dtype) if n else None
        rows = []
        for i in range(n):
            seed = be.xp.reshape(flat_eye[i], target._data.shape)
            g = self._backward(target, [source], seed, consume=False).get(id(source))
            if g is None:
                rows = None
                break
            rows.append(g if isinstance(g, Tensor) else _wrap(g, be))
        if not self._persistent:
            self._release()
        if rows is None or n == 0:
            if unconnected_gradients == "zero" or n == 0:
                return creation.zeros(target.shape + source.shape, dtype=source.dtype,
                                      backend=source._backend)
            return None
        return ops.reshape(ops.stack(rows), target.shape + source.shape)

    def _check_usable(self):
        if self._used and not self._persistent:
            raise RuntimeError("a non-persistent GradientTape can only be used to compute one "
                               "set of gradients (or jacobians); create it with "
                               "GradientTape(persistent=True) to call gradient() again")
        self._used = True

    def _seed(self, target, output_gradients):
        be = target._backend
        if output_gradients is None:
            raw = be.xp.ones_like(target._data)
        else:
            from .creation import asarray

            og = asarray(output_gradients, dtype=target.dtype, backend=be)
            if og.shape != target.shape:
                raise ValueError(f"output_gradients has shape {og.shape} but the target has "
                                 f"shape {target.shape}; they must match")
            raw = og._data
        return raw

    def _finish(self, g, source, unconnected):
        if g is None:
            if unconnected == "zero":
                from .creation import zeros_like

                return zeros_like(source)
            return None
        return g if isinstance(g, Tensor) else _wrap(g, source._backend)

    def _release(self):
        self._nodes = []
        self._watched = {}

    def _backward(self, target, sources, seed, consume):
        """Walk the nodes in reverse from ``target``; return {id(tensor): gradient}.

        When another tape records, the rules run on Tensors through the xpgrad namespace, so
        that tape records the gradient computation itself (higher-order gradients).
        """
        was_recording = self._recording
        if was_recording:
            self._pop()   # gradient computations are not recorded on this tape
        try:
            higher = bool(tape_state.recording)
            if higher:
                seed = _wrap(seed, target._backend)
            return _walk(self._nodes, target, sources, seed, consume, higher, self._walk_hook)
        finally:
            if consume:
                self._release()
            if was_recording:
                self._push()


def _walk(nodes, target, sources, seed, consume, higher, hook=None):
    from .tensor_methods import _ns as namespace

    grads = {id(target): seed}
    # keys whose accumulator this walk allocated and nothing else has seen: added into in place
    owned = set()
    keep = {id(s) for s in sources}
    order = _consume(nodes) if consume else reversed(nodes)
    if hook is not None:
        order = hook(order, grads)
    for prim, args, raws, out, params, saved, kern, needs in order:
        oid = id(out)
        g = grads.get(oid)
        if g is None:
            continue
        owned.discard(oid)            # the rules below may return g itself, or views of it
        if oid not in keep:
            del grads[oid]
        if higher:
            xp, ans, inputs = namespace, out, args
        else:
            xp, ans, inputs = out._backend.xp, out._data, raws
        if kern is not None and not higher:
            gs = kern.vjp(g, saved, *raws, **params)
            for gi in gs:
                if gi is NotImplemented:  # the kernel leaves some inputs to the generic rule
                    gs = _fill_in(prim, gs, needs, xp, g, ans, inputs, params)
                    break
        elif prim.joint is None:          # per-argument rules (inline: the hot path)
            vjps = prim.vjps
            gs = [vjps[i](xp, g, ans, *inputs, **params) if need and vjps[i] is not None
                  else None for i, need in enumerate(needs)]
        else:
            gs = prim.vjp(xp, g, ans, needs, inputs, params)
        for i, need in enumerate(needs):
            if not need:
                continue
            gi = gs[i]
            if gi is None:
                continue
            key = id(args[i])
            prev = grads.get(key)
            if type(gi) is Scatter:       # a slice's gradient: add it into an owned buffer
                if prev is None:
                    prev = gi.dense(xp, inputs[i].dtype)
                else:
                    if key not in owned or not hasattr(prev, "__setitem__"):   # NumPy scalar
                        prev = xp.asarray(prev, copy=True)
                    gi.add_into(prev)
                grads[key] = prev
                owned.add(key)
                continue
            gi = _fit(xp, gi, inputs[i])
            if prev is None:
                grads[key] = gi
            elif key in owned:
                prev += gi                # in place for arrays; a NumPy scalar rebinds
                grads[key] = prev
            else:
                grads[key] = prev + gi
                owned.add(key)
    return grads


# -- the aliasing policy ------------------------------------------------------------------------
# A first-order gradient handed to the user is an array nothing else refers to: not the seed or
# output_gradients, not another source's gradient, not a residual a persistent tape keeps, and not
# a view of any of these. Most rules return fresh arrays, so instead of copying every gradient the
# tape copies only those that something else still holds, judged by reference counts (as NumPy
# judges temporaries it may reuse). The bars are the counts of a probe held by one local
# variable, measured with the same expressions as in ``gradient``.
class _Probe:
    __slots__ = ("base",)


def _probe_counts():
    g = _Probe()
    g.base = _Probe()
    own = sys.getrefcount(g)
    base = getattr(g, "base", None)
    return own, sys.getrefcount(base)


_SOLE, _SOLE_BASE = _probe_counts()


def _fill_in(prim, gs, needs, xp, g, ans, inputs, params):
    """A kernel's gradients with its NotImplemented entries computed by the generic rules."""
    out = list(gs)
    if prim.joint is not None:
        rest = [need and gi is NotImplemented for gi, need in zip(gs, needs)]
        generic = prim.vjp(xp, g, ans, rest, inputs, params)
        return [generic[i] if r else gi for i, (gi, r) in enumerate(zip(gs, rest))]
    vjps = prim.vjps
    for i, gi in enumerate(gs):
        if gi is NotImplemented:
            rule = vjps[i]
            out[i] = rule(xp, g, ans, *inputs, **params) if needs[i] and rule is not None \
                else None
    return out


def _consume(nodes):
    while nodes:
        yield nodes.pop()


def _fit(xp, g, x):
    """Sum a broadcast gradient back to ``x``'s shape and cast it to ``x``'s dtype."""
    gshape = g.shape
    xshape = x.shape
    if gshape != xshape:
        lead = len(gshape) - len(xshape)
        axes = tuple(range(lead)) + tuple(
            lead + i for i, n in enumerate(xshape) if n == 1 and gshape[lead + i] != 1)
        if axes:
            g = xp.sum(g, axis=axes, keepdims=True)
        g = xp.reshape(g, xshape)
    if g.dtype != x.dtype:
        if xp.isdtype(g.dtype, "complex floating") and not xp.isdtype(x.dtype,
                                                                      "complex floating"):
            g = xp.real(g)      # a real input's gradient: the real part (complex convention)
        if g.dtype != x.dtype:
            g = xp.astype(g, x.dtype)
    return g


def stop_gradient(t):
    """The same value, cut from every tape: no gradient flows through it.

    >>> import xpgrad as xg
    >>> x = xg.asarray(2.0)
    >>> with xg.GradientTape() as tape:
    ...     tape.watch(x)
    ...     y = x * xg.stop_gradient(x)
    >>> float(tape.gradient(y, x))
    2.0
    """
    if not isinstance(t, Tensor):
        from .creation import asarray

        return asarray(t)
    return _wrap(t._data, t._backend)
