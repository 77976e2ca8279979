"""Word-level language model: PyTorch's word_language_model example (an LSTM, GRU or RNN over
word embeddings, truncated backpropagation through time, or a causal Transformer encoder)
written with xpgrad.

The corpus is cut into ``batch_size`` contiguous streams, the columns of a (words, streams)
array (``batchify``); each update reads the next ``bptt`` rows, (bptt, streams)
(``get_batch``), starting from the previous chunk's final state cut from the tape
(``xg.nn.detach``, PyTorch's ``repackage_hidden``), clips the global gradient norm and takes a
plain SGD step; the learning rate is divided by 4 whenever the validation loss does not
improve. ``--tied`` shares the embedding with the read-out (``decoder.weight =
encoder.weight``). Everything is time-major, as in PyTorch's example: the recurrent layers
are built with ``batch_first=False``.

By default the corpus is synthetic (sentences drawn from a small fixed grammar, so a model can
learn it in seconds); ``--data`` reads a text file (split 80/10/10) or a directory holding
``train.txt``, ``valid.txt`` and ``test.txt`` (wikitext-2's layout).

    python examples/word_lm.py                       # synthetic corpus, a few seconds
    python examples/word_lm.py --model GRU --tied --emsize 32 --nhid 32
    python examples/word_lm.py --data wikitext-2 --epochs 6 --backend numba
"""
from __future__ import annotations

import argparse
import math
import os
import time

import numpy as np

import xpgrad as xg
from xpgrad.cli_types import backend_name, positive
from xpgrad.threads import DEFAULT_THREADS, limit, parse_threads

MODELS = ("LSTM", "GRU", "RNN_TANH", "RNN_RELU", "Transformer")


class RNNModel(xg.nn.Module):
    """Embedding -> dropout -> recurrent layers -> dropout -> linear read-out, log-softmax.

    ``model(ids, hidden)`` takes ids of shape (time, batch), as PyTorch's example, and returns
    the log-probabilities of the next word, (time * batch, ntoken), and the final state."""

    def __init__(self, rnn_type, ntoken, ninp, nhid, nlayers, dropout=0.5, tie_weights=False,
                 *, rng=None, dtype=xg.float32, backend=None):
        super().__init__("rnn_model")
        if rnn_type not in MODELS[:-1]:
            raise ValueError(f"rnn_type: one of {', '.join(MODELS)}, got {rnn_type!r}")
        if tie_weights and nhid != ninp:
            raise ValueError(f"tie_weights: nhid ({nhid}) must equal ninp ({ninp})")
        rng = xg.random.default_rng(rng, backend=backend)
        uniform = xg.nn.init.uniform(-0.1, 0.1)
        self.ntoken = ntoken
        self.drop = xg.nn.Dropout(dropout, rng=rng)
        self.encoder = xg.nn.Embedding(ntoken, ninp, init=uniform, rng=rng, dtype=dtype,
                                       backend=backend, name="encoder")
        kwargs = dict(dropout=dropout, batch_first=False, rng=rng, dtype=dtype, backend=backend,
                      name="rnn")
        if rnn_type == "LSTM":
            self.rnn = xg.nn.LSTM(ninp, nhid, nlayers, **kwargs)
        elif rnn_type == "GRU":
            self.rnn = xg.nn.GRU(ninp, nhid, nlayers, **kwargs)
        else:
            self.rnn = xg.nn.RNN(ninp, nhid, nlayers, nonlinearity=rnn_type[4:].lower(),
                                 **kwargs)
        self.decoder = xg.nn.Linear(nhid, ntoken, init=uniform, rng=rng, dtype=dtype,
                                    backend=backend, name="decoder")
        if tie_weights:
            self.decoder.weight = self.encoder.weight

    def forward(self, ids, hidden=None):
        emb = self.drop(self.encoder(ids))
        output, hidden = self.rnn(emb, hidden)
        decoded = self.decoder(self.drop(output))
        return xg.nn.log_softmax(xg.reshape(decoded, (-1, self.ntoken)), axis=1), hidden


class PositionalEncoding(xg.nn.Module):
    """``x + pe[:time]`` then dropout: the sine and cosine table of "Attention Is All You
    Need", (max_len, 1, d_model), a constant (PyTorch's example keeps it as a buffer)."""

    def __init__(self, d_model, dropout=0.1, max_len=5000, *, rng=None, dtype=xg.float32,
                 backend=None):
        super().__init__("pos_encoder")
        position = np.arange(max_len)[:, None]
        div_term = np.exp(np.arange(0, d_model, 2) * (-math.log(10000.0) / d_model))
        pe = np.zeros((max_len, 1, d_model))
        pe[:, 0, 0::2] = np.sin(position * div_term)
        pe[:, 0, 1::2] = np.cos(position * div_term)
        self.pe = xg.asarray(pe, dtype=dtype, backend=backend)
        self.dropout = xg.nn.Dropout(dropout, rng=rng)

    def forward(self, x):
        return self.dropout(x + self.pe[:x.shape[0]])


class TransformerModel(xg.nn.Module):
    """PyTorch's example's ``TransformerModel``: embedding scaled by sqrt(ninp), positional
    encoding, a causal ``TransformerEncoder`` of ``nlayers`` time-major layers (``nhead``
    heads, ``nhid`` feed-forward units, a final LayerNorm, as ``nn.Transformer``'s encoder),
    linear read-out, log-softmax. ``model(ids, hidden)`` takes ids (time, batch) and returns
    the log-probabilities (time * batch, ntoken) and None: it keeps no state between chunks."""

    def __init__(self, ntoken, ninp, nhead, nhid, nlayers, dropout=0.5, *, rng=None,
                 dtype=xg.float32, backend=None):
        super().__init__("transformer_model")
        if ninp % nhead:
            raise ValueError(f"nhead: the embedding size ({ninp}) must be divisible by it, got "
                             f"{nhead}")
        rng = xg.random.default_rng(rng, backend=backend)
        uniform = xg.nn.init.uniform(-0.1, 0.1)
        common = dict(dtype=dtype, backend=backend)
        self.ntoken, self.ninp = ntoken, ninp
        self.pos_encoder = PositionalEncoding(ninp, dropout, rng=rng, **common)
        layer = xg.nn.TransformerEncoderLayer(ninp, nhead, nhid, dropout, batch_first=False,
                                              rng=rng, name="layer", **common)
        self.encoder = xg.nn.TransformerEncoder(layer, nlayers, norm=xg.nn.LayerNorm(
            ninp, name="encoder/norm", **common), name="encoder")
        self.input_emb = xg.nn.Embedding(ntoken, ninp, init=uniform, rng=rng, name="input_emb",
                                         **common)
        self.decoder = xg.nn.Linear(ninp, ntoken, init=uniform, rng=rng, name="decoder",
                                    **common)

    def forward(self, ids, hidden=None):
        src = self.pos_encoder(self.input_emb(ids) * math.sqrt(self.ninp))
        output = self.decoder(self.encoder(src, is_causal=True))
        return xg.nn.log_softmax(xg.reshape(output, (-1, self.ntoken)), axis=1), None


# -- data -------------------------------------------------------------------------------------
def synthetic_text(n_sentences, seed=0):
    """Sentences of a small grammar: 'the <adj> <noun> <verb> the <noun> .', lines of text."""
    rng = np.random.default_rng(seed)
    adj = "big small red old quick lazy".split()
    noun = "cat dog fox bird man child".split()
    verb = "sees chases likes finds".split()
    lines = []
    for _ in range(n_sentences):
        a, n, v, m = rng.choice(adj), rng.choice(noun), rng.choice(verb), rng.choice(noun)
        lines.append(f"the {a} {n} {v} the {m} .")
    return "\n".join(lines)


def tokenize(text, vocab):
    """Words of each line then '<eos>' (PyTorch's ``data.Corpus``), as ids; new words join
    ``vocab`` (a dict word -> id)."""
    ids = []
    for line in text.splitlines():
        for word in line.split() + ["<eos>"]:
            ids.append(vocab.setdefault(word, len(vocab)))
    return np.array(ids, dtype=np.int64)


def corpus(data=None, sentences=2000, seed=0):
    """``(train, valid, test, vocab)``: id arrays and the word -> id dict."""
    if data is None:
        parts = [synthetic_text(n, seed + i) for i, n in
                 enumerate((sentences, sentences // 10, sentences // 10))]
    elif os.path.isdir(data):
        parts = []
        for split in ("train", "valid", "test"):
            with open(os.path.join(data, f"{split}.txt"), encoding="utf-8") as f:
                parts.append(f.read())
    else:
        with open(data, encoding="utf-8") as f:
            lines = f.read().splitlines()
        a, b = int(len(lines) * 0.8), int(len(lines) * 0.9)
        parts = ["\n".join(lines[:a]), "\n".join(lines[a:b]), "\n".join(lines[b:])]
    vocab = {}
    return (*(tokenize(p, vocab) for p in parts), vocab)


def batchify(ids, bsz):
    """``bsz`` contiguous streams as columns, (len(ids) // bsz, bsz); the remainder is dropped
    (PyTorch's ``data.view(bsz, -1).t()``).

    >>> batchify(np.arange(7), 2).tolist()
    [[0, 3], [1, 4], [2, 5]]
    """
    n = len(ids) // bsz
    if n < 2:
        raise ValueError(f"{len(ids)} words are too few for {bsz} streams")
    return np.ascontiguousarray(ids[:n * bsz].reshape(bsz, n).T)


def get_batch(source, i, bptt):
    """Inputs ``source[i:i+L]`` (L, streams) and the next words, flattened as the model's
    output rows (PyTorch's ``get_batch``).

    >>> x, y = get_batch(batchify(np.arange(8), 2), 1, 2)
    >>> x.tolist(), y.tolist()
    ([[1, 5], [2, 6]], [2, 6, 3, 7])
    """
    seq_len = min(bptt, len(source) - 1 - i)
    return source[i:i + seq_len], source[i + 1:i + 1 + seq_len].reshape(-1)


# -- training ---------------------------------------------------------------------------------
def train_step(model, x, y, hidden, lr, clip):
    """One TBPTT update: forward from the detached state, NLL, clip (as
    ``torch.nn.utils.clip_grad_norm_``: ``eps=1e-6``), SGD; returns (loss, state)."""
    hidden = xg.nn.detach(hidden)
    params = model.trainable_variables
    with xg.GradientTape() as tape:
        output, hidden = model(x, hidden)
        loss = xg.losses.nll(output, y)
    grads, _ = xg.optim.clip_global_norm(tape.gradient(loss, params), clip, eps=1e-6)
    for p, g in zip(params, grads):
        p -= lr * g
    return float(loss), hidden


def evaluate(model, source, bptt, backend=None):
    """Mean NLL per word over ``source`` (eval mode: no dropout)."""
    model.eval()
    total, hidden = 0.0, None
    for i in range(0, len(source) - 1, bptt):
        x, y = get_batch(source, i, bptt)
        output, hidden = model(xg.asarray(x, backend=backend), hidden)
        total += len(x) * float(xg.losses.nll(output, xg.asarray(y, backend=backend)))
    model.train()
    return total / (len(source) - 1)


def run(data=None, model_type="LSTM", emsize=32, nhid=32, nlayers=2, lr=5.0, clip=0.25,
        epochs=10, batch_size=20, bptt=35, dropout=0.2, tied=False, seed=1111,
        sentences=2000, steps=None, backend="numpy", verbose=False, parts=None, nhead=2):
    """Train as PyTorch's main.py does; ``steps`` caps the total updates; ``parts`` is
    ``corpus()``'s result when already read. Returns ``{"loss": per-update losses, "valid":
    per-epoch validation losses, "test": loss, ...}``."""
    train_ids, valid_ids, test_ids, vocab = parts or corpus(data, sentences, seed)
    train_data, val_data = batchify(train_ids, batch_size), batchify(valid_ids, 10)
    test_data = batchify(test_ids, 10)
    if model_type == "Transformer":
        model = TransformerModel(len(vocab), emsize, nhead, nhid, nlayers, dropout, rng=seed,
                                 backend=backend)
    else:
        model = RNNModel(model_type, len(vocab), emsize, nhid, nlayers, dropout, tied,
                         rng=seed, backend=backend)
    if verbose:
        print(f"{len(vocab)} words; train {len(train_ids)}, valid {len(valid_ids)}, test "
              f"{len(test_ids)}; {model_type} {nlayers} x {nhid}{' tied' if tied else ''}; "
              f"backend {xg.get_backend(backend).name}")
    losses, valid, best_val, best, t0 = [], [], None, None, time.perf_counter()
    for epoch in range(1, epochs + 1):
        hidden = None
        for i in range(0, len(train_data) - 1, bptt):
            if steps is not None and len(losses) >= steps:
                break
            x, y = get_batch(train_data, i, bptt)
            loss, hidden = train_step(model, xg.asarray(x, backend=backend),
                                      xg.asarray(y, backend=backend), hidden, lr, clip)
            losses.append(loss)
        val_loss = evaluate(model, val_data, bptt, backend)
        valid.append(val_loss)
        if verbose:
            print(f"| end of epoch {epoch:3d} | {time.perf_counter() - t0:5.1f} s | lr {lr:g} | "
                  f"valid loss {val_loss:5.2f} | valid ppl {math.exp(val_loss):8.2f}", flush=True)
        if best_val is None or val_loss < best_val:
            best_val, best = val_loss, model.state_dict()
        else:
            lr /= 4.0
        if steps is not None and len(losses) >= steps:
            break
    model.load_state_dict(best)
    test_loss = evaluate(model, test_data, bptt, backend)
    if verbose:
        print(f"| end of training | test loss {test_loss:5.2f} | test ppl "
              f"{math.exp(test_loss):8.2f}")
    return {"loss": losses, "valid": valid, "test": test_loss, "vocab": vocab, "model": model,
            "lr": lr}


def main(argv=None):
    parser = argparse.ArgumentParser(
        description="Train a word-level language model with xpgrad: PyTorch's "
                    "word_language_model example (an LSTM, GRU or RNN over word embeddings, or "
                    "a causal Transformer encoder, time-major, trained by truncated "
                    "backpropagation through time with "
                    "gradient clipping and plain SGD). Without --data it learns a synthetic "
                    "grammar in a few seconds.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--backend", type=backend_name,
                        default=os.environ.get("XPGRAD_BACKEND") or "numpy")
    parser.add_argument("--data", default=None,
                        help="a text file, or a directory with train/valid/test.txt "
                             "(default: a synthetic corpus)")
    parser.add_argument("--model", default="LSTM", choices=MODELS)
    parser.add_argument("--emsize", type=positive(int), default=32)
    parser.add_argument("--nhid", type=positive(int), default=32)
    parser.add_argument("--nlayers", type=positive(int), default=2)
    parser.add_argument("--nhead", type=positive(int), default=2,
                        help="attention heads of --model Transformer")
    parser.add_argument("--lr", type=positive(float), default=5.0,
                        help="initial learning rate (PyTorch's example: 20, for wikitext-2; "
                             "on the small synthetic corpus 20 often stalls at the unigram "
                             "distribution)")
    parser.add_argument("--clip", type=positive(float), default=0.25)
    parser.add_argument("--epochs", type=positive(int), default=10)
    parser.add_argument("--steps", type=positive(int), default=None,
                        help="stop after this many updates")
    parser.add_argument("--batch-size", type=positive(int), default=20)
    parser.add_argument("--bptt", type=positive(int), default=35)
    parser.add_argument("--dropout", type=float, default=0.2)
    parser.add_argument("--tied", action="store_true",
                        help="tie the word embedding and softmax weights")
    parser.add_argument("--seed", type=int, default=1111)
    parser.add_argument("--threads", type=parse_threads, default=DEFAULT_THREADS,
                        metavar="N", help="threads for BLAS and Numba")
    args = parser.parse_args(argv)
    if args.model == "Transformer" and args.tied:
        parser.error("--tied is for the recurrent models (PyTorch's TransformerModel has no "
                     "tying either)")
    if args.model == "Transformer" and args.emsize % args.nhead:
        parser.error(f"--emsize {args.emsize} must be divisible by --nhead {args.nhead}")
    if args.tied and args.emsize != args.nhid:
        parser.error(f"--tied needs --nhid equal to --emsize (got {args.nhid} and {args.emsize})")
    if not 0 <= args.dropout < 1:
        parser.error(f"argument --dropout: must be in [0, 1), got {args.dropout}")
    if args.data is not None and not os.path.exists(args.data):
        parser.error(f"argument --data: {args.data!r} does not exist")
    if args.data is not None and os.path.isdir(args.data):
        missing = [f"{split}.txt" for split in ("train", "valid", "test")
                   if not os.path.isfile(os.path.join(args.data, f"{split}.txt"))]
        if missing:
            parser.error(f"argument --data: the directory {args.data!r} lacks "
                         f"{', '.join(missing)} (or give one text file)")
    parts = corpus(args.data, seed=args.seed)
    for name, ids, bsz in (("training", parts[0], args.batch_size), ("validation", parts[1], 10),
                           ("test", parts[2], 10)):
        if len(ids) // bsz < 2:
            parser.error(f"the {name} text has {len(ids)} words, too few for {bsz} streams"
                         + (" (lower --batch-size)" if name == "training" else ""))
    limit(args.threads)
    return run(args.data, args.model, args.emsize, args.nhid, args.nlayers, args.lr, args.clip,
               args.epochs, args.batch_size, args.bptt, args.dropout, args.tied, args.seed,
               steps=args.steps, backend=args.backend, verbose=True, parts=parts,
               nhead=args.nhead)


if __name__ == "__main__":
    main()
