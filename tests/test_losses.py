"""Losses: finite differences (generic rule and fused kernels), fused == generic, PyTorch
values, stability for huge logits, second order, and clear errors for bad labels."""
import numpy as np
import pytest

import xpgrad as xg
from xpgrad import losses as L

NUMPY = xg.get_backend("numpy")
# the fused/generic comparisons switch the NumPy backend's kernels: they run on numpy even where
# $XPGRAD_BACKEND names another default
pytestmark = pytest.mark.usefixtures("numpy_default")
LOSS_NAMES = ["softmax_cross_entropy", "sigmoid_cross_entropy_with_logits", "mse", "sigmoid_mse"]
REDUCTIONS = ["mean", "sum", "none"]


@pytest.fixture(params=["fused", "generic"])
def kernels(request, monkeypatch):
    """Run a test with the NumPy backend's fused kernels on, and again with them off."""
    if request.param == "generic":
        monkeypatch.setattr(NUMPY, "kernels", {})
    return request.param


def _targets(name, rng, shape, dtype=np.float64):
    if name == "softmax_cross_entropy":
        return xg.asarray(rng.integers(0, shape[-1], shape[:-1]))
    return xg.asarray(rng.random(shape).astype(dtype))


def _fn(name, reduction):
    f = getattr(L, name)
    return lambda x, t: f(x, t, reduction=reduction)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name", LOSS_NAMES)
def test_gradients_match_finite_differences(name, reduction, kernels, rng):
    x = xg.asarray(rng.standard_normal((4, 3)) * 2)
    t = xg.asarray(rng.random((4, 3)))
    xg.testing.check_grads(_fn(name, reduction), [x, t])       # float targets: both grads
    if name == "softmax_cross_entropy":
        labels = xg.asarray(rng.integers(0, 3, 4))
        xg.testing.check_grads(lambda x: L.softmax_cross_entropy(x, labels,
                                                                 reduction=reduction), [x])


@pytest.mark.parametrize("name", LOSS_NAMES)
def test_second_order_through_a_loss(name, kernels, rng):
    x = xg.asarray(rng.standard_normal((3, 4)))
    t = _targets(name, rng, (3, 4))
    xg.testing.check_grads(lambda x: _fn(name, "mean")(x, t), [x], order=2)


def test_softmax_cross_entropy_hessian_is_diag_p_minus_ppT(rng):
    """With kernels on: the inner first-order pass must use the generic rule under an outer
    tape, so the Hessian comes out right (1 row: H = diag(p) - p p^T)."""
    x = xg.asarray(rng.standard_normal((1, 4)))
    labels = xg.asarray([2])
    with xg.GradientTape() as outer:
        outer.watch(x)
        with xg.GradientTape() as inner:
            inner.watch(x)
            loss = L.softmax_cross_entropy(x, labels)
        g = inner.gradient(loss, x)
    hess = outer.jacobian(g, x).numpy().reshape(4, 4)
    p = np.exp(x.numpy()[0] - x.numpy()[0].max())
    p /= p.sum()
    np.testing.assert_allclose(hess, np.diag(p) - np.outer(p, p), atol=1e-12)


def _value_and_grads(name, x, t, reduction, weights):
    x = xg.asarray(x)
    t = xg.asarray(t)
    with xg.GradientTape() as tape:
        tape.watch([x] + ([t] if t.dtype.is_floating else []))
        y = getattr(L, name)(x, t, reduction=reduction)
        s = xg.sum(y * xg.asarray(weights[:y.size].reshape(y.shape).astype(y.dtype.name)))
    gs = tape.gradient(s, [x] + ([t] if t.dtype.is_floating else []))
    return [y.numpy()] + [g.numpy() for g in gs]


CASES = {
    "random": lambda rng, n, c: rng.standard_normal((n, c)) * 3,
    "huge": lambda rng, n, c: rng.choice([-1e4, 1e4], (n, c)) + rng.standard_normal((n, c)),
    "one class": lambda rng, n, c: rng.standard_normal((n, 1)),
    "one row": lambda rng, n, c: rng.standard_normal((1, c)),
}


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("name", LOSS_NAMES + ["softmax_cross_entropy/probs"])
def test_fused_kernel_agrees_with_generic_rule(name, case, reduction, rng, monkeypatch):
    x = CASES[case](rng, 8, 5).astype(np.float32)
    if name == "softmax_cross_entropy/probs":
        name = "softmax_cross_entropy"
        t = rng.random(x.shape).astype(np.float32)
    elif name == "softmax_cross_entropy":
        t = rng.integers(0, x.shape[1], x.shape[0])
    else:
        t = rng.random(x.shape).astype(np.float32)
    if name == "mse":
        x = x / 100   # keep squares of 1e4 from dominating float32 sums
    w = rng.uniform(0.5, 1.5, x.size)
    calls = []
    kern = NUMPY.kernels[name]
    monkeypatch.setitem(NUMPY.kernels, name, xg.Kernel(
        lambda *a, **k: calls.append(1) or kern.forward(*a, **k), kern.vjp))
    fused = _value_and_grads(name, x, t, reduction, w)
    assert calls, "the fused kernel was not used"
    monkeypatch.setattr(NUMPY, "kernels", {})
    generic = _value_and_grads(name, x, t, reduction, w)
    for f, g in zip(fused, generic):
        assert f.dtype == g.dtype == np.float32
        assert np.all(np.isfinite(f))
        np.testing.assert_allclose(f, g, rtol=4e-6, atol=1e-6 * max(1.0, np.abs(g).max()))


@pytest.mark.parametrize("name", ["sigmoid", "tanh", "relu", "leaky_relu"])
def test_activation_kernels_agree_with_generic_rule(name, rng, monkeypatch):
    x = np.concatenate([rng.standard_normal(200) * 5, [0.0, -100.0, 100.0, -1e4, 1e4]])
    x = x.astype(np.float32)
    fn = getattr(xg.nn, name)

    def run():
        t = xg.asarray(x)
        with xg.GradientTape() as tape:
            tape.watch(t)
            y = fn(t)
            s = xg.sum(y * xg.asarray(np.linspace(-1, 1, x.size).astype(np.float32)))
        return y.numpy(), tape.gradient(s, t).numpy()

    fused = run()
    monkeypatch.setattr(NUMPY, "kernels", {})
    generic = run()
    for f, g in zip(fused, generic):
        np.testing.assert_allclose(f, g, rtol=3e-7, atol=1e-37)


def test_softmax_cross_entropy_matches_torch(rng):
    torch = pytest.importorskip("torch", reason="PyTorch not installed")
    x = rng.standard_normal((6, 4)) * 3
    y = rng.integers(0, 4, 6)
    p = rng.dirichlet(np.ones(4), 6)
    for reduction in REDUCTIONS:
        ours = L.softmax_cross_entropy(xg.asarray(x), xg.asarray(y), reduction=reduction)
        ref = torch.nn.functional.cross_entropy(torch.tensor(x), torch.tensor(y),
                                                reduction=reduction)
        np.testing.assert_allclose(ours.numpy(), ref.numpy(), rtol=1e-12)
        ours = L.softmax_cross_entropy(xg.asarray(x), xg.asarray(p), reduction=reduction)
        ref = torch.nn.functional.cross_entropy(torch.tensor(x), torch.tensor(p),
                                                reduction=reduction)
        np.testing.assert_allclose(ours.numpy(), ref.numpy(), rtol=1e-12)


def test_elementwise_losses_match_torch(rng):
    torch = pytest.importorskip("torch", reason="PyTorch not installed")
    F = torch.nn.functional
    x = rng.standard_normal((5, 3)) * 4
    t = rng.random((5, 3))
    tx, tt = torch.tensor(x), torch.tensor(t)
    for reduction in REDUCTIONS:
        pairs = [
            (L.sigmoid_cross_entropy_with_logits, F.binary_cross_entropy_with_logits(
                tx, tt, reduction=reduction)),
            (L.mse, F.mse_loss(tx, tt, reduction=reduction)),
            (L.sigmoid_mse, F.mse_loss(torch.sigmoid(tx), tt, reduction=reduction)),
        ]
        for ours, ref in pairs:
            got = ours(xg.asarray(x), xg.asarray(t), reduction=reduction).numpy()
            np.testing.assert_allclose(got, ref.numpy(), rtol=1e-12)


def test_huge_logits_are_stable(kernels):
    x = xg.asarray([[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4]])
    loss = L.softmax_cross_entropy(x, xg.asarray([1, 0]), reduction="none")
    # row 0: lse = 1e4, picked -1e4 -> 2e4; row 1: all equal -> log 3
    np.testing.assert_allclose(loss.numpy(), [2e4, np.log(3.0)], rtol=1e-6)
    b = L.sigmoid_cross_entropy_with_logits(xg.asarray([1e4, -1e4]), xg.asarray([0.0, 0.0]),
                                            reduction="none")
    np.testing.assert_allclose(b.numpy(), [1e4, 0.0])


def test_leading_axes_are_flattened_and_restored(rng):
    x = xg.asarray(rng.standard_normal((2, 3, 4)))
    y = xg.asarray(rng.integers(0, 4, (2, 3)))
    per = L.softmax_cross_entropy(x, y, reduction="none")
    assert per.shape == (2, 3)
    flat = L.softmax_cross_entropy(xg.reshape(x, (6, 4)), xg.reshape(y, (6,)), reduction="none")
    np.testing.assert_allclose(per.numpy().ravel(), flat.numpy())
    assert L.softmax_cross_entropy(x, y).shape == ()


def test_python_and_numpy_labels_are_accepted():
    x = xg.asarray([[0.0, 1.0], [1.0, 0.0]])
    a = L.softmax_cross_entropy(x, [1, 0]).item()
    b = L.softmax_cross_entropy(x, np.array([1, 0], dtype=np.int32)).item()
    c = L.softmax_cross_entropy(x, [[0.0, 1.0], [1.0, 0.0]]).item()
    assert a == pytest.approx(b) and a == pytest.approx(c)


@pytest.mark.parametrize("labels, error, message", [
    ([0, 3], IndexError, "label 3 is out of range for 3 classes"),
    ([-1, 0], IndexError, "label -1 is out of range"),
    ([0, 1, 2], ValueError, "integer labels must have shape (2,)"),
    (np.array([0.0, 1.0]), TypeError, "look like class indices"),
    (np.array([True, False]), TypeError, "integer class indices or floating-point"),
    (np.ones((2, 4)), ValueError, "probability targets has shape (2, 4)"),
])
def test_bad_labels_raise_clear_errors(labels, error, message):
    x = xg.asarray([[0.0, 1.0, 2.0], [2.0, 1.0, 0.0]])
    with pytest.raises(error, match=message.replace("(", r"\(").replace(")", r"\)")):
        L.softmax_cross_entropy(x, labels)


def test_other_bad_inputs_raise_clear_errors():
    x = xg.asarray([[0.0, 1.0]])
    with pytest.raises(ValueError, match="reduction must be one of"):
        L.softmax_cross_entropy(x, [0], reduction="avg")
    with pytest.raises(TypeError, match="logits must be a floating-point tensor"):
        L.softmax_cross_entropy(xg.asarray([[0, 1]]), [0])
    with pytest.raises(TypeError, match="has dtype float64 but logits has dtype float32"):
        L.softmax_cross_entropy(x, xg.asarray([[0.0, 1.0]], dtype="float64"))
    with pytest.raises(ValueError, match=r"target has shape \(2,\) but pred has shape \(1, 2\)"):
        L.mse(x, xg.asarray([1.0, 2.0]))
    with pytest.raises(TypeError, match="targets must be floating-point"):
        L.sigmoid_cross_entropy_with_logits(x, xg.asarray([[0, 1]]))


def test_unsigned_integer_labels_are_class_indices():
    """MNIST's labels are uint8: they index classes like int64 ones (were refused)."""
    import numpy as np

    for be in ("numpy", "numba"):
        try:
            xg.get_backend(be)
        except xg.BackendUnavailableError:
            continue
        x = xg.asarray([[1.0, 2.0, 3.0], [0.0, 5.0, 1.0]], backend=be)
        want = xg.losses.softmax_cross_entropy(x, xg.asarray([0, 2], backend=be)).item()
        for dt in (np.uint8, np.uint16, np.uint64):
            labels = xg.asarray(np.array([0, 2], dt), backend=be)
            assert xg.losses.softmax_cross_entropy(x, labels).item() == want
        with pytest.raises(IndexError, match="label 3 is out of range for 3 classes"):
            xg.losses.softmax_cross_entropy(x, xg.asarray(np.array([0, 3], np.uint8),
                                                          backend=be))


def test_non_numeric_inputs_name_the_argument():
    with pytest.raises(TypeError, match=r"sigmoid_mse: logits is a str \('ab'\), not an array"):
        xg.losses.sigmoid_mse("ab", xg.ones(2))
    with pytest.raises(TypeError, match="target must be a floating-point tensor like pred"):
        xg.losses.mse(xg.ones(2), ["a", "b"])
    with pytest.raises(TypeError, match="labels must be integer class indices"):
        xg.losses.softmax_cross_entropy(xg.ones((2, 3)), ["a", "b"])


@pytest.mark.parametrize("backend", ["numpy", "numba", "generic"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_cross_entropy_keeps_its_digits_near_a_target_of_one(backend, dtype,
                                                                     monkeypatch):
    """A confident logit against a smoothed target (t near 1): ``max(x, 0) - x t`` cancels
    there; each backend's loss is within a few ulps of the float64 value of the same inputs
    (it was 28% off in float32 on the numpy backend)."""
    if backend == "generic":
        monkeypatch.setattr(NUMPY, "kernels", {})
    x = np.array([100.0, 30.0, 11.681496, -20.0, 7.5, float("inf"), -float("inf")], dtype)
    t = np.array([1 - 2.0**-24, 0.999, 0.9999824, 1e-6, 0.5, 1.0, 0.0], dtype)
    got = xg.losses.sigmoid_cross_entropy_with_logits(
        xg.asarray(x, backend="numpy" if backend == "generic" else backend),
        xg.asarray(t, backend="numpy" if backend == "generic" else backend),
        reduction="none").numpy()
    x64, t64 = x.astype(np.float64), t.astype(np.float64)
    with np.errstate(invalid="ignore"):
        exact = np.where(x64 > 0, (1 - t64) * x64, -t64 * x64) + np.log1p(np.exp(-abs(x64)))
    exact[-2:] = 0.0                        # at +-inf against the winning side's target
    assert got.dtype == dtype
    np.testing.assert_allclose(got, exact, rtol=8 * np.finfo(dtype).eps, atol=0)
