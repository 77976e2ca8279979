"""The multi_margin primitives (``xpgrad/ops/multi_margin.py``) and their fused kernels
(numpy: ``backends/numpy/margin.py``; numba: ``backends/numba/_margin.py``): each kernel
against the generic rule and PyTorch's ``multi_margin_loss`` in float64 (values and gradients;
p 1 and 2, margins, class weights, every reduction), float32 close to float64, NaN and
infinite scores as the generic rule and PyTorch, persistent tapes, the weight's gradient by
finite differences, and the benchmark script on a small shape."""
from __future__ import annotations

import numpy as np
import pytest

import xpgrad as xg
from xpgrad.ops import multi_margin as rules
from xpgrad.testing import check_grads

torch = pytest.importorskip("torch")

BACKENDS = ["numpy", "numba"]
REDUCTIONS = ["mean", "sum", "none"]


def _backend(name):
    try:
        xg.get_backend(name)
    except xg.BackendUnavailableError as e:
        pytest.skip(str(e))
    return name


def _generic(x, y, weight, reduction, p, margin, g):
    """The generic rules on NumPy arrays: the loss and the scores' gradient for ``g``."""
    params = dict(reduction=reduction, p=p, margin=margin)
    prim, inputs = ((rules.multi_margin, (x, y)) if weight is None
                    else (rules.weighted_multi_margin, (x, y, weight)))
    out = prim.forward(np, *inputs, **params)
    return out, prim.vjps[0](np, g, out, *inputs, **params)


def _kernel(backend, x, y, weight, reduction, p, margin, g):
    """The backend's kernel on NumPy arrays: the loss and the scores' gradient for ``g``."""
    params = dict(reduction=reduction, p=p, margin=margin)
    weights = () if weight is None else (weight,)
    name = "multi_margin" if weight is None else "weighted_multi_margin"
    kernel = xg.get_backend(backend).kernels[name]
    result = kernel.forward(x, y, *weights, **params)
    assert result is not None, "the kernel declined"
    out, saved = result
    return out, kernel.vjp(g, saved, x, y, *weights, **params)[0]


def _torch(x, y, weight, reduction, p, margin, g):
    xt = torch.tensor(x, requires_grad=True)
    out = torch.nn.functional.multi_margin_loss(
        xt, torch.tensor(y), p=p, margin=margin,
        weight=None if weight is None else torch.tensor(weight), reduction=reduction)
    (dx,) = torch.autograd.grad(out, xt, torch.tensor(g))
    return out.detach().numpy(), dx.numpy()


def _cotangent(reduction, n, dt):
    if reduction == "none":
        return np.linspace(0.5, 1.5, n).astype(dt)
    return np.asarray(0.7, dt)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("p, margin, weighted", [(1, 1.0, False), (2, 1.0, False),
                                                 (1, 0.3, True), (2, 2.5, True),
                                                 (1, -0.5, False)])
@pytest.mark.parametrize("backend", BACKENDS)
def test_kernel_matches_the_generic_rule_and_torch(backend, p, margin, weighted, reduction,
                                                   rng):
    _backend(backend)
    for n, c in ((13, 7), (3, 1), (2, 300)):
        x = rng.standard_normal((n, c)) * 2
        y = rng.integers(0, c, n)
        weight = rng.uniform(0.2, 2.0, c) if weighted else None
        g = _cotangent(reduction, n, np.float64)
        got = _kernel(backend, x, y, weight, reduction, p, margin, g)
        generic = _generic(x, y, weight, reduction, p, margin, g)
        theirs = _torch(x, y, weight, reduction, p, margin, g)
        for what, a, b, t in zip(("loss", "gradient"), got, generic, theirs):
            assert np.shape(a) == np.shape(t), what
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14, err_msg=what)
            np.testing.assert_allclose(a, t, rtol=1e-12, atol=1e-14, err_msg=what)


@pytest.mark.parametrize("backend", BACKENDS)
def test_float32_close_to_float64(backend, rng):
    _backend(backend)
    x = rng.standard_normal((64, 1000))
    y = rng.integers(0, 1000, 64)
    weight = rng.uniform(0.2, 2.0, 1000)
    for p in (1, 2):
        want = _kernel(backend, x, y, weight, "mean", p, 1.0, np.asarray(1.0))
        got = _kernel(backend, x.astype(np.float32), y, weight.astype(np.float32), "mean", p,
                      1.0, np.asarray(1.0, np.float32))
        for a, b in zip(got, want):
            assert a.dtype == np.float32
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-9)


@pytest.mark.parametrize("backend", BACKENDS)
def test_nan_and_infinite_scores_as_the_generic_rule_and_torch(backend):
    _backend(backend)
    nan, inf = float("nan"), float("inf")
    x = np.array([[0.1, nan, 0.3], [nan, 0.2, 0.0], [inf, 0.0, 0.5], [0.0, 1.0, inf],
                  [-inf, 0.2, 0.1], [0.5, 0.2, 0.1]])
    y = np.array([0, 0, 1, 2, 0, 1])
    for p in (1, 2):
        for reduction in ("none", "sum"):
            g = _cotangent(reduction, len(y), np.float64)
            xs = xg.asarray(x, backend=backend)
            with xg.GradientTape() as tape:
                tape.watch(xs)
                loss = xg.losses.multi_margin(xs, xg.asarray(y, backend=backend), p=p,
                                              reduction=reduction)
            got = loss.numpy(), tape.gradient(loss, xs, output_gradients=xg.asarray(
                g, backend=backend)).numpy()
            generic = _generic(x, y, None, reduction, p, 1.0, g)
            theirs = _torch(x, y, None, reduction, p, 1.0, g)
            for a, b, t in zip(got, generic, theirs):       # (inf and NaN where equal)
                np.testing.assert_allclose(a, b, rtol=1e-14, atol=0.0)
                np.testing.assert_allclose(a, t, rtol=1e-14, atol=0.0)


@pytest.mark.parametrize("backend", BACKENDS)
def test_persistent_tape_gives_the_same_gradient_twice(backend, rng):
    _backend(backend)
    x = xg.asarray(rng.standard_normal((5, 4)), backend=backend)
    y = xg.asarray(rng.integers(0, 4, 5), backend=backend)
    with xg.GradientTape(persistent=True) as tape:
        tape.watch(x)
        loss = xg.losses.multi_margin(x, y, p=2)
    first = tape.gradient(loss, x).numpy()
    first_again = first.copy()
    second = tape.gradient(loss, x).numpy()
    np.testing.assert_array_equal(second, first_again)


def test_weight_gradient_by_finite_differences(rng):
    """The weights' gradient (the generic rule: PyTorch gives none) and second order."""
    x = xg.asarray(rng.standard_normal((6, 4)))
    y = xg.asarray(np.array([0, 3, 1, 1, 2, 3]))
    w = xg.asarray(rng.uniform(0.5, 2.0, 4))
    for p in (1, 2):
        for reduction in REDUCTIONS:
            check_grads(lambda a, b: xg.losses.multi_margin(a, y, p=p, margin=0.8, weight=b,
                                                            reduction=reduction),
                        (x, w), order=2)


def test_the_kernel_runs_where_it_should():
    """A float64 (N, C) call goes through the kernel (one primitive on the tape), an integer
    dtype is refused before, and a 1-D call is reshaped to one row."""
    x = xg.asarray(np.array([[0.1, 0.2, 0.4, 0.8]]))
    assert xg.get_backend("numpy").kernels["multi_margin"].forward(
        np.ones((2, 3), np.int64), np.array([0, 1]), reduction="mean", p=1, margin=1.0) is None
    one = xg.losses.multi_margin(x[0], xg.asarray(3), reduction="none")
    assert one.shape == () and round(one.item(), 4) == 0.325


def test_benchmark_script_runs(capsys, monkeypatch):
    """benchmarks/multi_margin.py, numpy only, a few repeats: it checks every variant against
    PyTorch before timing, and puts torch's thread count back."""
    from pathlib import Path

    monkeypatch.syspath_prepend(str(Path(__file__).parents[1] / "benchmarks"))
    import multi_margin as bench
    threads = torch.get_num_threads()
    rows = bench.main(["--backends", "numpy", "--repeats", "1", "--rounds", "1"])
    assert [name for name, _ in rows] == [name for name, _, _ in bench.WORKLOADS]
    assert torch.get_num_threads() == threads
    assert "torch/xpgrad" in capsys.readouterr().out


def test_warmup_knows_the_numba_loop():
    _backend("numba")
    from xpgrad.backends.numba import _cache

    names = set(_cache.kernel_dispatchers())
    assert {"_margin.multi_margin_block", "_margin.multi_margin_par"} <= names
    assert any(name == "multi_margin" for _, name in _cache.UNITS)
