"""Backend-neutral dtype objects (the array API's thirteen) and the data-type functions.

Each backend maps these to its native dtypes. A DType compares equal to its name and to any
object whose ``name`` or ``__name__`` is that name, so ``t.dtype == numpy.float32`` holds.
Python floats become float32 and complex numbers complex64 (xpgrad's defaults); Python ints
become int64.

>>> import xpgrad as xg
>>> xg.asarray([1.0]).dtype
xpgrad.float32
>>> xg.float32 == "float32", xg.isdtype(xg.uint8, "unsigned integer")
(True, True)
"""
from __future__ import annotations

import builtins


class DType:
    """One dtype: its name, kind ('b' bool, 'i' signed, 'u' unsigned, 'f' real floating,
    'c' complex floating) and size in bytes."""

    __slots__ = ("name", "kind", "itemsize")

    def __init__(self, name: str, kind: str, itemsize: int):
        self.name = name
        self.kind = kind
        self.itemsize = itemsize

    @property
    def is_floating(self) -> bool:
        """Real floating point (float32, float64)."""
        return self.kind == "f"

    @property
    def is_complex(self) -> bool:
        return self.kind == "c"

    @property
    def is_inexact(self) -> bool:
        """Real or complex floating point: the dtypes that carry gradients."""
        return self.kind in "fc"

    @property
    def __numpy_dtype__(self):
        """NumPy's dtype of this name. NumPy 2.4 and later read it, so ``np.dtype(xg.float32)``
        and ``np.zeros(3, dtype=t.dtype)`` work: other libraries' NumPy code does that with a
        Tensor's dtype after ``np.atleast_1d(t)`` (which returns a Tensor).

        >>> float64.__numpy_dtype__
        dtype('float64')
        """
        import numpy

        return numpy.dtype(self.name)

    def __repr__(self) -> str:
        return f"xpgrad.{self.name}"

    def __str__(self) -> str:
        return self.name

    def __eq__(self, other) -> bool:
        if isinstance(other, DType):
            return other is self
        return dtype_name(other) == self.name

    def __hash__(self) -> int:
        return hash(self.name)

    def __reduce__(self):                 # pickles (and copies) as the module's own object
        return as_dtype, (self.name,)


def dtype_name(obj) -> str | None:
    """Name of a dtype-like object (DType, numpy dtype or scalar type, string), or None."""
    if isinstance(obj, str):
        return obj
    name = getattr(obj, "name", None)
    if isinstance(name, str):
        return name
    name = getattr(obj, "__name__", None)
    return name if isinstance(name, str) else None


bool_ = DType("bool", "b", 1)
int8 = DType("int8", "i", 1)
int16 = DType("int16", "i", 2)
int32 = DType("int32", "i", 4)
int64 = DType("int64", "i", 8)
uint8 = DType("uint8", "u", 1)
uint16 = DType("uint16", "u", 2)
uint32 = DType("uint32", "u", 4)
uint64 = DType("uint64", "u", 8)
float32 = DType("float32", "f", 4)
float64 = DType("float64", "f", 8)
complex64 = DType("complex64", "c", 8)
complex128 = DType("complex128", "c", 16)

ALL = {d.name: d for d in (bool_, int8, int16, int32, int64, uint8, uint16, uint32, uint64,
                           float32, float64, complex64, complex128)}
#: the real floating dtypes (the ones fused kernels cover)
FLOATING = (float32, float64)
FLOAT_NAMES = tuple(d.name for d in FLOATING)
#: xpgrad's defaults (``__array_namespace_info__().default_dtypes()``)
DEFAULTS = {"real floating": float32, "complex floating": complex64, "integral": int64,
            "indexing": int64}

_KINDS = {"bool": "b", "signed integer": "i", "unsigned integer": "u", "integral": "iu",
          "real floating": "f", "complex floating": "c", "numeric": "iufc"}
_PYTHON = {builtins.float: float32, builtins.int: int64, builtins.bool: bool_,
           builtins.complex: complex64}


#: the half-precision dtypes other libraries have and xpgrad has not
HALF_NAMES = ("float16", "bfloat16", "half")


def half_precision_hint(name, advice: str) -> str:
    """``advice`` on what to do instead of a half-precision dtype ``name`` ('' for any other
    name)."""
    if str(name).removeprefix("torch.") not in HALF_NAMES:
        return ""
    return f"; xpgrad has no half precision (float16, bfloat16): {advice}"


def as_dtype(obj, what: str = "dtype") -> DType:
    """Turn ``xg.float32``, ``"float32"``, ``numpy.float32`` or ``float`` into a DType;
    anything else is a TypeError naming the argument ``what`` (``"zeros: dtype"``).

    >>> as_dtype("float64") is float64, as_dtype(complex) is complex64
    (True, True)
    """
    if isinstance(obj, DType):
        return obj
    if obj in _PYTHON:
        return _PYTHON[obj]
    name = dtype_name(obj)
    if name in ALL:
        return ALL[name]
    argument = what.rsplit(": ", 1)[-1]
    raise TypeError(f"{what}: unsupported dtype {obj!r}; expected one of {sorted(ALL)}"
                    f"{half_precision_hint(name, f'pass {argument}=xg.float32')}")


def isdtype(dtype, kind) -> builtins.bool:
    """Whether ``dtype`` is of ``kind``: a dtype, one of 'bool', 'signed integer', 'unsigned
    integer', 'integral', 'real floating', 'complex floating', 'numeric', or a tuple of these.

    >>> isdtype(float64, ("integral", "real floating")), isdtype(int8, "unsigned integer")
    (True, False)
    """
    d = as_dtype(dtype)
    kinds = kind if isinstance(kind, tuple) else (kind,)
    for k in kinds:
        if isinstance(k, str):
            if k not in _KINDS:
                raise ValueError(f"unknown dtype kind {k!r}; expected one of {sorted(_KINDS)}")
            if d.kind in _KINDS[k]:
                return True
        elif d == as_dtype(k):
            return True
    return False
