"""The signature of a call of an ``xg.function``: what must match for a trace to replay
(each tensor's backend, shape and dtype; Variables by identity; the structure of containers;
Python numbers, NumPy scalars (with their type), strings, dtypes, classes, functions and enum
members by value, and so a
dataclass of such values; a model holding Variables by identity and by the submodules and
Variables it holds now (nn/module_structure.py); any other object by identity, as
``tf.function`` keys them: two objects that compare equal may still hold different Variables,
so a method traced for one must not replay for the other).

>>> sig = []
>>> _signature((2.5, -0.0, float("nan")), sig, [])
>>> sig[1:]
[(<class 'float'>, 2.5), (<class 'float'>, '-0.0'), (<class 'float'>, 'nan')]
"""
from __future__ import annotations

import dataclasses
import enum
import types
import weakref

import numpy as np

from .. import pytree as _pytree
from ..devices import Device
from ..dtypes import DType
from ..tensor import Tensor, Variable
from . import module_key as _module_key
from ..pytree_nodes import user_kind
from .structure import is_namedtuple, value_module

#: types whose values are keys as they are (equal values behave alike)
_BY_VALUE = frozenset((int, bool, str, bytes, type(None), type(Ellipsis), range,
                       types.FunctionType, types.BuiltinFunctionType, types.MethodType,
                       DType, Device))
#: kinds of objects keyed by value: classes (``np.float32``), dtypes, enum members
_VALUE_KINDS = (type, np.dtype, enum.Enum)


class _Identity:
    """An object in a signature by identity; holding it keeps its ``id`` from being reused by
    another object while the signature is cached."""

    __slots__ = ("obj",)

    def __init__(self, obj):
        self.obj = obj

    def __eq__(self, other):
        return type(other) is _Identity and other.obj is self.obj

    def __hash__(self):
        return id(self.obj)


class _Model:
    """A model argument in a signature by identity, held weakly (its structure, next in the
    signature, holds its parts weakly too): a program traced with a model since freed keeps
    nothing of it alive, and matches no call again (a new model at its address included)."""

    __slots__ = ("ref", "id")

    def __init__(self, obj):
        self.ref, self.id = weakref.ref(obj), id(obj)

    def __eq__(self, other):
        return type(other) is _Model and other.ref() is self.ref() is not None

    def __hash__(self):
        return self.id


def _tensor_backends(args, kwargs):
    """The backends of the tensors among the arguments (one entry per tensor)."""
    sig, tensors = [], []
    _signature(args, sig, tensors)
    _signature(kwargs, sig, tensors)
    return [t._backend for t in tensors]


def aliasing(tensors):
    """Which tensor arguments are one tensor given twice (a trace sees them as one: a tape
    differentiates through both), as a signature entry; None where each is given once."""
    n = len(tensors)
    if n < 2 or (tensors[0] is not tensors[1] if n == 2 else len(set(map(id, tensors))) == n):
        return None
    first = {}
    return ("same tensor", tuple(first.setdefault(id(t), k) for k, t in enumerate(tensors)))


def tensors_key(args):
    """``(key, backend)`` of a call whose arguments are all plain Tensors (no Variable, no
    keyword), each given once, on one backend: the key ``_signature`` makes of them (the
    arguments' tuple, each tensor's entry, no keywords), without its walk; else None.

    >>> import xpgrad as xg
    >>> key, be = tensors_key((xg.asarray([1.0], backend="numpy"),))
    >>> key
    ('numpy', (<class 'tuple'>, 1), ('numpy', (1,), dtype('float32')), (<class 'dict'>, ()))
    """
    sig = [(tuple, len(args))]
    be = None
    for a in args:
        if a.__class__ is not Tensor or (be is not None and a._backend is not be):
            return None
        be = a._backend
        data = a._data
        sig.append((be.name, data.shape, data.dtype))
    if be is None or aliasing(args) is not None:
        return None
    sig.append((dict, ()))
    return (be.name, *sig), be


def refused_argument(args, kwargs):
    """The position or keyword of the first argument whose signature raises TypeError."""
    for where, value in [*enumerate(args), *kwargs.items()]:
        try:
            _signature(value, [], [])
        except TypeError:
            return where
    return None


def _signature(obj, out, tensors):
    """Append ``obj``'s signature entries to ``out``, its tensors to ``tensors``."""
    if isinstance(obj, Variable):
        out.append(("V", _Identity(obj)))
    elif isinstance(obj, Tensor):
        data = obj._data
        tensors.append(obj)
        out.append((obj._backend.name, data.shape, data.dtype))
    else:
        t = type(obj)
        if t is tuple or t is list:
            out.append((t, len(obj)))
            for o in obj:
                _signature(o, out, tensors)
        elif t is dict:
            out.append((dict, tuple(obj)))
            for o in obj.values():
                _signature(o, out, tensors)
        elif is_namedtuple(obj) or isinstance(obj, (list, tuple)):     # subclasses too
            out.append((t, len(obj)))
            for o in obj:
                _signature(o, out, tensors)
        elif isinstance(obj, dict):                 # OrderedDict, defaultdict
            out.append((t, tuple(obj)))
            for o in obj.values():
                _signature(o, out, tensors)
        elif t in _BY_VALUE or isinstance(obj, _VALUE_KINDS):
            out.append((t, obj))
        elif t is float or t is complex:
            out.append((t, _number_key(obj)))
        elif (kind := user_kind(obj)) is not None:   # xg.register_pytree_node's: a tuple's
            children, aux = kind.subtrees(obj)      # key, and its aux data (static) by value
            out.append((t, _aux_key(t, aux), len(children)))
            for child in children:
                _signature(child, out, tensors)
        elif (module := value_module(obj)) is not None:     # a model that is a value
            out.append((t, _module_key.module_key(obj, module[1])))
            for _, child in module[1]:
                if child.__class__ is Tensor:       # _signature's Tensor case, inline
                    data = child._data
                    tensors.append(child)
                    out.append((child._backend.name, data.shape, data.dtype))
                else:
                    _signature(child, out, tensors)
        elif (structure := model_structure(obj)) is not None:   # a model holding Variables
            out.append((t, _Model(obj), structure))
        elif dataclasses.is_dataclass(obj) and not isinstance(obj, type):
            out.append((t, _dataclass_key(obj)))
        elif isinstance(obj, np.generic):       # np.float32(0.5): as a Python number, typed
            out.append((t, _number_key(obj.item())))
        elif hasattr(obj, "__array__") or hasattr(obj, "__array_interface__"):
            # NumPy arrays are Tensors by now (numpy_inputs.py), but in a dataclass
            kind = f"{t.__module__.partition('.')[0]}.{t.__name__}"      # torch.Tensor
            raise TypeError(f"xg.function takes tensors and NumPy arrays, not {kind} arrays: "
                            f"wrap the argument with xg.asarray(...) before the call")
        else:
            out.append((t, _Identity(obj)))


def model_structure(obj):
    """The structure (submodules and Variables) of ``obj`` where it is a model holding
    Variables (``ModuleKind.structure``), else None: the key of ``xg.function(model)``'s own
    model and of a decorated method's ``self``, which the signature leaves out."""
    kind = _pytree._kind(obj)
    structure = getattr(kind, "structure", None)
    if structure is None or value_module(obj) is not None:
        return None
    return structure(obj)


def _aux_key(t, aux):
    """A pytree node's aux data as a key: itself, which must be hashable (``jax.jit`` keys
    its cache by it too); TypeError naming the class otherwise."""
    try:
        hash(aux)
    except TypeError:
        raise TypeError(f"xg.function: the aux data of a {t.__name__} pytree node must be "
                        f"hashable (it keys the trace, as in jax.jit), got "
                        f"{type(aux).__name__} {aux!r:.60}") from None
    return ("aux", aux)


def _dataclass_key(obj):
    """A dataclass of values keyed by value (a config made afresh for each call) by its
    fields' keys; one holding anything else (a tensor, a Variable, an object) by identity."""
    fields, tensors = [], []
    try:
        for field in dataclasses.fields(obj):
            _signature(getattr(obj, field.name), fields, tensors)
    except TypeError:           # a NumPy array: a constant of the trace, as any object's
        return _Identity(obj)
    if tensors or any(type(entry[-1]) is _Identity for entry in fields):
        return _Identity(obj)
    return tuple(fields)


def _number_key(x):
    """A float's (or complex's) key: itself, but NaN (equal to nothing, itself included: it
    would never find its trace) and negative zero (equal to 0.0, yet ``1 / -0.0`` is ``-inf``)
    by their text."""
    if x == x and x != 0 and type(x) is float:
        return x
    return repr(x)
