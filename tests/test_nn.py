"""nn layers: shapes, names, init statistics, module discovery, train/eval, gradients."""
import numpy as np
import pytest

import xpgrad as xg
from xpgrad import nn


def test_linear_shapes_names_and_forward(rng):
    layer = nn.Linear(4, 3, rng=xg.random.default_rng(0))
    x = rng.standard_normal((5, 4)).astype(np.float32)
    y = layer(xg.asarray(x))
    assert y.shape == (5, 3) and y.dtype == xg.float32
    np.testing.assert_allclose(y.numpy(), x @ layer.w.numpy() + layer.b.numpy(), rtol=1e-6)
    assert [v.name for v in layer.trainable_variables] == ["linear/w", "linear/b"]
    assert layer.w.shape == (4, 3) and np.all(layer.b.numpy() == 0)
    no_bias = nn.Linear(4, 3, rng=0, bias=False, dtype="float64")
    assert no_bias.b is None and len(no_bias.trainable_variables) == 1
    assert no_bias(xg.ones((2, 4), dtype="float64")).dtype == xg.float64


def test_linear_gradients_match_finite_differences(rng):
    layer = nn.Linear(3, 2, rng=0, dtype="float64")
    w, b = layer.w, layer.b
    x = xg.asarray(rng.standard_normal((4, 3)))
    xg.testing.check_grads(lambda x: xg.tanh(layer(x)), [x])
    with xg.GradientTape() as tape:
        y = xg.sum(layer(x) ** 2)
    dw, db = tape.gradient(y, [w, b])
    out = x.numpy() @ w.numpy() + b.numpy()
    np.testing.assert_allclose(dw.numpy(), x.numpy().T @ (2 * out))
    np.testing.assert_allclose(db.numpy(), (2 * out).sum(0))


@pytest.mark.parametrize("kernels", ["fused", "generic"])
def test_linear_primitive_gradients_and_kernel(kernels, rng, monkeypatch):
    be = xg.get_backend("numpy")
    if kernels == "generic":
        monkeypatch.setattr(be, "kernels", {})
    x, w, b = (xg.asarray(rng.standard_normal(s)) for s in ((5, 3), (3, 2), (2,)))
    xg.testing.check_grads(lambda x, w, b: xg.tanh(nn.linear(x, w, b)), [x, w, b], order=2)
    np.testing.assert_allclose(nn.linear(x, w, b).numpy(),
                               x.numpy() @ w.numpy() + b.numpy(), rtol=1e-12)
    # 1-D and 3-D inputs take the plain matmul + add route
    assert nn.linear(x[0], w, b).shape == (2,)
    assert nn.linear(xg.reshape(x, (5, 1, 3)), w, b).shape == (5, 1, 2)
    with pytest.raises(ValueError, match="do not fit"):
        nn.linear(x, w, xg.ones(3, dtype="float64"))


def test_init_statistics():
    fan_in, fan_out = 400, 600
    g = nn.Linear(fan_in, fan_out, rng=1, init="glorot").w.numpy()
    limit = np.sqrt(6 / (fan_in + fan_out))
    assert np.abs(g).max() <= limit
    assert g.var() == pytest.approx(2 / (fan_in + fan_out), rel=0.02)
    assert abs(g.mean()) < 0.01 * g.std()
    h = nn.Linear(fan_in, fan_out, rng=1, init="he").w.numpy()
    assert h.std() == pytest.approx(np.sqrt(2 / fan_in), rel=0.02)
    assert abs(h.mean()) < 0.01 * h.std()
    custom = nn.Linear(2, 2, init=lambda rng, shape, dtype: xg.ones(shape, dtype=dtype))
    assert custom.w.tolist() == [[1.0, 1.0], [1.0, 1.0]]
    with pytest.raises(ValueError, match="unknown init 'orthogonl'"):
        nn.Linear(2, 2, init="orthogonl")


def test_same_seed_same_weights_and_rng_is_consumed():
    a = nn.MLP([3, 5, 2], rng=xg.random.default_rng(7))
    b = nn.MLP([3, 5, 2], rng=xg.random.default_rng(7))
    for va, vb in zip(a.variables, b.variables):
        assert np.array_equal(va.numpy(), vb.numpy())
    # one generator feeds layers in turn: two equal-shaped layers differ
    rng = xg.random.default_rng(0)
    l1, l2 = nn.Linear(3, 3, rng=rng), nn.Linear(3, 3, rng=rng)
    assert not np.array_equal(l1.w.numpy(), l2.w.numpy())
    with pytest.raises(TypeError, match="rng must be an xg.random.Generator"):
        nn.Linear(2, 2, rng="seed")


def test_mlp_matches_numpy_and_names(rng):
    mlp = nn.MLP([4, 8, 6, 3], activation="tanh", output_activation="sigmoid", rng=0)
    assert list(mlp.named_variables()) == [
        f"mlp/linear{i}/{p}" for i in range(3) for p in ("w", "b")]
    assert [v.name for v in mlp.variables] == list(mlp.named_variables())
    x = rng.standard_normal((5, 4)).astype(np.float32)
    h = x
    for i, layer in enumerate(mlp.layers):
        h = h @ layer.w.numpy() + layer.b.numpy()
        h = np.tanh(h) if i < 2 else 1 / (1 + np.exp(-h))
    np.testing.assert_allclose(mlp(xg.asarray(x)).numpy(), h, rtol=1e-5, atol=1e-6)
    custom = nn.MLP([4, 2, 1], activation=lambda t: t * 2.0, rng=0)
    assert custom(xg.ones((1, 4))).shape == (1, 1)
    with pytest.raises(ValueError, match="unknown activation 'gelux'"):
        nn.MLP([2, 2], activation="gelux")


def test_sequential_and_activation_layers(rng):
    x = xg.asarray(rng.standard_normal((3, 4)).astype(np.float32))
    pairs = [(nn.ReLU(), xg.nn.relu(x)), (nn.Sigmoid(), xg.nn.sigmoid(x)),
             (nn.Tanh(), xg.tanh(x)), (nn.Softplus(), xg.nn.softplus(x)),
             (nn.LeakyReLU(0.2), xg.nn.leaky_relu(x, negative_slope=0.2)),
             (nn.Softmax(axis=0), xg.nn.softmax(x, axis=0)),
             (nn.LogSoftmax(), xg.nn.log_softmax(x))]
    for layer, expected in pairs:
        np.testing.assert_array_equal(layer(x).numpy(), expected.numpy())
    seq = nn.Sequential(nn.Linear(4, 5, rng=0), nn.ReLU(), nn.Linear(5, 2, rng=1))
    assert seq(x).shape == (3, 2) and len(seq) == 3
    assert list(seq.named_variables()) == ["sequential/linear0/w", "sequential/linear0/b",
                                           "sequential/linear2/w", "sequential/linear2/b"]
    assert nn.Sequential([nn.ReLU()])(x).shape == x.shape
    with pytest.raises(TypeError, match="Sequential takes callables"):
        nn.Sequential(3)


def test_module_discovers_attributes_lists_dicts_once():
    class Block(nn.Module):
        def __init__(self):
            super().__init__("block")
            self.shared = xg.Variable([1.0], name="shared")
            self.frozen = xg.Variable([2.0], name="frozen", trainable=False)
            self.layers = [nn.Linear(1, 1, rng=0), nn.Linear(1, 1, rng=1)]
            self.heads = {"a": nn.Linear(1, 1, rng=2)}
            self.again = [self.shared]
            self._private = xg.Variable([3.0])

    b = Block()
    names = list(b.named_variables())
    assert names == ["block/shared", "block/frozen", "block/linear0/w", "block/linear0/b",
                     "block/linear1/w", "block/linear1/b", "block/heads/a/w",
                     "block/heads/a/b"]
    assert len(b.variables) == 8
    assert len(b.trainable_variables) == 7
    assert len(b.submodules()) == 3


def test_dropout_train_and_eval(rng):
    drop = nn.Dropout(0.25, rng=xg.random.default_rng(3))
    x = xg.ones((200, 100))
    y = drop(x).numpy()
    kept = y != 0
    assert kept.mean() == pytest.approx(0.75, abs=0.01)
    np.testing.assert_allclose(y[kept], 1 / 0.75, rtol=1e-6)
    with xg.GradientTape() as tape:
        tape.watch(x)
        out = xg.sum(drop(x))
    g = tape.gradient(out, x).numpy()
    assert set(np.unique(g)) <= {0.0, np.float32(1 / 0.75)}
    model = nn.Sequential(nn.Linear(100, 100, rng=0), drop)
    model.eval()
    assert not drop.training
    np.testing.assert_array_equal(drop(x).numpy(), x.numpy())
    model.train()
    assert drop.training and model.training
    with pytest.raises(ValueError, match=r"Dropout: rate must be a finite number in \[0, 1\), "
                                         r"got 1.0"):
        nn.Dropout(1.0)


def test_small_mlp_learns_xor():
    x = xg.asarray([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    y = xg.asarray([0, 1, 1, 0])
    model = nn.MLP([2, 8, 2], activation="tanh", rng=0)
    opt = xg.optim.Adam(learning_rate=0.05)
    for _ in range(200):
        loss = opt.minimize(lambda: xg.losses.softmax_cross_entropy(model(x), y), model)
    assert loss.item() < 0.05
    assert xg.argmax(model(x), axis=1).tolist() == [0, 1, 1, 0]


def test_layer_arguments_are_checked_by_name():
    for make, exc, message in [
        (lambda: nn.Linear(2.5, 3), TypeError, "Linear: in_features must be a non-negative integer, "
                                               "got 2.5"),
        (lambda: nn.Linear(3, "4"), TypeError, "out_features must be a non-negative integer, "
                                               "got '4'"),
        (lambda: nn.Linear(True, 4), TypeError, "in_features must be a non-negative integer"),
        (lambda: nn.Linear(3, 4, dtype="int32"), TypeError, "dtype must be float32 or float64"),
        (lambda: nn.MLP([4, 2.5, 2]), TypeError, "MLP: sizes must be a list of non-negative "
                                                 "integers, got [4, 2.5, 2]"),
        (lambda: nn.MLP("482"), TypeError, "MLP: sizes must be a list of non-negative integers, "
                                           "got str"),
        (lambda: nn.MLP([4]), ValueError, "MLP: sizes needs at least [in, out], got [4]"),
        (lambda: nn.Sequential().append(3), TypeError, "Sequential takes callables"),
        (lambda: nn.RNN(3, 4.5), TypeError, "hidden_size must be a positive integer, got 4.5"),
        (lambda: nn.Dropout("a"), TypeError, "Dropout: rate must be a real number, got 'a'"),
        (lambda: nn.LeakyReLU(float("nan")), ValueError, "LeakyReLU: negative_slope must be a "
                                                         "finite number, got nan"),
        (lambda: nn.Softmax(axis=1.5), TypeError, "Softmax: axis must be an int, got 1.5"),
    ]:
        with pytest.raises(exc) as e:
            make()
        assert message in str(e.value), str(e.value)
    assert nn.Linear(np.int64(3), np.int32(2), rng=0).in_features == 3


def test_layer_inputs_are_checked_before_the_kernel():
    layer = nn.Linear(3, 4, rng=0)
    with pytest.raises(ValueError, match=r"Linear expects input of shape \(\.\.\., "
                                         r"in_features\) with in_features=3, got shape \(2, 5\)"):
        layer(xg.ones((2, 5)))
    with pytest.raises(TypeError, match="Linear has float32 weights but got a float64 input"):
        layer(xg.ones((2, 3), dtype="float64"))
    with pytest.raises(ValueError, match=r"got shape \(\)"):
        layer(xg.asarray(1.0))
    assert layer(xg.ones(3)).shape == (4,) and layer(xg.ones((5, 2, 3))).shape == (5, 2, 4)
    assert layer([[1.0, 2.0, 3.0]]).shape == (1, 4)          # array-likes take its dtype
    values = np.random.default_rng(0).normal(size=(2, 3))      # float64, as Linear's docstring
    out = layer(values)
    assert out.dtype == xg.float32
    np.testing.assert_array_equal(out.numpy(), layer(xg.asarray(values, dtype="float32")).numpy())
    with pytest.raises(ValueError, match="LSTMCell: state must be a pair"):
        nn.LSTMCell(3, 4, rng=0)(xg.ones((2, 3)), (xg.zeros((2, 4)),))
