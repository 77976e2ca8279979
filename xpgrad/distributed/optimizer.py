"""``DistributedOptimizer``: an optimizer whose ``apply_gradients`` first reduces the gradients
across ranks (flat buckets, in place), then applies them (Horovod's wrapper).

>>> import xpgrad as xg
>>> w = xg.Variable([1.0, 2.0], name="w")
>>> opt = xg.distributed.DistributedOptimizer(xg.optim.SGD(0.5))
>>> with xg.GradientTape() as tape:
...     loss = xg.sum(w * w)
>>> opt.apply_gradients(zip(tape.gradient(loss, [w]), [w]))
1
>>> w.tolist()
[0.0, 0.0]
"""
from __future__ import annotations

import math
import warnings

from ..optim.gradient_clipping import clipped_by_global_norm
from ..tensor import _wrap
from .buckets import DEFAULT_BUCKET_BYTES, Reduction, plan_for
from .agreement import check_same
from .gradient_tape import check_bucket_bytes, check_op, check_weight, describe, reduced_by_tape
from .group import world as _world
from .join import bucket_shadow, note_weight
from .tape_gradients import SETTINGS_ADVICE, settings
from .sync_stats import contribution, take_backward_scales
from ..batch_passes import start_afresh


_OWN = frozenset(("optimizer", "op", "bucket_bytes", "world"))


class DistributedOptimizer:
    """Wrap ``optimizer``: ``apply_gradients(pairs, weight=1.0)`` reduces the gradients over all
    ranks (``op`` "mean", weighted by ``weight``, or "sum") and applies the result. Everything
    else (``learning_rate``, ``iterations``, ``state_dict``, ...) is the wrapped optimizer's.

    Use it *or* ``DistributedGradientTape``, not both: each reduces once, so gradients that a
    ``DistributedGradientTape`` returned are refused (ValueError), as Horovod documents.
    """

    def __init__(self, optimizer, *, op="mean", bucket_bytes=DEFAULT_BUCKET_BYTES, world=None):
        if isinstance(optimizer, DistributedOptimizer):
            raise TypeError("optimizer is already a DistributedOptimizer; wrap the xg.optim "
                            "optimizer once (each wrapper reduces the gradients again)")
        if not hasattr(optimizer, "apply_gradients"):
            raise TypeError(f"optimizer must be an xg.optim optimizer, got "
                            f"{type(optimizer).__name__}")
        self.optimizer = optimizer
        start_afresh()                  # a new run: passes of an earlier one do not count
        self.op = check_op(op)
        self.bucket_bytes = check_bucket_bytes(bucket_bytes)
        self.world = world if world is not None else _world()

    def __getattr__(self, name):
        if name == "optimizer":          # not set yet (a failed __init__): no recursion
            raise AttributeError(name)
        return getattr(self.optimizer, name)

    def __setattr__(self, name, value):
        # the wrapped optimizer's settings (opt.learning_rate = 1e-4) are set on it: on the
        # wrapper they would change nothing the updates use
        if name in _OWN:
            object.__setattr__(self, name, value)
        else:
            setattr(self.optimizer, name, value)

    def apply_gradients(self, grads_and_vars, *, weight=1.0) -> int:
        """Reduce the gradients across ranks, then apply them (see the class docstring)."""
        return self.optimizer.apply_gradients(self.reduce_gradients(grads_and_vars,
                                                                    weight=weight))

    def apply(self, grads, variables, *, weight=1.0) -> int:
        """``Optimizer.apply`` (``grads`` in the structure of ``variables``: a model's
        gradient shaped like it), the gradients reduced across ranks first, as
        ``apply_gradients``.

        >>> import xpgrad as xg
        >>> lin = xg.nn.Linear(1, 1, init="ones", rng=0)
        >>> opt = xg.distributed.DistributedOptimizer(xg.optim.SGD(0.5))
        >>> _ = opt.apply(xg.tree_map(xg.ones_like, lin), lin); lin.w.tolist()
        [[0.5]]
        """
        from ..module_sources import gradient_pairs

        return self.apply_gradients(gradient_pairs(grads, variables), weight=weight)

    def minimize(self, loss_fn, variables=None, *, weight=1.0):
        """Record ``loss_fn()`` on a tape, differentiate it, reduce the gradients across ranks
        (``weight`` as in ``apply_gradients``) and apply them; returns this rank's loss. See
        the wrapped optimizer's ``minimize`` for ``variables``. A wrapped ``LBFGS`` gets the
        global batch's loss and gradients at each of its evaluations (and returns the first).

        >>> import xpgrad as xg
        >>> w = xg.Variable(3.0)
        >>> opt = xg.distributed.DistributedOptimizer(xg.optim.SGD(0.25))
        >>> _ = opt.minimize(lambda: w * w, [w]); w.item()
        1.5
        """
        from ..optim.optimizer import loss_and_gradients

        weight = check_weight(weight)
        if hasattr(self.optimizer, "_reduce_evaluation"):    # LBFGS evaluates several times
            return self._minimize_evaluating(loss_fn, variables, weight)
        take_backward_scales()          # earlier backward passes: not this step's
        # SyncBatchNorm's backward sums weigh this rank as the reduction will (see sync_stats)
        with contribution(weight if self.op == "mean" else float(weight != 0)):
            loss, pairs = loss_and_gradients(loss_fn, variables)
        take_backward_scales()
        self.optimizer.apply_gradients(self._reduced(pairs, weight))
        return loss

    def _minimize_evaluating(self, loss_fn, variables, weight):
        """``minimize`` of an optimizer that evaluates ``loss_fn`` several times in one step
        (LBFGS): each evaluation's loss and gradients are the global batch's, the same on
        every rank, so every rank takes the same iterations and line search steps."""
        def reduced(loss, pairs):
            scales = take_backward_scales()
            if self.world.size == 1:
                return loss, pairs
            pairs = self._reduced(pairs, weight, scales, joinable=False)
            every = [(w, value) for w, value in self.world.allgather((weight, float(loss)))
                     if w != 0]                 # an empty share's loss (NaN) is left out
            if self.op == "mean":
                value = sum(w * v for w, v in every) / sum(w for w, _ in every)
            else:
                value = sum(v for _, v in every)
            xp = loss._backend.xp
            return _wrap(xp.asarray(value, dtype=loss._data.dtype), loss._backend), pairs

        take_backward_scales()          # earlier backward passes: not this step's
        self.optimizer._reduce_evaluation = reduced
        try:
            with contribution(weight if self.op == "mean" else float(weight != 0)):
                return self.optimizer.minimize(loss_fn, variables)
        finally:
            self.optimizer._reduce_evaluation = None

    def reduce_gradients(self, grads_and_vars, *, weight=1.0) -> list:
        """The ``(gradient, variable)`` pairs with the gradients reduced across ranks, not
        applied (Horovod's ``synchronize``): to clip the reduced gradients, as one process
        would, then apply them with the wrapped optimizer (``self.optimizer``).

        >>> import xpgrad as xg
        >>> w = xg.Variable([3.0, 4.0], name="w", dtype=xg.float64)
        >>> opt = xg.distributed.DistributedOptimizer(xg.optim.SGD(1.0))
        >>> pairs = opt.reduce_gradients([(xg.asarray([3.0, 4.0], dtype=xg.float64), w)])
        >>> clipped, _ = xg.optim.clip_global_norm([g for g, _ in pairs], 1.0)
        >>> opt.optimizer.apply_gradients(zip(clipped, [w]))
        1
        >>> w.tolist()
        [2.4, 3.2]
        """
        weight = check_weight(weight)
        return self._reduced(grads_and_vars, weight, take_backward_scales())

    def _reduced(self, grads_and_vars, weight, scales=frozenset(), joinable=True):
        """``reduce_gradients`` of the checked ``weight``; ``scales``: those SyncBatchNorm's
        backward passes used for these gradients, checked against the ranks' weights;
        ``joinable``: whether a rank that has left its ``dist.join()`` block can take part (not
        in LBFGS's evaluations, which gather the ranks' losses too)."""
        pairs, clipped = _checked_pairs(grads_and_vars)
        if self.world.size > 1:
            if clipped:
                warnings.warn(_CLIPPED_BEFORE.format(clipped[0]), stacklevel=4)   # apply_gradients
            variables = [v for _, v in pairs]
            check_same(self.world, "optimizer variables or settings",
                       [*settings(self.optimizer), *describe(variables), f"op={self.op!r}"],
                       SETTINGS_ADVICE,
                       call="DistributedOptimizer.apply_gradients()/minimize()",
                       shadow=None if scales or not joinable else bucket_shadow(
                           variables, self.bucket_bytes, self.op, weight))
            note_weight(weight)
            if scales:
                _check_backward_weights(self.world, self.op, weight, scales)
            plan = plan_for(variables, self.bucket_bytes)
            xp = variables[0]._backend.xp if variables else None
            reduction = Reduction(plan, self.world, xp, weight, self.op)
            local = [None if g is None else g._data for g, _ in pairs]
            reduced = reduction.finish(local)
            pairs = [(None if g is None else _wrap(g, v._backend), v)
                     for g, (_, v) in zip(reduced, pairs)]
        elif weight == 0:       # the weighted mean over one rank that brings nothing: none
            pairs = [(None, v) for _, v in pairs]
        return pairs


_CLIPPED_BEFORE = (
    "DistributedOptimizer: the gradient for {!r} was clipped by clip_global_norm before the "
    "reduction, by this rank's norm, not the global batch's as on one process (the ranks then "
    "train apart from it). Clip the reduced gradients: set global_clipnorm on the wrapped "
    "optimizer, or pairs = opt.reduce_gradients(pairs, weight=n), clip those, then "
    "opt.optimizer.apply_gradients(...)")


def _check_backward_weights(world, op, weight, scales):
    """ValueError on every rank unless SyncBatchNorm's backward sums weighed the ranks as the
    reduction will: in proportion to their weights (op "mean"), alike (op "sum"). Ranks of
    weight 0 are left out (their gradients are; an empty share adds nothing to the sums)."""
    every = world.allgather((weight, sorted(scales)))
    factors = [[s / w if op == "mean" else s for s in ss] for w, ss in every if w > 0]
    flat = [f for fs in factors for f in fs]
    if all(math.isclose(f, flat[0], rel_tol=1e-9) for f in flat[1:]):
        return
    weights = ", ".join(f"rank {r}: {w:g}" for r, (w, _) in enumerate(every))
    raise ValueError(
        f"DistributedOptimizer: these gradients went through SyncBatchNorm's backward pass, "
        f"whose sums weighed each rank's loss alike (a plain GradientTape), but the ranks "
        f"pass different weights ({weights}): the gradients would be wrong. Use "
        f"DistributedOptimizer.minimize(loss_fn, variables, weight=...), which weighs the "
        f"backward pass, or DistributedGradientTape(tape).gradient(loss, sources, "
        f"weight=...) with the plain optimizer (DistributedOptimizer.optimizer), or give "
        f"the ranks equal weights")


def _checked_pairs(grads_and_vars):
    """The ``(gradient, variable)`` pairs as a list, gradients as Tensors, after the checks the
    wrapped optimizer makes: this rank raises here, before a reduction that would fail on it
    alone."""
    from ..optim.optimizer import checked_gradient, unpack_pair

    pairs, clipped = [], []
    for pair in grads_and_vars:
        g, v = unpack_pair(pair)
        if clipped_by_global_norm(g):
            clipped.append(v.name)
        if reduced_by_tape(g):
            raise ValueError(
                f"the gradient for {v.name!r} came from DistributedGradientTape.gradient and is "
                f"already reduced over the ranks; DistributedOptimizer would reduce it again "
                f"(a wrong result for op='sum' or weights). Use one of the two, not both: a "
                f"plain xg.GradientTape with DistributedOptimizer, or DistributedGradientTape "
                f"with the plain optimizer (DistributedOptimizer.optimizer)")
        pairs.append((None if g is None else checked_gradient(g, v), v))
    return pairs, clipped
