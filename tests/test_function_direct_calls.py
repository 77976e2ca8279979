"""xg.function replays the array-API wrappers it recorded on NumPy arrays (array_api_compat's
``matmul``, ``astype``, ``reshape``, ``asarray``) as NumPy's own calls (jit/direct_calls.py):
the same values, dtypes and fresh arrays as the eager call, gradients as PyTorch's and as
finite differences in float64."""
import numpy as np
import pytest

import xpgrad as xg


def _step(a, b):
    with xg.GradientTape() as tape:
        tape.watch([a, b])
        y = xg.sum(xg.astype(xg.matmul(a, b), xg.float32) ** 2) \
            + xg.sum(xg.reshape(a, (6, 4)) * 2.0)
    return (y, *tape.gradient(y, [a, b]), xg.asarray(a, copy=True))


def _compiled(fn, *args):
    compiled = xg.function(fn)
    for _ in range(2):              # eager warm-up, then the trace
        compiled(*args)
    return compiled


def test_wrapped_calls_replay_as_numpys_with_the_eager_results():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    a0, b0 = rng.normal(size=(2, 3, 4)), rng.normal(size=(2, 4, 5))
    compiled = _compiled(_step, xg.asarray(a0), xg.asarray(b0))
    program = compiled.programs()[0]
    for _ in range(3):
        a, b = rng.normal(size=(2, 3, 4)), rng.normal(size=(2, 4, 5))
        got = compiled(xg.asarray(a), xg.asarray(b))
        want = _step(xg.asarray(a), xg.asarray(b))
        for g, w in zip(got, want):
            assert g.dtype == w.dtype and g.shape == w.shape
            np.testing.assert_array_equal(g.numpy(), w.numpy())
        assert not np.shares_memory(got[3].numpy(), a)          # asarray(copy=True) copied
        ta = torch.tensor(a, requires_grad=True)
        tb = torch.tensor(b, requires_grad=True)
        y = torch.sum(torch.matmul(ta, tb).float() ** 2) + torch.sum(ta.reshape(6, 4) * 2.0)
        y.backward()
        np.testing.assert_allclose(got[1].numpy(), ta.grad.numpy(), rtol=1e-5)
        np.testing.assert_allclose(got[2].numpy(), tb.grad.numpy(), rtol=1e-5)
    assert program.direct_calls >= 5
    names = {getattr(v, "__module__", None) for v in program._namespace.values()}
    assert not any(str(n).startswith("array_api_compat") for n in names)


def test_the_float64_gradient_of_a_batched_product_matches_finite_differences():
    def loss(a, b):
        with xg.GradientTape() as tape:
            tape.watch(a)
            y = xg.sum(xg.reshape(xg.matmul(a, b), (-1,)) ** 3)
        return tape.gradient(y, a)

    rng = np.random.default_rng(1)
    a0, b0 = rng.normal(size=(2, 2, 3)), rng.normal(size=(2, 3, 2))
    compiled = _compiled(loss, xg.asarray(a0), xg.asarray(b0))
    got = compiled(xg.asarray(a0), xg.asarray(b0)).numpy()
    assert compiled.programs()[0].direct_calls >= 1

    def f(flat):
        return np.sum(np.matmul(flat.reshape(a0.shape), b0) ** 3)

    h, x = 1e-6, a0.ravel()
    numeric = [(f(x + h * e) - f(x - h * e)) / (2 * h) for e in np.eye(x.size)]
    np.testing.assert_allclose(got.ravel(), numeric, rtol=1e-6)


def test_a_product_of_mismatched_shapes_still_raises_numpys_error_eagerly():
    compiled = _compiled(lambda a, b: xg.matmul(a, b), xg.ones((2, 2, 3)), xg.ones((2, 3, 2)))
    with pytest.raises(ValueError, match="matmul"):
        compiled(xg.ones((2, 2, 3)), xg.ones((2, 4, 2)))
