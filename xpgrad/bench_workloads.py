"""Benchmark workloads shared by the asv suites (asv_benchmarks/) and ``xpgrad bench``.

Each builder takes a library name from ``LIBS`` plus the workload's parameters and returns a
zero-argument callable that does the work once (on a GPU, including the device synchronize).
The same seeded NumPy inputs feed every library. A library that cannot run here raises
``Unavailable`` (a ``NotImplementedError``, which asv reports as a skip) saying why.

This file imports xpgrad only through its public API (``import xpgrad as xg``, no relative
imports): the asv suites load it from the source tree, so the same workloads measure every
commit of the history.

>>> fn = build("chain", "xpgrad-numpy", n_ops=8)
>>> fn() is None
True
"""
from __future__ import annotations

import numpy as np

XPGRAD_LIBS = ("xpgrad-numpy", "xpgrad-numba", "xpgrad-cupy")
PEER_LIBS = ("torch-cpu", "torch-cuda", "jax-cpu")
LIBS = XPGRAD_LIBS + PEER_LIBS
# the peer each xpgrad backend is compared with (same device)
REFERENCE = {"xpgrad-numpy": "torch-cpu", "xpgrad-numba": "torch-cpu",
             "xpgrad-cupy": "torch-cuda"}

LOSSES = ("softmax_cross_entropy", "sigmoid_mse", "sigmoid_cross_entropy_with_logits", "mse")
ACTIVATIONS = ("sigmoid", "tanh", "relu", "leaky_relu", "softplus", "softmax", "log_softmax")
OPTIMIZERS = ("sgd", "adagrad", "adadelta", "rmsprop", "adam", "adamw")
MLP_SIZES = (784, 256, 10)


class Unavailable(NotImplementedError):
    """This library (or the xpgrad module a workload needs) cannot run here."""


def parse_shape(text: str) -> tuple:
    """``"128x10"`` -> ``(128, 10)`` (asv parameters are shown as text on the dashboard)."""
    return tuple(int(n) for n in text.split("x"))


# -- libraries -------------------------------------------------------------------------------

class _Lib:
    """What a workload needs from a library: put NumPy data on it, synchronize it."""

    def __init__(self, name):
        self.name = name
        self.kind, _, self.device = name.partition("-")
        self.sync = _nothing
        if self.kind == "xpgrad":
            self._init_xpgrad()
        elif self.kind == "torch":
            self._init_torch()
        elif self.kind == "jax":
            self._init_jax()
        else:
            raise ValueError(f"unknown library {name!r}; expected one of {LIBS}")

    def _init_xpgrad(self):
        import xpgrad as xg

        try:
            self.backend = xg.get_backend(self.device)
        except xg.BackendUnavailableError as e:
            raise Unavailable(str(e)) from None
        warmup = getattr(self.backend, "warmup", None)
        if warmup is not None:   # Numba compiles its kernels here, outside the timings
            try:
                warmup(dtypes=("float32",))
            except TypeError:
                warmup()
        self.sync = self.backend.synchronize

    def _init_torch(self):
        try:
            import torch
        except ImportError:
            raise Unavailable("PyTorch is not installed") from None
        if self.device == "cuda":
            if not torch.cuda.is_available():
                raise Unavailable("PyTorch sees no CUDA device")
            self.sync = torch.cuda.synchronize
        self.torch = torch

    def _init_jax(self):
        try:
            import jax
        except ImportError:
            raise Unavailable("JAX is not installed") from None
        self.jax = jax
        self.cpu = jax.devices("cpu")[0]

    def namespace(self):
        """The library's array namespace: xpgrad, torch or jax.numpy."""
        if self.kind == "xpgrad":
            import xpgrad

            return xpgrad
        return self.torch if self.kind == "torch" else self.jax.numpy

    def put(self, a, grad=False):
        """NumPy array ``a`` on this library (a watched leaf when ``grad`` on torch)."""
        if self.kind == "xpgrad":
            import xpgrad as xg

            return xg.asarray(a, backend=self.backend)
        if self.kind == "torch":
            t = self.torch.from_numpy(np.ascontiguousarray(a)).to(self.device)
            return t.requires_grad_(grad)
        return self.jax.device_put(a, self.cpu)


def _nothing():
    pass


def _xpgrad_module(name):
    """``xpgrad.<name>`` (losses, optim, nn), or Unavailable in a commit without it."""
    import importlib

    try:
        return importlib.import_module(f"xpgrad.{name}")
    except ModuleNotFoundError as e:
        if e.name != f"xpgrad.{name}":
            raise       # a broken import inside the module is a failure, not a skip
        raise Unavailable(f"xpgrad.{name} is missing in this version of xpgrad") from None


def _need(obj, attr, what):
    if not hasattr(obj, attr):
        raise Unavailable(f"{what} has no {attr!r} here")
    return getattr(obj, attr)


def _jax_timed(lib, fn, *args):
    jitted = lib.jax.jit(fn)

    def run():
        lib.jax.block_until_ready(jitted(*args))
    return run


# -- workloads -------------------------------------------------------------------------------

def chain(lib, n_ops=100, size=4, mode="forward+gradient"):
    """``n_ops`` chained elementwise ops (sin, *1.5, +0.1, tanh, ...) on a ``size`` vector,
    then a sum; ``mode`` "forward" runs it untaped, "forward+gradient" also differentiates."""
    if mode not in ("forward", "forward+gradient"):
        raise ValueError(f"mode must be 'forward' or 'forward+gradient', got {mode!r}")
    x0 = np.random.default_rng(0).uniform(-1, 1, size).astype(np.float32)
    ns = lib.namespace()
    sin, tanh, total = ns.sin, ns.tanh, ns.sum
    steps = range(n_ops // 4)

    def forward(y):
        for _ in steps:
            y = tanh(sin(y) * 1.5 + 0.1)
        return total(y)

    x = lib.put(x0, grad=mode != "forward")
    if mode == "forward":
        return _forward_only(lib, forward, x)
    return _differentiate(lib, forward, x)


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


def _differentiate(lib, fn, x, *rest, output_gradient=None):
    """A callable running ``fn(x, *rest)`` and its gradient with respect to ``x``."""
    sync = lib.sync
    if lib.kind == "xpgrad":
        import xpgrad as xg

        def run():
            with xg.GradientTape() as tape:
                tape.watch(x)
                y = fn(x, *rest)
            tape.gradient(y, x, output_gradients=output_gradient)
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


def _forward_only(lib, fn, *args):
    if lib.kind == "jax":
        return _jax_timed(lib, fn, *args)
    sync = lib.sync

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
    if mode == "forward":
        return _forward_only(lib, fn, logits, target)
    return _differentiate(lib, fn, logits, target)


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
                "log_softmax": lambda x: torch.log_softmax(x, -1)}[name]
    nn, jnp = lib.jax.nn, lib.jax.numpy
    return {"sigmoid": nn.sigmoid, "tanh": jnp.tanh, "relu": nn.relu,
            "leaky_relu": lambda x: nn.leaky_relu(x, 0.01), "softplus": nn.softplus,
            "softmax": nn.softmax, "log_softmax": nn.log_softmax}[name]


def activation(lib, name="relu", shape=(128, 256), mode="forward+backward"):
    """One activation on a ``shape`` input; the backward pass takes a given output gradient."""
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; expected one of {ACTIVATIONS}")
    rng = np.random.default_rng(2)
    fn = _activation_fn(lib, name)
    x = lib.put(rng.normal(size=shape).astype(np.float32), grad=mode != "forward")
    if mode == "forward":
        return _forward_only(lib, fn, x)
    g = lib.put(rng.normal(size=shape).astype(np.float32))
    return _differentiate(lib, fn, x, output_gradient=g)


def _mlp_arrays(sizes, seed=3):
    rng = np.random.default_rng(seed)
    arrays = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        arrays.append((rng.normal(size=(n_in, n_out)) / np.sqrt(n_in)).astype(np.float32))
        arrays.append(np.zeros(n_out, np.float32))
    return arrays


# class name (the same in xpgrad.optim and torch.optim) and keyword arguments
_OPTIMIZERS = {"sgd": ("SGD", {"momentum": 0.9}), "adagrad": ("Adagrad", {}),
               "adadelta": ("Adadelta", {}), "rmsprop": ("RMSprop", {}),
               "adam": ("Adam", {}), "adamw": ("AdamW", {})}


def _xg_optimizer(name, lr):
    cls_name, kwargs = _OPTIMIZERS[name]
    cls = _need(_xpgrad_module("optim"), cls_name, "xpgrad.optim")
    return cls(learning_rate=lr, **kwargs)


def _torch_optimizer(torch, name, params, lr):
    cls_name, kwargs = _OPTIMIZERS[name]
    return getattr(torch.optim, cls_name)(params, lr=lr, **kwargs)


def optimizer(lib, name="adam", sizes=MLP_SIZES):
    """One optimizer update of an MLP's parameters (784x256 + 256 + 256x10 + 10 by default)."""
    if name not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; expected one of {OPTIMIZERS}")
    if lib.kind == "jax":
        raise Unavailable("no optimizer peer for JAX (optax is not a dependency)")
    params0 = _mlp_arrays(sizes)
    grads0 = _mlp_arrays(sizes, seed=4)
    sync = lib.sync
    if lib.kind == "xpgrad":
        import xpgrad as xg

        opt = _xg_optimizer(name, 1e-3)
        variables = [xg.Variable(lib.put(p)) for p in params0]
        grads = [lib.put(g) for g in grads0]

        def run():
            opt.apply_gradients(zip(grads, variables))
            sync()
        return run
    torch = lib.torch
    params = [torch.nn.Parameter(lib.put(p)) for p in params0]
    for p, g in zip(params, grads0):
        p.grad = lib.put(g)
    opt = _torch_optimizer(torch, name, params, 1e-3)

    def run():
        opt.step()
        sync()
    return run


def mlp_step(lib, batch=128, sizes=MLP_SIZES):
    """One SGD training step of a ReLU MLP (784->256->10, ``xg.nn.MLP`` / ``torch.nn``) with
    softmax cross-entropy: forward, loss, backward, update."""
    rng = np.random.default_rng(5)
    x0 = rng.normal(size=(batch, sizes[0])).astype(np.float32)
    y0 = rng.integers(0, sizes[-1], batch)
    params0 = _mlp_arrays(sizes)
    x, y = lib.put(x0), lib.put(y0)
    sync = lib.sync
    if lib.kind == "xpgrad":
        import xpgrad as xg

        ce = _need(_xpgrad_module("losses"), "softmax_cross_entropy", "xpgrad.losses")
        opt = _xg_optimizer("sgd", 0.01)
        model = _need(xg.nn, "MLP", "xpgrad.nn")(list(sizes), backend=lib.backend)
        params = model.trainable_variables
        for v, p in zip(params, params0):
            v.assign(lib.put(p))

        def run():
            with xg.GradientTape() as tape:
                loss = ce(model(x), y)
            opt.apply_gradients(zip(tape.gradient(loss, params), params))
            sync()
        return run
    if lib.kind == "torch":
        torch = lib.torch
        layers = []
        for i in range(0, len(params0), 2):
            lin = torch.nn.Linear(*params0[i].shape)
            with torch.no_grad():
                lin.weight.copy_(torch.from_numpy(params0[i].T.copy()))
                lin.bias.zero_()
            layers += [lin, torch.nn.ReLU()]
        model = torch.nn.Sequential(*layers[:-1]).to(lib.device)
        opt = torch.optim.SGD(model.parameters(), lr=0.01)
        ce = torch.nn.functional.cross_entropy

        def run():
            opt.zero_grad()
            ce(model(x), y).backward()
            opt.step()
            sync()
        return run
    jax, jnp = lib.jax, lib.jax.numpy
    params = [lib.put(p) for p in params0]

    def loss_fn(ps, x, y):
        h = x
        for i in range(0, len(ps), 2):
            h = h @ ps[i] + ps[i + 1]
            if i + 2 < len(ps):
                h = jax.nn.relu(h)
        return -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(h), y[:, None], axis=1))

    @jax.jit
    def step(ps, x, y):
        grads = jax.grad(loss_fn)(ps, x, y)
        return [p - 0.01 * g for p, g in zip(ps, grads)]

    def run():
        params[:] = jax.block_until_ready(step(params, x, y))
    return run


def _lstm_arrays(input_size, hidden, seed=6):
    """PyTorch-layout LSTM weights (one bias in ``bias_ih``), uniform in +-1/sqrt(hidden)."""
    rng = np.random.default_rng(seed)
    k = 1.0 / np.sqrt(hidden)
    shapes = {"weight_ih_l0": (4 * hidden, input_size), "weight_hh_l0": (4 * hidden, hidden),
              "bias_ih_l0": (4 * hidden,)}
    out = {name: rng.uniform(-k, k, shape).astype(np.float32) for name, shape in shapes.items()}
    out["bias_hh_l0"] = np.zeros(4 * hidden, np.float32)
    return out


def lstm_step(lib, batch=64, hidden=128, steps=50, input_size=64):
    """One SGD training step of a one-layer LSTM over a (batch, steps, input_size) sequence:
    forward, MSE of all outputs against a target, backward through time, update."""
    rng = np.random.default_rng(7)
    x0 = rng.normal(size=(batch, steps, input_size)).astype(np.float32)
    y0 = rng.normal(size=(batch, steps, hidden)).astype(np.float32)
    weights = _lstm_arrays(input_size, hidden)
    x, y = lib.put(x0), lib.put(y0)
    sync = lib.sync
    if lib.kind == "xpgrad":
        import xpgrad as xg

        lstm_cls = _need(xg.nn, "LSTM", "xpgrad.nn")
        mse = _need(_xpgrad_module("losses"), "mse", "xpgrad.losses")
        model = lstm_cls(input_size, hidden, backend=lib.backend)
        model.load_torch_state_dict(weights)
        params = model.trainable_variables
        opt = _xg_optimizer("sgd", 0.01)

        def run():
            with xg.GradientTape() as tape:
                out, _ = model(x)
                loss = mse(out, y)
            opt.apply_gradients(zip(tape.gradient(loss, params), params))
            sync()
        return run
    if lib.kind == "torch":
        torch = lib.torch
        model = torch.nn.LSTM(input_size, hidden, batch_first=True)
        model.load_state_dict({k: torch.from_numpy(v) for k, v in weights.items()})
        model = model.to(lib.device)
        opt = _torch_optimizer(torch, "sgd", list(model.parameters()), 0.01)
        mse = torch.nn.functional.mse_loss

        def run():
            opt.zero_grad()
            mse(model(x)[0], y).backward()
            opt.step()
            sync()
        return run
    raise Unavailable("no LSTM peer for JAX here (it would need flax or a hand-written scan)")


WORKLOADS = {"chain": chain, "loss": loss, "activation": activation,
             "optimizer": optimizer, "mlp_step": mlp_step, "lstm_step": lstm_step}


def build(workload, lib_name, **params):
    """The zero-argument callable for ``workload`` on ``lib_name``, already run once (so
    compilation, caches and allocations are outside the timings).

    Raises Unavailable when the library or the xpgrad module it needs is missing here.
    """
    fn = WORKLOADS[workload](_Lib(lib_name), **params)
    fn()
    return fn
