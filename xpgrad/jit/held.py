"""``Held``: a guard that an attribute (a closure cell's variable, a global, an object's
attribute, a module's Variable) still holds the object it held when traced, and a list, tuple
or dict the same items in the same places. It holds what it guards weakly where that takes a
weak reference (a model, a layer, a Variable): one replaced is freed, and a freed one fails the
guard (the call traces anew). ``ModuleStructure`` (the key of a model,
nn/module_structure.py) holds a model's parts weakly likewise; ``FREED`` counts what both see
freed.

>>> import xpgrad as xg
>>> class Holder:
...     layers = [xg.nn.Linear(2, 2, rng=0), xg.nn.Linear(2, 2, rng=1)]
>>> held = Held(Holder, "layers", Holder.layers)
>>> held.unchanged, Holder.layers.reverse(), held.unchanged
(True, None, False)
"""
from __future__ import annotations

import functools
import itertools
import weakref

#: the types of the Python values that are settings, guarded by value (a hyperparameter, a
#: module's ``momentum``): numbers, strings, None
SETTING_TYPES = frozenset({int, float, bool, complex, str, type(None)})
#: a global's value once the name is gone
_UNBOUND = object()
#: how many objects a program's key or guards held weakly have been freed (their weak
#: references' callbacks count): a ``Function`` whose count differs looks for programs that
#: can never match again (trace_cache.TraceCache._drop_dead)
FREED = [0]


def note_freed(_ref=None):
    """Count one freed object (a weak reference callback)."""
    FREED[0] += 1


def held_weakly(obj, died=None):
    """A weak reference to ``obj`` (``died`` its callback) where it takes one, else a function
    returning ``obj``."""
    try:
        return weakref.ref(obj, died)
    except TypeError:               # a list, a string key
        return itertools.repeat(obj).__next__


class Held:
    """What ``holder.attribute`` holds (``holder[attribute]`` of a dict: a module's globals),
    and a container's items: ``.unchanged`` while it holds that object, and a list, tuple or
    dict the same objects in the same places (under the same keys). ``holder`` None: the
    container ``value`` itself (one inside another), its items alone. Items are compared by
    id, each held weakly with a callback that fails the guard once it is freed (so no other
    object at its address passes), or strongly."""

    # no __weakref__: a program's key holds it strongly (trace_cache._held)
    __slots__ = ("now", "where", "value", "ids", "keyed", "refs", "alive")

    def __init__(self, holder, attribute, value):
        self.alive = [True]       # False once what it holds weakly is freed: it never passes
        died = _died_callback(self.alive)
        self.now = _reader(holder, attribute, value, died)    # what holder.attribute holds now
        self.where = holder.where if type(holder) is ClosureCell else \
            (None if holder is None else id(holder), attribute)
        self.value = held_weakly(value, died)
        self.keyed = isinstance(value, dict)
        if self.keyed or isinstance(value, (list, tuple)):
            items = _items(value)
            self.ids = tuple(map(id, items))
            self.refs = [_held_or_watched(item, died) for item in items]
        else:
            self.ids = self.refs = None

    @property
    def unchanged(self) -> bool:
        value = self.value()
        if value is None or self.now() is not value:
            return False
        ids = self.ids
        if ids is None:
            return True
        now = (*value, *value.values()) if self.keyed else value
        return self.alive[0] and tuple(map(id, now)) == ids

    def same_as(self, other) -> bool:
        """Whether ``other`` (a guard of a later trace) guards what this one does: the same
        place holding the same object with the same items (a signature's key keeps one)."""
        return type(other) is Held and self.where == other.where and self.ids == other.ids \
            and self.value() is other.value() and self.value() is not None


class HeldValue:
    """What ``holder.attribute`` holds now (``value``), where the trace read a Python number,
    string or None there (a hyperparameter of the function's closure, a global, ``cfg.rate``):
    a guard ``(HeldValue, "value", traced value)`` keys the program by it, so a call after
    it changed traces anew, or replays the program of that value."""

    __slots__ = ("read", "where", "alive")

    def __init__(self, holder, attribute, value):
        self.alive = [True]
        self.read = _reader(holder, attribute, value, _died_callback(self.alive))
        self.where = holder.where if type(holder) is ClosureCell else (id(holder), attribute)

    @property
    def value(self):
        return self.read()

    def same_as(self, other) -> bool:
        """Whether ``other`` (a guard of a later trace) reads the same place."""
        return type(other) is HeldValue and self.where == other.where


def _reader(holder, attribute, value, died):
    """A function returning what ``holder.attribute`` holds now (``_UNBOUND`` once it holds
    nothing): C-level calls where ``holder`` is held strongly (a cell, a dict: they take no
    weak reference)."""
    if holder is None:
        return itertools.repeat(value).__next__
    if type(holder) is ClosureCell:
        return holder.read
    if isinstance(holder, dict):
        return functools.partial(holder.get, attribute, _UNBOUND)
    try:
        ref = weakref.ref(holder, died)
    except TypeError:               # a closure's cell
        return functools.partial(getattr, holder, attribute, _UNBOUND)
    return lambda: getattr(ref(), attribute, _UNBOUND)


class ClosureCell:
    """The ``index``-th closure variable of the function ``function()`` gives now, while that
    function runs ``code``: read so, not through the cell itself, a guard keeps no cell (and
    so no model in it) alive once the function is gone; ``function`` a weak reference to a
    helper, or what gives the traced function of an ``xg.function`` now (``Function.fn``:
    ``tbptt_train`` sets a new closure of the same code for every call)."""

    __slots__ = ("function", "code", "index", "where")

    def __init__(self, function, code, index, owner_id):
        self.function, self.code, self.index = function, code, index
        self.where = (owner_id, code, index)

    def read(self):
        fn = self.function()
        if getattr(fn, "__code__", None) is not self.code:
            return _UNBOUND
        try:
            return fn.__closure__[self.index].cell_contents
        except ValueError:              # the variable is not bound (deleted)
            return _UNBOUND


def _died_callback(alive):
    """A weak reference callback that sets ``alive[0]`` False (what a Held holds weakly: one
    freed), and counts it (``note_freed``)."""
    def died(_):
        alive[0] = False
        note_freed()
    return died


def _held_or_watched(obj, died):
    try:
        return weakref.ref(obj, died)
    except TypeError:
        return obj


def _items(container) -> tuple:
    if isinstance(container, dict):
        return (*container, *container.values())
    return tuple(container)


class ModuleStructure:
    """The submodules and Variables of a module (``parts``), compared by identity (a Variable's
    ``==`` compares values), and the modules' ``settings`` (their public attributes holding
    Python numbers, strings, None: ``momentum``, ``eps``), compared by value; its hash computed
    once. It holds the parts weakly: a program keyed by an old structure (a layer since
    replaced) does not keep the replaced layer alive, and a structure with a part freed equals
    no other (``alive``), so a new object at a freed one's address is never taken for it."""

    __slots__ = ("refs", "ids", "settings", "hash", "__weakref__")

    def __init__(self, parts, settings=()):
        self.refs = tuple(map(_weakly, parts))
        self.ids = tuple(map(id, parts))
        self.settings = settings
        self.hash = hash((self.ids, settings))

    @property
    def parts(self) -> tuple:
        """The submodules and Variables (None for one freed since)."""
        return tuple(ref() for ref in self.refs)

    @property
    def alive(self) -> bool:
        """Whether every part lives still (else the structure equals no other)."""
        return all(ref() is not None for ref in self.refs)

    def __hash__(self):
        return self.hash

    def __eq__(self, other):
        return self is other or (type(other) is ModuleStructure and self.hash == other.hash
                                 and self.ids == other.ids and self.settings == other.settings
                                 and self.alive and other.alive)

    def __repr__(self):
        return f"ModuleStructure({len(self.parts)} parts)"


def _weakly(part):
    """A weak reference to ``part`` whose freeing ``note_freed`` counts (a program keyed by
    a structure holding it can then never match again)."""
    return weakref.ref(part, note_freed)
