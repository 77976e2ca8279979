"""``--compile``: the step's forward and backward pass as an ``xg.function`` whose every call
gives the numbers its replay gives, so that a run split by ``--max-steps`` and resumed ends
with the uninterrupted run's weights bit for bit on every backend.

A traced function's first call per batch shape runs eagerly, its second traces, later ones
replay. The tracing call computes with the generic rules the program then rewrites: on numba
the replay adds a ReLU layer's bias gradient in float64 in its fused loop (as the eager
``linear_relu`` kernel does), while the trace summed it in float32 (``axis_sums.sum_rows``):
the last bits differ. The uninterrupted run traces at its second step, a resumed one at the
second step after resuming, where the uninterrupted run replayed. So the tracing call's
results are dropped, the random state it drew from (dropout) put back, and the program
replayed at once; a step that writes into Variables (a batch norm's running statistics) is
not run twice and keeps the tracing call's results. The eager first call per shape gives the
replay's numbers too, except on numba for a layer of 2**20 outputs per batch or more, whose
eager ``linear_relu`` kernel sums the bias gradient by ``sum_rows`` (its threaded path).

>>> import xpgrad as xg
>>> w = xg.Variable([1.0, 2.0])
>>> step = replayed_after_tracing(xg.function(lambda x: xg.sum(w * x)), w)
>>> [float(step(xg.asarray([1.0, 1.0]))) for _ in range(3)]
[3.0, 3.0, 3.0]
"""
from __future__ import annotations


def replayed_after_tracing(compiled, model):
    """``compiled`` (an ``xg.function`` of the step) whose tracing call per signature is
    followed by its replay, whose results it returns (module docstring); ``model``'s
    generators and the global seed are put back in between. The shape of the first argument
    (the batch) tells the signatures apart."""
    from ..checkpoint_generators import random_state, restoring

    replaying = set()           # the batch shapes (the first argument's) replayed once

    def step(*args):
        key = args[0].shape
        if key in replaying:
            return compiled(*args)
        state = random_state(model)
        result = compiled(*args)
        program = compiled.program_for(*args)
        if program is None:                 # an eager call (or one that cannot be traced)
            return result
        replaying.add(key)
        if program.writes:                  # running it again would apply its writes twice
            return result
        restoring(model, state["generators"], state["random"], "the traced step")()
        return compiled(*args)

    return step
