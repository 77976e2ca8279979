"""Workloads on single operations: a chain of small ops (tape overhead), a loss, an
activation, each forward or forward+backward."""
from __future__ import annotations

import numpy as np

from ._libs import (ACTIVATIONS, LOSSES, Unavailable, _jax_timed, _need, _xpgrad_module,
                    measured)

#: the longest chain timed on JAX, whose jit compiles the Python loop unrolled (the longer rows
#: ask whether a tape's cost per op stays flat: JAX keeps no tape)
JAX_CHAIN_LIMIT = 1000


def chain(lib, n_ops=100, size=4, mode="forward+gradient", compiled=False):
    """``n_ops`` chained elementwise ops (sin, *1.5, +0.1, tanh, ...) on a ``size`` vector,
    then a sum; ``mode`` "forward" runs it untaped, "forward+gradient" also differentiates.
    ``compiled``: xpgrad runs it as an ``xg.function`` (peers as always: PyTorch eager, JAX
    jit)."""
    if mode not in ("forward", "forward+gradient"):
        raise ValueError(f"mode must be 'forward' or 'forward+gradient', got {mode!r}")
    if lib.kind == "jax" and n_ops > JAX_CHAIN_LIMIT:
        raise Unavailable(f"JAX compiles the chain unrolled: about 16 s at 10k ops, over 17 "
                          f"minutes at 100k; its chains stop at {JAX_CHAIN_LIMIT} ops")
    x0 = np.random.default_rng(0).uniform(-1, 1, size).astype(np.float32)
    ns = lib.namespace()
    sin, tanh, total = ns.sin, ns.tanh, ns.sum
    steps = range(n_ops // 4)

    def forward(y):
        for _ in steps:
            y = tanh(sin(y) * 1.5 + 0.1)      # four ops
        return total(y)

    x = lib.put(x0, grad=mode != "forward")
    run = (_forward_only(lib, forward, x, compiled=compiled) if mode == "forward"
           else _differentiate(lib, forward, x, compiled=compiled))
    return measured(run, n_ops=4 * len(steps), size=x.shape[0])


def _loss_inputs(loss, shape):
    rng = np.random.default_rng(1)
    logits = rng.normal(size=shape).astype(np.float32)
    if loss == "softmax_cross_entropy":
        target = rng.integers(0, shape[1], shape[0])
    elif loss == "sigmoid_mse":
        target = rng.uniform(size=shape).astype(np.float32)
    elif loss == "sigmoid_cross_entropy_with_logits":
        target = (rng.uniform(size=shape) > 0.5).astype(np.float32)
    elif loss == "mse":
        target = rng.normal(size=shape).astype(np.float32)
    else:
        raise ValueError(f"unknown loss {loss!r}; expected one of {LOSSES}")
    return logits, target


def _peer_loss(lib, loss):
    if lib.kind == "torch":
        F = lib.torch.nn.functional
        return {"softmax_cross_entropy": F.cross_entropy,
                "sigmoid_mse": lambda x, t: F.mse_loss(lib.torch.sigmoid(x), t),
                "sigmoid_cross_entropy_with_logits": F.binary_cross_entropy_with_logits,
                "mse": F.mse_loss}[loss]
    jax, jnp = lib.jax, lib.jax.numpy
    return {"softmax_cross_entropy": lambda x, y: -jnp.mean(
                jnp.take_along_axis(jax.nn.log_softmax(x), y[:, None], axis=1)),
            "sigmoid_mse": lambda x, t: jnp.mean((jax.nn.sigmoid(x) - t) ** 2),
            "sigmoid_cross_entropy_with_logits": lambda x, t: jnp.mean(
                jnp.maximum(x, 0) - x * t + jnp.log1p(jnp.exp(-jnp.abs(x)))),
            "mse": lambda x, t: jnp.mean((x - t) ** 2)}[loss]


def _differentiate(lib, fn, x, *rest, output_gradient=None, compiled=False):
    """A callable running ``fn(x, *rest)`` and its gradient with respect to ``x``
    (``compiled``: on xpgrad, as an ``xg.function``, traced here)."""
    sync = lib.sync
    if lib.kind == "xpgrad":
        import xpgrad as xg

        def gradient(x, *rest):
            with xg.GradientTape() as tape:
                tape.watch(x)
                y = fn(x, *rest)
            return tape.gradient(y, x, output_gradients=output_gradient)

        if compiled:
            gradient = _traced(xg, gradient, x, *rest)

        def run():
            gradient(x, *rest)
            sync()
    elif lib.kind == "torch":
        autograd = lib.torch.autograd.grad

        def run():
            autograd(fn(x, *rest), x, grad_outputs=output_gradient)
            sync()
    else:
        if output_gradient is None:
            return _jax_timed(lib, lib.jax.grad(fn), x, *rest)
        return _jax_timed(lib, lambda x, g, *r: lib.jax.vjp(lambda x: fn(x, *r), x)[1](g),
                          x, output_gradient, *rest)
    return run


def _traced(xg, fn, *args):
    """``fn`` as an ``xg.function``, traced on ``args`` (so no trace lands in a timing)."""
    function = _need(xg, "function", "xpgrad")(fn)
    for _ in range(3):
        function(*args)
    return function


def _forward_only(lib, fn, *args, compiled=False):
    if lib.kind == "jax":
        return _jax_timed(lib, fn, *args)
    sync = lib.sync
    if compiled and lib.kind == "xpgrad":
        import xpgrad as xg

        fn = _traced(xg, fn, *args)

    def run():
        fn(*args)
        sync()
    return run


def loss(lib, name="softmax_cross_entropy", shape=(128, 10), mode="forward+backward"):
    """One fused loss on ``shape`` logits (mean reduction), forward or forward+backward."""
    logits0, target0 = _loss_inputs(name, shape)
    if lib.kind == "xpgrad":
        fn = _need(_xpgrad_module("losses"), name, "xpgrad.losses")
    else:
        fn = _peer_loss(lib, name)
    logits = lib.put(logits0, grad=mode != "forward")
    target = lib.put(target0)
    run = (_forward_only(lib, fn, logits, target) if mode == "forward"
           else _differentiate(lib, fn, logits, target))
    return measured(run, shape=tuple(logits.shape))


def _activation_fn(lib, name):
    if lib.kind == "xpgrad":
        import xpgrad as xg

        return xg.tanh if name == "tanh" else _need(xg.nn, name, "xpgrad.nn")
    if lib.kind == "torch":
        torch = lib.torch
        F = torch.nn.functional
        return {"sigmoid": torch.sigmoid, "tanh": torch.tanh, "relu": torch.relu,
                "leaky_relu": lambda x: F.leaky_relu(x, 0.01), "softplus": F.softplus,
                "softmax": lambda x: torch.softmax(x, -1),
                "log_softmax": lambda x: torch.log_softmax(x, -1),
                "silu": F.silu, "gelu": F.gelu, "elu": F.elu, "selu": F.selu, "celu": F.celu,
                "mish": F.mish, "softsign": F.softsign, "log_sigmoid": F.logsigmoid,
                "hardtanh": F.hardtanh, "relu6": F.relu6, "hardsigmoid": F.hardsigmoid,
                "hardswish": F.hardswish}[name]
    nn, jnp = lib.jax.nn, lib.jax.numpy
    return {"sigmoid": nn.sigmoid, "tanh": jnp.tanh, "relu": nn.relu,
            "leaky_relu": lambda x: nn.leaky_relu(x, 0.01), "softplus": nn.softplus,
            "softmax": nn.softmax, "log_softmax": nn.log_softmax,
            "silu": nn.silu, "gelu": lambda x: nn.gelu(x, approximate=False), "elu": nn.elu,
            "selu": nn.selu, "celu": nn.celu, "mish": nn.mish, "softsign": nn.soft_sign,
            "log_sigmoid": nn.log_sigmoid, "hardtanh": nn.hard_tanh, "relu6": nn.relu6,
            "hardsigmoid": nn.hard_sigmoid, "hardswish": nn.hard_swish}[name]


def activation(lib, name="relu", shape=(128, 256), mode="forward+backward"):
    """One activation on a ``shape`` input; the backward pass takes a given output gradient."""
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; expected one of {ACTIVATIONS}")
    rng = np.random.default_rng(2)
    fn = _activation_fn(lib, name)
    x = lib.put(rng.normal(size=shape).astype(np.float32), grad=mode != "forward")
    if mode == "forward":
        return measured(_forward_only(lib, fn, x), shape=tuple(x.shape))
    g = lib.put(rng.normal(size=shape).astype(np.float32))
    return measured(_differentiate(lib, fn, x, output_gradient=g), shape=tuple(x.shape))
