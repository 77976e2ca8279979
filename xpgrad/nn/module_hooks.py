"""Forward hooks: PyTorch's ``register_forward_pre_hook`` and ``register_forward_hook`` (and the
registry and handles of the backward ones, ``module_backward_hooks.py``).

A pre-hook ``hook(module, args)`` runs before ``forward`` and may return new arguments (a value
that is not a tuple is the one argument); a forward hook ``hook(module, args, output)`` runs
after it and may return a new output. Hooks run in registration order (``prepend=True`` puts
one first); ``with_kwargs=True`` passes the keyword arguments too (a pre-hook then returns None
or ``(args, kwargs)``; a forward hook is called ``hook(module, args, kwargs, output)``). Each
registration returns a handle whose ``remove()`` takes the hook off (also as a context manager).

Hooks run where the module is called (``module(x)``, not ``module.forward(x)``, as in PyTorch):
``Sequential`` and ``MLP`` call a hooked layer, never fusing it with the activation after it.
Under ``xg.function`` a hook runs while the step traces and what it computes is part of the
program; a Python side effect (appending to a list) happens when the step traces (or runs
eagerly), not when it replays, as any Python code there. Registering or removing any hook makes the next call of a traced function trace anew.
A module call costs nothing more while no module has hooks (one test of a global set); while
some module has, every module call looks for its own (a dictionary read).

>>> import xpgrad as xg
>>> lin = xg.nn.Linear(2, 2, init="ones", rng=0)
>>> handle = lin.register_forward_hook(lambda module, args, out: out + 1.0)
>>> lin(xg.ones((1, 2))).tolist()
[[3.0, 3.0]]
>>> handle.remove()
>>> lin(xg.ones((1, 2))).tolist()
[[2.0, 2.0]]
"""
from __future__ import annotations

import itertools
import weakref

from .._args import flag
from ..jit.capture import THREAD as _TRACES, guard_value, note_write
from .module_backward_hooks import wrap_inputs, wrap_outputs
from .module_structure import guard_structure


#: hook-set versions: each registration or removal, on any module, takes the next, never reused
_VERSIONS = itertools.count(1)


class _State:
    """What a trace guards on: the version of every module's hooks at once (one guard per
    program, however many modules it calls)."""

    version = 0


STATE = _State()


#: the ids of the ``Hooks`` holding hooks, and of the traces running (``jit/capture.py`` adds
#: its session's): while it is empty ``Module.__call__`` calls ``forward`` at once (a global's
#: truth, the cheapest test there is); else every module call takes ``call``, which guards a
#: trace on ``STATE.version`` and runs the module's own hooks, if any
ACTIVE = set()


class Hooks:
    """A module's hooks: ``{handle id: (hook, with_kwargs)}`` before and after ``forward``,
    ``{handle id: hook}`` for the backward ones (``module_backward_hooks``); ``ACTIVE`` holds
    its id while it holds any (a deep copy's or an unpickled one's too)."""

    TABLES = ("pre", "post", "backward_pre", "backward")

    def __init__(self):
        self.pre = {}
        self.post = {}
        self.backward_pre = {}
        self.backward = {}

    def __bool__(self):
        return bool(self.pre or self.post or self.backward_pre or self.backward)

    def changed(self):
        (ACTIVE.add if self else ACTIVE.discard)(id(self))

    def __setstate__(self, state):
        for table in self.TABLES:          # one pickled before the backward hooks were
            setattr(self, table, {})
        vars(self).update(state)
        self.changed()

    def __del__(self, _discard=ACTIVE.discard):      # bound now: at exit the global may be gone
        _discard(id(self))


class RemovableHandle:
    """What ``register_forward_pre_hook`` / ``register_forward_hook`` return (PyTorch's
    ``torch.utils.hooks.RemovableHandle``): ``remove()`` takes the hook off (again: nothing);
    ``with handle:`` removes it at the end of the block. A copy of a handle (a module holding
    its handles, deep-copied or pickled) removes the hook from the copy of the module, as
    PyTorch's, whose last hook gone, the copy takes the plain call again.

    >>> import xpgrad as xg
    >>> relu = xg.nn.ReLU()
    >>> with relu.register_forward_pre_hook(lambda m, args: -args[0]):
    ...     inside = relu(xg.asarray([1.0])).tolist()
    >>> inside, relu(xg.asarray([1.0])).tolist()
    ([0.0], [1.0])
    """

    _ids = itertools.count()

    def __init__(self, module, hooks):
        self.id = next(self._ids)
        self._module = weakref.ref(module)
        self._hooks = weakref.ref(hooks)

    def remove(self) -> None:
        hooks = self._hooks()
        if hooks is None or all(getattr(hooks, table).pop(self.id, None) is None
                                for table in hooks.TABLES):
            return
        _changed()
        hooks.changed()
        module = self._module()
        if not hooks and module is not None and vars(module).get("_hooks") is hooks:
            del vars(module)["_hooks"]           # Sequential may fuse it again

    def __getstate__(self):
        # the module and its hooks, not weak references to them: deepcopy maps them to the
        # copies it makes (pickle stores them), and __setstate__ refers to those
        return {"id": self.id, "module": self._module(), "hooks": self._hooks()}

    def __setstate__(self, state):
        self.id = state["id"]
        self._module, self._hooks = _weak(state["module"]), _weak(state["hooks"])

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()
        return False


def _dead():
    return None


def _weak(obj):
    """A weak reference to ``obj``, or one already dead for None."""
    return _dead if obj is None else weakref.ref(obj)


def _changed():
    if _TRACES.tracer is not None:
        note_write(STATE, "version")
    STATE.version = next(_VERSIONS)


def register(module, table, hook, prepend, with_kwargs, what) -> RemovableHandle:
    """Add ``hook`` to ``module``'s ``table`` (one of ``Hooks.TABLES``); ``what`` names the
    method. The backward tables hold the hook alone."""
    owner = f"{type(module).__name__}.{what}"
    if not callable(hook):
        raise TypeError(f"{owner}: hook must be callable, got {type(hook).__name__} {hook!r}")
    prepend = flag(prepend, "prepend", owner)
    with_kwargs = flag(with_kwargs, "with_kwargs", owner)
    hooks = vars(module).get("_hooks")
    if hooks is None:
        hooks = vars(module)["_hooks"] = Hooks()
    handle = RemovableHandle(module, hooks)
    entries = getattr(hooks, table)
    older = list(entries.items()) if prepend else ()
    if prepend:
        entries.clear()
    entries[handle.id] = hook if table.startswith("backward") else (hook, with_kwargs)
    entries.update(older)                                  # after it, in their order
    _changed()
    hooks.changed()
    return handle


def call(module, args, kwargs):
    """``module(*args, **kwargs)`` with its hooks (``Module.__call__`` while ``ACTIVE``)."""
    tracer = _TRACES.tracer
    if tracer is not None:
        guard_value(STATE, "version", STATE.version)
        guard_structure(module, tracer)       # a model read from a closure (module_structure)
    hooks = vars(module).get("_hooks")
    if hooks is None:
        return module.forward(*args, **kwargs)
    for hook, with_kwargs in list(hooks.pre.values()):
        if with_kwargs:
            result = hook(module, args, kwargs)
            if result is not None:
                if not (isinstance(result, tuple) and len(result) == 2
                        and isinstance(result[1], dict)):
                    raise RuntimeError(f"forward pre-hook {_name(hook)} (with_kwargs=True) "
                                       f"must return None or a tuple (new_args, new_kwargs), "
                                       f"got {type(result).__name__}")
                args, kwargs = result
                args = args if isinstance(args, tuple) else (args,)
        else:
            result = hook(module, args)
            if result is not None:
                args = result if isinstance(result, tuple) else (result,)
    backward = None
    if hooks.backward or hooks.backward_pre:
        args, backward = wrap_inputs(module, hooks, args)
    output = module.forward(*args, **kwargs)
    for hook, with_kwargs in list(hooks.post.values()):
        result = hook(module, args, kwargs, output) if with_kwargs else hook(module, args, output)
        if result is not None:
            output = result
    return output if backward is None else wrap_outputs(backward, output)


def _name(hook):
    return getattr(hook, "__qualname__", None) or repr(hook)
