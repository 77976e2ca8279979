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
    puts it back in its first state (jit/fresh.py)."""

    draws_random = True       # never dropped as dead, nor folded: it changes the generator
    fresh = False             # from a clone of a generator made afresh in every call
    reset = None

    def __init__(self, draw, generator, sample):
        self.draw, self.generator, self.sample = draw, generator, sample

    def __call__(self):
        if self.reset is not None:
            self.reset()
        return self.draw(self.generator, self.sample)

    def __repr__(self):
        return "<random draw>"


class RangeGuard:
    """Replay: the integer range of an index array must lie inside the one seen (and accepted
    by xpgrad's bound checks) when traced; else the call runs eagerly (``GuardFailed``).
    ``widens=False``: the bounds are all its caller accepts (a ``value_range`` guard), so a
    call outside them, which ran eagerly, never widens them."""

    def __init__(self, index_range, lo, hi, widens=True):
        self.index_range, self.lo, self.hi, self.widens = index_range, lo, hi, widens

    def __call__(self, a):
        lo, hi = self.index_range(a)
        if not (self.lo <= lo and hi <= self.hi):       # NaN fails it: the eager call raises
            raise GuardFailed(self, lo, hi)

    def widen(self, lo, hi):
        """An eager call accepted ``[lo, hi]`` too: bound checks accept an interval. Not a
        value guard's: outside its bounds the caller raises or takes another way (det's
        gradient, through the SVD where a determinant is 0), on every such call."""
        if self.widens:
            self.lo, self.hi = min(self.lo, lo), max(self.hi, hi)


class GuardFailed(Exception):
    """A replay's input is outside what the trace checked: run this call eagerly."""

    def __init__(self, guard, lo, hi):
        super().__init__(guard, lo, hi)
        self.guard, self.lo, self.hi = guard, lo, hi
