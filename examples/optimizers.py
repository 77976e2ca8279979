"""SGD, Momentum, Adagrad, Adadelta and Adam on one problem, with a plot of their loss curves.

The problem: a 2-16-1 tanh network separating two noisy concentric rings (full batch, sigmoid
cross-entropy). Every optimizer starts from the same weights; each gets its usual step size.

    python examples/optimizers.py --backend numpy --steps 300 --plot optimizers.png
"""
from __future__ import annotations

import argparse

import numpy as np

import xpgrad as xg
from xpgrad.cli_types import backend_name, positive
from xpgrad.threads import DEFAULT_THREADS, limit, parse_threads


def rings(n=200, seed=0):
    """Two concentric noisy rings: inner ones labelled 0, outer ones 1."""
    rng = np.random.default_rng(seed)
    angle = rng.uniform(0.0, 2 * np.pi, n)
    label = (np.arange(n) % 2).astype(np.float32)
    radius = 1.0 + label + rng.normal(0.0, 0.15, n)
    x = np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=1)
    return x.astype(np.float32), label[:, None]


def optimizers():
    """Name -> optimizer factory, each with a customary step size for this problem."""
    return {
        "SGD": lambda: xg.optim.SGD(learning_rate=0.5),
        "Momentum": lambda: xg.optim.SGD(learning_rate=0.1, momentum=0.9),
        "Adagrad": lambda: xg.optim.Adagrad(learning_rate=0.1),
        "Adadelta": lambda: xg.optim.Adadelta(learning_rate=1.0),
        "Adam": lambda: xg.optim.Adam(learning_rate=0.02),
    }


def run(steps=300, seed=0, backend="numpy", plot=None, verbose=False):
    """Returns ``{name: per-step losses}``; saves the plot to ``plot`` when given."""
    x_np, y_np = rings(seed=seed)
    x = xg.asarray(x_np, backend=backend)
    y = xg.asarray(y_np, backend=backend)
    curves = {}
    for name, make in optimizers().items():
        model = xg.nn.MLP([2, 16, 1], activation="tanh",
                          rng=xg.random.default_rng(seed, backend=backend), backend=backend)
        opt = make()
        variables = model.trainable_variables
        losses = []
        for _ in range(steps):
            with xg.GradientTape() as tape:
                loss = xg.losses.sigmoid_cross_entropy_with_logits(model(x), y)
            opt.apply_gradients(zip(tape.gradient(loss, variables), variables))
            losses.append(float(loss))
        curves[name] = losses
        if verbose:
            print(f"{name:9s} loss {losses[0]:.4f} -> {losses[-1]:.4f}")
    if plot:
        from xpgrad.report import plot_curves

        plot_curves(curves, plot, xlabel="step", ylabel="sigmoid cross-entropy",
                    title="optimizers on two rings (2-16-1 tanh MLP)")
        if verbose:
            print(f"wrote {plot}")
    return curves


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", type=backend_name, default="numpy")
    parser.add_argument("--steps", type=positive(int), default=300)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--plot", default="optimizers.png", help="PNG to write ('' for none)")
    parser.add_argument("--threads", type=parse_threads, default=DEFAULT_THREADS,
                        metavar="N", help="threads for BLAS and Numba (default: %(default)s)")
    args = parser.parse_args(argv)
    limit(args.threads)
    return run(args.steps, args.seed, args.backend, args.plot or None, verbose=True)


if __name__ == "__main__":
    main()
