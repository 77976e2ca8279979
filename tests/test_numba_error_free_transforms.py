"""The Numba scalar helpers' error-free transforms survive compilation into the kernels.

``_math``'s exponential reduces its argument Cody-Waite style (``k ln2hi`` exact, the magic-number
rounding ``(x log2e + MAGIC) - MAGIC``), and ``_gelu_math`` keeps the rounding of ``u**2``
(``lo = fma(u, u, -hi)``) and of ``E(t) - hi / 2`` (TwoSum). Each is right only while compiled
without ``reassoc``: the kernels' loops have it (``LOOP_FLAGS``); LLVM keeps each inlined
instruction's own flags, and the helpers reach the loops through ``@overload`` bodies compiled
with ``_math._JIT`` (no ``reassoc``: an ``inline="always"`` on a helper lands there). A helper
given ``fastmath=True`` or ``reassoc`` (or those bodies given it) would fold the compensation to
0 and lose up to hundreds of ulps with no other symptom. Here the inputs are chosen so that the
compensation term is large and known exactly (``fractions.Fraction``, ``math.fsum``); the
helpers and the kernels that call them must give the compensated result, the uncompensated one
being many ulps away.
"""
from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

from conftest import backend_report

pytest.importorskip("numba", reason="Numba is not installed")
if "numba" not in backend_report():
    pytest.skip("needs the numba backend", allow_module_level=True)

from xpgrad.backends.numba import _act_kernels as loops  # noqa: E402
from xpgrad.backends.numba import _gelu_math, _math  # noqa: E402

# the compensated value, recomputed here with other FMA contractions, is at most this many ulps
# off the helpers'; the uncompensated one is at least MISSED_ULPS off on every input kept
ROUNDING_ULPS = {np.float32: 3, np.float64: 8}
MISSED_ULPS = {np.float32: 20, np.float64: 40}


def _ulps(got, want, dtype):
    want = np.asarray(want, dtype=np.float64)
    spacing = np.spacing(np.abs(want).astype(dtype)).astype(np.float64)
    return np.abs(np.asarray(got, dtype=np.float64) - want) / spacing


def _exact_square_error(u):
    """``u*u - fl(u*u)`` exactly (float64 ``u``; float32 ``u`` squared in float32)."""
    hi = u * u
    return float(Fraction(float(u)) ** 2 - Fraction(float(hi))), hi


def _tail64_inputs():
    """float64 ``u`` in [20, 37] where the TwoSum term of ``_lower_tail64`` is large, with the
    compensated and the plain value of ``Phi(-u)`` from the helper's own formula."""
    kept = []
    for u in np.linspace(20.0, 37.0, 4001):
        u = float(u)
        z = math.sqrt(0.5) * u
        t = 2.0 / (2.0 + z)
        lo, hi = _exact_square_error(u)
        a, b = -0.5 * hi, float(_math._erfc_exponent64(t))
        s = a + b
        err = float(Fraction(a) + Fraction(b) - Fraction(s))
        assert err == math.fsum([a, b, -s])
        e = float(_math._exp_neg64(s))
        good = (0.5 * t) * (e * (1.0 + (err - 0.5 * lo)))
        plain = (0.5 * t) * (e * (1.0 - 0.5 * lo))
        if _ulps(plain, good, np.float64) >= MISSED_ULPS[np.float64]:
            kept.append((u, good))
    return np.array(kept)


def test_twosum_of_the_float64_gelu_tail_is_kept():
    cases = _tail64_inputs()
    assert len(cases) > 100, "too few inputs with a large compensation term"
    u, want = cases[:, 0], cases[:, 1]
    helper = np.array([_gelu_math._lower_tail64(v)[0] for v in u])
    assert _ulps(helper, want, np.float64).max() <= ROUNDING_ULPS[np.float64]
    x = -u
    out, lower, slope = np.empty_like(x), np.empty_like(x), np.empty_like(x)
    loops.gelu_fwd(x, out)
    loops.gelu_fwd_slope(x, lower, slope)
    assert _ulps(out, x * want, np.float64).max() <= ROUNDING_ULPS[np.float64]
    assert _ulps(lower, x * want, np.float64).max() <= ROUNDING_ULPS[np.float64]


def _square_inputs32():
    """float32 ``u`` in [8, 14] whose square's rounding, left out of ``exp(-u**2 / 2)``, moves
    it by at least MISSED_ULPS."""
    u = np.linspace(8.0, 14.0, 20001).astype(np.float32)
    lo = np.array([_exact_square_error(v)[0] for v in u])
    want = np.exp(-0.5 * u.astype(np.float64) ** 2)
    plain = np.exp(-0.5 * (u * u).astype(np.float64))
    keep = (_ulps(plain, want, np.float32) >= MISSED_ULPS[np.float32]) & (lo != 0)
    return u[keep], want[keep]


def test_exact_square_of_the_float32_gelu_tail_is_kept():
    u, want = _square_inputs32()
    assert len(u) > 1000, "too few inputs with a large compensation term"
    got = np.array([_gelu_math.times_exp_neg_square32(np.float32(1), v, np.float32(0.5))
                    for v in u])
    assert _ulps(got, want, np.float32).max() <= ROUNDING_ULPS[np.float32]
    x = -u
    ratio = np.array([_gelu_math._tail_ratio(float(v)) for v in u])
    out = np.empty_like(x)
    loops.gelu_fwd(x, out)
    want_out = x.astype(np.float64) * ratio * want
    assert _ulps(out, want_out, np.float32).max() <= ROUNDING_ULPS[np.float32]


# exp_neg's own bound (its docstring: NumPy's to 2 ulps; 1 measured on these inputs)
EXP_ULPS = 2


@pytest.mark.parametrize("dtype,low", [(np.float32, -87.0), (np.float64, -700.0)],
                         ids=["float32", "float64"])
def test_cody_waite_reduction_of_exp_is_kept(dtype, low):
    """``x - k ln2`` as ``(x - k ln2hi) - k ln2lo`` (``k ln2hi`` exact). Reduced in one step,
    even with the product exact (an FMA), the argument would be off by ``k (ln2 - fl(ln2))``:
    up to 4 ulps of the result in float32 and 200 in float64 on these inputs."""
    consts = _math._E32 if dtype == np.float32 else _math._E64
    log2e, ln2hi = float(consts[0]), float(consts[1])
    x = np.linspace(low, 0.8 * low, 5001).astype(dtype)
    k = np.rint(x.astype(np.float64) * log2e).astype(int)
    assert all(float(dtype(ki) * dtype(ln2hi)) == Fraction(int(ki)) * Fraction(ln2hi) for ki in k)
    want = np.array([math.exp(float(v)) for v in x])
    ln2 = Fraction(float(dtype(math.log(2.0))))
    one_step = np.array([float(dtype(float(Fraction(float(v)) - int(ki) * ln2)))
                         for v, ki in zip(x, k)])
    assert _ulps(np.exp(one_step) * 2.0 ** k, want, dtype).max() >= 1.5 * EXP_ULPS
    helper = _math._exp_neg32 if dtype == np.float32 else _math._exp_neg64
    assert _ulps([helper(v) for v in x], want, dtype).max() <= EXP_ULPS
    out = np.empty_like(x)
    loops.sigmoid_fwd(x, out)            # e / (1 + e) with e = exp(x) < 1e-37: e itself
    assert _ulps(out, want, dtype).max() <= EXP_ULPS
