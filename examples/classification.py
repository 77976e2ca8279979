"""Binary classification by backprop: learn ``A`` in ``sigmoid(x + A)``.

Class 0 is drawn from N(-1, 1), class 1 from N(3, 1). The classes are symmetric about x = 1, so
the boundary ``x + A = 0`` settles at A near -1. The loss is sigmoid cross-entropy on the logits
``x + A``; A starts far away, near 10.

    python examples/classification.py --backend numpy --steps 1500
"""
from __future__ import annotations

import argparse

import numpy as np

import xpgrad as xg
from xpgrad.cli_types import backend_name, positive
from xpgrad.threads import DEFAULT_THREADS, limit, parse_threads


def run(steps=1500, learning_rate=0.05, batch_size=20, seed=0, backend="numpy", verbose=False):
    """Returns ``{"A": final value, "loss": per-step losses, "accuracy": on all samples}``."""
    rng = xg.random.default_rng(seed, backend=backend)
    x_vals = xg.concat([rng.normal(-1.0, 1.0, size=(50,)), rng.normal(3.0, 1.0, size=(50,))])
    y_vals = xg.concat([xg.zeros(50, backend=backend), xg.ones(50, backend=backend)])
    A = xg.Variable(rng.normal(10.0, 1.0, size=(1,)), name="A")
    pick = np.random.default_rng(seed)

    losses = []
    for step in range(steps):
        idx = xg.asarray(pick.choice(100, size=batch_size, replace=False), backend=backend)
        with xg.GradientTape() as tape:
            loss = xg.losses.sigmoid_cross_entropy_with_logits(x_vals[idx] + A, y_vals[idx])
        (dA,) = tape.gradient(loss, [A])
        A.assign_sub(learning_rate * dA)
        losses.append(float(loss))
        if verbose and (step + 1) % max(1, steps // 10) == 0:
            print(f"step {step + 1:5d}  A = {A.item():.4f}  loss = {losses[-1]:.4f}")
    predicted = (x_vals + A).numpy() > 0
    accuracy = float((predicted == (y_vals.numpy() > 0.5)).mean())
    return {"A": A.item(), "loss": losses, "accuracy": accuracy}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", type=backend_name, default="numpy")
    parser.add_argument("--steps", type=positive(int), default=1500)
    parser.add_argument("--learning-rate", type=positive(float), default=0.05)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=parse_threads, default=DEFAULT_THREADS,
                        metavar="N", help="threads for BLAS and Numba (default: %(default)s)")
    args = parser.parse_args(argv)
    limit(args.threads)
    result = run(args.steps, args.learning_rate, seed=args.seed, backend=args.backend,
                 verbose=True)
    print(f"A = {result['A']:.4f} (expected near -1); accuracy {result['accuracy']:.0%}")
    return result


if __name__ == "__main__":
    main()
