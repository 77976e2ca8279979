"""``GradientTape.batch_jacobian`` (TensorFlow's): the Jacobian of each example of a batch,
``result[b] = d target[b] / d source[b]``, one reverse pass per entry of one example, against
PyTorch's full Jacobian (its diagonal blocks) in float64 and finite differences."""
from __future__ import annotations

import numpy as np
import pytest

import xpgrad as xg

torch = pytest.importorskip("torch")

BACKENDS = ["numpy", "numba"]
W0 = np.random.default_rng(0).standard_normal((3, 4))


@pytest.fixture(params=BACKENDS)
def backend(request):
    return request.param


def _torch_per_example(f, x):
    full = torch.autograd.functional.jacobian(f, torch.tensor(x)).numpy()
    b = x.shape[0]
    t_rank = full.ndim - x.ndim - 1
    out = []
    for i in range(b):
        block = full[i]                               # (*t, B, *s)
        block = np.moveaxis(block, t_rank, 0)[i]      # (*t, *s)
        out.append(block)
    return np.stack(out)


def test_a_layer_s_per_example_jacobian_matches_pytorch(backend):
    x0 = np.random.default_rng(1).standard_normal((5, 3))
    x = xg.asarray(x0, backend=backend)
    w = xg.asarray(W0, backend=backend)
    with xg.GradientTape() as tape:
        tape.watch(x)
        y = xg.tanh(x @ w) ** 2
    got = tape.batch_jacobian(y, x)
    assert got.shape == (5, 4, 3) and got.backend.name == backend
    expected = _torch_per_example(lambda t: torch.tanh(t @ torch.tensor(W0)) ** 2, x0)
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-12, atol=1e-12)


def test_higher_rank_examples(backend):
    x0 = np.random.default_rng(2).standard_normal((2, 3, 2))
    x = xg.asarray(x0, backend=backend)
    with xg.GradientTape() as tape:
        tape.watch(x)
        y = xg.sin(x)[:, :, :, None] * xg.sum(x, axis=1)[:, None, None, :]   # (2, 3, 2, 2)
    got = tape.batch_jacobian(y, x)
    assert got.shape == (2, 3, 2, 2, 3, 2)
    expected = _torch_per_example(
        lambda t: torch.sin(t)[:, :, :, None] * t.sum(1)[:, None, None, :], x0)
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-12, atol=1e-12)


def test_it_agrees_with_finite_differences(backend):
    x0 = np.random.default_rng(3).standard_normal((4, 3))
    x = xg.asarray(x0, backend=backend)
    w = xg.asarray(W0, backend=backend)
    f = lambda a: xg.exp(0.3 * (a @ w))
    with xg.GradientTape() as tape:
        tape.watch(x)
        y = f(x)
    got = tape.batch_jacobian(y, x).numpy()
    eps = 1e-6
    for j in range(3):
        step = np.zeros((4, 3))
        step[:, j] = eps
        column = (f(xg.asarray(x0 + step, backend=backend)).numpy()
                  - f(xg.asarray(x0 - step, backend=backend)).numpy()) / (2 * eps)
        np.testing.assert_allclose(got[:, :, j], column, rtol=1e-7, atol=1e-8)


def test_persistent_and_non_persistent_tapes_and_unconnected_sources(backend):
    x = xg.asarray(np.ones((2, 3)), backend=backend)
    unused = xg.asarray(np.ones((2, 5)), backend=backend)
    with xg.GradientTape(persistent=True) as tape:
        tape.watch([x, unused])
        y = x * 2.0
    first = tape.batch_jacobian(y, x).numpy()
    np.testing.assert_array_equal(first, tape.batch_jacobian(y, x).numpy())
    np.testing.assert_array_equal(first, np.broadcast_to(2.0 * np.eye(3), (2, 3, 3)))
    assert tape.batch_jacobian(y, unused) is None
    zeros = tape.batch_jacobian(y, unused, unconnected_gradients="zero")
    assert zeros.shape == (2, 3, 5) and not zeros.numpy().any()
    with xg.GradientTape() as once:
        once.watch(x)
        z = x * 3.0
    once.batch_jacobian(z, x)
    with pytest.raises(RuntimeError, match="persistent"):
        once.batch_jacobian(z, x)


def test_bad_arguments_are_named(backend):
    x = xg.asarray(np.ones((2, 3)), backend=backend)
    with xg.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = x * 2.0
        s = xg.sum(x)
    with pytest.raises(ValueError, match="batch"):
        tape.batch_jacobian(s, x)                 # a 0-d target has no batch axis
    with pytest.raises(ValueError, match="batch"):
        tape.batch_jacobian(y[:1], x)             # batch sizes differ
    with pytest.raises(TypeError, match="batch_jacobian"):
        tape.batch_jacobian(y, [x])



@pytest.mark.parametrize("method", ["jacobian", "batch_jacobian"])
def test_seeds_do_not_build_an_identity_matrix(method):
    """A target of 2000 entries (one example of 2000 for batch_jacobian) against one input:
    the seeds are one-hot rows made one at a time, not rows of a 2000x2000 identity (32 MB;
    for a target of 10^5 entries, 80 GB)."""
    import tracemalloc

    n = 2000
    x = xg.asarray([[0.5]])
    with xg.GradientTape() as tape:
        tape.watch(x)
        y = x * xg.asarray(np.arange(n, dtype=np.float64).reshape(1, n))
    tracemalloc.start()
    try:
        jac = getattr(tape, method)(y, x)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 * n * n / 4, f"peak {peak} bytes"
    expected = np.arange(n, dtype=np.float64)
    np.testing.assert_array_equal(np.asarray(jac).reshape(-1), expected)
