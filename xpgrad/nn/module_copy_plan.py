"""A compiled ``module_rebuild.copied`` for a module whose walk is cached (module_walks.py):
the walk recorded each module's ``__dict__`` and each list and dict it looked into, and holds
while they are unchanged, so which of their values are atoms (shared) and which are modules,
containers or leaves (copied, or put in place from the memo) is known. The plan is Python code
that makes the copy in ``copied``'s order, each module's atoms taken in one ``dict.update``;
whatever the walk did not record (a private list, an array, a hook's handle, a tuple, a class
with its own copy hooks) still goes through ``copied``, so the copy is the same.

A walk gets a plan at its second rebuild, or at once for an ``xg.function`` result's
template, which nothing changes; a copy's walk (the one ``entry_of_copy`` gives it) gets none:
the copies a model-in/model-out loop makes live one step each, and compiling costs about a
hundred copies. A module gets two plans at most (its walk changing between rebuilds, as when an
attribute is set at each step, would compile one each time).

>>> import xpgrad as xg
>>> from xpgrad.nn.module_walks import walked, KINDS
>>> mlp = xg.nn.MLP([2, 3, 1], rng=0)
>>> children = walked(mlp, None, KINDS)
>>> plan = compiled(mlp, children)
>>> memo = {id(c): f"leaf {i}" for i, (_, c) in enumerate(children)}
>>> half = plan(memo, [])
>>> half.layers[1].w, half.layers is mlp.layers, half.sizes == mlp.sizes, half.sizes is mlp.sizes
('leaf 2', False, True, False)
"""
from __future__ import annotations

import weakref

from ..snapshots import ITEMS, MAPPING, SEQUENCE, STATE, _weak, record, recorded
from .module_rebuild import _ATOMS, _PLAIN_CLASSES, _plain, copied

#: what ``memo.get`` answers for an id it does not hold
_MISSING = object()
#: the plans compiled for a module (``id``) alive, and the most it gets: a module whose walk
#: changes between its rebuilds (an attribute set at each step) would compile at every step
_COMPILED: dict = {}
_MOST_PER_MODULE = 2


def plan_of(module, children):
    """The plan copying ``module`` from its walk ``children`` (just checked to hold, as a walk
    is before a rebuild), made at the second asking (at the first for a template); None
    where there is none (yet).

    >>> import xpgrad as xg
    >>> from xpgrad.nn.module_walks import walked, KINDS
    >>> lin = xg.nn.Linear(2, 1, rng=0)
    >>> children = walked(lin, None, KINDS)
    >>> plan_of(lin, children) is None, callable(plan_of(lin, children))
    (True, True)
    """
    plan = children.plan
    if plan is not None:
        return plan or None
    ref = children.ref
    if ref is None or ref() is not module:
        return None
    if not children.sealed:
        children.plan_asked += 1
        if children.plan_asked < 2:
            return None
        made = _COMPILED.get(id(module), 0)
        if made >= _MOST_PER_MODULE:        # its walks keep changing: copied does it
            children.plan = False
            return None
        if not made:
            weakref.finalize(module, _COMPILED.pop, id(module), None)
        _COMPILED[id(module)] = made + 1
    try:
        plan = compiled(module, children)
    except (RecursionError, SyntaxError, MemoryError):     # a model nested too deep for it
        plan = False
    children.plan = plan
    return plan or None


def compiled(module, children):
    """The plan copying ``module`` as its walk ``children`` found it: a function
    ``plan(memo, made)`` doing what ``copied(module, memo, made)`` does. ``children`` must
    hold (``unchanged(children.checks)``) whenever the plan runs."""
    covered = {}
    for check in children.checks:
        how = check[1]
        if how is STATE or how is SEQUENCE or how is MAPPING:
            obj = recorded(check)
            if obj is not None and _copied_by_hand(obj, how):
                covered[id(obj)] = obj
    writer = _Writer(covered)
    root = writer.expression(module)
    writer.lines.append(f"return {root}")
    source = "def plan(memo, made):\n" + "\n".join(f"    {line}" for line in writer.lines)
    namespace = {"_new": object.__new__, "_copied": copied, "_MISSING": _MISSING,
                 **writer.constants}
    exec(compile(source, f"<module copy plan of {type(module).__name__}>", "exec"), namespace)
    plan = namespace["plan"]
    plan.source = source
    plan.record = _recorder(children.checks)
    return plan


def _recorder(checks):
    """``copies_recorded(checks, memo)`` as code: the records of the copies (found in the
    memo) of what ``checks`` recorded, None where one has no copy. A module's copy holds the
    keys of its original (``dict.update`` keeps them), so its record takes the original's."""
    lines, constants = ["out = []"], {"_weak": _weak, "_STATE": STATE,
                                      "_SEQUENCE": SEQUENCE, "_MAPPING": MAPPING,
                                      "_ITEMS": ITEMS, "_record": record}
    for i, (obj, how, held) in enumerate(checks):
        original = obj() if how is STATE or how is ITEMS else obj
        if original is None:                # gone: the walk holds no more (nothing to copy)
            return lambda memo: None
        lines += [f"c = memo.get({id(original)})", "if c is None:", "    return None"]
        if how is STATE:
            constants[f"k{i}"] = held[0]
            lines.append(f"out.append((_weak(c), _STATE, (k{i}, tuple(c.__dict__.values()))))")
        elif how is SEQUENCE:
            lines.append("out.append((c, _SEQUENCE, tuple(c)))")
        elif how is MAPPING:
            lines.append("out.append((c, _MAPPING, (tuple(c), tuple(c.values()))))")
        else:
            lines.append("_record(c, _ITEMS, out)")
    lines.append("return out")
    source = "def record(memo):\n" + "\n".join(f"    {line}" for line in lines)
    exec(compile(source, "<module copy records>", "exec"), constants)
    return constants["record"]


def _copied_by_hand(obj, how) -> bool:
    """Whether ``copied`` copies ``obj`` (recorded ``how``) by hand: a plain Module, or a list
    or dict of exactly those types."""
    if how is STATE:
        cls = type(obj)
        plain = _PLAIN_CLASSES.get(cls)
        return plain if plain is not None else _plain(cls)
    return type(obj) is (list if how is SEQUENCE else dict)


class _Writer:
    """Writes a plan's lines: each covered object made once where ``copied`` first meets it
    (unless the memo holds it by then), everything else handed to ``copied``."""

    def __init__(self, covered):
        self.covered, self.lines, self.constants, self.names = covered, [], {}, 0
        self.depth = 0

    def name(self, prefix) -> str:
        self.names += 1
        return f"{prefix}{self.names}"

    def constant(self, value) -> str:
        name = self.name("c")
        self.constants[name] = value
        return name

    def emit(self, line):
        self.lines.append("    " * self.depth + line)

    def expression(self, obj) -> str:
        """Lines leaving the copy of ``obj`` (not an atom) in a variable, whose name this
        returns: the memo's entry where there is one, else made here (a covered object) or by
        ``copied``."""
        out = self.name("v")
        self.emit(f"{out} = memo.get({id(obj)}, _MISSING)")
        self.emit(f"if {out} is _MISSING:")
        self.depth += 1
        if id(obj) not in self.covered:
            self.emit(f"{out} = _copied({self.constant(obj)}, memo, made)")
        else:
            self.covered.pop(id(obj))       # made here only: later places find it in the memo
            self._made(obj, out)
        self.depth -= 1
        return out

    def _made(self, obj, out):
        if isinstance(obj, (list, dict)):
            self.emit(f"{out} = memo[{id(obj)}] = {type(obj).__name__}({self.constant(obj)})")
            items = obj.items() if isinstance(obj, dict) else enumerate(obj)
            target = out
        else:
            self.emit(f"{out} = memo[{id(obj)}] = _new({self.constant(type(obj))})")
            self.emit(f"made.append({out})")
            target = self.name("s")
            self.emit(f"{target} = {out}.__dict__")
            self.emit(f"{target}.update({self.constant(vars(obj))})")
            items = vars(obj).items()
        for key, value in list(items):
            if type(value) not in _ATOMS:
                self.emit(f"{target}[{self.constant(key)}] = {self.expression(value)}")
