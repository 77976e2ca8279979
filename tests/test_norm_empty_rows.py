"""layer_norm, rms_norm, group_norm and InstanceNorm1d over rows of no entries (a 0 in
``normalized_shape``, channels or spatial axes) and over no rows: PyTorch's empty result, empty
input gradient and zero affine gradients, without a warning, on each backend with its kernel
and through the generic rule (the kernel taken out)."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import xpgrad as xg
from conftest import backend_report

torch = pytest.importorskip("torch", reason="PyTorch is not installed: no comparison")
F = torch.nn.functional
pytestmark = pytest.mark.usefixtures("numpy_default")


def _call(name, x, affine, normalized):
    """``name`` on ``x`` (xpgrad's or PyTorch's, as ``x`` is), with ``affine`` (weight and bias,
    or weight alone for rms_norm, or none)."""
    if isinstance(x, torch.Tensor):
        shape = (normalized,) if isinstance(normalized, int) else normalized
        return {"layer_norm": lambda: F.layer_norm(x, shape, *affine),
                "rms_norm": lambda: F.rms_norm(x, shape, *affine),
                "group_norm": lambda: F.group_norm(x, normalized, *affine)}[name]()
    return {"layer_norm": lambda: xg.nn.layer_norm(x, normalized, *affine),
            "rms_norm": lambda: xg.nn.rms_norm(x, normalized, *affine),
            "group_norm": lambda: xg.nn.group_norm(x, normalized, *affine)}[name]()


# (function, input shape, normalized_shape or groups, the affine parameters' shape)
CASES = [("layer_norm", (3, 0), (0,), (0,)), ("layer_norm", (0,), (0,), (0,)),
         ("layer_norm", (2, 0), 0, (0,)), ("layer_norm", (2, 3, 0), (3, 0), (3, 0)),
         ("layer_norm", (0, 3), (3,), (3,)),
         ("rms_norm", (3, 0), (0,), (0,)), ("rms_norm", (0,), (0,), (0,)),
         ("rms_norm", (2, 3, 0), (3, 0), (3, 0)), ("rms_norm", (0, 3), 3, (3,)),
         ("group_norm", (2, 4, 0), 2, (4,)), ("group_norm", (2, 0, 3), 1, (0,)),
         ("group_norm", (0, 4, 3), 2, (4,))]
PARAMETERS = {"layer_norm": 2, "rms_norm": 1, "group_norm": 2}


def _backends():
    numba = backend_report().get("numba", {}).get("available")
    return ["numpy"] + (["numba"] if numba else [])


def _ours(name, shape, normalized, affine_shape, count, dtype, backend):
    x = xg.asarray(np.zeros(shape, dtype), backend=backend)
    affine = [xg.asarray(np.full(affine_shape, 1.5 - i, dtype), backend=backend)
              for i in range(count)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with xg.GradientTape() as tape:
            tape.watch([x] + affine)
            y = _call(name, x, affine, normalized)
            loss = xg.sum(y * 2.0)
        grads = tape.gradient(loss, [x] + affine)
    return y, grads


def _theirs(name, shape, normalized, affine_shape, count, dtype):
    x = torch.zeros(shape, dtype=dtype, requires_grad=True)
    affine = [torch.full(affine_shape, 1.5 - i, dtype=dtype, requires_grad=True)
              for i in range(count)]
    y = _call(name, x, affine, normalized)
    grads = torch.autograd.grad((y * 2.0).sum(), [x] + affine, allow_unused=True)
    return y, [torch.zeros_like(t) if g is None else g for t, g in zip([x] + affine, grads)]


@pytest.mark.parametrize("kernel", [True, False], ids=["kernel", "generic_rule"])
@pytest.mark.parametrize("backend", _backends())
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name, shape, normalized, affine_shape", CASES)
@pytest.mark.parametrize("with_affine", [True, False])
def test_rows_of_no_entries_match_torch(name, shape, normalized, affine_shape, dtype, backend,
                                        kernel, with_affine, monkeypatch):
    if not kernel:
        monkeypatch.delitem(xg.get_backend(backend).kernels, name, raising=False)
    count = PARAMETERS[name] if with_affine else 0
    y, grads = _ours(name, shape, normalized, affine_shape, count, dtype, backend)
    ty, tgrads = _theirs(name, shape, normalized, affine_shape, count, getattr(torch,
                                                                                 dtype.__name__))
    assert y.shape == tuple(ty.shape) and y.dtype == np.dtype(dtype)
    for i, (g, tg) in enumerate(zip(grads, tgrads)):
        assert g.shape == tuple(tg.shape) and g.dtype == np.dtype(dtype), f"gradient {i}"
        if name == "group_norm" and i == 1 and shape[2] == 0:
            # PyTorch's weight gradient over groups of no entries is NaN (its 0 / 0 mean);
            # nothing depends on the weight there: 0, as its instance_norm's and layer_norm's
            assert np.isnan(tg.numpy()).all()
            tg = torch.zeros_like(tg)
        np.testing.assert_array_equal(g.numpy(), tg.numpy(), err_msg=f"gradient {i}")


@pytest.mark.parametrize("backend", _backends())
def test_layers_with_a_zero_size_match_torch(backend):
    """``nn.LayerNorm(0)`` and ``nn.RMSNorm((3, 0))`` are PyTorch's (empty parameters, empty
    output); ``nn.InstanceNorm1d`` over no positions too."""
    cases = [(xg.nn.LayerNorm(0, backend=backend), torch.nn.LayerNorm(0), (2, 0)),
             (xg.nn.RMSNorm((3, 0), backend=backend), torch.nn.RMSNorm((3, 0)), (2, 3, 0)),
             (xg.nn.InstanceNorm1d(4, affine=True, backend=backend),
              torch.nn.InstanceNorm1d(4, affine=True), (2, 4, 0))]
    for ours, theirs, shape in cases:
        x = xg.asarray(np.zeros(shape, np.float32), backend=backend)
        with xg.GradientTape() as tape:
            tape.watch(x)
            y = ours(x)
            loss = xg.sum(y)
        grads = tape.gradient(loss, [x] + list(ours.trainable_variables))
        tx = torch.zeros(shape, requires_grad=True)
        ty = theirs(tx)
        tgrads = torch.autograd.grad(ty.sum(), [tx] + list(theirs.parameters()))
        assert y.shape == tuple(ty.shape), type(ours).__name__
        for g, tg in zip(grads, tgrads):
            np.testing.assert_array_equal(g.numpy(), tg.numpy(), err_msg=type(ours).__name__)



@pytest.mark.parametrize("backend", _backends())
def test_instance_norm_over_no_positions_keeps_its_running_statistics(backend):
    """Training on (N, C, 0) leaves ``running_mean``/``running_var`` as PyTorch does (they
    turned NaN: the mean and variance of no entries)."""
    ours = xg.nn.InstanceNorm1d(3, track_running_stats=True, backend=backend)
    theirs = torch.nn.InstanceNorm1d(3, track_running_stats=True)
    ours(xg.asarray(np.zeros((2, 3, 0), np.float32), backend=backend))
    theirs(torch.zeros((2, 3, 0)))
    for name in ("running_mean", "running_var"):
        np.testing.assert_array_equal(getattr(ours, name).numpy(),
                                      getattr(theirs, name).numpy(), err_msg=name)

def test_negative_sizes_are_still_refused():
    with pytest.raises(ValueError, match=r"layer_norm: normalized_shape must be a non-negative "
                                         r"integer or a non-empty tuple of them, got \(3, -1\)"):
        xg.nn.layer_norm(xg.ones((2, 3)), (3, -1))
    with pytest.raises(ValueError, match="rms_norm: normalized_shape .* got -1"):
        xg.nn.rms_norm(xg.ones((2, 3)), -1)
