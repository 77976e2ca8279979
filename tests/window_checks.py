"""A value-and-gradient run of a convolution or pooling function, xpgrad's and PyTorch's, shared
by the conv1d/conv2d and pool1d/pool2d tests: the loss is ``sum(cos(arange(size)) * out)`` (out
the first output when the function returns several, as pooling with ``return_indices``), so
every output entry gets its own weight; the gradients are those of every array given (None
entries are passed through, not differentiated)."""
from __future__ import annotations

import numpy as np

import xpgrad as xg
from conftest import backend_report

#: numpy, and numba where it is installed
BACKENDS = ["numpy"] + (["numba"] if backend_report().get(
    "numba", {"available": False})["available"] else [])


def _first(out):
    return out[0] if isinstance(out, tuple) else out


def ours(fn, backend, arrays, kwargs):
    """``(fn(*arrays, **kwargs), [gradient of each non-None array])``, as Tensors."""
    given = [None if a is None else xg.asarray(a, backend=backend) for a in arrays]
    watched = [t for t in given if t is not None]
    with xg.GradientTape() as tape:
        for t in watched:
            tape.watch(t)
        out = fn(*given, **kwargs)
        y = _first(out)
        ct = xg.asarray(np.cos(np.arange(y.size)).reshape(y.shape), backend=backend)
        loss = xg.sum(y * ct)
    return out, tape.gradient(loss, watched)


def theirs(fn, arrays, kwargs):
    """The same with a torch function: ``(fn(...), [each non-None array's .grad as NumPy])``."""
    import torch

    given = [None if a is None else torch.tensor(a, requires_grad=True) for a in arrays]
    out = fn(*given, **kwargs)
    y = _first(out)
    (y * torch.tensor(np.cos(np.arange(y.numel())).reshape(y.shape))).sum().backward()
    return out, [t.grad.numpy() for t in given if t is not None]


def assert_raises_naming(call, error, words, torch_call=None):
    """``call()`` raises ``error`` with every one of ``words`` in its message; ``torch_call``,
    where given, fails in PyTorch too (the input is bad there as well)."""
    import pytest

    with pytest.raises(error) as info:
        call()
    for word in words:
        assert word in str(info.value), str(info.value)
    if torch_call is not None:
        with pytest.raises((RuntimeError, ValueError, TypeError)):
            torch_call()


def assert_layer_matches_torch(layer, ref, x, backend="numpy"):
    """An xpgrad layer and its float64 PyTorch twin ``ref`` (whose state dict ``layer`` loads,
    where it has one) agree on ``x``: the output, the indices where both return a pair, and
    the gradients of ``sum(y * y)`` for the input and every parameter."""
    import torch

    params = layer.variables
    if params:
        layer.load_torch_state_dict(ref.state_dict())
    xt = xg.asarray(x, backend=backend)
    with xg.GradientTape() as tape:
        tape.watch(xt)
        out = layer(xt)
        loss = xg.sum(_first(out) * _first(out))
    grads = tape.gradient(loss, [xt] + params)
    tx = torch.tensor(x, requires_grad=True)
    tout = ref(tx)
    (_first(tout) * _first(tout)).sum().backward()
    if isinstance(out, tuple):
        np.testing.assert_array_equal(out[1].numpy(), tout[1].numpy())
    np.testing.assert_allclose(_first(out).numpy(), _first(tout).detach().numpy(),
                               rtol=1e-12, atol=1e-12)
    for g, tg in zip(grads, [tx.grad] + [p.grad for p in ref.parameters()]):
        np.testing.assert_allclose(g.numpy(), tg.numpy(), rtol=1e-11, atol=1e-11)


def assert_complex_matches_torch(fn, torch_fn, x, w, kwargs):
    """``fn(x, w, **kwargs)`` on complex arrays and the gradients of ``sum(|y|^2)`` for ``x``
    and ``w`` equal PyTorch's (its conjugate-gradient convention is ours)."""
    import torch

    tx, tw = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    ty = torch_fn(tx, tw, **kwargs)
    (ty.abs() ** 2).sum().backward()
    xt, wt = xg.asarray(x), xg.asarray(w)
    with xg.GradientTape() as tape:
        tape.watch(xt)
        tape.watch(wt)
        y = fn(xt, wt, **kwargs)
        loss = xg.sum(xg.abs(y) ** 2)
    gx, gw = tape.gradient(loss, [xt, wt])
    for got, want in ((y, ty.detach()), (gx, tx.grad), (gw, tw.grad)):
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-12, atol=1e-12)


def assert_conv_kernel_matches_rule(kernel, y, saved, g, want_y, x, w, params, tol):
    """A ``conv`` kernel's forward ``(y, saved)`` and its vjp for every ``needs`` pair equal the
    primitive's generic rule (``want_y`` its forward) on raw NumPy arrays: dtype, shape and
    value, None where a gradient is not asked for."""
    from xpgrad.primitive import PRIMITIVES

    prim = PRIMITIVES["conv"]
    for needs in [(True, True), (True, False), (False, True)]:
        got = [y] + list(kernel.vjp(g, saved, needs, x, w, **params))
        want = [want_y] + list(prim.vjp(np, g, want_y, (True, True), (x, w), params))
        for what, a, b, need in zip(("y", "dx", "dw"), got, want, (True,) + needs):
            if not need:
                assert a is None, what
                continue
            assert a.dtype == b.dtype and a.shape == b.shape, what
            np.testing.assert_allclose(a, b, rtol=tol, atol=tol, err_msg=what)


def _gradient_of_layout(layout, shape, rng):
    """A random output gradient of ``shape`` (N, C, H, W) laid out as ``layout`` says: a
    ``"broadcast"`` scalar, a ``"transposed"`` view of channels-last memory, or a
    ``"strided"`` view of every other column."""
    if layout == "broadcast":
        return np.asarray(1.5)
    if layout == "transposed":
        return np.moveaxis(np.ascontiguousarray(np.moveaxis(rng.standard_normal(shape), 1, -1)),
                           -1, 1)
    return rng.standard_normal(shape[:3] + (2 * shape[3],))[..., ::2]


def assert_conv_vjp_takes_layout(kernel, x, w, params, layout, rng):
    """A ``conv`` kernel's vjp, given an output gradient of ``layout``
    (``_gradient_of_layout``), equals the primitive's generic rule (float64)."""
    from xpgrad.primitive import PRIMITIVES

    y, saved = kernel.forward(x, w, **params)
    g = _gradient_of_layout(layout, y.shape, rng)
    want = PRIMITIVES["conv"].vjp(np, np.broadcast_to(g, y.shape), y, (True, True), (x, w),
                                  params)
    for a, b in zip(kernel.vjp(g, saved, (True, True), x, w, **params), want):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def assert_numpy_conv_matches_torch(dims, arrays, kwargs):
    """``xg.nn.conv2d`` (``dims`` 2) or ``conv1d`` on the numpy backend of ``arrays`` (input,
    weight, bias) with ``kwargs``: output and every gradient of PyTorch's, in their dtype."""
    import torch

    conv = xg.nn.conv2d if dims == 2 else xg.nn.conv1d
    tconv = torch.nn.functional.conv2d if dims == 2 else torch.nn.functional.conv1d
    y, grads = ours(conv, "numpy", arrays, kwargs)
    ty, tgrads = theirs(tconv, arrays, kwargs)
    dtype = arrays[0].dtype
    tol = 1e-10 if dtype == np.float64 else 2e-4
    for what, a, t in zip(("y", "dx", "dw", "db"), [y.numpy()] + [g.numpy() for g in grads],
                          [ty.detach().numpy()] + tgrads):
        assert a.dtype == dtype, what
        np.testing.assert_allclose(a, t, rtol=tol, atol=tol, err_msg=what)


def assert_replay_equals_eager(step, shape, backend):
    """``xg.function(step)`` returns what ``step`` does, output by output, on three random
    float64 inputs of ``shape`` (the first call traces, the others replay)."""
    compiled = xg.function(step)
    for seed in range(3):
        x = xg.asarray(np.random.default_rng(seed).standard_normal(shape), backend=backend)
        for got, want in zip(compiled(x), step(x)):
            np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-13, atol=1e-13)


def assert_torch_uniform_init(layer, weight_shape, fan_in):
    """``layer``'s float32 weight and bias are drawn as PyTorch's: uniform on
    ``±1/sqrt(fan_in)`` (reaching near the bound, with the uniform's variance), C-contiguous."""
    import math

    bound = 1 / math.sqrt(fan_in)
    w, b = layer.weight.numpy(), layer.bias.numpy()
    assert w.shape == weight_shape and w.dtype == np.float32 and b.shape == weight_shape[:1]
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.95 * bound
    assert np.abs(b).max() <= bound and np.abs(b).max() > 0.8 * bound
    assert abs(w.var() - bound ** 2 / 3) < 0.1 * bound ** 2 / 3
    assert w.flags["C_CONTIGUOUS"]
