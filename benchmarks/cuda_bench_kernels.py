"""The CUDA kernel sections of benchmarks/cuda_kernels.py: the device's copy bandwidth, softmax
cross-entropy, sigmoid-MSE, the activations and the optimizer updates, each as the fused kernel
alone, through the public API and in PyTorch CUDA."""
from __future__ import annotations

import numpy as np
from cuda_bench_common import (add_ratio, activation_bytes, ce_bytes, kernel_for, mse_bytes,
                               optimizer_bytes, result, size_label, timed)

ACT_NAMES = ("sigmoid", "tanh", "relu")


def kernel_pass(kern, name, g, *inputs, **params):
    """One forward and backward of a backend kernel, called as the tape calls it; a kernel that
    declines the inputs is an error (the row would time nothing).

    >>> import numpy as np, xpgrad as xg
    >>> relu = xg.get_backend("numpy").kernels["relu"]
    >>> kernel_pass(relu, "relu", np.ones(2), np.array([-1.0, 2.0]))
    >>> kernel_pass(relu, "relu", np.ones(2), np.arange(2))
    Traceback (most recent call last):
    ...
    RuntimeError: relu: the kernel declined these inputs
    """
    res = kern.forward(*inputs, **params)
    if res is None:
        raise RuntimeError(f"{name}: the kernel declined these inputs")
    kern.vjp(g, res[1], *inputs, **params)


# -- the device side ----------------------------------------------------------------------------
def copy_bandwidth(cupy, nbytes, reps):
    """Bytes moved (read + write) per second copying an ``nbytes`` array on the device."""
    a = cupy.ones(nbytes // 4, dtype=cupy.float32)
    b = cupy.empty_like(a)
    sync = cupy.cuda.Device().synchronize
    rt = cupy.cuda.runtime
    t_memcpy = timed(lambda: rt.memcpy(b.data.ptr, a.data.ptr, a.nbytes,
                                       rt.memcpyDeviceToDevice), sync, reps)
    t_kernel = timed(lambda: cupy.copyto(b, a), sync, reps)
    del a, b
    return 2 * nbytes / min(t_memcpy, t_kernel)


def bench_ce(ctx, report, shape, variants=False):
    """Softmax CE forward + backward on ``shape`` float32 logits with int64 labels: the kernel
    alone (and, with ``variants``, the shared-memory variants), the public API on a tape, and
    ``F.cross_entropy(x, y).backward()``."""
    from xpgrad.backends.cupy import losses as cuda_losses

    xg, be, cupy, peer = ctx.xg, ctx.be, ctx.cupy, ctx.peer
    n, c = shape
    kern = kernel_for(be, "softmax_cross_entropy")     # before any work: fail fast
    rng = np.random.default_rng(0)
    x0 = rng.standard_normal(shape, dtype=np.float32)
    y0 = rng.integers(0, c, n)
    name = f"softmax CE fwd+bwd {n}x{c}"
    nbytes = ce_bytes(n, c)
    x, y = cupy.asarray(x0), cupy.asarray(y0)
    one = cupy.ones((), cupy.float32)

    def kernel_only():
        kernel_pass(kern, name, one, x, y, reduction="mean")

    t_kernel = timed(kernel_only, be.synchronize, ctx.reps)
    default_row = result(name, "xpgrad kernel", t_kernel, nbytes, ctx.copy_bw,
                         f"smem for {cuda_losses.CE_BLOCKS_PER_SM} blocks/SM (default)")
    report.rows.append(default_row)
    if variants:
        default = (cuda_losses.CE_CACHE_ROWS, cuda_losses.CE_BLOCKS_PER_SM)
        for cache, per_sm, note in ((True, 1, "smem for 1 block/SM"),
                                    (False, 2, "no smem cache")):
            cuda_losses.CE_CACHE_ROWS, cuda_losses.CE_BLOCKS_PER_SM = cache, per_sm
            try:
                t = timed(kernel_only, be.synchronize, ctx.reps)
            finally:
                cuda_losses.CE_CACHE_ROWS, cuda_losses.CE_BLOCKS_PER_SM = default
            report.rows.append(result(name, "xpgrad kernel", t, nbytes, ctx.copy_bw, note))
    xt, yt = xg.asarray(x0, backend=be), xg.asarray(y0, backend=be)

    def api():
        with xg.GradientTape() as tape:
            tape.watch(xt)
            loss = xg.losses.softmax_cross_entropy(xt, yt)
        tape.gradient(loss, xt)

    t_api = timed(api, be.synchronize, ctx.reps)
    report.rows.append(result(name, "xpgrad API (tape)", t_api, nbytes, ctx.copy_bw,
                              "incl. label range check"))
    del x, y, xt, yt
    ctx.free()
    entry = {"workload": name, "of_copy": default_row["of_copy"], "GB/s": default_row["GB/s"],
             "vs_torch": None, "vs_torch_api": None}
    if peer is not None:
        F = peer.torch.nn.functional
        xp, yp = peer.put(x0, grad=True), peer.put(y0)

        def torch_run():
            xp.grad = None
            F.cross_entropy(xp, yp).backward()

        t_torch = timed(torch_run, peer.sync, ctx.reps)
        report.rows.append(result(name, "torch", t_torch, nbytes, ctx.copy_bw))
        entry["vs_torch"] = add_ratio(report, f"{name} (kernel)", t_torch, t_kernel)
        entry["vs_torch_api"] = add_ratio(report, f"{name} (API)", t_torch, t_api)
        del xp, yp
        ctx.free()
    report.summary.setdefault("ce", {})[f"{n}x{c}"] = entry


def bench_sigmoid_mse(ctx, report, size):
    """Sigmoid-MSE forward + backward on ``size`` float32 elements: kernel, API, PyTorch."""
    xg, be, cupy, peer = ctx.xg, ctx.be, ctx.cupy, ctx.peer
    kern = kernel_for(be, "sigmoid_mse")
    rng = np.random.default_rng(1)
    x0 = rng.standard_normal(size, dtype=np.float32)
    t0 = rng.random(size, dtype=np.float32)
    name = f"sigmoid-MSE fwd+bwd {size / 1e6:g}M"
    nbytes = mse_bytes(size)
    x, t = cupy.asarray(x0), cupy.asarray(t0)
    one = cupy.ones((), cupy.float32)

    def kernel_only():
        kernel_pass(kern, name, one, x, t, reduction="mean")

    t_kernel = timed(kernel_only, be.synchronize, ctx.reps)
    row = result(name, "xpgrad kernel", t_kernel, nbytes, ctx.copy_bw)
    report.rows.append(row)
    xt, tt = xg.asarray(x0, backend=be), xg.asarray(t0, backend=be)

    def api():
        with xg.GradientTape() as tape:
            tape.watch(xt)
            loss = xg.losses.sigmoid_mse(xt, tt)
        tape.gradient(loss, xt)

    t_api = timed(api, be.synchronize, ctx.reps)
    report.rows.append(result(name, "xpgrad API (tape)", t_api, nbytes, ctx.copy_bw))
    del x, t, xt, tt
    ctx.free()
    entry = {"workload": name, "of_copy": row["of_copy"], "GB/s": row["GB/s"],
             "vs_torch": None, "vs_torch_api": None}
    if peer is not None:
        F = peer.torch.nn.functional
        xp, tp = peer.put(x0, grad=True), peer.put(t0)

        def torch_run():
            xp.grad = None
            F.mse_loss(peer.torch.sigmoid(xp), tp).backward()

        t_torch = timed(torch_run, peer.sync, ctx.reps)
        report.rows.append(result(name, "torch", t_torch, nbytes, ctx.copy_bw))
        entry["vs_torch"] = add_ratio(report, f"{name} (kernel)", t_torch, t_kernel)
        entry["vs_torch_api"] = add_ratio(report, f"{name} (API)", t_torch, t_api)
        del xp, tp
        ctx.free()
    report.summary["sigmoid_mse"] = entry


def _xg_activation(xg, name):
    return xg.tanh if name == "tanh" else getattr(xg.nn, name)


def bench_activations(ctx, report, size, names=ACT_NAMES):
    """Each activation forward + backward (given output gradient) on ``size`` float32 elements:
    the kernel's forward and vjp, the public API on a tape, ``torch.autograd.grad``."""
    xg, be, cupy, peer = ctx.xg, ctx.be, ctx.cupy, ctx.peer
    kernels = {act: kernel_for(be, act) for act in names}
    rng = np.random.default_rng(2)
    x0 = rng.standard_normal(size, dtype=np.float32)
    g0 = rng.standard_normal(size, dtype=np.float32)
    nbytes = activation_bytes(size)
    x, g = cupy.asarray(x0), cupy.asarray(g0)
    xt, gt = xg.asarray(x0, backend=be), xg.asarray(g0, backend=be)
    xp = gp = None
    if peer is not None:
        xp, gp = peer.put(x0, grad=True), peer.put(g0)
    out = report.summary.setdefault("activations", {})
    for act in names:
        name = f"{act} fwd+bwd {size_label(size)}"
        kern = kernels[act]

        def kernel_only(kern=kern, name=name):
            kernel_pass(kern, name, g, x)

        t_kernel = timed(kernel_only, be.synchronize, ctx.reps)
        row = result(name, "xpgrad kernel", t_kernel, nbytes, ctx.copy_bw)
        report.rows.append(row)
        fn = _xg_activation(xg, act)

        def api(fn=fn):
            with xg.GradientTape() as tape:
                tape.watch(xt)
                y = fn(xt)
            tape.gradient(y, xt, output_gradients=gt)

        t_api = timed(api, be.synchronize, ctx.reps)
        report.rows.append(result(name, "xpgrad API (tape)", t_api, nbytes, ctx.copy_bw))
        entry = {"workload": name, "of_copy": row["of_copy"], "vs_torch": None,
                 "vs_torch_api": None}
        if peer is not None:
            torch_fn = getattr(peer.torch, act)
            grad = peer.torch.autograd.grad

            def torch_run(torch_fn=torch_fn):
                grad(torch_fn(xp), xp, grad_outputs=gp)

            t_torch = timed(torch_run, peer.sync, ctx.reps)
            report.rows.append(result(name, "torch", t_torch, nbytes, ctx.copy_bw))
            entry["vs_torch"] = add_ratio(report, f"{name} (kernel)", t_torch, t_kernel)
            entry["vs_torch_api"] = add_ratio(report, f"{name} (API)", t_torch, t_api)
        out[act] = entry
    del x, g, xt, gt, xp, gp
    ctx.free()


_OPTIM_SETTINGS = {   # rule: (xg.optim class, its kwargs, torch kwargs, update primitive, params)
    "sgd_momentum": ("SGD", {"momentum": 0.9}, {"momentum": 0.9}, "sgd_update",
                     {"lr": 1e-3, "momentum": 0.9, "nesterov": False, "weight_decay": 0.0}),
    "adam": ("Adam", {}, {}, "adam_update",
             {"lr": 1e-3, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.0,
              "decoupled": False}),
}


def _update_call(be, prim, params, arrays):
    """A zero-argument call of the backend's fused update on raw arrays: the ``prim`` kernel
    (its forward updates in place), or the backend method of that name (older backends)."""
    step = [0]
    try:
        kern = kernel_for(be, prim)
    except KeyError:
        kern = None
    method = None if kern is not None else getattr(be, prim, None)
    if kern is None and method is None:
        raise KeyError(f"backend {be.name!r} has neither a {prim!r} kernel nor method")

    def call():
        step[0] += 1
        kw = dict(params, step=step[0]) if prim == "adam_update" else params
        if kern is not None:
            if kern.forward(*arrays, **kw) is None:
                raise RuntimeError(f"{prim}: the kernel declined these inputs")
        else:
            method(*arrays, **kw)
    return call


def bench_optimizers(ctx, report, size, rules=("sgd_momentum", "adam")):
    """One update of a ``size``-element float32 parameter: the backend's fused update on raw
    arrays, ``xg.optim`` through ``apply_gradients``, and ``torch.optim`` (``foreach=True``; for
    Adam also ``fused=True``)."""
    xg, be, cupy, peer = ctx.xg, ctx.be, ctx.cupy, ctx.peer
    rng = np.random.default_rng(3)
    p0 = rng.standard_normal(size, dtype=np.float32)
    g0 = rng.standard_normal(size, dtype=np.float32) * np.float32(1e-2)
    out = report.summary.setdefault("optimizers", {})
    for rule in rules:
        cls_name, xg_kw, torch_kw, prim, params = _OPTIM_SETTINGS[rule]
        name = f"{cls_name}{'(momentum)' if rule == 'sgd_momentum' else ''} update " \
               f"{size_label(size)}"
        nbytes = optimizer_bytes(rule, size)
        n_states = 1 if rule == "sgd_momentum" else 2
        p, g = cupy.asarray(p0), cupy.asarray(g0)
        states = [cupy.asarray(np.zeros(size, np.float32)) for _ in range(n_states)]
        call = _update_call(be, prim, params, [p, g, *states])
        t_kernel = timed(call, be.synchronize, ctx.reps)
        row = result(name, "xpgrad kernel", t_kernel, nbytes, ctx.copy_bw)
        report.rows.append(row)
        del p, g, states, call
        var = xg.Variable(xg.asarray(p0, backend=be), name="w")
        grad = xg.asarray(g0, backend=be)
        opt = getattr(xg.optim, cls_name)(learning_rate=1e-3, **xg_kw)
        t_api = timed(lambda: opt.apply_gradients([(grad, var)]), be.synchronize, ctx.reps)
        report.rows.append(result(name, "xpgrad API (optim)", t_api, nbytes, ctx.copy_bw))
        del var, grad, opt
        ctx.free()
        entry = {"workload": name, "of_copy": row["of_copy"], "vs_torch": None,
                 "vs_torch_api": None}
        if peer is not None:
            variants = [("foreach", {"foreach": True})]
            if rule == "adam":
                variants.append(("fused", {"fused": True}))
            for label, extra in variants:
                wp = peer.torch.nn.Parameter(peer.put(p0))
                wp.grad = peer.put(g0)
                try:
                    topt = getattr(peer.torch.optim, cls_name)([wp], lr=1e-3, **torch_kw,
                                                                **extra)
                except (RuntimeError, TypeError, ValueError) as e:   # fused needs CUDA/newer
                    report.rows.append(result(name, f"torch ({label})", None,
                                              note=f"unavailable: {e}"))
                    continue
                t_torch = timed(topt.step, peer.sync, ctx.reps)
                report.rows.append(result(name, f"torch ({label})", t_torch, nbytes,
                                          ctx.copy_bw))
                entry[f"vs_torch_{label}"] = add_ratio(report, f"{name} (kernel vs {label})",
                                                    t_torch, t_kernel)
                entry[f"vs_torch_{label}_api"] = add_ratio(report, f"{name} (API vs {label})",
                                                        t_torch, t_api)
                del wp, topt
                ctx.free()
            entry["vs_torch"] = entry.get("vs_torch_foreach")
            entry["vs_torch_api"] = entry.get("vs_torch_foreach_api")
        out[rule] = entry
