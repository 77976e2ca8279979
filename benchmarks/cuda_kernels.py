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
import os
import sys
import time
import traceback

# the sections live next to this file, which also runs loaded by path (tests, tools/gpu_check.py)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from cuda_bench_common import (Ctx, Peer, Report, activation_bytes, ce_bytes,  # noqa: E402,F401
                               format_report, kernel_for, mse_bytes, optimizer_bytes, result,
                               size_label)
from cuda_bench_kernels import (ACT_NAMES, bench_activations, bench_ce,  # noqa: E402
                                bench_optimizers, bench_sigmoid_mse, copy_bandwidth)
from cuda_bench_steps import bench_lstm, bench_mlp  # noqa: E402

CE_SHAPES = ((8192, 32000), (4096, 1000), (128, 10))   # the first is the headline
MSE_SIZE = 100_000_000
ACT_SIZE = 1 << 26                                     # 64M elements
OPTIM_SIZE = 1 << 26                                   # 64M parameters
COPY_BYTES = 1 << 30
MLP_BATCHES = (128, 4096)
# (batch, hidden, steps, input_size) for xpgrad.bench_workloads.lstm_step
LSTM_CONFIGS = ((64, 128, 50, 64), (256, 512, 50, 256))
QUICK = {"ce": ((1024, 32000), (128, 10)), "mse": 10_000_000, "act": 1 << 23, "optim": 1 << 23,
         "copy": 1 << 28, "lstm": ((64, 128, 50, 64),)}
SECTIONS = ("ce", "mse", "activations", "optim", "mlp", "lstm")


def _torch_cuda():
    try:
        import torch
    except ImportError:
        return None, "PyTorch is not installed"
    if not torch.cuda.is_available():
        return None, "PyTorch sees no CUDA device"
    return torch, None


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
            rows.append(result(f"MLP step b{batch}", "plan", None,
                               note="xpgrad eager and compiled (CUDA graphs) vs torch-cuda eager "
                                    "and torch.cuda.graph"))
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
    from xpgrad import cli_types

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="smaller problems, fewer repetitions")
    p.add_argument("--reps", type=cli_types.positive(int), default=None,
                   help="runs per timed batch")
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
