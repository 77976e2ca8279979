"""``BatchedArray``: what a raw backend array is inside ``xg.vmap``.

It holds the real array with the batch axis first (``_data``) and reports one example's
``shape``, ``ndim`` and ``dtype``, so the primitives' forwards and vjp rules, written for one
example, run unchanged. Every operation on it -- operators, methods, indexing, NumPy's ufuncs
and functions -- goes to its level's batching namespace (``namespace.py``), which applies a
batching rule or loops over the batch.

``bool()`` of a whole-array ``any()`` or ``all()`` is that of the same reduction over every
example: the guards of the rules (``if xp.any(x == 0): <the careful formula>``) take the path
that is right for every example. Other Python reads of a batched value raise, and so does
any use of one after its ``vmap`` call has returned (it escaped the mapped function:
``refuse_escaped``, checked where NumPy's protocols, operators, methods and reads meet it).

Outer products that a vjp makes of two batches are kept as their factors until read
(``_factors``, ``outer_products.py``), so that a sum over the examples is one matrix product.

Arrays made inside vmap to be written into (``zeros``, ``empty``, ``full``, a copy), and what
is computed from such alone, are one example's values shared by all (``_shared``; that
example is ``_example`` where known). Their batched view is made when first read (``_data``,
from ``_example``), as operations on shared values compute on the example alone; the first
write copies it.

>>> import numpy as np
>>> from xpgrad.batching.namespace import Level
>>> level = Level(3, np)
>>> x = BatchedArray(np.arange(6.0).reshape(3, 2), level)
>>> x.shape, (x * 2)._data.tolist()
((2,), [[0.0, 2.0], [4.0, 6.0], [8.0, 10.0]])
"""
from __future__ import annotations

_READ_OUT = ("inside xg.vmap a value differs from example to example, so it cannot become "
             "one Python or NumPy value ({}); keep the computation in xpgrad operations "
             "(xg.where instead of if), or return the tensor from the vmapped function")
_ESCAPED = ("a value of shape {} and dtype {} per example ({} examples) was computed inside "
            "an xg.vmap call that has returned: it escaped the "
            "mapped function (stored in a list, an attribute or an outer variable) and has no "
            "value outside it. Return values from the mapped function rather than storing "
            "them (JAX raises UnexpectedTracerError here)")


class ValuesDiffer(ValueError):
    """A computation inside ``xg.vmap`` read a value (``bool()``, a result's shape) that
    differs between the examples: one that reads its values can run once per example
    (``run_quietly``'s computations do)."""


def refuse_escaped(*groups):
    """RuntimeError if a BatchedArray in ``groups`` (or a tuple or list among them) belongs to
    a vmap call that has returned (``Level.live``)."""
    for group in groups:
        if group is None:
            continue
        for a in group:
            cls = a.__class__
            if cls is BatchedArray:
                if not a._level.live:
                    raise RuntimeError(_ESCAPED.format(a.shape, a.dtype, a._level.size))
            elif cls is tuple or cls is list:
                refuse_escaped(a)


class BatchedArray:
    """A raw array batched by one ``vmap`` level (module docstring)."""

    __slots__ = ("_data", "_level", "_shared", "_truth", "_example", "_factors", "__weakref__")
    __array_priority__ = 200
    #: ``x[key] = value`` on a tensor writes into a copy (``xpgrad.inplace``), as under a trace
    _shared_unknown = True
    base = None

    def __init__(self, data, level, shared=False):
        self._data = data
        self._level = level
        self._shared = shared
        self._truth = None
        self._example = None
        self._factors = None

    @classmethod
    def of_example(cls, example, level):
        """``example`` (an array of the level's inner namespace) as every example's value;
        its batched view is made when ``_data`` is first read."""
        self = cls.__new__(cls)
        self._level = level
        self._shared = True
        self._truth = None
        self._example = example
        self._factors = None
        return self

    def example(self):
        """One example's values of a shared array."""
        e = self._example
        return self._data[0, ...] if e is None else e

    # -- one example's description ---------------------------------------------------------------
    @property
    def shape(self):
        e = self._example
        if e is not None:
            return tuple(e.shape)
        f = self._factors
        return tuple(self._data.shape[1:]) if f is None else (f[0].shape[1], f[1].shape[2])

    @property
    def ndim(self):
        e = self._example
        if e is not None:
            return e.ndim
        return self._data.ndim - 1 if self._factors is None else 2

    @property
    def dtype(self):
        e = self._example
        if e is not None:
            return e.dtype
        f = self._factors
        return self._data.dtype if f is None else f[0].dtype

    @property
    def size(self):
        n = 1
        for s in self.shape:
            n *= s
        return n

    @property
    def device(self):
        return getattr(self._data if self._example is None else self._example, "device", "cpu")

    @property
    def itemsize(self):
        return self.dtype.itemsize

    @property
    def nbytes(self):
        return self.size * self.dtype.itemsize

    def __len__(self):
        if self.ndim == 0:
            raise TypeError("len() of a 0-d array")
        return self.shape[0]

    def __iter__(self):
        if self.ndim == 0:              # at iter(), as Tensor's: np.iterable(batched) is False
            raise TypeError("iteration over a 0-d array")
        return (self[i] for i in range(len(self)))

    def __repr__(self):
        return (f"BatchedArray(shape={self.shape}, dtype={self.dtype}, "
                f"batch={self._level.size})")

    def __array_namespace__(self, api_version=None):
        return self._level.namespace

    # -- values that cannot leave ----------------------------------------------------------------
    def _read_out(self, what):
        refuse_escaped((self,))
        raise ValuesDiffer(_READ_OUT.format(what))

    def __array__(self, *args, **kwargs):
        self._read_out(".item(), bool(), float(), .numpy(), np.asarray() or print() of a "
                       "tensor inside the vmapped function")

    def __bool__(self):
        if self._truth is not None:
            return self._truth_of_batch()
        self._read_out("bool(): Python control flow on a tensor's value")

    def _truth_of_batch(self):
        """``bool()`` of a whole ``any()``/``all()`` reduction: the same reduction over every
        example, the answer the rules' guards need (``if xp.any(bad)``: the careful path is
        taken when any example needs it; it is right for the others too)."""
        from .session import raw

        inner = self._level.inner
        return bool(getattr(inner, self._truth)(raw(self._data)))

    def __float__(self):
        self._read_out("float()")

    def __int__(self):
        self._read_out("int()")

    def __complex__(self):
        self._read_out("complex()")

    def __index__(self):
        self._read_out("use as a Python index")

    def item(self, *args):
        self._read_out(".item()")

    def tolist(self):
        self._read_out(".tolist()")

    # -- attributes and methods ------------------------------------------------------------------
    @property
    def T(self):
        return self._level.namespace.permute_dims(self, tuple(range(self.ndim))[::-1])

    @property
    def mT(self):
        level = self._level
        if level.live and self._factors is None and self._example is None:
            data = self._data
            transposed = getattr(data, "mT", None)      # (the array API's attribute: a view)
            if transposed is not None and data.ndim >= 3 and data.__class__ is not BatchedArray:
                return BatchedArray(transposed, level, self._shared)
        return level.namespace.matrix_transpose(self)

    @property
    def real(self):
        return self._level.namespace.real(self)

    @property
    def imag(self):
        return self._level.namespace.imag(self)

    def __getattr__(self, name):
        if name == "_data":         # a shared array's batched view, made when first read
            example = self._example
            if example is None:
                factors = self._factors
                if factors is None:
                    raise AttributeError(name)
                from .outer_products import made     # values kept as factors, made now

                self._data = made(self._level, factors)
                self._factors = None
                return self._data
            inner = self._level.inner
            self._data = inner.broadcast_to(example, (self._level.size,) + tuple(example.shape))
            return self._data
        if name[0] == "_":          # (``hasattr(x, "_backend")`` asks whether x is a Tensor)
            raise AttributeError(name)
        if not self._level.live:
            refuse_escaped((self,))
        from .methods import method

        return method(self, name)

    # -- NumPy's protocols -------------------------------------------------------------------------
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        from .methods import numpy_ufunc

        refuse_escaped(inputs, kwargs.get("out"))

        return numpy_ufunc(_top(inputs, kwargs.get("out")), ufunc, method, inputs, kwargs)

    def __array_function__(self, func, types, args, kwargs):
        from .methods import numpy_function

        refuse_escaped(args, kwargs.values())

        return numpy_function(_top(args, kwargs.values()), func, args, kwargs)

    # -- indexing and writes -----------------------------------------------------------------------
    def __getitem__(self, key):
        if not self._level.live:
            refuse_escaped((self,))
        keys = key if key.__class__ is tuple else (key,)
        for k in keys:
            if k.__class__ not in _BASIC_KEYS:
                from .indexing import getitem

                return getitem(self, key)
        # slices, ints, None and Ellipsis: one example's key after the batch axis (ending in
        # Ellipsis: the array API's indexing names every axis)
        if Ellipsis not in keys:
            keys += (Ellipsis,)
        if self._example is not None:
            return BatchedArray.of_example(self._example[keys], self._level)
        return BatchedArray(self._data[(_ALL,) + keys], self._level, self._shared)

    def __setitem__(self, key, value):
        from .indexing import setitem

        setitem(self, key, value)

    def writeable(self):
        """Make ``_data`` an array of this value's own, which a write may change."""
        if self._shared:
            inner = self._level.inner
            self._data = inner.asarray(self._data, copy=True)
            self._shared = False
            self._example = None
        return self._data


_ALL = slice(None)
#: index keys that select the same region of every example (``x[1:, None, ..., 0]``)
_BASIC_KEYS = frozenset((slice, int, type(None), type(Ellipsis)))


def _top(*groups):
    """The level of the innermost ``vmap`` among the BatchedArrays in ``groups``."""
    top = None
    for group in groups:
        if group is None:
            continue
        for a in group:
            if a.__class__ is BatchedArray and (top is None or a._level.depth > top.depth):
                top = a._level
            elif a.__class__ in (tuple, list):
                found = _top(a)
                if found is not None and (top is None or found.depth > top.depth):
                    top = found
    return top


def _binary(name, reflected=False):
    def method(self, other):
        cls = other.__class__
        if not self._level.live:
            refuse_escaped((self,))
        if cls is BatchedArray:
            if not other._level.live:
                refuse_escaped((other,))
            level = other._level if other._level.depth > self._level.depth else self._level
        elif cls is float or cls is int:
            level = self._level
        elif _foreign(other):
            return NotImplemented
        else:
            level = _top((self, other)) if cls is tuple or cls is list else self._level
        fn = getattr(level.namespace, name)
        return fn(other, self) if reflected else fn(self, other)
    method.__name__ = name
    return method


def _foreign(other):
    """Whether ``other`` answers the operator itself: a Tensor, which wraps raw arrays."""
    return hasattr(other, "_backend") and not hasattr(other, "_level")


def _inplace(name):
    def method(self, other):
        if _foreign(other):
            return NotImplemented
        refuse_escaped((self, other))
        level = _top((self, other))
        result = getattr(level.namespace, name)(self, other)
        if self._factors is not None and result.__class__ is BatchedArray \
                and result._factors is not None and result._level is self._level:
            self._factors = result._factors      # (a sum of outer products: more factors)
            return self
        if result.__class__ is BatchedArray and result._level is self._level \
                and result._data.shape == self._data.shape:
            data = self.writeable()
            data[...] = result._data
            return self
        return result
    method.__name__ = f"i{name}"
    return method


def _unary(name):
    def method(self):
        if not self._level.live:
            refuse_escaped((self,))
        return getattr(self._level.namespace, name)(self)
    method.__name__ = name
    return method


_BINARY = {"add": "add", "sub": "subtract", "mul": "multiply", "truediv": "divide",
           "floordiv": "floor_divide", "mod": "remainder", "pow": "pow", "matmul": "matmul",
           "and": "bitwise_and", "or": "bitwise_or", "xor": "bitwise_xor",
           "lshift": "bitwise_left_shift", "rshift": "bitwise_right_shift"}
for _name, _fn in _BINARY.items():
    setattr(BatchedArray, f"__{_name}__", _binary(_fn))
    setattr(BatchedArray, f"__r{_name}__", _binary(_fn, reflected=True))
    setattr(BatchedArray, f"__i{_name}__", _inplace(_fn))
for _name, _fn in {"lt": "less", "le": "less_equal", "gt": "greater", "ge": "greater_equal",
                   "eq": "equal", "ne": "not_equal"}.items():
    setattr(BatchedArray, f"__{_name}__", _binary(_fn))
for _name, _fn in {"neg": "negative", "pos": "positive", "abs": "abs",
                   "invert": "bitwise_invert"}.items():
    setattr(BatchedArray, f"__{_name}__", _unary(_fn))
BatchedArray.__hash__ = object.__hash__
