"""Steps a program writes as Python syntax rather than as a call of the recorded function.

A replay of a small program (an ODE's right-hand side and its vector-Jacobian product: a few
dozen operations on 0-d values) spends its time in the calls themselves. ``np.multiply(a, b)``
of two NumPy scalars costs about ten times ``a * b``, which takes NumPy's scalar arithmetic
(the same C arithmetic, the same result and warnings; for floating and complex dtypes only,
as integer scalars warn on overflow where the ufunc wraps silently), and ``operator.iadd`` of
such a scalar (immutable: ``+=`` makes a new one) is ``a + b``; ``np.reshape(x, shape)``
goes through NumPy's dispatch to ``x.reshape(shape)``; a folded constant (``constants.py``)
is its ``value``, or the value's ``copy()``, rather than a call returning it;
``operator.getitem(a, k)`` is ``a[k]``.
``syntax(step, slots, expr)`` is the expression (or, for ``setitem``, the statement) that
replays ``step`` where one does, else None; ``expr(obj)`` writes an argument.

>>> import operator
>>> from xpgrad.jit.program_steps import Ref, Step
>>> syntax(Step(operator.getitem, (Ref(0), (1,)), {}, Ref(1), "call"), [], lambda o: repr(o))
'Ref(0)[(1,)]'
"""
from __future__ import annotations

import operator

import numpy as np

from .constants import Constant, FreshConstant

#: ufuncs written as Python operators on NumPy scalars of a floating or complex dtype
_BINARY = {np.add: "+", np.subtract: "-", np.multiply: "*", np.true_divide: "/"}
_UNARY = {np.negative: "-"}
#: in-place operators, which on a NumPy scalar (immutable) are the plain ones
_IN_PLACE = {operator.iadd: "+", operator.isub: "-", operator.imul: "*",
             operator.itruediv: "/"}
#: Python numbers that NumPy's scalar arithmetic takes as the ufunc does (NEP 50)
_NUMBERS = (int, float, complex)


def _inexact_scalar(obj, slots) -> bool:
    """Whether ``obj`` is a slot holding a NumPy scalar (not an array) of an inexact dtype."""
    from .program_steps import Ref

    if type(obj) is not Ref:
        return False
    info = slots[obj.i]
    return not info.ndarray and isinstance(info.dtype, np.dtype) and info.dtype.kind in "fc" \
        and info.shape == () and info.dynamic is None


def _scalar_operands(step, slots) -> bool:
    refs = [a for a in step.args if not isinstance(a, _NUMBERS)]
    return bool(refs) and all(_inexact_scalar(a, slots) for a in refs) \
        and _inexact_scalar(step.outs, slots)


def syntax(step, slots, expr):
    """``step`` written as Python syntax (module docstring), or None."""
    fn, args = step.fn, step.args
    if step.kind != "call" or step.kwargs:
        return None
    if type(fn) is Constant:                  # the folded array itself, not a call for it
        return f"{expr(fn)}.value"
    if type(fn) is FreshConstant:
        return f"{expr(fn)}.value.copy()"
    if fn is operator.getitem and len(args) == 2:
        return f"{expr(args[0])}[{expr(args[1])}]"
    if fn is operator.setitem and len(args) == 3:
        return f"{expr(args[0])}[{expr(args[1])}] = {expr(args[2])}"
    if fn is np.reshape and len(args) == 2 and _numpy_value(args[0], slots):
        return f"{expr(args[0])}.reshape({expr(args[1])})"
    symbol = _BINARY.get(fn) if type(fn) is np.ufunc else \
        _IN_PLACE.get(fn) if type(fn) is type(operator.iadd) else None
    if symbol is not None and len(args) == 2 and _scalar_operands(step, slots):
        return f"({expr(args[0])} {symbol} {expr(args[1])})"
    symbol = _UNARY.get(fn) if type(fn) is np.ufunc else None
    if symbol is not None and len(args) == 1 and _scalar_operands(step, slots):
        return f"({symbol}{expr(args[0])})"
    return None


def _numpy_value(obj, slots) -> bool:
    """Whether ``obj`` is a slot holding a NumPy array or scalar (whose ``reshape`` method is
    what ``np.reshape`` calls)."""
    from .program_steps import Ref

    return type(obj) is Ref and isinstance(slots[obj.i].dtype, np.dtype) \
        and slots[obj.i].dynamic is None and slots[obj.i].ndarray


__all__ = ["syntax"]
