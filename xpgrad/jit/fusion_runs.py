"""The runs of a fused program: which elementwise steps a run takes (``_try_add``; a sum at
its end, ``_try_reduction``), how a flat loop indexes each operand (``_index_mode``), and the
lines of a run as Numba source (``NumbaDialect``; ``fusion_cupy.py`` writes the same runs as
CUDA C++). ``fusion.py`` finds the runs and makes each one kernel.

>>> op_name(np.add), op_name(np.exp), op_name(len)
('add', 'exp', None)
>>> _index_mode((3,), (2, 3)), _index_mode((2, 1), (2, 3))
((-1, 3), (-2, 3))
"""
from __future__ import annotations

import numpy as np

from ..backends.axis_sums import sum_axes
from .program_steps import Ref

_UNARY = {"negative": "(-{0})", "positive": "(+{0})", "absolute": "np.abs({0})",
          "square": "({0} * {0})", "sqrt": "np.sqrt({0})", "exp": "np.exp({0})",
          "exp2": "np.exp2({0})", "expm1": "np.expm1({0})", "log": "np.log({0})",
          "log1p": "np.log1p({0})", "log2": "np.log2({0})", "log10": "np.log10({0})",
          "sin": "np.sin({0})", "cos": "np.cos({0})", "tan": "np.tan({0})",
          "sinh": "np.sinh({0})", "cosh": "np.cosh({0})", "tanh": "np.tanh({0})",
          "arcsin": "np.arcsin({0})", "arccos": "np.arccos({0})", "arctan": "np.arctan({0})",
          "arcsinh": "np.arcsinh({0})", "arctanh": "np.arctanh({0})", "sign": "np.sign({0})",
          "reciprocal": "(1.0 / {0})", "logical_not": "(not {0})"}
_BINARY = {"add": "({0} + {1})", "subtract": "({0} - {1})", "multiply": "({0} * {1})",
           "divide": "({0} / {1})", "maximum": "np.maximum({0}, {1})",
           "minimum": "np.minimum({0}, {1})", "power": "({0} ** {1})",
           "greater": "({0} > {1})", "greater_equal": "({0} >= {1})", "less": "({0} < {1})",
           "less_equal": "({0} <= {1})", "equal": "({0} == {1})",
           "not_equal": "({0} != {1})", "logical_and": "({0} and {1})",
           "logical_or": "({0} or {1})"}
_FLOATS = (np.dtype("float32"), np.dtype("float64"))
_OPERANDS = _FLOATS + (np.dtype("bool"),)

def _index_mode(shape, target):
    """How a flat loop over ``target`` reads an operand of ``shape``: ``(step, divisor)``
    meaning element ``(i // divisor) % size``; None if no such pattern."""
    n = len(target)
    if len(shape) > n:
        return None
    padded = (1,) * (n - len(shape)) + tuple(shape)
    size = int(np.prod(padded))
    if padded == tuple(target):
        return (1, 1)
    if size == 1:
        return (0, 1)
    for j in range(1, n):
        tail = int(np.prod(target[j:]))
        if all(p == 1 for p in padded[:j]) and padded[j:] == tuple(target[j:]):
            return (-1, tail)                                    # suffix: i % tail
        if all(p == 1 for p in padded[j:]) and padded[:j] == tuple(target[:j]):
            return (-2, tail)                                    # prefix: i // tail
    return None


def _literal(value, dtype):
    if isinstance(value, (bool, np.bool_)) and dtype == np.dtype("bool"):
        return repr(bool(value))
    value = float(value)
    if np.isfinite(value):
        text = repr(value)
    else:                       # repr gives nan / inf, names the generated source lacks
        text = "np.nan" if np.isnan(value) else ("np.inf" if value > 0 else "-np.inf")
    return f"np.{dtype.name}({text})"


class _Run:
    """A run being collected: its shape, inputs (slot -> name), lines, produced slots."""

    def __init__(self, shape, dialect=None):
        self.shape = shape
        self.dialect = dialect or NumbaDialect
        self.inputs = {}          # slot -> (name, index mode)
        self.lines = []
        self.made = {}            # slot -> temporary name
        self.steps = []
        self.reduction = None     # (output slot, reduced temporary, columns or 0 for all)


_OPERATORS = {"add": "add", "sub": "subtract", "mul": "multiply", "truediv": "divide",
              "pow": "power", "neg": "negative", "pos": "positive", "abs": "absolute",
              "gt": "greater", "ge": "greater_equal", "lt": "less", "le": "less_equal",
              "eq": "equal", "ne": "not_equal"}


def op_name(fn):
    """The NumPy name of an elementwise function as recorded (a NumPy or CuPy ufunc, an
    ``operator`` function, ``where``), or None."""
    if type(fn) is np.ufunc:
        name = fn.__name__ if fn.nout == 1 else None
    elif getattr(fn, "__module__", None) in ("_operator", "operator"):
        name = _OPERATORS.get(getattr(fn, "__name__", ""))
    else:
        name = getattr(fn, "__name__", None) or getattr(fn, "name", None)
        if isinstance(name, str) and name.startswith("cupy_"):
            name = name[5:]
        elif name != "where":
            name = None
    return "divide" if name == "true_divide" else name


class NumbaDialect:
    """How a fused run is written for Numba: Python scalars, NumPy casts."""

    unary, binary, where = _UNARY, _BINARY, "({1} if {0} else {2})"
    flat = True          # operands are indexed in one flat loop (index modes)
    # NumPy computes ``x ** 0.5`` as ``sqrt(x)`` (NaN at -inf, -0.0 at -0.0; C's pow: inf, 0.0)
    half_power = "np.sqrt({0})"

    @staticmethod
    def literal(value, dtype):
        return _literal(value, dtype)

    @staticmethod
    def line(name, dtype, expr):
        cast = "bool" if dtype == np.dtype("bool") else f"np.{dtype.name}"
        return f"{name} = {cast}({expr})"


def _op_of(step, dialect=NumbaDialect):
    if step.kind != "call" or step.kwargs or type(step.outs) is not Ref:
        return None
    name = op_name(step.fn)
    if name is None:
        return None
    if name == "where":
        return dialect.where if len(step.args) == 3 else None
    table = dialect.unary if len(step.args) == 1 else dialect.binary
    return table.get(name) if len(step.args) <= 2 else None


def _try_add(run, step, slots):
    """Add ``step`` to ``run`` if it fits; return False (and leave ``run`` as it was) if not."""
    dialect = run.dialect
    template = _op_of(step, dialect)
    if template is None:
        return False
    out = slots[step.outs.i]
    if out.shape != run.shape or out.dtype not in _OPERANDS or not out.shape \
            or out.dynamic is not None:      # a loop of the traced shape, a pack of its size
        return False
    operands, new_inputs = [], {}
    array_dtypes = [slots[a.i].dtype for a in step.args if type(a) is Ref]
    op_dtype = out.dtype if out.dtype in _FLOATS else (
        np.result_type(*array_dtypes) if array_dtypes else None)
    for a in step.args:
        if type(a) is Ref:
            if a.i in run.made:
                operands.append(run.made[a.i])
                continue
            info = slots[a.i]
            if info.dtype not in _OPERANDS:
                return False
            known = run.inputs.get(a.i) or new_inputs.get(a.i)
            if known is None:
                if dialect.flat:
                    mode = _index_mode(info.shape, run.shape)
                elif _broadcasts(info.shape, run.shape):
                    mode = None
                else:
                    return False
                if dialect.flat and mode is None:
                    return False
                known = (f"v{len(run.inputs) + len(new_inputs)}", mode)
                new_inputs[a.i] = known
            operands.append(known[0])
        elif isinstance(a, (bool, int, float, np.bool_, np.integer, np.floating)) \
                and op_dtype in _OPERANDS:
            operands.append(dialect.literal(a, op_dtype if not isinstance(a, (bool, np.bool_))
                                            else np.dtype("bool")))
        else:
            return False
    if template == dialect.binary.get("power") and type(step.args[1]) is not Ref \
            and step.args[1] == 0.5 and dialect.half_power is not None:
        template = dialect.half_power
    run.inputs.update(new_inputs)
    name = f"t{len(run.made)}"
    run.lines.append(dialect.line(name, out.dtype, template.format(*operands)))
    run.made[step.outs.i] = name
    run.steps.append(step)
    return True


def _broadcasts(shape, target):
    try:
        return np.broadcast_shapes(tuple(shape), tuple(target)) == tuple(target)
    except ValueError:
        return False


def _try_reduction(run, step, slots):
    """Take ``step`` into ``run`` if it sums a value of the run over every axis, or over the
    leading axis of a matrix (a bias's gradient): accumulated in float64 in the loop. The sum
    is ``np.sum`` or the tape's unbroadcasting ``sum_axes(value, axes)``."""
    if step.kind != "call" or type(step.outs) is not Ref:
        return
    if step.fn is np.sum and len(step.args) == 1 and not set(step.kwargs) - {"axis",
                                                                                "keepdims"}:
        axis = step.kwargs.get("axis")
    elif step.fn is sum_axes and len(step.args) == 2 and not step.kwargs \
            and type(step.args[1]) is tuple:
        axis = None if step.args[1] == tuple(range(len(run.shape))) else step.args[1]
    else:
        return
    if type(step.args[0]) is not Ref or step.args[0].i not in run.made:
        return
    source = slots[step.args[0].i]
    if source.dtype not in _FLOATS or slots[step.outs.i].dtype != source.dtype:
        return
    if axis is None:
        columns = 0
    elif len(run.shape) == 2 and axis in (0, (0,), -2, (-2,)) and run.shape[1] > 0:
        columns = run.shape[1]          # (0 columns would read as a sum over every axis)
    else:
        return
    run.reduction = (step.outs.i, run.made[step.args[0].i], columns)
    run.steps.append(step)
