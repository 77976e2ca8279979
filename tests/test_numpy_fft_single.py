"""The NumPy backend's fft namespace (``backends/numpy/fft_namespace.py``): single-precision
transforms that NumPy leaves unscaled run scaled and are multiplied back. Against float64
transforms (float32 accuracy relative to the largest coefficient, dtypes and shapes as
array-api-compat's) for every transform, norm, odd and even lengths, ``s`` and ``axes``;
double precision and the scaled norms are array-api-compat's bit for bit; and ``xg.fft``'s
float32 values and gradients against PyTorch."""
from __future__ import annotations

import array_api_compat.numpy.fft as compat
import numpy as np
import pytest

import xpgrad as xg
from xpgrad.backends.numpy import fft_namespace as fast

R = np.random.default_rng(31)
NORMS = ["backward", "ortho", "forward"]


def _real(*shape):
    return R.standard_normal(shape).astype(np.float32)


def _complex(*shape):
    return (R.standard_normal(shape) + 1j * R.standard_normal(shape)).astype(np.complex64)


# (name, input, keywords): forward and inverse, real and complex, 1-D and n-D, s and axes
CASES = [("fft", _complex(6, 12), {}), ("fft", _real(5, 9), {"n": 7, "axis": 0}),
         ("ifft", _complex(6, 12), {}), ("ifft", _complex(4, 10), {"n": 13}),
         ("rfft", _real(6, 12), {}), ("rfft", _real(6, 11), {"n": 16, "axis": 1}),
         ("irfft", _complex(6, 7), {}), ("irfft", _complex(5, 7), {"n": 11}),
         ("fftn", _real(8, 6), {}), ("fftn", _complex(3, 6, 10), {"s": (5, 12), "axes": (1, 2)}),
         ("fftn", _complex(3, 6, 10), {"axes": (0, 2)}),
         ("ifftn", _complex(8, 6), {}),
         ("ifftn", _complex(3, 6, 10), {"s": (7, 4), "axes": (1, 0)}),
         ("rfftn", _real(8, 6), {}), ("rfftn", _real(3, 6, 10), {"s": (5, 9), "axes": (1, 2)}),
         ("irfftn", _complex(8, 4), {}), ("irfftn", _complex(3, 6, 5), {"s": (6, 9), "axes": (1, 2)}),
         ("irfftn", _complex(3, 6, 5), {"axes": (0, 2)})]


@pytest.mark.parametrize("name,x,kw", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
@pytest.mark.parametrize("norm", NORMS)
def test_single_precision_matches_a_double_transform(name, x, kw, norm):
    got = getattr(fast, name)(x, norm=norm, **kw)
    want = getattr(compat, name)(x, norm=norm, **kw)
    assert got.dtype == want.dtype and got.shape == want.shape
    double = np.asarray(getattr(np.fft, name)(x.astype(np.complex128 if x.dtype.kind == "c"
                                                      else np.float64), norm=norm, **kw))
    scale = np.abs(double).max()
    np.testing.assert_allclose(got, double, rtol=0, atol=2e-6 * scale)
    unit = norm == ("forward" if name.startswith(("ifft", "irfft")) else "backward")
    if not unit:                              # NumPy's single-precision path already
        assert np.array_equal(got, want)


@pytest.mark.parametrize("name,x,kw", CASES[:4] + CASES[8:11],
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES[:4] + CASES[8:11])])
def test_double_precision_is_numpys_bit_for_bit(name, x, kw):
    wide = x.astype(np.complex128 if x.dtype.kind == "c" else np.float64)
    for norm in NORMS:
        assert np.array_equal(getattr(fast, name)(wide, norm=norm, **kw),
                              getattr(compat, name)(wide, norm=norm, **kw))


def test_bad_arguments_are_numpys_errors():
    for call in (lambda m: m.fft(_complex(4), n=0), lambda m: m.fftn(_complex(2, 2), s=(2, 0), axes=(0, 1)),
                 lambda m: m.irfft(_complex(1))):
        with pytest.raises(ValueError) as ours:
            call(fast)
        with pytest.raises(ValueError) as numpys:
            call(compat)
        assert str(ours.value) == str(numpys.value)


def test_the_backend_namespace_serves_it():
    assert xg.get_backend("numpy").xp.fft.fftn is fast.fftn


@pytest.mark.parametrize("fn", ["fftn", "ifftn", "rfftn"])
def test_xg_fft_float32_values_and_gradients_match_torch(fn):
    torch = pytest.importorskip("torch")
    x = _real(12, 10)
    g = _complex(12, 10 if fn != "rfftn" else 6)
    xt = torch.tensor(x, requires_grad=True)
    yt = getattr(torch.fft, fn)(xt)
    (gt,) = torch.autograd.grad(yt, xt, grad_outputs=torch.tensor(g))
    xx = xg.asarray(x)
    with xg.GradientTape() as tape:
        tape.watch(xx)
        y = getattr(xg.fft, fn)(xx)
    gx = tape.gradient(y, xx, output_gradients=xg.asarray(g))
    assert y.dtype == xg.complex64 and gx.dtype == xg.float32
    np.testing.assert_allclose(y.numpy(), yt.detach().numpy(), rtol=1e-5, atol=2e-5)
    np.testing.assert_allclose(gx.numpy(), gt.numpy(), rtol=1e-5, atol=2e-5)
