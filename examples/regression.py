"""Regression by backprop: learn ``A`` in ``x * A = 10`` from x ~ N(1, 0.1).

Every target is 10 and every input is near 1, so the least-squares ``A`` is close to 10.
Stochastic gradient descent on a few random samples per step.

    python examples/regression.py --backend numpy --steps 200
"""
from __future__ import annotations

import argparse

import numpy as np

import xpgrad as xg
from xpgrad.cli_types import backend_name, positive
from xpgrad.threads import DEFAULT_THREADS, limit, parse_threads


def run(steps=200, learning_rate=0.02, batch_size=10, seed=0, backend="numpy", verbose=False):
    """Returns ``{"A": final value, "loss": per-step losses}``."""
    rng = xg.random.default_rng(seed, backend=backend)
    x_vals = rng.normal(1.0, 0.1, size=(100,))
    y_vals = xg.full((100,), 10.0, backend=backend)
    A = xg.Variable(rng.normal(0.0, 1.0, size=(1,)), name="A")
    pick = np.random.default_rng(seed)

    losses = []
    for step in range(steps):
        idx = xg.asarray(pick.choice(100, size=batch_size, replace=False), backend=backend)
        with xg.GradientTape() as tape:
            loss = xg.losses.mse(x_vals[idx] * A, y_vals[idx])
        (dA,) = tape.gradient(loss, [A])
        A.assign_sub(learning_rate * dA)
        losses.append(float(loss))
        if verbose and (step + 1) % max(1, steps // 8) == 0:
            print(f"step {step + 1:4d}  A = {A.item():.4f}  loss = {losses[-1]:.4f}")
    return {"A": A.item(), "loss": losses}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", type=backend_name, default="numpy")
    parser.add_argument("--steps", type=positive(int), default=200)
    parser.add_argument("--learning-rate", type=positive(float), default=0.02)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=parse_threads, default=DEFAULT_THREADS,
                        metavar="N", help="threads for BLAS and Numba (default: %(default)s)")
    args = parser.parse_args(argv)
    limit(args.threads)
    result = run(args.steps, args.learning_rate, seed=args.seed, backend=args.backend,
                 verbose=True)
    print(f"A = {result['A']:.4f} (expected near 10)")
    return result


if __name__ == "__main__":
    main()
