"""Guards on the names and attributes a traced function reaches its models and Variables
through, so that a replay never runs the models or Variables it was traced with once the
function would reach others: each variable of its closure and each global it names, and so of
each function it reaches so (a helper it calls), each attribute of an object it reaches so or
takes as an argument (``trainer.model``, a method's ``self.model``; a callable object's
``__call__`` is walked as a method, as ``obj(x)`` names no attribute, and a
``functools.partial``'s callable and arguments), of a class of the user's
(``Config.flag``; an object's class too: ``self.flag`` read from it) or of a Python module of the
user's it reaches so (``config.model`` after ``import config``; not xpgrad's, the standard
library's nor an installed package's, ``_walked_module``), that holds a model the trace guarded
(its structure: nn/module_structure.py) or a Variable, or a list, tuple or dict of such models
or Variables, containers in containers too, or an empty one in the function's own closure or
globals (layers appended later). A Variable is guarded unless a module the function made
holds it, the function set that attribute itself, or an object of xpgrad's other than a model
holds it (an optimizer's state: ``_is_ours``); a module whose structure is guarded is
not looked into. Each is a ``Held`` (held.py): set to another model or Variable while the old
one lives on, or a container's items changed, it traces anew. ``settled`` makes each structure
guard's value the model's cached structure, which a replay finds by identity (one ``is``, not a
comparison of every part).
>>> import xpgrad as xg
>>> layers = [xg.nn.Linear(2, 2, rng=0)]
>>> def forward(x):
...     return layers[0](x)
>>> [type(g).__name__ for g, _, _ in name_guards(forward, {id(layers[0])}, set())]
['Held']
"""
from __future__ import annotations

import functools
import itertools
import os
import random
import site
import sys
import sysconfig
import types
import weakref

import numpy as np

from ..tensor import Tensor, Variable
from ..pytree_nodes import user_kind
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
    return _walked(_Walk(guarded, writes), fn, roots, current).out


def host_state(fn, roots=(), current=None) -> tuple:
    """What ``fn`` and ``roots`` reach as ``name_guards`` walks them (not into xpgrad's
    functions), read before a trace (jit/host_state.py): ``(sources, settings, containers,
    random named)``; ``sources``: ``(source, name)`` of the NumPy ``Generator`` and
    ``RandomState`` and Python ``random.Random`` objects (and their bound methods' owners), not
    inside xpgrad's objects (an ``xg.random`` Generator's own), ``name`` the closure variable,
    global or attribute holding it (None in a container); ``settings``: the value guards
    ``(holder, attribute, value)`` of the Python numbers, strings and None it reads;
    ``containers``: ``(list or dict, name, its length, _numbers(it))``; the global and attribute names the
    functions walked read (``random``: ``np.random.rand()``, ``random.random()``).

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> [name for _, name in host_state(lambda: rng.normal())[0]]
    ['rng']
    """
    walk = _Walk(set(), set())
    walk.sources = []
    _walked(walk, fn, roots, current)
    return walk.sources, [guard for guard in walk.out if guard[1] != "unchanged"], \
        walk.containers, walk.names


def _walked(walk, fn, roots, current):
    if current is not None:
        walk.root = (getattr(fn, "__func__", fn), *current)
    walk.reached(fn, 0)
    for root in roots:
        if user_kind(root) is None:     # a pytree node's aux data and leaves: the signature's
            walk.reached(root, 1)
    return walk


class _Walk:
    """One walk of what a traced function reaches; ``out``: its guards."""

    def __init__(self, guarded, writes):
        self.guarded, self.writes, self.out, self.seen = guarded, writes, [], {}
        self.names = set()      # the attribute names the functions walked read
        self.keys = set()       # the strings in their code (``hp["lr"]``: a dict's key)
        self.root = (None, None, None)  # (traced function, what gives it now, an id for it)
        self.variables = True   # whether a Variable found is guarded (``_is_ours``)
        self.sources = None     # a list: collect the random sources met (``host_state``)
        self.containers = []    # and the lists and dicts, with their lengths
        self.theirs = True      # not inside an object of an xpgrad class (its sources its own)

    def reached(self, obj, depth) -> bool:
        """Look into ``obj`` (a function, a bound method, an object; held by nothing the walk
        guards); whether it reaches a guarded model."""
        if depth > _DEPTH or _is_module(obj) and id(obj) in self.guarded:
            return False
        if isinstance(obj, RANDOM_SOURCES) or type(obj) is types.BuiltinMethodType and \
                isinstance(obj.__self__, RANDOM_SOURCES):    # draw = rng.normal
            self._source(getattr(obj, "__self__", obj), None)
            return False
        key = id(obj)
        if key in self.seen:
            return self.seen[key]
        self.seen[key] = False          # a cycle reaches nothing more
        if isinstance(obj, types.MethodType):
            found = self.reached(obj.__func__, depth) | self.reached(obj.__self__, depth)
        elif isinstance(obj, types.FunctionType):
            found = self._function(obj, depth)
        elif isinstance(obj, functools.partial):    # partial(obj, ...): its callable, its items
            found = self.reached(obj.func, depth) | self._container(obj.args, depth) | \
                self._container(obj.keywords, depth)
        elif isinstance(obj, types.ModuleType):     # import config; config.model(x)
            found = _walked_module(obj) and self._attributes(obj, depth)
        elif isinstance(obj, type):         # class Config: flag = 0; Config.flag read
            found = _is_users_class(obj) and self._attributes(obj, depth)
        elif _is_plain_object(obj):
            found = self._attributes(obj, depth)
        else:
            found = False
        self.seen[key] = found
        return found

    def _attributes(self, obj, depth) -> bool:
        """The attributes of ``obj`` the functions walked name (its methods among them)."""
        found, cls, looked = False, type(obj), set()
        call = getattr(cls, "__call__", None)
        if isinstance(call, types.FunctionType) and not _is_ours(cls):
            found |= self.reached(call, depth + 1)     # obj(x) names no attribute
        if self.sources is not None and _is_module(obj):
            # model(x): what its forward reaches; xpgrad's own (Sequential): its attributes
            self.names.update(("forward",) if cls.__module__.partition(".")[0] != "xpgrad"
                              else vars(obj))
        while looked != self.names and cls is not types.ModuleType:
            # self.helper(x): what it reads, and what that calls
            for name in self.names - looked:
                looked.add(name)
                method = getattr(cls, name, None)
                if isinstance(method, types.FunctionType):
                    found |= self.reached(method, depth + 1)
        attributes, writes = vars(obj), self.writes
        made = _is_module(obj) and (id(obj), STRUCTURE) in writes     # the function made it
        # a user's object's settings; not those of xpgrad's objects and their subclasses (an
        # optimizer's, read live by its update; a module's, in its structure)
        ours = _is_ours(cls)
        settings = not ours
        counted, self.variables = self.variables, not ours or _is_module(obj)
        theirs, self.theirs = self.theirs, cls.__module__.partition(".")[0] != "xpgrad"
        try:
            for name in [name for name in self.names if name in attributes]:
                value = attributes[name]
                if isinstance(value, Variable):        # x @ layer.w, settings.weights
                    if self.variables and not made and (id(obj), name) not in writes \
                            and self.sources is None:
                        self.out.append((Held(obj, name, value), "unchanged", True))
                        found = True
                elif settings and type(value) in SETTING_TYPES:      # cfg.label_smoothing
                    self.out.append((obj, name, value))
                else:
                    found |= self.held(obj, name, value, depth + 1)
        finally:
            self.variables, self.theirs = counted, theirs
        if not ours and cls is not type and _is_users_class(cls):
            found |= self.reached(cls, depth + 1)      # self.flag where flag is the class's
        return found

    def _function(self, fn, depth) -> bool:
        if self.sources is not None and not _users(fn.__globals__):
            return False        # what xpgrad's functions reach (their caches) is no user's state
        found, names = False, _names(fn.__code__)
        self.names |= names
        self.keys |= _strings(fn.__code__)
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
            if value is not _UNBOUND and (not isinstance(value, _VALUES) or depth == 0
                                          and type(value) in SETTING_TYPES
                                          or _is_users_class(value)):
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
        if isinstance(value, RANDOM_SOURCES):
            self._source(value, _place_name(holder, attribute))
            return False
        if self.sources is None and self.theirs and type(value) is dict:
            # hp["lr"]: a number read from a dict of the user's, guarded by its value
            self.out.extend(_value_guard(value, key, item) for key, item in _numbers(value)
                            if type(key) is str and key in self.keys)
        if self.sources is not None and self.theirs and type(value) in (list, dict):
            self.containers.append((value, _place_name(holder, attribute), len(value),
                                    _numbers(value)))
        if _is_module(value) and id(value) in self.guarded or \
                self.variables and isinstance(value, Variable):
            found = True
        elif isinstance(value, (list, tuple, dict)):
            found = self._container(value, depth) or (own and not value)
        else:       # a helper function, an object holding a model: replaced, or changed
            found = self.reached(value, depth + 1)
        if found and self.sources is None:
            self.out.append((Held(holder, attribute, value), "unchanged", True))
        return found

    def _source(self, source, name):
        if self.sources is not None and self.theirs and \
                all(known is not source for known, _ in self.sources):
            self.sources.append((source, name))

    def _container(self, container, depth) -> bool:
        key = id(container)
        if key in self.seen:
            return self.seen[key]
        self.seen[key] = False
        found = False
        for item in (container.values() if isinstance(container, dict) else container):
            if _is_module(item) and id(item) in self.guarded or \
                    self.variables and isinstance(item, Variable):
                found = True
            elif isinstance(item, (list, tuple, dict)):
                if depth < _DEPTH and self._container(item, depth + 1):
                    found = True
                    self.out.append((Held(None, None, item), "unchanged", True))
            elif self.reached(item, depth + 1):
                found = True
        self.seen[key] = found
        return found


#: the host random sources whose draws a replay cannot repeat (host_random.py)
RANDOM_SOURCES = (np.random.Generator, np.random.RandomState, random.Random)
#: values holding no model nor Variable
_VALUES = (type, str, bytes, int, float, complex, type(None))
#: what a walk never looks into as a plain object: Python modules (walked as such, when the
#: user's: ``_walked_module``), classes, and values holding no model
_SKIPPED = (types.ModuleType, *_VALUES)
#: the folders of the standard library and of installed packages (their modules: not walked)
_INSTALLED = tuple(os.path.realpath(path) + os.sep for path in {
    *(sysconfig.get_paths()[kind] for kind in ("stdlib", "platstdlib", "purelib", "platlib")),
    *site.getsitepackages(), site.getusersitepackages()})
#: (a module's name, its file) -> whether a walk looks into it (``_walked_module``)
_WALKED_MODULES = {}


def _walked_module(module) -> bool:
    """Whether ``module`` is the user's (``config`` of ``import config``): neither xpgrad's
    nor from the standard library or an installed package, each of whose attributes the
    functions name a walk would look into for nothing."""
    name, file = getattr(module, "__name__", None), getattr(module, "__file__", None)
    key = (name, file)
    walked = _WALKED_MODULES.get(key)
    if walked is None:
        walked = _WALKED_MODULES[key] = isinstance(name, str) and \
            name.partition(".")[0] != "xpgrad" and (
                not os.path.realpath(file).startswith(_INSTALLED) if isinstance(file, str)
                else name not in sys.builtin_module_names)      # one made in Python: walked
    return walked


def _users(namespace) -> bool:
    """Whether ``namespace`` is the globals of a module of the user's (``_walked_module``)."""
    module = sys.modules.get(namespace.get("__name__"))
    return module is None or module.__dict__ is not namespace or _walked_module(module)


def _is_ours(cls) -> bool:
    """Whether ``cls`` is one of xpgrad's classes or a subclass of one: the Variables of such
    an object other than a model (an optimizer's per-Variable state) are its own to keep, and
    its settings are read live or guarded with its structure; neither is guarded here."""
    return any(base.__module__.partition(".")[0] == "xpgrad" for base in cls.__mro__)


def _numbers(container) -> list:
    """``(key, value)`` of the Python numbers, strings and None among ``container``'s first
    items (a counter kept as ``state["k"]``, which a trace changes and a replay does not)."""
    items = container.items() if isinstance(container, dict) else enumerate(container)
    return [(key, item) for key, item in itertools.islice(items, _ITEMS_LOOKED_AT)
            if type(item) in SETTING_TYPES]


#: how many items of a list or dict the walk reads for ``_numbers`` (a trace's cost only)
_ITEMS_LOOKED_AT = 256


def _value_guard(holder, attribute, value) -> tuple:
    """The guard of ``holder.attribute``'s value (a global: ``holder`` its module's dict, read
    as the module's attribute where it is one, a C-level ``getattr`` on replay)."""
    if isinstance(holder, dict):
        module = sys.modules.get(holder.get("__name__"))
        if module is not None and getattr(module, "__dict__", None) is holder:
            return (module, attribute, value)
    return (HeldValue(holder, attribute, value), "value", value)


def _place_name(holder, attribute):
    """The variable or attribute name ``holder.attribute`` stands for."""
    return holder.code.co_freevars[holder.index] if type(holder) is ClosureCell else attribute


def _is_users_class(value) -> bool:
    """Whether ``value`` is a class of the user's (defined in a module ``_walked_module``
    walks), whose attributes the walk reads as an object's: ``Config.flag`` is guarded."""
    if not isinstance(value, type):
        return False
    module = sys.modules.get(getattr(value, "__module__", None))
    return module is not None and _walked_module(module)


def _is_plain_object(obj) -> bool:
    return hasattr(obj, "__dict__") and not isinstance(obj, (*_SKIPPED, Tensor))


def _is_module(value) -> bool:
    return hasattr(type(value), STRUCTURE)


def _strings(code) -> set:
    """The strings among ``code``'s constants and those of the code in it."""
    found = set()
    for const in code.co_consts:
        if type(const) is str:
            found.add(const)
        elif hasattr(const, "co_consts"):
            found |= _strings(const)
    return found


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
