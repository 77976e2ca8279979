"""XOR with a 2-3-1 network of sigmoid layers, trained by plain gradient descent.

The classic backprop exercise: four points, summed squared error on the sigmoid outputs
(``xg.losses.sigmoid_mse(..., reduction="sum")``, fused forward and backward), and a hand-written
update ``w -= lr * dw`` on raw Variables -- no optimizer object.

    python examples/xor.py --backend numpy --steps 2000
"""
from __future__ import annotations

import argparse

import numpy as np

import xpgrad as xg
from xpgrad.cli_types import backend_name, positive
from xpgrad.threads import DEFAULT_THREADS, limit, parse_threads

X = [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]]
Y = [[0.0], [1.0], [1.0], [0.0]]


def run(steps=2000, learning_rate=2.0, seed=0, backend="numpy", verbose=False):
    """Train the network; returns ``{"loss": [...], "outputs": (4,) array, "correct": int}``."""
    rng = xg.random.default_rng(seed, backend=backend)
    x = xg.asarray(X, backend=backend)
    y = xg.asarray(Y, backend=backend)
    w1 = xg.Variable(rng.normal(0.0, 1.0, size=(2, 3)), name="w1")
    b1 = xg.Variable(xg.zeros(3, backend=backend), name="b1")
    w2 = xg.Variable(rng.normal(0.0, 1.0, size=(3, 1)), name="w2")
    b2 = xg.Variable(xg.zeros(1, backend=backend), name="b2")
    params = [w1, b1, w2, b2]

    losses = []
    for step in range(steps):
        with xg.GradientTape() as tape:
            hidden = xg.nn.sigmoid(x @ w1 + b1)
            loss = xg.losses.sigmoid_mse(hidden @ w2 + b2, y, reduction="sum")
        grads = tape.gradient(loss, params)
        for p, g in zip(params, grads):
            p.assign_sub(learning_rate * g)
        losses.append(float(loss))
        if verbose and (step % max(1, steps // 10) == 0 or step == steps - 1):
            print(f"step {step:5d}  summed squared error {losses[-1]:.5f}")

    outputs = xg.nn.sigmoid(xg.nn.sigmoid(x @ w1 + b1) @ w2 + b2).numpy().ravel()
    correct = int(((outputs > 0.5) == (np.asarray(Y).ravel() > 0.5)).sum())
    return {"loss": losses, "outputs": outputs, "correct": correct}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", type=backend_name, default="numpy")
    parser.add_argument("--steps", type=positive(int), default=2000)
    parser.add_argument("--learning-rate", type=positive(float), default=2.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=parse_threads, default=DEFAULT_THREADS,
                        metavar="N", help="threads for BLAS and Numba (default: %(default)s)")
    args = parser.parse_args(argv)
    limit(args.threads)
    result = run(args.steps, args.learning_rate, args.seed, args.backend, verbose=True)
    for (a, b), out in zip(X, result["outputs"]):
        print(f"xor({a:.0f}, {b:.0f}) = {out:.3f}")
    print(f"{result['correct']}/4 points classified correctly")
    return result


if __name__ == "__main__":
    main()
