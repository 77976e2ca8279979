"""Tensor gradient hooks, PyTorch's ``t.register_hook(fn)``: when a backward walk has the total
gradient of ``t``, ``fn(grad)`` runs; a Tensor it returns replaces the gradient flowing on (to
the inputs of the node that made ``t``, and as ``t``'s own gradient where ``t`` is a source).

The registry is keyed by the tensor's tape key (``Tensor._key``) and refers to a tensor's
hooks weakly: the tensor holds them (its ``_hooks`` slot), and so do the live tapes that know
it, so they go when the tensor and those tapes are collected, a hook that reads its own tensor
(or a model's method hooked on its Variables) too, as PyTorch's reference cycle does. A walk
costs nothing more per node while ``HOOKS`` is empty: ``backward._walk`` checks it once per
walk and only then takes gradients through ``hooked_take``. The rules (docs/porting.md):

- an intermediate's hooks run once, on the sum of the gradients of all its uses, when the walk
  reaches the node that made it (a tensor used twice: once, on the sum, as PyTorch);
- a leaf's (a Variable's, a watched tensor's) run when it is a source of the gradient asked
  for, and change the gradient returned (PyTorch's hook on a leaf changes ``.grad``);
- on a higher-order walk (another tape recording) the hook gets the recorded gradient, a
  Tensor on that tape, so the outer tape differentiates the hook too;
- under ``xg.function`` a hook runs as Python like any other code: its xpgrad operations
  are traced and replay, its Python side effects (a print, appending to a list) happen on the
  warm-up and trace calls, not on replays; registering or removing any hook makes a traced
  step trace anew (``_State``);
- inside ``xg.vmap`` the hook gets one example's gradient, as every function there does;
- under ``DistributedGradientTape`` the hooked gradient is reduced (no overlapped buckets
  while any hook is registered).

>>> import xpgrad as xg
>>> x = xg.asarray([1.0, 2.0])
>>> with xg.GradientTape() as tape:
...     tape.watch(x)
...     y = x * 3.0
...     handle = y.register_hook(lambda g: g * 2.0)
...     total = xg.sum(y)
>>> tape.gradient(total, x).tolist()
[6.0, 6.0]
>>> handle.remove()
"""
from __future__ import annotations

import itertools
import weakref

from .accumulate import Scatter
from .tape_recording import next_key
from .tensor import Tensor, _wrap
from .trace_thread import RUNNING, THREAD

#: tape key -> a weak reference to that key's ``_Hooks`` (emptied as they are collected)
HOOKS: dict = {}


class _Hooks:
    """One tensor's hooks on one key: ``{handle id: hook}`` in registration order. Held by the
    tensor (``Tensor._hooks``, {key: _Hooks}) and by the live tapes that know the key, never
    by the registry, so a hook referring to its tensor does not keep it alive."""

    __slots__ = ("key", "backend", "hooks", "tensor_ref", "__weakref__")

    def __init__(self, key: int, backend):
        self.key, self.backend, self.hooks = key, backend, {}
        self.tensor_ref = None


def _forget(key: int):
    """The callback of ``HOOKS[key]``: its hooks were collected."""
    def forget(ref):
        if HOOKS.get(key) is ref:
            del HOOKS[key]
    return forget


def _hooks_of(key: int):
    """The ``_Hooks`` registered on ``key``, or None."""
    ref = HOOKS.get(key)
    return None if ref is None else ref()


_handle_ids = itertools.count(1).__next__


class _State:
    """What a trace guards on: the version of every tensor's hooks at once. Each registration
    or removal takes the next, so a traced step whose walk ran without a hook registered since
    (on a Variable, say) traces anew, as module hooks do (``nn/module_hooks.py``)."""

    version = 0


STATE = _State()
_versions = itertools.count(1).__next__


def _changed() -> None:
    tracer = THREAD.tracer
    if tracer is not None:        # the traced function registers it itself (jit/trace_state)
        tracer.attribute_writes.add((id(STATE), "version"))
    STATE.version = _versions()


def walk_starts(higher: bool):
    """Called once by each backward walk: the set ``hooked_take`` fills while any hook is
    registered, else None (the walk then runs as without hooks). Under an ``xg.function``
    trace the program is kept for the hooks' version (``_State``)."""
    if RUNNING[0] and THREAD.tracer is not None:
        from .jit.trace_state import guard_value

        guard_value(STATE, "version", STATE.version)
    return set() if HOOKS else None


class RemovableHandle:
    """What ``Tensor.register_hook`` returns: ``handle.remove()`` unregisters the hook (twice
    is harmless, as PyTorch's).

    >>> import xpgrad as xg
    >>> handle = xg.asarray([1.0]).register_hook(print)
    >>> handle.remove(); handle.remove()
    """
    __slots__ = ("_key", "_id")

    def __init__(self, key: int, hook_id: int):
        self._key, self._id = key, hook_id

    def remove(self) -> None:
        holder = _hooks_of(self._key)
        if holder is not None and self._id in holder.hooks:
            del holder.hooks[self._id]
            _changed()
            if not holder.hooks:
                del HOOKS[self._key]

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


def register_hook(tensor: Tensor, hook) -> RemovableHandle:
    """Register ``hook(grad) -> Tensor or None`` on ``tensor`` (``Tensor.register_hook``).

    >>> import xpgrad as xg
    >>> w = xg.Variable([1.0, -2.0])
    >>> _ = w.register_hook(lambda g: xg.clip(g, -0.5, 0.5))
    >>> with xg.GradientTape() as tape:
    ...     loss = xg.sum(w * w)
    >>> tape.gradient(loss, w).tolist()
    [0.5, -0.5]
    """
    if not callable(hook):
        raise TypeError(f"register_hook(hook): hook must be callable, called with the "
                        f"gradient, got {type(hook).__name__}")
    if not (tensor.dtype.is_floating or tensor.dtype.is_complex):
        raise RuntimeError(f"register_hook: a tensor of dtype {tensor.dtype} has no gradient "
                           "(only floating-point tensors do), so its hook would never run")
    key = tensor._key
    if not key:
        key = tensor._key = next_key()
    holders = getattr(tensor, "_hooks", None)
    if holders is None:
        holders = tensor._hooks = {}
    holder = holders.get(key)
    if holder is None:
        holder = holders[key] = _Hooks(key, tensor._backend)
        # a weak reference to the tensor, held by its _Hooks: when the tensor alone is
        # freed, the tapes that know it take its hooks over (in a collected cycle it goes too)
        holder.tensor_ref = weakref.ref(tensor, _kept_by_tapes(holder))
        _keep_on_tapes(holder)
    if _hooks_of(key) is not holder:        # new, or all its hooks were removed
        HOOKS[key] = weakref.ref(holder, _forget(key))
    hook_id = _handle_ids()
    holder.hooks[hook_id] = hook
    _changed()
    return RemovableHandle(key, hook_id)


def _keep_on_tapes(holder: _Hooks) -> None:
    """The live tapes that know ``holder``'s key hold it: a loss function's hooked
    intermediate is freed when it returns, and its tape still runs the hook (PyTorch's graph
    holds the hook as long)."""
    from .tape import LIVE_TAPES

    for tape in list(LIVE_TAPES):
        if holder.key in tape._keys:
            kept = tape.__dict__.setdefault("_hook_holders", set())
            kept.add(holder)


def _kept_by_tapes(holder: _Hooks):
    """The callback of a hooked tensor's weak reference: the tapes that know the key now
    (watched since the hook was registered) keep its hooks."""
    def tensor_gone(_ref):
        _keep_on_tapes(holder)
    return tensor_gone


def hooked_take(pop, higher: bool, done: set):
    """``grads.pop`` for a walk while hooks are registered: a hooked key's gradient is passed
    through its hooks as it is taken (the walk takes a key's gradient once, when it is
    total). ``done`` collects the keys whose hooks ran (``run_on_sources`` skips them)."""
    hooks = HOOKS

    def take(key, default):
        g = pop(key, default)
        if g is not None and key in hooks:
            done.add(key)
            g = run_hooks(key, g, higher)
        return g
    return take


def run_on_sources(grads: dict, skeys, done: set, higher: bool) -> None:
    """Run the hooks of the sources no node made (leaves: Variables, watched tensors) on
    their gradients in ``grads``, replacing them there."""
    for key in skeys:
        if key in HOOKS and key not in done:
            g = grads.get(key)
            if g is not None:
                grads[key] = run_hooks(key, g, higher)


def run_hooks(key: int, g, higher: bool):
    """``g`` (a raw array, or a Tensor on a higher-order walk) through the hooks on ``key`` in
    registration order; each gets the previous one's result."""
    holder = _hooks_of(key)
    if holder is None:                  # collected since the walk began
        return g
    backend, hooks = holder.backend, holder.hooks
    if g.__class__ is Scatter:          # a slice's gradient kept unmade: the hook sees it whole
        g = g.dense(_namespace() if higher else backend.xp)
    raw = not isinstance(g, Tensor)     # a first-order walk's raw array
    t = _wrap(g, backend) if raw else g
    for hook in list(hooks.values()):
        out = hook(t)
        if out is None:
            continue
        if not isinstance(out, Tensor):
            raise TypeError(f"a gradient hook must return a Tensor or None, got "
                            f"{type(out).__name__} from {_name(hook)}")
        if out.shape != t.shape:
            raise ValueError(f"a gradient hook must return a gradient of the tensor's shape "
                             f"{tuple(t.shape)}, got {tuple(out.shape)} from {_name(hook)}")
        t = out
    return t._data if raw else t


def _name(hook) -> str:
    return getattr(hook, "__qualname__", None) or repr(hook)


def _namespace():
    from . import tensor_methods

    return tensor_methods._ns
