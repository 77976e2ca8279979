"""Peak memory and time of one training step of a recurrent layer, xpgrad next to PyTorch.

    python benchmarks/step_memory.py [memory] [--backend numpy] [--only rnn gru lstm]
                                     [--repeats 5] [--batch 64 --steps 50 --input 64 --hidden 128]
    python benchmarks/step_memory.py time [--backend numba] [--only gru] [--repeats 30]

Workloads (float32, one layer, batch-first (B, T, I) inputs): ``rnn`` (tanh Elman RNN),
``rnn-relu``, ``gru`` and ``lstm``; one step is forward, MSE of every output against a target,
backward through time and an SGD update. Both libraries start from PyTorch's weights; PyTorch
trains one bias (``bias_hh`` frozen, as xpgrad's RNN and LSTM have one), but the GRU's two.

``memory`` (the default) measures as ``benchmarks/tape_overhead.py memory`` does: each (library,
workload) in a fresh process, one BLAS thread, after two warm-up steps, the rise of the peak RSS
(VmHWM, reset through /proc/self/clear_refs) over the RSS before the step, glibc's mmap
threshold fixed at 64 KiB so freed buffers leave the RSS. Each number is the median of
``--repeats`` fresh processes (default 5), the libraries interleaved; ``torch/xpgrad`` above 1
means xpgrad's step rises less. ``time``: the thread CPU time of one step, the libraries
interleaved in one process after two warm-up steps (Numba's compile excluded), one thread each,
the median of ``--repeats`` steps (default 30); ``xpgrad/torch`` below 1 means xpgrad is faster.
Run ``time`` alternately in two trees (``PYTHONPATH``) to compare kernels: on a shared machine
only the ratio means much.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

from tape_overhead import peak_rise

WORKLOADS = ("rnn", "rnn-relu", "gru", "lstm")
LIBRARIES = ("torch", "xpgrad")
DEFAULT_REPEATS = {"memory": 5, "time": 30}


def _torch_state(kind, input_size, hidden):
    """A PyTorch layer's weights, drawn by PyTorch from a fixed seed, as NumPy arrays."""
    import torch

    torch.manual_seed(0)
    layer = _torch_layer(torch, kind, input_size, hidden)
    return {k: v.detach().numpy().copy() for k, v in layer.state_dict().items()}


def _torch_layer(torch, kind, input_size, hidden):
    if kind.startswith("rnn"):
        nonlinearity = "relu" if kind == "rnn-relu" else "tanh"
        return torch.nn.RNN(input_size, hidden, batch_first=True, nonlinearity=nonlinearity)
    cls = {"gru": torch.nn.GRU, "lstm": torch.nn.LSTM}[kind]
    return cls(input_size, hidden, batch_first=True)


def torch_step(kind, x0, y0, state):
    """``run()``: one PyTorch training step."""
    import torch

    torch.set_num_threads(1)
    layer = _torch_layer(torch, kind, x0.shape[2], y0.shape[2])
    layer.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()})
    if kind != "gru":
        layer.bias_hh_l0.requires_grad_(False)
    opt = torch.optim.SGD([p for p in layer.parameters() if p.requires_grad], lr=0.01)
    x, y = torch.from_numpy(x0), torch.from_numpy(y0)

    def run():
        opt.zero_grad()
        torch.nn.functional.mse_loss(layer(x)[0], y).backward()
        opt.step()
    return run


def xpgrad_step(kind, x0, y0, state, backend):
    """``run()``: one xpgrad training step on ``backend``."""
    import xpgrad as xg

    I, H = x0.shape[2], y0.shape[2]
    if kind.startswith("rnn"):
        nonlinearity = "relu" if kind == "rnn-relu" else "tanh"
        layer = xg.nn.RNN(I, H, nonlinearity=nonlinearity, batch_first=True, backend=backend)
    else:
        layer = {"gru": xg.nn.GRU, "lstm": xg.nn.LSTM}[kind](I, H, batch_first=True,
                                                             backend=backend)
    layer.load_torch_state_dict(state)
    params = layer.trainable_variables
    opt = xg.optim.SGD(learning_rate=0.01)
    x, y = xg.asarray(x0, backend=backend), xg.asarray(y0, backend=backend)

    def run():
        with xg.GradientTape() as tape:
            loss = xg.losses.mse(layer(x)[0], y)
        opt.apply_gradients(zip(tape.gradient(loss, params), params))
    return run


def make_step(library, kind, args):
    """``run()``: one training step of ``kind`` on ``library`` at ``args``' sizes."""
    import numpy as np

    rng = np.random.default_rng(7)
    x0 = rng.normal(size=(args.batch, args.steps, args.input)).astype(np.float32)
    y0 = rng.normal(size=(args.batch, args.steps, args.hidden)).astype(np.float32)
    state = _torch_state(kind, args.input, args.hidden)
    return (torch_step(kind, x0, y0, state) if library == "torch"
            else xpgrad_step(kind, x0, y0, state, args.backend))


def _sizes(args):
    return ["--backend", args.backend, "--batch", str(args.batch), "--steps", str(args.steps),
            "--input", str(args.input), "--hidden", str(args.hidden)]


def memory(kind, args):
    """``{library: median peak RSS rise (MiB)}`` over ``args.repeats`` fresh processes each,
    the libraries interleaved."""
    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_="65536", OPENBLAS_NUM_THREADS="1",
               OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    got = {lib: [] for lib in LIBRARIES}
    for _ in range(args.repeats):
        for lib in LIBRARIES:
            out = subprocess.run([sys.executable, __file__, "--only", kind, "--peak-of", lib,
                                  *_sizes(args)],
                                 env=env, capture_output=True, text=True, check=True)
            got[lib].append(float(out.stdout.split()[-1]))
    return {lib: statistics.median(values) for lib, values in got.items()}


def step_times(kind, args):
    """``{library: median thread CPU time of one step (s)}``, the libraries interleaved."""
    runs = {lib: make_step(lib, kind, args) for lib in LIBRARIES}
    for run in runs.values():
        run()
        run()
    times = {lib: [] for lib in LIBRARIES}
    for _ in range(args.repeats):
        for lib, run in runs.items():
            start = time.thread_time()
            run()
            times[lib].append(time.thread_time() - start)
    return {lib: statistics.median(values) for lib, values in times.items()}


def main(argv=None):
    from xpgrad import cli_types

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", nargs="?", choices=("memory", "time"), default="memory")
    parser.add_argument("--backend", type=cli_types.backend_name, default="numpy")
    parser.add_argument("--only", nargs="*", choices=WORKLOADS, default=WORKLOADS)
    size = cli_types.positive(int)
    parser.add_argument("--repeats", type=size, help="fresh processes (memory, default 5) or "
                        "timed steps (time, default 30)")
    parser.add_argument("--batch", type=size, default=64)
    parser.add_argument("--steps", type=size, default=50)
    parser.add_argument("--input", type=size, default=64)
    parser.add_argument("--hidden", type=size, default=128)
    parser.add_argument("--peak-of", choices=LIBRARIES, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.peak_of:                # one measurement in this fresh process (``memory``)
        return print(f"{peak_rise(make_step(args.peak_of, args.only[0], args)):.2f}")
    if args.repeats is None:
        args.repeats = DEFAULT_REPEATS[args.mode]
    print(f"B={args.batch} T={args.steps} I={args.input} H={args.hidden} float32, backend "
          f"{args.backend}, {args.mode}: median of {args.repeats} "
          f"{'fresh processes' if args.mode == 'memory' else 'steps'}")
    for kind in args.only:
        if args.mode == "memory":
            got = memory(kind, args)
            t, x = got["torch"], got["xpgrad"]
            print(f"{kind:8s} peak RSS rise: torch {t:6.2f} MiB, xpgrad {x:6.2f} MiB, "
                  f"torch/xpgrad {t / x if x else float('inf'):.2f}", flush=True)
        else:
            got = step_times(kind, args)
            t, x = got["torch"], got["xpgrad"]
            print(f"{kind:8s} step: torch {t * 1e3:7.2f} ms, xpgrad {x * 1e3:7.2f} ms, "
                  f"xpgrad/torch {x / t:.2f}", flush=True)


if __name__ == "__main__":
    main()
