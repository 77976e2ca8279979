"""The host-side steps a program replays as Python calls: an optimizer update, a random
draw, a range guard (whose failure, ``GuardFailed``, makes the call run eagerly)."""
from __future__ import annotations

from ..tensor import Tensor, _wrap


class HostOptimizerStep:
    """Replay of ``optimizer.apply_gradients``: the original method, on the replayed gradients
    (Python state -- the learning-rate schedule, ``iterations``, slots -- advances as eager).
    ``reset``: the first update with an optimizer the function makes afresh in every call
    first puts it back in its first state (jit/fresh.py)."""

    reset = None
    fresh = False

    def __init__(self, method, optimizer, variables, be):
        self.method, self.optimizer, self.variables, self.be = method, optimizer, variables, be
        # each gradient's backend: its Variable's (another backend's Variable gets its
        # gradient moved there)
        self.backends = [getattr(v, "_backend", be) for v in variables]

    def __call__(self, *grads):
        if self.reset is not None:
            self.reset()
        # the program's arrays become Tensors; Python numbers go as given (converted there)
        pairs = [(_wrap(g, b) if hasattr(g, "shape") and not isinstance(g, Tensor) else g, v)
                 for g, v, b in zip(grads, self.variables, self.backends)]
        return self.method(self.optimizer, pairs)


class VariableWrite:
    """Replay of a Variable rebound, before an optimizer update, to an array the program
    computed (``count.assign_add(1)``, a running statistic): the update reads every Variable
    anew, so the write happens there, not with the writes at the program's end."""

    def __init__(self, var):
        self.var = var
        self.variables = (var,)          # what it changes (jit/guards.py)

    def __call__(self, value):
        self.var._data = value

    def __repr__(self):
        return f"<write of Variable {self.var.name!r}>"


class RandomDraw:
    """Replay of a random draw (``xg.random.Generator``): draws again from the same generator,
    so each replay gets fresh numbers and the generator advances as in eager calls.
    ``reset``: the first draw from a generator the function makes afresh in every call first
    puts it back in its first state (jit/fresh.py). A draw with inputs (a sampler's
    parameters, ``Generator._draw_with``) calls ``sample(rng, *arrays)`` with the replay's."""

    draws_random = True       # never dropped as dead, nor folded: it changes the generator
    fresh = False             # from a clone of a generator made afresh in every call
    reset = None

    def __init__(self, draw, generator, sample):
        self.draw, self.generator, self.sample = draw, generator, sample

    def __call__(self, *arrays):
        if self.reset is not None:
            self.reset()
        if arrays:                  # a sampler's parameters, this call's (Generator._draw_with)
            return self.draw(self.generator, lambda rng: self.sample(rng, *arrays))
        return self.draw(self.generator, self.sample)

    def __repr__(self):
        return "<random draw>"


class RangeGuard:
    """Replay: the range of an array must be one the trace's program holds for; else the call
    runs eagerly (``GuardFailed``). Three kinds, by what the traced code took from the range:

    - a bounds check (``check_index_range``, ``widens=True``): only pass or fail. The range
      must lie inside the one seen when traced; an eager call after a failure that passed
      the check widens it (the checks accept an interval). ``within(lo, hi)``: the interval
      of ranges the caller's other decisions hold for (``take`` wraps negative indices only
      where it saw one), which widening never leaves;
    - a value read (``index_range``, ``exact=True``): the values may have become a shape or
      a Python branch, so the range must be exactly the one traced, and never widens;
    - accepted bounds (``value_range``, ``widens=False``): the bounds are all its caller
      accepts, so a call outside them, which ran eagerly, never widens them."""

    def __init__(self, index_range, lo, hi, widens=True, within=None, exact=False):
        self.index_range, self.lo, self.hi = index_range, lo, hi
        self.widens, self.within, self.exact = widens and not exact, within, exact

    def __call__(self, a):
        lo, hi = self.index_range(a)
        if self.exact:
            if lo != self.lo or hi != self.hi:
                raise GuardFailed(self, lo, hi)
        elif not (self.lo <= lo and hi <= self.hi):       # NaN fails it: the eager call raises
            raise GuardFailed(self, lo, hi)

    def widen(self, lo, hi):
        """An eager call accepted ``[lo, hi]`` too: bound checks accept an interval, and the
        program holds for every range inside ``within``. Not a value read's (the program
        took the values themselves: a shape, a branch) nor a value guard's (outside its
        bounds the caller raises or takes another way: det's gradient, through the SVD where
        a determinant is 0), on every such call."""
        if not self.widens:
            return
        lo, hi = min(self.lo, lo), max(self.hi, hi)
        if self.within is not None:
            first, last = self.within(self.lo, self.hi)
            if not (first <= lo and hi <= last):
                return
        self.lo, self.hi = lo, hi

    def __repr__(self):
        kind = "exact" if self.exact else "check" if self.widens else "bounds"
        return f"<RangeGuard {kind} [{self.lo}, {self.hi}]>"


class GuardFailed(Exception):
    """A replay's input is outside what the trace checked: run this call eagerly."""

    def __init__(self, guard, lo, hi):
        super().__init__(guard, lo, hi)
        self.guard, self.lo, self.hi = guard, lo, hi
