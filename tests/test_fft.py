"""xg.fft: values against NumPy, gradients against finite differences (first and second order,
real and complex inputs), against PyTorch's torch.fft, and on the array API's reference
implementation (array-api-strict) as a backend; the freq functions; clear errors."""
from __future__ import annotations

import numpy as np
import pytest

import xpgrad as xg
from xpgrad.testing import check_grads

F = xg.fft
NORMS = ("backward", "ortho", "forward")


def real(rng, *shape):
    return xg.asarray(rng.standard_normal(shape), dtype=xg.float64)


def cplx(rng, *shape):
    return xg.asarray(rng.standard_normal(shape) + 1j * rng.standard_normal(shape),
                      dtype=xg.complex128)


def square(y):
    return y * y


# -- every transform's settings: (name, input kind, shape, keyword arguments) --------------------
# "r": real float64 input, "c": complex128. The 1-D ones cover the default n, padding and
# trimming, odd and even lengths, every axis position and every norm; the n-D ones cover s with
# and without axes, axes out of order, and -1 in s.
ONE_D = [
    ((6,), {}),
    ((4, 5), {"n": 8, "axis": 0, "norm": "ortho"}),
    ((3, 7), {"n": 4, "axis": 1, "norm": "forward"}),
    ((2, 3, 5), {"n": 5, "axis": -2, "norm": "ortho"}),
    ((2, 5), {"n": 7, "norm": "backward"}),
]
N_D = [
    ((4, 5), {}),
    ((3, 4, 5), {"s": (6, 3), "axes": (2, 0), "norm": "ortho"}),
    ((3, 4, 5), {"s": (2,), "axes": (1,), "norm": "forward"}),
    ((2, 3, 4), {"s": (3, -1, 5), "axes": (0, 1, 2)}),
    ((3, 4), {"axes": (1, 0), "norm": "forward"}),
]
CASES = (
    [(f, "c", shape, kw) for f in ("fft", "ifft") for shape, kw in ONE_D]
    + [(f, "r", (3, 5), {"n": 6, "axis": 0, "norm": "ortho"}) for f in ("fft", "ifft")]
    + [("rfft", "r", shape, kw) for shape, kw in ONE_D]
    + [(f, "c", shape, kw) for f in ("irfft", "hfft") for shape, kw in ONE_D]
    + [(f, "r", (4,), {"n": 5}) for f in ("irfft", "hfft")]
    + [("ihfft", "r", shape, kw) for shape, kw in ONE_D]
    + [(f, "c", shape, kw) for f in ("fftn", "ifftn", "irfftn") for shape, kw in N_D]
    + [(f, "r", (3, 4), {"s": (5, 2), "axes": (0, 1)}) for f in ("fftn", "ifftn", "irfftn")]
    + [("rfftn", "r", shape, kw) for shape, kw in N_D]
    + [(f, k, (3, 5), kw) for f in ("fftshift", "ifftshift") for k in "rc"
       for kw in ({}, {"axes": 1}, {"axes": (1, 0)})]
)


def ids(cases):
    return [f"{f}-{k}-{'x'.join(map(str, s))}-" + ",".join(f"{a}={v}" for a, v in kw.items())
            for f, k, s, kw in cases]


def make(kind, shape, rng):
    return (real if kind == "r" else cplx)(rng, *shape)


def numpy_reference(name, a, kw):
    kw = dict(kw)
    if name.endswith("shift"):
        return getattr(np.fft, name)(a, **kw)
    if name == "irfftn" and "s" in kw and kw["s"][-1] == -1:    # -1: the default 2*(M-1)
        kw["s"] = kw["s"][:-1] + (2 * (a.shape[kw["axes"][-1]] - 1),)
    if "s" in kw:
        kw["s"] = tuple(a.shape[ax] if n == -1 else n for n, ax in zip(kw["s"], kw["axes"]))
    return getattr(np.fft, name)(a, **kw)


@pytest.mark.parametrize("name, kind, shape, kw", CASES, ids=ids(CASES))
def test_values_match_numpy(name, kind, shape, kw, rng):
    x = make(kind, shape, rng)
    got = getattr(F, name)(x, **kw)
    want = numpy_reference(name, x.numpy(), kw)
    assert got.shape == want.shape
    assert got.dtype == str(want.dtype)
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name, kind, shape, kw", CASES, ids=ids(CASES))
def test_gradient_matches_finite_differences(name, kind, shape, kw, rng):
    check_grads(lambda x: getattr(F, name)(x, **kw), [make(kind, shape, rng)])


# -- second order: each transform inside a nonlinear function (a linear map's vjp does not depend
# on its input), so the rules run again under an outer tape through the xpgrad namespace --------
SECOND = [
    ("fft", lambda x: F.fft(x * x, n=6, norm="ortho"), "r", (2, 5)),
    ("fft", lambda x: square(F.hfft(F.fft(x, n=4, axis=0), n=5)), "c", (3, 3)),
    ("ifft", lambda x: square(F.irfft(F.ifft(x, n=6, norm="forward"), n=4)), "c", (2, 5)),
    ("fftn", lambda x: F.fftn(x * x, s=(4, 2), axes=(1, 0)), "r", (3, 4)),
    ("ifftn", lambda x: square(F.irfftn(F.ifftn(x, s=(2, 4), axes=(1, 0), norm="forward"),
                                        s=(4, 3))), "c", (3, 3)),
    ("rfft", lambda x: F.rfft(x * x, n=7), "r", (6,)),
    ("rfftn", lambda x: F.rfftn(x * x, s=(4, 5), axes=(0, 1), norm="ortho"), "r", (3, 4)),
    ("irfft", lambda x: square(F.irfft(x, n=6, norm="forward")), "c", (5,)),
    ("irfftn", lambda x: square(F.irfftn(x, s=(3, 5))), "c", (2, 4)),
    ("hfft", lambda x: square(F.hfft(x, n=5, norm="ortho")), "c", (4,)),
    ("ihfft", lambda x: F.ihfft(x * x, n=5), "r", (6,)),
    ("fftshift", lambda x: F.fftshift(x * x, axes=(0,)), "r", (3, 5)),
    ("ifftshift", lambda x: square(F.irfft(F.ifftshift(x))), "c", (3, 5)),
]


@pytest.mark.parametrize("name, fn, kind, shape", SECOND,
                         ids=[f"{c[0]}-{c[2]}" for c in SECOND])
def test_second_order_matches_finite_differences(name, fn, kind, shape, rng):
    check_grads(fn, [make(kind, shape, rng)], order=2)


WEIGHTED = [
    ("fft", {"n": 6, "norm": "ortho"}, "c"), ("fft", {"axis": 0}, "r"),
    ("ifft", {"n": 3, "norm": "forward"}, "c"), ("fftn", {"s": (2, 5), "axes": (0, 1)}, "c"),
    ("ifftn", {}, "r"), ("rfft", {"n": 7}, "r"), ("rfftn", {"norm": "ortho"}, "r"),
    ("ihfft", {"n": 5, "norm": "forward"}, "r"), ("fftshift", {"axes": 1}, "c"),
]


@pytest.mark.parametrize("name, kw, kind", WEIGHTED, ids=[f"{c[0]}-{c[2]}" for c in WEIGHTED])
def test_real_loss_of_real_and_imaginary_parts(name, kw, kind, rng):
    """A real loss of a complex output through xg.real/xg.imag (the namespace's functions)."""
    x = make(kind, (3, 4), rng)
    shape = getattr(F, name)(x, **kw).shape
    a, b = (xg.asarray(rng.standard_normal(shape)) for _ in "ab")

    def loss(x):
        y = getattr(F, name)(x, **kw)
        return xg.sum(a * xg.real(y) ** 2 + b * xg.imag(y) ** 2)

    check_grads(loss, [x])


def test_every_transform_has_gradient_cases():
    differentiable = set(F.__all__) - {"fftfreq", "rfftfreq"}
    assert {c[0] for c in CASES} == differentiable
    assert {c[0] for c in SECOND} == differentiable


# -- against PyTorch ------------------------------------------------------------------------------
def torch_call(torch, name, t, kw):
    kw = dict(kw)
    if "axis" in kw:
        kw["dim"] = kw.pop("axis")
    if "axes" in kw:
        kw["dim"] = kw.pop("axes")
    if name.endswith("shift") and isinstance(kw.get("dim"), tuple):
        kw["dim"] = list(kw["dim"])
    return getattr(torch.fft, name)(t, **kw)


@pytest.mark.parametrize("name, kind, shape, kw", CASES, ids=ids(CASES))
def test_gradient_matches_torch(name, kind, shape, kw, rng):
    torch = pytest.importorskip("torch")
    x = make(kind, shape, rng)
    with xg.GradientTape() as tape:
        tape.watch(x)
        y = getattr(F, name)(x, **kw)
    weights = rng.standard_normal(y.shape)
    if y.dtype.is_complex:
        weights = weights + 1j * rng.standard_normal(y.shape)
    grad = tape.gradient(y, x, output_gradients=xg.asarray(weights, dtype=y.dtype))

    t = torch.tensor(x.numpy(), requires_grad=True)
    ty = torch_call(torch, name, t, kw)
    np.testing.assert_allclose(ty.detach().resolve_conj().numpy(), y.numpy(), rtol=1e-10, atol=1e-10)
    # the real loss sum(Re(conj(w) * y)) whose gradient w.r.t. y is w
    loss = torch.sum(torch.real(torch.conj(torch.tensor(weights)) * ty))
    loss.backward()
    assert grad.dtype == x.dtype
    np.testing.assert_allclose(grad.numpy(), t.grad.resolve_conj().numpy(), rtol=1e-10, atol=1e-10)


def test_float32_keeps_single_precision(rng):
    x = xg.asarray(rng.standard_normal((4, 6)), dtype=xg.float32)
    z = xg.asarray(rng.standard_normal((4, 6)), dtype=xg.complex64)
    assert F.fft(x).dtype == xg.complex64 and F.fftn(z).dtype == xg.complex64
    assert F.rfft(x).dtype == xg.complex64 and F.rfftn(x).dtype == xg.complex64
    assert F.ihfft(x).dtype == xg.complex64
    assert F.irfft(z).dtype == xg.float32 and F.irfftn(z).dtype == xg.float32
    assert F.hfft(z).dtype == xg.float32
    with xg.GradientTape() as tape:
        tape.watch([x, z])
        loss = xg.sum(F.irfft(F.fft(x) * 2.0)) + xg.sum(F.hfft(z, n=5))
    gx, gz = tape.gradient(loss, [x, z])
    assert gx.dtype == xg.float32 and gz.dtype == xg.complex64


def test_integer_input_takes_the_default_floating_dtype():
    y = F.fft(xg.asarray([1, 0, 0, 0]))
    assert y.dtype == xg.complex64 and y.tolist() == [1, 1, 1, 1]
    assert F.rfft(xg.asarray([1, 2, 3])).dtype == xg.complex64


def test_round_trips(rng):
    x = real(rng, 3, 5)
    for norm in NORMS:
        np.testing.assert_allclose(F.irfft(F.rfft(x, norm=norm), n=5, norm=norm).numpy(),
                                   x.numpy(), atol=1e-12)
        np.testing.assert_allclose(F.irfftn(F.rfftn(x, norm=norm), s=x.shape,
                                            norm=norm).numpy(), x.numpy(), atol=1e-12)
        np.testing.assert_allclose(F.hfft(F.ihfft(x, norm=norm), n=5, norm=norm).numpy(),
                                   x.numpy(), atol=1e-12)


# -- the strict array API as a backend: the rules use only the standard ---------------------------
def test_strict_backend_gives_the_same_values_and_gradients(clean_backends, rng):
    pytest.importorskip("array_api_strict")
    xg.register_backend("strict", xg.testing.StrictBackend)
    for name, fn, kind, shape in SECOND:
        a = make(kind, shape, rng).numpy()
        results = []
        for backend in ("numpy", "strict"):
            x = xg.asarray(a, backend=backend)

            def loss(x):
                y = fn(x)
                return xg.sum(y * y) if y.dtype.kind == "f" else xg.sum(F.irfft(y, n=3))

            first = xg.grad(loss)
            # a real loss: grad refuses a complex output, as JAX and PyTorch
            second = xg.grad(lambda x: xg.sum(xg.real(first(x) * xg.conj(first(x)))))(x)
            assert second.backend.name == backend
            results.append([fn(x).numpy(), first(x).numpy(), second.numpy()])
        for got, want in zip(results[1], results[0]):
            np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10, err_msg=name)


# -- fftfreq, rfftfreq -----------------------------------------------------------------------------
@pytest.mark.parametrize("n", [1, 2, 5, 8])
@pytest.mark.parametrize("d", [1.0, 0.25, 3])
def test_frequencies_match_numpy(n, d):
    for name in ("fftfreq", "rfftfreq"):
        got = getattr(F, name)(n, d=d, dtype=xg.float64)
        np.testing.assert_allclose(got.numpy(), getattr(np.fft, name)(n, d=d), rtol=1e-15)
        assert getattr(F, name)(n, d=d).dtype == xg.float32


def test_frequencies_take_device_and_backend(clean_backends):
    assert F.fftfreq(4, device=xg.Device("numpy")).device == xg.Device("numpy")
    assert F.rfftfreq(4, device="cpu").device == "cpu"
    pytest.importorskip("array_api_strict")
    xg.register_backend("strict", xg.testing.StrictBackend)
    assert F.fftfreq(3, backend="strict").backend.name == "strict"
    assert F.rfftfreq(3, device=xg.Device("strict"), dtype="float64").dtype == xg.float64


# -- bad input: clear errors before any work ---------------------------------------------------------
@pytest.mark.parametrize("call, error, match", [
    (lambda: F.fft(xg.ones(4), norm="unit"), ValueError, "norm must be"),
    (lambda: F.fft(xg.ones(4), n=0), ValueError, "n must be at least 1"),
    (lambda: F.fft(xg.ones(4), n=2.5), TypeError, "n must be an int"),
    (lambda: F.fft(xg.ones(4), n=True), TypeError, "n must be an int"),
    (lambda: F.fft(xg.ones(4), axis=1), ValueError, "out of range"),
    (lambda: F.fft(xg.asarray(1.0)), ValueError, "at least one dimension"),
    (lambda: F.fft(xg.ones((0,))), ValueError, "pass n"),
    (lambda: F.rfft(xg.ones(4, dtype=xg.complex64)), TypeError, "real floating-point"),
    (lambda: F.ihfft(xg.ones(4, dtype=xg.complex64)), TypeError, "real floating-point"),
    (lambda: F.irfft(xg.ones(1, dtype=xg.complex64)), ValueError, "pass n"),
    (lambda: F.fftn(xg.ones((2, 3)), s=(2, 3, 4), axes=(0, 1)), ValueError, "must match"),
    (lambda: F.fftn(xg.ones((2, 3)), s=(2, 3, 4)), ValueError, "only 2 dimensions"),
    (lambda: F.fftn(xg.ones((2, 3)), axes=(0, 0)), ValueError, "repeat"),
    (lambda: F.fftn(xg.ones((2, 3)), axes=()), ValueError, "at least one axis"),
    (lambda: F.fftn(xg.ones((2, 3)), axes=(0, 2)), ValueError, "out of range"),
    (lambda: F.rfftn(xg.ones((2, 3)), s=(2, 0), axes=(0, 1)), ValueError, "at least 1"),
    (lambda: F.fftn(xg.ones((2, 3)), s=3), TypeError, "sequence"),
    (lambda: F.fftshift(xg.ones((2, 3)), axes=(1, -1)), ValueError, "repeat"),
    (lambda: F.fftshift(xg.ones((2, 3)), axes=2), ValueError, "out of range"),
    (lambda: F.fftfreq(0), ValueError, "n must be at least 1"),
    (lambda: F.fftfreq(4, d=0.0), ValueError, "must not be 0"),
    (lambda: F.fftfreq(4, d="a"), TypeError, "real number"),
    (lambda: F.rfftfreq(4, dtype=xg.int64), TypeError, "real floating-point"),
    (lambda: F.rfftfreq(4, device="tpu"), ValueError, "no device"),
])
def test_bad_arguments_raise_clear_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_fft_defaults_follow_the_standard():
    x = xg.ones((3, 4), dtype=xg.complex64)
    assert F.fftn(x, s=(2,)).shape == (3, 2)           # s alone: the last len(s) axes
    assert F.irfftn(x).shape == (3, 6)                   # 2*(M-1) along the last axis
    assert F.irfftn(x, s=(-1, -1), axes=(0, 1)).shape == (3, 6)
    assert F.hfft(x, axis=0).shape == (4, 4)
    assert F.fft(x, norm=None).tolist() == F.fft(x).tolist()
