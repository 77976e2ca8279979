"""A dense layer's vjp that gives the bias's gradient alone, replayed as that sum.

A first layer's inputs and the weights' gradient folded into the SGD update
(``sgd_gemm.py``) leave the NumPy linear kernel's vjp (``_linear_vjp``) one output: the bias's
gradient, ``sum_rows(g)``. ``bias_gradients_alone(program)`` replays each such step as that
call: no kernel call, tuple or check of its other outputs (~1 us of a B=32 MLP step each),
with the same array.

>>> import numpy as np
>>> from xpgrad.backends.numpy.kernels import _linear_vjp
>>> from xpgrad.jit.program_steps import Ref, Step
>>> step = Step(_linear_vjp, (Ref(0), None, [False, False, True], Ref(1), Ref(2), Ref(3)), {},
...             (None, None, Ref(4)), "kernel")
>>> _alone(step, _linear_vjp), step.kind, step.args, step.outs
(True, 'call', (Ref(0),), Ref(4))
"""
from __future__ import annotations

from .program_steps import Ref


def _alone(step, linear_vjp) -> bool:
    """Make ``step`` the sum where it is ``linear_vjp`` giving the bias's gradient alone."""
    if step.kind != "kernel" or step.fn is not linear_vjp or step.kwargs \
            or len(step.args) != 6 or step.args[2] != [False, False, True] \
            or type(step.args[0]) is not Ref or type(step.outs) is not tuple \
            or len(step.outs) != 3 or step.outs[:2] != (None, None) \
            or type(step.outs[2]) is not Ref:
        return False
    from ..backends.axis_sums import sum_rows

    step.fn, step.args, step.outs, step.kind = sum_rows, (step.args[0],), step.outs[2], "call"
    step.facts = None
    return True


def bias_gradients_alone(program) -> int:
    """Rewrite ``program.steps`` as the module docstring says; how many steps became sums."""
    from ..backends.numpy import kernels

    return sum(_alone(step, kernels._linear_vjp) for step in program.steps)


__all__ = ["bias_gradients_alone"]
