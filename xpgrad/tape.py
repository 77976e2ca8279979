"""GradientTape: records operations on watched tensors and differentiates them in reverse.

TensorFlow semantics: ``watch``, ``watch_accessed_variables``, ``persistent``, ``gradient`` with
``output_gradients`` and ``unconnected_gradients``, ``jacobian``, ``batch_jacobian``,
``stop_recording``, ``reset``.

How a tape records (keys, not tensors; nodes the cyclic GC untracks) is in ``tape_recording.py``,
a mixin of ``GradientTape``; the backward walk is in ``backward.py``. Where hooks go: a callback
when a source's gradient is final belongs in ``backward._walk``, after the last node (in the
reverse walk) whose input keys hold that source's key (issue 16); tracing primitive calls for
replay belongs in ``primitive.apply`` around the kernel/forward call, or in
``TapeRecording._record`` for the taped ones (issue 18).

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
import warnings
import weakref

import numpy as np

from ._args import flag
from .backward import _SOLE, _SOLE_BASE, _walk
from .deferred import FOLDABLE, Product, deferred_gradient
from .gradient_hooks import HOOKS
from .gradient_call import (check_sources, finish, seed_of, targets_and_seeds,
                            walk_seed, walk_seeds, watched_tensors)
from .pytree import is_node, rebuild
from .primitive import tape_state
from .tape_jacobians import TapeJacobians
from .tape_recording import TapeRecording, next_key
from .tensor import Tensor, Variable, _wrap


#: every tape not yet collected: an in-place write checks none watches its target (inplace.py)
LIVE_TAPES = weakref.WeakSet()


def known_to_tapes(key: int) -> bool:
    """Whether a live tape knows the tape key ``key`` (a tape that gave its gradients forgot
    its keys): else a tensor holding it is, to a write, a value no tape sees (``inplace.py``).

    >>> import xpgrad as xg
    >>> x = xg.asarray([1.0, 2.0])
    >>> with xg.GradientTape() as tape:
    ...     tape.watch(x)
    ...     y = x * 3.0
    >>> known_to_tapes(y._key), tape.gradient(y, x).tolist(), known_to_tapes(y._key)
    (True, [3.0, 3.0], False)
    """
    for tape in LIVE_TAPES:
        if key in tape._keys:
            return True
    return False


def _is_float(t: Tensor) -> bool:
    # a NumPy/CuPy float or complex dtype says so itself; others (bfloat16's kind is "V", an
    # array-API dtype may have no kind) ask the backend
    if getattr(t._data.dtype, "kind", None) in _FLOAT_KINDS:
        return True
    return t._backend.xg_dtype(t._data.dtype).kind in "fc"


_FLOAT_KINDS = frozenset("fc")


class GradientTape(TapeRecording, TapeJacobians):
    """Record operations for automatic differentiation (see the module docstring)."""

    #: xpgrad.distributed sets this on an instance for one gradient call: ``hook(i, grads)`` is
    #: called once the backward walk has passed node ``i`` (see ``backward._walk``)
    _walk_hook = None

    def __init__(self, persistent: bool = False, watch_accessed_variables: bool = True):
        # flag() checks anything but a bool (a call costs 0.1 us of every step)
        self._persistent = persistent if persistent is False or persistent is True else \
            flag(persistent, "persistent", "GradientTape")
        self._auto = watch_accessed_variables if watch_accessed_variables is True else \
            flag(watch_accessed_variables, "watch_accessed_variables", "GradientTape")
        self._nodes: list = []
        self._home = None             # the backend of the first node; nodes store only others
        self._keys: set = set()       # keys of the tensors watched or derived from one
        self._watched: set = set()    # keys watched as gradient sources (explicitly or by access)
        self._variables: dict = {}    # key -> Variable watched (explicitly or by access)
        self._used = False
        self._recording = False
        self._differentiated_while_recording = False   # for warn_no_path's hint
        LIVE_TAPES.add(self)

    # -- recording ----------------------------------------------------------------------------
    def __enter__(self):
        if self._recording:
            raise RuntimeError("this GradientTape is already recording")
        tape_state.recording.append(self)       # _push, inline
        self._recording = True
        return self

    def __exit__(self, *exc):
        rec = tape_state.recording
        if rec and rec[-1] is self:             # the innermost tape: _pop's usual case
            rec.pop()
            self._recording = False
        else:
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
        """Watch a floating-point tensor (or nested lists, tuples and dicts of them, as
        TensorFlow's; a Module: the tensors ``tape.gradient(loss, model)`` differentiates) so
        gradients can reach it."""
        if not isinstance(tensor, Tensor):
            if is_node(tensor):
                for t in watched_tensors(tensor):
                    self.watch(t)
                return
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
        if isinstance(tensor, Variable):     # a non-trainable one too, once watched (as TF)
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
        self._differentiated_while_recording = False

    # -- differentiation ----------------------------------------------------------------------
    def gradient(self, target, sources, output_gradients=None,
                 unconnected_gradients="none"):
        """Gradient of ``target`` (or the sum of its entries) with respect to ``sources``.

        ``sources`` is a tensor, or a list, tuple, dict (or namedtuple) of them, nested as
        TensorFlow's, or a Module (alone or among them: its gradient is shaped like the model,
        as ``xg.grad(loss)(model)``'s, None at buffers and frozen weights); the result has the
        same structure. A source ``target`` does not depend on
        gives None, or zeros with ``unconnected_gradients="zero"``. ``output_gradients``
        weights a non-scalar target; for a complex one, ``y``, it is the gradient of
        ``Re(sum(conj(output_gradients) * y))`` (of ``Re(sum(y))`` by default, TensorFlow's). A
        nested ``target`` is differentiated as the sum of its Tensors (TensorFlow's),
        ``output_gradients`` then giving one entry per Tensor in order.
        """
        if isinstance(sources, Tensor) and unconnected_gradients == "none":   # the usual call
            single, src, structure = True, [sources], None
        else:
            single, src, structure = check_sources(sources, unconnected_gradients)
        if isinstance(target, Tensor):
            seed = seed_of(target, output_gradients)    # a bad argument leaves the tape usable
            unrecorded = target._key not in self._keys
        else:
            target, seed = targets_and_seeds(target, output_gradients)
            unrecorded = False
        if self._used:
            self._check_usable()        # raises unless the tape is persistent
        self._used = True
        grads = self._backward(target, src, seed, consume=not self._persistent,
                               defer=bool(FOLDABLE))
        out = []
        refcount, take = sys.getrefcount, grads.pop
        for s in src:
            key = s._key
            g = take(key, None) if key else None
            if g is None:
                out.append(finish(None, s, unconnected_gradients))
                continue
            if g.__class__ is Product:      # a weight's, for plain SGD to fold (deferred.py)
                out.append(deferred_gradient(g, s._backend, key))
                grads[key] = Product(g.a, g.b)    # the same source again: its own array
                continue
            if g.__class__ is not Tensor and not isinstance(g, Tensor):
                # the aliasing policy (backward.py): a gradient something else holds is copied.
                # Needed where it views output_gradients (y = x + 0, a reshape): t[...] = v
                # copies a shared buffer, but a NumPy seed is wrapped without a copy and
                # t.numpy() is a writable view, so a reused seed buffer would rewrite the
                # gradient (PyTorch's autograd.grad returns g itself; TF's tensors are frozen)
                if refcount(g) > _SOLE or ((base := getattr(g, "base", None)) is not None
                                           and refcount(base) > _SOLE_BASE):
                    # NumPy's own copy, as xp.asarray(g, copy=True) makes it (layout kept)
                    g = g.copy(order="K") if g.__class__ is np.ndarray else \
                        s._backend.xp.asarray(g, copy=True)
                out.append(_wrap(g, s._backend))        # finish(g, ...), inline
            else:
                out.append(g)
            grads[key] = g      # the same source again in the list gets a copy
        if out and out[0] is None and unconnected_gradients == "none" and all(
                o is None for o in out) and (
                unrecorded or isinstance(target, Tensor)      # or an integer target
                and not (target.dtype.is_floating or target.dtype.is_complex)):
            warn_no_path("gradient", stacklevel=3, tape=self, sources=src)
        if structure is not None:
            return rebuild(structure, out)
        return out[0] if single else (tuple(out) if isinstance(sources, tuple) else out)

    def _check_usable(self):
        if self._used and not self._persistent:
            raise RuntimeError("a non-persistent GradientTape can only be used to compute one "
                               "set of gradients (or jacobians); create it with "
                               "GradientTape(persistent=True) to call gradient() again")
        self._used = True

    def _release(self):
        self._nodes = []
        self._home = None
        self._keys = set()
        self._watched = set()

    def _backward(self, target, sources, seed, consume, defer=False):
        """Walk the nodes in reverse from ``target`` (a Tensor, or a list of them with a list of
        seeds: the sum of them is differentiated); return {tensor key: gradient}.

        When another tape records, the rules run on Tensors through the xpgrad namespace, so
        that tape records the gradient computation itself (higher-order gradients).
        """
        was_recording = self._recording
        if was_recording:
            self._pop()   # gradient computations are not recorded on this tape
            self._differentiated_while_recording = True
        try:
            higher = bool(tape_state.recording)
            if isinstance(target, list):
                seeds = walk_seeds(target, seed, higher, next_key)
            else:
                if not target._key:     # a target no node made: only itself as a source sees it
                    target._key = next_key()
                # walk_seed's usual case, inline: a raw seed for a first-order walk
                seeds = {target._key: seed if not (higher or isinstance(seed, Tensor))
                         else walk_seed(seed, target, higher)}
            # deferred weight gradients: not for a higher-order walk, a walk with a hook
            # (a distributed tape's, which reduces them as they come; a tensor's, which
            # reads the gradient), or a trace
            if defer and not higher and self._walk_hook is None and not HOOKS:
                defer = not _tracing()
            else:
                defer = False
            skeys = {sources[0]._key} if len(sources) == 1 else {s._key for s in sources}
            return _walk(self._nodes, self._home, seeds, skeys, consume, higher,
                         self._walk_hook, defer)
        finally:
            if consume:
                self._release()
            if was_recording:
                self._push()


def _tracing() -> bool:
    """Whether an ``xg.function`` trace runs in this thread (the import, once: the jit package
    imports this module, and an import statement costs 1 us per gradient call)."""
    global _current_tracer
    if _current_tracer is None:
        from .jit.capture import current_tracer

        _current_tracer = current_tracer
    return _current_tracer() is not None


_current_tracer = None


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

        try:
            return asarray(t)
        except (TypeError, ValueError):
            raise TypeError(f"stop_gradient takes a tensor or an array, got "
                            f"{type(t).__name__} {t!r:.40}") from None
    return _wrap(t._data, t._backend)


def warn_no_path(method, stacklevel, tape=None, sources=()):
    """The RuntimeWarning of a ``gradient``/``jacobian`` whose target ``tape`` never saw; when
    that tape differentiated inside its own ``with`` block (TensorFlow would have recorded it,
    and a PyTorch user's ``create_graph=True`` expects so), the warning says how to nest; a
    source Variable made with ``trainable=False`` (which no tape watches by itself) is named."""
    message = (f"tape.{method}: the target depends on no tensor this tape watched, so every "
               "gradient is None (was it computed outside `with tape:`, from tensors not "
               "watched, or only through operations without a gradient, such as round, argmax "
               "or a cast to an integer dtype?)")
    frozen = [s.name for s in sources if isinstance(s, Variable) and not s.trainable]
    if frozen:
        message += (f". Variable {frozen[0]!r} has trainable=False, and a tape watches only "
                    "trainable Variables by itself: tape.watch it inside the block to "
                    "differentiate it")
    if getattr(tape, "_differentiated_while_recording", False):
        message += (". This tape took a gradient inside its own `with` block, and a tape does "
                    "not record its own gradient computations: for a gradient of a gradient, "
                    "take the inner one from a second tape opened inside this one's block")
    warnings.warn(message, RuntimeWarning, stacklevel=stacklevel)
