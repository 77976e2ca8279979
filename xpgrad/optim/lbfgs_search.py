"""The strong-Wolfe line search of ``LBFGS(line_search_fn="strong_wolfe")``.

The algorithm is Nocedal & Wright's (Numerical Optimization, 2nd ed., Algorithms 3.5 and 3.6):
walk outwards from the first trial step until an interval is known to hold an acceptable step
(``_bracket``), then shrink that interval until a step in it is acceptable (``_zoom``). A step
``t`` along the descent direction ``d`` is acceptable when it satisfies both strong Wolfe
conditions: enough decrease, ``f(t) <= f(0) + c1 t f'(0)``, and a slope flattened enough,
``|f'(t)| <= c2 |f'(0)|``.

Every choice N&W leave open is made as ``torch.optim.LBFGS`` makes it, so that both take the
same trial steps and land on the same iterates: ``c1 = 1e-4``, ``c2 = 0.9``; new trial steps
from the cubic fitted to the two latest points (``cubic_minimizer``); while bracketing, a step
at least ``t + 0.01 (t - t_prev)`` and at most ``10 t``; while zooming, a step kept 10% of the
interval's width away from its ends once it has come that close twice in a row (or lies at or
beyond an end); a stop when the interval, times ``max|d|``, is shorter than
``tolerance_change``; ``max_ls`` evaluations after the first. The numbers keep PyTorch's types
too: the losses are Python floats, the slopes and interpolated steps 0-d values of the
variables' dtype (so float32 variables are stepped in float32 arithmetic).

>>> import numpy as np
>>> def along(t):                    # f(x) = (x - 2)^2 from x = 0 along d = [1]
...     return float((t - 2.0) ** 2), np.array([2.0 * (t - 2.0)])
>>> d = np.ones(1)
>>> f0, g0 = along(0.0)
>>> loss, grad, t, evaluations = strong_wolfe(np, along, 10.0, d, f0, g0, g0 @ d)
>>> round(float(t), 6), evaluations       # the exact minimizer, from one interpolation
(2.0, 2)
"""
from __future__ import annotations

from typing import Any, NamedTuple


class Probe(NamedTuple):
    """One evaluated trial point: the step length, and there the loss, the flat gradient and
    the slope (the gradient's component along the search direction)."""

    step: Any
    loss: float
    grad: Any
    slope: Any


def cubic_minimizer(xp, t1, f1, s1, t2, f2, s2, bounds=None):
    """Where the cubic with values ``f1``, ``f2`` and slopes ``s1``, ``s2`` at ``t1``, ``t2``
    has its local minimum, clipped to ``bounds`` (``(low, high)``; default: the interval between
    ``t1`` and ``t2``). Without a local minimum (the cubic's derivative has no real root), the
    middle of the bounds.

    >>> import numpy as np
    >>> # (t - 2)^2 through t = 0 and t = 4: the fitted cubic is that parabola
    >>> float(cubic_minimizer(np, 0.0, 4.0, np.float64(-4.0), 4.0, 4.0, np.float64(4.0)))
    2.0
    >>> float(cubic_minimizer(np, 0.0, 4.0, np.float64(-4.0), 4.0, 4.0, np.float64(4.0),
    ...                       bounds=(2.5, 40.0)))       # clipped
    2.5
    """
    if not t1 <= t2:
        # the formula below is written for t1 <= t2; it is symmetric in the two points (in
        # floating point too), so ordering them changes no bit of the result
        t1, f1, s1, t2, f2, s2 = t2, f2, s2, t1, f1, s1
    low, high = (t1, t2) if bounds is None else bounds
    # N&W eq. (3.59): the derivative of the fitted cubic is a quadratic whose discriminant is
    # ``e2 ** 2``; its larger root (the minimum) measured back from t2
    e1 = s1 + s2 - 3 * (f1 - f2) / (t1 - t2)
    e2_squared = e1 ** 2 - s1 * s2
    if e2_squared >= 0:
        e2 = xp.sqrt(e2_squared)
        at = t2 - (t2 - t1) * ((s2 + e2 - e1) / (s2 - s1 + 2 * e2))
        return min(max(at, low), high)
    return (low + high) / 2.0


class _Search:
    """What stays fixed along one line search (where it starts, its tests, its budget) and
    the count of evaluations so far."""

    def __init__(self, evaluate, start, d_norm, c1, c2, tolerance_change, max_ls):
        self._evaluate = evaluate
        self.start = start
        self.d_norm = d_norm
        self.c1, self.c2 = c1, c2
        self.tolerance_change = tolerance_change
        self.max_evaluations = max_ls + 1     # the first trial step is always evaluated
        self.evaluations = 0

    def probe(self, step, d):
        loss, grad = self._evaluate(step)
        self.evaluations += 1
        return Probe(step, loss, grad, grad @ d)

    def may_probe(self) -> bool:
        return self.evaluations < self.max_evaluations

    def too_high(self, p) -> bool:
        """The sufficient-decrease (Armijo) condition fails at ``p``."""
        start = self.start
        return p.loss > (start.loss + self.c1 * p.step * start.slope)

    def flat_enough(self, p) -> bool:
        """The strong curvature condition holds at ``p``."""
        return abs(p.slope) <= -self.c2 * self.start.slope


def _lower(ends) -> int:
    """The index of the end with the lower loss (the first on a tie)."""
    return 0 if ends[0].loss <= ends[-1].loss else 1


def _bracket(xp, search, t, d):
    """N&W's Algorithm 3.5: probe ``t``, then longer steps, until a probe is acceptable
    (``([it], True)``) or the last two probes enclose an acceptable step (``([previous,
    latest], False)``). Out of budget first: the start and the last probe, not checked."""
    previous, latest = search.start, search.probe(t, d)
    while search.may_probe():
        # the loss rose above the Armijo line, or (from the third probe on) stopped falling:
        # the minimum was passed
        if search.too_high(latest) or (search.evaluations > 2 and
                                       latest.loss >= previous.loss):
            return [previous, latest], False
        if search.flat_enough(latest):
            return [latest], True
        if latest.slope >= 0:                 # the loss turned upwards between the two
            return [previous, latest], False
        # still going down steeply: extrapolate, at least a little further and at most ten
        # times as far
        step = latest.step
        bounds = (step + 0.01 * (step - previous.step), step * 10)
        step = cubic_minimizer(xp, previous.step, previous.loss, previous.slope,
                               latest.step, latest.loss, latest.slope, bounds)
        previous, latest = latest, search.probe(step, d)
    return [search.start, latest], False


def _nudged_inside(t, a, b, margin, stalled):
    """``(step, stalled)``: the interpolated step ``t`` in the interval of ends ``a``, ``b``,
    moved ``margin`` inside the interval when it lies within ``margin`` of an end for the
    second time running, or at or beyond an end (so that the interval keeps shrinking by a
    useful fraction); ``stalled`` says whether this step was left close to an end."""
    low, high = min(a, b), max(a, b)
    if not min(high - t, t - low) < margin:
        return t, False
    if stalled or t >= high or t <= low:
        return (high - margin if abs(t - high) < abs(t - low) else low + margin), False
    return t, True


def _zoom(xp, search, ends, d):
    """N&W's Algorithm 3.6: shrink the interval ``ends`` (two probes, ``_lower``'s the better)
    until a probe in it is acceptable, the budget is spent or the interval is too short to
    matter; returns the best probe."""
    best = _lower(ends)
    stalled = False
    while search.may_probe():
        a, b = ends
        if abs(b.step - a.step) * search.d_norm < search.tolerance_change:
            break
        t = cubic_minimizer(xp, a.step, a.loss, a.slope, b.step, b.loss, b.slope)
        margin = 0.1 * (max(a.step, b.step) - min(a.step, b.step))
        t, stalled = _nudged_inside(t, a.step, b.step, margin, stalled)
        p = search.probe(t, d)
        other = 1 - best
        if search.too_high(p) or p.loss >= ends[best].loss:
            ends[other] = p                   # p is the new far end; the best may change
            best = _lower(ends)
            continue
        if search.flat_enough(p):
            return p
        # p is the new best end; the old best stays as the far end unless the slope at p
        # points away from the far end, which means the minimum lies on the old best's side
        if p.slope * (ends[other].step - ends[best].step) >= 0:
            ends[other] = ends[best]
        ends[best] = p
    return ends[best]


def strong_wolfe(xp, evaluate, t, d, loss, grad, slope, c1=1e-4, c2=0.9,
                 tolerance_change=1e-9, max_ls=25):
    """``(loss, flat gradient, step, evaluations)`` at a step along ``d`` that satisfies the
    strong Wolfe conditions, or the lowest point found when ``max_ls`` more evaluations after
    the first trial step ``t`` do not find one. ``evaluate(step)`` returns ``(loss as a
    float, flat gradient)`` at that step along ``d``; ``loss``, ``grad`` and ``slope``
    (``grad @ d``, negative) are those at step 0. The module's docstring has an example."""
    search = _Search(evaluate, Probe(0, loss, grad, slope), xp.max(xp.abs(d)), c1, c2,
                     tolerance_change, max_ls)
    ends, done = _bracket(xp, search, t, d)
    found = ends[_lower(ends)] if done else _zoom(xp, search, ends, d)
    return found.loss, found.grad, found.step, search.evaluations
