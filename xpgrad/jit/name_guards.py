"""Guards on the names a traced function reads its models through, so that a replay never runs
the models it was traced with once the function would reach others: each variable of its
closure and each global it names that holds a model the trace guarded (its structure, or a
Variable read from its attribute: nn/module_structure.py, nn/module_reads.py), or a list,
tuple or dict of such models, or an empty one (layers appended later). The variable is guarded
by the identity of what it holds (set to another model, it traces anew, though the old one
lives on) and a list or dict by the identity of its items (``layers.reverse()``).
``settled`` makes each structure guard's value the model's cached structure, which a replay
finds by identity (one ``is``, not a comparison of every part).

>>> import xpgrad as xg
>>> class Holder:
...     layers = [xg.nn.Linear(2, 2, rng=0), xg.nn.Linear(2, 2, rng=1)]
>>> held = Held(Holder, "layers", Holder.layers)
>>> held.unchanged, Holder.layers.reverse(), held.unchanged
(True, None, False)
"""
from __future__ import annotations

import weakref
from operator import is_

#: the attribute of a Module that reads its structure (nn/module_structure.STRUCTURE)
STRUCTURE = "_structure_key"
#: a global's value once the name is gone
_UNBOUND = object()


class GlobalName:
    """A global variable, ``name`` in the module namespace ``namespace``: ``.value``."""

    __slots__ = ("namespace", "name")

    def __init__(self, namespace, name):
        self.namespace, self.name = namespace, name

    @property
    def value(self):
        return self.namespace.get(self.name, _UNBOUND)


class Held:
    """What ``holder.attribute`` holds (a closure cell's variable, a global, a module's
    Variable), and a container's items: ``.unchanged`` while it holds that object and a list,
    tuple or dict the same objects, in the same places (under the same keys). A holder that
    takes a weak reference is held weakly."""

    __slots__ = ("holder", "attribute", "value", "items")

    def __init__(self, holder, attribute, value):
        try:
            self.holder = weakref.ref(holder)
        except TypeError:               # a cell, a GlobalName
            self.holder = lambda: holder
        self.attribute, self.value = attribute, value
        self.items = _items(value) if isinstance(value, (list, tuple, dict)) else None

    @property
    def unchanged(self) -> bool:
        value, items = self.value, self.items
        if getattr(self.holder(), self.attribute, _UNBOUND) is not value:
            return False
        if items is None:
            return True
        now = _items(value)
        return len(now) == len(items) and all(map(is_, now, items))


def _items(container) -> tuple:
    if isinstance(container, dict):
        return (*container, *container.values())
    return tuple(container)


def name_guards(fn, guarded) -> list:
    """``(object, attribute, value)`` guards of the closure variables and globals of ``fn``
    holding the models whose ids are in ``guarded``, containers of them, or empty containers
    (module docstring)."""
    fn = getattr(fn, "__func__", fn)
    out = []
    for cell in getattr(fn, "__closure__", None) or ():
        try:
            value = cell.cell_contents
        except ValueError:              # a variable not bound yet
            continue
        _guard_holder(cell, "cell_contents", value, guarded, out)
    namespace, code = getattr(fn, "__globals__", None), getattr(fn, "__code__", None)
    if namespace is not None and code is not None:
        for name in _names(code):
            value = namespace.get(name, _UNBOUND)
            if value is not _UNBOUND:
                _guard_holder(GlobalName(namespace, name), "value", value, guarded, out)
    return out


def _guard_holder(holder, attribute, value, guarded, out):
    if _is_module(value):
        if id(value) in guarded:
            out.append((holder, attribute, value))
        return
    if not isinstance(value, (list, tuple, dict)):
        return
    items = value.values() if isinstance(value, dict) else value
    # an empty one too: layers appended to it later would not be run (a model grown later)
    if not items or any(_is_module(item) and id(item) in guarded for item in items):
        out.append((Held(holder, attribute, value), "unchanged", True))


def _is_module(value) -> bool:
    return hasattr(type(value), STRUCTURE)


def _names(code) -> set:
    """The names ``code`` and the functions, lambdas and comprehensions in it read (globals
    and attributes alike)."""
    names = set(code.co_names)
    for const in code.co_consts:
        if hasattr(const, "co_names"):
            names |= _names(const)
    return names


def read_guards(tracer) -> list:
    """A guard that ``module.attribute`` holds the Variable ``tracer``'s trace read there, for
    each such read (nn/module_reads.py) where no structure guard covers the module and the function did not
    make it or set that attribute itself."""
    covered, writes = tracer.structures_guarded, tracer.attribute_writes
    out, seen = [], set()
    for module, name, value in tracer.module_reads:
        module, value = module(), value()
        key = (id(module), name)
        if module is None or value is None or key in seen or id(module) in covered \
                or key in writes or (id(module), STRUCTURE) in writes:
            continue
        seen.add(key)
        out.append((Held(module, name, value), "unchanged", True))
    return out


def settled(guards) -> None:
    """Make each structure guard among ``guards`` (``(module, STRUCTURE, structure)``, taken
    while tracing, uncached) hold the module's cached structure where it is equal."""
    for k, (module, name, value) in enumerate(guards):
        if name == STRUCTURE:
            getattr(module, name)     # the first read after a change only notes the version
            now = getattr(module, name)
            if now is not value and now == value:
                guards[k] = (module, name, now)
