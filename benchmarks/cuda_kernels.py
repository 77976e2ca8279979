"""CUDA benchmarks for the cupy backend, side by side with PyTorch CUDA in one run.

    python benchmarks/cuda_kernels.py              # needs a CUDA device (and CuPy)
    python benchmarks/cuda_kernels.py --quick      # smaller problems, fewer repetitions
    python benchmarks/cuda_kernels.py --dry-run    # anywhere: the plan, sizes and byte counts
    python benchmarks/cuda_kernels.py --json out.json --sections ce,mse

Measures the device's copy bandwidth (device-to-device memcpy and a CuPy copy of a 1 GiB array;
the larger counts), then times, for xpgrad (the fused kernel alone, and through the public API)
and for PyTorch on the same inputs:

- softmax cross-entropy forward + backward with int64 labels at 8192 x 32000 (also with the
  shared-memory variants), 4096 x 1000 and 128 x 10 float32 (PyTorch:
  ``F.cross_entropy(x, y).backward()``);
- sigmoid-MSE forward + backward on 100M float32 elements (PyTorch:
  ``F.mse_loss(torch.sigmoid(x), t).backward()``);
- the sigmoid, tanh and relu activations forward + backward on 64M elements with a given output
  gradient (PyTorch: ``torch.autograd.grad(f(x), x, g)``);
- the SGD (momentum 0.9) and Adam updates of one 64M-element parameter (PyTorch's
  ``torch.optim.SGD`` and ``Adam`` with ``foreach=True``, and Adam with ``fused=True``);
- the MLP training step of ``xpgrad.bench_workloads.mlp_step`` at batch 128 and 4096;
- the LSTM training step of ``xpgrad.bench_workloads.lstm_step`` (``xg.nn.LSTM`` against
  ``torch.nn.LSTM``, i.e. cuDNN) at two sizes.

"Bytes" are what the operation must move at least (each input read once, each output written
once); "of copy" is bytes / time as a fraction of the measured copy bandwidth. Times are the best
of 3 batches, each the mean over ``--reps`` runs ending in a device synchronize. Each section
runs on its own: one that raises is reported (``errors`` in the JSON, exit status 1) and the
others still run; ``--json`` is rewritten after every section, so a run cut short keeps what it
measured. The JSON's ``summary`` holds the headline numbers (``tools/gpu_check.py`` prints them).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
import traceback
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

CE_SHAPES = ((8192, 32000), (4096, 1000), (128, 10))   # the first is the headline
MSE_SIZE = 100_000_000
ACT_SIZE = 1 << 26                                     # 64M elements
ACT_NAMES = ("sigmoid", "tanh", "relu")
OPTIM_SIZE = 1 << 26                                   # 64M parameters
COPY_BYTES = 1 << 30
MLP_BATCHES = (128, 4096)
# (batch, hidden, steps, input_size) for xpgrad.bench_workloads.lstm_step
LSTM_CONFIGS = ((64, 128, 50, 64), (256, 512, 50, 256))
QUICK = {"ce": ((1024, 32000), (128, 10)), "mse": 10_000_000, "act": 1 << 23, "optim": 1 << 23,
         "copy": 1 << 28, "lstm": ((64, 128, 50, 64),)}
SECTIONS = ("ce", "mse", "activations", "optim", "mlp", "lstm")


# -- what each workload must move ---------------------------------------------------------------
def ce_bytes(n, c, itemsize=4, label_size=8):
    """Read logits and labels, write the gradient and the n row losses.

    >>> ce_bytes(2, 3)         # 2*3 logits read + 2*3 gradients written + labels + row losses
    72
    """
    return n * c * itemsize * 2 + n * label_size + n * itemsize


def mse_bytes(n, itemsize=4):
    """Read logits and targets, write the gradient (the scalar loss is negligible).

    >>> mse_bytes(10)
    120
    """
    return 3 * n * itemsize


def activation_bytes(n, itemsize=4):
    """Forward reads x and writes y; backward reads the output gradient and one saved array
    (y, or x for relu) and writes the input gradient: five arrays.

    >>> activation_bytes(10)
    200
    """
    return 5 * n * itemsize


def optimizer_bytes(rule, n, itemsize=4):
    """In-place update: read param, grad and each state, write param and each state (SGD with
    momentum: one state; Adam: two).

    >>> optimizer_bytes("sgd_momentum", 10), optimizer_bytes("adam", 10)
    (200, 280)
    """
    states = {"sgd": 0, "sgd_momentum": 1, "adam": 2}[rule]
    return (2 + states) * n * itemsize + (1 + states) * n * itemsize


# -- timing and reporting -----------------------------------------------------------------------
def timed(fn, sync, reps, batches=3):
    """Best over ``batches`` of the mean time of ``reps`` calls (after one warm-up call).

    >>> timed(lambda: None, lambda: None, reps=2) >= 0
    True
    """
    fn()
    sync()
    best = float("inf")
    for _ in range(batches):
        t0 = time.perf_counter()
        for _ in range(reps):
            fn()
        sync()
        best = min(best, (time.perf_counter() - t0) / reps)
    return best


def result(name, lib, seconds, nbytes=None, copy_bw=None, note=""):
    """One row of the report; GB/s and the fraction of copy bandwidth when bytes are known.

    >>> result("w", "lib", 0.5, 10**9, copy_bw=4e9)["of_copy"]
    0.5
    """
    r = {"workload": name, "lib": lib, "ms": None if seconds is None else seconds * 1e3,
         "bytes": nbytes, "GB/s": None, "of_copy": None, "note": note}
    if seconds and nbytes:
        r["GB/s"] = nbytes / seconds / 1e9
        if copy_bw:
            r["of_copy"] = nbytes / seconds / copy_bw
    return r


def format_report(device, copy_bw, rows, ratios):
    """The table printed at the end (and after ``--dry-run``).

    >>> print(format_report("none", None, [], {}).splitlines()[1])
    copy bandwidth: n/a
    """
    out = [f"device: {device}",
           f"copy bandwidth: {copy_bw / 1e9:.1f} GB/s" if copy_bw else "copy bandwidth: n/a", "",
           f"{'workload':<36}{'lib':<22}{'MB':>9}{'ms':>10}{'GB/s':>9}{'of copy':>9}  note"]
    for r in rows:
        ms = f"{r['ms']:.3f}" if r["ms"] is not None else "n/a"
        gbs = f"{r['GB/s']:.1f}" if r["GB/s"] is not None else ""
        frac = f"{r['of_copy']:.0%}" if r["of_copy"] is not None else ""
        mb = f"{r['bytes'] / 1e6:.0f}" if r["bytes"] else ""
        out.append(f"{r['workload']:<36}{r['lib']:<22}{mb:>9}{ms:>10}{gbs:>9}{frac:>9}  "
                   f"{r['note']}")
    if ratios:
        out += ["", "PyTorch time / xpgrad time (> 1: xpgrad faster):"]
        out += [f"  {k}: {v:.2f}x" for k, v in ratios.items()]
    return "\n".join(out)


@dataclass
class Peer:
    """PyTorch on one device: the module, the device name and its synchronize."""

    torch: object
    device: str = "cuda"
    sync: Callable = None

    def __post_init__(self):
        if self.sync is None:
            self.sync = self.torch.cuda.synchronize if self.device == "cuda" else _nothing

    def put(self, a, grad=False):
        """NumPy array ``a`` on the device (a leaf requiring grad when ``grad``)."""
        return self.torch.from_numpy(np.ascontiguousarray(a)).to(self.device).requires_grad_(grad)

    def free(self):
        if self.device == "cuda":
            self.torch.cuda.empty_cache()


@dataclass
class Ctx:
    """What every section needs: xpgrad, the cupy backend, CuPy (or a stand-in), the peer."""

    xg: object
    be: object
    cupy: object
    peer: Peer | None
    reps: int
    copy_bw: float | None

    def free(self):
        pool = getattr(self.cupy, "get_default_memory_pool", None)
        if pool is not None:
            pool().free_all_blocks()
        if self.peer is not None:
            self.peer.free()


@dataclass
class Report:
    """Rows, ratios (PyTorch time / xpgrad time), the headline numbers and each section's error."""

    device: str | None = None
    copy_bw: float | None = None
    rows: list = field(default_factory=list)
    ratios: dict = field(default_factory=dict)
    summary: dict = field(default_factory=dict)
    errors: list = field(default_factory=list)
    sections_done: list = field(default_factory=list)

    def as_json(self):
        return {"device": self.device,
                "copy_GB/s": None if self.copy_bw is None else self.copy_bw / 1e9,
                "rows": self.rows, "ratios": self.ratios, "summary": self.summary,
                "errors": self.errors, "sections_done": self.sections_done}

    def save(self, path):
        if path:
            with open(path, "w") as f:
                json.dump(self.as_json(), f, indent=2)


def _nothing():
    pass


def size_label(n):
    """A compact element count: binary millions when exact, else the number.

    >>> size_label(1 << 26), size_label(1000)
    ('64Mi', '1000')
    """
    return f"{n >> 20}Mi" if n >= 1 << 20 and n % (1 << 20) == 0 else str(n)


def kernel_for(be, name):
    """The backend's kernel for the primitive called ``name``, whether the backend's ``kernels``
    mapping is keyed by names or by Primitive objects.

    >>> from types import SimpleNamespace
    >>> kernel_for(SimpleNamespace(kernels={"relu": "k"}), "relu")
    'k'
    """
    try:
        return next(k for p, k in be.kernels.items() if getattr(p, "name", p) == name)
    except StopIteration:
        raise KeyError(f"backend {getattr(be, 'name', be)!r} has no kernel for {name!r}") \
            from None


def _ratio(report, key, t_peer, t_ours):
    if t_peer and t_ours:
        report.ratios[key] = t_peer / t_ours
        return report.ratios[key]
    return None


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


def _torch_cuda():
    try:
        import torch
    except ImportError:
        return None, "PyTorch is not installed"
    if not torch.cuda.is_available():
        return None, "PyTorch sees no CUDA device"
    return torch, None


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
        res = kern.forward(x, y, reduction="mean")
        if res is None:
            raise RuntimeError(f"{name}: the kernel declined these inputs")
        kern.vjp(one, res[1], x, y, reduction="mean")

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
        entry["vs_torch"] = _ratio(report, f"{name} (kernel)", t_torch, t_kernel)
        entry["vs_torch_api"] = _ratio(report, f"{name} (API)", t_torch, t_api)
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
        res = kern.forward(x, t, reduction="mean")
        if res is None:
            raise RuntimeError(f"{name}: the kernel declined these inputs")
        kern.vjp(one, res[1], x, t, reduction="mean")

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
        entry["vs_torch"] = _ratio(report, f"{name} (kernel)", t_torch, t_kernel)
        entry["vs_torch_api"] = _ratio(report, f"{name} (API)", t_torch, t_api)
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
            res = kern.forward(x)
            if res is None:
                raise RuntimeError(f"{name}: the kernel declined these inputs")
            kern.vjp(g, res[1], x)

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
            entry["vs_torch"] = _ratio(report, f"{name} (kernel)", t_torch, t_kernel)
            entry["vs_torch_api"] = _ratio(report, f"{name} (API)", t_torch, t_api)
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
                entry[f"vs_torch_{label}"] = _ratio(report, f"{name} (kernel vs {label})",
                                                    t_torch, t_kernel)
                entry[f"vs_torch_{label}_api"] = _ratio(report, f"{name} (API vs {label})",
                                                        t_torch, t_api)
                del wp, topt
                ctx.free()
            entry["vs_torch"] = entry.get("vs_torch_foreach")
            entry["vs_torch_api"] = entry.get("vs_torch_foreach_api")
        out[rule] = entry


def _workload_rows(report, name, builds, reps):
    """Time ``bench_workloads`` callables (each ends in a synchronize) for each library."""
    from xpgrad import bench_workloads as W

    times = {}
    for lib, build in builds:
        try:
            fn = build()
        except W.Unavailable as e:
            report.rows.append(result(name, lib, None, note=f"unavailable: {e}"))
            continue
        times[lib] = timed(fn, _nothing, reps)
        report.rows.append(result(name, lib, times[lib]))
    return times


def bench_mlp(ctx, report, batches, libs=("xpgrad-cupy", "torch-cuda")):
    """The MLP training step of ``xpgrad.bench_workloads.mlp_step`` per batch size: xpgrad on
    ``libs[0]`` against ``libs[1]``."""
    from xpgrad import bench_workloads as W

    ours, theirs = libs
    out = report.summary.setdefault("mlp", {})
    for batch in batches:
        name = f"MLP step {'-'.join(map(str, W.MLP_SIZES))} b{batch}"
        times = _workload_rows(report, name, [
            (lib, lambda lib=lib: W.build("mlp_step", lib, batch=batch)) for lib in libs],
            max(ctx.reps, 50))
        out[f"b{batch}"] = _ratio(report, name, times.get(theirs), times.get(ours))
        # the step as an xg.function (CUDA graphs) against PyTorch eager (the row above) and
        # PyTorch's step captured in a CUDA graph (torch.cuda.graph): ratios peer / ours
        eager_peer = times.get(theirs)
        name = f"MLP step {'-'.join(map(str, W.MLP_SIZES))} b{batch} compiled"
        times = _workload_rows(report, name, [
            (lib, lambda lib=lib: W.build("mlp_step", lib, batch=batch, compiled=True))
            for lib in libs], max(ctx.reps, 50))
        out[f"b{batch} compiled vs torch graph"] = _ratio(report, name, times.get(theirs),
                                                          times.get(ours))
        out[f"b{batch} compiled vs torch eager"] = _ratio(report, name + " vs torch eager",
                                                          eager_peer, times.get(ours))


def bench_lstm(ctx, report, configs, libs=("xpgrad-cupy", "torch-cuda")):
    """The LSTM training step of ``xpgrad.bench_workloads.lstm_step`` (``xg.nn.LSTM`` against
    ``torch.nn.LSTM``) for each ``(batch, hidden, steps, input_size)``."""
    from xpgrad import bench_workloads as W

    ours, theirs = libs
    out = report.summary.setdefault("lstm", {})
    for batch, hidden, steps, input_size in configs:
        name = f"LSTM step b{batch} h{hidden} t{steps} i{input_size}"
        kw = dict(batch=batch, hidden=hidden, steps=steps, input_size=input_size)
        times = _workload_rows(report, name, [
            (lib, lambda lib=lib: W.build("lstm_step", lib, **kw)) for lib in libs],
            max(ctx.reps // 4, 3))
        out[f"b{batch} h{hidden}"] = _ratio(report, name, times.get(theirs), times.get(ours))


def run_sections(ctx, report, sections, sizes, json_path=None, out=sys.stdout):
    """Run each section in order; an exception is recorded in ``report.errors`` and the next
    section runs. The JSON is rewritten after each section."""
    plan = {"ce": lambda: [bench_ce(ctx, report, s, variants=(i == 0))
                           for i, s in enumerate(sizes["ce"])],
            "mse": lambda: bench_sigmoid_mse(ctx, report, sizes["mse"]),
            "activations": lambda: bench_activations(ctx, report, sizes["act"]),
            "optim": lambda: bench_optimizers(ctx, report, sizes["optim"]),
            "mlp": lambda: bench_mlp(ctx, report, sizes["mlp"], sizes["libs"]),
            "lstm": lambda: bench_lstm(ctx, report, sizes["lstm"], sizes["libs"])}
    for section in sections:
        t0 = time.perf_counter()
        print(f"[bench] {section} ...", file=out, flush=True)
        try:
            plan[section]()
        except Exception as e:       # one broken section must not lose the others
            traceback.print_exc()
            report.errors.append({"section": section, "error": f"{type(e).__name__}: {e}",
                                  "traceback": traceback.format_exc()[-3000:]})
            ctx.free()
        else:
            report.sections_done.append(section)
        print(f"[bench] {section} done in {time.perf_counter() - t0:.1f} s", file=out,
              flush=True)
        report.save(json_path)


def sizes_for(quick):
    """The problem sizes of a full or ``--quick`` run."""
    return {"ce": QUICK["ce"] if quick else CE_SHAPES,
            "mse": QUICK["mse"] if quick else MSE_SIZE,
            "act": QUICK["act"] if quick else ACT_SIZE,
            "optim": QUICK["optim"] if quick else OPTIM_SIZE,
            "mlp": MLP_BATCHES, "lstm": QUICK["lstm"] if quick else LSTM_CONFIGS,
            "libs": ("xpgrad-cupy", "torch-cuda")}


def dry_run(quick, sections=SECTIONS):
    """Everything that needs no device: sizes, byte counts, launch plans, the report format."""
    from xpgrad.backends.cupy import _sources as S
    from xpgrad.backends.cupy import losses as cuda_losses
    from xpgrad.backends.cupy._launch import ce_plan, elementwise_grid, smem_budget

    sz = sizes_for(quick)
    # an H100: 132 SMs, 227 KiB opt-in / 228 KiB per SM / 1 KiB reserved shared memory per
    # block; 528 B of static shared memory in the float32 CE kernel (ptxas)
    budget = smem_budget(227 * 1024, 228 * 1024, 1024, 528, cuda_losses.CE_BLOCKS_PER_SM)
    rows = []
    if "ce" in sections:
        for n, c in sz["ce"]:
            threads, smem, n_cached = ce_plan(c, 4, False, budget)
            rows.append(result(f"softmax CE fwd+bwd {n}x{c}", "plan", None, ce_bytes(n, c),
                               note=f"{n} blocks x {threads} threads, {smem} B smem: {n_cached}"
                                    f" of {c} columns cached (an H100)"))
    if "mse" in sections:
        grid = elementwise_grid(sz["mse"], 4, S.POINTWISE_THREADS, 132)
        rows.append(result(f"sigmoid-MSE fwd+bwd {sz['mse'] / 1e6:g}M", "plan", None,
                           mse_bytes(sz["mse"]),
                           note=f"{grid} blocks x {S.POINTWISE_THREADS} threads (an H100's "
                                "132 SMs)"))
    if "activations" in sections:
        for act in ACT_NAMES:
            rows.append(result(f"{act} fwd+bwd {size_label(sz['act'])}", "plan", None,
                               activation_bytes(sz["act"]), note="kernel, API, torch"))
    if "optim" in sections:
        for rule, label in (("sgd_momentum", "SGD(momentum)"), ("adam", "Adam")):
            rows.append(result(f"{label} update {size_label(sz['optim'])}", "plan", None,
                               optimizer_bytes(rule, sz["optim"]),
                               note="kernel, API, torch foreach" +
                                    (", torch fused" if rule == "adam" else "")))
    if "mlp" in sections:
        for batch in MLP_BATCHES:
            rows.append(result(f"MLP step b{batch}", "plan", None, note="xpgrad vs torch-cuda"))
    if "lstm" in sections:
        for batch, hidden, steps, input_size in sz["lstm"]:
            rows.append(result(f"LSTM step b{batch} h{hidden} t{steps} i{input_size}", "plan",
                               None, note="xg.nn.LSTM vs torch.nn.LSTM (cuDNN)"))
    print(format_report("none (dry run: no device work)", None, rows, {}))
    return Report(rows=rows, sections_done=[f"{s} (plan)" for s in sections])


def _parse_sections(text):
    chosen = [s.strip() for s in text.split(",") if s.strip()]
    bad = [s for s in chosen if s not in SECTIONS]
    if bad:
        raise argparse.ArgumentTypeError(f"unknown section(s) {bad}; choose from {SECTIONS}")
    return chosen


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="smaller problems, fewer repetitions")
    p.add_argument("--reps", type=int, default=None, help="runs per timed batch")
    p.add_argument("--dry-run", action="store_true", help="no device: print the plan only")
    p.add_argument("--json", help="also write the results to this file (after every section)")
    p.add_argument("--sections", type=_parse_sections, default=list(SECTIONS),
                   help=f"comma-separated subset of {','.join(SECTIONS)} (default: all)")
    args = p.parse_args(argv)
    if args.dry_run:
        report = dry_run(args.quick, args.sections)
        report.save(args.json)
        return 0
    import xpgrad as xg

    try:
        be = xg.get_backend("cupy")
    except xg.BackendUnavailableError as e:
        print(f"cannot run the CUDA benchmarks here: {e}\n(use --dry-run to see the plan)",
              file=sys.stderr)
        return 2
    import cupy

    reps = args.reps or (5 if args.quick else 20)
    warmup = getattr(be, "warmup", None)
    if warmup is not None:      # compile (or load from CuPy's cache) outside the timings
        warmup(("float32",))
    torch, why = _torch_cuda()
    info = be.describe()
    device = f"{info['device']} (compute {info['compute_capability']}, " \
             f"{info['memory_total_gib']} GiB); CuPy {info['version']}" + \
             (f"; torch {torch.__version__}" if torch else f"; torch: {why}")
    print(f"device: {device}", flush=True)
    copy_bw = copy_bandwidth(cupy, QUICK["copy"] if args.quick else COPY_BYTES, reps)
    print(f"copy bandwidth: {copy_bw / 1e9:.1f} GB/s", flush=True)
    report = Report(device=device, copy_bw=copy_bw)
    report.summary["copy_GB/s"] = copy_bw / 1e9
    report.save(args.json)
    ctx = Ctx(xg, be, cupy, Peer(torch) if torch is not None else None, reps, copy_bw)
    run_sections(ctx, report, args.sections, sizes_for(args.quick), args.json)
    print(format_report(device, copy_bw, report.rows, report.ratios))
    for err in report.errors:
        print(f"section {err['section']} failed: {err['error']}", file=sys.stderr)
    return 1 if report.errors else 0


if __name__ == "__main__":
    sys.exit(main())
