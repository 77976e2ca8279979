"""RMSNorm / rms_norm: values and gradients against PyTorch (float64 and float32, eps=None the
dtype's machine epsilon), finite differences (first and second order), the Numba kernel
against the generic rule, numba == numpy, xg.function replay == eager, the state dict, and bad
input."""
import numpy as np
import pytest

import xpgrad as xg
from conftest import backend_report
from xpgrad import nn

torch = pytest.importorskip("torch", reason="PyTorch is not installed: no comparison")


def _need_numba():
    row = backend_report().get("numba", {"available": False, "reason": "not registered"})
    if not row["available"]:
        pytest.skip(f"numba: {row['reason']}")


TOL = {"float64": dict(rtol=1e-11, atol=1e-12), "float32": dict(rtol=2e-5, atol=2e-5)}


@pytest.mark.parametrize("backend", ["numpy", "numba"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("shape, normalized, affine, eps", [
    ((4, 6), 6, True, None), ((2, 3, 5), (3, 5), True, 1e-3), ((3, 7), (7,), False, None),
    ((5,), 5, True, 0.5), ((2, 1, 4), 4, True, 0.0)])
def test_rms_norm_module_matches_torch(backend, dtype, shape, normalized, affine, eps, rng):
    if backend == "numba":
        _need_numba()
    tdt = getattr(torch, dtype)
    ref = torch.nn.RMSNorm(normalized, eps=eps, elementwise_affine=affine, dtype=tdt)
    with torch.no_grad():                      # a weight away from its ones init
        for p in ref.parameters():
            p.copy_(torch.tensor(rng.standard_normal(tuple(p.shape))))
    ours = nn.RMSNorm(normalized, eps=eps, elementwise_affine=affine, dtype=dtype,
                      backend=backend)
    ours.load_torch_state_dict(ref.state_dict())
    x = (rng.standard_normal(shape) * 3 + 1).astype(dtype)
    ct = rng.standard_normal(shape).astype(dtype)
    xt = xg.asarray(x, backend=backend)
    with xg.GradientTape() as tape:
        tape.watch(xt)
        out = ours(xt)
        loss = xg.sum(out * xg.asarray(ct, backend=backend))
    grads = tape.gradient(loss, [xt] + ours.trainable_variables)
    tx = torch.tensor(x, requires_grad=True)
    tout = ref(tx)
    (tout * torch.tensor(ct)).sum().backward()
    assert out.dtype == dtype and out.shape == shape
    np.testing.assert_allclose(out.numpy(), tout.detach().numpy(), **TOL[dtype])
    want = [tx.grad] + [p.grad for p in ref.parameters()]
    assert len(grads) == len(want) == 1 + affine
    for a, b in zip(grads, want):
        np.testing.assert_allclose(a.numpy(), b.numpy(), **TOL[dtype])


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_rms_norm_function_matches_torch_functional(dtype, rng):
    x = rng.standard_normal((3, 4, 5)).astype(dtype)
    w = rng.standard_normal((4, 5)).astype(dtype)
    for weight, eps in ((None, None), (w, None), (w, 1e-2), (None, 0.3)):
        ours = xg.nn.rms_norm(xg.asarray(x), (4, 5), None if weight is None else
                              xg.asarray(weight), eps=eps)
        ref = torch.nn.functional.rms_norm(torch.tensor(x), (4, 5), None if weight is None
                                           else torch.tensor(weight), eps=eps)
        np.testing.assert_allclose(ours.numpy(), ref.numpy(), **TOL[dtype])
    # eps=None is the dtype's machine epsilon: entries of sqrt(eps) give 1 / sqrt(2)
    tiny = np.full((1, 4), np.sqrt(np.finfo(dtype).eps), dtype)
    want = torch.nn.functional.rms_norm(torch.tensor(tiny), (4,)).numpy()
    np.testing.assert_allclose(xg.nn.rms_norm(xg.asarray(tiny), 4).numpy(), want, rtol=1e-6)
    np.testing.assert_allclose(want, np.sqrt(0.5), rtol=1e-6)


@pytest.mark.parametrize("which", ["x", "x, weight"])
@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_rms_norm_gradients_match_finite_differences(which, backend, rng):
    """Second order runs the generic rule with the differentiable namespace (on numba too:
    kernels serve first-order passes only)."""
    if backend == "numba":
        _need_numba()
    names = which.split(", ")
    shapes = {"x": (3, 2, 4), "weight": (2, 4)}
    args = [xg.asarray(rng.standard_normal(shapes[n]), backend=backend) for n in names]

    def f(*values):
        given = dict(zip(names, values))
        return nn.rms_norm(given["x"], (2, 4), given.get("weight"), eps=1e-3)

    xg.testing.check_grads(f, args, order=2)


def test_rms_norm_numba_kernel_matches_generic_rule_and_declines(rng):
    """The Numba row kernel against the primitive's generic rule (the kernel taken out),
    float32 and float64, a strided input, a broadcast gradient; other dtypes, mixed dtypes and
    empty inputs decline to the generic rule."""
    _need_numba()
    be = xg.get_backend("numba")
    kernel = be.kernels["rms_norm"]
    for dtype, tol in (("float64", dict(rtol=1e-12, atol=1e-12)),
                       ("float32", dict(rtol=3e-5, atol=3e-5))):
        x = xg.asarray(rng.standard_normal((6, 9)).astype(dtype), backend="numba")
        w = xg.asarray(rng.standard_normal(5).astype(dtype), backend="numba")
        results = []
        for use_kernel in (True, False):
            if not use_kernel:
                del be.kernels["rms_norm"]
            try:
                with xg.GradientTape() as tape:
                    tape.watch([x, w])
                    y = nn.rms_norm(x[:, 2:7], 5, w, eps=1e-4)      # a strided input
                    loss = xg.sum(y ** 3) + xg.sum(nn.rms_norm(x, 9))
                results.append([y.numpy()] + [g.numpy() for g in tape.gradient(loss, [x, w])])
            finally:
                be.kernels["rms_norm"] = kernel
        for a, b in zip(*results):
            np.testing.assert_allclose(a, b, **tol)
    assert kernel.forward(np.ones((2, 3), np.float16), k=1, eps=1e-5) is None
    assert kernel.forward(np.ones((2, 3)), np.ones(3, np.float32), k=1, eps=1e-5) is None
    assert kernel.forward(np.ones((0, 3)), k=1, eps=1e-5) is None
    gx, gw = kernel.vjp(np.ones((2, 3)), kernel.forward(np.ones((2, 3)), np.ones(3), k=1,
                                                        eps=0.0)[1],
                        (True, False), np.ones((2, 3)), np.ones(3), k=1, eps=0.0)
    assert gw is None and np.allclose(gx, 0.0)       # d(x / rms(x)) along x itself is 0


def test_rms_norm_numba_agrees_with_numpy(rng):
    _need_numba()
    x = rng.standard_normal((8, 3, 16)).astype(np.float32)
    ct = rng.standard_normal((8, 3, 16)).astype(np.float32)
    results = []
    for be in ("numpy", "numba"):
        norm = nn.RMSNorm((3, 16), backend=be)
        norm.weight.assign(xg.asarray(np.linspace(0.5, 1.5, 48).reshape(3, 16), dtype="float32",
                                      backend=be))
        xt = xg.asarray(x, backend=be)
        with xg.GradientTape() as tape:
            tape.watch(xt)
            out = norm(xt)
            loss = xg.sum(out * xg.asarray(ct, backend=be))
        results.append([out.numpy()] + [g.numpy() for g in
                                        tape.gradient(loss, [xt, norm.weight])])
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_rms_norm_under_function_replays_as_eager(backend, rng):
    if backend == "numba":
        _need_numba()
    model = nn.Sequential([nn.Linear(6, 8, rng=0, dtype="float64", backend=backend),
                           nn.RMSNorm(8, dtype="float64", backend=backend), nn.Tanh(),
                           nn.Linear(8, 1, rng=1, dtype="float64", backend=backend)])
    variables = model.trainable_variables

    def step(x, y):
        with xg.GradientTape() as tape:
            loss = xg.losses.mse(model(x), y)
        return loss, tape.gradient(loss, variables)

    compiled = xg.function(step)
    for _ in range(3):
        x = xg.asarray(rng.standard_normal((5, 6)), backend=backend)
        y = xg.asarray(rng.standard_normal((5, 1)), backend=backend)
        got, want = compiled(x, y), step(x, y)
        np.testing.assert_allclose(got[0].numpy(), want[0].numpy(), rtol=1e-13)
        for a, b in zip(got[1], want[1]):
            np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-11, atol=1e-14)


def test_rms_norm_state_dict_parameters_and_repr():
    norm = nn.RMSNorm((2, 3), eps=1e-6, name="norm")
    assert [v.name for v in norm.trainable_variables] == ["norm/weight"]
    assert list(norm.named_variables()) == ["norm/weight"]
    assert norm.weight.shape == (2, 3) and norm.weight.dtype == xg.float32
    assert nn.RMSNorm(4, elementwise_affine=False).trainable_variables == []
    assert nn.RMSNorm(4, elementwise_affine=False).torch_state_dict() == {}
    ref = torch.nn.RMSNorm((2, 3), eps=1e-6)
    with torch.no_grad():
        ref.weight.copy_(torch.arange(6.0).reshape(2, 3))
    norm.load_torch_state_dict(ref.state_dict())
    back = torch.nn.RMSNorm((2, 3), eps=1e-6)
    back.load_state_dict({k: torch.tensor(v) for k, v in norm.torch_state_dict().items()})
    np.testing.assert_array_equal(back.weight.detach().numpy(), ref.weight.detach().numpy())
    x = np.random.default_rng(0).standard_normal((4, 2, 3)).astype(np.float32)
    np.testing.assert_allclose(norm(xg.asarray(x)).numpy(),
                               back(torch.tensor(x)).detach().numpy(), rtol=1e-5, atol=1e-6)
    state = norm.state_dict()
    fresh = nn.RMSNorm((2, 3), eps=1e-6, name="norm")
    fresh.load_state_dict(state)
    np.testing.assert_array_equal(fresh.weight.numpy(), norm.weight.numpy())
    assert "normalized_shape=(2, 3), eps=1e-06, elementwise_affine=True" in repr(norm)
    assert "eps=None" in repr(nn.RMSNorm(3))
    assert isinstance(nn.Sequential([nn.Linear(3, 3, rng=0), nn.RMSNorm(3)])(xg.ones((2, 3))),
                      xg.Tensor)


def test_rms_norm_bad_input():
    with pytest.raises(ValueError, match=r"RMSNorm: normalized_shape must be a non-negative "
                                         r"integer or a non-empty tuple of them, got \(\)"):
        nn.RMSNorm(())
    with pytest.raises(TypeError, match="RMSNorm: normalized_shape must be .* got 2.0"):
        nn.RMSNorm(2.0)
    for eps in (-1e-5, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="RMSNorm: eps must be a finite number >= 0"):
            nn.RMSNorm(3, eps=eps)
    with pytest.raises(ValueError, match="rms_norm: eps must be a finite number >= 0"):
        nn.rms_norm(xg.ones((2, 3)), 3, eps=-1.0)
    with pytest.raises(TypeError, match="RMSNorm: elementwise_affine"):
        nn.RMSNorm(3, elementwise_affine="yes")
    norm = nn.RMSNorm((2, 3))
    with pytest.raises(ValueError, match=r"RMSNorm: the input's last axes must be "
                                         r"normalized_shape = \(2, 3\), got an input of shape "
                                         r"\(4, 3\)"):
        norm(xg.ones((4, 3)))
    with pytest.raises(ValueError, match=r"rms_norm: the input's last axes must be "
                                         r"normalized_shape = \(4,\)"):
        nn.rms_norm(xg.ones((2, 3)), 4)
    with pytest.raises(TypeError, match="RMSNorm has float32 weights but got a float64 input"):
        norm(xg.ones((2, 3), dtype="float64"))
    with pytest.raises(TypeError, match="rms_norm needs a floating-point input, got int64"):
        nn.rms_norm(xg.asarray([[1, 2, 3]]), 3)
    with pytest.raises(ValueError, match=r"rms_norm: weight must have shape normalized_shape "
                                         r"= \(3,\), got \(2,\)"):
        nn.rms_norm(xg.ones((2, 3)), 3, xg.ones(2))
    with pytest.raises(TypeError, match="rms_norm: weight is float64 but the input is float32"):
        nn.rms_norm(xg.ones((2, 3)), 3, xg.ones(3, dtype="float64"))
    with pytest.raises(TypeError, match="rms_norm: weight must be a tensor or numbers"):
        nn.rms_norm(xg.ones((2, 3)), 3, "abc")
    with pytest.raises(ValueError, match=r"'weight' has shape \(2,\), this RMSNorm needs"):
        nn.RMSNorm(3).load_torch_state_dict({"weight": np.ones(2)})
    with pytest.raises(ValueError, match=r"unexpected keys \['weight'\]"):
        nn.RMSNorm(3, elementwise_affine=False).load_torch_state_dict({"weight": np.ones(3)})
