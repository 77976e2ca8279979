"""Draws a trace took from a random source a replay cannot repeat: NumPy's global random state
(``np.random.rand()``), Python's ``random`` module, or a NumPy ``Generator`` or ``RandomState``
or a ``random.Random`` that the traced function reaches (its closure, globals, arguments and
their attributes: the walk of name_guards.py). A replay repeats the recorded array operations
only, so such a draw would be a constant of the program, the same numbers on every replay; the
trace refuses it instead (``drawn``: the message and the line), pointing to ``xg.random``,
whose draws are steps of the program. The sources' states are read before and after the trace
only: a replay pays nothing.

>>> import numpy as np
>>> sources = HostRandom(lambda: np.random.rand(), ())
>>> _ = np.random.rand()
>>> sources.drawn()[0].startswith("drew random numbers from NumPy's global random state")
True
"""
from __future__ import annotations

import dis
import random

import numpy as np

from .name_guards import random_sources

#: the sources every function reaches: NumPy's and Python's global ones
_GLOBAL_NUMPY = np.random.mtrand._rand
_GLOBAL_PYTHON = random._inst

_ADVICE = ("; a replay repeats only the recorded array operations, so every replay would "
           "reuse the numbers this trace drew. Draw with an xg.random generator, whose draws "
           "replay fresh (rng = xg.random.default_rng(seed) made outside the function, then "
           "rng.normal(...), rng.uniform(...), xg.nn.Dropout), pass the numbers in as a tensor "
           "argument, or call the function without xg.function")


class HostRandom:
    """The states of the random sources ``fn`` reaches, read before its trace (module
    docstring); ``walk``: whether to walk its names for Generators (else the global ones)."""

    def __init__(self, fn, roots, current=None, walk=True):
        self.fn = fn
        found = random_sources(fn, roots, current) if walk else []
        self.sources = [(_GLOBAL_NUMPY, None), (_GLOBAL_PYTHON, None)] + [
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


def _line(fn, names):
    """``file:line`` of the first line of ``fn``'s code that reads one of ``names`` (a
    variable's or an attribute's), or None (a draw in a helper function)."""
    code = getattr(getattr(fn, "__func__", fn), "__code__", None)
    if code is None:
        return None
    for instruction in dis.get_instructions(code):
        if instruction.argval in names and instruction.positions.lineno is not None:
            return f"{code.co_filename}:{instruction.positions.lineno}"
    return None


__all__ = ["HostRandom"]
