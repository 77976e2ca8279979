"""Data-parallel scaling of one training step: samples/s and scaling efficiency for 1, 2, ...
ranks, at a fixed global batch (strong scaling) and a fixed per-rank batch (weak scaling); the
share of the step spent waiting for the gradient allreduce, with and without overlap (how much
communication the backward walk hides); and the achieved bus bandwidth next to a bare mpi4py
``Allreduce`` of the same bytes (the floor).

    python benchmarks/distributed_scaling.py [--ranks 1 2 3] [--repeats 3] [--steps 30]
                                             [--hidden 512 512] [--batch 256] [--backend numpy]

The driver launches ``mpiexec -n N`` for each N, repeats interleaved (so every N sees the same
machine load), one BLAS thread per rank, and prints a Markdown table of medians with the load
average. Numba's compile time stays out: every configuration runs warm-up steps first.

Definitions: a step's time is the slowest rank's; samples/s = global batch / step time; strong
efficiency = t(1) / (N t(N)) at the same global batch; weak efficiency = t(1) / t(N) at the same
per-rank batch; "allreduce share" = time waiting for reductions after the backward walk / step
time; "hidden" = 1 - (wait with overlap) / (wait without overlap), and the step time saved by overlap
/ (wait without overlap) -- the first counts communication moved out of the wait, the second
what the step gained; bus bandwidth = bytes x
2(N-1)/N / reduction time (NCCL's convention), where the reduction time is the wait without
overlap (all buckets reduced after the walk).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

import numpy as np


# -- one rank --------------------------------------------------------------------------------
def _rank_main(args):
    import xpgrad as xg
    from xpgrad import distributed as dist
    from xpgrad.distributed import buckets as _buckets

    w = dist.init()
    n, r = w.size, w.rank
    be = xg.get_backend(args.backend)
    sizes = [784, *args.hidden, 10]
    model = xg.nn.MLP(sizes, rng=xg.random.default_rng(0, backend=be), backend=be)
    params = model.trainable_variables
    nbytes = sum(int(np.prod(p.shape)) * 4 for p in params)
    opt = xg.optim.SGD(learning_rate=1e-3)
    rng = np.random.default_rng(r)
    results = {"ranks": n, "grad_bytes": nbytes, "buckets": len(
        _buckets.BucketPlan([(p.shape, np.float32) for p in params], args.bucket_bytes).buckets)}

    def timed_steps(local_batch, overlap):
        x = xg.asarray(rng.standard_normal((local_batch, 784)).astype(np.float32), backend=be)
        y = xg.asarray(rng.integers(0, 10, local_batch), backend=be)
        walk, wait, total = [], [], []
        for i in range(args.warmup + args.steps):
            w.barrier()
            t0 = time.perf_counter()
            with xg.GradientTape() as tape:
                loss = xg.losses.softmax_cross_entropy(model(x), y)
            if n > 1:
                dtape = dist.DistributedGradientTape(tape, overlap=overlap,
                                                     bucket_bytes=args.bucket_bytes)
                t1 = time.perf_counter()
                grads = dtape.gradient(loss, params, weight=local_batch)
                timing = dtape.last_timing
            else:
                t1 = time.perf_counter()
                grads = tape.gradient(loss, params)
                timing = {"walk": time.perf_counter() - t1, "wait": 0.0}
            opt.apply_gradients(zip(grads, params))
            t2 = time.perf_counter()
            if i >= args.warmup:
                walk.append(timing["walk"])
                wait.append(timing["wait"])
                total.append(t2 - t0)
        # a step lasts as long as its slowest rank
        slowest = np.array(total)
        w.allreduce_(slowest, "max") if n > 1 else None
        return {"step_s": float(np.median(slowest)), "wait_s": float(np.median(wait)),
                "walk_s": float(np.median(walk))}

    for kind, local in (("strong", max(args.batch // n, 1)), ("weak", args.batch)):
        for overlap in ((True, False) if n > 1 else (False,)):
            key = f"{kind}/{'overlap' if overlap else 'blocking'}"
            results[key] = {**timed_steps(local, overlap), "global_batch": local * n}

    if n > 1:   # the floor: one bare Allreduce of the same bytes, in place
        from mpi4py import MPI

        buf = np.zeros(nbytes // 4, dtype=np.float32)
        times = []
        for i in range(args.warmup + args.steps):
            w.barrier()
            t0 = time.perf_counter()
            w.comm.Allreduce(MPI.IN_PLACE, buf, op=MPI.SUM)
            if i >= args.warmup:
                times.append(time.perf_counter() - t0)
        results["bare_allreduce_s"] = float(np.median(times))
    if r == 0:
        print("RESULT " + json.dumps(results), flush=True)


# -- the driver --------------------------------------------------------------------------------
def _launch(n, args):
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
               OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1",
               NUMBA_NUM_THREADS="1", OMPI_MCA_mpi_yield_when_idle="1")
    argv = [sys.executable, os.path.abspath(__file__), "--rank-main", "--steps",
            str(args.steps), "--warmup", str(args.warmup), "--batch", str(args.batch),
            "--backend", args.backend, "--bucket-bytes", str(args.bucket_bytes),
            "--hidden", *map(str, args.hidden)]
    cmd = [shutil.which("mpiexec") or "mpiexec", "--oversubscribe", "-n", str(n), *argv]
    res = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900)
    if res.returncode != 0:
        raise SystemExit(f"mpiexec -n {n} failed:\n{res.stderr[-3000:]}")
    line = next(x for x in res.stdout.splitlines() if x.startswith("RESULT "))
    return json.loads(line[len("RESULT "):])


def _median(runs, key, field):
    return statistics.median(run[key][field] for run in runs)


def _table(by_n, args):
    base = by_n[min(by_n)]
    t1_strong = _median(base, "strong/blocking", "step_s")
    t1_weak = _median(base, "weak/blocking", "step_s")
    nbytes = base[0]["grad_bytes"]
    rows = ["| ranks | scaling | global batch | step ms (blocking) | samples/s | efficiency | "
            "allreduce wait share (blocking / overlap) | hidden: wait / step | "
            "bus GB/s (bare Allreduce) |",
            "|---|---|---|---|---|---|---|---|---|"]
    for n, runs in sorted(by_n.items()):
        for kind, t1 in (("strong", t1_strong), ("weak", t1_weak)):
            mode = f"{kind}/overlap" if n > 1 else f"{kind}/blocking"
            step = _median(runs, mode, "step_s")
            batch = runs[0][mode]["global_batch"]
            eff = t1 / (n * step) if kind == "strong" else t1 / step
            if n > 1:
                wait_b = _median(runs, f"{kind}/blocking", "wait_s")
                wait_o = _median(runs, f"{kind}/overlap", "wait_s")
                step_b = _median(runs, f"{kind}/blocking", "step_s")
                share = f"{wait_b / step_b:.0%} / {wait_o / step:.0%}"
                hidden = f"{1 - wait_o / wait_b:.0%} / {(step_b - step) / wait_b:.0%}" \
                    if wait_b > 0 else "-"
                factor = 2 * (n - 1) / n
                bus = nbytes * factor / wait_b / 1e9
                bare = nbytes * factor / statistics.median(r["bare_allreduce_s"]
                                                           for r in runs) / 1e9
                bw = f"{bus:.2f} ({bare:.2f})"
                blocking = f" ({step_b * 1e3:.2f})"
            else:
                share, hidden, bw, blocking = "-", "-", "-", ""
            rows.append(f"| {n} | {kind} | {batch} | {step * 1e3:.2f}{blocking} | "
                        f"{batch / step:,.0f} | "
                        f"{eff:.0%} | {share} | {hidden} | {bw} |")
    return "\n".join(rows)


def main(argv=None):
    from xpgrad import cli_types

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--ranks", type=cli_types.positive(int), nargs="+", default=[1, 2, 3])
    p.add_argument("--repeats", type=cli_types.positive(int), default=3)
    p.add_argument("--steps", type=cli_types.positive(int), default=30)
    p.add_argument("--warmup", type=cli_types.at_least(int, 0), default=5)
    p.add_argument("--batch", type=cli_types.positive(int), default=256,
                   help="the global batch (strong scaling) and the per-rank batch (weak)")
    p.add_argument("--hidden", type=cli_types.positive(int), nargs="+", default=[512, 512])
    p.add_argument("--backend", type=cli_types.backend_name, default="numpy")
    p.add_argument("--bucket-bytes", type=cli_types.positive(int), default=2**20,
                   help="gradient bucket size (default 1 MiB: several buckets, so that "
                        "overlap has something to start early)")
    p.add_argument("--rank-main", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.rank_main:
        return _rank_main(args)
    by_n = {n: [] for n in args.ranks}
    load_before = os.getloadavg()[0]
    for _ in range(args.repeats):
        for n in args.ranks:
            by_n[n].append(_launch(n, args))
    load_after = os.getloadavg()[0]
    nbytes = by_n[args.ranks[0]][0]["grad_bytes"]
    buckets = by_n[args.ranks[-1]][0]["buckets"]
    print(f"MLP {[784, *args.hidden, 10]} float32 ({nbytes / 2**20:.2f} MiB of gradients in "
          f"{buckets} buckets of <= {args.bucket_bytes / 2**20:g} MiB), "
          f"backend {args.backend}, SGD; {args.steps} steps x {args.repeats} interleaved "
          f"repeats, medians; {os.cpu_count()} CPUs, 1 BLAS thread per rank; load average "
          f"{load_before:.2f} before, {load_after:.2f} after\n")
    print(_table(by_n, args))


if __name__ == "__main__":
    main()
