"""Module: the base class of layers and models.

A Module finds its Variables and sub-modules through its attributes (also inside lists, tuples
and dicts), carries a ``training`` flag switched by ``train()``/``eval()``, and calling it runs
``forward``.

>>> import xpgrad as xg
>>> class Scale(xg.nn.Module):
...     def __init__(self):
...         super().__init__(name="scale")
...         self.k = xg.Variable(2.0, name="scale/k")
...     def forward(self, x):
...         return self.k * x
>>> m = Scale()
>>> m(xg.asarray(3.0)).item(), [v.name for v in m.trainable_variables]
(6.0, ['scale/k'])
"""
from __future__ import annotations

import threading

from .._args import flag, no_attribute
from ..backend import MixedBackendError
from ..tensor import Variable
from ..jit.capture import THREAD as _TRACES, guard_value, note_write
from ._checks import known_keywords
from ..keyword_checks import check_positionals
from .module_cache import HOLDER, Holder, changed as _structure_changed
from .module_discovery import ModuleDiscovery
from .module_state import ModuleState
from .module_user_nodes import refuse_state_in_user_nodes as _refuse_state_in_user_nodes
from ..pytree_nodes import REGISTERED_CLASSES as _USER_NODE_CLASSES
from .module_structure import SETTING_TYPES, STRUCTURE, note_own_write, structure
from ..trace_thread import CALLING as _CALLING, RUNNING as _TRACING
from .module_hints import keras_call_keyword, not_initialized, note_layer, pytorch_hint
from .module_hooks import ACTIVE as _HOOKS_ACTIVE, call as _call_hooked
from .variable_names import name_after_paths, name_unnamed


#: what an attribute's value may hold Modules and Variables inside
_CONTAINERS = (list, tuple, dict)
#: private attributes whose change changes what the walks find (``trainable``'s flag, the
#: class: a parametrization's ``_items``)
_WALKED_PRIVATE = frozenset(("_trainable", "__class__"))


def held_items(value, key, join, deeper=False, walking=()):
    """(path, item) pairs for the Modules and Variables held by one attribute ``value`` named
    ``key``, at any depth of lists, tuples and dicts (``walking``: the ids of the containers
    being walked, so a list holding itself ends there). ``join(path, index, item, deeper)``
    names item ``index`` of the container at ``path`` (``deeper``: the container is a dict or
    inside another): ``xpgrad_path`` for ``named_variables``, ``_torch_tree.torch_path`` for
    PyTorch's keys.

    >>> import xpgrad as xg
    >>> held = {"a": [xg.nn.ReLU()], "n": 3}
    >>> [p for p, _ in held_items(held, "d", xpgrad_path)], [
    ...     p for p, _ in held_items([xg.nn.ReLU(), held], "xs", xpgrad_path)]
    (['d/a/0'], ['xs0', 'xs1/a/0'])
    """
    if isinstance(value, (Module, Variable)):
        yield key, value
        return
    if not isinstance(value, _CONTAINERS) or id(value) in walking:
        return
    walking = (*walking, id(value))
    is_dict = isinstance(value, dict)
    for i, item in (value.items() if is_dict else enumerate(value)):
        if isinstance(item, _HOLDERS):        # not numbers, strings: most items of a list
            yield from held_items(item, join(key, i, item, deeper or is_dict), join, True,
                                  walking)


def _holds_module(value, key) -> bool:
    """Whether an attribute ``value`` is a Module or holds one (in lists, tuples, dicts)."""
    if isinstance(value, Module):
        return True
    return isinstance(value, _CONTAINERS) and any(
        isinstance(item, Module) for _, item in held_items(value, key, xpgrad_path))


def xpgrad_path(key, i, item, deeper):
    """``named_variables``' path of item ``i`` of the container at ``key`` (see Module)."""
    if deeper:
        return f"{key}/{i}"
    if key == "layers" and isinstance(item, Module):
        return f"{item.name}{i}"
    return f"{key}{i}"


class Module(ModuleDiscovery, ModuleState):
    """Base class: subclasses set attributes in ``__init__`` and define ``forward``.

    Paths of variables (``named_variables``) are built from the module tree: an attribute holding
    a Module or Variable contributes its attribute name; item ``i`` of a list attribute ``xs``
    contributes ``f"xs{i}"``, except in a list named ``layers``, where a Module contributes
    ``f"{module.name}{i}"`` (so an MLP's first layer is ``"mlp/linear0"``); entry ``k`` of a
    dict attribute ``d`` contributes ``"d/k"``; deeper, each list index or dict key adds
    ``/i`` or ``/k`` (``xs[1][0]`` is ``"xs1/0"``, ``d["a"][0]`` is ``"d/a/0"``); a
    ``ModuleList`` or ``ModuleDict`` attribute ``xs`` gives PyTorch's layout, ``"xs/1"`` and
    ``"xs/k"``. Attributes starting with ``_`` are skipped.
    Checkpoints match variables by these paths.

    A Module is also a pytree (``docs/autodiff.md``): its leaves are the tensors it holds, in
    ``named_variables()`` order, so ``xg.tree_map``, ``xg.grad`` and ``xg.vmap`` take a model;
    ``xg.tree_map`` returns a copy holding the new leaves and leaves the model as it was.

    >>> import xpgrad as xg
    >>> lin = xg.nn.Linear(3, 2, rng=0)
    >>> list(lin.named_variables()), [p.shape for p in xg.tree_leaves(lin)]
    (['linear/w', 'linear/b'], [(3, 2), (2,)])
    >>> half = xg.tree_map(lambda p: p / 2, lin)     # a Linear of plain tensors: a value
    >>> type(half).__name__, half.trainable_variables, bool(xg.all(half.w * 2 == lin.w))
    ('Linear', [], True)
    """

    #: PyTorch's positional order of the layer's arguments (xpgrad's names), where a
    #: positional call past xpgrad's own would mean something: spelled with keywords in the error
    _TORCH_ORDER: tuple = ()

    def __new__(cls, *args, **kwargs):
        if kwargs:          # PyTorch's keywords (dim=, inplace=) named with this layer
            known_keywords(cls, kwargs)
        if args:            # PyTorch's positional LSTM(3, 4, 1, True, True): which are keywords
            check_positionals(cls, args, cls._TORCH_ORDER)
        new = super().__new__
        # object.__new__ refuses arguments; a mixin's own __new__ gets them, as without this one
        return new(cls) if new is object.__new__ else new(cls, *args, **kwargs)

    def __init__(self, name: str | None = None):
        vars(self)[HOLDER] = Holder()          # the cached walks (module_cache.py)
        if _TRACES.tracer is not None:         # made by a traced function: its structure
            note_write(self, STRUCTURE)        # is no guard (module_structure.py)
        self.name = name or type(self).__name__.lower()
        self.training = True

    @property
    def training(self) -> bool:
        """Training mode (``train()``/``eval()``). Read while an ``xg.function`` traces, it
        is part of what the program assumes (as ``torch.compile`` guards on it): a call after
        the mode changed replays the program traced in the new mode, tracing one if needed."""
        mode = self._training
        if _TRACES.tracer is not None:
            guard_value(self, "training", mode)
        return mode

    @training.setter
    def training(self, mode):
        if _TRACES.tracer is not None:
            note_write(self, "training")
        self._training = mode

    @property
    def _structure_key(self):
        """This module's ``ModuleStructure`` (module_structure.py): what a replay of an
        ``xg.function`` that called or walked the module checks (``guard_structure``)."""
        return structure(self)

    def __setattr__(self, name, value):
        # a Variable replaced by a tensor or an array would leave trainable_variables and
        # state_dict silently (PyTorch refuses to put a Tensor where a Parameter was)
        old = self.__dict__.get(name)
        if isinstance(old, Variable) and value is not None and not isinstance(value, Variable) \
                and not isinstance(getattr(type(self), name, None), property):   # its own check
            raise TypeError(f"{type(self).__name__}.{name} holds the Variable {old.name!r}; "
                            f"setting a {type(value).__name__} there would drop it from "
                            f"trainable_variables and state_dict: update it in place with "
                            f"{name}.assign(...), or assign an xg.Variable")
        if _USER_NODE_CLASSES and not name.startswith("_"):   # registered nodes' Variables
            _refuse_state_in_user_nodes(self, name, value, Module)
        object.__setattr__(self, name, value)
        if name.startswith("_"):
            if name in _WALKED_PRIVATE or (type(self)._items is not Module._items and
                                           name != "_training"):
                _structure_changed()        # after the change (see module_cache.py)
            return
        if name != "training":
            _structure_changed()
            if (_TRACING[0] or _CALLING[0]) and type(value) in SETTING_TYPES:
                note_own_write(self, name)
        if _holds_module(value, name):
            name_after_paths(self)          # its layers' Variables: named after their paths
        elif isinstance(value, Variable):
            name_unnamed(self, name, value)

    def __delattr__(self, name):
        object.__delattr__(self, name)
        _structure_changed()

    def __getattr__(self, name):
        # only for attributes a module lacks: PyTorch's names say where ours are
        if "name" not in vars(self):     # a property failing on it comes here too
            raise not_initialized(self, name)
        raise no_attribute(self, name, pytorch_hint(name))

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, *args, **kwargs):
        try:
            if not _HOOKS_ACTIVE:       # no module has hooks, nothing traces: the usual call
                return self.forward(*args, **kwargs)
            return _call_hooked(self, args, kwargs)
        except MixedBackendError as e:
            note_layer(e, self)
            raise
        except TypeError as e:
            keras = keras_call_keyword(e, kwargs)
            if keras is not None:
                raise keras from None
            raise

    def register_forward_pre_hook(self, hook, *, prepend: bool = False,
                                  with_kwargs: bool = False):
        """Call ``hook(module, args)`` before every ``forward`` of this module (PyTorch's): a
        return value other than None replaces the positional arguments (one that is not a
        tuple is the only argument). ``with_kwargs=True`` calls ``hook(module, args,
        kwargs)``, which returns None or ``(args, kwargs)``. Hooks run in registration order,
        ``prepend=True`` before the others. Returns a handle: ``handle.remove()`` takes the
        hook off. See ``xpgrad/nn/module_hooks.py`` (``xg.function``, ``Sequential``).

        >>> import xpgrad as xg
        >>> lin = xg.nn.Linear(2, 1, init="ones", rng=0)
        >>> handle = lin.register_forward_pre_hook(lambda module, args: args[0] * 2.0)
        >>> lin(xg.ones((1, 2))).tolist()
        [[4.0]]
        """
        from .module_hooks import register

        return register(self, "pre", hook, prepend, with_kwargs, "register_forward_pre_hook")

    def register_forward_hook(self, hook, *, prepend: bool = False, with_kwargs: bool = False):
        """Call ``hook(module, args, output)`` after every ``forward`` of this module
        (PyTorch's): a return value other than None replaces the output. ``args`` are the
        positional arguments forward got (after the pre-hooks); ``with_kwargs=True`` calls
        ``hook(module, args, kwargs, output)``. Order, ``prepend`` and the handle are as for
        ``register_forward_pre_hook``.

        >>> import xpgrad as xg
        >>> model = xg.nn.MLP([2, 3, 1], rng=0)
        >>> shapes = []
        >>> handle = model.layers[0].register_forward_hook(
        ...     lambda module, args, out: shapes.append(out.shape))
        >>> _ = model(xg.ones((4, 2)))
        >>> handle.remove()
        >>> _ = model(xg.ones((4, 2)))
        >>> shapes
        [(4, 3)]
        """
        from .module_hooks import register

        return register(self, "post", hook, prepend, with_kwargs, "register_forward_hook")

    def register_full_backward_pre_hook(self, hook, *, prepend: bool = False):
        """Call ``hook(module, grad_output)`` when a backward walk has the gradients of this
        module call's outputs (PyTorch's): a tuple it returns (one entry per output) replaces
        ``grad_output``. Order, ``prepend`` and the handle are as for the forward hooks; see
        ``xpgrad/nn/module_backward_hooks.py``.

        >>> import xpgrad as xg
        >>> lin = xg.nn.Linear(2, 1, init="ones", rng=0)
        >>> handle = lin.register_full_backward_pre_hook(lambda m, gout: (gout[0] * 0.5,))
        >>> x = xg.ones((1, 2))
        >>> with xg.GradientTape() as tape:
        ...     tape.watch(x)
        ...     y = xg.sum(lin(x))
        >>> tape.gradient(y, x).tolist()
        [[0.5, 0.5]]
        """
        from .module_hooks import register

        return register(self, "backward_pre", hook, prepend, False,
                        "register_full_backward_pre_hook")

    def register_full_backward_hook(self, hook, *, prepend: bool = False):
        """Call ``hook(module, grad_input, grad_output)`` when a backward walk has the
        gradients of this module call's positional inputs (PyTorch's; None for an argument
        that is not a floating tensor): a tuple it returns (one entry per argument) replaces
        ``grad_input``. Order, ``prepend`` and the handle are as for the forward hooks; see
        ``xpgrad/nn/module_backward_hooks.py``.

        >>> import xpgrad as xg
        >>> lin = xg.nn.Linear(2, 1, init="ones", rng=0)
        >>> handle = lin.register_full_backward_hook(lambda m, gin, gout: (gin[0] * 2.0,))
        >>> x = xg.ones((1, 2))
        >>> with xg.GradientTape() as tape:
        ...     tape.watch(x)
        ...     y = xg.sum(lin(x))
        >>> tape.gradient(y, x).tolist()
        [[2.0, 2.0]]
        """
        from .module_hooks import register

        return register(self, "backward", hook, prepend, False, "register_full_backward_hook")

    # -- discovery ----------------------------------------------------------------------------
    def _items(self):
        for key, value in vars(self).items():
            if not key.startswith("_"):
                yield from held_items(value, key, xpgrad_path)

    # -- mode ---------------------------------------------------------------------------------
    def train(self, mode: bool = True) -> "Module":
        """Set training mode (Dropout active) on this module and all below it; returns self."""
        mode = flag(mode, "mode", f"{type(self).__name__}.train")
        self.training = mode
        for m in self.submodules():
            m.training = mode
        return self

    def eval(self) -> "Module":
        """Set inference mode (Dropout off); returns self."""
        return self.train(False)

    def __repr__(self):
        head = f"{type(self).__name__}(name={self.name!r}{self._extra_repr()})"
        active = _REPR.__dict__.setdefault("active", set())
        if id(self) in active:               # a back-reference: a module inside itself
            return head + " (already shown above)"
        active.add(id(self))
        try:
            kids = [f"  {k}: {layer_repr(v)}".replace("\n", "\n  ")
                    for k, v in self._repr_items()]
        finally:
            active.discard(id(self))
        return head if not kids else head + "\n" + "\n".join(kids)

    def _extra_repr(self) -> str:
        return ""

    def _repr_items(self):
        """(label, item) pairs of what ``repr`` shows below this module: its submodules."""
        return ((k, v) for k, v in self._items() if isinstance(v, Module))


def layer_repr(layer) -> str:
    """A module's repr; a function's name (``relu``, ``<lambda>``) for a plain callable."""
    if layer is None or isinstance(layer, Module):
        return repr(layer)
    return getattr(layer, "__name__", None) or repr(layer)


#: what may be or hold a Module or Variable (``held_items`` skips anything else)
_HOLDERS = (Module, Variable, *_CONTAINERS)


#: per thread, the ids of the modules whose repr is being built (a cycle ends there)
_REPR = threading.local()
