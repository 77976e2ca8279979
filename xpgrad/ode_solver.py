"""The Dormand-Prince 5(4) integrator behind ``xg.odeint``: adaptive steps on one flat state
vector, written with operators and a few functions of an array namespace ``xp`` (so it runs on
every backend): the backend's raw arrays where no tape needs to see the steps (``xg.odeint``'s
solve and its first-order adjoint pass: gradients come from the adjoint), xpgrad Tensors where
one does (a higher-order adjoint pass, a trace). The solution at the requested times is read
off the step's 4th-order dense-output polynomial (Shampine's midpoint coefficients). Step sizes
are chosen in Python floats: one synchronisation per step (the error norm's).

The step controller is Hairer, Norsett and Wanner's (Solving ODEs I, II.4): the error is the
root mean square of ``err / (atol + rtol * max(|y|, |y_new|))``, a step is kept when it is at
most 1, the next step is ``h * clip(0.9 * err ** -0.2, 0.2, 10)`` (never growing after a
rejection), at most ``hmax``; the first step comes from the same book's starting-step rule.
Steps never pass the last requested time (SciPy's rule; JAX's may overshoot it).

>>> import xpgrad as xg
>>> y = solve_flat(lambda y, t: -y, xg.asarray([1.0], dtype=xg.float64), [0.0, 1.0],
...                rtol=1e-10, atol=1e-10)
>>> round(float(y[1, 0]), 8)     # exp(-1)
0.36787944
>>> import numpy as np                               # the same on raw arrays
>>> out, _ = integrate(lambda y, t: -y, np.array([1.0]), [0.0, 1.0], 1e-10, 1e-10, xp=np)
>>> round(float(out[1][0]), 8)
0.36787944
"""
from __future__ import annotations

import math
import types

import numpy as np

from .batching.batched import BatchedArray
from .batching.session import raw
from .creation import asarray
from .ops import abs as _abs, maximum, mean, sqrt, stack
from .tensor import Tensor

#: the functions the integrator calls besides operators, on Tensors (xpgrad's own, recorded)
TENSOR_OPS = types.SimpleNamespace(abs=_abs, maximum=maximum, mean=mean, sqrt=sqrt)

#: the nodes c, the matrix a (rows 2..7) and the 5th-order weights b of Dormand and Prince's
#: pair; ``_ERROR`` is b minus the embedded 4th-order weights; ``_MIDPOINT`` gives y at half a
#: step for the dense output (Shampine 1986)
_NODES = (0.0, 1 / 5, 3 / 10, 4 / 5, 8 / 9, 1.0, 1.0)
_A = ((),
      (1 / 5,),
      (3 / 40, 9 / 40),
      (44 / 45, -56 / 15, 32 / 9),
      (19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729),
      (9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656),
      (35 / 384, 0.0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84))
_ERROR = (35 / 384 - 5179 / 57600, 0.0, 500 / 1113 - 7571 / 16695, 125 / 192 - 393 / 640,
          -2187 / 6784 + 92097 / 339200, 11 / 84 - 187 / 2100, -1 / 40)
_MIDPOINT = (6025192743 / 30085553152 / 2, 0.0, 51252292925 / 65400821598 / 2,
             -2691868925 / 45128329728 / 2, 187940372067 / 1594534317056 / 2,
             -1776094331 / 19743644256 / 2, 11237099 / 235043384 / 2)
_SAFETY, _MIN_FACTOR, _MAX_FACTOR = 0.9, 0.2, 10.0
#: the 5th-order weights of k_1 .. k_7 (the 7th stage's point)
_FIFTH = _A[6] + (0.0,)


class StepLimitError(RuntimeError):
    """``odeint`` took ``mxstep`` steps between two requested times without reaching the
    second, or its step size fell below what the time's floating-point spacing resolves.

    >>> import xpgrad as xg
    >>> try:
    ...     xg.odeint(lambda y, t: -y, xg.asarray([1.0]), xg.asarray([0.0, 50.0]), mxstep=2)
    ... except xg.StepLimitError as e:
    ...     print(str(e)[:40])
    odeint: mxstep=2 steps taken between t=0
    """


def _combine(y, h, coefficients, ks):
    """``y + h * sum(c * k)`` over the nonzero coefficients (``y`` None: without it)."""
    out = y
    for c, k in zip(coefficients, ks):
        if c:
            term = k * (h * c)
            out = term if out is None else out + term
    return out


class _Slopes:
    """A step's stage slopes ``k_1 .. k_7`` in a list, each combination a sum of products (on
    Tensors: what a tape differentiates). ``start(y, h)`` begins a step from ``y`` with size
    ``h``; ``first`` is its first slope (the last of the step accepted before it), ``set(stage,
    k)`` the slope at a stage, ``accept()`` makes the last slope the next step's first,
    ``point(stage)`` the point of a stage, ``error()`` the step's error estimate and
    ``midpoint()`` its dense output's middle."""

    def __init__(self, f):
        self.ks = [f]
        self.y = self.h = None

    @property
    def first(self):
        return self.ks[0]

    @property
    def last(self):
        return self.ks[-1]

    def start(self, y, h):
        self.y, self.h = y, h

    def set(self, stage, k):
        del self.ks[stage:]
        self.ks.append(k)

    def accept(self):
        self.ks = [self.ks[-1]]

    def point(self, stage):
        return _combine(self.y, self.h, _A[stage], self.ks)

    def error(self):
        return _combine(None, self.h, _ERROR, self.ks)

    def midpoint(self):
        return _combine(self.y, self.h, _MIDPOINT, self.ks)

    def dense(self, y1, x):
        """The step's dense output at the fraction ``x`` of it (``y1``: its end)."""
        return _dense(self.y, y1, self, self.h, x)

    def step(self, func, y, t, h):
        """The stages of a step of size ``h`` from ``y`` at ``t``: its 5th-order point (the
        7th stage's) and its error estimate."""
        self.start(y, h)
        for stage in range(1, 7):
            point = self.point(stage)
            self.set(stage, func(point, t + _NODES[stage] * h))
        return point, self.error()


class _SlopeRows:
    """``_Slopes``' ``first``, ``last``, ``set``, ``accept``, ``step`` and ``dense`` on raw
    arrays: the step's start ``y`` and its slopes are the rows of one ``(8, n)`` array, and
    each combination is one vector-matrix product with a row of ``_COMBINATIONS`` scaled by
    ``h`` once a step (a few microseconds less per stage than sums of products on a small
    state: NumPy's cost per call, not per entry, dominates there)."""

    def __init__(self, f, xp):
        dtype = f.dtype
        self.rows = xp.empty((8, f.shape[0]), dtype=dtype)
        self.rows[1] = f
        self.combinations = xp.asarray(_COMBINATIONS, dtype=dtype)   # (float64: no copy)
        self.scaled = xp.empty_like(self.combinations)
        self.scale = xp.ones((8,), dtype=dtype)         # (1, h, ..., h)
        self.h = None
        # views, valid while the arrays live: each stage's (row it fills, node, coefficients,
        # rows they combine), the error's (slopes only: a stale slope's inf times 0 is NaN)
        self._plan = [(stage + 1, _NODES[stage], self.scaled[stage, :stage + 1],
                       self.rows[:stage + 1]) for stage in range(1, 7)]
        self._numpy = type(self.rows) is np.ndarray
        self._xp = xp
        self.error_terms = (self.scaled[7, 1:], self.rows[1:])
        self._dot = _dot_of(self.rows)

    @property
    def first(self):
        return self.rows[1]

    @property
    def last(self):
        return self.rows[7]

    def start(self, y, h):
        self.rows[0] = y
        if h != self.h:
            self.h = h
            self.scale[1:] = h
            if self._numpy:
                np.multiply(self.combinations, self.scale, out=self.scaled)
            else:
                self.scaled[...] = self.combinations * self.scale

    def dense(self, y1, x):
        """``_dense`` as one product with the rows: the polynomial's weights of ``y1``, the
        midpoint and the end slopes, each a combination of the rows, summed per row in
        Python floats (the weight of ``y`` sums to 1)."""
        if x == 1.0:
            return y1
        x2 = x * x
        x3, x4 = x2 * x, x2 * x2
        end, middle = -8 * x4 + 14 * x3 - 5 * x2, 16 * x4 - 32 * x3 + 16 * x2
        h = self.h
        weights = [1.0] + [h * (end * b + middle * m) for b, m in zip(_FIFTH, _MIDPOINT)]
        weights[1] += h * (-2 * x4 + 5 * x3 - 4 * x2 + x)
        weights[7] += h * (2 * x4 - 3 * x3 + x2)
        return self._dot(self._xp.asarray(weights, dtype=self.rows.dtype), self.rows)

    def step(self, func, y, t, h):
        """``_Slopes.step`` with the stages' calls inline (a microsecond a step)."""
        self.start(y, h)
        rows, dot = self.rows, self._dot
        for row, node, coefficients, heads in self._plan:
            point = dot(coefficients, heads)
            rows[row] = func(point, t + node * h)
        return point, dot(*self.error_terms)

    def set(self, stage, k):
        self.rows[stage + 1] = k

    def accept(self):
        self.rows[1] = self.rows[7]


def _dot_of(array):
    """The vector-matrix product for arrays like ``array``: its class's ``dot`` method (NumPy's
    costs a third of ``@`` on small arrays), else ``@``."""
    dot = getattr(type(array), "dot", None)
    return dot if dot is not None else (lambda a, b: a @ b)


#: ``_SlopeRows``' coefficients of (y, k_1 .. k_7): rows 1-6 the stages' points (row ``s`` read
#: up to column ``s``), 7 the error estimate (row 0 unused)
_COMBINATIONS = np.array([[0.0] * 8] + [[1.0] + list(row) + [0.0] * (7 - len(row))
                                         for row in _A[1:]] + [[0.0] + list(_ERROR)])
_COMBINATIONS.flags.writeable = False


def _rms(x, xp) -> float:
    """The root mean square of the 1-D ``x`` (0 for no entries); inside ``xg.vmap``, the
    largest example's, so that the examples share steps that each of them accepts (the
    stacked system's solve, as JAX's ``odeint`` under ``vmap``, with every example's error
    within the tolerances)."""
    n = x.shape[0]
    if not n:
        return 0.0
    if isinstance(x, Tensor) and x._data.__class__ is BatchedArray:
        examples = raw(x._data)                 # the batch axes first, the state last
        return math.sqrt(float((examples * examples).sum(axis=-1).max()) / n)
    return math.sqrt(float(x @ x) / n)


#: the largest raw state whose error ratio is summed in Python floats (``_error_ratio``)
_SMALL = 16


def _error_ratio(error, y, y_new, rtol, atol, xp, entries):
    """The root mean square of ``error / (atol + rtol * max(|y|, |y_new|))`` over the first
    ``entries`` entries (None: all): a step is kept where it is at most 1. A small raw state's
    in Python floats (a third of NumPy's five calls on a 2-entry state)."""
    if entries is not None:
        error, y, y_new = error[:entries], y[:entries], y_new[:entries]
    n = error.shape[0]
    if xp is not TENSOR_OPS and 0 < n <= _SMALL:
        total = 0.0
        for e, a, b in zip(error.tolist(), y.tolist(), y_new.tolist()):
            e /= atol + rtol * max(abs(a), abs(b))
            total += e * e
        return math.sqrt(total / n)
    return _rms(error / (atol + rtol * xp.maximum(xp.abs(y), xp.abs(y_new))), xp)


def _first_step(func, t0, y0, f0, rtol, atol, xp, entries=None):
    """Hairer, Norsett and Wanner's starting step for a method of order 5 (one extra call);
    ``entries``: the norms cover the first that many entries (None: all)."""
    def part(x):
        return x if entries is None else x[:entries]

    scale = atol + xp.abs(part(y0)) * rtol
    d0, d1 = _rms(part(y0) / scale, xp), _rms(part(f0) / scale, xp)
    h0 = 1e-6 if d0 < 1e-5 or d1 < 1e-5 else 0.01 * d0 / d1
    f1 = func(y0 + f0 * h0, t0 + h0)
    d2 = _rms(part(f1 - f0) / scale, xp) / h0
    if max(d1, d2) <= 1e-15:
        h1 = max(1e-6, h0 * 1e-3)
    else:
        h1 = (0.01 / max(d1, d2)) ** (1 / 5)
    return min(100 * h0, h1)


def _dense(y0, y1, slopes, h, x):
    """The 4th-order polynomial through the step's ends, midpoint and end slopes, at the
    fraction ``x`` of the step."""
    if x == 1.0:
        return y1
    mid = slopes.midpoint()
    dy0, dy1 = slopes.first * h, slopes.last * h
    a = (dy1 - dy0) * 2.0 - (y0 + y1) * 8.0 + mid * 16.0
    b = dy0 * 5.0 - dy1 * 3.0 + y0 * 18.0 + y1 * 14.0 - mid * 32.0
    c = dy1 - dy0 * 4.0 - y0 * 11.0 - y1 * 5.0 + mid * 16.0
    return (((a * x + b) * x + c) * x + dy0) * x + y0


def solve_flat(func, y0, times, rtol, atol, mxstep=math.inf, hmax=math.inf, time_dtype=None):
    """The solution of ``dy/dt = func(y, t)`` from ``y0`` (a 1-D Tensor) at ``times`` (Python
    floats, increasing, the first the start), stacked along a new leading axis. ``func`` gets
    ``t`` as a 0-d Tensor of ``time_dtype`` (``y0``'s dtype when None)."""
    backend, time_dtype = y0._backend, time_dtype or y0.dtype

    def at_tensor_time(y, t):
        return func(y, asarray(t, dtype=time_dtype, backend=backend))

    return stack(integrate(at_tensor_time, y0, times, rtol, atol, mxstep, hmax)[0])


def integrate(func, y0, times, rtol, atol, mxstep=math.inf, hmax=math.inf, first_step=None,
              xp=TENSOR_OPS, error_entries=None, workspace=None):
    """The solution of ``dy/dt = func(y, t)`` (``t`` a Python float) from ``y0`` at ``times``
    as a list, and the step size it would take next: a solve that continues from the last
    time starts with it (``first_step``) instead of the starting-step rule's extra call of
    ``func``. ``y0`` and ``func``'s values are arrays of the namespace ``xp`` (its ``abs``,
    ``maximum``, ``mean`` and ``sqrt`` are called; Tensors and xpgrad's by default).
    ``error_entries``: the error norm covers only the state's first that many entries (a
    seminorm; None: all of them). ``workspace``: a dict in which raw steps keep their arrays
    for the next call given it (a solve continued interval by interval)."""
    t, y = times[0], y0
    out = [y0]
    if len(times) == 1:
        return out, first_step
    if xp is not TENSOR_OPS and type(y0) is np.ndarray:
        xp = np         # (not array_api_compat's wrappers: a few microseconds each on small arrays)
    t_end = times[-1]
    f = func(y, t)
    h = min(first_step or _first_step(func, t, y, f, rtol, atol, xp, error_entries), hmax)
    if xp is TENSOR_OPS:
        slopes = _Slopes(f)
    else:
        slopes = workspace.get((f.shape, f.dtype)) if workspace is not None else None
        if slopes is None:
            slopes = _SlopeRows(f, xp)
            if workspace is not None:
                workspace[f.shape, f.dtype] = slopes
        else:
            slopes.set(0, f)
    target = 1
    steps = 0
    while target < len(times):
        if steps >= mxstep:
            raise StepLimitError(f"odeint: mxstep={mxstep} steps taken between "
                                 f"t={times[target - 1]!r} and t={times[target]!r} without "
                                 f"reaching the second (stopped at t={t!r}); raise mxstep, or "
                                 "loosen rtol/atol")
        unclipped, h = h, min(h, t_end - t)
        if t + h == t:
            raise StepLimitError(f"odeint: the step size fell to {h!r} at t={t!r}, below what "
                                 "floating point resolves there (a stiff problem, or a solution "
                                 "that blows up)")
        y_new, error = slopes.step(func, y, t, h)    # (the 7th stage's point: 5th order)
        ratio = _error_ratio(error, y, y_new, rtol, atol, xp, error_entries)
        steps += 1
        accepted = ratio <= 1.0
        if accepted:
            t_new = t_end if h == t_end - t else t + h
            while target < len(times) and times[target] <= t_new:
                x = (times[target] - t) / h
                out.append(slopes.dense(y_new, min(x, 1.0)))
                target += 1
                steps = 0
            t, y = t_new, y_new
            slopes.accept()
        factor = _MAX_FACTOR if ratio == 0 else _SAFETY * ratio ** -0.2
        factor = min(max(factor, _MIN_FACTOR), _MAX_FACTOR if accepted else 1.0)
        h = min(h * factor, hmax)
    return out, max(h, unclipped)    # a last step cut short to land on t_end says little
