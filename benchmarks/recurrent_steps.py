"""Recurrent training steps, xpgrad (each backend) next to PyTorch CPU, in thread CPU time.

    python benchmarks/recurrent_steps.py [--workload char_lm|lstm_step|gru_step|rnn_step]
                                         [--backends numba,numpy]
                                         [--rounds 15] [--hidden 128] [--batch 32] [--steps 50]
                                         [--compiled]

``lstm_step`` is ``xpgrad bench``'s workload of that name (a 64-input LSTM, MSE on every
output, SGD; its sizes are the bench's: hidden 128, batch 64, 50 steps unless given), timed
here in paired rounds of thread CPU time rather than wall time. ``gru_step`` and ``rnn_step``
are the same step with ``nn.GRU`` / a tanh ``nn.RNN`` against ``torch.nn.GRU`` / ``RNN``, from
the same weights (the first losses checked to agree). ``char_lm`` (the default) is
one update of examples/char_lm.py's model: one-hot characters of the Sonnets -> LSTM -> Linear read-out,
softmax cross-entropy of the next character (mean over batch x steps), gradients clipped to a
global norm of 5, Adam. Both libraries start from the same weights and data and the first
losses are checked to agree. Every library gets one thread (BLAS, Numba, PyTorch); rounds are
interleaved and timed in thread CPU time (robust to other work on a shared machine); the
table shows the median per update and the median of the per-round ratios torch / this (above
1: xpgrad is faster). Numba compiles (or loads) its kernels before any timing.

Numba's threading layer defaults to ``workqueue`` here (set NUMBA_THREADING_LAYER to choose):
with its OpenMP layer loaded in the same process, PyTorch's update took 10x longer (measured
14 -> 166 ms CPU), which would flatter xpgrad. Every kernel runs on one thread regardless.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples"))


def _data(batch, steps):
    from char_lm import load_text

    text = load_text()
    vocab = sorted(set(text))
    index = {ch: i for i, ch in enumerate(vocab)}
    ids = np.array([index[ch] for ch in text[:batch * (steps + 1)]])
    x_ids = ids[:batch * steps].reshape(batch, steps)
    y_ids = ids[1:batch * steps + 1].reshape(batch, steps)
    return np.eye(len(vocab), dtype=np.float32)[x_ids], y_ids, len(vocab)


def _weights(vocab, hidden, seed=0):
    rng = np.random.default_rng(seed)
    k = 1 / np.sqrt(hidden)
    u = lambda *shape: rng.uniform(-k, k, shape).astype(np.float32)      # noqa: E731
    return {"weight_ih_l0": u(4 * hidden, vocab), "weight_hh_l0": u(4 * hidden, hidden),
            "bias_ih_l0": u(4 * hidden), "bias_hh_l0": np.zeros(4 * hidden, np.float32),
            "head_w": u(vocab, hidden), "head_b": u(vocab)}


def xpgrad_step(backend, x, y, weights, hidden):
    import xpgrad as xg
    from char_lm import CharLM

    vocab = x.shape[-1]
    model = CharLM(vocab, hidden, backend=backend)
    model.lstm.load_torch_state_dict({k: v for k, v in weights.items() if "_l0" in k})
    model.head.w.assign(xg.asarray(weights["head_w"].T, backend=backend))
    model.head.b.assign(xg.asarray(weights["head_b"], backend=backend))
    params = model.trainable_variables
    opt = xg.optim.Adam(learning_rate=0.005)
    xs, ys = xg.asarray(x, backend=backend), xg.asarray(y, backend=backend)

    def step():
        with xg.GradientTape() as tape:
            logits, _ = model(xs)
            loss = xg.losses.softmax_cross_entropy(xg.reshape(logits, (-1, vocab)),
                                                   xg.reshape(ys, (-1,)))
        grads, _ = xg.optim.clip_global_norm(tape.gradient(loss, params), 5.0)
        opt.apply_gradients(zip(grads, params))
        return float(loss.item())
    return step


def torch_step(x, y, weights, hidden):
    import torch

    vocab = x.shape[-1]
    lstm = torch.nn.LSTM(vocab, hidden, batch_first=True)
    lstm.load_state_dict({k: torch.from_numpy(v) for k, v in weights.items()
                          if k.endswith("_l0")})
    head = torch.nn.Linear(hidden, vocab)
    with torch.no_grad():
        head.weight.copy_(torch.from_numpy(weights["head_w"]))
        head.bias.copy_(torch.from_numpy(weights["head_b"]))
    params = list(lstm.parameters()) + list(head.parameters())
    opt = torch.optim.Adam(params, lr=0.005)
    xs, ys = torch.from_numpy(x), torch.from_numpy(y)

    def step():
        opt.zero_grad()
        out, _ = lstm(xs)
        loss = torch.nn.functional.cross_entropy(head(out).reshape(-1, vocab), ys.reshape(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 5.0)
        opt.step()
        return float(loss.item())
    return step


def lstm_steps(backends, hidden, batch, steps, compiled=False):
    """``xpgrad bench``'s ``lstm_step`` workload for torch and each backend, eager, and also
    as an ``xg.function`` with ``compiled``."""
    from xpgrad.bench_workloads import training
    from xpgrad.bench_workloads._libs import _Lib

    sizes = dict(hidden=hidden, batch=batch, steps=steps)
    runs = {name: training.lstm_step(_Lib(name), **sizes)
            for name in ["torch-cpu"] + [f"xpgrad-{b}" for b in backends]}
    if compiled:
        runs.update({f"{b} compiled": training.lstm_step(_Lib(f"xpgrad-{b}"), compiled=True,
                                                         **sizes) for b in backends})
    return runs


def gated_steps(kind, backends, hidden, batch, steps, input_size=64):
    """One SGD step (MSE on every output) of a one-layer ``kind`` ("GRU" or "RNN", tanh) over a
    (batch, steps, 64) sequence: ``torch.nn.<kind>`` and xpgrad's ``nn.<kind>`` on each
    backend, all from the same weights."""
    import torch

    import xpgrad as xg

    rng = np.random.default_rng(7)
    x0 = rng.normal(size=(batch, steps, input_size)).astype(np.float32)
    y0 = rng.normal(size=(batch, steps, hidden)).astype(np.float32)
    torch.manual_seed(0)
    peer = getattr(torch.nn, kind)(input_size, hidden, batch_first=True)
    weights = {k: v.detach().numpy().copy() for k, v in peer.state_dict().items()}
    torch_opt = torch.optim.SGD(peer.parameters(), lr=0.01)
    x, y = torch.from_numpy(x0), torch.from_numpy(y0)

    def torch_run():
        torch_opt.zero_grad()
        loss = torch.nn.functional.mse_loss(peer(x)[0], y)
        loss.backward()
        torch_opt.step()
        return float(loss.item())
    runs = {"torch-cpu": torch_run}
    for name in backends:
        model = getattr(xg.nn, kind)(input_size, hidden, batch_first=True, backend=name)
        model.load_torch_state_dict(weights)
        params, opt = model.trainable_variables, xg.optim.SGD(learning_rate=0.01)
        xs, ys = xg.asarray(x0, backend=name), xg.asarray(y0, backend=name)

        def run(model=model, params=params, opt=opt, xs=xs, ys=ys):
            with xg.GradientTape() as tape:
                loss = xg.losses.mse(model(xs)[0], ys)
            opt.apply_gradients(zip(tape.gradient(loss, params), params))
            return float(loss)
        runs[f"xpgrad-{name}"] = run
    return runs


def main(argv=None):
    from xpgrad import cli_types

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workload", choices=("char_lm", "lstm_step", "gru_step", "rnn_step"),
                    default="char_lm")
    ap.add_argument("--backends", type=cli_types.backend_list, default="numba,numpy")
    ap.add_argument("--rounds", type=cli_types.positive(int), default=15)
    ap.add_argument("--calls", type=cli_types.positive(int), default=4, help="updates per round")
    ap.add_argument("--hidden", type=cli_types.positive(int), default=128)
    ap.add_argument("--batch", type=cli_types.positive(int), default=None,
                    help="default: 32 (char_lm), 64")
    ap.add_argument("--steps", type=cli_types.positive(int), default=50)
    ap.add_argument("--compiled", action="store_true",
                    help="lstm_step: also time each backend's step as an xg.function")
    args = ap.parse_args(argv)
    if args.batch is None:
        args.batch = 32 if args.workload == "char_lm" else 64

    import torch
    from threadpoolctl import threadpool_limits

    import xpgrad as xg

    threadpool_limits(1)
    torch.set_num_threads(1)
    backends = args.backends
    for name in backends:
        be = xg.get_backend(name)
        if hasattr(be, "warmup"):
            be.warmup(dtypes=("float32",))
            import numba

            numba.set_num_threads(1)
    if args.workload == "lstm_step":
        steps = lstm_steps(backends, args.hidden, args.batch, args.steps, args.compiled)
        for fn in steps.values():
            fn()
        title = (f"LSTM 64-{args.hidden} train step, batch {args.batch}, {args.steps} steps")
    elif args.workload in ("gru_step", "rnn_step"):
        kind = args.workload.split("_")[0].upper()
        steps = gated_steps(kind, backends, args.hidden, args.batch, args.steps)
        _same_first_losses(steps)
        title = (f"{kind} 64-{args.hidden} train step, batch {args.batch}, {args.steps} steps")
    else:
        x, y, vocab = _data(args.batch, args.steps)
        weights = _weights(vocab, args.hidden)
        steps = {"torch-cpu": torch_step(x, y, weights, args.hidden)}
        for name in backends:
            steps[f"xpgrad-{name}"] = xpgrad_step(name, x, y, weights, args.hidden)
        _same_first_losses(steps)
        title = (f"char-LM update: batch {args.batch}, {args.steps} steps, vocabulary {vocab}, "
                 f"LSTM {args.hidden}")
    times = {k: [] for k in steps}
    for _ in range(args.rounds):
        for k, fn in steps.items():
            t0 = time.thread_time()
            for _ in range(args.calls):
                fn()
            times[k].append((time.thread_time() - t0) / args.calls)
    print(f"{title}; one thread each; load average {os.getloadavg()[0]:.1f}")
    for k, ts in times.items():
        ratios = [a / b for a, b in zip(times["torch-cpu"], ts)]
        print(f"  {k:14s} {statistics.median(ts) * 1e3:8.2f} ms CPU   torch/this "
              f"{statistics.median(ratios):5.2f}")
    return 0


def _same_first_losses(steps):
    """Runs each step once; exits where a first loss differs from torch's (same weights)."""
    first = {k: fn() for k, fn in steps.items()}
    for k, loss in first.items():
        if not np.isclose(loss, first["torch-cpu"], rtol=1e-4):
            raise SystemExit(f"{k}: first loss {loss} differs from torch's {first['torch-cpu']}")


if __name__ == "__main__":
    os.environ.setdefault("NUMBA_THREADING_LAYER", "workqueue")     # before Numba loads
    main()
