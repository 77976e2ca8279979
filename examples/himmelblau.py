"""Himmelblau's function minimized by gradient descent from several starting points.

``f(x, y) = (x**2 + y - 11)**2 + (x + y**2 - 7)**2`` has four minima, all with value 0. All
starting points are one ``(k, 2)`` Variable: the gradient of the summed values is each point's
own gradient, so one tape descends every start at once.

    python examples/himmelblau.py --backend numpy --steps 200
"""
from __future__ import annotations

import argparse

import numpy as np

import xpgrad as xg
from xpgrad.cli_types import backend_name, positive
from xpgrad.threads import DEFAULT_THREADS, limit, parse_threads

MINIMA = np.array([[3.0, 2.0],
                   [-2.805118, 3.131312],
                   [-3.779310, -3.283186],
                   [3.584428, -1.848126]])

STARTS = [[0.0, 0.0], [-1.0, 1.0], [-1.0, -1.0], [1.0, -1.0],
          [4.0, 4.0], [-4.0, 4.0], [-4.0, -4.0], [4.0, -4.0]]


def himmelblau(p):
    """Himmelblau's function of the columns of ``p`` (shape ``(..., 2)``)."""
    x, y = p[..., 0], p[..., 1]
    return (x**2 + y - 11.0) ** 2 + (x + y**2 - 7.0) ** 2


def run(steps=200, learning_rate=0.01, starts=STARTS, backend="numpy", verbose=False):
    """Returns the final ``points`` (k, 2), each one's ``nearest`` minimum and ``distance``."""
    points = xg.Variable(xg.asarray(starts, dtype=xg.float64, backend=backend), name="points")
    for step in range(steps):
        with xg.GradientTape() as tape:
            value = xg.sum(himmelblau(points))
        (grad,) = tape.gradient(value, [points])
        points.assign_sub(learning_rate * grad)
        if verbose and (step + 1) % max(1, steps // 5) == 0:
            print(f"step {step + 1:4d}  sum of f = {float(value):.3e}")
    final = points.numpy()
    dist = np.linalg.norm(final[:, None, :] - MINIMA[None], axis=-1)
    nearest = dist.argmin(axis=1)
    return {"points": final, "nearest": nearest, "distance": dist.min(axis=1),
            "values": himmelblau(final)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", type=backend_name, default="numpy")
    parser.add_argument("--steps", type=positive(int), default=200)
    parser.add_argument("--learning-rate", type=positive(float), default=0.01)
    parser.add_argument("--threads", type=parse_threads, default=DEFAULT_THREADS,
                        metavar="N", help="threads for BLAS and Numba (default: %(default)s)")
    args = parser.parse_args(argv)
    limit(args.threads)
    result = run(args.steps, args.learning_rate, backend=args.backend, verbose=True)
    for start, p, k, v in zip(STARTS, result["points"], result["nearest"], result["values"]):
        print(f"start {tuple(start)} -> ({p[0]: .5f}, {p[1]: .5f})  f = {v:.2e}  "
              f"minimum {k}: {tuple(MINIMA[k].tolist())}")
    print(f"minima reached: {sorted(set(result['nearest'].tolist()))} of 0..3")
    return result


if __name__ == "__main__":
    main()
