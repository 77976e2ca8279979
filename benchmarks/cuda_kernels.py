"""CUDA benchmarks for the cupy backend, side by side with PyTorch CUDA in one run.

    python benchmarks/cuda_kernels.py              # needs a CUDA device (and CuPy)
    python benchmarks/cuda_kernels.py --quick      # smaller problems, fewer repetitions
    python benchmarks/cuda_kernels.py --dry-run    # anywhere: the plan, sizes and byte counts
    python benchmarks/cuda_kernels.py --json out.json

Measures the device's copy bandwidth (device-to-device memcpy and a CuPy copy of a 1 GiB array;
the larger counts), then times, for xpgrad (the fused kernel alone, and through the public API
on a GradientTape) and for PyTorch:

- softmax cross-entropy forward + backward, 8192 x 32000 float32 with int64 labels (PyTorch:
  ``F.cross_entropy(x, y).backward()``); also xpgrad without keeping rows in shared memory;
- sigmoid-MSE forward + backward on 100M float32 elements (PyTorch:
  ``F.mse_loss(torch.sigmoid(x), t).backward()``);
- the MLP training step of ``xpgrad.bench_workloads.mlp_step`` at batch 128 and 4096.

"Bytes" are what the operation must move at least (each input read once, each output written
once); "of copy" is bytes / time as a fraction of the measured copy bandwidth. Times are the best
of 3 batches, each the mean over ``--reps`` runs ending in a device synchronize.
"""
from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np

CE_SHAPE = (8192, 32000)
MSE_SIZE = 100_000_000
COPY_BYTES = 1 << 30
MLP_BATCHES = (128, 4096)
QUICK = {"ce": (1024, 32000), "mse": 10_000_000, "copy": 1 << 28}


# -- what each workload must move ---------------------------------------------------------------
def ce_bytes(n, c, itemsize=4, label_size=8):
    """Read logits and labels, write the gradient and the n row losses."""
    return n * c * itemsize * 2 + n * label_size + n * itemsize


def mse_bytes(n, itemsize=4):
    """Read logits and targets, write the gradient (the scalar loss is negligible)."""
    return 3 * n * itemsize


# -- timing -------------------------------------------------------------------------------------
def timed(fn, sync, reps, batches=3):
    """Best over ``batches`` of the mean time of ``reps`` calls (after one warm-up call)."""
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
    r = {"workload": name, "lib": lib, "ms": None if seconds is None else seconds * 1e3,
         "bytes": nbytes, "GB/s": None, "of_copy": None, "note": note}
    if seconds and nbytes:
        r["GB/s"] = nbytes / seconds / 1e9
        if copy_bw:
            r["of_copy"] = nbytes / seconds / copy_bw
    return r


def format_report(device, copy_bw, rows, ratios):
    out = [f"device: {device}",
           f"copy bandwidth: {copy_bw / 1e9:.1f} GB/s" if copy_bw else "copy bandwidth: n/a", "",
           f"{'workload':<34}{'lib':<20}{'MB':>9}{'ms':>10}{'GB/s':>9}{'of copy':>9}  note"]
    for r in rows:
        ms = f"{r['ms']:.3f}" if r["ms"] is not None else "n/a"
        gbs = f"{r['GB/s']:.1f}" if r["GB/s"] is not None else ""
        frac = f"{r['of_copy']:.0%}" if r["of_copy"] is not None else ""
        mb = f"{r['bytes'] / 1e6:.0f}" if r["bytes"] else ""
        out.append(f"{r['workload']:<34}{r['lib']:<20}{mb:>9}{ms:>10}{gbs:>9}{frac:>9}  "
                   f"{r['note']}")
    if ratios:
        out += ["", "PyTorch time / xpgrad time (> 1: xpgrad faster):"]
        out += [f"  {k}: {v:.2f}x" for k, v in ratios.items()]
    return "\n".join(out)


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


def bench_ce(xg, be, cupy, torch, shape, reps, copy_bw, rows, ratios):
    from xpgrad.backends.cupy import losses as cuda_losses

    n, c = shape
    rng = np.random.default_rng(0)
    x0 = rng.normal(size=shape).astype(np.float32)
    y0 = rng.integers(0, c, n)
    name = f"softmax CE fwd+bwd {n}x{c}"
    nbytes = ce_bytes(n, c)
    x, y = cupy.asarray(x0), cupy.asarray(y0)
    kern = be.kernels["softmax_cross_entropy"]
    one = cupy.ones((), cupy.float32)

    def kernel_only():
        out, saved = kern.forward(x, y, reduction="mean")
        kern.vjp(one, saved, x, y, reduction="mean")

    t_kernel = timed(kernel_only, be.synchronize, reps)
    rows.append(result(name, "xpgrad kernel", t_kernel, nbytes, copy_bw,
                       f"smem for {cuda_losses.CE_BLOCKS_PER_SM} blocks/SM (default)"))
    default = (cuda_losses.CE_CACHE_ROWS, cuda_losses.CE_BLOCKS_PER_SM)
    for cache, per_sm, note in ((True, 1, "smem for 1 block/SM"), (False, 2, "no smem cache")):
        cuda_losses.CE_CACHE_ROWS, cuda_losses.CE_BLOCKS_PER_SM = cache, per_sm
        try:
            t = timed(kernel_only, be.synchronize, reps)
        finally:
            cuda_losses.CE_CACHE_ROWS, cuda_losses.CE_BLOCKS_PER_SM = default
        rows.append(result(name, "xpgrad kernel", t, nbytes, copy_bw, note))
    xt, yt = xg.asarray(x0, backend=be), xg.asarray(y0, backend=be)

    def api():
        with xg.GradientTape() as tape:
            tape.watch(xt)
            loss = xg.losses.softmax_cross_entropy(xt, yt)
        tape.gradient(loss, xt)

    t_api = timed(api, be.synchronize, reps)
    rows.append(result(name, "xpgrad API (tape)", t_api, nbytes, copy_bw,
                       "incl. label range check"))
    del x, y, xt, yt
    cupy.get_default_memory_pool().free_all_blocks()
    if torch is not None:
        F = torch.nn.functional
        xp = torch.from_numpy(x0).cuda().requires_grad_()
        yp = torch.from_numpy(y0).cuda()

        def torch_run():
            xp.grad = None
            F.cross_entropy(xp, yp).backward()

        t_torch = timed(torch_run, torch.cuda.synchronize, reps)
        rows.append(result(name, "torch", t_torch, nbytes, copy_bw))
        ratios[f"{name} (kernel)"] = t_torch / t_kernel
        ratios[f"{name} (API)"] = t_torch / t_api
        del xp, yp
        torch.cuda.empty_cache()


def bench_sigmoid_mse(xg, be, cupy, torch, size, reps, copy_bw, rows, ratios):
    rng = np.random.default_rng(1)
    x0 = rng.normal(size=size).astype(np.float32)
    t0 = rng.random(size, dtype=np.float32)
    name = f"sigmoid-MSE fwd+bwd {size / 1e6:g}M"
    nbytes = mse_bytes(size)
    x, t = cupy.asarray(x0), cupy.asarray(t0)
    kern = be.kernels["sigmoid_mse"]
    one = cupy.ones((), cupy.float32)

    def kernel_only():
        out, saved = kern.forward(x, t, reduction="mean")
        kern.vjp(one, saved, x, t, reduction="mean")

    t_kernel = timed(kernel_only, be.synchronize, reps)
    rows.append(result(name, "xpgrad kernel", t_kernel, nbytes, copy_bw))
    xt, tt = xg.asarray(x0, backend=be), xg.asarray(t0, backend=be)

    def api():
        with xg.GradientTape() as tape:
            tape.watch(xt)
            loss = xg.losses.sigmoid_mse(xt, tt)
        tape.gradient(loss, xt)

    t_api = timed(api, be.synchronize, reps)
    rows.append(result(name, "xpgrad API (tape)", t_api, nbytes, copy_bw))
    del x, t, xt, tt
    cupy.get_default_memory_pool().free_all_blocks()
    if torch is not None:
        F = torch.nn.functional
        xp = torch.from_numpy(x0).cuda().requires_grad_()
        tp = torch.from_numpy(t0).cuda()

        def torch_run():
            xp.grad = None
            F.mse_loss(torch.sigmoid(xp), tp).backward()

        t_torch = timed(torch_run, torch.cuda.synchronize, reps)
        rows.append(result(name, "torch", t_torch, nbytes, copy_bw))
        ratios[f"{name} (kernel)"] = t_torch / t_kernel
        ratios[f"{name} (API)"] = t_torch / t_api
        del xp, tp
        torch.cuda.empty_cache()


def bench_mlp(torch, batches, reps, rows, ratios):
    from xpgrad import bench_workloads as W

    for batch in batches:
        name = f"MLP step {'-'.join(map(str, W.MLP_SIZES))} b{batch}"
        times = {}
        for lib in ("xpgrad-cupy", "torch-cuda"):
            try:
                fn = W.build("mlp_step", lib, batch=batch)
            except W.Unavailable as e:
                rows.append(result(name, lib, None, note=f"unavailable: {e}"))
                continue
            times[lib] = timed(fn, lambda: None, reps)   # each call ends in a synchronize
            rows.append(result(name, lib, times[lib]))
        if len(times) == 2:
            ratios[name] = times["torch-cuda"] / times["xpgrad-cupy"]


def dry_run(quick):
    """Everything that needs no device: sizes, byte counts, launch plans, the report format."""
    from xpgrad.backends.cupy import _sources as S
    from xpgrad.backends.cupy import losses as cuda_losses
    from xpgrad.backends.cupy._launch import ce_plan, elementwise_grid, smem_budget

    n, c = QUICK["ce"] if quick else CE_SHAPE
    size = QUICK["mse"] if quick else MSE_SIZE
    # an H100: 132 SMs, 227 KiB opt-in / 228 KiB per SM / 1 KiB reserved shared memory per
    # block; 528 B of static shared memory in the float32 CE kernel (ptxas)
    budget = smem_budget(227 * 1024, 228 * 1024, 1024, 528, cuda_losses.CE_BLOCKS_PER_SM)
    threads, smem, n_cached = ce_plan(c, 4, False, budget)
    grid = elementwise_grid(size, 4, S.POINTWISE_THREADS, 132)
    rows = [result(f"softmax CE fwd+bwd {n}x{c}", "plan", None, ce_bytes(n, c),
                   note=f"{n} blocks x {threads} threads, {smem} B smem: {n_cached} of {c} "
                        "columns cached (an H100)"),
            result(f"sigmoid-MSE fwd+bwd {size / 1e6:g}M", "plan", None, mse_bytes(size),
                   note=f"{grid} blocks x {S.POINTWISE_THREADS} threads (an H100's 132 SMs)")]
    for batch in MLP_BATCHES:
        rows.append(result(f"MLP step b{batch}", "plan", None, note="xpgrad vs torch-cuda"))
    print(format_report("none (dry run: no device work)", None, rows, {}))
    return {"device": None, "rows": rows}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="smaller problems, fewer repetitions")
    p.add_argument("--reps", type=int, default=None, help="runs per timed batch")
    p.add_argument("--dry-run", action="store_true", help="no device: print the plan only")
    p.add_argument("--json", help="also write the results to this file")
    args = p.parse_args(argv)
    if args.dry_run:
        report = dry_run(args.quick)
    else:
        import xpgrad as xg

        try:
            be = xg.get_backend("cupy")
        except xg.BackendUnavailableError as e:
            print(f"cannot run the CUDA benchmarks here: {e}\n(use --dry-run to see the plan)",
                  file=sys.stderr)
            return 2
        import cupy

        reps = args.reps or (5 if args.quick else 20)
        be.warmup(("float32",))
        torch, why = _torch_cuda()
        info = be.describe()
        device = f"{info['device']} (compute {info['compute_capability']}, " \
                 f"{info['memory_total_gib']} GiB); CuPy {info['version']}" + \
                 (f"; torch {torch.__version__}" if torch else f"; torch: {why}")
        copy_bw = copy_bandwidth(cupy, QUICK["copy"] if args.quick else COPY_BYTES, reps)
        rows, ratios = [], {}
        bench_ce(xg, be, cupy, torch, QUICK["ce"] if args.quick else CE_SHAPE, reps, copy_bw,
                 rows, ratios)
        bench_sigmoid_mse(xg, be, cupy, torch, QUICK["mse"] if args.quick else MSE_SIZE, reps,
                          copy_bw, rows, ratios)
        bench_mlp(torch, MLP_BATCHES, max(reps, 50), rows, ratios)
        print(format_report(device, copy_bw, rows, ratios))
        report = {"device": device, "copy_GB/s": copy_bw / 1e9, "rows": rows, "ratios": ratios}
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
