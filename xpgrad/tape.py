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
- nodes make no reference cycles and hold no GC-tracked objects (the primitive and kernel by
  index, the backend only where it is not the tape's first, keys as ints, residuals as raw
  arrays), so Python's cyclic GC untracks each node at its first young collection: a long tape
  does not make the collector's full walks longer or more frequent.

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
import operator
import sys
import weakref

from .accumulate import Scatter
from .backend import KERNELS_BY_INDEX
from .primitive import BY_INDEX as PRIMITIVES_BY_INDEX, tape_state
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
        self._home = None             # the backend of the first node; nodes store only others
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
        self._home = None
        self._keys.clear()
        self._watched.clear()
        self._variables.clear()
        self._used = False

    def _record(self, prim, args, raws, out, params, saved, kern, nested):
        """Append a node for ``out = prim(*args)`` if an input is on this tape (``nested``:
        other tapes record too)."""
        keys = self._keys
        ks = []
        hit = False
        variables = None    # the trainable Variables among the inputs, by position
        for a in args:
            if isinstance(a, Tensor):
                k = a._key
                if k not in keys:
                    k = self._access(a) if a._trainable else 0
                if k:
                    hit = True
                    if a._trainable:
                        if variables is None:
                            variables = [None] * len(args)
                        variables[len(ks)] = a
                ks.append(k)
            else:
                ks.append(0)
        if not hit:
            return
        okey = out._key
        if not okey:
            okey = out._key = next_key()
        keys.add(okey)
        if kern is None:
            keep, keep_out = prim.keep_inputs, prim.keep_output
        elif not nested:
            keep, keep_out = kern.keep_inputs, kern.keep_output
        else:   # an outer tape may differentiate the generic rules, which may read everything
            keep, keep_out = None, True
        fits = None
        if keep is None:
            res = tuple(raws)
        else:   # the residuals: the raw inputs kept; (shape, dtype) of the other arrays
            n = len(keep)
            res = list(raws)
            i = 0
            for r in raws:
                if i >= n or not keep[i]:
                    if r.__class__ in _exact_scalars:
                        res[i] = None
                    elif r.size > _SMALL:
                        res[i] = None
                        if fits is None:
                            fits = [None] * len(raws)
                        dt = r.dtype
                        fits[i] = (r.shape, _DTYPE_CODES.get(id(dt)) or _dtype_code(dt))
                i += 1
            res = tuple(res)
            if fits is not None:
                fits = tuple(fits)
        be = out._backend
        if be is self._home:
            be = None
        elif self._home is None:
            self._home, be = be, None
        # ints, tuples and raw arrays: nothing the cyclic GC keeps visiting (a dict, even an
        # empty one, would keep the node tracked)
        self._nodes.append((prim.index, None if kern is None else kern.index, be, okey,
                            tuple(ks), res, out._data if keep_out else None,
                            tuple(params.items()) if params else None, saved, fits,
                            variables and tuple(variables)))

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
        self._home = None
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
            return _walk(self._nodes, self._home, target._key, {s._key for s in sources}, seed,
                         consume, higher)
        finally:
            if consume:
                self._release()
            if was_recording:
                self._push()


def _walk(nodes, home, tkey, skeys, seed, consume, higher):
    from .tensor_methods import _ns as namespace

    grads = {tkey: seed}
    # keys whose accumulator this walk allocated and nothing else has seen: added into in place
    owned = set()
    n = len(nodes)
    while n:
        n -= 1
        # a non-persistent tape drops each node as it goes: its residuals are freed once no
        # node still to come holds them
        node = nodes.pop() if consume else nodes[n]
        g = grads.get(node[3])
        if g is None:
            continue
        prim, kern, be, okey, ks, res, ans, params, saved, fits, variables = node
        prim = PRIMITIVES_BY_INDEX[prim]
        params = dict(params) if params else _NO_PARAMS
        if kern is not None:
            kern = KERNELS_BY_INDEX[kern]
        if be is None:
            be = home
        if owned:
            owned.discard(okey)        # the rules below may return g itself, or views of it
        if okey not in skeys:
            del grads[okey]
        if higher:
            xp = namespace
            inputs = _tensors(res, ks, be, variables)
            if ans is not None:
                ans = _keyed(ans, be, okey)
        else:
            xp = be.xp
            inputs = res
        if fits is not None:
            inputs = _stand_ins(inputs, fits, be if higher else None)
        if kern is not None and not higher:
            vjp = kern.vjp
            # a g nothing else holds (not a source's, not a view) may be written over
            if kern.vjp_in_place is not None and okey not in skeys and \
                    sys.getrefcount(g) <= _SOLE and getattr(g, "base", 0) is None:
                vjp = kern.vjp_in_place
            gs = vjp(g, saved, *inputs, **params)
            for gi in gs:
                if gi is NotImplemented:  # the kernel leaves some inputs to the generic rule
                    gs = _fill_in(prim, gs, ks, xp, g, ans, inputs, params)
                    break
        elif prim.joint is None:          # per-argument rules (inline: the hot path)
            vjps = prim.vjps
            if len(ks) == 1:
                rule = vjps[0]
                gs = (None if rule is None else rule(xp, g, ans, *inputs, **params),)
            else:
                gs = [vjps[i](xp, g, ans, *inputs, **params) if k and vjps[i] is not None
                      else None for i, k in enumerate(ks)]
        else:
            gs = prim.vjp(xp, g, ans, [k != 0 for k in ks], inputs, params)
        i = -1
        for k in ks:
            i += 1
            if not k:
                continue
            gi = gs[i]
            if gi is None:
                continue
            x = inputs[i]
            if type(gi) is Scatter:       # a slice's gradient: add it into an owned buffer
                prev = grads.get(k)
                if prev is None:
                    prev = gi.dense(xp, x.dtype)
                else:
                    if k not in owned or not hasattr(prev, "__setitem__"):   # NumPy scalar
                        prev = xp.asarray(prev, copy=True)
                    gi.add_into(prev)
                grads[k] = prev
                owned.add(k)
                continue
            if gi.shape != x.shape or gi.dtype != x.dtype:
                gi = _fit(xp, gi, x.shape, x.dtype)
            prev = grads.get(k)
            if prev is None:
                grads[k] = gi
            elif k in owned:
                prev += gi                # in place for arrays; a NumPy scalar rebinds
                grads[k] = prev
            else:
                grads[k] = prev + gi
                owned.add(k)
        gs = gi = prev = None           # grads now holds each gradient alone (see vjp_in_place)
    return grads


class Shaped(tuple):
    """What a rule sees of an input that its primitive does not save: shape and dtype.

    >>> Shaped(((2, 3), "float32")).ndim
    2
    """

    __slots__ = ()
    shape = property(operator.itemgetter(0))
    dtype = property(operator.itemgetter(1))

    @property
    def ndim(self):
        return len(self[0])

    @property
    def size(self):
        n = 1
        for s in self[0]:
            n *= s
        return n


def _stand_ins(inputs, fits, be):
    """``inputs`` with a ``Shaped`` for each array input that was not saved (dtypes as
    xpgrad's for rules run on Tensors: ``be`` given)."""
    out = list(inputs)
    i = 0
    for fit in fits:
        if fit is not None:
            dt = fit[1]
            if dt.__class__ is int:
                dt = _DTYPES[dt]
            out[i] = Shaped((fit[0], dt if be is None else be.xg_dtype(dt)))
        i += 1
    return out


# A node names a dtype by a small int (a dtype object would keep the node GC-tracked: CPython
# untracks a tuple only when no item is a GC-capable non-tuple). Backends reuse one dtype object
# per dtype, so the table stays small; past its bound the dtype itself is stored.
_DTYPES: list = [None]          # code 0 is unused: ``get(...) or`` treats it as missing
_DTYPE_CODES: dict = {}


def _dtype_code(dt):
    if len(_DTYPES) > 256:
        return dt
    _DTYPE_CODES[id(dt)] = len(_DTYPES)
    _DTYPES.append(dt)
    return len(_DTYPES) - 1


def _tensors(res, ks, be, variables):
    """A node's residuals as Tensors with their recorded keys (for rules run on the xpgrad
    namespace, which an outer tape records); trainable Variables as themselves."""
    out = []
    for i, r in enumerate(res):
        if variables is not None and variables[i] is not None:
            out.append(variables[i])
        elif r is None or type(r) in _scalar_types:    # a Python constant (np.float64: no)
            out.append(r)
        else:
            out.append(_keyed(r, be, ks[i]))
    return out


_scalar_types = _exact_scalars = frozenset((int, float, bool, complex))
# An array of at most this many elements is kept even where its rule does not read it: freeing
# it saves nothing, and a node holding a (shape, dtype) tuple takes more GC passes to untrack
_SMALL = 256
_NO_PARAMS: dict = {}


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
