"""GradientTape: records operations on watched tensors and differentiates them in reverse.

TensorFlow semantics: ``watch``, ``watch_accessed_variables``, ``persistent``, ``gradient`` with
``output_gradients`` and ``unconnected_gradients``, ``jacobian``, ``stop_recording``, ``reset``.

How a tape records (the lean path): a tape knows tensors by their key (``Tensor._key``: 0 until a
tape watches or records the tensor, then unique in the process), never by holding them. A node is
one flat tuple of the primitive, the keys of its inputs and output, and the residuals its rule
declares (``Primitive.saves``: the raw inputs and/or output the vjp reads), so

- a value no later rule reads is freed as soon as the user drops it (an MLP's pre-activation,
  once ReLU has run), and a non-persistent tape frees each residual when the backward walk has
  popped the last node that holds it;
- nodes make no reference cycles, and a node's tuples of keys and raw arrays hold no
  GC-tracked objects, so Python's cyclic GC stops walking them after their first collection:
  a long tape costs the collector about one tracked tuple per op.

Where hooks go: a callback when a source's gradient is final belongs in ``_walk`` at the point a
key in ``skeys`` sees its last contributing node (issue 16); tracing primitive calls for replay
belongs in ``primitive.apply`` around the kernel/forward call, or in ``_record`` for the taped
ones (issue 18).

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
import itertools
import sys
import weakref

from .accumulate import Scatter
from .primitive import tape_state
from .tensor import Tensor, _keyed, _wrap


#: every tape not yet collected: an in-place write checks none watches its target (inplace.py)
LIVE_TAPES = weakref.WeakSet()

#: a fresh tensor key; keys are never reused, so a key a tape saw always means one value
next_key = itertools.count(1).__next__


def _is_float(t: Tensor) -> bool:
    return t._backend.xg_dtype(t._data.dtype).kind in "fc"


class GradientTape:
    """Record operations for automatic differentiation (see the module docstring)."""

    def __init__(self, persistent: bool = False, watch_accessed_variables: bool = True):
        self._persistent = persistent
        self._auto = watch_accessed_variables
        self._nodes: list = []
        self._keys: set = set()       # keys of the tensors watched or derived from one
        self._watched: set = set()    # keys watched as gradient sources (explicitly or by access)
        self._variables: dict = {}    # key -> Variable watched (explicitly or by access)
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
        key = tensor._key
        if not key:
            key = tensor._key = next_key()
        self._keys.add(key)
        self._watched.add(key)
        if tensor._trainable:
            self._variables[key] = tensor

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
        self._keys.clear()
        self._watched.clear()
        self._variables.clear()
        self._used = False

    def _record(self, prim, args, raws, out, params, saved, kern):
        """Append a node for ``out = prim(*args)`` if an input is on this tape."""
        keys = self._keys
        ks = []
        hit = variables = False
        for a in args:
            k = 0
            if isinstance(a, Tensor):
                k = a._key
                if k not in keys:
                    k = self._access(a) if a._trainable else 0
                if k:
                    hit = True
                    variables = variables or a._trainable
            ks.append(k)
        if not hit:
            return
        okey = out._key
        if not okey:
            okey = out._key = next_key()
        keys.add(okey)
        if kern is None:
            keep, keep_out = prim.keep_inputs, prim.keep_output
        elif len(tape_state.recording) == 1:
            keep, keep_out = kern.keep_inputs, kern.keep_output
        else:   # nested tapes: an outer one may differentiate the generic rules, which read all
            keep, keep_out = None, True
        fits = None
        if keep is None:
            res = tuple(raws)
        else:
            res, fits = _residuals(raws, keep)
        self._nodes.append((prim, kern, out._backend, okey, tuple(ks), res,
                            out._data if keep_out else None, params, saved, fits,
                            args if variables else None))

    def _access(self, variable):
        """Watch a trainable Variable read on this tape (``watch_accessed_variables``); its
        key, or 0 when this tape does not watch on access."""
        if not self._auto:
            return 0
        key = variable._key
        if not key:
            key = variable._key = next_key()
        self._keys.add(key)
        self._watched.add(key)
        self._variables[key] = variable
        return key

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
            g = grads.pop(s._key, None) if s._key else None
            # the aliasing policy (below): a gradient something else still holds is copied
            if g is not None and not isinstance(g, Tensor) and (
                    sys.getrefcount(g) > _SOLE or ((base := getattr(g, "base", None)) is not None
                                                   and sys.getrefcount(base) > _SOLE_BASE)):
                g = s._backend.xp.asarray(g, copy=True)
            out.append(self._finish(g, s, unconnected_gradients))
            if g is not None:
                grads[s._key] = g      # the same source again in the list gets a copy
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
            g = self._backward(target, [source], seed, consume=False).get(source._key or None)
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
        self._keys = set()
        self._watched = set()

    def _backward(self, target, sources, seed, consume):
        """Walk the nodes in reverse from ``target``; return {tensor key: gradient}.

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
            if not target._key:     # a target no node made: only itself as a source sees it
                target._key = next_key()
            return _walk(self._nodes, target._key, {s._key for s in sources}, seed, consume,
                         higher)
        finally:
            if consume:
                self._release()
            if was_recording:
                self._push()


def _walk(nodes, tkey, skeys, seed, consume, higher):
    from .tensor_methods import _ns as namespace

    grads = {tkey: seed}
    # keys whose accumulator this walk allocated and nothing else has seen: added into in place
    owned = set()
    order = _consume(nodes) if consume else reversed(nodes)
    for prim, kern, be, okey, ks, res, ans, params, saved, fits, args in order:
        g = grads.get(okey)
        if g is None:
            continue
        owned.discard(okey)            # the rules below may return g itself, or views of it
        if okey not in skeys:
            del grads[okey]
        if higher:
            xp = namespace
            inputs = _tensors(res, ks, be, args)
            if ans is not None:
                ans = _keyed(ans, be, okey)
        else:
            xp = be.xp
            inputs = res
        if fits is not None:
            inputs = _stand_ins(inputs, fits, be if higher else None)
        if kern is not None and not higher:
            gs = kern.vjp(g, saved, *inputs, **params)
            for gi in gs:
                if gi is NotImplemented:  # the kernel leaves some inputs to the generic rule
                    gs = _fill_in(prim, gs, ks, xp, g, ans, inputs, params)
                    break
        elif prim.joint is None:          # per-argument rules (inline: the hot path)
            vjps = prim.vjps
            gs = [vjps[i](xp, g, ans, *inputs, **params) if k and vjps[i] is not None
                  else None for i, k in enumerate(ks)]
        else:
            gs = prim.vjp(xp, g, ans, [k != 0 for k in ks], inputs, params)
        for i, k in enumerate(ks):
            if not k:
                continue
            gi = gs[i]
            if gi is None:
                continue
            x = inputs[i]
            shape, dtype = x.shape, x.dtype
            prev = grads.get(k)
            if type(gi) is Scatter:       # a slice's gradient: add it into an owned buffer
                if prev is None:
                    prev = gi.dense(xp, dtype)
                else:
                    if k not in owned or not hasattr(prev, "__setitem__"):   # NumPy scalar
                        prev = xp.asarray(prev, copy=True)
                    gi.add_into(prev)
                grads[k] = prev
                owned.add(k)
                continue
            gi = _fit(xp, gi, shape, dtype)
            if prev is None:
                grads[k] = gi
            elif k in owned:
                prev += gi                # in place for arrays; a NumPy scalar rebinds
                grads[k] = prev
            else:
                grads[k] = prev + gi
                owned.add(k)
    return grads


def _residuals(raws, keep):
    """The raw inputs ``keep`` marks (None elsewhere), and ``(shape, dtype)`` of the arrays
    not kept (None when there is none)."""
    n = len(keep)
    res = []
    fits = None
    for i, r in enumerate(raws):
        if i < n and keep[i]:
            res.append(r)
            continue
        res.append(None)
        if type(r) not in _scalar_types:
            if fits is None:
                fits = [None] * len(raws)
            fits[i] = (tuple(r.shape), r.dtype)
    return tuple(res), None if fits is None else tuple(fits)


class Shaped:
    """What a rule sees of an input that its primitive does not save: shape and dtype.

    >>> Shaped((2, 3), "float32").ndim
    2
    """

    __slots__ = ("shape", "dtype")

    def __init__(self, shape, dtype):
        self.shape = shape
        self.dtype = dtype

    @property
    def ndim(self):
        return len(self.shape)

    @property
    def size(self):
        n = 1
        for s in self.shape:
            n *= s
        return n


def _stand_ins(inputs, fits, be):
    """``inputs`` with a ``Shaped`` for each array input that was not saved (dtypes as
    xpgrad's for rules run on Tensors: ``be`` given)."""
    out = list(inputs)
    for i, fit in enumerate(fits):
        if fit is not None:
            out[i] = Shaped(fit[0], fit[1] if be is None else be.xg_dtype(fit[1]))
    return out


def _tensors(res, ks, be, args):
    """A node's residuals as Tensors with their recorded keys (for rules run on the xpgrad
    namespace, which an outer tape records); trainable Variables as themselves."""
    out = []
    for i, r in enumerate(res):
        if args is not None and getattr(args[i], "_trainable", False):
            out.append(args[i])
        elif r is None or type(r) in _scalar_types:    # a Python constant (np.float64: no)
            out.append(r)
        else:
            out.append(_keyed(r, be, ks[i]))
    return out


_scalar_types = {int, float, bool, complex}


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


def _fill_in(prim, gs, ks, xp, g, ans, inputs, params):
    """A kernel's gradients with its NotImplemented entries computed by the generic rules."""
    out = list(gs)
    if prim.joint is not None:
        rest = [k != 0 and gi is NotImplemented for gi, k in zip(gs, ks)]
        generic = prim.vjp(xp, g, ans, rest, inputs, params)
        return [generic[i] if r else gi for i, (gi, r) in enumerate(zip(gs, rest))]
    vjps = prim.vjps
    for i, gi in enumerate(gs):
        if gi is NotImplemented:
            rule = vjps[i]
            out[i] = rule(xp, g, ans, *inputs, **params) if ks[i] and rule is not None \
                else None
    return out


def _consume(nodes):
    while nodes:
        yield nodes.pop()


def _fit(xp, g, xshape, xdtype):
    """Sum a broadcast gradient back to an input's shape and cast it to the input's dtype."""
    gshape = g.shape
    if gshape != xshape:
        lead = len(gshape) - len(xshape)
        axes = tuple(range(lead)) + tuple(
            lead + i for i, n in enumerate(xshape) if n == 1 and gshape[lead + i] != 1)
        if axes:
            g = xp.sum(g, axis=axes, keepdims=True)
        g = xp.reshape(g, xshape)
    if g.dtype != xdtype:
        if xp.isdtype(g.dtype, "complex floating") and not xp.isdtype(xdtype,
                                                                       "complex floating"):
            g = xp.real(g)      # a real input's gradient: the real part (complex convention)
        if g.dtype != xdtype:
            g = xp.astype(g, xdtype)
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
