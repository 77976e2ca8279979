"""Fit the rational function of the Numba float32 gelu kernels (backends/numba/_gelu_math.py).

    python tools/fit_gelu_tail.py

``R(u) = Phi(-u) exp(u**2 / 2) = erfcx(u / sqrt 2) / 2`` on [0, CAP] as ``P(u) / Q(u)``,
degrees 4 and 5, ``P(0) = 1/2`` and ``Q(0) = 1``: linearized least squares in relative error,
reweighted by Lawson's rule towards the minimax fit. Prints the coefficients (lowest first) and
the largest relative error on a grid 30 times finer than the fit's (about 6e-9: a tenth of a
float32 rounding).
"""
from __future__ import annotations

import numpy as np
from scipy.special import erfcx

CAP = 14.4          # _gelu_math.CAP32: exp(-CAP**2 / 2) is float32's last subnormal
NUM_DEGREE, DEN_DEGREE = 4, 5


def mills_half(u):
    return 0.5 * erfcx(u / np.sqrt(2.0))


def fit(u, y, rounds=100):
    """Coefficients (P, Q), lowest first, of the fit of ``y`` at ``u``; its largest relative
    error."""
    powers_p = u[:, None] ** np.arange(1, NUM_DEGREE + 1)
    powers_q = u[:, None] ** np.arange(1, DEN_DEGREE + 1)
    weights = np.ones_like(u)
    den = np.ones_like(u)
    best = None
    for step in range(rounds):
        # P - y Q = 0, divided by y Q (the last round's Q): the relative error, to first order
        scale = np.sqrt(weights) / (y * np.abs(den))
        system = np.hstack([powers_p, -y[:, None] * powers_q]) * scale[:, None]
        sol = np.linalg.lstsq(system, (y - 0.5) * scale, rcond=None)[0]
        p = np.concatenate([[0.5], sol[:NUM_DEGREE]])
        q = np.concatenate([[1.0], sol[NUM_DEGREE:]])
        den = np.polyval(q[::-1], u)
        rel = np.polyval(p[::-1], u) / den / y - 1.0
        if best is None or np.abs(rel).max() < best[2]:
            best = (p, q, np.abs(rel).max())
        if step > 5:                # Lawson: more weight where the error is largest
            weights = weights * np.abs(rel) + 1e-300
            weights /= weights.sum()
    return best


def main():
    u = np.linspace(0.0, CAP, 60001)
    p, q, _ = fit(u, mills_half(u))
    fine = np.linspace(0.0, CAP, 1800001)
    error = np.abs(np.polyval(p[::-1], fine) / np.polyval(q[::-1], fine) / mills_half(fine) - 1)
    print("P =", tuple(float(c) for c in p))
    print("Q =", tuple(float(c) for c in q))
    print(f"largest relative error on [0, {CAP}]: {error.max():.3g}")


if __name__ == "__main__":
    main()
