"""The Numba backend's fused kernels next to PyTorch CPU (and the numpy backend), in one run.

    python benchmarks/numba_kernels.py [--rounds 7] [--only sce,smse,mlp] [--threads N]
                                       [--serial] [--thresholds] [--floor]

Workloads (float32, forward + backward through a GradientTape, as a user runs them):
  sce   softmax cross-entropy, logits 4096x1000, integer labels, mean
        (PyTorch: F.cross_entropy + backward)
  smse  sigmoid-MSE on 4,000,000 entries, mean (PyTorch: F.mse_loss(sigmoid(x), t) + backward)
  mlp   one training step of a 784-256-10 ReLU MLP, batch 128, softmax cross-entropy, Adam
        (PyTorch: nn.Sequential + torch.optim.Adam)
Each contender runs ``--rounds`` rounds of a few calls, rounds interleaved so all see the same
machine load, with a short pause before each round: PyTorch's OpenMP threads, Numba's and BLAS's
spin for a while after their work and would otherwise slow down whoever runs next. The table
shows the median time per call and PyTorch's time / ours. ``--threads N`` sets every library's
thread count (N = 1: the fairest per-core comparison on a machine shared with other work).
``warmup()`` compiles (or loads) every kernel first, so no compile time is timed.
``--thresholds`` times the elementwise kernels one-threaded against threaded at several sizes
(the crossover sets ``_config.PAR_MIN``); ``--serial`` keeps every kernel on one thread.
``--floor`` times each fused loss kernel's forward (loss and gradient in one pass, one thread)
per class count against the copy floor, ``np.copyto`` of the logits into a buffer of their size
(every such kernel reads the logits and writes a gradient as large), in thread CPU time.
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

import xpgrad as xg


def _tape_step(loss_fn, x, t):
    def run():
        with xg.GradientTape() as tape:
            tape.watch(x)
            loss = loss_fn(x, t)
        return tape.gradient(loss, x)
    return run


def sce(lib):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4096, 1000)).astype(np.float32)
    y = rng.integers(0, 1000, 4096)
    if lib == "torch":
        import torch

        xt, yt = torch.from_numpy(x).requires_grad_(), torch.from_numpy(y)
        return lambda: torch.autograd.grad(torch.nn.functional.cross_entropy(xt, yt), xt)
    return _tape_step(xg.losses.softmax_cross_entropy, xg.asarray(x, backend=lib),
                      xg.asarray(y, backend=lib))


def smse(lib):
    rng = np.random.default_rng(1)
    x = rng.standard_normal(4_000_000).astype(np.float32)
    t = rng.random(4_000_000).astype(np.float32)
    if lib == "torch":
        import torch

        F = torch.nn.functional
        xt, tt = torch.from_numpy(x).requires_grad_(), torch.from_numpy(t)
        return lambda: torch.autograd.grad(F.mse_loss(torch.sigmoid(xt), tt), xt)
    return _tape_step(xg.losses.sigmoid_mse, xg.asarray(x, backend=lib),
                      xg.asarray(t, backend=lib))


def mlp(lib, batch=128, sizes=(784, 256, 10)):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((batch, sizes[0])).astype(np.float32)
    y = rng.integers(0, sizes[-1], batch)
    weights = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        weights += [(rng.standard_normal((n_in, n_out)) * np.sqrt(2 / n_in)).astype(np.float32),
                    np.zeros(n_out, np.float32)]
    if lib == "torch":
        import torch

        layers = []
        for i in range(0, len(weights), 2):
            lin = torch.nn.Linear(*weights[i].shape)
            with torch.no_grad():
                lin.weight.copy_(torch.from_numpy(weights[i].T))
                lin.bias.copy_(torch.from_numpy(weights[i + 1]))
            layers += [lin, torch.nn.ReLU()]
        model = torch.nn.Sequential(*layers[:-1])
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        xt, yt = torch.from_numpy(x), torch.from_numpy(y)

        def run():
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(xt), yt).backward()
            opt.step()
        return run
    model = xg.nn.MLP(list(sizes), backend=lib)
    params = model.trainable_variables
    for v, w in zip(params, weights):
        v.assign(xg.asarray(w, backend=lib))
    opt = xg.optim.Adam(learning_rate=1e-3)
    xx, yy = xg.asarray(x, backend=lib), xg.asarray(y, backend=lib)

    def run():
        with xg.GradientTape() as tape:
            loss = xg.losses.softmax_cross_entropy(model(xx), yy)
        opt.apply_gradients(zip(tape.gradient(loss, params), params))
    return run


WORKLOADS = {"sce": (sce, 5), "smse": (smse, 5), "mlp": (mlp, 50)}


def time_round(fn, calls):
    t0 = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - t0) / calls


def compare(name, rounds, libs, settle=0.2):
    build, calls = WORKLOADS[name]
    fns = {lib: build(lib) for lib in libs}
    for fn in fns.values():
        time_round(fn, 2)                                 # first-touch, allocator warm-up
    times = {lib: [] for lib in libs}
    for _ in range(rounds):
        for lib, fn in fns.items():
            time.sleep(settle)      # let the previous library's idle threads stop spinning
            times[lib].append(time_round(fn, calls))
    med = {lib: statistics.median(ts) for lib, ts in times.items()}
    ref = med.get("torch")
    for lib in libs:
        spread = f"{min(times[lib]) * 1e3:8.3f} .. {max(times[lib]) * 1e3:8.3f}"
        ratio = f"   torch/this {ref / med[lib]:5.2f}x" if ref and lib != "torch" else ""
        print(f"  {name:5s} {lib:6s} median {med[lib] * 1e3:8.3f} ms  ({spread}){ratio}")
    return med


def thresholds(rounds):
    """One thread vs all threads for the elementwise kernels, per size."""
    from xpgrad.backends.numba import _act_kernels as A
    from xpgrad.backends.numba import _config
    from xpgrad.backends.numba import _loss_kernels as L

    print(f"serial vs parallel (block {_config.BLOCK}), microseconds per call:")
    for n in (1 << 12, 1 << 14, 1 << 15, 1 << 16, 1 << 17, 1 << 18, 1 << 20):
        x = np.random.default_rng(0).standard_normal(n).astype(np.float32)
        t, out, g = np.empty_like(x), np.empty_like(x), np.empty_like(x)
        empty = np.empty(0, np.float32)
        c = np.float32(2.0 / n)
        cases = {
            "relu_fwd": (lambda: A.relu_fwd(x, out),
                         lambda: A.relu_fwd_par(x, out, _config.BLOCK)),
            "sigmoid_fwd": (lambda: A.sigmoid_fwd(x, out),
                            lambda: A.sigmoid_fwd_par(x, out, _config.BLOCK)),
            "sigmoid_mse": (lambda: L.sigmoid_mse_block(x, t, g, empty, c),
                            lambda: L.sigmoid_mse_par(x, t, g, empty, c, _config.BLOCK)),
        }
        row = []
        for name, (ser, par) in cases.items():
            calls = max(3, (1 << 22) // n)
            ts = [min(time_round(f, calls) for _ in range(rounds)) * 1e6 for f in (ser, par)]
            row.append(f"{name} {ts[0]:8.1f} / {ts[1]:8.1f}")
        print(f"  n={n:8d}  " + "   ".join(row))


#: class counts and total logits (in cache, in memory) of ``--floor``
FLOOR_CLASSES = (2, 5, 10, 16, 32, 33, 48, 64, 100, 1000)
FLOOR_SIZES = (1 << 17, 1 << 22)


def _cpu_round(fn, calls):
    t0 = time.thread_time()
    for _ in range(calls):
        fn()
    return (time.thread_time() - t0) / calls


def _exp_only():
    """A Numba loop writing ``exp(x - 1)`` of each logit into a buffer: the compute floor of a
    softmax kernel (each logit needs one exponential), with ``_math``'s vectorized exp."""
    from numba import njit

    from xpgrad.backends.numba._math import LOOP_OPTIONS, exp_neg

    @njit(**{**LOOP_OPTIONS, "cache": False})
    def exp_only(x, out):
        xf, of = x.reshape(-1), out.reshape(-1)
        one = xf.dtype.type(1)
        for i in range(xf.shape[0]):
            of[i] = exp_neg(xf[i] - one)
    return exp_only


def floor(rounds, classes=FLOOR_CLASSES, sizes=FLOOR_SIZES):
    """Each fused loss kernel's forward, one thread, over the copy floor at each class count.

    Thread CPU time (not wall time), rounds interleaved: robust to other work on the machine.
    The softmax rows go to the short-row kernel up to ``_config.SHORT_ROWS_MAX`` classes
    (``SHORT_PROBS_MAX`` with probabilities); the "row kernel" column forces the row-at-a-time
    one, for comparison; the "exp only" column is a loop computing one exponential per logit
    into a buffer (compiled before timing), the compute floor of any softmax kernel."""
    from xpgrad.backends.numba import _config, _loss_kernels, _losses

    exp_only = _exp_only()

    kern = _losses.KERNELS
    print("per call, median of rounds; ratio = kernel / copy floor (1.0 is the floor)")
    print(f"{'logits':>14s} {'classes':>7s} {'copy':>9s}   {'exp only':>16s}   "
          f"{'sce labels':>16s}   {'row kernel':>16s}   {'sce probs':>16s}   "
          f"{'sigmoid_mse':>16s}")
    for total in sizes:
        for c in classes:
            n = max(1, total // c)
            rng = np.random.default_rng(c)
            x = rng.standard_normal((n, c)).astype(np.float32)
            labels = rng.integers(0, c, n)
            probs = rng.dirichlet(np.ones(c), n).astype(np.float32)
            t = rng.random((n, c)).astype(np.float32)
            buf, grad, losses = np.empty_like(x), np.empty_like(x), np.empty(n, np.float32)
            lab = labels.astype(np.intp)
            cases = {
                "copy": lambda: np.copyto(buf, x),
                "exp": lambda: exp_only(x, buf),
                "sce": lambda: kern["softmax_cross_entropy"].forward(x, labels, "mean"),
                "row": lambda: _loss_kernels.sce_labels_block(x, lab, grad, losses,
                                                              np.float32(1 / n)),
                "probs": lambda: kern["softmax_cross_entropy"].forward(x, probs, "mean"),
                "smse": lambda: kern["sigmoid_mse"].forward(x, t, "mean"),
            }
            calls = max(2, (1 << 21) // (n * c))
            times = {k: [] for k in cases}
            for fn in cases.values():
                fn()
            for _ in range(rounds):
                for k, fn in cases.items():
                    times[k].append(_cpu_round(fn, calls))
            med = {k: statistics.median(v) for k, v in times.items()}
            cells = [f"{med[k] * 1e6:8.1f} us {med[k] / med['copy']:5.1f}x"
                     for k in ("exp", "sce", "row", "probs", "smse")]
            print(f"{n:>7d}x{c:<6d} {c:7d} {med['copy'] * 1e6:6.1f} us   " + "   ".join(cells))
    print(f"(short-row kernel up to {_config.SHORT_ROWS_MAX} classes with labels, "
          f"{_config.SHORT_PROBS_MAX} with probabilities)")


def main(argv=None):
    from xpgrad import cli_types
    from xpgrad.threads import parse_threads

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=cli_types.positive(int), default=7)
    ap.add_argument("--only", type=cli_types.names(*WORKLOADS), default="sce,smse,mlp")
    ap.add_argument("--libs", type=cli_types.names("numba", "numpy", "torch"),
                    default="numba,numpy,torch")
    ap.add_argument("--thresholds", action="store_true")
    ap.add_argument("--floor", action="store_true",
                    help="each fused loss kernel against the copy floor, per class count")
    ap.add_argument("--threads", type=parse_threads, default=None,
                    help="threads for every library: Numba, PyTorch, BLAS (via threadpoolctl); "
                         "1 also keeps every Numba kernel serial (default: each library's own)")
    ap.add_argument("--serial", action="store_true",
                    help="run every Numba kernel on one thread (no size threshold)")
    args = ap.parse_args(argv)
    if args.serial or args.threads == 1:
        from xpgrad.backends.numba import _config

        _config.PAR_MIN = _config.ROW_PAR_MIN = 1 << 62

    be = xg.get_backend("numba")
    print(f"warmup: {be.warmup():.1f} s (compile or load from the disk cache, not timed)")
    info = be.describe()
    import os

    import torch

    if args.threads:
        import numba
        from threadpoolctl import threadpool_limits

        numba.set_num_threads(args.threads)
        torch.set_num_threads(args.threads)
        threadpool_limits(args.threads)
        info = be.describe()

    print(f"numba {info['version']} threads={info['threads']} layer={info['threading_layer']} "
          f"cache_warm={info['cache_warm']}; torch {torch.__version__} "
          f"threads={torch.get_num_threads()}; numpy {np.__version__}; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    if args.thresholds:
        thresholds(args.rounds)
        return
    if args.floor:
        floor(args.rounds)
        return
    for name in args.only:
        compare(name, args.rounds, args.libs)


if __name__ == "__main__":
    main()
