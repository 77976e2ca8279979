"""The fused paths of huber / smooth_l1 (the ``huber`` kernels), of label smoothing on integer
labels (the ``smoothed_softmax_cross_entropy`` primitive and kernels) and of ``nll`` without
weights or ignored rows (the ``nll_all_kept`` primitive): values and gradients against PyTorch,
float32 and float64, every reduction, on the numpy and numba backends; the numba backend
against the numpy one; float64 finite differences (second order through the generic rules);
the general paths they leave to; bad input.
"""
from __future__ import annotations

import numpy as np
import pytest

import xpgrad as xg
from xpgrad.testing import check_grads

torch = pytest.importorskip("torch")
F = torch.nn.functional

BACKENDS = ["numpy", "numba"]
DTYPES = [np.float32, np.float64]
REDUCTIONS = ["mean", "sum", "none"]
TOL = {np.float32: dict(rtol=2e-5, atol=2e-6), np.float64: dict(rtol=1e-12, atol=1e-13)}


def _backend(name):
    try:
        xg.get_backend(name)
    except xg.BackendUnavailableError as e:
        pytest.skip(str(e))
    return name


def _ours(fn, x, *rest, backend, weights):
    """``fn(x, *rest)`` and the gradient of ``sum(fn(...) * weights)`` w.r.t. ``x``."""
    X = xg.asarray(x, backend=backend)
    others = [xg.asarray(r, backend=backend) for r in rest]
    with xg.GradientTape() as tape:
        tape.watch(X)
        y = fn(X, *others)
        total = xg.sum(y * xg.asarray(weights, backend=backend))
    return y.numpy(), tape.gradient(total, X).numpy()


def _theirs(fn, x, *rest, weights):
    X = torch.tensor(x, requires_grad=True)
    y = fn(X, *[torch.tensor(r) for r in rest])
    (y * torch.tensor(weights)).sum().backward()
    return y.detach().numpy(), X.grad.numpy()


def _compare(ours, theirs, x, rest, backend, dt):
    shape = tuple(theirs(torch.tensor(x), *[torch.tensor(r) for r in rest]).shape)
    weights = np.random.default_rng(1).uniform(0.5, 2.0, shape).astype(dt)
    got = _ours(ours, x, *rest, backend=backend, weights=weights)
    want = _theirs(theirs, x, *rest, weights=weights)
    for a, b, what in zip(got, want, ("value", "gradient")):
        assert a.dtype == dt, what
        np.testing.assert_allclose(a, b, err_msg=what, **TOL[dt])
    return got


# -- huber and smooth_l1 -------------------------------------------------------------------------
HUBER_CASES = [("huber", 1.0), ("huber", 0.3), ("huber", 2.5), ("smooth_l1", 1.0),
               ("smooth_l1", 0.4), ("smooth_l1", 3.0)]


def _huber_pair(name, k, reduction):
    if name == "huber":
        return (lambda a, b: xg.losses.huber(a, b, delta=k, reduction=reduction),
                lambda a, b: F.huber_loss(a, b, delta=k, reduction=reduction))
    return (lambda a, b: xg.losses.smooth_l1(a, b, beta=k, reduction=reduction),
            lambda a, b: F.smooth_l1_loss(a, b, beta=k, reduction=reduction))


@pytest.mark.parametrize("dt", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name,k", HUBER_CASES)
@pytest.mark.parametrize("backend", BACKENDS)
def test_huber_and_smooth_l1_match_torch(backend, name, k, reduction, dt, rng):
    _backend(backend)
    x = (rng.standard_normal((37, 11)) * 2).astype(dt)
    t = rng.standard_normal((37, 11)).astype(dt)
    x[0, :3] = t[0, :3] + np.array([k, -k, 0.0], dt)      # at the branch point and at 0
    ours, theirs = _huber_pair(name, k, reduction)
    _compare(ours, theirs, x, [t], backend, dt)


@pytest.mark.parametrize("dt", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_huber_numba_equals_numpy_large_and_threaded(reduction, dt, rng, monkeypatch):
    """Big enough for the chunked sums; the numba threaded loops too (thresholds lowered)."""
    _backend("numba")
    from xpgrad.backends.numba import _config

    x = (rng.standard_normal((300, 70)) * 3).astype(dt)
    t = rng.standard_normal((300, 70)).astype(dt)
    w = rng.random(x.shape if reduction == "none" else ()).astype(dt)
    fn = _huber_pair("huber", 0.8, reduction)[0]
    want = _ours(fn, x, t, backend="numpy", weights=w)
    for par_min in (1 << 62, 64):
        monkeypatch.setattr(_config, "PAR_MIN", par_min)
        got = _ours(fn, x, t, backend="numba", weights=w)
        for a, b in zip(got, want):
            np.testing.assert_allclose(a, b, **TOL[dt])


@pytest.mark.parametrize("backend", BACKENDS)
def test_huber_propagates_nan_and_inf_as_torch(backend):
    _backend(backend)
    x = np.array([np.nan, np.inf, -np.inf, 0.5, 4.0])
    t = np.zeros(5)
    ours, theirs = _huber_pair("huber", 1.0, "none")
    got = _ours(ours, x, t, backend=backend, weights=np.ones(5))
    want = _theirs(theirs, x, t, weights=np.ones(5))
    for a, b in zip(got, want):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", ["huber", "smooth_l1"])
def test_huber_finite_differences_second_order(name, rng):
    x, t = rng.standard_normal((4, 5)) * 2, rng.standard_normal((4, 5))
    fn = _huber_pair(name, 0.7, "mean")[0]
    check_grads(fn, [xg.asarray(x), xg.asarray(t)], order=2)


def test_huber_bad_arguments():
    x = xg.asarray([1.0, 2.0])
    with pytest.raises(ValueError, match="delta"):
        xg.losses.huber(x, x, delta=0.0)
    with pytest.raises(ValueError, match="beta"):
        xg.losses.smooth_l1(x, x, beta=-1.0)
    with pytest.raises(ValueError, match="target has shape"):
        xg.losses.huber(x, xg.asarray([1.0]))


# -- label smoothing -----------------------------------------------------------------------------
def _ce_pair(reduction, smoothing, ignore_index):
    torch_ignore = -100 if ignore_index is None else ignore_index
    return (lambda a, b: xg.losses.softmax_cross_entropy(
                a, b, reduction=reduction, label_smoothing=smoothing, ignore_index=ignore_index),
            lambda a, b: F.cross_entropy(a, b, reduction=reduction, label_smoothing=smoothing,
                                         ignore_index=torch_ignore))


SMOOTHING_CASES = [(0.1, None, 0), (0.25, -100, 3), (0.1, 2, 0), (1.0, -100, 1),
                   (0.05, -100, 8)]


@pytest.mark.parametrize("dt", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("smoothing,ignore_index,n_ignored", SMOOTHING_CASES)
@pytest.mark.parametrize("backend", BACKENDS)
def test_label_smoothing_matches_torch(backend, smoothing, ignore_index, n_ignored, reduction,
                                       dt, rng):
    """Rows labelled ignore_index (-100, or a class: 2) cost nothing; "mean" divides by the
    rows kept; all 8 rows ignored: NaN with a zero gradient (PyTorch's)."""
    _backend(backend)
    x = (rng.standard_normal((8, 13)) * 3).astype(dt)
    x[1] += 1e3                                            # a row of large logits
    labels = rng.integers(0, 13, 8)
    if ignore_index is not None:
        labels[:n_ignored] = ignore_index
    ours, theirs = _ce_pair(reduction, smoothing, ignore_index)
    if n_ignored == 8 and reduction == "mean":
        val, grad = _ours(ours, x, labels, backend=backend, weights=np.ones((), dt))
        tval, tgrad = _theirs(theirs, x, labels, weights=np.ones((), dt))
        assert np.isnan(val) and np.isnan(tval)
        np.testing.assert_array_equal(grad, np.zeros_like(x))
        np.testing.assert_array_equal(tgrad, grad)
        return
    _compare(ours, theirs, x, [labels], backend, dt)


@pytest.mark.parametrize("backend", BACKENDS)
def test_label_smoothing_leading_axes_and_int32_labels(backend, rng):
    _backend(backend)
    x = rng.standard_normal((3, 4, 6))
    labels = rng.integers(0, 6, (3, 4)).astype(np.int32)
    labels[0, 0] = -100
    ours = lambda a, b: xg.losses.softmax_cross_entropy(a, b, reduction="none",
                                                        label_smoothing=0.2, ignore_index=-100)
    got = _ours(ours, x, labels, backend=backend, weights=np.ones((3, 4)))
    # PyTorch's class axis is 1
    X = torch.tensor(x, requires_grad=True)
    y = F.cross_entropy(X.permute(0, 2, 1), torch.tensor(labels).long(), reduction="none",
                        label_smoothing=0.2)
    y.sum().backward()
    np.testing.assert_allclose(got[0], y.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(got[1], X.grad.numpy(), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("dt", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_label_smoothing_numba_equals_numpy_threaded(reduction, dt, rng, monkeypatch):
    _backend("numba")
    from xpgrad.backends.numba import _config

    x = (rng.standard_normal((200, 37)) * 3).astype(dt)
    labels = rng.integers(0, 37, 200)
    labels[::7] = -100
    w = rng.random(200 if reduction == "none" else ()).astype(dt)
    fn = _ce_pair(reduction, 0.15, -100)[0]
    want = _ours(fn, x, labels, backend="numpy", weights=w)
    for row_par_min in (1 << 62, 64):
        monkeypatch.setattr(_config, "ROW_PAR_MIN", row_par_min)
        got = _ours(fn, x, labels, backend="numba", weights=w)
        for a, b in zip(got, want):
            np.testing.assert_allclose(a, b, **TOL[dt])


def test_label_smoothing_with_weight_keeps_the_general_path(rng):
    """Class weights take the composed path (log_softmax + nll + the smoothing term): still
    PyTorch's values, and the fused primitive is not recorded."""
    x = rng.standard_normal((6, 5))
    labels = np.array([0, 4, -100, 2, 2, 1])
    w = rng.uniform(0.5, 2.0, 5)
    X = xg.asarray(x)
    with xg.GradientTape() as tape:
        tape.watch(X)
        y = xg.losses.softmax_cross_entropy(X, xg.asarray(labels), weight=w,
                                            label_smoothing=0.2, ignore_index=-100)
    grad = tape.gradient(y, X).numpy()
    T = torch.tensor(x, requires_grad=True)
    ty = F.cross_entropy(T, torch.tensor(labels), weight=torch.tensor(w), label_smoothing=0.2)
    ty.backward()
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(grad, T.grad.numpy(), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_label_smoothing_finite_differences_second_order(reduction, rng):
    x = rng.standard_normal((5, 4))
    labels = xg.asarray([0, 3, -100, 1, 3])
    fn = lambda a: xg.losses.softmax_cross_entropy(a, labels, reduction=reduction,
                                                   label_smoothing=0.3, ignore_index=-100)
    check_grads(fn, [xg.asarray(x)], order=2)


def test_label_smoothing_bad_arguments():
    x = xg.asarray(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="label_smoothing must be a number in"):
        xg.losses.softmax_cross_entropy(x, xg.asarray([0, 1]), label_smoothing=1.5)
    with pytest.raises(IndexError, match="label 3 is out of range for 3 classes"):
        xg.losses.softmax_cross_entropy(x, xg.asarray([0, 3]), label_smoothing=0.1)
    with pytest.raises(IndexError, match=r"label 5 is out of range .* or ignore_index -100"):
        xg.losses.softmax_cross_entropy(x, xg.asarray([-100, 5]), label_smoothing=0.1,
                                        ignore_index=-100)
    with pytest.raises(ValueError, match="integer labels must have shape"):
        xg.losses.softmax_cross_entropy(x, xg.asarray([0, 1, 2]), label_smoothing=0.1,
                                        ignore_index=-100)


# -- nll -----------------------------------------------------------------------------------------
NLL_CASES = [(None, -100, 0), (None, -100, 2), (None, 3, 0), ("w", -100, 0), ("w", 1, 2)]


@pytest.mark.parametrize("dt", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weight,ignore_index,n_ignored", NLL_CASES)
@pytest.mark.parametrize("backend", BACKENDS)
def test_nll_matches_torch(backend, weight, ignore_index, n_ignored, reduction, dt, rng):
    """Without weights or ignored rows (the fast primitive) and with (the general one)."""
    _backend(backend)
    x = rng.standard_normal((9, 7))
    lp = (x - np.log(np.exp(x).sum(1, keepdims=True))).astype(dt)
    labels = rng.integers(0, 7, 9)
    labels[:n_ignored] = ignore_index
    w = None if weight is None else rng.uniform(0.5, 2.0, 7).astype(dt)
    ours = lambda a, b: xg.losses.nll(a, b, weight=w, ignore_index=ignore_index,
                                      reduction=reduction)
    theirs = lambda a, b: F.nll_loss(a, b, weight=None if w is None else torch.tensor(w),
                                     ignore_index=ignore_index, reduction=reduction)
    _compare(ours, theirs, lp, [labels], backend, dt)


def test_nll_fast_path_is_the_kept_primitive(rng, monkeypatch):
    """Which primitive runs: ``nll_all_kept`` exactly when no weight and no row ignored."""
    from xpgrad import primitive
    from xpgrad.ops import probability_losses

    seen = []
    apply = primitive.apply
    monkeypatch.setattr(probability_losses, "apply",
                        lambda prim, *a, **k: seen.append(prim.name) or apply(prim, *a, **k))
    lp = xg.asarray(rng.standard_normal((4, 3)))
    xg.losses.nll(lp, xg.asarray([0, 2, 1, 1]))
    xg.losses.nll(lp, xg.asarray([0, 2, 1, 1]), ignore_index=1)       # a class: rows ignored
    xg.losses.nll(lp, xg.asarray([0, 2, 1, 1]), ignore_index=5)       # matches no row
    xg.losses.nll(lp, xg.asarray([0, 2, -100, 1]))
    xg.losses.nll(lp, xg.asarray([0, 2, 1, 1]), weight=[1.0, 2.0, 3.0])
    assert seen == ["nll_all_kept", "nll", "nll_all_kept", "nll", "nll"]


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_nll_fast_path_finite_differences_second_order(reduction, rng):
    labels = xg.asarray([0, 3, 2, 3])
    check_grads(lambda a: xg.losses.nll(a, labels, reduction=reduction),
                [xg.asarray(rng.standard_normal((4, 4)))], order=2)


def test_nll_empty_batch_and_bad_labels():
    lp = xg.asarray(np.zeros((0, 3)))
    with xg.GradientTape() as tape:
        tape.watch(lp)
        y = xg.losses.nll(lp, xg.asarray(np.zeros(0, np.int64)))
    assert np.isnan(y.item())                                  # 0 / 0, as PyTorch
    assert tape.gradient(y, lp).shape == (0, 3)
    with pytest.raises(IndexError, match="label 3 is out of range for 3 classes"):
        xg.losses.nll(xg.asarray(np.zeros((2, 3))), xg.asarray([0, 3]))
    with pytest.raises(IndexError, match="label -1 is out of range"):
        xg.losses.nll(xg.asarray(np.zeros((2, 3))), xg.asarray([0, -1]))
