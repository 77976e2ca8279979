"""Where one LSTM training step's time goes, xpgrad (numba) next to PyTorch CPU, phase by phase.

    python benchmarks/lstm_phases.py [--rounds 15] [--hidden 128] [--batch 64] [--steps 50]

The step is ``xpgrad bench``'s ``lstm_step`` (64 inputs, MSE on every output, SGD). Rows:

- each library's forward (layer + loss), backward (``tape.gradient`` / ``loss.backward``) and
  update, timed separately in one interleaved loop;
- the matrix products of one step on their own, with NumPy's BLAS into preallocated outputs:
  the T products ``[x_t | h_{t-1}] @ [w_ih; w_hh]`` of the forward, the T products
  ``dz_t @ w_hh.T`` of the backward and the one product of both weight gradients (the
  ``lstm_layer`` kernel's products, the same FLOPs as any LSTM step's);
- Numba's fused gate passes (T forward, T backward) on their own;
- the per-step products by the kernels' own calls (``blas.stepped_matmul``: MKL's where
  installed), alone and interleaved with the gate passes as the kernels run them
  (``in step``): the difference is what the gate passes cost inside a step, where each
  finds its operands moved by the product before it (last line; on a shared machine it came
  out from 0.8x to 1.3x of the passes alone).

The products' total against PyTorch's whole step bounds what any restructuring of xpgrad's
step can reach with this BLAS (``OPENBLAS_CORETYPE`` picks its kernels; it is printed).
Thread CPU time, one thread each, medians of ``--rounds``.
"""
from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np


def _products(B, T, I, H):
    """The step's matrix products (forward, backward, weight gradient) as three callables."""
    rng = np.random.default_rng(0)
    f32 = np.float32
    G = 4 * H
    xh = rng.normal(size=(T, B, I + H)).astype(f32)
    w_cat = rng.normal(size=(I + H, G)).astype(f32)
    w_t = np.ascontiguousarray(w_cat[I:].T)
    dz = rng.normal(size=(T, B, G)).astype(f32)
    a, dh, dw = np.empty((B, G), f32), np.empty((B, H), f32), np.empty((I + H, G), f32)

    def forward():
        for t in range(T):
            np.matmul(xh[t], w_cat, out=a)

    def backward():
        for t in range(T):
            np.matmul(dz[t], w_t, out=dh)

    def weights():
        np.matmul(xh.reshape(T * B, I + H).T, dz.reshape(T * B, G), out=dw)
    return {"BLAS: T forward products": forward, "BLAS: T backward products": backward,
            "BLAS: weight-gradient product": weights}


def _gate_passes(B, T, H):
    from xpgrad.backends.numba import _rnn

    rng = np.random.default_rng(1)
    f32 = np.float32
    G = 4 * H
    a, bias = rng.normal(size=(B, G)).astype(f32), rng.normal(size=(1, G)).astype(f32)
    rows = np.zeros((1, 1), np.intp)                  # every row adds bias[0]
    c0, seq = np.zeros((B, H), f32), np.zeros((2, B, T, H), f32)     # the states [h; c]
    acts, xh = np.zeros((T, B, G), f32), np.zeros((T, B, H), f32)
    g_h = rng.normal(size=(B, T, H)).astype(f32)      # the outputs' gradient; none for c
    g_c = np.zeros((1, 1, H), f32)
    dh, dc, dz, db = (np.zeros(s, f32) for s in ((B, H), (B, H), (T, B, G), (G,)))

    def forward():
        for t in range(T):
            _rnn.lstm_cell_forward(a, bias, rows, t, c0, seq, acts, xh)

    def backward():
        for t in range(T - 1, -1, -1):
            _rnn.lstm_cell_backward(g_h, g_c, t, dh, dc, acts, seq, c0, dz, db)
    return {"Numba: T forward gate passes": forward, "Numba: T backward gate passes": backward}


def _interleaved(B, T, I, H):
    """The step's per-step products and gate passes in turn, as ``backends/numba/_scans.py``
    runs them (MKL's products where installed, ``blas.stepped_matmul``), forward and
    backward."""
    from xpgrad.backends import blas
    from xpgrad.backends.numba import _rnn
    from xpgrad.backends.numpy.memory import aligned_empty

    rng = np.random.default_rng(2)
    f32 = np.float32
    G = 4 * H

    def filled(shape, scale):
        out = aligned_empty(shape, f32)
        out[...] = rng.normal(size=shape) * scale
        return out
    xh, w_cat = filled((T, B, I + H), 0.5), filled((I + H, G), 1 / np.sqrt(I + H))
    w_t = np.ascontiguousarray(w_cat[I:].T)
    a, bias = np.empty((B, G), f32), filled((1, G), 0.1)
    rows = np.zeros((1, 1), np.intp)
    c0, seq = np.zeros((B, H), f32), np.zeros((2, B, T, H), f32)
    acts, dz = aligned_empty((T, B, G), f32), aligned_empty((T, B, G), f32)
    g_h, g_c = filled((B, T, H), 1e-3), np.zeros((1, 1, H), f32)
    dh, dc, db = np.zeros((B, H), f32), np.zeros((B, H), f32), np.zeros(G, f32)
    step_forward = blas.stepped_matmul(xh, w_cat, a)
    step_backward = blas.stepped_matmul(dz, w_t, dh)

    def forward(gates=True):
        for t in range(T):
            step_forward(t)
            if gates:
                _rnn.lstm_cell_forward(a, bias, rows, t, c0, seq, acts, xh)

    def backward(gates=True):
        dh[...] = dc[...] = 0
        for t in range(T - 1, -1, -1):
            if gates:
                _rnn.lstm_cell_backward(g_h, g_c, t, dh, dc, acts, seq, c0, dz, db)
            step_backward(t)
    return {"in step: T forward products": lambda: forward(False),
            "in step: + forward gate passes": forward,
            "in step: T backward products": lambda: backward(False),
            "in step: + backward gate passes": backward}


def _xpgrad_phases(B, T, I, H):
    import xpgrad as xg

    rng = np.random.default_rng(7)
    x = xg.asarray(rng.normal(size=(B, T, I)).astype(np.float32), backend="numba")
    y = xg.asarray(rng.normal(size=(B, T, H)).astype(np.float32), backend="numba")
    model = xg.nn.LSTM(I, H, backend="numba", rng=0)
    params = model.trainable_variables
    opt = xg.optim.SGD(learning_rate=0.01)
    state = {}

    def forward():
        state["tape"] = tape = xg.GradientTape()
        with tape:
            state["loss"] = xg.losses.mse(model(x)[0], y)

    def backward():
        state["grads"] = state["tape"].gradient(state["loss"], params)

    def update():
        opt.apply_gradients(zip(state["grads"], params))
    return {"xpgrad: forward": forward, "xpgrad: backward": backward, "xpgrad: update": update}


def _torch_phases(B, T, I, H):
    import torch

    rng = np.random.default_rng(7)
    x = torch.from_numpy(rng.normal(size=(B, T, I)).astype(np.float32))
    y = torch.from_numpy(rng.normal(size=(B, T, H)).astype(np.float32))
    model = torch.nn.LSTM(I, H, batch_first=True)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    state = {}

    def forward():
        opt.zero_grad()
        state["loss"] = torch.nn.functional.mse_loss(model(x)[0], y)

    def backward():
        state["loss"].backward()

    def update():
        opt.step()
    return {"torch: forward": forward, "torch: backward": backward, "torch: update": update}


def main(argv=None):
    from xpgrad import cli_types

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=cli_types.positive(int), default=15)
    ap.add_argument("--hidden", type=cli_types.positive(int), default=128)
    ap.add_argument("--batch", type=cli_types.positive(int), default=64)
    ap.add_argument("--steps", type=cli_types.positive(int), default=50)
    ap.add_argument("--inputs", type=cli_types.positive(int), default=64)
    args = ap.parse_args(argv)
    B, T, I, H = args.batch, args.steps, args.inputs, args.hidden

    import torch
    from threadpoolctl import threadpool_limits

    import xpgrad as xg

    threadpool_limits(1)
    torch.set_num_threads(1)
    xg.get_backend("numba").warmup(dtypes=("float32",))
    import numba

    numba.set_num_threads(1)
    groups = [_xpgrad_phases(B, T, I, H), _torch_phases(B, T, I, H), _products(B, T, I, H),
              _gate_passes(B, T, H), _interleaved(B, T, I, H)]
    for _ in range(2):                 # compile, allocate, warm up
        for group in groups:
            for fn in group.values():
                fn()
    times = {name: [] for group in groups for name in group}
    for _ in range(args.rounds):
        for group in groups:
            for name, fn in group.items():
                t0 = time.thread_time()
                fn()
                times[name].append(time.thread_time() - t0)
    ms = {name: statistics.median(ts) * 1e3 for name, ts in times.items()}
    print(f"LSTM {I}-{H} train step, batch {B}, {T} steps; one thread each; load average "
          f"{os.getloadavg()[0]:.1f}; OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE')}")
    for name, v in ms.items():
        print(f"  {name:34s} {v:7.2f} ms")
    torch_step = sum(v for k, v in ms.items() if k.startswith("torch"))
    step = sum(v for k, v in ms.items() if k.startswith("xpgrad"))
    blas = sum(v for k, v in ms.items() if k.startswith("BLAS"))
    gates = sum(v for k, v in ms.items() if k.startswith("Numba"))
    in_step = (ms["in step: + forward gate passes"] + ms["in step: + backward gate passes"]
               - ms["in step: T forward products"] - ms["in step: T backward products"])
    print(f"  {'torch step / xpgrad step':34s} {torch_step / step:7.2f}")
    print(f"  {'torch step / (products + gates)':34s} {torch_step / (blas + gates):7.2f}   "
          "(the bound with this BLAS)")
    print(f"  {'gate passes alone / in the step':34s} {gates:7.2f} / {in_step:.2f} ms")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("NUMBA_THREADING_LAYER", "workqueue")     # as recurrent_steps.py
    main()
