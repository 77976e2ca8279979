"""xg.nn.init beyond the statistics: orthogonality, reproducibility from the seed, bad input,
zero-size shapes, names, and the layers' ``init=``."""
from __future__ import annotations

import math

import numpy as np
import pytest

import xpgrad as xg
from xpgrad.nn import init
from docs_text import text_from

ALL = sorted(init.INITIALIZERS)
FACTORIES = [init.variance_scaling(), init.orthogonal(0.5), init.uniform(-1, 1),
             init.normal(0, 0.1), init.truncated_normal(), init.constant(3.0)]


# -- orthogonal --------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(7, 3), (3, 7), (5, 5), (2, 3, 4), (2, 2, 9), (1, 6)])
@pytest.mark.parametrize("dtype, tol", [("float64", 1e-13), ("float32", 2e-6)])
@pytest.mark.parametrize("backend", ["numpy", "numba"])
@pytest.mark.parametrize("gain", [1.0, 3.0])
def test_orthogonal_is_orthogonal(shape, dtype, tol, backend, gain):
    w = init.orthogonal(gain)(xg.random.default_rng(2, backend=backend), shape, dtype)
    assert w.shape == shape and w.dtype == getattr(xg, dtype) and w.backend.name == backend
    q = w.numpy().astype(np.float64).reshape(math.prod(shape[:-1]), shape[-1])  # documented
    gram = q.T @ q if q.shape[0] >= q.shape[1] else q @ q.T
    np.testing.assert_allclose(gram, gain ** 2 * np.eye(len(gram)), rtol=0,
                               atol=tol * gain ** 2 * max(q.shape))


def test_orthogonal_signs_are_corrected():
    """Q of a Gaussian's Householder QR has a negative (0, 0) entry nearly always; with R's
    diagonal signs moved into Q the matrix is Haar-distributed, so Q[0, 0] > 0 half the time
    (binomial: 200 +- 10 of 400)."""
    rng = xg.random.default_rng(5)
    make = init.orthogonal()
    positive = sum(make(rng, (4, 4), "float64").numpy()[0, 0] > 0 for _ in range(400))
    assert 150 <= positive <= 250, positive


def test_orthogonal_matches_pytorch_in_distribution():
    """|Q[0, 0]| of a (5, 3) draw has the mean of torch.nn.init.orthogonal_'s on the transposed
    (3, 5) weight (400 draws each, within 5 standard errors of the difference): a scale or a
    flattening that differs from PyTorch's would move it."""
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    rng, make = xg.random.default_rng(6), init.orthogonal()
    ours = np.array([abs(make(rng, (5, 3), "float64").numpy()[0, 0]) for _ in range(400)])
    theirs = np.array([abs(torch.nn.init.orthogonal_(torch.empty(3, 5, dtype=torch.float64))
                           [0, 0].item()) for _ in range(400)])
    se = math.sqrt(ours.var() / 400 + theirs.var() / 400)
    assert abs(ours.mean() - theirs.mean()) <= 5 * se


# -- reproducibility ---------------------------------------------------------------------------
@pytest.mark.parametrize("fn", [init.INITIALIZERS[n] for n in ALL] + FACTORIES,
                         ids=ALL + [f.__name__ for f in FACTORIES])
@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_same_seed_same_weights(fn, backend):
    def draw(seed):
        return fn(xg.random.default_rng(seed, backend=backend), (6, 5), "float32").numpy()

    a, b = draw(3), draw(3)
    assert a.dtype == np.float32 and np.array_equal(a, b)
    if fn.__name__ not in ("zeros", "ones") and not fn.__name__.startswith("constant"):
        assert not np.array_equal(a, draw(4))
        rng = xg.random.default_rng(3, backend=backend)       # the generator is consumed
        first = fn(rng, (6, 5), "float32").numpy()
        assert not np.array_equal(first, fn(rng, (6, 5), "float32").numpy())
    # numpy and numba share NumPy's generator: the same seed, the same numbers
    other = fn(xg.random.default_rng(3, backend="numpy"), (6, 5), "float32").numpy()
    assert np.array_equal(a, other)


def test_an_int_seed_is_a_generator():
    assert np.array_equal(init.he_uniform(9, (3, 4)).numpy(),
                          init.he_uniform(xg.random.default_rng(9), (3, 4)).numpy())


# -- bad input -----------------------------------------------------------------------------------
BAD = [
    (lambda: init.variance_scaling(-1.0), ValueError, "scale"),
    (lambda: init.variance_scaling(0.0), ValueError, "scale"),
    (lambda: init.variance_scaling(float("nan")), ValueError, "scale"),
    (lambda: init.variance_scaling("2"), TypeError, "scale"),
    (lambda: init.variance_scaling(1.0, "fan_sum"), ValueError, "mode 'fan_sum'"),
    (lambda: init.variance_scaling(1.0, "fan_in", "cauchy"), ValueError, "distribution 'cauchy'"),
    (lambda: init.variance_scaling(1.0, "fan_in", "normal"), ValueError, "distribution 'normal'"),
    (lambda: init.normal(0.0, 0.0), ValueError, "stddev"),
    (lambda: init.normal(0.0, -1.0), ValueError, "stddev"),
    (lambda: init.normal(float("inf"), 1.0), ValueError, "mean"),
    (lambda: init.truncated_normal(stddev=-0.1), ValueError, "stddev"),
    (lambda: init.truncated_normal(lower=1.0, upper=1.0), ValueError, "lower"),
    (lambda: init.uniform(1.0, 0.0), ValueError, "low"),
    (lambda: init.uniform(True, 2.0), TypeError, "low"),
    (lambda: init.orthogonal(0.0), ValueError, "gain"),
    (lambda: init.orthogonal(-1.0), ValueError, "gain"),
    (lambda: init.constant(float("nan")), ValueError, "value"),
    (lambda: init.constant("1"), TypeError, "value"),
    (lambda: init.glorot_uniform(0, (5,)), ValueError, "shape"),
    (lambda: init.he_normal(0, ()), ValueError, "shape"),
    (lambda: init.variance_scaling()(0, (3,)), ValueError, "shape"),
    (lambda: init.torch_linear_default(0, (3,)), ValueError, "shape"),
    (lambda: init.orthogonal()(0, (4,)), ValueError, "shape"),
    (lambda: init.compute_fans(7), ValueError, "shape"),
    (lambda: init.lecun_normal(0, (3, -1)), ValueError, "shape"),
    (lambda: init.glorot_uniform(0, (3, 4), "int32"), TypeError, "dtype"),
    (lambda: init.zeros(0, (3, 4), "int64"), TypeError, "dtype"),
    (lambda: init.glorot_uniform("seed", (3, 4)), TypeError, "rng"),
    (lambda: init.get(3), TypeError, "init"),
    (lambda: init.get("nope"), ValueError, "init 'nope'"),
    (lambda: init.get("normal"), ValueError, "xg.nn.init.normal(mean, stddev)"),
    (lambda: xg.nn.Linear(3, 4, init="uniform"), ValueError, "init 'uniform'"),
    (lambda: xg.nn.MLP([3, 4], init="he_truncated"), ValueError, "init 'he_truncated'"),
    (lambda: xg.nn.Embedding(3, 4, init=["he"]), TypeError, "init"),
    (lambda: xg.nn.Embedding(3, 4, init=lambda r, s, d: xg.zeros((4, 3))), ValueError,
     "(num_embeddings, embedding_dim)"),
]


@pytest.mark.parametrize("call, exc, words", BAD, ids=[str(i) for i in range(len(BAD))])
def test_bad_input_names_the_argument(call, exc, words):
    with pytest.raises(exc) as info:
        call()
    assert words in str(info.value)


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("shape", [(0, 4), (3, 0), (2, 0, 5)])
def test_zero_size_shapes_give_empty_weights(name, shape):
    w = init.get(name)(0, shape, "float64")
    assert w.shape == shape and w.dtype == xg.float64


# -- layers ------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ALL)
def test_layers_take_every_name(name):
    fn = init.get(name)
    expect = fn(xg.random.default_rng(4), (5, 3), "float64").numpy()
    linear = xg.nn.Linear(5, 3, init=name, rng=4, dtype="float64")
    assert np.array_equal(linear.w.numpy(), expect)
    assert np.array_equal(linear.b.numpy(), np.zeros(3))
    mlp = xg.nn.MLP([5, 3, 2], init=name, rng=4, dtype="float64")
    assert np.array_equal(mlp.layers[0].w.numpy(), expect)
    emb = xg.nn.Embedding(5, 3, padding_idx=1, init=name, rng=4, dtype="float64")
    expect[1] = 0.0                                    # the padding row, as PyTorch's
    assert np.array_equal(emb.weight.numpy(), expect)


@pytest.mark.parametrize("fn", FACTORIES, ids=[f.__name__ for f in FACTORIES])
def test_layers_take_made_initializers(fn):
    expect = fn(xg.random.default_rng(8, backend="numba"), (4, 6), "float32").numpy()
    layer = xg.nn.Linear(4, 6, init=fn, rng=xg.random.default_rng(8, backend="numba"))
    assert layer.w.backend.name == "numba" and np.array_equal(layer.w.numpy(), expect)
    emb = xg.nn.Embedding(4, 6, init=fn, rng=xg.random.default_rng(8, backend="numba"))
    assert np.array_equal(emb.weight.numpy(), expect)


def test_defaults_are_unchanged():
    """Linear: glorot_uniform; MLP: he_normal after relu, glorot_uniform after tanh;
    Embedding: N(0, 1) drawn as rng.normal (PyTorch's)."""
    w = xg.nn.Linear(7, 5, rng=1).w.numpy()
    assert np.array_equal(w, init.glorot_uniform(xg.random.default_rng(1), (7, 5)).numpy())
    relu = xg.nn.MLP([7, 5], rng=1).layers[0].w.numpy()
    assert np.array_equal(relu, init.he_normal(xg.random.default_rng(1), (7, 5)).numpy())
    tanh = xg.nn.MLP([7, 5], activation="tanh", rng=1).layers[0].w.numpy()
    assert np.array_equal(tanh, w)
    emb = xg.nn.Embedding(7, 5, rng=1).weight.numpy()
    assert np.array_equal(emb, xg.random.default_rng(1).normal(size=(7, 5)).numpy())


def test_made_initializers_say_what_they_are():
    assert init.orthogonal(2).__name__ == "orthogonal(gain=2.0)"
    assert repr(init.variance_scaling(2, "fan_out", "uniform")).startswith(
        "<function variance_scaling(2.0, 'fan_out', 'uniform')")
    assert init.xavier_uniform is init.glorot_uniform and init.kaiming_normal is init.he_normal


def test_readme_lists_every_initializer_and_its_example_runs():
    import re

    text = text_from("**Weight initialization.**")
    section = text[:text.index("\n```\n", text.index("```python")) + 5]
    public = [n for n in init.__all__ if callable(getattr(init, n)) and n not in ("get", "as_rng")]
    missing = [n for n in [*init.INITIALIZERS, *public] if not re.search(rf"\b{n}\b", section)]
    assert missing == [], missing
    (code,) = re.findall(r"```python\n(.*?)```", section, re.S)
    scope = {}
    exec(code, scope)                                   # noqa: S102 (the docs' own example)
    assert scope["layer"].w.shape == (256, 128) and scope["w"].shape == (3, 3, 16, 32)
