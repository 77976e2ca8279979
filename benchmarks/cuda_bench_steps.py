"""The training-step sections of benchmarks/cuda_kernels.py: the MLP step (eager, and compiled
with xg.function against a PyTorch CUDA graph) and the LSTM step, xpgrad against PyTorch CUDA."""
from __future__ import annotations

from cuda_bench_common import no_sync, add_ratio, result, timed


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
        times[lib] = timed(fn, no_sync, reps)
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
        out[f"b{batch}"] = add_ratio(report, name, times.get(theirs), times.get(ours))
        # the step as an xg.function (CUDA graphs) against PyTorch eager (the row above) and
        # PyTorch's step captured in a CUDA graph (torch.cuda.graph): ratios peer / ours
        eager_peer = times.get(theirs)
        name = f"MLP step {'-'.join(map(str, W.MLP_SIZES))} b{batch} compiled"
        times = _workload_rows(report, name, [
            (lib, lambda lib=lib: W.build("mlp_step", lib, batch=batch, compiled=True))
            for lib in libs], max(ctx.reps, 50))
        out[f"b{batch} compiled vs torch graph"] = add_ratio(report, name, times.get(theirs),
                                                          times.get(ours))
        out[f"b{batch} compiled vs torch eager"] = add_ratio(report, name + " vs torch eager",
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
        out[f"b{batch} h{hidden}"] = add_ratio(report, name, times.get(theirs), times.get(ours))
