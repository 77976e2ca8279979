"""What a trace changed in Python that a replay will not change again (``HostState``).

Draws from a random source a replay cannot repeat: NumPy's global random state
(``np.random.rand()``), Python's ``random`` module, or a NumPy ``Generator`` or ``RandomState``
or a ``random.Random`` that the traced function reaches (its closure, globals, arguments and
their attributes: the walk of name_guards.py). A replay repeats the recorded array operations
only, so such a draw would be a constant of the program, the same numbers on every replay; the
trace refuses it instead (``drawn``: the message and the line; a draw in a helper the function
calls, the helper's line and the line calling it), pointing to ``xg.random``,
whose draws are steps of the program. The sources' states are read before and after the trace
only: a replay pays nothing.

A Python number the function sets itself where it reads it (a counter, ``self.steps += 1``;
``hyper.rate *= 0.99``; ``state["k"] += 1`` in a dict or list it reaches), or a list or dict it
appends to or pops from (``losses.append(loss)``),
is changed by the trace and then never again: ``counted`` names it for a
``SideEffectWarning``.

>>> import numpy as np
>>> state = HostState(lambda: np.random.rand(), ())
>>> _ = np.random.rand()
>>> state.drawn()[0].startswith("drew random numbers from NumPy's global random state")
True
"""
from __future__ import annotations

import dis
import random
import types

import numpy as np

from .held import HeldValue
from .lazy_setup import holds_traced, is_lazy_setup
from .name_guards import host_state

#: the sources every function reaches: NumPy's and Python's global ones (the objects their
#: module-level functions are bound to)
_GLOBAL_NUMPY = np.random.rand.__self__
_GLOBAL_PYTHON = random.random.__self__

_ADVICE = ("; a replay repeats only the recorded array operations, so every replay would "
           "reuse the numbers this trace drew. Draw with an xg.random generator, whose draws "
           "replay fresh (rng = xg.random.default_rng(seed) made outside the function, then "
           "rng.normal(...), rng.uniform(...), xg.nn.Dropout), pass the numbers in as a tensor "
           "argument, or call the function without xg.function")


class SideEffectWarning(UserWarning):
    """A traced function set a Python value it reads (a counter) or appended to a list it
    reaches (``losses.append(loss)``): replays do not, as they run no Python."""


class HostState:
    """The states of the random sources ``fn`` reaches and the Python values it reads, taken
    before its trace (module docstring); ``walk``: whether to walk its names (else only the
    global random sources); ``names``: the names the functions walked read (None unwalked)."""

    def __init__(self, fn, roots, current=None, walk=True):
        self.fn = fn
        found, self.settings, self.containers, self.names = host_state(fn, roots, current) \
            if walk else ([], [], [], None)
        named = self.names is None or "random" in self.names
        # the global states only where the function's code reaches them (another thread's
        # draws, a data loader's, are not this trace's)
        reached = [source for source, _ in found]
        self.sources = [(source, None) for source in (_GLOBAL_NUMPY, _GLOBAL_PYTHON)
                        if named or any(known is source for known in reached)] + [
            (source, name) for source, name in found
            if source is not _GLOBAL_NUMPY and source is not _GLOBAL_PYTHON]
        self.states = [_state(source) for source, _ in self.sources]

    def drawn(self):
        """``(message, file:line or None)`` for the first source drawn from since, or None."""
        for (source, name), state in zip(self.sources, self.states):
            if _state(source) != state:
                what, names = _described(source, name, self.fn)
                return f"drew random numbers from {what} while tracing" + _ADVICE, \
                    _line(self.fn, names)
        return None

    def counted(self):
        """``(message, file:line or None)`` where the trace changed a Python value the
        function reads, or the length of a list or dict it reaches (the first one), else
        None."""
        for holder, attribute, value in self.settings:
            now = getattr(holder, attribute, value)
            if _changed(value, now):
                name = _setting_name(self.fn, holder, attribute)
                return _set_message(name, value, now, "set it outside the function"), \
                    _line(self.fn, {name})
        for container, name, length, numbers in self.containers:
            if len(container) != length:
                return (f"the function changed the length of {name!r} ({length} -> "
                        f"{len(container)}: an append, a pop) while tracing: a replay runs no "
                        f"Python, so replays never change it again (a list of losses stops "
                        f"growing). Return the value and append it outside the function"), \
                    _line(self.fn, {name})
            for key, value in numbers:
                now = container.get(key, value) if isinstance(container, dict) else \
                    container[key]
                if _changed(value, now):
                    return _set_message(f"{name}[{key!r}]", value, now,
                                        "set it outside the function and pass it in",
                                        ", a branch on it takes the traced way"), \
                        _line(self.fn, {name})
        return None


def _changed(value, now) -> bool:
    """Whether a trace setting ``value`` to ``now`` is a side effect a replay will not repeat:
    another value, and not a first call's setup (``lazy_setup.py``: ``self.opt = Adam()``
    where ``self.opt`` was None)."""
    if now is value or is_lazy_setup(value, now):
        return False
    return type(now) is not type(value) or holds_traced(now) or now != value


def _set_message(name, value, now, advice, branch=""):
    """The warning for a trace that set ``name`` from ``value`` to ``now``."""
    if holds_traced(now):
        return (f"the function stored a tensor computed while tracing in '{name}' (it "
                f"was {value!r}): it belongs to the ended trace (using it after the call "
                f"raises TraceError) and replays never set it again. Return it from the "
                f"function, or compute it outside and pass it in")
    return (f"the function set '{name}' ({value!r} -> {now!r}) while tracing: a replay runs "
            f"no Python, so replays never set it again (a counter stops counting{branch}). "
            f"Keep it in a Variable (v.assign_add(1)), or {advice}")


def _setting_name(fn, holder, attribute):
    """The variable or attribute name of a value guard's place (name_guards.py's forms)."""
    fn = getattr(fn, "__func__", fn)
    if attribute == "cell_contents":            # the traced function's own closure cell
        closure = getattr(fn, "__closure__", None) or ()
        index = next((k for k, cell in enumerate(closure) if cell is holder), None)
        return None if index is None else fn.__code__.co_freevars[index]
    if type(holder) is HeldValue:
        where = holder.where            # (id(holder), attribute) or a ClosureCell's
        return where[1].co_freevars[where[2]] if len(where) == 3 else where[1]
    return attribute


def _state(source):
    if isinstance(source, random.Random):
        return source.getstate()
    bit_generator = source.bit_generator if isinstance(source, np.random.Generator) else None
    return _comparable(bit_generator.state if bit_generator is not None
                       else source.get_state(legacy=False))


def _comparable(state):
    """``state`` (a bit generator's: dicts of numbers and arrays) with arrays as bytes."""
    if isinstance(state, dict):
        return tuple((key, _comparable(value)) for key, value in state.items())
    if isinstance(state, np.ndarray):
        return state.tobytes()
    return state


def _described(source, name, fn):
    """How the message names ``source``, and the names the function's code may read it by."""
    namespace = getattr(getattr(fn, "__func__", fn), "__globals__", {})
    if source is _GLOBAL_NUMPY:
        return ("NumPy's global random state (np.random.rand(), np.random.normal(), ...)",
                {"random", *_names_of(namespace, np.random, source)})
    if source is _GLOBAL_PYTHON:
        return ("Python's random module (random.random(), random.gauss(), ...)",
                {"random", *_names_of(namespace, random, source)})
    kind = "NumPy Generator" if isinstance(source, np.random.Generator) else \
        "NumPy RandomState" if isinstance(source, np.random.RandomState) else "random.Random"
    return (f"the {kind} {name!r}" if name else f"a {kind}"), {name}


def _names_of(namespace, module, source):
    """The globals naming ``module`` or a method of ``source`` (``from random import gauss``)."""
    return [key for key, value in namespace.items()
            if value is module or getattr(value, "__self__", None) is source]


def _line(fn, names, depth=0):
    """``file:line`` of the first line of ``fn``'s code that reads one of ``names`` (a
    variable's or an attribute's); else, where a helper function it calls reads one, that
    line, the helper's name and the line of ``fn`` that calls it; else None."""
    code = getattr(getattr(fn, "__func__", fn), "__code__", None)
    if code is None:
        return None
    calls = []
    for instruction in dis.get_instructions(code):
        line = instruction.positions.lineno
        if line is None:
            continue
        if instruction.argval in names:
            return f"{code.co_filename}:{line}"
        helper = _helper(fn, instruction) if depth < 3 else None
        if helper is not None:
            calls.append((helper, line))
    for helper, line in calls:
        where = _line(helper, names, depth + 1)
        if where is not None:
            name = getattr(helper, "__name__", "?")
            return f"{where} in {name!r}, called at {code.co_filename}:{line}"
    return None


def _helper(fn, instruction):
    """The Python function ``instruction`` of ``fn``'s code loads, where it loads one: a
    global, a closure variable, or a method of ``self`` (``fn`` a bound method)."""
    function = getattr(fn, "__func__", fn)
    name, found = instruction.argval, None
    if instruction.opname == "LOAD_GLOBAL":
        found = function.__globals__.get(name)
    elif instruction.opname == "LOAD_DEREF" and name in function.__code__.co_freevars:
        cell = function.__closure__[function.__code__.co_freevars.index(name)]
        try:
            found = cell.cell_contents
        except ValueError:              # a variable not bound yet
            pass
    elif instruction.opname in ("LOAD_ATTR", "LOAD_METHOD") and hasattr(fn, "__self__"):
        found = getattr(type(fn.__self__), name, None)
        found = found.__get__(fn.__self__) if isinstance(found, types.FunctionType) else None
    return found if isinstance(found, (types.FunctionType, types.MethodType)) else None


__all__ = ["HostState", "SideEffectWarning"]
