"""Guards on the names and attributes a traced function reaches its models through, so that a
replay never runs the models it was traced with once the function would reach others: each
variable of its closure and each global it names, and so of each function it reaches so (a
helper it calls), each attribute of an object it reaches so or takes as an argument
(``trainer.model``, a method's ``self.model``), that holds a model the trace guarded (its
structure: nn/module_structure.py), or a list, tuple or dict of such models, containers in
containers too, or an empty one in the function's own closure or globals (layers appended
later); and each Variable held by an attribute the functions name of a module no structure
guard covers (``x @ layer.w``: the layer neither called nor walked) that the function did not
make nor set itself. Each is a ``Held`` (held.py): set to
another model while the old one lives on, or a container's items changed, it traces anew.
``settled`` makes each structure guard's value the model's cached structure, which a replay
finds by identity (one ``is``, not a comparison of every part).

>>> import xpgrad as xg
>>> layers = [xg.nn.Linear(2, 2, rng=0)]
>>> def forward(x):
...     return layers[0](x)
>>> [type(g).__name__ for g, _, _ in name_guards(forward, {id(layers[0])}, set())]
['Held']
"""
from __future__ import annotations

import sys
import types
import weakref

from ..tensor import Tensor, Variable
from .held import SETTING_TYPES, ClosureCell, Held, HeldValue, _UNBOUND

#: the attribute of a Module that reads its structure (nn/module_structure.STRUCTURE)
STRUCTURE = "_structure_key"
#: how many functions, objects and containers deep a walk from the traced function looks
_DEPTH = 4


def name_guards(fn, guarded, writes, roots=(), current=None) -> list:
    """``(Held, "unchanged", True)`` guards of what ``fn`` (and the objects ``roots``, its
    arguments) reach the models whose ids are in ``guarded`` through, and of the Variables it
    reads from attributes of other modules (module docstring); ``writes``: the ``(id(object),
    attribute)`` the function set (a module it made: ``(id(module), STRUCTURE)``);
    ``current``: ``(what gives the traced function now, an id for it)``, through which its
    closure is read (else through a weak reference to ``fn``)."""
    walk = _Walk(guarded, writes)
    if current is not None:
        walk.root = (getattr(fn, "__func__", fn), *current)
    walk.reached(fn, 0)
    for root in roots:
        walk.reached(root, 1)
    return walk.out


class _Walk:
    """One walk of what a traced function reaches; ``out``: its guards."""

    def __init__(self, guarded, writes):
        self.guarded, self.writes, self.out, self.seen = guarded, writes, [], {}
        self.names = set()      # the attribute names the functions walked read
        self.root = (None, None, None)  # (traced function, what gives it now, an id for it)

    def reached(self, obj, depth) -> bool:
        """Look into ``obj`` (a function, a bound method, an object; held by nothing the walk
        guards); whether it reaches a guarded model."""
        if depth > _DEPTH or _is_module(obj) and id(obj) in self.guarded:
            return False
        key = id(obj)
        if key in self.seen:
            return self.seen[key]
        self.seen[key] = False          # a cycle reaches nothing more
        if isinstance(obj, types.MethodType):
            found = self.reached(obj.__func__, depth) | self.reached(obj.__self__, depth)
        elif isinstance(obj, types.FunctionType):
            found = self._function(obj, depth)
        elif _is_plain_object(obj):
            found = self._attributes(obj, depth)
        else:
            found = False
        self.seen[key] = found
        return found

    def _attributes(self, obj, depth) -> bool:
        """The attributes of ``obj`` the functions walked name (its methods among them)."""
        found, cls, looked = False, type(obj), set()
        while looked != self.names:     # self.helper(x): what it reads, and what that calls
            for name in self.names - looked:
                looked.add(name)
                method = getattr(cls, name, None)
                if isinstance(method, types.FunctionType):
                    found |= self.reached(method, depth + 1)
        attributes, writes = vars(obj), self.writes
        module = _is_module(obj) and (id(obj), STRUCTURE) not in writes
        # a user's object's settings; not those of xpgrad's objects and their subclasses (an
        # optimizer's, read live by its update; a module's, in its structure)
        settings = not any(c.__module__.startswith(_OURS) for c in cls.__mro__)
        for name in [name for name in self.names if name in attributes]:
            value = attributes[name]
            if module and isinstance(value, Variable):        # x @ layer.w
                if (id(obj), name) not in writes:
                    self.out.append((Held(obj, name, value), "unchanged", True))
                    found = True
            elif settings and type(value) in SETTING_TYPES:      # cfg.label_smoothing
                self.out.append((obj, name, value))
            else:
                found |= self.held(obj, name, value, depth + 1)
        return found

    def _function(self, fn, depth) -> bool:
        found, names = False, _names(fn.__code__)
        self.names |= names
        root, current, owner_id = self.root
        if fn is not root:
            current, owner_id = weakref.ref(fn), id(fn)
        for index, cell in enumerate(fn.__closure__ or ()):
            try:
                value = cell.cell_contents
            except ValueError:              # a variable not bound yet
                continue
            if depth == 0 and type(value) in SETTING_TYPES:
                # read from the cell itself (a C-level getattr on replay), which holds a
                # number; a Function whose fn is set anew (tbptt_train's) walks no names
                self.out.append((cell, "cell_contents", value))
                continue
            found |= self.held(ClosureCell(current, fn.__code__, index, owner_id),
                               "cell_contents", value, depth, own=depth == 0)
        namespace = fn.__globals__
        for name in names:
            value = namespace.get(name, _UNBOUND)
            if value is not _UNBOUND and (not isinstance(value, _SKIPPED) or depth == 0
                                          and type(value) in SETTING_TYPES):
                found |= self.held(namespace, name, value, depth,
                                   own=depth == 0)
        return found

    def held(self, holder, attribute, value, depth, own=False) -> bool:
        """Guard ``holder.attribute`` where ``value`` is or reaches a guarded model (``own``: a
        variable of the traced function's, where an empty container is guarded too, and a
        Python number, string or None by its value)."""
        if own and type(value) in SETTING_TYPES:
            self.out.append(_value_guard(holder, attribute, value))
            return False
        if _is_module(value) and id(value) in self.guarded:
            found = True
        elif isinstance(value, (list, tuple, dict)):
            found = self._container(value, depth) or (own and not value)
        else:       # a helper function, an object holding a model: replaced, or changed
            found = self.reached(value, depth + 1)
        if found:
            self.out.append((Held(holder, attribute, value), "unchanged", True))
        return found

    def _container(self, container, depth) -> bool:
        key = id(container)
        if key in self.seen:
            return self.seen[key]
        self.seen[key] = False
        found = False
        for item in (container.values() if isinstance(container, dict) else container):
            if _is_module(item) and id(item) in self.guarded:
                found = True
            elif isinstance(item, (list, tuple, dict)):
                if depth < _DEPTH and self._container(item, depth + 1):
                    found = True
                    self.out.append((Held(None, None, item), "unchanged", True))
            elif self.reached(item, depth + 1):
                found = True
        self.seen[key] = found
        return found


#: the package whose objects' settings are read live or guarded by themselves
_OURS = __name__.split(".")[0] + "."
#: what a walk never looks into: Python modules, classes, and values holding no model
_SKIPPED = (types.ModuleType, type, str, bytes, int, float, complex, type(None))


def _value_guard(holder, attribute, value) -> tuple:
    """The guard of ``holder.attribute``'s value (a global: ``holder`` its module's dict, read
    as the module's attribute where it is one, a C-level ``getattr`` on replay)."""
    if isinstance(holder, dict):
        module = sys.modules.get(holder.get("__name__"))
        if module is not None and getattr(module, "__dict__", None) is holder:
            return (module, attribute, value)
    return (HeldValue(holder, attribute, value), "value", value)


def _is_plain_object(obj) -> bool:
    return hasattr(obj, "__dict__") and not isinstance(obj, (*_SKIPPED, Tensor))


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


def settled(guards) -> None:
    """Make each structure guard among ``guards`` (``(module, STRUCTURE, structure)``, taken
    while tracing, uncached) hold the module's cached structure where it is equal."""
    for k, (module, name, value) in enumerate(guards):
        if name == STRUCTURE:
            getattr(module, name)     # the first read after a change only notes the version
            now = getattr(module, name)
            if now is not value and now == value:
                guards[k] = (module, name, now)
