"""Peak memory of one training step of a recurrent layer, xpgrad next to PyTorch.

    python benchmarks/step_memory.py [--backend numpy] [--only rnn gru lstm] [--repeats 5]
                                     [--batch 64 --steps 50 --input 64 --hidden 128]

Workloads (float32, one layer, batch-first (B, T, I) inputs): ``rnn`` (tanh Elman RNN),
``rnn-relu``, ``gru`` and ``lstm``; one step is forward, MSE of every output against a target,
backward through time and an SGD update. Both libraries start from PyTorch's weights; PyTorch
trains one bias (``bias_hh`` frozen, as xpgrad's RNN and LSTM have one), but the GRU's two.

Memory is measured as ``benchmarks/tape_overhead.py memory`` does it: each (library, workload)
in a fresh process, one BLAS thread, after two warm-up steps, the rise of the peak RSS (VmHWM,
reset through /proc/self/clear_refs) over the RSS before the step, glibc's mmap threshold fixed
at 64 KiB so freed buffers leave the RSS. Each number is the median of ``--repeats`` fresh
processes; ``torch/xpgrad`` above 1 means xpgrad's step rises less.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys

from tape_overhead import peak_rise

WORKLOADS = ("rnn", "rnn-relu", "gru", "lstm")
LIBRARIES = ("torch", "xpgrad")


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


def peak(library, kind, backend, batch, steps, input_size, hidden):
    """One step's peak RSS rise, MiB (run in a fresh process by ``measure``)."""
    import numpy as np

    batch, steps, input_size, hidden = map(int, (batch, steps, input_size, hidden))
    rng = np.random.default_rng(7)
    x0 = rng.normal(size=(batch, steps, input_size)).astype(np.float32)
    y0 = rng.normal(size=(batch, steps, hidden)).astype(np.float32)
    state = _torch_state(kind, input_size, hidden)
    run = (torch_step(kind, x0, y0, state) if library == "torch"
           else xpgrad_step(kind, x0, y0, state, backend))
    print(f"{peak_rise(run):.2f}")


def measure(kind, args):
    """``{library: median peak RSS rise (MiB)}`` over ``args.repeats`` fresh processes each,
    the libraries interleaved."""
    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_="65536", OPENBLAS_NUM_THREADS="1",
               OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    got = {lib: [] for lib in LIBRARIES}
    for _ in range(args.repeats):
        for lib in LIBRARIES:
            out = subprocess.run([sys.executable, __file__, "_peak", lib, kind, args.backend,
                                  str(args.batch), str(args.steps), str(args.input),
                                  str(args.hidden)],
                                 env=env, capture_output=True, text=True, check=True)
            got[lib].append(float(out.stdout.split()[-1]))
    return {lib: statistics.median(values) for lib, values in got.items()}


def main(argv=None):
    from xpgrad import cli_types

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", nargs="*", help=argparse.SUPPRESS)
    parser.add_argument("--backend", type=cli_types.backend_name, default="numpy")
    parser.add_argument("--only", nargs="*", choices=WORKLOADS, default=WORKLOADS)
    size = cli_types.positive(int)
    parser.add_argument("--repeats", type=size, default=5)
    parser.add_argument("--batch", type=size, default=64)
    parser.add_argument("--steps", type=size, default=50)
    parser.add_argument("--input", type=size, default=64)
    parser.add_argument("--hidden", type=size, default=128)
    args = parser.parse_args(argv)
    if args.what and args.what[0] == "_peak":
        return peak(*args.what[1:])
    print(f"B={args.batch} T={args.steps} I={args.input} H={args.hidden} float32, backend "
          f"{args.backend}, median of {args.repeats} fresh processes")
    for kind in args.only:
        got = measure(kind, args)
        t, x = got["torch"], got["xpgrad"]
        print(f"{kind:8s} peak RSS rise: torch {t:6.2f} MiB, xpgrad {x:6.2f} MiB, "
              f"torch/xpgrad {t / x if x else float('inf'):.2f}", flush=True)


if __name__ == "__main__":
    main()
