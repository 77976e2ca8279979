"""Several outputs of one ``custom_gradient`` function, as TensorFlow's: the forward returns
``((y1, y2, ...), grad_fn)`` and ``grad_fn(dy1, dy2, ...)`` gets one upstream gradient per
output (zeros for an output the loss does not use). The tape node holds the floating outputs
raveled and joined in their common dtype; each is its piece, reshaped and cast back, so the
tapes differentiate the pieces' way back as any other operations. An integer or boolean
output (an ``argmax`` beside the values) has no gradient, as in TensorFlow: it is returned as
computed, off the tapes, and ``grad_fn`` gets zeros of its shape and dtype for it (what
TensorFlow's tape hands a function's output that no gradient reaches).

>>> import xpgrad as xg
>>> @xg.custom_gradient
... def sum_and_square(x):
...     return (xg.sum(x), x * x), lambda d_sum, d_square: d_sum + 2.0 * x * d_square
>>> x = xg.asarray([1.0, 3.0])
>>> with xg.GradientTape() as tape:
...     tape.watch(x)
...     total, squares = sum_and_square(x)
...     loss = total + xg.sum(squares)
>>> tape.gradient(loss, x).tolist()
[3.0, 7.0]
"""
from __future__ import annotations

from . import dtypes as _dt
from .dtype_functions import result_type
from .creation import zeros_like
from .ops.casting import astype
from .ops.joining import concat
from .ops.shape import reshape
from .tensor import Tensor, _wrap


def joined(outputs, grad_fn, name):
    """``(value, grad_fn)`` for the tape node: the outputs joined into one vector (no tape
    records the join) and a ``grad_fn`` of that vector's upstream gradient."""
    for i, out in enumerate(outputs):
        if not isinstance(out, Tensor):
            raise TypeError(f"custom_gradient function {name!r}: output {i} is a "
                            f"{type(out).__name__}, not a Tensor")
    floating = [out for out in outputs if _has_gradient(out)]
    if not floating:
        return None, grad_fn            # nothing to differentiate: no tape node
    dtype = result_type(*(out.dtype for out in floating))
    loose = [reshape(astype(_wrap(out._data, out._backend), dtype), (-1,)) for out in floating]
    value = concat(loose) if len(loose) > 1 else loose[0]

    def grad_of_joined(upstream, **variables):
        return grad_fn(*pieces(upstream, outputs, zeros=True), **variables)

    return value, grad_of_joined


def pieces(vector, outputs, zeros=False):
    """``vector`` cut into the floating outputs' sizes, shapes and dtypes, in a sequence of
    the outputs' type (a named tuple's too); an integer or boolean output is itself, off the
    tapes (``zeros``: zeros of its shape and dtype, its upstream gradient)."""
    result, start = [], 0
    for out in outputs:
        if not _has_gradient(out):
            held = _wrap(out._data, out._backend)
            result.append(zeros_like(held) if zeros else held)
            continue
        part = vector[start:start + out.size]
        start += out.size
        result.append(astype(reshape(part, out.shape), out.dtype))
    if hasattr(outputs, "_fields"):              # a named tuple takes its fields one by one
        return type(outputs)(*result)
    return type(outputs)(result) if isinstance(outputs, tuple) else result


def _has_gradient(out) -> bool:
    return _dt.isdtype(out.dtype, ("real floating", "complex floating"))
