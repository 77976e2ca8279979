"""How far each training step is from its matrix products: the products alone (the fewest
the step needs, on the fastest library here) against PyTorch's eager step and xpgrad's eager
and compiled steps, interleaved in one process, one thread each.

    python benchmarks/gemm_floor.py [--backend numba] [--repeats 7] [--only mlp lstm char_lm]
                                    [--batches 32 128 4096] [--steps 50]

A step cannot take less than its products, so ``torch / floor`` is the largest ratio over
PyTorch any library can reach on this machine (the "best possible" column): a target above it
is out of reach here, however small the rest of the step becomes. The products: an MLP step's
five (no input gradient); an LSTM step's input projections and their weight gradient as one
product over all steps each, and per step the recurrent product and its input gradient
(no gradient for the sequence), each stacked over the steps into one call; a char-LM step's
LSTM products and its read-out's. ``floor`` is the faster of PyTorch's ``matmul`` and
xpgrad's (``backends/blas.py``: MKL where installed) on them.
"""
from __future__ import annotations

import argparse
import os

if __name__ == "__main__":       # one thread each; a test importing this keeps its own
    for _name in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS",
                  "OMP_NUM_THREADS"):
        os.environ.setdefault(_name, "1")

import numpy as np  # noqa: E402


def mlp_products(batch, sizes=(784, 256, 10)):
    """(left shape, right shape) of the products of one SGD step of a 784-256-10 MLP."""
    n_in, n_hidden, n_out = sizes
    return [((batch, n_in), (n_in, n_hidden)), ((batch, n_hidden), (n_hidden, n_out)),
            ((n_hidden, batch), (batch, n_out)), ((batch, n_out), (n_out, n_hidden)),
            ((n_in, batch), (batch, n_hidden))]


def lstm_products(batch=64, hidden=128, steps=50, input_size=64):
    """The products of one LSTM step (forward and backward through ``steps`` steps); the
    recurrent ones, one per step, as one stacked product each (no Python call per step)."""
    gates, rows = 4 * hidden, steps * batch
    return [((rows, input_size), (input_size, gates)), ((gates, rows), (rows, input_size)),
            ((gates, rows), (rows, hidden)), ((steps, batch, hidden), (hidden, gates)),
            ((steps, batch, gates), (gates, hidden))]


def char_lm_products(batch=32, steps=50, vocab=65, hidden=128):
    """The products of one char-LM step: its LSTM's, and the read-out's on every position."""
    rows = batch * steps
    return (lstm_products(batch, hidden, steps, vocab) +
            [((rows, hidden), (hidden, vocab)), ((hidden, rows), (rows, vocab)),
             ((rows, vocab), (vocab, hidden))])


def products_call(shapes, matmul):
    """A callable doing ``matmul`` on float32 operands of ``shapes`` (a left one of three
    dimensions: a stack of products) into preallocated outputs."""
    rng = np.random.default_rng(0)
    operands = [(rng.normal(size=a).astype(np.float32), rng.normal(size=b).astype(np.float32),
                 np.empty((*a[:-1], b[1]), np.float32)) for a, b in shapes]

    def call():
        for left, right, out in operands:
            matmul(left, right, out)
    return call


def workloads(only, batches=(32, 128, 4096), steps=50):
    """(label, products, step builder taking (lib, compiled)) of each workload asked for."""
    from xpgrad.bench_workloads import training

    out = []
    if "mlp" in only:
        for batch in batches:
            out.append((f"MLP 784-256-10 SGD step, batch {batch}", mlp_products(batch),
                        lambda lib, compiled, b=batch: training.mlp_step(lib, batch=b,
                                                                         compiled=compiled)))
    if "lstm" in only:
        out.append((f"LSTM 64-128 SGD step, batch 64, {steps} steps", lstm_products(steps=steps),
                    lambda lib, compiled: training.lstm_step(lib, steps=steps,
                                                             compiled=compiled)))
    if "char_lm" in only:
        from xpgrad.bench_workloads import char_lm

        out.append((f"char-LM 65-128 LSTM step, batch 32, {steps} steps",
                    char_lm_products(steps=steps),
                    lambda lib, compiled: char_lm.char_lm_step(lib, steps=steps,
                                                               compiled=compiled)))
    return out


def main(argv=None):
    from xpgrad import cli_types

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--backend", default="numba", choices=["numpy", "numba"])
    p.add_argument("--repeats", type=cli_types.positive(int), default=7)
    p.add_argument("--only", nargs="+", default=["mlp", "lstm", "char_lm"], choices=["mlp", "lstm", "char_lm"])
    p.add_argument("--batches", nargs="+", type=cli_types.positive(int), default=[32, 128, 4096],
                   help="the MLP's batch sizes")
    p.add_argument("--steps", type=cli_types.positive(int), default=50,
                   help="the LSTM's sequence length")
    args = p.parse_args(argv)

    import torch

    from xpgrad.backends import blas
    from xpgrad.bench import measure
    from xpgrad.bench_workloads import _Lib

    torch.set_num_threads(1)
    torch_lib, xpgrad_lib = _Lib("torch-cpu"), _Lib(f"xpgrad-{args.backend}")

    def torch_matmul(a, b, out):
        torch.matmul(torch.from_numpy(a), torch.from_numpy(b), out=torch.from_numpy(out))

    def xpgrad_matmul(a, b, out):
        blas.matmul(a, b, out=out)

    print(f"one thread each; products: torch {torch.__version__} and xpgrad's "
          f"{blas.describe()}; median of {args.repeats} interleaved runs, each column "
          f"first in turn")
    header = (f"{'workload':42s} {'floor':>9s} {'torch':>9s} {'eager':>9s} {'compiled':>9s}"
              f"  {'torch/floor = best possible':>27s}  {'torch/eager':>11s}  "
              f"{'torch/compiled':>14s}")
    print(header)
    print("-" * len(header))
    for label, shapes, build in workloads(args.only, args.batches, args.steps):
        fns = {"mkl-torch": products_call(shapes, torch_matmul),
               "mkl-xpgrad": products_call(shapes, xpgrad_matmul),
               "torch": build(torch_lib, False), "eager": build(xpgrad_lib, False),
               "compiled": build(xpgrad_lib, True)}
        t = measure({k: fn for k, fn in fns.items() if fn is not None}, 0.02,
                                args.repeats)
        compiled = (f"{t['compiled'] * 1e6:7.0f}us", f"{t['torch'] / t['compiled']:14.2f}"
                    ) if "compiled" in t else (f"{'n/a':>9s}", f"{'n/a':>14s}")
        floor = min(t["mkl-torch"], t["mkl-xpgrad"])
        print(f"{label:42s} {floor * 1e6:7.0f}us {t['torch'] * 1e6:7.0f}us "
              f"{t['eager'] * 1e6:7.0f}us {compiled[0]}  "
              f"{t['torch'] / floor:27.2f}  {t['torch'] / t['eager']:11.2f}  {compiled[1]}")


if __name__ == "__main__":
    main()
