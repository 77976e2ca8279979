"""Fit the polynomials of the NumPy backend's float32 erf, erfc, ndtr and erfinv kernels
(backends/numpy/erf_float32.py, ``_ERF_TANH``, ``_TAIL``, ``_ERFINV_NEAR``, ``_ERFINV_FAR``).

    python tools/fit_erf32.py

``erf(x) = tanh(x G(x**2))``: ``x G(x**2)`` is ``atanh(erf(x))``; ``G`` (degree 7) is fitted
on [0, 3.95] (erf rounds to 1 in float32 from 3.92 on) to the relative error that reaches
erf, ``(1 - erf**2) atanh(erf) / erf`` times G's own (tanh's slope flattens the error of a large
argument away, so only |x| below 2 or so needs digits). ``Phi(-a) = t 2**(v Q(v)) exp(-a**2 /
2)`` with ``t`` and ``v`` as the GELU kernel's (tools/fit_gelu_erfc32.py), but ``Q`` (degree 9)
fitted to a uniform relative error up to a = 15: the kernels compute ``exp(-a**2 / 2)`` apart,
without the rounding of ``a**2``, so the fit is the error left far out. Coefficients are fitted
from the highest down, each rounded to float32 before the rest are refitted (Lawson's
reweighting towards the minimax fit: ``fit_gelu_erfc32.lawson``). Prints both and their
largest errors.
"""
from __future__ import annotations

import numpy as np
from fit_gelu_erfc32 import A_MAX, C, lawson
from scipy.special import erf, erfcx, erfinv

X_MAX = 3.95
ERF_DEGREE = 7
TAIL_DEGREE = 9
ERFINV_DEGREE = 8
ERFINV_SPLIT = -5.0


def fit_rounded(powers, target, weight):
    """Coefficients of ``powers``' columns, each rounded to float32 from the highest down."""
    degree = powers.shape[1] - 1
    fixed = {}
    for k in range(degree, -1, -1):
        free = [j for j in range(degree + 1) if j not in fixed]
        rest = target - sum(c * powers[:, j] for j, c in fixed.items())
        coeffs, _ = lawson(powers[:, free], rest, weight, rounds=200)
        fixed[k] = float(np.float32(coeffs[free.index(k)]))
    coeffs = np.array([fixed[j] for j in range(degree + 1)])
    return tuple(coeffs.tolist()), float((np.abs(powers @ coeffs - target) * weight).max())


def fit_erf():
    x = np.concatenate([np.geomspace(1e-6, 1e-2, 300), np.linspace(0.0, X_MAX, 40001)[1:]])
    e = erf(x)
    g = np.arctanh(e) / x
    reach = (1.0 - e * e) * x / e          # d(log erf) / d(log u) at u = x G
    return fit_rounded((x * x)[:, None] ** np.arange(ERF_DEGREE + 1), g, reach / g)


def fit_tail():
    t = np.linspace(C / (C + A_MAX), 1.0, 40001)
    a = C / t - C
    v = C / 2 * (1.0 - t)
    target = np.log2(erfcx(a / np.sqrt(2.0))) - np.log2(t)      # log2(erfcx / 2t) + 1
    powers = v[:, None] ** np.arange(1, TAIL_DEGREE + 2)
    q, error = fit_rounded(powers, target, np.ones_like(a))
    return q, error * np.log(2.0)


def fit_erfinv():
    """``erfinv(y) = y P(log((1 - y)(1 + y)) + 2.5)`` where the log is above -5 (|y| < 0.9966),
    ``y R(sqrt(-log((1 - y)(1 + y))) - 3)`` beyond, out to float32's largest y below 1 (the
    two regions of Giles' single-precision erfinv, refitted): ``(P, R, largest relative
    error)``."""
    top = float(np.nextafter(np.float32(1.0), np.float32(0.0)))
    y = np.concatenate([np.geomspace(1e-8, 0.5, 4000), np.linspace(0.5, 0.999, 20000),
                        1.0 - np.geomspace(1e-3, 1.0 - top, 20000)])
    log_p = np.log((1.0 - y) * (1.0 + y))
    target = erfinv(y) / y
    near = log_p > ERFINV_SPLIT
    p, near_error = fit_rounded((log_p[near] + 2.5)[:, None] ** np.arange(ERFINV_DEGREE + 1),
                                target[near], 1.0 / target[near])
    r, far_error = fit_rounded((np.sqrt(-log_p[~near]) - 3.0)[:, None]
                               ** np.arange(ERFINV_DEGREE + 1), target[~near],
                               1.0 / target[~near])
    return p, r, max(near_error, far_error)


def main():
    p, r, error = fit_erfinv()
    print("P =", p)
    print("R =", r)
    print(f"largest relative error of erfinv {error:.2g}")
    g, error = fit_erf()
    print("G =", g)
    print(f"largest relative error it leaves in erf {error:.2g}")
    q, error = fit_tail()
    print("Q =", q)
    print(f"largest relative error of Phi(-a) / (t exp(-a**2 / 2)) {error:.2g}")


if __name__ == "__main__":
    main()
