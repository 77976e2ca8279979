"""The eager training step's short ways give what the general ones give, bit for bit: a
three-Tensor ``apply`` (a linear layer's x, w, b), ``linear``'s shape checks on raw arrays,
``Linear.forward`` reading its own weights, and ``apply_gradients``' inline pair, gradient and
state checks; and PyTorch's values and gradients in float64."""
import numpy as np
import pytest

import xpgrad as xg
from conftest import backend_report
from xpgrad.ops.nn import _linear
from xpgrad.primitive import apply

torch = pytest.importorskip("torch")

BACKENDS = ["numpy"] + (["numba"] if "numba" in backend_report() else [])


def _arrays(seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(5, 4)), rng.normal(size=(4, 3)), rng.normal(size=3)


def _linear_grads(x, w, b, as_raw, backend):
    """``sum(linear(x, w, b) ** 2)`` and its gradients; ``as_raw``: w given as a raw array,
    which takes apply's general way (converted there), its gradient then read off a copy."""
    xt = xg.asarray(x, backend=backend)
    wv = xg.Variable(xg.asarray(w, backend=backend))
    bv = xg.Variable(xg.asarray(b, backend=backend))
    with xg.GradientTape() as tape:
        tape.watch(xt)
        if as_raw:
            y = apply(_linear, xt, xg.asarray(w, backend=backend), bv)
        else:
            y = apply(_linear, xt, wv, bv)
        loss = xg.sum(y * y)
    return [t.numpy() for t in [y, *tape.gradient(loss, [xt, bv])]]


@pytest.mark.parametrize("backend", BACKENDS)
def test_apply_of_three_tensors_equals_the_general_way_and_pytorch(backend):
    x, w, b = _arrays()
    short = _linear_grads(x, w, b, False, backend)
    general = _linear_grads(x, w, b, True, backend)
    for s, g in zip(short, general):
        np.testing.assert_array_equal(s, g)
    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    y = xt @ wt + bt
    (y * y).sum().backward()
    for mine, ref in zip(short, [y.detach(), xt.grad, bt.grad]):
        np.testing.assert_allclose(mine, ref.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.usefixtures("numpy_default")
def test_apply_of_three_tensors_on_two_backends_names_both():
    if "numba" not in BACKENDS:
        pytest.skip("needs a second CPU backend")
    x, w, b = _arrays()
    with pytest.raises(xg.MixedBackendError):
        apply(_linear, xg.asarray(x), xg.asarray(w), xg.asarray(b, backend="numba"))


@pytest.mark.parametrize("w_shape, b_shape", [((4,), (3,)), ((3, 3), (3,)), ((4, 3), (4,)),
                                              ((4, 3), (1, 3))])
def test_linear_refuses_weights_that_do_not_fit_with_a_value_error(w_shape, b_shape):
    x = xg.ones((5, 4))
    for make in (xg.ones, lambda s: xg.Variable(xg.ones(s)), np.ones):
        with pytest.raises(ValueError, match="linear: x .* do not fit"):
            xg.nn.linear(x, make(w_shape), make(b_shape))


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_linear_layer_equals_linear_and_its_tied_twin_and_pytorch(backend):
    x, w, b = _arrays(1)
    own = xg.nn.Linear(4, 3, dtype=xg.float64, backend=backend)
    own.w.assign(xg.asarray(w, backend=backend))
    own.b.assign(xg.asarray(b, backend=backend))
    tied = xg.nn.Linear(4, 3, dtype=xg.float64, backend=backend)
    tied.weight = xg.Variable(xg.asarray(np.ascontiguousarray(w.T), backend=backend))
    tied.b.assign(xg.asarray(b, backend=backend))
    xt = xg.asarray(x, backend=backend)
    outs = []
    for layer in (own, tied):
        with xg.GradientTape() as tape:
            loss = xg.sum(layer(xt) ** 2)
        gw = tape.gradient(loss, own.w if layer is own else tied.weight).numpy()
        outs.append((layer(xt).numpy(), gw if layer is own else gw.T))
    np.testing.assert_array_equal(outs[0][0], outs[1][0])
    np.testing.assert_allclose(outs[0][1], outs[1][1], rtol=1e-12, atol=1e-12)
    lin = torch.nn.Linear(4, 3).double()
    with torch.no_grad():
        lin.weight.copy_(torch.from_numpy(w.T.copy()))
        lin.bias.copy_(torch.from_numpy(b))
    (lin(torch.from_numpy(x)) ** 2).sum().backward()
    np.testing.assert_allclose(outs[0][1], lin.weight.grad.numpy().T, rtol=1e-12, atol=1e-12)


def _sgd_steps(grads_as, backend, steps=3):
    """Three SGD(momentum=0.9) updates of two Variables, the gradients given ``grads_as``:
    "tensor" (the inline checks), "array" or "list pairs" (the general ones)."""
    rng = np.random.default_rng(2)
    vs = [xg.Variable(xg.asarray(rng.normal(size=s), backend=backend), name=f"v{i}")
          for i, s in enumerate([(3, 2), (2,)])]
    opt = xg.optim.SGD(0.1, momentum=0.9)
    for k in range(steps):
        gs = [np.full(v.shape, 0.5 + k) * np.arange(1, v.size + 1).reshape(v.shape) for v in vs]
        if grads_as == "tensor":
            pairs = zip([xg.asarray(g, backend=backend) for g in gs], vs)
        elif grads_as == "array":
            pairs = zip(gs, vs)
        else:
            pairs = [[xg.asarray(g, backend=backend), v] for g, v in zip(gs, vs)]
        opt.apply_gradients(pairs)
    return [v.numpy() for v in vs]


@pytest.mark.parametrize("backend", BACKENDS)
def test_apply_gradients_inline_checks_equal_the_general_ones_and_pytorch(backend):
    short = _sgd_steps("tensor", backend)
    for other in ("array", "list pairs"):
        for s, g in zip(short, _sgd_steps(other, backend)):
            np.testing.assert_array_equal(s, g)
    rng = np.random.default_rng(2)
    ps = [torch.nn.Parameter(torch.from_numpy(rng.normal(size=s))) for s in [(3, 2), (2,)]]
    opt = torch.optim.SGD(ps, lr=0.1, momentum=0.9)
    for k in range(3):
        for p in ps:
            p.grad = torch.full(p.shape, 0.5 + k, dtype=torch.float64) * \
                torch.arange(1, p.numel() + 1, dtype=torch.float64).reshape(p.shape)
        opt.step()
    for mine, p in zip(short, ps):
        np.testing.assert_allclose(mine, p.detach().numpy(), rtol=1e-12, atol=1e-14)


def test_apply_gradients_still_names_bad_pairs_and_gradients():
    w = xg.Variable([1.0, 2.0], name="w")
    opt = xg.optim.SGD(0.1)
    with pytest.raises(ValueError, match=r"No gradients provided for any variable: \['w'\]"):
        opt.apply_gradients([(None, w)])
    with pytest.raises(ValueError, match="appears twice"):
        opt.apply_gradients([(xg.ones(2), w), (xg.ones(2), w)])
    with pytest.raises(ValueError, match="gradient for 'w' has shape"):
        opt.apply_gradients([(xg.ones(3), w)])
    with pytest.raises(TypeError, match="gradient for 'w' has dtype"):
        opt.apply_gradients([(xg.asarray([1, 2]), w)])
    with pytest.raises(TypeError, match="updates Variables in place"):
        opt.apply_gradients([(xg.ones(2), xg.ones(2))])
    with pytest.raises(TypeError, match="takes .gradient, variable. pairs"):
        opt.apply_gradients([(xg.ones(2), w, 1)])
    assert w.tolist() == [1.0, 2.0]               # nothing changed on the way
