"""Backend-neutral dtype objects: ``xg.float32``, ``xg.float64``, ``xg.int32``, ``xg.int64``, ``xg.bool``.

Each backend maps these to its native dtypes. A DType compares equal to its name and to any
object whose ``name`` or ``__name__`` is that name, so ``t.dtype == numpy.float32`` holds.

>>> import xpgrad as xg
>>> xg.asarray([1.0]).dtype
xpgrad.float32
>>> xg.float32 == "float32"
True
"""
from __future__ import annotations


class DType:
    __slots__ = ("name", "kind", "itemsize")

    def __init__(self, name: str, kind: str, itemsize: int):
        self.name = name
        self.kind = kind          # 'f' floating, 'i' signed integer, 'b' boolean
        self.itemsize = itemsize

    @property
    def is_floating(self) -> bool:
        return self.kind == "f"

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


def dtype_name(obj) -> str | None:
    """Name of a dtype-like object (DType, numpy dtype or scalar type, string), or None."""
    if isinstance(obj, str):
        return obj
    name = getattr(obj, "name", None)
    if isinstance(name, str):
        return name
    name = getattr(obj, "__name__", None)
    return name if isinstance(name, str) else None


float32 = DType("float32", "f", 4)
float64 = DType("float64", "f", 8)
int32 = DType("int32", "i", 4)
int64 = DType("int64", "i", 8)
bool_ = DType("bool", "b", 1)

ALL = {d.name: d for d in (float32, float64, int32, int64, bool_)}
#: the floating dtypes (the ones with gradients, and the ones fused kernels cover)
FLOATING = (float32, float64)
FLOAT_NAMES = tuple(d.name for d in FLOATING)


def as_dtype(obj) -> DType:
    """Turn ``xg.float32``, ``"float32"``, ``numpy.float32`` or ``float`` into a DType.

    >>> as_dtype("float64") is float64
    True
    """
    if isinstance(obj, DType):
        return obj
    if obj is float:
        return float32
    if obj is int:
        return int64
    if obj is bool:
        return bool_
    name = dtype_name(obj)
    if name in ALL:
        return ALL[name]
    raise TypeError(f"unsupported dtype {obj!r}; expected one of {sorted(ALL)}")
