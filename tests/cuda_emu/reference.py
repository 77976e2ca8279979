"""What the CUDA kernels are checked against, shared by the emulated and the GPU tests: the
generic rules (run through ``array_api_compat.numpy``, i.e. what the numpy backend computes),
the input cases, tolerances, and a short MLP training run."""
from __future__ import annotations

import array_api_compat.numpy as npx
import numpy as np

import xpgrad as xg
from xpgrad.backend import Backend
from xpgrad.primitive import PRIMITIVES, run


class GenericBackend(Backend):
    """No kernels: every primitive (the optimizer updates too) runs its generic forward."""

    name = "generic"
    xp = npx


def generic(name, args, params, g=None):
    """Output and first-argument gradient of the generic rule (NumPy, the inputs' dtype)."""
    p = PRIMITIVES[name]
    out = np.asarray(p.forward(npx, *args, **params))
    g = np.ones_like(out) if g is None else g
    return out, np.asarray(p.vjps[0](npx, g, out, *args, **params))


def fused(kernel, args, params, g=None, to_host=np.asarray):
    """Output and first-argument gradient through a backend Kernel (forward, then vjp)."""
    res = kernel.forward(*args, **params)
    assert res is not None, "the kernel fell back to the generic rule"
    out, saved = res
    g = np.ones(out.shape, out.dtype) if g is None else g
    if not isinstance(out, np.ndarray) and not np.isscalar(out):   # a device array
        import cupy

        g = cupy.asarray(g)
    grads = kernel.vjp(g, saved, *args, **params)
    return to_host(out), to_host(grads[0]), grads


def assert_close(actual, expected, dtype, what=""):
    """Equal to the dtype's rounding: relative 2e-5 (float32) / 1e-12 (float64), with an
    absolute floor scaled to the largest expected magnitude."""
    actual, expected = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
    rtol = 2e-5 if np.dtype(dtype) == np.float32 else 1e-12
    scale = max(1.0, float(np.nanmax(np.abs(expected)))) if expected.size else 1.0
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=rtol * scale, equal_nan=True,
                               err_msg=what)


# -- cases --------------------------------------------------------------------------------------
def ce_inputs(rng, n, c, dtype, labels="int64", big=False):
    x = rng.normal(size=(n, c)) * 3
    if big:   # logits of +-1e4: exp overflows without the max shift
        x = x + rng.choice([-1e4, 1e4], size=(n, c))
    x = x.astype(dtype)
    if labels == "probs":
        y = rng.dirichlet(np.ones(c), n).astype(dtype) if c > 1 else np.ones((n, 1), dtype)
    else:
        y = rng.integers(0, c, n).astype(labels)
    return x, y


def pointwise_inputs(rng, n, dtype, op):
    x = (rng.normal(size=n) * 4).astype(dtype)
    if n > 8:
        x[:4] = [0.0, 60.0, -60.0, 1e4]
    t = (rng.random(n) if op != "mse" else rng.normal(size=n)).astype(dtype)
    return x, t


def activation_inputs(rng, n, dtype):
    x = (rng.normal(size=n) * 5).astype(dtype)
    if n > 8:
        x[:6] = [0.0, -0.0, 50.0, -50.0, 1e4, -1e4]
    return x


OPTIM_CASES = [   # (rule, update primitive, keywords after (param, grad, *states), number of states)
    ("sgd", "sgd_update", dict(lr=0.1, momentum=0.0, nesterov=False, weight_decay=0.0), 0),
    ("sgd", "sgd_update", dict(lr=0.1, momentum=0.9, nesterov=False, weight_decay=0.01), 1),
    ("sgd", "sgd_update", dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.0), 1),
    ("adagrad", "adagrad_update", dict(lr=0.1, eps=1e-10), 1),
    ("adadelta", "adadelta_update", dict(lr=1.0, rho=0.9, eps=1e-6), 2),
    ("rmsprop", "rmsprop_update", dict(lr=0.01, rho=0.99, momentum=0.0, eps=1e-8), 1),
    ("rmsprop", "rmsprop_update", dict(lr=0.01, rho=0.99, momentum=0.9, eps=1e-8), 2),
    ("adam", "adam_update", dict(lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0,
                                 decoupled=False), 2),
    ("adam", "adam_update", dict(lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.1,
                                 decoupled=False), 2),
    ("adamw", "adam_update", dict(lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.1,
                                  decoupled=True), 2),
    ("rmsprop_centered", "rmsprop_centered_update",
     dict(lr=0.01, rho=0.99, momentum=0.0, eps=1e-8), 2),
    ("rmsprop_centered", "rmsprop_centered_update",
     dict(lr=0.01, rho=0.9, momentum=0.9, eps=1e-8), 3),
    ("amsgrad", "amsgrad_update", dict(lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8,
                                       weight_decay=0.0, decoupled=False), 3),
    ("amsgrad", "amsgrad_update", dict(lr=1e-3, beta1=0.9, beta2=0.99, eps=1e-8,
                                       weight_decay=0.1, decoupled=False), 3),
    ("amsgrad", "amsgrad_update", dict(lr=1e-3, beta1=0.9, beta2=0.99, eps=1e-8,
                                       weight_decay=0.1, decoupled=True), 3),
    ("adamax", "adamax_update", dict(lr=2e-3, beta1=0.9, beta2=0.999, eps=1e-8,
                                     weight_decay=0.0), 2),
    ("adamax", "adamax_update", dict(lr=2e-3, beta1=0.8, beta2=0.99, eps=1e-8,
                                     weight_decay=0.1), 2),
    ("nadam", "nadam_update", dict(lr=2e-3, beta1=0.9, beta2=0.999, eps=1e-8, momentum_decay=4e-3,
                                   mu_product=0.3, weight_decay=0.0, decoupled=False), 2),
    ("nadam", "nadam_update", dict(lr=2e-3, beta1=0.9, beta2=0.99, eps=1e-8, momentum_decay=4e-3,
                                   mu_product=0.3, weight_decay=0.1, decoupled=False), 2),
    ("nadam", "nadam_update", dict(lr=2e-3, beta1=0.9, beta2=0.99, eps=1e-8, momentum_decay=4e-3,
                                   mu_product=0.3, weight_decay=0.1, decoupled=True), 2),
    ("radam", "radam_update", dict(lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8,
                                   weight_decay=0.1, decoupled=False), 2),   # steps 1-3: plain
    ("radam", "radam_update", dict(lr=1e-3, beta1=0.9, beta2=0.99, eps=1e-8, step=12,
                                   weight_decay=0.0, decoupled=False), 2),   # rectified
    ("radam", "radam_update", dict(lr=1e-3, beta1=0.9, beta2=0.99, eps=1e-8, step=12,
                                   weight_decay=0.1, decoupled=True), 2),
    ("lion", "lion_update", dict(lr=1e-3, beta1=0.9, beta2=0.99, weight_decay=0.0), 1),
    ("lion", "lion_update", dict(lr=1e-3, beta1=0.8, beta2=0.95, weight_decay=0.5), 1),
]
#: the updates that take the variable's step count (a case may fix it: ``step=`` in its keywords)
STEPPED = ("adam_update", "amsgrad_update", "adamax_update", "nadam_update", "radam_update")
#: the number of state arrays each update takes (a missing optional one is passed as None)
OPTIM_STATES = {"sgd_update": 1, "rmsprop_update": 2, "rmsprop_centered_update": 3}


def optim_states(rng, method, n_states, n, dtype):
    """Starting state arrays for an update: small positive numbers, and for centered RMSprop a
    running mean whose square stays below the running square (a variance, as training keeps)."""
    states = [np.abs(rng.normal(size=n)).astype(dtype) * 0.1 for _ in range(n_states)]
    if method == "rmsprop_centered_update":
        states[1] = (np.sqrt(states[0]) * rng.uniform(-0.9, 0.9, n)).astype(dtype)
    return states


def optim_call(backend, method, kwargs, n_states, param, grad, states, step):
    """Run the update primitive ``method`` on ``backend`` with the states in their places."""
    def fn(*arrays, **params):
        return run(PRIMITIVES[method], backend, *arrays, **params)

    kw = dict(kwargs)
    if method in STEPPED:
        kw.setdefault("step", step)
    # velocity / mom are optional: None when the case has fewer states
    slots = list(states) + [None] * (OPTIM_STATES.get(method, len(states)) - len(states))
    return fn(param, grad, *slots, **kw)


# -- a short training run -----------------------------------------------------------------------
def mlp_run(backend, optimizer="adam", steps=10, seed=0, n=64, sizes=(20, 32, 5),
            activation="tanh", lr=0.05, options=None):
    """Train a small MLP with softmax cross-entropy; the losses and final weights on the host.
    ``options``: more keywords for the optimizer (``{"amsgrad": True}``)."""
    rng = np.random.default_rng(seed)
    x = xg.asarray(rng.normal(size=(n, sizes[0])).astype(np.float32), backend=backend)
    y = xg.asarray(rng.integers(0, sizes[-1], n), backend=backend)
    model = xg.nn.MLP(list(sizes), activation=activation,
                      rng=xg.random.default_rng(seed, backend=backend))
    opt = xg.optim.get(optimizer, learning_rate=lr, **(options or {}))
    losses = []
    for _ in range(steps):
        loss = opt.minimize(lambda: xg.losses.softmax_cross_entropy(model(x), y), model)
        losses.append(loss.item())
    return np.array(losses), [v.numpy() for v in model.trainable_variables]
