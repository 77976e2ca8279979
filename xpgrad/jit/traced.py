"""``Traced``: what a raw backend array is while ``xg.function`` traces.

It wraps the real array (the trace runs eagerly) and sends every operation on it -- operators,
methods, NumPy ufuncs and functions -- to its ``Tracer``, which runs it on the real arrays and
records it as one step of the program. Reading a value in Python (``bool``, ``float``,
``.item()``, ``np.asarray``) cannot be recorded and raises ``TraceError`` naming the user's
line.

>>> import numpy as np
>>> from xpgrad.jit.tracer import Tracer
>>> import xpgrad as xg
>>> tracer = Tracer(xg.get_backend("numpy"))
>>> x = tracer.input(np.arange(3.0))
>>> y = (x * 2.0).sum()
>>> float(y._real), [s.kind for s in tracer.steps]
(6.0, ['input', 'call', 'call'])
"""
from __future__ import annotations

import operator
import threading

from ..batching.batched import BatchedArray
from .errors import TraceError, user_line

#: attributes that describe an array without reading its values: answered directly
STATIC = frozenset(("shape", "dtype", "ndim", "size", "itemsize", "nbytes", "strides",
                    "device", "__array_priority__"))
#: those of them that follow the shape, which may depend on values (``dynamic_shapes.py``)
SHAPED = frozenset(("shape", "size", "nbytes", "strides"))
#: attributes that would hand the values to Python or to foreign memory: refused
LEAVING = frozenset(("item", "tolist", "tobytes", "tofile", "dump", "dumps", "get", "ctypes",
                     "data", "__array_interface__", "__cuda_array_interface__",
                     "__dlpack__", "__dlpack_device__", "__array_struct__", "view"))
#: attributes that are arrays (views) of this one: recorded like a call
ARRAY_ATTRIBUTES = frozenset(("T", "mT", "real", "imag", "flat"))


_AS_ARRAY = "np.asarray() of a traced array (.numpy(), .item(), float(), repr(), print())"


class Method:
    """A recorded method call: ``Method("reshape")(a, 3)`` is ``a.reshape(3)``."""

    __slots__ = ("name",)

    def __init__(self, name):
        self.name = name

    def __call__(self, obj, *args, **kwargs):
        return getattr(obj, self.name)(*args, **kwargs)

    def __repr__(self):
        return f"<method {self.name}>"


def _leaving(name, what):
    def method(self, *args, **kwargs):
        if self._tracer.thread != threading.get_ident():     # another thread's eager read
            return getattr(self._real, name)(*args, **kwargs)
        self._tracer.refuse(what)
    method.__name__ = name
    return method


class Traced:
    """A raw array under trace: its ``_real`` value and its ``_slot`` in ``_tracer``'s program."""

    __slots__ = ("_real", "_slot", "_tracer", "__weakref__")
    __array_priority__ = 100
    #: ``x[key] = value`` on a tensor writes into a copy (``xpgrad.inplace``): whether other
    #: values of the program share this array is not known while tracing
    _shared_unknown = True

    def __init__(self, real, slot, tracer):
        self._real = real
        self._slot = slot
        self._tracer = tracer

    # -- what a trace can answer without values ------------------------------------------------
    @property
    def shape(self):
        self._tracer.read_shape(self)
        return self._real.shape

    @property
    def dtype(self):
        return self._real.dtype

    @property
    def ndim(self):
        return self._real.ndim

    @property
    def size(self):
        self._tracer.read_shape(self)
        return self._real.size

    def __len__(self):
        self._tracer.read_shape(self)
        return len(self._real)

    def __iter__(self):
        if self._real.ndim == 0:        # at iter(), as Tensor's: np.iterable(traced) is False
            raise TypeError("iteration over a 0-d array")
        return (self[i] for i in range(len(self)))    # len(self): the trace notes the shape read

    def __repr__(self):
        return f"Traced(shape={tuple(self._real.shape)}, dtype={self._real.dtype})"

    def __getattr__(self, name):
        real = object.__getattribute__(self, "_real")
        tracer = object.__getattribute__(self, "_tracer")
        if tracer.thread != threading.get_ident():      # another thread's eager work
            return getattr(real, name)
        if name in STATIC:
            if name in SHAPED:
                tracer.read_shape(self)
            return getattr(real, name)
        if name == "base":        # a traced value owns its slot: nothing else refers to it
            return None
        if name in ("__array_struct__", "__array_interface__"):
            tracer.refuse(_AS_ARRAY)
        if name in LEAVING:
            tracer.refuse(f"the array attribute .{name}")
        if name.startswith("__"):
            raise AttributeError(name)
        if name in ARRAY_ATTRIBUTES:
            return tracer.call(operator.attrgetter(name), (self,), {})
        attr = getattr(real, name)
        if not callable(attr):
            tracer.refuse(f"the array attribute .{name}")
        method = Method(name)
        return lambda *args, **kwargs: tracer.call(method, (self, *args), kwargs)

    # -- NumPy's protocols ----------------------------------------------------------------------
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        fn = ufunc if method == "__call__" else getattr(ufunc, method)
        return self._tracer.call(fn, inputs, kwargs)

    def __array_function__(self, func, types, args, kwargs):
        return self._tracer.call(func, args, kwargs)

    __array__ = _leaving("__array__", _AS_ARRAY)
    __bool__ = _leaving("__bool__", "bool() (Python control flow on a tensor's value)")
    __float__ = _leaving("__float__", "float()")
    __int__ = _leaving("__int__", "int()")
    __complex__ = _leaving("__complex__", "complex()")
    __index__ = _leaving("__index__", "use as a Python index")

    # -- indexing -------------------------------------------------------------------------------
    def __getitem__(self, key):
        return self._tracer.call(operator.getitem, (self, key), {})

    def __setitem__(self, key, value):
        self._tracer.call(operator.setitem, (self, key, value), {})


def _binary(ufunc_name, op, reflected=False):
    def method(self, other):
        if getattr(other, "__array_priority__", 0) > Traced.__array_priority__:
            return NotImplemented          # a Tensor: its reflected operator decides
        tracer = self._tracer
        fn = tracer.ufunc(ufunc_name) or op
        return tracer.call(fn, (other, self) if reflected else (self, other), {})
    return method


def _unary(ufunc_name, op):
    def method(self):
        tracer = self._tracer
        return tracer.call(tracer.ufunc(ufunc_name) or op, (self,), {})
    return method


def _inplace(op):
    def method(self, other):
        return self._tracer.call(op, (self, other), {})
    return method


_BINARY = {"add": "add", "sub": "subtract", "mul": "multiply", "truediv": "divide",
           "floordiv": "floor_divide", "mod": "remainder", "pow": "power", "matmul": "matmul",
           "and": "bitwise_and", "or": "bitwise_or", "xor": "bitwise_xor",
           "lshift": "left_shift", "rshift": "right_shift"}
for _name, _ufunc in _BINARY.items():
    _op = getattr(operator, _name if _name not in ("and", "or") else _name + "_")
    setattr(Traced, f"__{_name}__", _binary(_ufunc, _op))
    setattr(Traced, f"__r{_name}__", _binary(_ufunc, _op, reflected=True))
    setattr(Traced, f"__i{_name}__", _inplace(getattr(operator, f"i{_name}")))
for _name, _ufunc in {"lt": "less", "le": "less_equal", "gt": "greater",
                      "ge": "greater_equal", "eq": "equal", "ne": "not_equal"}.items():
    setattr(Traced, f"__{_name}__", _binary(_ufunc, getattr(operator, _name)))
for _name, _ufunc in {"neg": "negative", "pos": "positive", "abs": "absolute",
                      "invert": "invert"}.items():
    setattr(Traced, f"__{_name}__", _unary(_ufunc, getattr(operator, _name)))
Traced.__hash__ = object.__hash__


def _special_index(key):
    """The first traced (or vmap-batched) array in ``key``, or None."""
    t = type(key)
    if t is Traced or t is BatchedArray:
        return key
    if t is tuple:
        for k in key:
            t = type(k)
            if t is Traced or t is BatchedArray:
                return k
    return None


def index(x, key):
    """``x[key]``. Where ``x`` is a plain array (a constant of a trace: a tensor of the
    function's closure) and ``key`` holds a traced array, the indexing is recorded as a step:
    NumPy's own ``x[key]`` would read the key's values. Inside ``xg.vmap`` a key holding an
    index array of each example's is batched (``xpgrad.batching.indexing``)."""
    if type(x) is not Traced:
        special = _special_index(key)
        if special is not None:
            if type(special) is Traced:
                return special._tracer.call(operator.getitem, (x, key), {})
            from ..batching.indexing import getitem

            return getitem(x, key)
    return x[key]


def check_not_leaked(traced):
    """Raise for a Traced whose trace has ended: a tensor leaked out of the traced function."""
    if not traced._tracer.active:
        raise leaked(traced._tracer)


def leaked(tracer=None):
    """The error for a tensor of ``tracer``'s ended trace used now (it names the function)."""
    name = f" ({tracer.function!r})" if getattr(tracer, "function", None) else ""
    return TraceError(LEAKED.format(name), user_line())


LEAKED = ("a tensor made while tracing an xg.function{} was used after the trace ended: it "
          "leaked out of the function through a Python side effect (e.g. appended to a list or "
          "stored on an object). Return it from the function instead")
