"""A fused loss called where no tape records computes the loss alone (``Kernel.value``): the same
values as the taped call (bit for bit where the same code computes them), its gradient unchanged
under a tape, and the taped kernel inside ``xg.function``."""
from __future__ import annotations

import numpy as np
import pytest

import xpgrad as xg
from conftest import backend_report
from xpgrad.backend import Kernel

from sce_checks import awkward_logits

BACKENDS = [b for b in ("numpy", "numba") if b in backend_report()]
ELEMENTWISE = ["mse", "sigmoid_mse", "sigmoid_cross_entropy_with_logits"]
#: (rows, classes): the numba backend's loss-only loops from _losses.LOSS_ONLY_MIN (64) classes
SHAPES = [(16, 10), (16, 40), (16, 70), (5, 1000), (0, 70)]


def _inputs(backend, shape, dt, labels):
    rng = np.random.default_rng(sum(shape))
    n, c = shape
    x = awkward_logits(rng, n, c, dt) if n > 8 else (rng.normal(size=shape) * 3).astype(dt)
    if labels == "classes":
        t = rng.integers(0, c, n)
    else:
        t = rng.random(shape).astype(dt)
        if labels == "probs":
            t /= t.sum(axis=1, keepdims=True)
    return xg.asarray(x, backend=backend), xg.asarray(t, backend=backend)


def _loss(name, x, t, reduction):
    if name == "softmax_cross_entropy":
        return xg.losses.softmax_cross_entropy(x, t, reduction=reduction)
    return getattr(xg.losses, name)(x, t, reduction=reduction)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")      # NumPy's, at the inf and NaN logits
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("name,labels", [("softmax_cross_entropy", "classes"),
                                         ("softmax_cross_entropy", "probs")]
                         + [(name, "targets") for name in ELEMENTWISE])
def test_untaped_loss_is_the_taped_one(backend, dt, shape, reduction, name, labels):
    x, t = _inputs(backend, shape, dt, labels)
    untaped = _loss(name, x, t, reduction).numpy()
    with xg.GradientTape() as tape:
        tape.watch(x)
        taped = _loss(name, x, t, reduction)
    grad = tape.gradient(taped, x).numpy()
    with xg.GradientTape() as tape:     # the taped gradient after an untaped call: unchanged
        tape.watch(x)
        again = _loss(name, x, t, reduction)
    np.testing.assert_array_equal(tape.gradient(again, x).numpy(), grad)
    if backend == "numba" and name == "softmax_cross_entropy":
        # the numba loss-only rows sum their exponentials in their own loop: within rounding
        tol = 4 * np.finfo(dt).eps
        np.testing.assert_allclose(untaped, taped.numpy(), rtol=tol, atol=tol)
    else:
        np.testing.assert_array_equal(untaped, taped.numpy())


def _spied(backend, name, calls):
    """The backend's kernel for ``name`` with its ``value`` counting its calls into ``calls``."""
    kern = xg.get_backend(backend).kernels[name]

    def value(*raws, **params):
        calls.append(name)
        return kern.value(*raws, **params)

    return kern, Kernel(kern.forward, kern.vjp, saves=kern.saves, value=value)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", ["softmax_cross_entropy"] + ELEMENTWISE)
def test_value_runs_only_where_no_tape_records(backend, name):
    x, t = _inputs(backend, (8, 40), np.float32,      # (8 rows: no inf or NaN)
                   "classes" if name == "softmax_cross_entropy" else "targets")
    calls = []
    table = xg.get_backend(backend).kernels
    kern, spy = _spied(backend, name, calls)
    table[name] = spy
    try:
        _loss(name, x, t, "mean")
        assert calls == [name]
        with xg.GradientTape() as tape:
            tape.watch(x)
            _loss(name, x, t, "mean")
        assert calls == [name]

        @xg.function(warmup=0)          # traced on the first call, replayed on the second
        def evaluate(x, t):
            return _loss(name, x, t, "mean")

        with xg.use_backend(backend):
            traced = evaluate(x, t)
            replayed = evaluate(x, t)
        assert calls == [name]                   # the trace runs the kernel's forward
        np.testing.assert_array_equal(traced.numpy(), replayed.numpy())
    finally:
        table[name] = kern


@pytest.mark.skipif("numba" not in BACKENDS, reason="needs numba")
@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("kind", ["labels", "probs"])
def test_numba_loss_only_rows_match_the_fused_rows(dt, kind):
    from xpgrad.backends.numba import _config, _loss_kernels as loops

    rng = np.random.default_rng(3)
    n, c = 40, 37
    x = awkward_logits(rng, n, c, dt)
    if kind == "labels":
        t = rng.integers(0, c, n)
    else:
        t = rng.random((n, c)).astype(dt)
        t[2, 0] = 0.0                               # the masked class costs nothing
    fused = getattr(loops, f"sce_{kind}_block")
    alone = getattr(loops, f"sce_{kind}_loss_block")
    threaded = getattr(loops, f"sce_{kind}_loss_par")
    want = np.empty(n, dt)
    want_total = fused(x, t, np.empty_like(x), want, dt(1.0))
    got, split = np.empty(n, dt), np.empty(n, dt)
    total = alone(x, t, got)
    tol = 4 * np.finfo(dt).eps
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol)
    np.testing.assert_allclose(total, want_total, rtol=tol)
    np.testing.assert_equal(_config.run_parallel(threaded, x, t, split, 7), total)
    np.testing.assert_array_equal(split, got)


@pytest.mark.skipif("numba" not in BACKENDS, reason="needs numba")
def test_numba_loss_only_rows_stop_at_a_bad_label():
    from xpgrad.backends.numba import _loss_kernels as loops

    x = np.zeros((3, 40), np.float32)
    assert np.isnan(loops.sce_labels_loss_block(x, np.array([0, 40, 1]), np.empty(3, np.float32)))
    assert np.isnan(loops.sce_labels_loss_block(x, np.array([0, -1, 1]), np.empty(3, np.float32)))


@pytest.mark.parametrize("backend", BACKENDS)
def test_untaped_bad_labels_raise_as_taped(backend):
    x, _ = _inputs(backend, (4, 40), np.float32, "classes")
    for labels in ([0, 1, 40, 2], [0, -1, 1, 2]):
        with pytest.raises(IndexError) as untaped:
            xg.losses.softmax_cross_entropy(x, xg.asarray(labels, backend=backend))
        with xg.GradientTape() as tape, pytest.raises(IndexError) as taped:
            tape.watch(x)
            xg.losses.softmax_cross_entropy(x, xg.asarray(labels, backend=backend))
        assert str(untaped.value) == str(taped.value)
