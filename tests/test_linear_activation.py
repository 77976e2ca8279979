"""``xg.nn.linear(x, w, b, activation=...)``: relu, tanh and sigmoid applied in the same
primitive (``linear_relu``...), which ``xg.nn.MLP`` uses between its layers.

Checked against finite differences (float64), PyTorch, the unfused composition
``act(linear(x, w, b))``, and each backend's kernel against the primitive's generic rules;
the threaded branches of the Numba kernel against its one-pass loops; bad input is refused.
"""
from __future__ import annotations

import numpy as np
import pytest

import xpgrad as xg
from conftest import backend_report
from xpgrad.primitive import PRIMITIVES
from xpgrad.testing import check_grads

from torch_compare import torch_values_and_grads, xpgrad_values_and_grads

ACTIVATIONS = ("relu", "tanh", "sigmoid")
BACKENDS = [b for b in ("numpy", "numba") if backend_report()[b]["available"]]
UNFUSED = {"relu": xg.nn.relu, "tanh": xg.tanh, "sigmoid": xg.nn.sigmoid}


def _arrays(rng, n=7, n_in=5, n_out=4, dtype=np.float64):
    # no pre-activation at relu's kink: finite differences are smooth there
    return (rng.standard_normal((n, n_in)).astype(dtype),
            rng.standard_normal((n_in, n_out)).astype(dtype),
            rng.standard_normal(n_out).astype(dtype))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_gradients_match_finite_differences(backend, activation, rng):
    x, w, b = (xg.asarray(a, backend=backend) for a in _arrays(rng))
    check_grads(lambda x, w, b: xg.nn.linear(x, w, b, activation=activation), (x, w, b))


@pytest.mark.parametrize("activation", ["tanh", "sigmoid"])
def test_second_order_gradients_match_finite_differences(activation, rng):
    """Nested tapes differentiate the generic rules (the kernels are first-order only)."""
    x, w, b = (xg.asarray(a, backend="numpy") for a in _arrays(rng, n=3, n_in=2, n_out=2))
    check_grads(lambda x, w, b: xg.nn.linear(x, w, b, activation=activation), (x, w, b),
                order=2)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_matches_pytorch(backend, activation, rng):
    torch = pytest.importorskip("torch")
    arrays = _arrays(rng)
    got_values, got_grads = xpgrad_values_and_grads(
        lambda x, w, b: xg.nn.linear(x, w, b, activation=activation), arrays, backend=backend)
    torch_act = {"relu": torch.relu, "tanh": torch.tanh, "sigmoid": torch.sigmoid}[activation]
    want_values, want_grads = torch_values_and_grads(lambda x, w, b: torch_act(x @ w + b),
                                                     arrays)
    np.testing.assert_allclose(got_values[0], want_values[0], rtol=1e-12, atol=1e-14)
    for got, want in zip(got_grads, want_grads):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-13)


def _values_and_grads(fn, arrays, backend, dtype, seed=1):
    """The output and the gradients of ``sum(out * r)`` for ``x``, ``w`` and ``b``."""
    x, w, b = (xg.asarray(a, backend=backend) for a in arrays)
    wv, bv = xg.Variable(w), xg.Variable(b)
    r = np.random.default_rng(seed).standard_normal((arrays[0].shape[0], arrays[1].shape[1]))
    with xg.GradientTape() as tape:
        tape.watch(x)
        out = fn(x, wv, bv)
        loss = xg.sum(out * xg.asarray(r.astype(dtype), backend=backend))
    return [out.numpy()] + [g.numpy() for g in tape.gradient(loss, [x, wv, bv])]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_fused_equals_the_two_ops_and_numpy(activation, backend, dtype, rng):
    """The one primitive gives what ``act(linear(...))`` gives, on every backend, and each
    backend what NumPy gives (to float rounding)."""
    arrays = _arrays(rng, n=33, n_in=19, n_out=13, dtype=dtype)
    fused = _values_and_grads(lambda x, w, b: xg.nn.linear(x, w, b, activation=activation),
                              arrays, backend, dtype)
    apart = _values_and_grads(lambda x, w, b: UNFUSED[activation](xg.nn.linear(x, w, b)),
                              arrays, backend, dtype)
    on_numpy = _values_and_grads(lambda x, w, b: xg.nn.linear(x, w, b, activation=activation),
                                 arrays, "numpy", dtype)
    tol = dict(rtol=2e-6, atol=2e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
    for got, unfused, numpy_value in zip(fused, apart, on_numpy):
        assert got.dtype == dtype
        np.testing.assert_allclose(got, unfused, **tol)
        np.testing.assert_allclose(got, numpy_value, **tol)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_kernel_equals_generic_rules(backend, activation, rng):
    """The backend's kernel, forward and vjp (in place and not, each input wanted or not),
    against the primitive's generic forward and joint rule on raw arrays."""
    import array_api_compat.numpy as xp

    prim = PRIMITIVES[f"linear_{activation}"]
    kernel = xg.get_backend(backend).kernels[prim.name]
    x, w, b = _arrays(rng, n=9, n_in=6, n_out=5, dtype=np.float32)
    y, saved = kernel.forward(x, w, b)
    want = prim.forward(xp, x, w, b)
    np.testing.assert_allclose(y, want, rtol=1e-6, atol=1e-6)
    g = rng.standard_normal(y.shape).astype(np.float32)
    for needs in ((True, True, True), (False, True, True), (True, False, False)):
        reference = prim.vjp(xp, g, want, needs, (x, w, b), {})
        for vjp in (kernel.vjp, kernel.vjp_in_place):
            got = vjp(g.copy(), saved, needs, x, w, b)
            for gi, ri in zip(got, reference):
                assert (gi is None) == (ri is None)
                if ri is not None:
                    np.testing.assert_allclose(gi, ri, rtol=1e-5, atol=1e-5)



@pytest.mark.parametrize("n", [9, 700], ids=["one block", "blocks of rows"])
@pytest.mark.parametrize("writeable", [True, False])
def test_numpy_relu_in_place_vjp_equals_the_vjp(n, writeable, rng):
    """The NumPy kernel's in-place ReLU backward, on a writable gradient of one block (masked
    in place), of several blocks (700x128 > 65536 entries) and on a read-only one, against its
    plain vjp; NaN and inf in the gradient where the output is 0 give NaN in both."""
    kernel = xg.get_backend("numpy").kernels["linear_relu"]
    x, w, b = _arrays(rng, n=n, n_in=6, n_out=128, dtype=np.float32)
    y, saved = kernel.forward(x, w, b)
    g = rng.standard_normal(y.shape).astype(np.float32)
    zeros = np.argwhere(y == 0)
    g[tuple(zeros[0])], g[tuple(zeros[1])] = np.nan, np.inf
    given = g.copy()
    given.flags.writeable = writeable
    with np.errstate(invalid="ignore"):             # inf * 0
        expected = kernel.vjp(g.copy(), saved, (True, True, True), x, w, b)
        got = kernel.vjp_in_place(given, saved, (True, True, True), x, w, b)
    assert np.isnan(got[2]).any()
    for gi, ei in zip(got, expected):
        np.testing.assert_array_equal(gi, ei)

@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_numba_threaded_branches_equal_the_one_pass_loops(activation, rng, monkeypatch):
    """From ``PAR_MIN`` entries the kernel runs threaded blocks and NumPy's column sum; the
    results equal the one-pass loops'."""
    pytest.importorskip("numba")
    from xpgrad.backends.numba import _config

    kernel = xg.get_backend("numba").kernels[f"linear_{activation}"]
    x, w, b = _arrays(rng, n=50, n_in=8, n_out=12, dtype=np.float32)
    g = rng.standard_normal((50, 12)).astype(np.float32)
    serial = [kernel.forward(x, w, b)[0]]
    serial += list(kernel.vjp(g, serial[0], (True, True, True), x, w, b))
    monkeypatch.setattr(_config, "PAR_MIN", 16)
    monkeypatch.setattr(_config, "BLOCK", 48)            # several blocks of 4 rows
    threaded = [kernel.forward(x, w, b)[0]]
    threaded += list(kernel.vjp(g, threaded[0], (True, True, True), x, w, b))
    in_place = kernel.vjp_in_place(g.copy(), threaded[0], (True, True, True), x, w, b)
    for a, c, d in zip(serial, threaded, [None, *in_place]):
        np.testing.assert_allclose(c, a, rtol=1e-6, atol=1e-6)
        if d is not None:
            np.testing.assert_allclose(d, a, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("backend", BACKENDS)
def test_kernel_declines_what_it_does_not_cover(backend, rng):
    """Mixed dtypes and a scalar seed are left to the generic rules; a broadcast seed (a
    ``sum``'s gradient) and a strided slice's gradient give what the two ops give."""
    x, w, b = _arrays(rng, dtype=np.float32)
    kernel = xg.get_backend(backend).kernels["linear_relu"]
    assert kernel.forward(x, w.astype(np.float64), b) is None
    y, saved = kernel.forward(x, w, b)
    assert kernel.vjp(np.float32(1.0), saved, (True, True, True), x, w, b) == \
        (NotImplemented,) * 3
    xt = xg.asarray(x, backend=backend)
    for w_dtype in (np.float32, np.float64):
        wv, bv = xg.Variable(w.astype(w_dtype), backend=backend), xg.Variable(b, backend=backend)
        for pick in (lambda t: t, lambda t: t[:, ::2]):
            grads = []
            for fn in (lambda: xg.nn.linear(xt, wv, bv, activation="relu"),
                       lambda: xg.nn.relu(xg.nn.linear(xt, wv, bv))):
                with xg.GradientTape() as tape:
                    loss = xg.sum(pick(fn()))
                grads.append([g.numpy() for g in tape.gradient(loss, [wv, bv])])
            for a, c in zip(*grads):
                assert a.dtype == c.dtype
                np.testing.assert_allclose(a, c, rtol=1e-6, atol=1e-6)


def _assert_same_loss_and_gradients(model, by_hand, x):
    """``sum(f(x)^2)`` and its gradients for the model's variables agree, f the model and
    ``by_hand``."""
    results = []
    for fn in (model, by_hand):
        with xg.GradientTape() as tape:
            loss = xg.sum(fn(x) * fn(x))
        results.append([loss.numpy()] + [g.numpy() for g in tape.gradient(
            loss, model.trainable_variables)])
    for a, c in zip(*results):
        np.testing.assert_allclose(a, c, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("activation", ["relu", "tanh", xg.nn.sigmoid, "linear"])
def test_mlp_equals_its_layers_applied_one_by_one(backend, activation):
    """An MLP (which fuses relu, tanh and sigmoid into its Linear layers) computes what its
    layers and activation compute applied in turn, forward and gradients."""
    model = xg.nn.MLP([6, 5, 4, 3], activation=activation, rng=xg.random.default_rng(2),
                      backend=backend)
    x = xg.asarray(np.random.default_rng(3).standard_normal((8, 6)).astype(np.float32),
                   backend=backend)
    act = model.activation

    def by_hand(x):
        for i, layer in enumerate(model.layers):
            x = layer(x)
            if i < len(model.layers) - 1 and act is not None:
                x = act(x)
        return x

    _assert_same_loss_and_gradients(model, by_hand, x)


def test_linear_refuses_an_unknown_activation():
    x, w, b = xg.ones((2, 3)), xg.ones((3, 4)), xg.ones(4)
    with pytest.raises(ValueError, match="activation must be None, one of"):
        xg.nn.linear(x, w, b, activation="gelu")
    with pytest.raises(ValueError, match="activation"):
        xg.nn.linear(x, w, b, activation=3)
    with pytest.raises(ValueError, match="do not fit"):
        xg.nn.linear(x, xg.ones((2, 4)), b, activation="relu")


def test_linear_applies_any_callable_activation_after():
    x, w, b = xg.ones((2, 3)), xg.ones((3, 4)), xg.ones(4)
    got = xg.nn.linear(x, w, b, activation=xg.nn.softplus).numpy()
    np.testing.assert_allclose(got, xg.nn.softplus(xg.nn.linear(x, w, b)).numpy())
    # no bias: the activation still applies
    np.testing.assert_allclose(xg.nn.linear(x, -w, activation="relu").numpy(), 0.0)


def test_complex_input_takes_the_two_ops():
    x = xg.asarray(np.array([[1 + 1j, 2 - 1j]]))
    w, b = xg.asarray(np.array([[0.5, 1j], [1.0, -1.0]])), xg.asarray(np.array([0.1, 0.2j]))
    np.testing.assert_allclose(xg.nn.linear(x, w, b, activation="tanh").numpy(),
                               xg.tanh(xg.nn.linear(x, w, b)).numpy())


@pytest.mark.parametrize("backend", BACKENDS)
def test_sequential_equals_its_layers_applied_one_by_one(backend):
    """A Sequential fuses a Linear with the ReLU, Tanh or Sigmoid (layer or function) after
    it; the result and the gradients are those of the layers applied in turn. An activation
    layer of another class (a subclass, say) is applied as it is."""
    class Halved(xg.nn.ReLU):
        def forward(self, x):
            return xg.nn.relu(x) * 0.5

    rng = xg.random.default_rng(4)
    layers = [xg.nn.Linear(6, 5, rng=rng, backend=backend), xg.nn.ReLU(),
              xg.nn.Linear(5, 5, rng=rng, backend=backend), xg.tanh,
              xg.nn.Linear(5, 4, rng=rng, backend=backend), Halved(),
              xg.nn.Linear(4, 3, rng=rng, backend=backend), xg.nn.Sigmoid()]
    model = xg.nn.Sequential(layers)
    x = xg.asarray(np.random.default_rng(3).standard_normal((8, 6)).astype(np.float32),
                   backend=backend)

    def by_hand(x):
        for layer in layers:
            x = layer(x)
        return x

    _assert_same_loss_and_gradients(model, by_hand, x)


@pytest.mark.parametrize("backend", BACKENDS)
def test_mlp_records_one_node_per_layer(backend):
    """The MLP's hidden layers are recorded as ``linear_relu`` nodes (one each), not as a
    linear and a relu: what the speed of an eager step rests on."""
    from xpgrad.primitive import BY_INDEX

    model = xg.nn.MLP([6, 5, 4, 3], rng=xg.random.default_rng(2), backend=backend)
    x = xg.asarray(np.ones((2, 6), np.float32), backend=backend)
    with xg.GradientTape(persistent=True) as tape:
        model(x)
    assert [BY_INDEX[node[0]].name for node in tape._nodes] == \
        ["linear_relu", "linear_relu", "linear"]


@pytest.mark.parametrize("name", ["relu", "tanh", "sigmoid"])
def test_linear_fuses_the_activation_given_as_its_function(name):
    """``activation=xg.nn.relu`` is ``activation="relu"``: one node, the same values."""
    from xpgrad.primitive import BY_INDEX

    rng = np.random.default_rng(5)
    x, w, b = (xg.asarray(rng.normal(size=s).astype(np.float32), backend="numba")
               for s in ((4, 3), (3, 2), (2,)))
    fn = getattr(xg.nn, name)
    with xg.GradientTape(persistent=True) as tape:
        tape.watch([x, w, b])
        y = xg.nn.linear(x, w, b, activation=fn)
    assert [BY_INDEX[node[0]].name for node in tape._nodes] == [f"linear_{name}"]
    np.testing.assert_allclose(y.numpy(), fn(xg.nn.linear(x, w, b)).numpy(), rtol=1e-6)


@pytest.mark.skipif("numba" not in BACKENDS, reason="needs the numba backend")
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_numba_kernel_takes_the_broadcast_seed_of_a_sum(activation):
    # the gradient of sum(...) reaches the last layer as a broadcast (0-stride) array; the Numba
    # kernel once declined it and the generic rule, which reads an output the node never kept,
    # raised a TypeError. Two layers sharing w and b, as in an MLP whose loss is a plain sum
    rng = np.random.default_rng(4)
    arrays = (rng.normal(size=(32, 256)).astype(np.float32),
              (rng.normal(size=(256, 256)) / 16).astype(np.float32),
              rng.normal(size=256).astype(np.float32))

    def gradients(backend):
        x, w, b = (xg.asarray(a, backend=backend) for a in arrays)
        with xg.GradientTape() as tape:
            tape.watch([x, w, b])
            h = xg.nn.linear(x, w, b, activation=activation)
            loss = xg.sum(xg.nn.linear(h, w, b, activation=activation))
        return [g.numpy() for g in tape.gradient(loss, [x, w, b])]

    for got, want in zip(gradients("numba"), gradients("numpy")):
        np.testing.assert_allclose(got, want, rtol=2e-5, atol=2e-5 * np.abs(want).max())
