"""Predict the next value of sine waves with an LSTM trained by truncated BPTT.

Each sequence is ``a * sin(w t + phase)`` with its own amplitude, frequency (periods of 6 to 20
steps) and phase, so the model has to infer them from what it has seen. Batches of long
sequences are cut into ``k1``-step windows by ``xg.nn.tbptt_train``; the loss is the MSE of the
one-step-ahead prediction. The test compares with "persistence" (predict the last value seen).

    python examples/sine.py --backend numpy --steps 400
    python examples/sine.py --plot sine.png
"""
from __future__ import annotations

import argparse
import os
import time

import numpy as np

import xpgrad as xg
from xpgrad.cli_types import at_least, backend_name, positive
from xpgrad.threads import DEFAULT_THREADS, limit, parse_threads


#: test steps left out of the error while the model infers the wave's frequency
WARM = 20


class Predictor(xg.nn.Module):
    """(B, T, 1) values -> LSTM -> (B, T, 1) predictions of the next value."""

    def __init__(self, hidden, *, rng=None, backend=None):
        super().__init__("sine")
        self.lstm = xg.nn.LSTM(1, hidden, rng=rng, backend=backend)
        self.head = xg.nn.Linear(hidden, 1, rng=rng, backend=backend, name="head")

    def forward(self, x, state=None):
        h, state = self.lstm(x, state)
        B, T, H = h.shape
        return xg.reshape(self.head(xg.reshape(h, (B * T, H))), (B, T, 1)), state


def waves(rng, batch, length):
    """``(batch, length + 1)`` samples of sine waves with random amplitude, period and phase."""
    t = np.arange(length + 1)
    amp = rng.uniform(0.5, 1.0, (batch, 1))
    omega = 2 * np.pi / rng.uniform(6.0, 20.0, (batch, 1))
    phase = rng.uniform(0, 2 * np.pi, (batch, 1))
    return (amp * np.sin(omega * t + phase)).astype(np.float32)


def run(steps=400, batch_size=32, length=200, k1=25, k2=None, hidden=32,
        learning_rate=0.01, seed=0, backend="numpy", verbose=False):
    """Train for ``steps`` TBPTT updates; returns the losses and the test MSEs."""
    updates = steps
    rng = np.random.default_rng(seed)
    model = Predictor(hidden, rng=xg.random.default_rng(seed, backend=backend), backend=backend)
    opt = xg.optim.Adam(learning_rate=learning_rate)
    losses, t0 = [], time.perf_counter()
    while len(losses) < updates:
        w = waves(rng, batch_size, length)[..., None]
        n = min(length, (updates - len(losses)) * k1)
        x = xg.asarray(w[:, :n], backend=backend)
        y = xg.asarray(w[:, 1:n + 1], backend=backend)
        result = xg.nn.tbptt_train(model, xg.losses.mse, opt, x, y, k1=k1, k2=k2)
        losses += result.losses
        if verbose:
            print(f"update {len(losses):5d}  loss {np.mean(result.losses):.5f}  "
                  f"({time.perf_counter() - t0:.1f} s)", flush=True)
    w = waves(np.random.default_rng(seed + 1), 64, length)
    pred, _ = model(xg.asarray(w[:, :-1, None], backend=backend))
    err = pred.numpy()[:, WARM:, 0] - w[:, WARM + 1:]
    persistence = w[:, WARM:-1] - w[:, WARM + 1:]
    return {"loss": losses, "test_mse": float(np.mean(err ** 2)),
            "persistence_mse": float(np.mean(persistence ** 2)),
            "seconds": time.perf_counter() - t0, "example": (w[0], pred.numpy()[0, :, 0])}


def plot(result, path):
    from xpgrad.report import require

    plt = require("matplotlib.pyplot", "--plot")
    truth, pred = result["example"]
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 3.5))
    a1.semilogy(result["loss"], lw=0.8)
    a1.set_xlabel("update")
    a1.set_ylabel("MSE")
    a1.set_title("training loss (TBPTT)")
    a2.plot(truth[1:], label="next value", lw=1.5)
    a2.plot(pred, "--", label="LSTM prediction", lw=1.2)
    a2.set_xlabel("step")
    a2.legend()
    a2.set_title("a test sequence")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path



def _check(parser, args):
    """Settings that fail only together: one line, exit 2 (parser.error)."""
    if args.plot and not os.path.isdir(os.path.dirname(os.path.abspath(args.plot))):
        parser.error(f"argument --plot: the directory of {args.plot!r} does not exist")
    if args.k2 is not None and args.k2 < args.k1:
        parser.error(f"--k2 {args.k2} is below --k1 {args.k1}: an update's loss covers its "
                     f"last --k1 steps, so --k2 must be at least that")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--backend", type=backend_name,
                        default=os.environ.get("XPGRAD_BACKEND") or "numpy")
    parser.add_argument("--steps", "--updates", dest="steps", type=at_least(int, 0), default=400,
                        help="TBPTT updates to train")
    parser.add_argument("--batch-size", type=at_least(int, 1), default=32)
    parser.add_argument("--length", type=at_least(int, WARM + 2), default=200,
                        help="steps per training and test sequence (the test scores those "
                             "after the first 20)")
    parser.add_argument("--k1", type=at_least(int, 1), default=25)
    parser.add_argument("--k2", type=at_least(int, 1), default=None)
    parser.add_argument("--hidden", type=at_least(int, 1), default=32)
    parser.add_argument("--learning-rate", type=positive(float), default=0.01)
    parser.add_argument("--seed", type=at_least(int, 0), default=0)
    parser.add_argument("--plot", default=None, help="write loss curve + a prediction to PNG")
    parser.add_argument("--threads", type=parse_threads, default=DEFAULT_THREADS,
                        metavar="N", help="threads for BLAS and Numba")
    args = parser.parse_args(argv)
    _check(parser, args)
    limit(args.threads)
    result = run(args.steps, args.batch_size, args.length, args.k1, args.k2, args.hidden,
                 args.learning_rate, args.seed, args.backend, verbose=True)
    print(f"test MSE {result['test_mse']:.5f}  (persistence baseline "
          f"{result['persistence_mse']:.5f}) in {result['seconds']:.1f} s")
    if args.plot:
        print(f"wrote {plot(result, args.plot)}")
    return result


if __name__ == "__main__":
    main()
