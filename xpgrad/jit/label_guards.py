"""Labels checked by the loss kernel instead of a guard of their own.

``softmax_cross_entropy`` checks its integer labels' range (``index_range``), which a trace
records as a ``RangeGuard``: a replay whose labels lie outside the range seen runs eagerly, and
the eager call raises for a label outside ``[0, classes)``. The Numba backend's softmax
cross-entropy kernel checks every label as it reads it and declines (returns None) at one
outside ``[0, classes)``; where that kernel is all that reads the labels, its check is the
guard: ``fold_label_guards(program)`` drops the guard and wraps the kernel, so a decline
fails the replay as the guard would have (``GuardFailed``: the call runs eagerly and raises
there). One call less per replay (2-5 us at batch 32: the guard's ``min`` and ``max``).

Only where no step before the kernel changes state (an optimizer update, a random draw, a
write into a Variable): the guard was then the replay's first check, and the kernel's failing
later leaves nothing to put back.
"""
from __future__ import annotations

import sys

from .guards import _persistent_roots, changes_state
from .replay_steps import GuardFailed, RangeGuard
from .structure import leaves
from .program_steps import Ref, Step


class LabelCheckingKernel:
    """Replay of a loss kernel that checks its labels: a decline is the dropped ``guard``
    failing (the call runs eagerly)."""

    def __init__(self, kernel, guard):
        self.kernel, self.guard = kernel, guard

    def __call__(self, *args, **kwargs):
        out = self.kernel(*args, **kwargs)
        if out is None:
            guard = self.guard
            raise GuardFailed(guard, guard.lo, guard.hi)
        return out

    def __repr__(self):
        return f"<{getattr(self.kernel, '__name__', self.kernel)} checking its labels>"


def _losses_module():
    """The Numba backend's loss kernels, where loaded (a program using them has loaded them:
    one without never imports Numba here)."""
    return sys.modules.get("xpgrad.backends.numba._losses")


def _checking_kernels():
    """The kernel forwards that decline at a label outside ``[0, classes)``."""
    losses = _losses_module()
    return () if losses is None else (losses.sce_forward,)


def _reads(step):
    return {o.i for o in leaves((step.args, step.kwargs)) if type(o) is Ref}


def fold_label_guards(program) -> int:
    """Rewrite ``program.steps`` as the module docstring says; how many guards were dropped."""
    checking = _checking_kernels()
    steps, slots = program.steps, program.slots
    if not checking or not any(s.kind == "guard" for s in steps):
        return 0
    persistent = _persistent_roots(steps, slots)
    dropped = []
    for guard_step in steps:
        guard = guard_step.fn
        if guard_step.kind != "guard" or type(guard) is not RangeGuard or not guard.widens \
                or len(guard_step.args) != 1 or type(guard_step.args[0]) is not Ref:
            continue
        labels = guard_step.args[0].i
        readers = [(k, s) for k, s in enumerate(steps)
                   if s is not guard_step and labels in _reads(s)]
        forwards = [(k, s) for k, s in readers if s.kind == "kernel" and s.fn in checking
                    and len(s.args) >= 2 and type(s.args[1]) is Ref and s.args[1].i == labels
                    and labels not in _reads(Step(None, s.args[:1], s.kwargs, None, ""))]
        if not forwards or any(s.kind != "kernel" or not _loss_step(s) for _, s in readers):
            continue
        first = forwards[0][0]
        if any(changes_state(s, slots, persistent) for s in steps[:first]):
            continue
        for _, s in forwards:
            s.fn = LabelCheckingKernel(s.fn, guard)
        dropped.append(guard_step)
    if dropped:
        program.steps = [s for s in steps if not any(s is d for d in dropped)]
    return len(dropped)


def _loss_step(step):
    """Whether a kernel step is the softmax cross-entropy's forward (checking or wrapped) or
    its vjp (which reads the labels' dtype only, after the forward checked them)."""
    losses, fn = _losses_module(), step.fn
    return fn is losses.sce_forward or fn is losses.sce_vjp or type(fn) is LabelCheckingKernel


__all__ = ["LabelCheckingKernel", "fold_label_guards"]
