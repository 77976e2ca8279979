"""A seq2seq decoder's loop of recurrent cells, xpgrad eager next to PyTorch eager (CPU, one
thread), in thread CPU time: Embedding(50, 64) -> {LSTM,GRU,RNN}Cell(64, 128) -> Linear(128, 50),
batch 32, 20 steps with teacher forcing, a cross entropy per step summed, one SGD step.

    python benchmarks/cell_loop.py numpy [LSTMCell,GRUCell,RNNCell] [rounds]

Run with native BLAS on one thread (``OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
MKL_NUM_THREADS=1``); the rounds interleave the two libraries. Prints the median step of each
and their ratio (xpgrad / torch), and both first losses (from the same weights: they agree).
"""
import sys
import time

import numpy as np
import torch

import xpgrad as xg

VOCAB, EMBED, HIDDEN, BATCH, STEPS = 50, 64, 128, 32, 20


def build(kind, targets):
    """``(torch_step, xpgrad_step)`` for the cell ``kind``, from the same weights."""
    torch.manual_seed(0)
    t_emb, t_cell = torch.nn.Embedding(VOCAB, EMBED), getattr(torch.nn, kind)(EMBED, HIDDEN)
    t_out = torch.nn.Linear(HIDDEN, VOCAB)
    t_opt = torch.optim.SGD([*t_emb.parameters(), *t_cell.parameters(), *t_out.parameters()],
                            lr=0.01)
    x_emb, x_cell = xg.nn.Embedding(VOCAB, EMBED), getattr(xg.nn, kind)(EMBED, HIDDEN)
    x_out = xg.nn.Linear(HIDDEN, VOCAB)
    for ours, theirs in ((x_emb, t_emb), (x_cell, t_cell), (x_out, t_out)):
        ours.load_torch_state_dict(theirs.state_dict())
    variables = [*x_emb.trainable_variables, *x_cell.trainable_variables,
                 *x_out.trainable_variables]
    x_opt = xg.optim.SGD(learning_rate=0.01)
    t_cols = [torch.tensor(targets[:, t]) for t in range(STEPS)]
    x_cols = [xg.asarray(targets[:, t]) for t in range(STEPS)]
    pair = kind == "LSTMCell"

    def torch_step():
        inputs, state, loss = torch.zeros(BATCH, dtype=torch.long), None, 0
        for t in range(STEPS):
            state = t_cell(t_emb(inputs), state)
            hidden = state[0] if pair else state
            loss = loss + torch.nn.functional.cross_entropy(t_out(hidden), t_cols[t])
            inputs = t_cols[t]
        t_opt.zero_grad()
        loss.backward()
        t_opt.step()
        return float(loss.detach())

    def xpgrad_step():
        with xg.GradientTape() as tape:
            inputs, state, loss = xg.zeros((BATCH,), dtype=xg.int64), None, 0
            for t in range(STEPS):
                state = x_cell(x_emb(inputs), state)
                hidden = state[0] if pair else state
                loss = loss + xg.losses.softmax_cross_entropy(x_out(hidden), x_cols[t])
                inputs = x_cols[t]
        x_opt.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return float(loss.numpy())
    return torch_step, xpgrad_step


def main(backend, kinds=("LSTMCell", "GRUCell", "RNNCell"), rounds=30):
    torch.set_num_threads(1)
    xg.set_backend(backend)
    targets = np.random.default_rng(0).integers(1, VOCAB, size=(BATCH, STEPS))
    lines = []
    for kind in kinds:
        steps = dict(zip(("torch", "xpgrad"), build(kind, targets)))
        first = {name: step() for name, step in steps.items()}
        for _ in range(3):
            for step in steps.values():
                step()
        times = {name: [] for name in steps}
        for _ in range(rounds):
            for name, step in steps.items():
                start = time.thread_time()
                step()
                times[name].append(time.thread_time() - start)
        median = {name: np.median(t) * 1e3 for name, t in times.items()}
        lines.append(f"{backend} {kind} torch {median['torch']:.2f}ms xpgrad "
                     f"{median['xpgrad']:.2f}ms ratio {median['xpgrad'] / median['torch']:.2f} "
                     f"(first losses {first['torch']:.4f}/{first['xpgrad']:.4f})")
    print(" | ".join(lines))


if __name__ == "__main__":
    main(sys.argv[1], *([sys.argv[2].split(",")] if len(sys.argv) > 2 else []),
         *([int(sys.argv[3])] if len(sys.argv) > 3 else []))
