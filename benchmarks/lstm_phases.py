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

- the ``lstm_layer`` kernels' forward and vjp on NumPy arrays (``kernel:`` rows, Numba's and
  NumPy's backend): the step's rows minus these are the module, loss, tape and update;
- the per-step products as the kernels' compiled loops run them (``kernels'`` rows, how many
  products per step in brackets: blocks under OpenBLAS's SkylakeX kernels,
  ``blas.stepped_plans``), and the weight gradient by the kernels' ``blas.matmul``;
- other layouts of the same products (``layout:`` rows): the input projection as one product
  plus T products ``h_{t-1} @ w_hh`` (what the NumPy kernel runs), and the per-step products
  feature-major, ``w.T @ [x_t | h_{t-1}].T`` (B columns) and ``w_hh @ dz_t.T``.

The products' total (each of the three at the faster of NumPy's BLAS and the kernels' calls:
MKL's, where installed, ran them ~25% faster than NumPy's OpenBLAS) against PyTorch's whole
step bounds what any restructuring of xpgrad's step can reach with these libraries
(``OPENBLAS_CORETYPE`` picks OpenBLAS's kernels; threadpoolctl's architecture is printed); the
step's multiply-adds at the rate of its one large product (the
weight gradient's) bound it however the products are laid out.
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


def _other_layouts(B, T, I, H):
    """The same multiply-adds as ``_products``' per-step ones, laid out otherwise."""
    rng = np.random.default_rng(3)
    f32 = np.float32
    G = 4 * H
    x_rows = rng.normal(size=(T * B, I)).astype(f32)
    h_steps = rng.normal(size=(T, B, H)).astype(f32)
    w_ih, w_hh = rng.normal(size=(I, G)).astype(f32), rng.normal(size=(H, G)).astype(f32)
    w_cat_t = np.ascontiguousarray(np.concatenate([w_ih, w_hh]).T)          # (4H, I + H)
    xh_cols = rng.normal(size=(T, I + H, B)).astype(f32)                     # [x_t | h_t].T
    dz_cols = rng.normal(size=(T, G, B)).astype(f32)
    projection, a = np.empty((T * B, G), f32), np.empty((B, G), f32)
    a_cols, dh_cols = np.empty((G, B), f32), np.empty((H, B), f32)

    def projected():
        np.matmul(x_rows, w_ih, out=projection)
        for t in range(T):
            np.matmul(h_steps[t], w_hh, out=a)

    def forward_columns():
        for t in range(T):
            np.matmul(w_cat_t, xh_cols[t], out=a_cols)

    def backward_columns():
        for t in range(T):
            np.matmul(w_hh, dz_cols[t], out=dh_cols)
    return {"layout: projection + T h @ w_hh": projected,
            "layout: T forward, feature-major": forward_columns,
            "layout: T backward, feature-major": backward_columns}


def _kernel_products(B, T, I, H):
    """The per-step products as the Numba kernels' compiled loops run them: the plans of
    ``blas.stepped_plans`` (in blocks where the BLAS kernels run those faster), no gate
    passes; None where no direct gemm is in use."""
    from numba import njit

    from xpgrad.backends import blas
    from xpgrad.backends.numba import _gemm

    rng = np.random.default_rng(4)
    f32 = np.float32
    G = 4 * H
    xh, dz = rng.normal(size=(T, B, I + H)).astype(f32), rng.normal(size=(T, B, G)).astype(f32)
    w, w_t = rng.normal(size=(I + H, G)).astype(f32), rng.normal(size=(G, H)).astype(f32)
    a, dh, dw = np.empty((B, G), f32), np.empty((B, H), f32), np.empty((I + H, G), f32)
    forward, held_f = blas.stepped_plans(xh, w, a, "columns")
    backward, held_b = blas.stepped_plans(dz, w_t, dh, "depth")
    if forward is None or backward is None:
        return {}

    @njit
    def steps(plans, count, one, zero):
        for t in range(count):
            _gemm.step_products(plans, t, one, zero)

    def run_forward(_held=(xh, w, a, held_f)):        # the arrays the plans' addresses name
        steps(forward, T, f32(1), f32(0))

    def run_backward(_held=(dz, w_t, dh, held_b)):
        steps(backward, T, f32(1), f32(0))

    def run_weights():
        blas.matmul(xh.reshape(T * B, I + H).T, dz.reshape(T * B, G), out=dw)
    return {f"kernels' T forward products ({len(forward)})": run_forward,
            f"kernels' T backward products ({len(backward)})": run_backward,
            "kernels' weight-gradient product": run_weights}


def _kernels(B, T, I, H):
    """The ``lstm_layer`` kernels of the Numba and NumPy backends, forward and vjp (the
    outputs' gradient only, as the step's), on NumPy arrays."""
    from xpgrad.backends.numba._scans import KERNELS
    from xpgrad.backends.numpy.scans import scan_kernels

    rng = np.random.default_rng(5)
    f32 = np.float32
    x = rng.normal(size=(B, T, I)).astype(f32)
    h0 = c0 = np.zeros((B, H), f32)
    w_ih = (rng.normal(size=(I, 4 * H)) / np.sqrt(H)).astype(f32)
    w_hh = (rng.normal(size=(H, 4 * H)) / np.sqrt(H)).astype(f32)
    b = np.zeros(4 * H, f32)
    g_h = rng.normal(size=(B, T, H)).astype(f32)
    needs = (False, False, False, True, True, True)
    rows = {}
    for name, kernel in (("Numba", KERNELS["lstm_layer"]),
                         ("NumPy", scan_kernels(np)["lstm_layer"])):
        state = {}

        def forward(kernel=kernel, state=state):
            state["saved"] = kernel.forward(x, h0, c0, w_ih, w_hh, b)[1]

        def vjp(kernel=kernel, state=state):
            kernel.vjp_sliced((0,), g_h, state["saved"], needs, x, h0, c0, w_ih, w_hh, b)
        rows[f"kernel: {name} forward"], rows[f"kernel: {name} vjp"] = forward, vjp
    return rows


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


def _products_total(ms):
    """The step's products at the faster of NumPy's BLAS (``BLAS:`` rows) and the kernels' own
    calls (``kernels'`` rows, MKL's where installed), each of forward, backward and weight
    gradient: the products the kernels could run, with the library they run."""
    parts = ("forward products", "backward products", "weight-gradient product")
    return sum(min(v for k, v in ms.items() if k.startswith(("BLAS", "kernels'")) and part in k)
               for part in parts)


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
              _gate_passes(B, T, H), _interleaved(B, T, I, H), _kernels(B, T, I, H),
              _other_layouts(B, T, I, H), _kernel_products(B, T, I, H)]
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
    from threadpoolctl import threadpool_info

    cores = sorted({str(lib.get("architecture")) for lib in threadpool_info()
                    if lib.get("internal_api") == "openblas"})
    print(f"LSTM {I}-{H} train step, batch {B}, {T} steps; one thread each; load average "
          f"{os.getloadavg()[0]:.1f}; OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE')} "
          f"(OpenBLAS kernels: {', '.join(cores) or 'none'})")
    for name, v in ms.items():
        print(f"  {name:34s} {v:7.2f} ms")
    torch_step = sum(v for k, v in ms.items() if k.startswith("torch"))
    step = sum(v for k, v in ms.items() if k.startswith("xpgrad"))
    blas = _products_total(ms)
    # multiply-adds: forward (I + H) x 4H and backward 4H x H per row, the weight gradient's
    # (I + H) x 4H over all T * B rows; at the rate of that one large product
    macs = T * B * (2 * (I + H) * 4 * H + 4 * H * H)
    weights = min(v for k, v in ms.items() if k.endswith("weight-gradient product"))
    floor = macs * weights / (T * B * (I + H) * 4 * H)
    gates = sum(v for k, v in ms.items() if k.startswith("Numba"))
    in_step = (ms["in step: + forward gate passes"] + ms["in step: + backward gate passes"]
               - ms["in step: T forward products"] - ms["in step: T backward products"])
    print(f"  {'torch step / xpgrad step':34s} {torch_step / step:7.2f}")
    print(f"  {'torch step / (products + gates)':34s} {torch_step / (blas + gates):7.2f}   "
          f"(the bound with this BLAS: {blas:.2f} ms products, the faster library's each)")
    print(f"  {'torch step / products at peak rate':34s} {torch_step / floor:7.2f}   "
          f"(the bound at the large product's rate: {floor:.2f} ms, no gate passes)")
    print(f"  {'gate passes alone / in the step':34s} {gates:7.2f} / {in_step:.2f} ms")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("NUMBA_THREADING_LAYER", "workqueue")     # as recurrent_steps.py
    main()
