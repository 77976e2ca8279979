"""The walk that finds a Module's pytree children (module_pytree.py), and a cache of what it
found per module, so that the several walks of one model in one ``xg.grad`` or ``xg.function``
call cost a check each.

A walk records, beside the children, what it looked at: the ``__dict__`` of each module (its
keys and values), the lists and dicts it looked into (their items), and what a container
class's own ``_items`` listed. The next walk of the same module first checks those by identity
(C loops, no paths or isinstance tests) and answers the recorded children where nothing
changed; a change anywhere it looked (an attribute set, a layer appended, ``eval()``) makes it
walk again. A module rebuilt from new leaves gets its entry from the original's at once
(``entry_of_copy``), so walking the copy again is a check too.

An entry holds what the walk looked at, not the module (a weak reference, whose end drops the
entry); one holding its module through a back-reference (a submodule's attribute naming its
owner) would keep it alive, so the table keeps at most ``_MOST`` entries.

>>> import xpgrad as xg
>>> mlp = xg.nn.MLP([2, 3, 1], rng=0)
>>> first = walked(mlp, None, KINDS)
>>> walked(mlp, None, KINDS) is first, [suffix for suffix, _ in first]
(True, ['.layers[0].w', '.layers[0].b', '.layers[1].w', '.layers[1].b'])
>>> mlp.layers.append(xg.nn.Linear(1, 1, rng=1))
>>> len(walked(mlp, None, KINDS))
6
"""
from __future__ import annotations

import weakref
from itertools import repeat

from ..pytree import Placeholder
from ..snapshots import (ITEMS, MAPPING, SEQUENCE, STATE, copies_recorded, record, recorded,
                         unchanged)
from ..tensor import Tensor, Variable
from .module import Module
from .module_rebuild import DEEP_COPIED
from .module_tree import _variables_below

#: what an attribute may hold a leaf or a submodule inside
_CONTAINERS = (list, tuple, dict)
#: the leaves' kinds a walk looks for by default (with Module), the walks the cache keeps
KINDS = (Module, Tensor, Placeholder)
_LEAVES = (Tensor, Placeholder)
_WALKED = (*KINDS, *_CONTAINERS)
#: the entries kept at most (see the module's docstring)
_MOST = 256
#: ``id(module)`` -> its cached ``Children``
_ENTRIES: dict = {}


class Children(list):
    """``walked``' list of ``(path suffix, child)``, with ``steps``: how to reach each child
    from the module; a cached one (the cache's entry, or an ``xg.function`` result's
    template) has ``ref``, the module (weakly), and ``checks``: ``snapshots.record``'s of each
    module ``__dict__``, list, dict and container module's ``_items`` the walk looked at."""

    steps: list
    ref = None
    checks: list
    #: ``xg.function``'s key of the module (jit/module_key.py), kept with the walk
    static = None
    #: whether what the walk looked at changes no more (an ``xg.function`` result's template)
    sealed = False
    _suffixes = None
    _plain = None
    #: the compiled copy of the module (module_copy_plan.py; False: none is made, as for a
    #: copy's walk), and how many rebuilds asked for it before it was made
    plan = None
    plan_asked = 0

    def suffixes(self) -> tuple:
        """The path suffixes, in order."""
        if self._suffixes is None:
            self._suffixes = tuple([suffix for suffix, _ in self])
        return self._suffixes

    def holds_plain_tensors(self) -> bool:
        """Whether a child is no Variable (a plain Tensor: the module is a value)."""
        if self._plain is None:
            self._plain = not all(map(isinstance, [c for _, c in self], repeat(Variable)))
        return self._plain


def walked(module, is_leaf, kinds) -> Children:
    """The children below ``module`` (``[(path suffix, child)]``, each once, in
    ``named_variables()`` order): the instances of ``kinds`` (Module first, then the leaves'
    types) found, a Module walked into unless ``is_leaf`` answers true. Without ``is_leaf``
    and with the default ``KINDS``, from the cache when nothing the walk looked at changed."""
    if is_leaf is not None:
        children = Children()
        children.steps = []
        _visit(module, (), "", {id(module)}, children, is_leaf, kinds, (*kinds, *_CONTAINERS),
               None)
        return children
    if kinds != KINDS:
        # an xg.function result's template (Refs for leaves), which nothing changes once made:
        # the walk its replayed copies get, unchecked
        children = Children()
        children.steps, checks = [], []
        _visit(module, (), "", {id(module)}, children, None, kinds, (*kinds, *_CONTAINERS),
               checks)
        children.ref, children.checks, children.sealed = _ref(module), checks, True
        return children
    entry = _ENTRIES.get(id(module))
    if entry is not None and entry.ref() is module and unchanged(entry.checks):
        return entry
    children = Children()
    children.steps = []
    checks = []
    _visit(module, (), "", {id(module)}, children, None, KINDS, _WALKED, checks)
    _keep(module, children, checks)
    return children


def entry_of_copy(children, new, memo) -> None:
    """Give the copy that ``module_rebuild.copied`` made of a module walked into ``children``
    (``new``: the values put in their places; ``memo``: the original's objects' ids -> the
    copies) its cache entry: the same walk, the new leaves in the old ones' places. Nothing
    where the new leaves are not distinct tensors (a value put in several places, or no leaf
    at all, changes what a walk finds), nor where ``copy.deepcopy`` copied a module (a class
    with its own ways to copy itself: its copy may differ otherwise)."""
    original = None if children.ref is None else children.ref()
    copy = None if original is None else memo.get(id(original))
    if copy is None or DEEP_COPIED in memo or not all(map(isinstance, new, repeat(_LEAVES))) \
            or len(set(map(id, new))) != len(new):
        return
    if not children.sealed and _ENTRIES.get(id(original)) is not children and \
            not unchanged(children.checks):
        return                          # a walk kept elsewhere and out of date
    plan = children.plan            # module_copy_plan's, with copies_recorded as code
    checks = plan.record(memo) if plan else copies_recorded(children.checks, memo)
    if checks is None:
        return
    entry = Children(zip(children.suffixes(), new))
    entry.steps, entry._suffixes = children.steps, children._suffixes
    # no copy plan for a copy: in a model-in/model-out loop each lives for one step, and a
    # plan costs a hundred rebuilds to compile
    entry.plan = False
    if children.static is not None:
        entry.static = children.static.for_copy(memo)
    _keep(copy, entry, checks)


def frozen_below(children) -> frozenset:
    """The ids of the Variables below a frozen module (``trainable = False``) of the walk
    ``children`` (a cached one: it knows the modules), the walked module too: what
    ``trainable_variables`` leaves out besides the Variables whose own flag is off. Kept with
    the walk, whose checks cover the modules' flags."""
    found = getattr(children, "frozen", None)
    if found is None:
        ids = set()
        for check in children.checks:
            module = recorded(check)
            if (check[1] is STATE or check[1] is ITEMS) and \
                    not vars(module).get("_trainable", True):
                _variables_below(module, ids, {id(module)})
        found = children.frozen = frozenset(ids)
    return found


def _ref(module, drop=None):
    """A weak reference to ``module`` (None for a class with ``__slots__`` and no
    ``__weakref__``), calling ``drop`` when it ends."""
    try:
        return weakref.ref(module, drop)
    except TypeError:
        return None


def _keep(module, children, checks) -> None:
    ref = _ref(module, lambda _, key=id(module): _ENTRIES.pop(key, None))
    if ref is None:
        return
    children.ref, children.checks = ref, checks
    _ENTRIES.pop(id(module), None)
    if len(_ENTRIES) >= _MOST:
        del _ENTRIES[next(iter(_ENTRIES))]
    _ENTRIES[id(module)] = children


def _visit(module, steps, text, seen, found, is_leaf, kinds, walked_kinds, checks):
    """The children below ``module`` into ``found`` as ``(path suffix, child)``, and how to
    reach each into ``found.steps``, where ``named_variables`` looks: its public attributes
    (and lists, tuples and dicts in them), or what a container class's own ``_items`` lists
    (ModuleList, parametrizations). ``steps`` and ``text``: how ``module`` is reached;
    ``seen`` holds the ids met (a module or tensor held twice is one child);
    ``walked_kinds``: ``kinds`` and the containers looked into; ``checks``: None, or where to
    record what was looked at."""
    if type(module)._items is Module._items:
        if checks is not None:
            record(module, STATE, checks)
        for attribute, value in vars(module).items():
            if not attribute.startswith("_") and isinstance(value, walked_kinds):
                _take(value, (*steps, ("attr", attribute)), f"{text}.{attribute}", seen, found,
                      is_leaf, kinds, walked_kinds, (), checks)
    else:
        if checks is not None:
            record(module, ITEMS, checks)
        for key, item in module._items():
            if isinstance(item, kinds):
                _take(item, (*steps, ("item", key)),
                      f"{text}[{int(key)}]" if key.isdigit() else f"{text}.{key}", seen, found,
                      is_leaf, kinds, walked_kinds, (), checks)


def _take(value, steps, text, seen, found, is_leaf, kinds, walked_kinds, walking, checks):
    """``value`` (held at ``steps``) as a child, a module to walk or a container to look into
    (``walking``: the ids of the containers it is inside, so a list holding itself ends)."""
    if isinstance(value, kinds):
        if id(value) in seen:
            return
        seen.add(id(value))
        if isinstance(value, Module) and not (is_leaf is not None and is_leaf(value)):
            _visit(value, steps, text, seen, found, is_leaf, kinds, walked_kinds, checks)
        else:
            found.append((text, value))
            found.steps.append(steps)
        return
    if not isinstance(value, _CONTAINERS) or id(value) in walking:
        return
    walking = (*walking, id(value))
    if checks is not None and not isinstance(value, tuple):
        record(value, SEQUENCE if isinstance(value, list) else MAPPING, checks)
    for i, item in (value.items() if isinstance(value, dict) else enumerate(value)):
        if isinstance(item, walked_kinds):
            _take(item, (*steps, ("index", i)), f"{text}[{i!r}]", seen, found, is_leaf, kinds,
                  walked_kinds, walking, checks)
