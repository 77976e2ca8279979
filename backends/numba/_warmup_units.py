"""The units of a Numba warmup (``_cache.warmup``): per primitive with a kernel, a function
that runs its kernels once on tiny inputs of one dtype, which compiles them (or loads them from
the disk cache). ``UNITS`` lists them as ``(exercise, primitive)``, largest first.

>>> ("sgd_update" in UPDATES, any(name == "lstm" for _, name in UNITS))
(True, True)
"""
from __future__ import annotations

import numpy as np

from . import _config, _special
from ._sce_registers import regs_max


LOSSES = ("softmax_cross_entropy", "sigmoid_mse", "mse", "sigmoid_cross_entropy_with_logits",
          "huber", "smoothed_softmax_cross_entropy")
#: the params each loss's warmup calls it with, besides the reduction (none: no others)
_LOSS_PARAMS = {"huber": dict(delta=1.0, scale=1.0),
                "smoothed_softmax_cross_entropy": dict(smoothing=0.1, ignore_index=-100)}
ACTIVATIONS = ("sigmoid", "tanh", "relu", "softplus", "leaky_relu", "softmax", "log_softmax",
               "silu", "gelu", "elu", "mish", "softsign", "log_sigmoid", "hardtanh",
               "hardsigmoid", "hardswish", "softplus_beta")
#: the params each activation's warmup calls it with (one call each; none: one call without)
_ACTIVATION_CALLS = {
    "leaky_relu": [dict(negative_slope=0.01)],
    "softmax": [dict(axis=1)], "log_softmax": [dict(axis=1)],
    "gelu": [dict(approximate="none"), dict(approximate="tanh")],
    "elu": [dict(alpha=1.0, scale=1.0, input_scale=1.0)],
    "hardtanh": [dict(min_val=-1.0, max_val=1.0)],
    "softplus_beta": [dict(beta=2.0, threshold=None)],
}
UPDATES = ("sgd_update", "adagrad_update", "adadelta_update", "rmsprop_update", "adam_update",
           "rmsprop_centered_update", "amsgrad_update", "adamax_update", "nadam_update",
           "radam_update", "lion_update")


def _exercise_loss(backend, dt, name):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 3)).astype(dt)
    t = rng.random((4, 3)).astype(dt)
    one = np.asarray(1.0, dt)
    k = backend.kernels[name]
    if name == "softmax_cross_entropy":
        long_rows = rng.standard_normal((2, _config.SHORT_ROWS_MAX + 1)).astype(dt)
        # 3 classes: gathered loops; 10, the commonest count (8 for float64 probabilities, the
        # most they take): register kernels, made per count (``_sce_registers.regs_loops``),
        # so that these alone are compiled; 30: short-row kernels
        short_rows = rng.standard_normal((2, 30)).astype(dt)
        reg_rows = rng.standard_normal((2, 10)).astype(dt)
        reg_probs = np.abs(reg_rows[:, :regs_max(dt, "probs")])
        for logits, labels in ((x, np.array([0, 1, 2, 0])), (x, t), (long_rows, np.array([0, 1])),
                               (long_rows, np.abs(long_rows)), (short_rows, np.array([0, 29])),
                               (short_rows, np.abs(short_rows)), (reg_rows, np.array([0, 9])),
                               (reg_rows[:, :reg_probs.shape[1]], reg_probs)):
            out, saved = k.forward(logits, labels, reduction="mean")
            k.vjp(one, saved, logits, labels, reduction="mean")
            k.value(logits, labels, reduction="mean")      # long rows: the loss-only loops
        return
    if name == "smoothed_softmax_cross_entropy":
        t = np.array([0, 1, -100, 2])                   # integer labels, one row ignored
    params = _LOSS_PARAMS.get(name, {})
    for red in ("mean", "none"):
        out, saved = k.forward(x, t, reduction=red, **params)
        k.vjp(one if red == "mean" else np.ones_like(out), saved, x, t, reduction=red, **params)
        if k.value is not None:
            k.value(x, t, reduction=red, **params)


def _exercise_multi_margin(backend, dt, name):
    """The multi_margin kernels, p 1 and 2, with and without class weights, forward and
    backward: compiles their row loop."""
    x = np.random.default_rng(0).standard_normal((4, 3)).astype(dt)
    y = np.array([0, 2, 1, 2])
    for p in (1, 2):
        for kernel, weights in ((backend.kernels["multi_margin"], ()),
                                (backend.kernels["weighted_multi_margin"], (x[0],))):
            params = dict(reduction="mean", p=p, margin=1.0)
            out, saved = kernel.forward(x, y, *weights, **params)
            kernel.vjp(np.asarray(1.0, dt), saved, x, y, *weights, **params)


def _exercise_activation(backend, dt, name):
    x = np.random.default_rng(0).standard_normal((4, 3)).astype(dt)
    calls = _ACTIVATION_CALLS.get(name, [{}])
    kernel = backend.kernels[name]
    for params in calls:
        out, saved = kernel.forward(x, **params)
        kernel.vjp(x, saved, x, **params)
        if kernel.vjp_in_place is not None:
            kernel.vjp_in_place(x.copy(), saved, x, **params)
        if kernel.value is not None:
            kernel.value(x, **params)


def _exercise_linear_activation(backend, dt, name):
    """The fused dense layers (``linear_relu``...), forward and backward, in place and not."""
    rng = np.random.default_rng(0)
    x, w, b = (rng.standard_normal(s).astype(dt) for s in ((4, 3), (3, 2), (2,)))
    kernel = backend.kernels[name]
    out, saved = kernel.forward(x, w, b)
    kernel.vjp(out, saved, (True, True, True), x, w, b)
    kernel.vjp_in_place(out.copy(), saved, (True, True, True), x, w, b)


_UPDATE_CALLS = {
    "sgd_update": ((None,), dict(lr=0.1, momentum=0.0, nesterov=False, weight_decay=0.0)),
    "sgd_update momentum": ((0,), dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.0)),
    "adagrad_update": ((0,), dict(lr=0.1, eps=1e-7)),
    "adadelta_update": ((0, 1), dict(lr=1.0, rho=0.95, eps=1e-7)),
    "rmsprop_update": ((0, None), dict(lr=0.1, rho=0.9, momentum=0.0, eps=1e-7)),
    "rmsprop_update momentum": ((0, 1), dict(lr=0.1, rho=0.9, momentum=0.9, eps=1e-7)),
    "adam_update": ((0, 1), dict(lr=0.1, beta1=0.9, beta2=0.999, eps=1e-7, step=1,
                                 weight_decay=0.0, decoupled=False)),
    "rmsprop_centered_update": ((0, 1, None), dict(lr=0.1, rho=0.9, momentum=0.0, eps=1e-7)),
    "rmsprop_centered_update momentum": ((0, 1, 2), dict(lr=0.1, rho=0.9, momentum=0.9,
                                                         eps=1e-7)),
    "amsgrad_update": ((0, 1, 2), dict(lr=0.1, beta1=0.9, beta2=0.999, eps=1e-7, step=1,
                                       weight_decay=0.0, decoupled=False)),
    "adamax_update": ((0, 1), dict(lr=0.1, beta1=0.9, beta2=0.999, eps=1e-7, step=1,
                                   weight_decay=0.0)),
    "nadam_update": ((0, 1), dict(lr=0.1, beta1=0.9, beta2=0.999, eps=1e-7, step=1,
                                  momentum_decay=4e-3, mu_product=0.45, weight_decay=0.0,
                                  decoupled=False)),
    "radam_update": ((0, 1), dict(lr=0.1, beta1=0.9, beta2=0.999, eps=1e-7, step=1,
                                  weight_decay=0.0, decoupled=False)),
    "lion_update": ((0,), dict(lr=0.1, beta1=0.9, beta2=0.99, weight_decay=0.0)),
}


def _exercise_update(backend, dt, name):
    rng = np.random.default_rng(0)
    p, g = rng.standard_normal((4, 3)).astype(dt), rng.random((4, 3)).astype(dt)
    for call, (states, params) in _UPDATE_CALLS.items():
        if call.split()[0] == name:
            slots = [None if i is None else np.zeros_like(p) for i in states]
            assert backend.kernels[name].forward(p, g, *slots, **params) is not None, call


def _exercise_lstm(backend, dt, name="lstm"):
    """A tiny LSTM, Elman RNN and GRU, forward and backward: compiles the scans' fused steps
    and the LSTM's whole-scan loops."""
    import xpgrad as xg

    from .. import blas

    x = xg.asarray(np.ones((2, 3, 3), dt), backend=backend)
    for layer in (xg.nn.LSTM, xg.nn.RNN, xg.nn.GRU):
        model = layer(3, 2, rng=xg.random.default_rng(0, backend=backend), dtype=dt.name,
                      backend=backend)
        with xg.GradientTape() as tape:
            out, _ = model(x)
            total = xg.sum(out)
        tape.gradient(total, model.trainable_variables)
    # the layers run rnn_layer / gru_layer; the scans on a given projection have loops of their own
    h0 = xg.zeros((2, 2), dtype=dt.name, backend=backend)
    for scan, width, last in ((xg.nn.rnn_scan, 2, "tanh"), (xg.nn.gru_scan, 6, None)):
        xproj = xg.Variable(np.full((2, 3, width), 0.5, dt), backend=backend)
        w_hh = xg.Variable(np.full((2, width), 0.1, dt), backend=backend)
        if last is None:
            last = xg.zeros((2,), dtype=dt.name, backend=backend)
        with xg.GradientTape() as tape:
            total = xg.sum(scan(xproj, h0, w_hh, last))
        tape.gradient(total, [xproj, w_hh])
    if blas._library() is None:
        # the LSTM's whole-scan loops call a directly called gemm: compile them with one even
        # where XPGRAD_BLAS=numpy keeps the products on NumPy's matmul (a later process may not)
        for library in ("openblas", "mkl"):
            try:
                previous = blas.use(library)
            except RuntimeError:
                continue
            try:
                _exercise_lstm(backend, dt, name)
            finally:
                blas.restore(previous)
            break


def _exercise_layer_norm(backend, dt, name="layer_norm"):
    """The layer_norm kernel forward and backward: compiles its row loops; also the row
    scatter-add of ``backend.index_add`` (the embedding's gradient, which has no kernel)."""
    x = np.random.default_rng(0).standard_normal((3, 4)).astype(dt)
    kernel = backend.kernels[name]
    params = dict(k=1, eps=1e-5, affine=(True, True))
    out, saved = kernel.forward(x, x[0], x[1], **params)
    kernel.vjp(x, saved, (True, True, True), x, x[0], x[1], **params)
    for ids in (np.array([0, 2, 0], np.int64), np.array([1, 1, 2], np.int32)):
        backend.index_add(np.zeros_like(x), (ids,), x)


def _exercise_rms_norm(backend, dt, name="rms_norm"):
    """The rms_norm kernel forward and backward, with and without the weight's gradient:
    compiles its row loops."""
    x = np.random.default_rng(0).standard_normal((3, 4)).astype(dt)
    kernel = backend.kernels[name]
    out, saved = kernel.forward(x, x[0], k=1, eps=1e-6)
    for needs in ((True, True), (True, False)):
        kernel.vjp(x, saved, needs, x, x[0], k=1, eps=1e-6)


def _exercise_batch_norm(backend, dt, name="batch_norm"):
    """The batch_norm kernel forward and backward, and the batch statistics', on (N, C) and
    (N, C, L) input: compiles their eight loops."""
    kernel = backend.kernels[name]
    params = dict(eps=1e-5, affine=(True, True))
    for shape in ((3, 4), (3, 4, 2)):
        x = np.random.default_rng(0).standard_normal(shape).astype(dt)
        axes = (0,) + tuple(range(2, x.ndim))
        stats = x.mean(axis=axes, keepdims=True), x.var(axis=axes, keepdims=True)
        w = b = np.ones(4, dt)
        backend.kernels["batch_moments"].forward(x)
        out, saved = kernel.forward(x, *stats, w, b, **params)
        kernel.vjp(x, saved, (True, False, False, True, True), x, *stats, w, b, **params)


def _exercise_group_norm(backend, dt, name="group_norm"):
    """The group_norm kernel forward and backward (with and without the input's gradient) on
    (N, C, S) and (N, C) input: compiles its loops."""
    kernel = backend.kernels[name]
    params = dict(groups=2, eps=1e-5, affine=(True, True))
    for shape in ((2, 4, 3), (3, 4)):
        x = np.random.default_rng(0).standard_normal(shape).astype(dt)
        w = b = np.ones(4, dt)
        out, saved = kernel.forward(x, w, b, **params)
        for needs in ((True, True, True), (False, True, True)):
            kernel.vjp(out, saved, needs, x, w, b, **params)


def _exercise_ctc(backend, dt, name="ctc_loss"):
    """The CTC kernel forward and backward on two samples: compiles its loops."""
    lp = np.log(np.full((3, 2, 3), 1.0 / 3.0, dt))
    kernel = backend.kernels[name]
    lengths = np.array([3, 2], np.int64)
    params = dict(blank=0, reduction="mean", zero_infinity=False)
    args = (lp, np.array([[1, 2], [2, 2]], np.int64), lengths, lengths - 1)
    out, saved = kernel.forward(*args, **params)
    kernel.vjp(np.asarray(1.0, dt), saved, *args, **params)


def _exercise_conv(backend, dt, name="conv"):
    """The conv kernel forward and backward: im2col + GEMMs, the per-tap products (stride
    1, 16 input channels) and the depthwise loops with stride 1 and 2."""
    kernel = backend.kernels[name]
    for w_shape, groups, stride in (((2, 2, 3, 3), 1, (1, 1)), ((2, 1, 3, 3), 2, (1, 1)),
                                    ((2, 1, 3, 3), 2, (2, 2)), ((2, 16, 3, 3), 1, (1, 1))):
        x = np.ones((2, w_shape[1] * groups, 5, 5), dt)
        params = dict(stride=stride, dilation=(1, 1), pads=((1, 1), (1, 1)), groups=groups)
        w = np.ones(w_shape, dt)
        out, saved = kernel.forward(x, w, **params)
        kernel.vjp(out, saved, (True, True), x, w, **params)


def _exercise_conv_transpose(backend, dt, name="conv_transpose"):
    """The conv_transpose kernel forward and backward: its phase loops and GEMMs, and the
    depthwise loops it shares with conv, with stride 1 (output padding 0) and 2."""
    kernel = backend.kernels[name]
    x = np.ones((2, 2, 4, 4), dt)
    for w_shape, groups, stride, n_out in (((2, 2, 3, 3), 1, (2, 2), (7, 7)),
                                           ((2, 1, 3, 3), 2, (1, 1), (4, 4)),
                                           ((2, 1, 3, 3), 2, (2, 2), (7, 7))):
        params = dict(stride=stride, dilation=(1, 1), padding=(1, 1), n_out=n_out,
                      groups=groups)
        w = np.ones(w_shape, dt)
        out, saved = kernel.forward(x, w, **params)
        kernel.vjp(out, saved, (True, True), x, w, **params)


def _exercise_max_pool(backend, dt, name="max_pool"):
    """The max_pool kernel forward and backward, channels first and last."""
    kernel = backend.kernels[name]
    for last in (False, True):
        x = np.ones((1, 4, 4, 2) if last else (1, 2, 4, 4), dt)
        # channels first with stride 1 along the last axis: a longer stride takes no loop
        stride = (2, 2) if last else (1, 1)
        params = dict(kernel=(2, 2), stride=stride, dilation=(1, 1), pads=((0, 0), (0, 0)),
                      n_out=(2, 2) if last else (3, 3), last=last, backend=backend)
        out, saved = kernel.forward(x, **params)
        kernel.vjp(out, saved, x, **params)


def _exercise_adaptive_max_pool(backend, dt, name="adaptive_max_pool"):
    """The adaptive_max_pool kernel forward and backward."""
    kernel = backend.kernels[name]
    x = np.ones((1, 2, 5, 4), dt)
    out, saved = kernel.forward(x, out=(3, 3), backend=backend)
    kernel.vjp(out, saved, x, out=(3, 3), backend=backend)


def _exercise_special(backend, dt, name):
    """One xg.special loop (its scalar functions compile into it) and its vjp's, if any; 1e-9
    and 1 are among the inputs for ndtri's and erfinv's loops to leave entries to their rest
    loops."""
    kernel, x = backend.kernels[name], np.array([0.25, 0.5, 1e-9, 1.0], dt)
    out, saved = kernel.forward(x)
    kernel.vjp(np.ones_like(out), saved, x)
    if name in ("special_gammaln", "special_digamma"):    # SciPy's ufunc where importable
        getattr(_special, f"{name.removeprefix('special_')}_loop")(x, np.empty_like(x))


#: the xg.special primitives with a Numba loop
SPECIALS = tuple(_special.KERNELS)


#: the units of a warmup: (exercise, primitive). One unit's kernels (and the loops they call)
#: are compiled by one process of a parallel warmup, so no two processes write one kernel's
#: cache index. Listed largest first (measured), so a pool of processes finishes together.
UNITS = ([(_exercise_loss, n) for n in LOSSES] + [(_exercise_update, n) for n in UPDATES]
         + [(_exercise_activation, n) for n in ACTIVATIONS] + [(_exercise_lstm, "lstm")]
         + [(_exercise_linear_activation, f"linear_{n}") for n in ("relu", "tanh", "sigmoid")]
         + [(_exercise_layer_norm, "layer_norm"), (_exercise_rms_norm, "rms_norm"),
            (_exercise_batch_norm, "batch_norm"), (_exercise_group_norm, "group_norm"),
            (_exercise_ctc, "ctc_loss"), (_exercise_multi_margin, "multi_margin"),
            (_exercise_conv, "conv"),
            (_exercise_conv_transpose, "conv_transpose"),
            (_exercise_max_pool, "max_pool"),
            (_exercise_adaptive_max_pool, "adaptive_max_pool")]
         + [(_exercise_special, n) for n in SPECIALS])


def _exercise(backend, dt, units=None):
    """Run every kernel of ``units`` (indices into ``UNITS``; None: all) once on tiny inputs
    of dtype ``dt``."""
    for i in range(len(UNITS)) if units is None else units:
        fn, name = UNITS[i]
        fn(backend, dt, name)
