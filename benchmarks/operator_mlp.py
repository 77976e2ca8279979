"""An MLP step written with the ``@`` operator, as a tutorial writes it (no layer objects):
``relu(x @ w1 + b1) @ w2 + b2``, softmax cross-entropy, plain SGD; xpgrad's eager step against
the same code in PyTorch, interleaved in one process, one thread each.

    python benchmarks/operator_mlp.py [--backend numba] [--batches 32 128] [--repeats 9]

Prints each library's median step time and PyTorch's time over xpgrad's (above 1: xpgrad is
faster).
"""
from __future__ import annotations

import argparse
import os

if __name__ == "__main__":
    for _name in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS",
                  "OMP_NUM_THREADS"):
        os.environ.setdefault(_name, "1")

import numpy as np  # noqa: E402


def steps(batch, backend, sizes=(784, 256, 10)):
    """``(xpgrad step, PyTorch step, xpgrad's variables, PyTorch's tensors)``: the steps run
    one SGD step each on the same data from the same initial weights."""
    import torch

    import xpgrad as xg

    rng = np.random.default_rng(0)
    n_in, n_hidden, n_out = sizes
    x0 = rng.normal(size=(batch, n_in)).astype(np.float32)
    y0 = rng.integers(0, n_out, batch)
    arrays = [rng.normal(size=(n_in, n_hidden)).astype(np.float32) * 0.05,
              np.zeros(n_hidden, np.float32),
              rng.normal(size=(n_hidden, n_out)).astype(np.float32) * 0.05,
              np.zeros(n_out, np.float32)]
    params = [xg.Variable(a, backend=backend) for a in arrays]
    w1, b1, w2, b2 = params
    opt = xg.optim.SGD(0.01)
    x, y = xg.asarray(x0, backend=backend), xg.asarray(y0, backend=backend)

    def xpgrad_step():
        with xg.GradientTape() as tape:
            h = xg.nn.relu(x @ w1 + b1)
            loss = xg.losses.softmax_cross_entropy(h @ w2 + b2, y)
        opt.apply_gradients(zip(tape.gradient(loss, params), params))

    tw = [torch.tensor(a, requires_grad=True) for a in arrays]
    topt = torch.optim.SGD(tw, lr=0.01)
    tx, ty = torch.from_numpy(x0), torch.from_numpy(y0)

    def torch_step():
        topt.zero_grad()
        h = torch.relu(tx @ tw[0] + tw[1])
        torch.nn.functional.cross_entropy(h @ tw[2] + tw[3], ty).backward()
        topt.step()

    return xpgrad_step, torch_step, params, tw


def main(argv=None):
    from xpgrad import cli_types

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--backend", type=cli_types.backend_name, default="numba")
    p.add_argument("--batches", nargs="+", type=cli_types.positive(int), default=[32, 128])
    p.add_argument("--repeats", type=cli_types.positive(int), default=9)
    args = p.parse_args(argv)
    import torch

    from xpgrad.bench import measure
    from xpgrad.threads import limit

    torch.set_num_threads(1)
    with limit(1):
        for batch in args.batches:
            ours, theirs, _, _ = steps(batch, args.backend)
            for _ in range(300):            # past the first steps' slower start
                ours()
                theirs()
            t = measure({"xpgrad": ours, "torch": theirs}, 0.02, args.repeats)
            print(f"batch {batch:5d}: xpgrad {t['xpgrad'] * 1e6:8.0f} us   torch "
                  f"{t['torch'] * 1e6:8.0f} us   torch / xpgrad {t['torch'] / t['xpgrad']:.2f}")


if __name__ == "__main__":
    main()
