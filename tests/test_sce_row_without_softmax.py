"""Softmax cross-entropy on a row without a softmax: every logit -inf, beside ordinary rows.

PyTorch 2.13 decides the answer: with probability targets (a zero row among them) the row's
loss and gradient are NaN; a class-index row left out by ``ignore_index`` costs 0 and its
gradient is NaN (0 times a NaN softmax), label smoothing or not. Every path agrees: the generic
rule, the NumPy kernels, each of the Numba loops (rows of 2-3 classes, register tiles, short
rows, long rows, threaded, the loss alone when no tape records), eager and under
``xg.function``. The other rows keep PyTorch's loss and gradient (and finite differences');
a row with one masked class (-inf, target 0) stays finite, xpgrad's documented rule.
"""
from __future__ import annotations

import numpy as np
import pytest

import xpgrad as xg

torch = pytest.importorskip("torch")
F = torch.nn.functional

NUMPY = xg.get_backend("numpy")
INF = float("inf")
#: classes reaching each Numba loop for float64 probabilities: gathered (<= 3), register tiles
#: (<= 8), short rows (<= 80), rows (more); 100 and 200 also take the loss-only loop untaped
CLASSES = (2, 3, 6, 30, 100, 200)


def _rows(c, rng):
    """Logits and probability targets: a row of -inf with zero targets, an ordinary row, a
    row with one masked class (logit -inf, target 0)."""
    x = rng.normal(size=(3, c)) * 2
    x[0] = -INF
    x[2, 0] = -INF
    t = np.zeros((3, c))
    t[1] = rng.dirichlet(np.ones(c))
    t[2, 1:] = rng.dirichlet(np.ones(c - 1))
    return x, t


def _torch(x, t, **options):
    """PyTorch's losses (reduction "none") and the gradient of their sum."""
    xt = torch.tensor(x, requires_grad=True)
    target = torch.tensor(t)
    if "weight" in options:
        options = dict(options, weight=torch.tensor(options["weight"]))
    loss = F.cross_entropy(xt, target, reduction="none", **options)
    loss.sum().backward()
    return loss.detach().numpy(), xt.grad.numpy()


def _reference(x, t):
    """PyTorch's answer for the -inf row and the ordinary row; for the masked-class row, the
    cross-entropy over its other classes (the masked class' gradient 0)."""
    loss, grad = _torch(x, t)
    rest_loss, rest_grad = _torch(x[2:, 1:], t[2:, 1:])
    loss[2] = rest_loss[0]
    grad[2] = np.concatenate([[0.0], rest_grad[0]])
    return loss, grad


def _taped(backend, x, t, **options):
    X = xg.asarray(x, backend=backend)
    with xg.GradientTape() as tape:
        tape.watch(X)
        loss = xg.losses.softmax_cross_entropy(X, xg.asarray(t, backend=backend),
                                               reduction="none", **options)
        total = xg.sum(loss)
    return loss.numpy(), tape.gradient(total, X).numpy()


def _traced(backend, x, t, **options):
    """The same under xg.function: the trace's answer and the replay's (they must agree)."""
    def step(X, T):
        with xg.GradientTape() as tape:
            tape.watch(X)
            loss = xg.losses.softmax_cross_entropy(X, T, reduction="none", **options)
            total = xg.sum(loss)
        return loss, tape.gradient(total, X)

    f = xg.function(step)
    X, T = xg.asarray(x, backend=backend), xg.asarray(t, backend=backend)
    first = [a.numpy() for a in f(X, T)]
    again = [a.numpy() for a in f(X, T)]
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    return first


def _paths(monkeypatch):
    """``{name: (logits, targets, **options) -> (losses, gradient)}`` over the ways a
    softmax cross-entropy is computed."""
    def generic(x, t, **options):
        with monkeypatch.context() as m:
            m.setattr(NUMPY, "kernels", {})
            return _taped("numpy", x, t, **options)

    def generic_traced(x, t, **options):
        with monkeypatch.context() as m:
            m.setattr(NUMPY, "kernels", {})
            return _traced("numpy", x, t, **options)

    paths = {"generic": generic, "generic, xg.function": generic_traced,
             "numpy": lambda x, t, **o: _taped("numpy", x, t, **o),
             "numpy, xg.function": lambda x, t, **o: _traced("numpy", x, t, **o)}
    try:
        xg.get_backend("numba")
    except xg.BackendUnavailableError:
        return paths
    from xpgrad.backends.numba import _config

    def threaded(x, t, **options):
        with monkeypatch.context() as m:
            m.setattr(_config, "ROW_PAR_MIN", 1)
            return _taped("numba", x, t, **options)

    paths.update({"numba": lambda x, t, **o: _taped("numba", x, t, **o),
                  "numba, threaded": threaded,
                  "numba, xg.function": lambda x, t, **o: _traced("numba", x, t, **o)})
    return paths


def _untaped(backend, x, t):
    return xg.losses.softmax_cross_entropy(xg.asarray(x, backend=backend),
                                           xg.asarray(t, backend=backend),
                                           reduction="none").numpy()


def _finite_differences(x, t, row, h=1e-6):
    """d loss[row] / d x[row] by central differences on the generic rule (float64)."""
    grad = np.zeros(x.shape[1])
    for j in range(x.shape[1]):
        hi, lo = x.copy(), x.copy()
        hi[row, j] += h
        lo[row, j] -= h
        with np.errstate(invalid="ignore"):
            grad[j] = (_untaped("numpy", hi, t)[row] - _untaped("numpy", lo, t)[row]) / (2 * h)
    return grad


def _assert_matches(got, want, what):
    loss, grad = got
    np.testing.assert_array_equal(np.isnan(loss), np.isnan(want[0]), err_msg=what)
    np.testing.assert_array_equal(np.isnan(grad), np.isnan(want[1]), err_msg=what)
    np.testing.assert_allclose(loss, want[0], rtol=1e-12, atol=1e-13, err_msg=what)
    np.testing.assert_allclose(grad, want[1], rtol=1e-12, atol=1e-13, err_msg=what)


@pytest.mark.parametrize("c", CLASSES)
def test_probability_targets_give_pytorchs_nan_on_every_path(c, monkeypatch, rng):
    x, t = _rows(c, rng)
    want = _reference(x, t)
    assert np.isnan(want[0][0]) and np.isnan(want[1][0]).all()      # PyTorch's answer
    assert np.isfinite(want[0][1:]).all() and np.isfinite(want[1][1:]).all()
    np.testing.assert_allclose(want[1][1], _finite_differences(x, t, 1), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(want[1][2, 1:], _finite_differences(x, t, 2)[1:], rtol=1e-6,
                               atol=1e-9)
    with np.errstate(invalid="ignore"):
        for name, path in _paths(monkeypatch).items():
            _assert_matches(path(x, t), want, f"{name}, {c} classes")
        for backend in ("numpy", "numba") if "numba" in _paths(monkeypatch) else ("numpy",):
            loss = _untaped(backend, x, t)                  # no tape: the loss-only loops
            np.testing.assert_allclose(loss, want[0], rtol=1e-12, err_msg=f"{backend} untaped")
            X, T = xg.asarray(x, backend=backend), xg.asarray(t, backend=backend)
            assert np.isnan(xg.losses.softmax_cross_entropy(X, T).item())          # mean
            assert np.isnan(xg.losses.softmax_cross_entropy(X[:2], T[:2], reduction="sum").item())
            np.testing.assert_allclose(                     # the other rows' mean unchanged
                xg.losses.softmax_cross_entropy(X[1:], T[1:]).item(), want[0][1:].mean(),
                rtol=1e-12)


@pytest.mark.parametrize("smoothing", [0.0, 0.1])
@pytest.mark.parametrize("c", (3, 30, 200))
def test_an_ignored_row_costs_nothing_and_its_gradient_is_pytorchs_nan(c, smoothing,
                                                                       monkeypatch, rng):
    x = rng.normal(size=(3, c)) * 2
    x[0] = -INF
    labels = np.array([-100, 1, -100])          # row 2: ignored, finite: a zero gradient
    want = _torch(x, labels, ignore_index=-100, label_smoothing=smoothing)
    assert want[0][0] == 0 and np.isnan(want[1][0]).all()                 # PyTorch's answer
    assert want[0][2] == 0 and (want[1][2] == 0).all()
    with np.errstate(invalid="ignore"):
        for name, path in _paths(monkeypatch).items():
            got = path(x, labels, ignore_index=-100, label_smoothing=smoothing)
            _assert_matches(got, want, f"{name}, {c} classes, smoothing {smoothing}")


def test_class_weights_with_an_ignored_row_give_pytorchs_answer(monkeypatch, rng):
    """Weights, smoothing and ignore_index together (composed of log_softmax and nll)."""
    x = rng.normal(size=(3, 5)) * 2
    x[0] = -INF
    labels = np.array([-100, 1, 3])
    options = dict(ignore_index=-100, label_smoothing=0.2, weight=rng.random(5) + 0.5)
    want = _torch(x, labels, **options)
    with np.errstate(invalid="ignore"):
        for name, path in _paths(monkeypatch).items():
            _assert_matches(path(x, labels, **options), want, name)
