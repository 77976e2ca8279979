"""``xg.special``'s functions and the ops added since the GPU check was last extended, on the
cupy backend (marked gpu: run by tools/gpu_check.sh where a GPU is lent) against the numpy
backend, in float64 and float32, values and gradients: dawsn, sici, fresnel, owens_t, hyp1f1,
spherical_bessel_j0, PyTorch's Chebyshev variants, ``logsumexp(b=)``, ``xg.interp``,
``expm1``; betaln, poch, boxcox and expm1's gradients at the extremes (float64), and
``bernoulli`` made on the device. array-api-strict stands in for cupy without a device
(tests/backend_under_test.py)."""
from __future__ import annotations

import numpy as np
import pytest

import xpgrad as xg

from backend_under_test import assert_close, backend  # noqa: F401 (backend: a fixture)

S = xg.special
RNG = np.random.default_rng(49)
NORMAL, POSITIVE = RNG.normal(size=(2, 3)), RNG.uniform(0.2, 2.0, size=(2, 3))

#: name -> (function of tensors, its arguments as NumPy arrays)
FUNCTIONS = {
    "dawsn": (lambda x: S.dawsn(x * 4.0), [NORMAL]),
    "sici": (lambda x: S.sici(x * 5.0), [POSITIVE]),
    "fresnel": (lambda x: S.fresnel(x * 2.0), [NORMAL]),
    "owens_t": (lambda h, a: S.owens_t(h, a * 2.0), [NORMAL, NORMAL[0]]),
    "hyp1f1": (lambda x: S.hyp1f1(1.5, 2.5, x * 2.0), [NORMAL]),
    "hyp2f1": (lambda x: S.hyp2f1(1.5, -0.5, 2.5, x * 0.4), [NORMAL]),
    "airy_ai": (lambda x: S.airy_ai(x * 6.0), [NORMAL]),
    "spherical_bessel_j0": (lambda x: S.spherical_bessel_j0(x * 3.0), [NORMAL]),
    "chebyshev_v_w": (lambda x: [S.chebyshev_polynomial_v(x, 5),
                                 S.chebyshev_polynomial_w(x, 4)], [NORMAL * 0.5]),
    "shifted_chebyshev": (lambda x: [f(x, 5) for f in (
        S.shifted_chebyshev_polynomial_t, S.shifted_chebyshev_polynomial_u,
        S.shifted_chebyshev_polynomial_v, S.shifted_chebyshev_polynomial_w)], [POSITIVE * 0.5]),
    "logsumexp_b": (lambda a, b: S.logsumexp(a, axis=1, b=b), [NORMAL, POSITIVE[0]]),
    "interp": (lambda q, k, v: xg.interp(q * q, xg.cumulative_sum(k * k + 0.3), v),
               [NORMAL, RNG.normal(size=5), RNG.normal(size=5)]),
    "expm1": (xg.expm1, [NORMAL * 3.0]),
}


def _values_and_gradients(fn, arrays, backend, dtype):
    """``fn``'s outputs and the gradient of their weighted sum in every argument, on tensors
    of ``dtype`` made on ``backend``, as NumPy arrays."""
    args = [xg.asarray(a, dtype=dtype, backend=backend) for a in arrays]
    with xg.GradientTape() as tape:
        tape.watch(args)
        out = fn(*args)
        outs = list(out) if isinstance(out, (list, tuple)) else [out]
        weights = [xg.asarray(np.linspace(0.5, 1.5, t.size).reshape(t.shape), dtype=dtype,
                              backend=backend) for t in outs]
        loss = sum(xg.sum(t * w) for t, w in zip(outs, weights))
    gradients = tape.gradient(loss, args)
    assert {t.backend.name for t in [*outs, *gradients]} == {backend}
    assert {str(t.dtype) for t in [*outs, *gradients]} == {dtype}
    return [t.numpy() for t in [*outs, *gradients]]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_function_and_its_gradients_match_numpy(name, dtype, backend):
    fn, arrays = FUNCTIONS[name]
    assert_close(_values_and_gradients(fn, arrays, backend, dtype),
                 _values_and_gradients(fn, arrays, "numpy", dtype), dtype, name)


#: name -> (function, its float64 point): gradients that were 0, NaN or inf before this
#: session's fixes (tests/test_special_extremes_two_args.py has mpmath's values)
EXTREMES = {
    "betaln_tiny_a": (S.betaln, (1e-20, 2.5)),
    "betaln_tiny_a_huge_b": (S.betaln, (1e-8, 1e20)),
    "poch_tiny_m": (S.poch, (30.0, 1e-20)),
    "poch_tiny_z_negative_m": (S.poch, (1e-20, -5.0)),
    "boxcox_tiny_x": (S.boxcox, (1e-300, 1.0)),
    "expm1_past_minus_37": (xg.expm1, (-40.0,)),
}


def _at_point(fn, point, backend):
    tensors = [xg.asarray(np.float64(p), dtype=xg.float64, backend=backend) for p in point]
    with np.errstate(all="ignore"):
        value = fn(*tensors)
        slopes = xg.grad(fn, argnums=tuple(range(len(tensors))))(*tensors)
    return [value.numpy(), *(s.numpy() for s in slopes)]


@pytest.mark.parametrize("name", sorted(EXTREMES))
def test_gradients_at_the_extremes_match_numpy_and_are_finite(name, backend):
    fn, point = EXTREMES[name]
    got, want = _at_point(fn, point, backend), _at_point(fn, point, "numpy")
    assert all(np.isfinite(v) and v != 0 for v in got[1:]), got
    assert_close(got, want, "float64", name)


def test_bernoulli_numbers_made_on_the_backend_match_numpys(backend):
    got = S.bernoulli(30, backend=backend)
    assert got.backend.name == backend and got.shape == (31,)
    assert_close([got.numpy()], [S.bernoulli(30, backend="numpy").numpy()], "float64",
                 "bernoulli")
