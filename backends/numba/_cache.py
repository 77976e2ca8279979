"""What ``xpgrad info`` reports about the Numba backend, and ``warmup()``.

A kernel is "cached" when Numba's on-disk index for it lists compiled versions that this
process would load: for the current source (a stale index, from an edited file, counts as not
cached), code and CPU. The cache is "warm" when every kernel has both its float32 and float64
versions there, i.e. a new process loads instead of compiling. The kernels are the public
dispatchers of the kernel modules, including the threaded wrappers and loss loops that
``_templates`` makes (cached under ``_templates.<name>-<line>.*``).

>>> import numba
>>> describe(numba)["version"] == numba.__version__
True
"""
from __future__ import annotations

import time

import numpy as np

from . import _config


def kernel_dispatchers():
    """The public Numba kernels: ``{qualified name: dispatcher}``."""
    from numba.core.dispatcher import Dispatcher

    from . import _act_kernels, _loss_kernels, _optim_kernels, _rnn

    found = {}
    for mod in (_loss_kernels, _act_kernels, _optim_kernels, _rnn):
        for name, obj in vars(mod).items():
            if isinstance(obj, Dispatcher) and not name.startswith("_"):
                found[f"{mod.__name__.rsplit('.', 1)[-1]}.{name}"] = obj
    return found


def _cached_versions(dispatcher) -> int:
    """How many compiled versions of ``dispatcher`` this process would load from the disk cache.

    Counts the index entries whose key Numba would compute here: same source file hash (else the
    index reads as empty), bytecode, closure (for a kernel made in ``_templates``: the hash of
    the loops it calls, so entries left by an edited loop do not count) and CPU.
    """
    try:
        cache = dispatcher._cache
        codegen = dispatcher.targetctx.codegen()
        return sum(1 for key in cache._cache_file._load_index()
                   if cache._index_key(key[0], codegen) == key)
    except Exception:       # private Numba API: report "not cached" rather than fail
        return 0


def _cache_dir(dispatchers) -> str | None:
    for d in dispatchers.values():
        try:
            return d._cache._cache_path
        except AttributeError:
            pass
    return None


def describe(numba) -> dict:
    disp = kernel_dispatchers()
    versions = {name: _cached_versions(d) for name, d in disp.items()}
    cached = sum(1 for v in versions.values() if v >= 2)
    try:
        layer = numba.threading_layer()
    except ValueError:
        layer = "not started"
    return {
        "version": numba.__version__,
        "threads": numba.get_num_threads(),
        "threading_layer": layer,
        "cache_dir": _cache_dir(disp),
        "cache_warm": cached == len(disp),
        "cached_kernels": f"{cached}/{len(disp)}",
    }


def _exercise(backend, dt):
    """Run every kernel once on tiny inputs of dtype ``dt``."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 3)).astype(dt)
    t = rng.random((4, 3)).astype(dt)
    one = np.asarray(1.0, dt)
    for name in ("sigmoid_mse", "mse", "sigmoid_cross_entropy_with_logits"):
        k = backend.kernels[name]
        for red in ("mean", "none"):
            out, saved = k.forward(x, t, reduction=red)
            k.vjp(one if red == "mean" else np.ones_like(out), saved, x, t, reduction=red)
    k = backend.kernels["softmax_cross_entropy"]
    for labels in (np.array([0, 1, 2, 0]), t):
        out, saved = k.forward(x, labels, reduction="mean")
        k.vjp(one, saved, x, labels, reduction="mean")
    for name in ("sigmoid", "tanh", "relu", "softplus"):
        out, saved = backend.kernels[name].forward(x)
        backend.kernels[name].vjp(x, saved, x)
    out, saved = backend.kernels["leaky_relu"].forward(x, negative_slope=0.01)
    backend.kernels["leaky_relu"].vjp(x, saved, x, negative_slope=0.01)
    p, g = x.copy(), t
    s = [np.zeros_like(x) for _ in range(2)]
    for name, states, params in (
            ("sgd_update", (None,), dict(lr=0.1, momentum=0.0, nesterov=False, weight_decay=0.0)),
            ("sgd_update", s[:1], dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.0)),
            ("adagrad_update", s[:1], dict(lr=0.1, eps=1e-7)),
            ("adadelta_update", s, dict(lr=1.0, rho=0.95, eps=1e-7)),
            ("rmsprop_update", (s[0], None), dict(lr=0.1, rho=0.9, momentum=0.0, eps=1e-7)),
            ("rmsprop_update", s, dict(lr=0.1, rho=0.9, momentum=0.9, eps=1e-7)),
            ("adam_update", s, dict(lr=0.1, beta1=0.9, beta2=0.999, eps=1e-7, step=1,
                                    weight_decay=0.0, decoupled=False))):
        assert backend.kernels[name].forward(p, g, *states, **params) is not None, name
    _exercise_lstm(backend, dt)


def _exercise_lstm(backend, dt):
    """A tiny LSTM forward and backward: compiles the fused backward step, with the strided
    views the scan passes it."""
    import xpgrad as xg

    lstm = xg.nn.LSTM(3, 2, rng=xg.random.default_rng(0, backend=backend), dtype=dt.name,
                      backend=backend)
    x = xg.asarray(np.ones((2, 3, 3), dt), backend=backend)
    with xg.GradientTape() as tape:
        out, _ = lstm(x)
        total = xg.sum(out)
    tape.gradient(total, lstm.trainable_variables)


def warmup(backend, dtypes, parallel) -> float:
    """Compile or load every kernel (serial and, with ``parallel``, threaded) for ``dtypes``
    (float32 and/or float64: the dtypes the kernels cover; ValueError for any other)."""
    if isinstance(dtypes, str):
        dtypes = (dtypes,)
    kernel_dtypes = ("float32", "float64")
    for dt in dtypes:
        name = getattr(dt, "name", None) or getattr(dt, "__name__", None) or str(dt)
        if name not in kernel_dtypes:
            raise ValueError(f"warmup: dtypes must be among {kernel_dtypes} (the dtypes the "
                             f"kernels cover), got {dt!r}")
    t0 = time.perf_counter()
    saved = _config.PAR_MIN, _config.ROW_PAR_MIN
    try:
        for limit in ((1 << 62, 0) if parallel else (1 << 62,)):
            _config.PAR_MIN = _config.ROW_PAR_MIN = limit
            for dt in dtypes:
                _exercise(backend, np.dtype(dt))
    finally:
        _config.PAR_MIN, _config.ROW_PAR_MIN = saved
    return time.perf_counter() - t0
