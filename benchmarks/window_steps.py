"""The steps the conv1d.py and conv2d.py benchmarks time: a convolution or pooling call,
forward + the gradient of every input, in xpgrad and in PyTorch; 1-d or 2-d by the input's
shape (N, C, L) or (N, C, H, W).

A workload's keyword arguments are the call's, plus ``"conv": (C_out, K)`` for a convolution
(square K x K in 2-d) or ``"pool": "max" | "avg"``.

    >>> x, w, b = arrays((2, 3, 8), {"conv": (4, 3)}, "float64", 1.0)
    >>> (w.shape, b.shape)
    ((4, 3, 3), (4,))
    >>> import numpy as np
    >>> bool(np.allclose(xpgrad_step("numpy", x, w, b, {"conv": (4, 3)})(),
    ...                  torch_step(x, w, b, {"conv": (4, 3)})()))
    True
"""
from __future__ import annotations

import numpy as np

import xpgrad as xg


def arrays(shape, kwargs, dtype, scale):
    """The input (its batch scaled by ``scale``, at least 1), and for a convolution its weight
    and bias, all standard normal from seed 0."""
    rng = np.random.default_rng(0)
    shape = (max(1, round(shape[0] * scale)),) + tuple(shape[1:])
    x = rng.standard_normal(shape).astype(dtype)
    if "conv" not in kwargs:
        return x, None, None
    c_out, k = kwargs["conv"]
    kernel = (k,) * (len(shape) - 2)
    w = rng.standard_normal((c_out, shape[1] // kwargs.get("groups", 1)) + kernel)
    return x, w.astype(dtype), rng.standard_normal(c_out).astype(dtype)


def _call_kwargs(kwargs):
    return {k: v for k, v in kwargs.items() if k not in ("conv", "pool")}


def _function(functions, x, kwargs):
    """``functions``' ``conv{d}d`` or ``{pool}_pool{d}d``, d the input's spatial dimensions."""
    name = f"{kwargs['pool']}_pool" if "pool" in kwargs else "conv"
    return getattr(functions, f"{name}{x.ndim - 2}d")


def xpgrad_step(backend, x, w, b, kwargs):
    """A step on ``backend``: the call under a tape and the gradients of ``sum(y)`` for the
    input and any weight and bias; returns ``y`` as NumPy."""
    xt = xg.asarray(x, backend=backend)
    params = [] if w is None else [xg.Variable(xg.asarray(a, backend=backend)) for a in (w, b)]
    fn, call = _function(xg.nn, x, kwargs), _call_kwargs(kwargs)

    def step():
        with xg.GradientTape() as tape:
            tape.watch(xt)
            y = fn(xt, *params, **call)
            loss = xg.sum(y)
        tape.gradient(loss, [xt] + params)
        return y.numpy()
    return step


def torch_step(x, w, b, kwargs):
    """The same step in PyTorch (``torch.autograd.grad``)."""
    import torch

    ts = [torch.tensor(a, requires_grad=True) for a in (x, w, b) if a is not None]
    fn, call = _function(torch.nn.functional, x, kwargs), _call_kwargs(kwargs)

    def step():
        y = fn(*ts, **call)
        torch.autograd.grad(y.sum(), ts)
        return y.detach().numpy()
    return step


def steps(args, backends, workload):
    """``(name, {backend: step, ..., "torch": step})`` for one workload, as ``interleaved.run``
    wants."""
    name, shape, kwargs = workload
    x, w, b = arrays(shape, kwargs, args.dtype, args.scale)
    return name, dict({be: xpgrad_step(be, x, w, b, kwargs) for be in backends},
                      torch=torch_step(x, w, b, kwargs))
