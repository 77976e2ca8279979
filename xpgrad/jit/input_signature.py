"""``xg.function(fn, input_signature=[xg.TensorSpec(shape, dtype), ...])``: TensorFlow's fixed
signature. Every call passes one tensor per spec (positionally or by keyword, a method's
``self`` aside), of the spec's dtype and of a shape the spec allows (``None`` for a dimension
takes any length; ``shape=None`` any shape); anything else is a TypeError or ValueError naming
the argument, where without a signature the call would trace again. A ``None`` dimension still
traces once per length met (xpgrad's programs are for concrete shapes). Unlike
``tf.function``, a NumPy array or a list is not converted but refused: pass ``xg.asarray(...)``.

>>> import xpgrad as xg
>>> @xg.function(input_signature=[xg.TensorSpec((None, 2), xg.float32)])
... def total(x):
...     return xg.sum(x)
>>> total(xg.ones((3, 2))).item()
6.0
>>> try:
...     total(xg.ones((3, 4)))
... except ValueError as e:
...     print(str(e).split(": ", 1)[1])
argument 'x' has shape (3, 4), which input_signature[0] TensorSpec(shape=(None, 2), dtype=float32) does not allow
"""
from __future__ import annotations

import numbers

from ..dtypes import as_dtype, float32
from ..tensor import Tensor


class TensorSpec:
    """The shape and dtype a tensor argument must have (``tf.TensorSpec``): ``shape`` a
    sequence of lengths, each an int or None (any length), or None (any shape).

    >>> import xpgrad as xg
    >>> spec = xg.TensorSpec((None, 3), xg.float64)
    >>> spec.is_compatible_with(xg.zeros((5, 3), dtype=xg.float64))
    True
    >>> spec.is_compatible_with(xg.zeros((5, 2), dtype=xg.float64))
    False
    """

    __slots__ = ("shape", "dtype", "name")

    def __init__(self, shape, dtype=float32, name=None):
        if shape is not None:
            try:
                shape = tuple(shape)
            except TypeError:
                raise TypeError(f"TensorSpec: shape must be a sequence of ints or None, or "
                                f"None, got {type(shape).__name__} {shape!r}") from None
            for length in shape:
                if length is not None and (isinstance(length, bool) or not isinstance(
                        length, numbers.Integral) or length < 0):
                    raise TypeError(f"TensorSpec: shape's lengths must be non-negative ints "
                                    f"or None, got {length!r} in {shape!r}")
            shape = tuple(None if length is None else int(length) for length in shape)
        if name is not None and not isinstance(name, str):
            raise TypeError(f"TensorSpec: name must be a str or None, got "
                            f"{type(name).__name__}")
        self.shape, self.dtype, self.name = shape, as_dtype(dtype, "TensorSpec: dtype"), name

    def __repr__(self):
        return f"TensorSpec(shape={self.shape}, dtype={self.dtype}" + (
            f", name={self.name!r})" if self.name else ")")

    def __eq__(self, other):
        return (type(other) is TensorSpec and (self.shape, self.dtype, self.name)
                == (other.shape, other.dtype, other.name))

    def __hash__(self):
        return hash((self.shape, self.dtype, self.name))

    def _allows_shape(self, shape) -> bool:
        return self.shape is None or len(shape) == len(self.shape) and all(
            want is None or want == got for want, got in zip(self.shape, shape))

    def is_compatible_with(self, value) -> bool:
        """Whether ``value`` is a Tensor this spec describes."""
        return (isinstance(value, Tensor) and value.dtype == self.dtype
                and self._allows_shape(value.shape))


def checked_signature(input_signature):
    """``input_signature`` as a tuple of TensorSpecs, or None; TypeError naming a bad entry."""
    if input_signature is None:
        return None
    if not isinstance(input_signature, (tuple, list)):
        raise TypeError(f"input_signature must be a list of xg.TensorSpec, got "
                        f"{type(input_signature).__name__}")
    for i, spec in enumerate(input_signature):
        if not isinstance(spec, TensorSpec):
            raise TypeError(f"input_signature[{i}] must be an xg.TensorSpec(shape, dtype), got "
                            f"{type(spec).__name__} {spec!r:.60} (nested signatures are not "
                            "supported)")
    return tuple(input_signature)


def check_call(signature, function_name, binder, args, kwargs, skip):
    """Raise unless the call ``(args, kwargs)`` (the first ``skip`` arguments being ``self``)
    passes exactly one tensor per spec of ``signature``, each one it allows."""
    where = f"xg.function {function_name!r}"
    given = len(args) - skip + len(kwargs)
    if given != len(signature):
        raise TypeError(f"{where} takes {len(signature)} argument"
                        f"{'s' if len(signature) != 1 else ''} (its input_signature), got "
                        f"{given}")
    args, kwargs = binder(args, kwargs)
    values = list(args[skip:skip + len(signature)])
    if len(values) < len(signature):
        raise TypeError(f"{where}: the arguments {sorted(kwargs)} are not the positional "
                        f"parameters its input_signature describes")
    for i, (spec, value) in enumerate(zip(signature, values)):
        if spec.is_compatible_with(value):
            continue
        name = f"argument {binder.name_of(skip + i)}"
        if not isinstance(value, Tensor):
            raise TypeError(f"{where}: {name} is a {type(value).__name__}, not a tensor; "
                            f"input_signature[{i}] is {spec!r}")
        if value.dtype != spec.dtype:
            raise TypeError(f"{where}: {name} has dtype {value.dtype}, input_signature[{i}] "
                            f"{spec!r} needs {spec.dtype}")
        raise ValueError(f"{where}: {name} has shape {value.shape}, which "
                         f"input_signature[{i}] {spec!r} does not allow")


def open_dimension(signature):
    """``"input_signature[i] TensorSpec(...)"`` of the first spec with a None dimension (or
    any shape), which a RetracingWarning names; None where every length is fixed."""
    for i, spec in enumerate(signature or ()):
        if spec.shape is None or None in spec.shape:
            return f"input_signature[{i}] {spec!r}"
    return None
