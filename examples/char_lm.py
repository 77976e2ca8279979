"""Character-level language model: an LSTM on Shakespeare's Sonnets, trained with truncated BPTT.

The text (examples/data/shakespeare_sonnets.txt, public domain; see examples/data/README.md) is
cut into ``batch_size`` contiguous streams; ``xg.nn.tbptt_train`` walks them ``seq_len`` characters
per update, carrying the LSTM state from one window to the next. The loss is softmax
cross-entropy of the next character (in nats; a uniform guess over the vocabulary is its log).
After training, the model writes a sample, one character at a time.

    python examples/char_lm.py --backend numpy --epochs 10
    python examples/char_lm.py --backend numba --epochs 20 --hidden 256 --plot char_lm.png
    python examples/char_lm.py --steps 50           # a budget in updates instead of epochs
    python examples/char_lm.py --backend numba --compile   # each update traced once, replayed
"""
from __future__ import annotations

import argparse
import math
import os
import time

import numpy as np

import xpgrad as xg
from xpgrad.cli_types import at_least, backend_name, positive
from xpgrad.threads import DEFAULT_THREADS, limit, parse_threads

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "shakespeare_sonnets.txt")


class CharLM(xg.nn.Module):
    """One-hot characters -> LSTM -> linear read-out of next-character logits."""

    def __init__(self, vocab_size, hidden, num_layers=1, *, rng=None, backend=None):
        super().__init__("char_lm")
        self.vocab_size = vocab_size
        self.lstm = xg.nn.LSTM(vocab_size, hidden, num_layers, batch_first=True, rng=rng,
                               backend=backend)
        self.head = xg.nn.Linear(hidden, vocab_size, rng=rng, backend=backend, name="head")

    def forward(self, x, state=None):
        h, state = self.lstm(x, state)
        B, T, H = h.shape
        logits = self.head(xg.reshape(h, (B * T, H)))
        return xg.reshape(logits, (B, T, self.vocab_size)), state


def load_text(chars=None, path=DATA):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    return text if chars is None else text[:chars]


def streams(ids, batch_size):
    """Inputs and next-character targets as ``batch_size`` contiguous rows of equal length."""
    n = (len(ids) - 1) // batch_size
    if n < 2:
        raise ValueError(f"{len(ids)} characters are too few for {batch_size} streams")
    x = ids[:n * batch_size].reshape(batch_size, n)
    y = ids[1:n * batch_size + 1].reshape(batch_size, n)
    return x, y


def unknown_chars(prime, vocab):
    """The characters of ``prime`` missing from ``vocab``, as Python writes them ('Z', '\\t'),
    each once, in order of appearance; empty when the model can read all of ``prime``.

    >>> unknown_chars("Zoë, Zoë", "Zo, ")
    ["'ë'"]
    """
    known = set(vocab)
    return [repr(ch) for ch in dict.fromkeys(prime) if ch not in known]


def sample(model, vocab, prime, length, temperature=0.8, seed=0, backend=None):
    """Prime the model with ``prime`` and draw ``length`` more characters (its inputs on
    ``backend``, by default the model's); ValueError when ``prime`` holds characters the model
    has no input for (not in ``vocab``)."""
    missing = unknown_chars(prime, vocab)
    if missing:
        raise ValueError(f"prime: characters not in the training text: {', '.join(missing)}")
    if backend is None:
        backend = model.head.trainable_variables[0].backend.name
    V = len(vocab)
    eye = np.eye(V, dtype=np.float32)
    index = {ch: i for i, ch in enumerate(vocab)}
    ids = [index[ch] for ch in prime] or [0]
    rng = np.random.default_rng(seed)
    logits, state = model(xg.asarray(eye[ids][None], backend=backend))
    out = []
    for _ in range(length):
        z = logits.numpy()[0, -1].astype(np.float64) / temperature
        p = np.exp(z - z.max())
        nxt = int(rng.choice(V, p=p / p.sum()))
        out.append(vocab[nxt])
        logits, state = model(xg.asarray(eye[[nxt]][None], backend=backend), state)
    return "".join(out)


def run(chars=None, epochs=10, batch_size=32, seq_len=50, k2=None, hidden=128, num_layers=1,
        learning_rate=0.005, max_grad_norm=5.0, sample_chars=300, prime="From fairest ",
        temperature=0.8, seed=0, backend="numpy", verbose=False, steps=None, compile=False):
    """Train for ``epochs`` passes over the text, or (``steps`` given) for exactly ``steps``
    TBPTT updates, as many passes as that takes; ``compile``: each update runs as an
    ``xg.function`` (``tbptt_train(compile=True)``: the same losses, without per-op dispatch).
    Returns ``{"loss": per-update losses, "sample": text, "vocab": chars, ...}``."""
    text = load_text(chars)
    vocab = sorted(set(text))
    V = len(vocab)
    index = {ch: i for i, ch in enumerate(vocab)}
    ids = np.array([index[ch] for ch in text])
    x_ids, y_ids = streams(ids, batch_size)
    x = xg.asarray(np.eye(V, dtype=np.float32)[x_ids], backend=backend)    # (B, N, V) one-hot
    y = xg.asarray(y_ids, backend=backend)                                  # (B, N) int64
    model = CharLM(V, hidden, num_layers, rng=xg.random.default_rng(seed, backend=backend),
                   backend=backend)
    opt = xg.optim.Adam(learning_rate=learning_rate)
    loss_fn = xg.losses.softmax_cross_entropy
    if verbose:
        print(f"{len(text)} characters, vocabulary {V}; {batch_size} streams of {x.shape[1]}; "
              f"LSTM {hidden} x {num_layers}; TBPTT k1={seq_len} k2={k2 or seq_len}; "
              f"backend {xg.get_backend(backend).name}")
    losses, t0 = [], time.perf_counter()
    per_epoch = -(-x.shape[1] // seq_len)                 # updates in one pass
    if steps is not None:
        epochs = -(-steps // per_epoch)
    for epoch in range(1, epochs + 1):
        n = x.shape[1] if steps is None else min(x.shape[1], (steps - len(losses)) * seq_len)
        result = xg.nn.tbptt_train(model, loss_fn, opt, x[:, :n], y[:, :n], k1=seq_len, k2=k2,
                                   max_grad_norm=max_grad_norm, compile=compile)
        losses += result.losses
        if verbose:
            mean = float(np.mean(result.losses))
            print(f"epoch {epoch:3d}  loss {mean:.3f} nats ({mean / math.log(2):.2f} bits/char)"
                  f"  {result.updates} updates  {time.perf_counter() - t0:.1f} s", flush=True)
    text_out = sample(model, vocab, prime, sample_chars, temperature, seed, backend)
    return {"loss": losses, "sample": text_out, "vocab": vocab, "vocab_size": V,
            "seconds": time.perf_counter() - t0, "model": model}


def plot(losses, path):
    from xpgrad.report import require

    plt = require("matplotlib.pyplot", "--plot")
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(losses, lw=0.8)
    ax.set_xlabel("update")
    ax.set_ylabel("cross-entropy (nats/char)")
    ax.set_title("char-LSTM on the Sonnets (TBPTT)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def _check(parser, args):
    """Settings that fail only together: one line, exit 2 (parser.error)."""
    if args.plot and not os.path.isdir(os.path.dirname(os.path.abspath(args.plot))):
        parser.error(f"argument --plot: the directory of {args.plot!r} does not exist")
    if args.k2 is not None and args.k2 < args.seq_len:
        parser.error(f"--k2 {args.k2} is below --seq-len {args.seq_len}: an update's loss "
                     f"covers its last --seq-len characters, so --k2 must be at least that")
    text = load_text(args.chars)
    if (len(text) - 1) // args.batch_size < 2:
        parser.error(f"{len(text)} characters are too few for --batch-size {args.batch_size} "
                     f"streams (each needs at least 2 characters; raise --chars or lower "
                     f"--batch-size)")
    missing = unknown_chars(args.prime, text)
    if missing:
        part = f" (its first {args.chars} characters, --chars {args.chars})" if args.chars else ""
        parser.error(f"argument --prime: characters not in the training text{part}: "
                     f"{', '.join(missing)}")



def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--backend", type=backend_name,
                        default=os.environ.get("XPGRAD_BACKEND") or "numpy")
    parser.add_argument("--epochs", type=at_least(int, 0), default=10, help="passes over the text")
    parser.add_argument("--steps", type=at_least(int, 0), default=None,
                        help="TBPTT updates to train instead of --epochs passes")
    parser.add_argument("--chars", type=at_least(int, 1), default=None,
                        help="use only the first N chars")
    parser.add_argument("--batch-size", type=at_least(int, 1), default=32,
                        help="parallel text streams")
    parser.add_argument("--seq-len", type=at_least(int, 1), default=50, help="k1: steps per update")
    parser.add_argument("--k2", type=at_least(int, 1), default=None,
                        help="steps backpropagated (>= k1)")
    parser.add_argument("--hidden", type=at_least(int, 1), default=128)
    parser.add_argument("--layers", type=at_least(int, 1), default=1)
    parser.add_argument("--learning-rate", type=positive(float), default=0.005)
    parser.add_argument("--sample-chars", type=at_least(int, 0), default=300)
    parser.add_argument("--temperature", type=positive(float), default=0.8)
    parser.add_argument("--prime", default="From fairest ", help="text the sample continues")
    parser.add_argument("--seed", type=at_least(int, 0), default=0)
    parser.add_argument("--plot", default=None, help="write the loss curve to this PNG")
    parser.add_argument("--compile", action="store_true",
                        help="trace each update once (xg.function) and replay it")
    parser.add_argument("--threads", type=parse_threads, default=DEFAULT_THREADS,
                        metavar="N", help="threads for BLAS and Numba")
    args = parser.parse_args(argv)
    _check(parser, args)
    limit(args.threads)
    result = run(args.chars, args.epochs, args.batch_size, args.seq_len, args.k2, args.hidden,
                 args.layers, args.learning_rate, sample_chars=args.sample_chars,
                 prime=args.prime, temperature=args.temperature, seed=args.seed,
                 backend=args.backend, verbose=True, steps=args.steps, compile=args.compile)
    print("\nsample:\n" + args.prime + result["sample"])
    if args.plot:
        print(f"wrote {plot(result['loss'], args.plot)}")
    return result


if __name__ == "__main__":
    main()
