"""Training workloads: an optimizer update, an MLP step, an LSTM step, a hand-written RNN loop.

The training steps use plain SGD (no momentum) in every library, as the JAX step does."""
from __future__ import annotations

import numpy as np

from ._libs import MLP_SIZES, OPTIMIZERS, Unavailable, _need, _xpgrad_module, measured
from .ops import _traced


def _sizes(weights):
    """Layer sizes (in, hidden..., out) read off a list of weight matrices and bias vectors."""
    mats = [w for w in weights if len(w.shape) == 2]
    return (int(mats[0].shape[0]), *(int(w.shape[1]) for w in mats))


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
        return measured(run, sizes=_sizes(variables))
    torch = lib.torch
    params = [torch.nn.Parameter(lib.put(p)) for p in params0]
    for p, g in zip(params, grads0):
        p.grad = lib.put(g)
    opt = _torch_optimizer(torch, name, params, 1e-3)

    def run():
        opt.step()
        sync()
    return measured(run, sizes=_sizes(params))


def mlp_step(lib, batch=128, sizes=MLP_SIZES, compiled=False):
    """One SGD training step of a ReLU MLP (784->256->10, ``xg.nn.MLP`` / ``torch.nn``) with
    softmax cross-entropy: forward, loss, backward, update. ``compiled``: xpgrad runs the step
    as an ``xg.function`` (peers as always: PyTorch eager, JAX jit)."""
    rng = np.random.default_rng(5)
    x0 = rng.normal(size=(batch, sizes[0])).astype(np.float32)
    y0 = rng.integers(0, sizes[-1], batch)
    params0 = _mlp_arrays(sizes)
    x, y = lib.put(x0), lib.put(y0)
    sync = lib.sync
    if lib.kind == "xpgrad":
        import xpgrad as xg

        ce = _need(_xpgrad_module("losses"), "softmax_cross_entropy", "xpgrad.losses")
        opt = _need(_xpgrad_module("optim"), "SGD", "xpgrad.optim")(learning_rate=0.01)
        model = _need(xg.nn, "MLP", "xpgrad.nn")(list(sizes), backend=lib.backend)
        params = model.trainable_variables
        for v, p in zip(params, params0):
            v.assign(lib.put(p))

        def step(x, y):
            with xg.GradientTape() as tape:
                loss = ce(model(x), y)
            opt.apply_gradients(zip(tape.gradient(loss, params), params))

        if compiled:
            step = _traced(xg, step, x, y)

        def run():
            step(x, y)
            sync()
        return measured(run, batch=x.shape[0], sizes=_sizes(params))
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
        if compiled and lib.device == "cuda":      # the peer of a replayed step: a CUDA graph
            run = _torch_cuda_graph_step(torch, model, opt, ce, x, y)
        weights = [p.T if p.dim() == 2 else p for p in model.parameters()]   # (out, in)
        return measured(run, batch=x.shape[0], sizes=_sizes(weights))
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
    return measured(run, batch=x.shape[0], sizes=_sizes(params))


def _torch_cuda_graph_step(torch, model, opt, loss_fn, x, y):
    """PyTorch's training step captured in a CUDA graph (``torch.cuda.graph``), after warm-up
    steps on a side stream as its documentation asks; the callable replays it."""
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(3):
            opt.zero_grad(set_to_none=True)
            loss_fn(model(x), y).backward()
            opt.step()
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    opt.zero_grad(set_to_none=True)
    with torch.cuda.graph(graph):
        loss_fn(model(x), y).backward()
        opt.step()

    def run():
        graph.replay()
        torch.cuda.synchronize()
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


def lstm_step(lib, batch=64, hidden=128, steps=50, input_size=64, compiled=False):
    """One SGD training step of a one-layer LSTM over a (batch, steps, input_size) sequence:
    forward, MSE of all outputs against a target, backward through time, update.
    ``compiled``: xpgrad runs the step as an ``xg.function`` (PyTorch as always: eager)."""
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
        model = lstm_cls(input_size, hidden, batch_first=True, backend=lib.backend)
        model.load_torch_state_dict(weights)
        params = model.trainable_variables
        opt = _need(_xpgrad_module("optim"), "SGD", "xpgrad.optim")(learning_rate=0.01)

        def step(x, y):
            with xg.GradientTape() as tape:
                out, _ = model(x)
                loss = mse(out, y)
            opt.apply_gradients(zip(tape.gradient(loss, params), params))

        if compiled:
            step = _traced(xg, step, x, y)

        def run():
            step(x, y)
            sync()
        # hidden: the outputs' width, which the MSE against y (batch, steps, hidden) checks
        return measured(run, batch=x.shape[0], steps=x.shape[1], input_size=x.shape[2],
                        hidden=y.shape[2])
    if lib.kind == "torch":
        torch = lib.torch
        model = torch.nn.LSTM(input_size, hidden, batch_first=True)
        model.load_state_dict({k: torch.from_numpy(v) for k, v in weights.items()})
        model.bias_hh_l0.requires_grad_(False)   # xpgrad's cell has one bias: train one here
        model = model.to(lib.device)
        opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.01)
        mse = torch.nn.functional.mse_loss

        def run():
            opt.zero_grad()
            mse(model(x)[0], y).backward()
            opt.step()
            sync()
        return measured(run, batch=x.shape[0], steps=x.shape[1], input_size=x.shape[2],
                        hidden=y.shape[2])
    raise Unavailable("no LSTM peer for JAX here (it would need flax or a hand-written scan)")


def rnn_loop(lib, batch=32, hidden=64, steps=100, input_size=32):
    """Gradient of a tanh RNN written step by step, as in a TensorFlow tutorial: a Python loop
    over ``unstack(x, axis=1)``, ``h = tanh(x_t @ w + h @ u + b)``, the loss summing every
    step's ``h``; gradients for the weights and the input sequence. Measures the tape's
    per-op cost and the per-step slices' gradients. A call returns the four gradients (the
    tests compare the libraries with them)."""
    rng = np.random.default_rng(8)
    x0 = rng.normal(size=(batch, steps, input_size)).astype(np.float32)
    w0 = (rng.normal(size=(input_size, hidden)) / np.sqrt(input_size)).astype(np.float32)
    u0 = (rng.normal(size=(hidden, hidden)) / np.sqrt(hidden)).astype(np.float32)
    b0 = np.zeros(hidden, np.float32)
    sync = lib.sync
    if lib.kind == "xpgrad":
        import xpgrad as xg

        x = lib.put(x0)
        w, u, b = (xg.Variable(lib.put(a)) for a in (w0, u0, b0))
        h0 = lib.put(np.zeros((batch, hidden), np.float32))

        def run():
            with xg.GradientTape() as tape:
                tape.watch(x)
                h, total = h0, 0.0
                for xt in xg.unstack(x, axis=1):
                    h = xg.tanh(xt @ w + h @ u + b)
                    total = total + xg.sum(h)
            grads = tape.gradient(total, [x, w, u, b])
            sync()
            return grads
        return measured(run, batch=x.shape[0], steps=x.shape[1], input_size=x.shape[2],
                        hidden=u.shape[0])
    if lib.kind == "torch":
        torch = lib.torch
        x = lib.put(x0, grad=True)
        w, u, b = (lib.put(a, grad=True) for a in (w0, u0, b0))
        h0 = lib.put(np.zeros((batch, hidden), np.float32))

        def run():
            h, total = h0, 0.0
            for xt in torch.unbind(x, dim=1):
                h = torch.tanh(xt @ w + h @ u + b)
                total = total + torch.sum(h)
            grads = torch.autograd.grad(total, [x, w, u, b])
            sync()
            return grads
        return measured(run, batch=x.shape[0], steps=x.shape[1], input_size=x.shape[2],
                        hidden=u.shape[0])
    raise Unavailable("JAX would trace and compile this loop; it is an eager-mode workload")
