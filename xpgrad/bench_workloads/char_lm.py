"""The character-level language model's training step (examples/char_lm.py's model): one-hot
characters -> LSTM -> a linear read-out of next-character logits, softmax cross-entropy over
every position, backpropagation through the window, plain SGD."""
from __future__ import annotations

import numpy as np

from ._libs import Unavailable, _need, _xpgrad_module, measured
from .ops import _traced
from .training import _lstm_arrays


def _char_lm_arrays(vocab, hidden, steps, batch):
    rng = np.random.default_rng(9)
    ids = rng.integers(0, vocab, (batch, steps + 1))
    onehot = np.eye(vocab, dtype=np.float32)[ids[:, :-1]]           # (batch, steps, vocab)
    targets = ids[:, 1:].reshape(-1)                               # (batch * steps,)
    k = 1.0 / np.sqrt(hidden)
    head_w = rng.uniform(-k, k, (hidden, vocab)).astype(np.float32)   # (in, out)
    return onehot, targets, _lstm_arrays(vocab, hidden), head_w


def char_lm_step(lib, batch=32, steps=50, vocab=65, hidden=128, compiled=False):
    """One SGD step of the char-LM on a ``(batch, steps)`` window of random characters from a
    ``vocab``-letter alphabet (the Sonnets have 62): LSTM(``vocab`` -> ``hidden``), the head
    on the (batch * steps, hidden) outputs, mean softmax cross-entropy of the next character.
    A call returns that step's loss (the tests compare the libraries with it). ``compiled``:
    xpgrad runs the step as an ``xg.function`` (PyTorch as always: eager).

    >>> from ._libs import _Lib
    >>> step = char_lm_step(_Lib("xpgrad-numpy"), batch=2, steps=3, vocab=5, hidden=4)
    >>> step.work, step().shape
    ({'batch': 2, 'steps': 3, 'vocab': 5, 'hidden': 4}, ())
    """
    onehot, targets, lstm_weights, head_w = _char_lm_arrays(vocab, hidden, steps, batch)
    x, y = lib.put(onehot), lib.put(targets)
    sync = lib.sync
    sizes = dict(batch=x.shape[0], steps=x.shape[1], vocab=x.shape[2], hidden=head_w.shape[0])
    if lib.kind == "xpgrad":
        import xpgrad as xg

        lstm = _need(xg.nn, "LSTM", "xpgrad.nn")(vocab, hidden, batch_first=True,
                                                 backend=lib.backend)
        lstm.load_torch_state_dict(lstm_weights)
        head = _need(xg.nn, "Linear", "xpgrad.nn")(hidden, vocab, backend=lib.backend)
        head.w.assign(lib.put(head_w))
        ce = _need(_xpgrad_module("losses"), "softmax_cross_entropy", "xpgrad.losses")
        opt = _need(_xpgrad_module("optim"), "SGD", "xpgrad.optim")(learning_rate=0.1)
        params = lstm.trainable_variables + head.trainable_variables

        def step(x, y):
            with xg.GradientTape() as tape:
                h, _ = lstm(x)
                logits = head(xg.reshape(h, (batch * steps, hidden)))
                loss = ce(logits, y)
            opt.apply_gradients(zip(tape.gradient(loss, params), params))
            return loss

        if compiled:
            step = _traced(xg, step, x, y)

        def run():
            loss = step(x, y)
            sync()
            return loss
        return measured(run, **sizes)
    if lib.kind == "torch":
        torch = lib.torch
        lstm = torch.nn.LSTM(vocab, hidden, batch_first=True)
        lstm.load_state_dict({k: torch.from_numpy(v) for k, v in lstm_weights.items()})
        lstm.bias_hh_l0.requires_grad_(False)    # xpgrad's cell has one bias: train one here
        head = torch.nn.Linear(hidden, vocab)
        with torch.no_grad():
            head.weight.copy_(torch.from_numpy(head_w.T.copy()))
            head.bias.zero_()
        lstm, head = lstm.to(lib.device), head.to(lib.device)
        params = [p for p in (*lstm.parameters(), *head.parameters()) if p.requires_grad]
        opt = torch.optim.SGD(params, lr=0.1)
        ce = torch.nn.functional.cross_entropy

        def run():
            opt.zero_grad()
            h = lstm(x)[0]
            loss = ce(head(h.reshape(batch * steps, hidden)), y)
            loss.backward()
            opt.step()
            sync()
            return loss
        return measured(run, **sizes)
    raise Unavailable("no char-LM peer for JAX here (it would need flax or a hand-written scan)")
