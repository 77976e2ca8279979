"""What a Module's discovery walks found (``trainable_variables``, ``variables``,
``named_variables()``, ``non_trainable_variables``, ``submodules()``), kept with the module
while nothing they depend on can have changed, so that reading ``model.trainable_variables``
twice per training step (Keras' habit) costs a check, not a walk of the tree.

What can change them takes a new *structure version* (``changed()``, one counter for every
model: a layer's change must reach each model that holds it, and a layer may be shared): an
attribute of a Module set or deleted (``Module.__setattr__`` / ``__delattr__``; private ones
too where the class lists its items itself, as ``ModuleList``), ``Variable.trainable`` set,
``functional_call``'s swaps. What the counter cannot see, the lists and dicts held in
attributes (``self.layers.append(layer)`` changes no attribute) and a ``ModuleList``'s or
``ModuleDict``'s store, is recorded when the walk runs and compared item by item, by identity,
at each read. An entry also records the module it was made for (weakly): a copy of a module
made with its ``__dict__`` (``copy.copy``) shares the holder but not the entry.

A change made around all of these (``vars(module)[key] = value``, ``object.__setattr__``)
is not seen: call ``changed()`` after one. Under ``xg.function`` the walks run uncached (each
flag they read is a guard of the traced program).

>>> import xpgrad as xg
>>> mlp = xg.nn.MLP([2, 3, 1], rng=0)
>>> first = mlp.trainable_variables
>>> mlp.trainable_variables == first, mlp.trainable_variables is first
(True, False)
>>> mlp.layers.append(xg.nn.Linear(1, 1, rng=1))      # a list changed in place is seen
>>> len(mlp.trainable_variables)
6
"""
from __future__ import annotations

import itertools
import weakref
from operator import is_

from ..jit.capture import THREAD as _TRACES
from ..pytree import CACHE_HOLDER

#: where a module keeps its holder (set by ``Module.__init__``)
HOLDER = CACHE_HOLDER
#: structure versions, each taken once (a version read twice means no change in between)
_VERSIONS = itertools.count(1)
_version = next(_VERSIONS)
_CONTAINERS = (list, tuple, dict)


def changed() -> None:
    """Note that a module tree may hold other modules or Variables, or other flags, than
    before: every cached walk is walked again at its next read. Called after the change (a
    walk running meanwhile in another thread is then never kept as current).

    >>> import xpgrad as xg
    >>> lin = xg.nn.Linear(2, 1, rng=0)
    >>> vars(lin)["extra"] = xg.Variable(1.0)    # around __setattr__: not seen until ...
    >>> changed()
    >>> len(lin.trainable_variables)
    3
    """
    global _version
    _version = next(_VERSIONS)


class Holder:
    """A module's slot for its cached walks (its ``Entry``). Copied or pickled, it is a new,
    empty one; ``module_rebuild``'s copy of a module shares it (the entry's ``ref`` tells
    whose it is).

    >>> import copy
    >>> copy.deepcopy(Holder()).entry is None
    True
    """

    __slots__ = ("entry",)

    def __init__(self):
        self.entry = None

    def __reduce__(self):
        return Holder, ()

    def __deepcopy__(self, memo):
        return Holder()

    def __copy__(self):
        return Holder()


class Entry:
    """What the walks of one module found (``results``: kind -> tuple) and what they hold
    under: ``version``, the structure version read before walking; ``containers``, the lists,
    dicts and container stores met, with their items then (None: not recorded yet, the walks
    not kept); ``ref``, the module (weakly)."""

    __slots__ = ("ref", "version", "containers", "results")

    def __init__(self, ref, version, containers):
        self.ref, self.version, self.containers = ref, version, containers
        self.results = {}


def cached(module, kind, compute) -> tuple:
    """``compute(module)`` (a tuple or a dict, never changed by a reader: copy it before
    handing it out), or what it gave before where nothing it depends on has changed since.

    The first read after a change only notes the version; the second, finding it unchanged,
    records the containers and keeps the walk: a tree changed at every step (a list appended
    to, ``functional_call``) costs a walk per read, as without the cache, not two."""
    holder = module.__dict__.get(HOLDER)
    if holder is None or _TRACES.tracer is not None:
        return compute(module)
    entry = holder.entry
    version = _version
    if entry is None or entry.version != version or entry.ref() is not module:
        try:
            ref = weakref.ref(module)
        except TypeError:                  # __slots__ without __weakref__: no cache
            return compute(module)
        holder.entry = Entry(ref, version, None)
        return compute(module)
    containers = entry.containers
    if containers is None:
        containers = _containers_below(module)    # before the walk: a change meanwhile shows
        found = compute(module)
        kept = Entry(entry.ref, version, containers)
        kept.results[kind] = found
        holder.entry = kept
        return found
    if not _unchanged(containers):
        holder.entry = Entry(entry.ref, version, None)
        return compute(module)
    found = entry.results.get(kind)
    if found is None:
        found = compute(module)
        if _version == version:
            entry.results[kind] = found
    return found


def _unchanged(containers) -> bool:
    for container, held in containers:
        if isinstance(container, dict):
            keys, values = held
            if len(container) != len(keys) or not all(map(is_, container, keys)) or \
                    not all(map(is_, container.values(), values)):
                return False
        elif len(container) != len(held) or not all(map(is_, container, held)):
            return False
    return True


def _containers_below(module) -> tuple:
    """``(container, its items)`` for each list and dict held in the public attributes of
    ``module`` and the modules below it (at any depth of lists, tuples and dicts), and each
    ``ModuleList`` / ``ModuleDict`` store: what the structure version does not cover."""
    from .module import Module

    out = []
    _record_module(module, Module, {id(module)}, out)
    return tuple(out)


# module-level recursion, not closures calling themselves (see module_tree._visit_modules)
def _record_module(module, module_class, seen, out):
    if type(module)._items is module_class._items:
        for key, value in vars(module).items():
            if not key.startswith("_"):
                _record_value(value, module_class, seen, out, ())
        return
    store = vars(module).get("_store")       # ModuleList's, ModuleDict's
    if isinstance(store, (list, dict)):
        _record_container(store, out)
    for _, item in module._items():
        _record_value(item, module_class, seen, out, ())


def _record_value(value, module_class, seen, out, walking):
    if isinstance(value, module_class):
        if id(value) not in seen:
            seen.add(id(value))
            _record_module(value, module_class, seen, out)
        return
    if not isinstance(value, _CONTAINERS) or id(value) in walking:
        return
    walking = (*walking, id(value))
    if not isinstance(value, tuple):
        _record_container(value, out)
    for item in (value.values() if isinstance(value, dict) else value):
        if isinstance(item, (module_class, *_CONTAINERS)):
            _record_value(item, module_class, seen, out, walking)


def _record_container(container, out):
    if isinstance(container, dict):
        out.append((container, (tuple(container), tuple(container.values()))))
    else:
        out.append((container, tuple(container)))
