"""A backend kernel that declines on replay where it ran when traced.

A kernel may decline (return None, or NotImplemented for one input's gradient) and leave the
work to the generic rule, for reasons the signature does not show: ties in a row's maximum
(its gradient), a weight sum of 0 (``nll``), an overflow a kernel checks for. A trace records
the kernel it saw run; a replay whose values make it decline has no generic rule to run.
It stops (``KernelDeclined``, a ``GuardFailed``) and the call runs eagerly instead, as for a
failed guard: the same values as an eager call, no retrace, no warning.

That is right only where the replay changed nothing before the kernel (``DeclinePlan``). A
random draw before it: the eager call draws anew (the generator has advanced by the replay's
draws). An optimizer update or a Variable write before it that the program's snapshot does
not cover (``guards.StateSnapshot``): the call cannot run again without applying it twice and
raises ``KernelDeclinedAfterUpdate``; the program saves that state on later replays, so a
later decline runs eagerly, from the state the call began in.

A program whose kernel declines on ``WARN_AFTER`` replays in a row (the values that make it
decline are the usual ones) is traced anew on its signature's next call (``retrace_due``),
once: traced with such values, the kernel declines in the trace and the program records the
generic rule, which replays them (``TraceCache`` notes the new program
``traced_for_declines``). TensorFlow retraces on new signatures only, but its kernels never
decline; here a call that declines runs the function eagerly anyway, Python side effects
included, so a trace in its place changes nothing a user sees but the speed of the calls
after it. Where the program traced anew declines ``WARN_AFTER`` times in a row again (the
call that traced it had values the kernel takes), the function warns once, naming it
(``KernelDeclinedWarning``): each such call replays up to the kernel, undoes that and runs
eagerly, slower than no trace.

>>> import numpy as np
>>> import xpgrad as xg
>>> @xg.function
... def grad_of_max(x):
...     with xg.GradientTape() as tape:
...         tape.watch(x)
...         y = xg.sum(xg.max(x, axis=-1))
...     return tape.gradient(y, x)
>>> for _ in range(2):
...     _ = grad_of_max(xg.asarray([[1.0, 2.0, 0.0]]))
>>> grad_of_max(xg.asarray([[2.0, 2.0, 0.0]])).tolist()     # a tie: the kernel declines
[[0.5, 0.5, 0.0]]
"""
from __future__ import annotations

import warnings

from .errors import function_name, user_stacklevel
from .guards import StateSnapshot, _draws, _persistent_roots, changes_state
from .replay_steps import GuardFailed


class DeclinedKernel:
    """The ``guard`` of a ``KernelDeclined``: the kernel's name; never widened."""

    def __init__(self, name):
        self.name = name

    def widen(self, lo, hi):
        """Nothing to widen: the next replay tries the kernel again."""

    def __repr__(self):
        return f"<kernel {self.name} declined>"


class KernelDeclined(GuardFailed):
    """A kernel declined on replay where it ran when traced: run this call eagerly."""

    def __init__(self, name):
        super().__init__(DeclinedKernel(name), None, None)


class KernelDeclinedWarning(UserWarning):
    """A traced function's kernel declined on replay after replay: each call runs twice."""


#: declines of one program's kernels in a row after which its function warns (once)
WARN_AFTER = 5


def note_decline(program, fn, guard):
    """Count a call of ``fn`` whose replay of ``program`` a kernel's decline (``guard``, a
    ``DeclinedKernel``) sent to an eager run; the ``WARN_AFTER``-th in a row makes the next
    call trace anew, or, in a program so traced already, warns, once per program (a replay
    that runs through resets the count: ``Program.decline_streak``)."""
    program.decline_streak += 1
    plan = program.declines
    if program.decline_streak != WARN_AFTER or plan.warned:
        return
    if not plan.traced_for_declines:
        plan.retrace_due = True
        return
    plan.warned = True
    warnings.warn(f"xg.function {function_name(fn)!r}: the backend kernel {guard.name} has "
                  f"declined on {WARN_AFTER} replays in a row, also after the function was "
                  f"traced anew for {WARN_AFTER} such (it ran when the function was traced; "
                  f"it declines for some values: ties in a maximum, a zero weight sum, an "
                  f"overflow), so each of these calls replays up to it, undoes that and runs "
                  f"again eagerly, slower than the undecorated function. Where such values "
                  f"are the usual ones, call the function undecorated",
                  KernelDeclinedWarning, stacklevel=user_stacklevel())


class KernelDeclinedAfterUpdate(RuntimeError):
    """A kernel declined on replay after the replay had updated a Variable or an optimizer,
    which an eager run of the call would apply a second time."""


class DeclinePlan:
    """Where in a program (its steps, at build time) a kernel's decline can be undone.

    ``undone_before``: a kernel step before it declining leaves nothing changed (or only what
    the program's snapshot puts back); ``redrawn_before``: before it, at most random draws;
    ``widened``: the snapshot covering every kernel step, taken on replays once a kernel
    declined after a state change (None: no kernel step comes after one)."""

    def __init__(self, steps, slots, snapshot):
        persistent = _persistent_roots(steps, slots)
        covered = max((k for k, s in enumerate(steps) if s.kind == "guard"), default=0) \
            if snapshot is not None else 0
        changing = [k for k in range(covered, len(steps))
                    if changes_state(steps[k], slots, persistent)]
        self.undone_before = changing[0] if changing else len(steps)
        self.redrawn_before = next((k for k in changing if not _draws(steps[k])), len(steps))
        last_kernel = max((k for k, s in enumerate(steps) if s.kind == "kernel"), default=-1)
        self.widened = StateSnapshot.of(steps, slots, through=last_kernel) \
            if last_kernel > self.undone_before else None
        self.names = {k: _kernel_name(s.fn) for k, s in enumerate(steps)
                      if s.kind == "kernel"}
        self.warned = False         # note_decline's warning given
        self.retrace_due = False    # the function's next call with this signature traces anew
        self.traced_for_declines = False     # traced anew so already: warn, not retrace

    def handler(self, program):
        """``_declined(k)`` of ``program``'s replay source (holding the program weakly: its
        namespace holds the handler)."""
        import weakref

        ref = weakref.ref(program)
        return lambda k: self.declined(ref(), k)

    def declined(self, program, k):
        """Kernel step ``k`` of ``program`` declined: raise what its caller handles."""
        name = self.names.get(k, "?")
        if k < self.undone_before or program.snapshot is self.widened:
            raise KernelDeclined(name)
        program.snapshot = self.widened       # later replays save what comes before it
        if k < self.redrawn_before:
            raise KernelDeclined(name)
        raise KernelDeclinedAfterUpdate(
            f"the backend kernel {name} declined on replay for these values (it ran when the "
            f"function was traced), after the replay had updated a Variable or an optimizer: "
            f"running the call again eagerly would apply that update twice, so this call "
            f"raises. Later calls save that state first and run eagerly where the kernel "
            f"declines")


def _kernel_name(fn):
    fn = getattr(fn, "kernel", None) or getattr(fn, "forward", None) or fn
    return getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or repr(fn)


__all__ = ["DeclinePlan", "DeclinedKernel", "KernelDeclined", "KernelDeclinedAfterUpdate",
           "KernelDeclinedWarning", "note_decline"]
