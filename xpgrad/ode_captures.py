"""The captures of ``odeint``'s right-hand sides kept from one ``odeint`` call to the next, as
``jax.jit``'s cache keeps a traced function: a training loop that calls ``odeint`` once a step
traces ``func`` (and the adjoint's vector-Jacobian product of it) on its first steps and
replays the programs from then on.

An entry is keyed on what a program traced from ``func`` depends on besides its arguments
(whose shapes, dtypes and Python values ``xg.function`` keys itself): the code of ``func`` and
the values it reads from its closure cells, defaults and the globals its code names (Python
numbers and strings by value, so that a changed ``k = 0.5`` finds another entry; tensors,
Variables, lists, dicts and other objects by identity; functions they hold by these same
rules), and the structure, shapes and dtypes of the state. A bound method is keyed on its
function and its object, any other callable on its identity. The entries are bounded
(``MAX_ENTRIES``, least recently used dropped) and hold what their keys name.

A Variable ``func`` reads is read live by the programs (new values through ``assign`` keep the
entry); any other Tensor it reads that way is a constant of them, so a new one (a training loop
that rebinds ``k = k - lr * g`` in ``func``'s closure) makes a new entry and traces again: the
first time that happens for a ``func``, ``xg.jit.RetracingWarning`` says to pass it in ``args``
or keep it in a Variable.

>>> import xpgrad as xg
>>> def decay(k):
...     return lambda y, t: -k * y
>>> func_key(decay(0.5)) == func_key(decay(0.5)), func_key(decay(0.5)) == func_key(decay(2.0))
(True, False)
"""
from __future__ import annotations

import collections
import functools
import threading
import types
import warnings

import numpy as np

from .jit.signature import _Identity, _number_key, _signature
from .jit.trace_cache import RetracingWarning
from .tensor import Tensor, Variable

#: entries kept (least recently used dropped first)
MAX_ENTRIES = 16
#: how deep functions reached from ``func`` (a helper it calls, held in a closure cell or a
#: global) are keyed by their own closures and globals; deeper ones by identity
_DEPTH = 3
#: a closure's tuple up to this length is keyed by its items, a longer one by identity
_ITEMS = 32

_BY_VALUE = (type(None), bool, int, str, bytes)
#: the tag of a Tensor's (not a Variable's) identity in a key
_TENSOR = type("TensorIdentity", (), {"__repr__": lambda self: "<tensor>"})()
_FUNCTIONS = (types.FunctionType, types.MethodType, functools.partial)

_ENTRIES: "collections.OrderedDict[tuple, Captures]" = collections.OrderedDict()
_LOCK = threading.Lock()
#: hashes of the keys (their tensors left out) already warned about (``_only_tensors_differ``)
_WARNED: set = set()


class Capture:
    """One right-hand side's ``xg.function`` (made on first use, None once ``fn`` could not be
    traced or capturing is off) and ``path``: how it last ran ("eager", "captured" or
    "eager: <why>")."""

    def __init__(self):
        self.function = None
        self.made = False
        self.path = "eager"


class Captures:
    """The captures of one ``func`` for one state structure: ``forward`` (``func`` itself)
    and, per set of parameters, the adjoint's augmented system (``adjoint``)."""

    def __init__(self):
        self.forward = Capture()
        self._adjoints = {}

    def adjoint(self, key) -> Capture:
        """The augmented system's capture for parameters keyed ``key``."""
        return self._adjoints.setdefault(key, Capture())

    def reset(self) -> Capture:
        """Forget every capture (one replayed differently from an eager call: something
        ``func`` reads that no key names changed); the new forward capture."""
        self.forward, self._adjoints = Capture(), {}
        return self.forward


def captures(func, tree, flat_dtype) -> Captures:
    """The entry of ``func`` for the state ``tree`` (raveled to ``flat_dtype``): the one an
    earlier call made, or a new one."""
    structure, tensors = [], []
    _signature(tree, structure, tensors)
    key = (func_key(func), tuple(structure), str(flat_dtype))
    warn = False
    with _LOCK:
        entry = _ENTRIES.get(key)
        if entry is None:
            warn = _only_tensors_differ(key)
            entry = _ENTRIES[key] = Captures()
            if len(_ENTRIES) > MAX_ENTRIES:
                _ENTRIES.popitem(last=False)
        else:
            _ENTRIES.move_to_end(key)
    if warn:
        warnings.warn(f"odeint: func {getattr(func, '__name__', type(func).__name__)!r} reads "
                      "a Tensor (not a Variable) from its closure, defaults or globals that "
                      "is a different one from an earlier call's: its value is a constant of "
                      "the captured programs, so each new one traces func and its adjoint "
                      "again. Pass it in args (xg.odeint(func, y0, t, k), func(y, t, k)), or "
                      "keep it in an xg.Variable and give it new values with assign",
                      RetracingWarning, stacklevel=3)
    return entry


def _only_tensors_differ(key) -> bool:
    """Whether a kept entry's key equals the new ``key`` but for the Tensors (not Variables)
    they name, the first time for this key (warned once; called holding ``_LOCK``)."""
    skeleton = _without_tensors(key)
    if skeleton == key or hash(skeleton) in _WARNED:
        return False
    if not any(_without_tensors(kept) == skeleton for kept in _ENTRIES):
        return False
    if len(_WARNED) > 1024:
        _WARNED.clear()
    _WARNED.add(hash(skeleton))
    return True


def _without_tensors(key):
    """``key`` with each Tensor's identity left out."""
    if type(key) is not tuple:
        return key
    if len(key) == 2 and key[0] is _TENSOR:
        return (_TENSOR,)
    return tuple(_without_tensors(item) for item in key)


def clear():
    """Drop every entry (the next ``odeint`` call of each ``func`` traces again)."""
    with _LOCK:
        _ENTRIES.clear()
        _WARNED.clear()


def func_key(func, depth=0):
    """What a trace of ``func`` depends on besides its arguments (module docstring)."""
    if isinstance(func, types.FunctionType):
        code = func.__code__
        return ("function", code, value_key(func.__defaults__, depth),
                value_key(func.__kwdefaults__, depth),
                tuple(_cell_key(cell, depth) for cell in func.__closure__ or ()),
                _globals_key(func, code, depth))
    if isinstance(func, types.MethodType):
        return ("method", func_key(func.__func__, depth), _Identity(func.__self__))
    if isinstance(func, functools.partial):
        return ("partial", func_key(func.func, depth), value_key(func.args, depth),
                value_key(func.keywords, depth))
    return ("object", _Identity(func))


def value_key(value, depth=0):
    """A value ``func`` reads, by value (Python numbers, strings, short tuples of them, NumPy
    scalars, functions by ``func_key``) or by identity (the rest: a list or dict too, which
    ``func`` may append to or count calls in; a value changed inside one is for the first
    call's check, ``ode_rhs.py``)."""
    kind = type(value)
    if kind in _BY_VALUE:
        return (kind, value)
    if kind is float or kind is complex:
        return (kind, _number_key(value))
    if isinstance(value, Variable):
        return ("variable", _Identity(value))
    if isinstance(value, Tensor):
        return (_TENSOR, _Identity(value))
    if kind is tuple and len(value) <= _ITEMS:
        return (kind, tuple(value_key(item, depth) for item in value))
    if isinstance(value, np.generic):
        return (kind, value_key(value.item(), depth))
    if isinstance(value, _FUNCTIONS) and depth < _DEPTH:
        return func_key(value, depth + 1)
    return ("object", _Identity(value))


def _cell_key(cell, depth):
    try:
        return value_key(cell.cell_contents, depth)
    except ValueError:              # a cell not filled yet
        return ("empty cell",)


def _globals_key(func, code, depth):
    """The values of the globals ``code`` (and the code of functions defined in it) names,
    except modules."""
    found = func.__globals__
    keys = []
    for name in _global_names(code):
        if name in found and not isinstance(found[name], types.ModuleType):
            keys.append((name, value_key(found[name], depth)))
    return tuple(keys)


@functools.lru_cache(maxsize=256)
def _global_names(code):
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names.update(_global_names(const))
    return tuple(sorted(names))
