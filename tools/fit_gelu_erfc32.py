"""Fit the polynomial of the NumPy float32 gelu kernel (backends/numpy/gelu.py, ``_Q32``).

    python tools/fit_gelu_erfc32.py

``Phi(-a) = t 2**(v Q(v) - a**2 log2(e) / 2)`` with ``t = (C/2) / (C + a)``, ``v = a t`` and
``C = sqrt(2) / 0.29`` rounded to float32: ``v Q(v)`` is ``log2(erfcx(a / sqrt 2) / 2t)``, 0 at
a = 0. ``Q`` has degree 6; its coefficients are fitted from the highest down, each rounded to
float32 before the rest are refitted (the kernel multiplies by float32 constants), by weighted
least squares that Lawson's rule reweights towards the minimax fit, the weight
``1 / (1 + a**2)`` (the float32 exponential's own error grows so). Prints ``C``, the
coefficients (``Q``'s, of ``v**0`` up) and the largest weighted relative error (about 4.3e-8).
"""
from __future__ import annotations

import numpy as np
from scipy.special import erfcx

A_MAX = 15.0        # float32 Phi(-a) underflows below a = 14.1
DEGREE = 6          # of Q: u Q(u) has degree 7
C = float(np.float32(np.sqrt(2.0) / 0.29))


def lawson(powers, target, weight, rounds=500):
    """Least-squares coefficients of ``target`` on the columns of ``powers``, reweighted
    towards the weighted minimax fit; the largest weighted error."""
    lawson_weights = np.full(len(target), 1.0 / len(target))
    for _ in range(rounds):
        scale = np.sqrt(lawson_weights) * weight
        coeffs = np.linalg.lstsq(powers * scale[:, None], target * scale, rcond=None)[0]
        error = np.abs(powers @ coeffs - target) * weight
        lawson_weights *= error
        lawson_weights /= lawson_weights.sum()
    return coeffs, error.max()


def fit():
    """``(Q, error)``: the coefficients (``Q``'s, of ``v**0`` up) and the largest weighted
    relative error."""
    t = np.linspace(C / (C + A_MAX), 1.0, 40001)
    a = C / t - C
    v = C / 2 * (1.0 - t)
    target = np.log2(erfcx(a / np.sqrt(2.0))) - np.log2(t)      # log2(erfcx / 2t) + 1
    weight = 1.0 / (1.0 + a * a)
    powers = v[:, None] ** np.arange(1, DEGREE + 2)
    fixed = {}
    for k in range(DEGREE, -1, -1):
        free = [j for j in range(DEGREE + 1) if j not in fixed]
        rest = target - sum(c * powers[:, j] for j, c in fixed.items())
        coeffs, _ = lawson(powers[:, free], rest, weight)
        fixed[k] = float(np.float32(coeffs[free.index(k)]))
    q = [fixed[j] for j in range(DEGREE + 1)]
    error = np.abs(powers @ np.array(q) - target) * weight * np.log(2.0)
    return tuple(q), float(error.max())


def main():
    q, error = fit()
    print("C =", C)
    print("Q =", q)
    print(f"largest weighted relative error {error:.2g}")


if __name__ == "__main__":
    main()
