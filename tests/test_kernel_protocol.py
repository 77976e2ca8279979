"""The kernel protocol: every backend's kernels name real primitives, and each kernel computes
what its primitive's generic rule computes (forward, vjp, in-place updates), float32 and
float64, on shared inputs.

A kernel without a row in ``SAMPLES`` fails ``test_every_kernel_has_samples``: adding a kernel
means adding its inputs here. Backends: numpy, numba, the CUDA kernels under the CPU emulator
(tests/cuda_emu) and, where a device answers, cupy itself.
"""
from __future__ import annotations

import array_api_compat.numpy as npx
import numpy as np
import pytest

import xpgrad as xg
from xpgrad.accumulate import Scatter
from xpgrad.backend import BackendUnavailableError, Kernel
from xpgrad.primitive import PRIMITIVES

DTYPES = (np.float32, np.float64)
#: the generic rules' backend where a primitive takes one (its sparse gradients' adds)
_NUMPY = xg.get_backend("numpy")


# -- inputs per primitive: (arrays, params), made from a generator and a dtype ----------------
def _x(rng, dt, shape, big=True):
    x = rng.normal(size=shape) * 3
    if big and x.size >= 8:       # the whole range: zeros, saturation, |x| = 1e4
        x.flat[:6] = [0.0, -0.0, 50.0, -50.0, 1e4, -1e4]
    return x.astype(dt)


def _loss_cases(op):
    def make(rng, dt, reduction):
        x = _x(rng, dt, (5, 7))
        t = (rng.normal(size=(5, 7)) if op == "mse" else rng.random((5, 7))).astype(dt)
        return (x, t), {"reduction": reduction}
    return [lambda rng, dt, r=r: make(rng, dt, r) for r in ("mean", "sum", "none")]


def _ce_cases():
    def make(rng, dt, reduction, labels):
        x = _x(rng, dt, (6, 9))
        x[2] += 1e4                           # one row of huge logits
        if labels == "probs":
            y = rng.dirichlet(np.ones(9), 6).astype(dt)
        else:
            y = rng.integers(0, 9, 6).astype(labels)
        return (x, y), {"reduction": reduction}
    return [lambda rng, dt, r=r, lab=lab: make(rng, dt, r, lab)
            for r in ("mean", "sum", "none") for lab in ("int64", "int32", "probs")]


def _huber_cases():
    """Huber (scale 1) and smooth L1 (scale 1 / beta) with residuals across both branches."""
    def make(rng, dt, reduction, delta, scale):
        x = _x(rng, dt, (5, 7))
        t = (rng.normal(size=(5, 7)) * 2).astype(dt)
        return (x, t), {"reduction": reduction, "delta": delta, "scale": scale}
    return [lambda rng, dt, r=r, d=d, s=s: make(rng, dt, r, d, s)
            for r in ("mean", "sum", "none") for d, s in ((1.0, 1.0), (0.5, 2.0), (2.5, 1.0))]


def _smoothed_ce_cases():
    """Label smoothing on integer labels, rows labelled ignore_index (-100 or a class) left
    out, all rows ignored too."""
    def make(rng, dt, reduction, labels, smoothing, ignored):
        x = _x(rng, dt, (6, 9))
        x[2] += 1e4                           # one row of huge logits
        y = rng.integers(0, 9, 6).astype(labels)
        ignore_index = -100 if labels == "int64" else 4
        y[:ignored] = ignore_index
        return (x, y), {"reduction": reduction, "smoothing": smoothing,
                        "ignore_index": ignore_index}
    return [lambda rng, dt, r=r, lab=lab, eps=eps, k=k: make(rng, dt, r, lab, eps, k)
            for r in ("mean", "sum", "none") for lab in ("int64", "int32")
            for eps, k in ((0.1, 0), (0.25, 2), (1.0, 1), (0.1, 6))]


def _ctc_cases():
    """Log-probabilities (T=9, N=4, C=5) with padded targets: a repeated label, an empty
    target, an infeasible sample (NaN gradient unless zero_infinity), one input shorter."""
    def make(rng, dt, reduction, zero_infinity):
        x = rng.normal(size=(9, 4, 5)) * 2
        lp = (x - np.log(np.exp(x).sum(-1, keepdims=True))).astype(dt)
        targets = np.array([[1, 2, 2, 3], [4, 0, 0, 0], [1, 1, 1, 1], [3, 4, 1, 0]], np.int64)
        params = dict(blank=0, reduction=reduction, zero_infinity=zero_infinity)
        return (lp, targets, np.array([9, 9, 6, 7]), np.array([4, 0, 4, 3])), params
    return [lambda rng, dt, r=r, z=z: make(rng, dt, r, z)
            for r in ("mean", "sum", "none") for z in (False, True)]


def _multi_margin_cases(weighted):
    """Scores (6, 9) with a row of huge ones, labels int64 and int32, p 1 and 2, margins
    positive and negative; class weights for ``weighted_multi_margin``."""
    def make(rng, dt, reduction, labels, p, margin):
        x = _x(rng, dt, (6, 9))
        x[2] += 1e4
        y = rng.integers(0, 9, 6).astype(labels)
        weights = (rng.uniform(0.2, 2.0, 9).astype(dt),) if weighted else ()
        return (x, y, *weights), {"reduction": reduction, "p": p, "margin": margin}
    return [lambda rng, dt, r=r, lab=lab, p=p, m=m: make(rng, dt, r, lab, p, m)
            for r in ("mean", "sum", "none") for lab in ("int64", "int32")
            for p, m in ((1, 1.0), (2, 0.5), (1, -0.3))]


def _multilabel_margin_cases():
    """Scores (6, 9) with a row of huge ones; target lists of every length (none, all nine, a
    duplicate, labels after the -1 ignored), int64 and int32."""
    def make(rng, dt, reduction, labels):
        x = _x(rng, dt, (6, 9))
        x[2] += 1e4
        y = rng.integers(0, 9, (6, 9)).astype(labels)
        y[[0, 1, 2, 4, 5], [0, 3, 1, 8, 2]] = -1        # row 3 lists all nine
        y[1, :2] = 5
        return (x, y), {"reduction": reduction}
    return [lambda rng, dt, r=r, lab=lab: make(rng, dt, r, lab)
            for r in ("mean", "sum", "none") for lab in ("int64", "int32")]


def _nll_cases(weighted):
    """Log-probabilities (6, 9) with a row of huge ones; labels int64 and int32; for ``nll``
    class weights and ``ignore_index`` (-100, or a class) on none, two or every row but one."""
    def make(rng, dt, reduction, labels, ignored):
        x = _x(rng, dt, (6, 9))
        x[2] -= 1e4
        y = rng.integers(0, 9, 6).astype(labels)
        if not weighted:
            return (x, y), {"reduction": reduction}
        ignore_index = -100 if labels == "int64" else 4
        y[:ignored] = ignore_index
        return (x, y, rng.uniform(0.2, 2.0, 9).astype(dt)), {"reduction": reduction,
                                                             "ignore_index": ignore_index}
    return [lambda rng, dt, r=r, lab=lab, k=k: make(rng, dt, r, lab, k)
            for r in ("mean", "sum", "none") for lab in ("int64", "int32")
            for k in ((0, 2, 5) if weighted else (0,))]


def _activation(param=None):
    def make(rng, dt):
        return (_x(rng, dt, (4, 9)),), ({} if param is None else dict(param))
    return [make]


def _glu():
    """Both halves across the whole range (``_x``), along the last axis and the first."""
    def make(rng, dt, shape, axis):
        return (_x(rng, dt, shape),), {"axis": axis}
    return [lambda rng, dt, s=s, a=a: make(rng, dt, s, a) for s, a in (((4, 10), 1), ((6, 3), 0))]


def _lstm(B, T, H):
    """Sizes 3, 5, 4, and odd ones (a row length that is no multiple of a SIMD width)."""
    def make(rng, dt):
        return (rng.normal(size=(B, T, 4 * H)).astype(dt), rng.normal(size=(B, H)).astype(dt),
                rng.normal(size=(B, H)).astype(dt),
                (rng.normal(size=(H, 4 * H)) * 0.5).astype(dt)), {}
    return make


def _lstm_layer(B, T, I, H):
    def make(rng, dt):
        n = rng.normal
        return (n(size=(B, T, I)).astype(dt), n(size=(B, H)).astype(dt),
                n(size=(B, H)).astype(dt), (n(size=(I, 4 * H)) * 0.5).astype(dt),
                (n(size=(H, 4 * H)) * 0.5).astype(dt), n(size=(4 * H,)).astype(dt)), {}
    return make


def _lstm_cell(B, I, H):
    def make(rng, dt):
        arrays, params = _lstm_layer(B, 1, I, H)(rng, dt)
        return (arrays[0][:, 0], *arrays[1:]), params
    return make


def _rnn(nonlinearity, B=3, T=5, H=4):
    def make(rng, dt):
        return (rng.normal(size=(B, T, H)).astype(dt), rng.normal(size=(B, H)).astype(dt),
                (rng.normal(size=(H, H)) * 0.5).astype(dt)), {"nonlinearity": nonlinearity}
    return make


def _gru(B=3, T=5, H=4):
    def make(rng, dt):
        n = rng.normal
        return (n(size=(B, T, 3 * H)).astype(dt), n(size=(B, H)).astype(dt),
                (n(size=(H, 3 * H)) * 0.5).astype(dt), n(size=(H,)).astype(dt)), {}
    return make


def _gated_layer(gates, last, B=3, T=5, I=2, H=4):
    """``rnn_layer`` (``last`` its nonlinearity) or ``gru_layer`` (``gates`` 3: ``b_hn``)."""
    def make(rng, dt):
        n = rng.normal
        arrays = (n(size=(B, T, I)).astype(dt), n(size=(B, H)).astype(dt),
                  (n(size=(I, gates * H)) * 0.5).astype(dt),
                  (n(size=(H, gates * H)) * 0.5).astype(dt), n(size=(gates * H,)).astype(dt))
        if last is None:
            return arrays + (n(size=(H,)).astype(dt),), {}
        return arrays, {"nonlinearity": last}
    return make


def _gated_cell(gates, last, B=3, I=2, H=4):
    """``rnn_cell`` / ``gru_cell``: ``_gated_layer``'s arguments of one step, ``x`` (B, I)."""
    def make(rng, dt):
        arrays, params = _gated_layer(gates, last, B, 1, I, H)(rng, dt)
        return (arrays[0][:, 0], *arrays[1:]), params
    return make


def _layer_norm(shape, k, affine):
    def make(rng, dt):
        x = (rng.normal(size=shape) * 3 + 1).astype(dt)
        normalized = shape[len(shape) - k:]
        arrays = (x,) + tuple(rng.normal(size=normalized).astype(dt) for on in affine if on)
        return arrays, {"k": k, "eps": 1e-5, "affine": affine}
    return make


def _rms_norm(shape, k, weighted):
    def make(rng, dt):
        x = (rng.normal(size=shape) * 3 + 1).astype(dt)
        arrays = (x,) + ((rng.normal(size=shape[len(shape) - k:]).astype(dt),) if weighted
                         else ())
        return arrays, {"k": k, "eps": 1e-6}
    return make


def _batch_norm(shape, affine):
    """``batch_norm``'s training primitive: ``(x, mean, var, [w], [b])``, the statistics the
    batch's, shaped (1, C) as ``xg.nn.batch_norm`` passes them."""
    def make(rng, dt):
        x = (rng.normal(size=shape) * 3 + 1).astype(dt)
        mean = x.mean(axis=0, keepdims=True)
        var = ((x - mean) ** 2).mean(axis=0, keepdims=True)
        arrays = (x, mean, var) + tuple(rng.normal(size=shape[1]).astype(dt) for on in affine
                                        if on)
        return arrays, {"eps": 1e-5, "affine": affine}
    return make


def _group_norm(shape, groups, affine, offset=1.0):
    """``group_norm``: ``(x, [w], [b])`` with x (N, C, *), ``groups`` dividing C."""
    def make(rng, dt):
        x = (rng.normal(size=shape) * 3 + offset).astype(dt)
        arrays = (x,) + tuple(rng.normal(size=shape[1]).astype(dt) for on in affine if on)
        return arrays, {"groups": groups, "eps": 1e-5, "affine": affine}
    return make


def _update(n_states, params, optional=0):
    """An update's arrays: param, grad, ``n_states`` state arrays, then ``optional`` Nones."""
    def make(rng, dt):
        states = tuple(np.abs(rng.normal(size=(7, 5))).astype(dt) * 0.1 for _ in range(n_states))
        return (rng.normal(size=(7, 5)).astype(dt), rng.normal(size=(7, 5)).astype(dt), *states,
                *(None,) * optional), dict(params)
    return make


def _centered(params, optional=0):
    """Centered RMSprop's arrays: a gradient mean (state 1) below the root of the running
    square (state 0), as training keeps them."""
    n_states = 3 - optional
    update = _update(n_states, params, optional)

    def make(rng, dt):
        arrays, kw = update(rng, dt)
        sq, avg = arrays[2], arrays[3]
        avg[...] = np.sqrt(sq) * rng.uniform(-0.9, 0.9, sq.shape)
        return arrays, kw
    return make


def _conv(x_shape, w_shape, stride, dilation, pads, groups=1):
    """``conv``'s arrays (input, weight) and its checked geometry (symmetric padding: the
    Numba kernel declines an asymmetric one, "same" with an even kernel)."""
    def make(rng, dt):
        return ((_x(rng, dt, x_shape, big=False), rng.normal(size=w_shape).astype(dt)),
                dict(stride=stride, dilation=dilation, pads=pads, groups=groups))
    return make


def _conv_transpose(x_shape, w_shape, stride, dilation, padding, output_padding, groups=1,
                    bias=False):
    """``conv_transpose``'s arrays (input, weight, and a bias where ``bias``) and geometry,
    its output shape PyTorch's."""
    n_out = tuple((n - 1) * s - 2 * p + d * (k - 1) + op + 1 for n, k, s, d, p, op in
                  zip(x_shape[2:], w_shape[2:], stride, dilation, padding, output_padding))

    def make(rng, dt):
        arrays = (_x(rng, dt, x_shape, big=False), rng.normal(size=w_shape).astype(dt))
        if bias:
            arrays += (rng.normal(size=w_shape[1] * groups).astype(dt),)
        return arrays, dict(stride=stride, dilation=dilation, padding=padding, n_out=n_out,
                            groups=groups)
    return make


def _max_pool(x_shape, kernel, stride, dilation, pads):
    """``max_pool``'s input (ties and the extremes included) and geometry; its windows per
    axis follow from the padding (the right one may hold ceil mode's last window)."""
    from xpgrad.ops.convolution import out_shape

    def make(rng, dt):
        x = _x(rng, dt, x_shape)
        x[0, 0, ..., :2] = 1.5                      # tied maxima
        n_out = out_shape(x_shape[2:], kernel, stride, dilation, pads)
        return (x,), dict(kernel=kernel, stride=stride, dilation=dilation, pads=pads,
                          n_out=n_out, backend=xg.get_backend("numpy"))
    return make


def _max_pool_positions(*geometry):
    """``_max_pool``'s sample less the backend (the positions' primitive takes none)."""
    def make(rng, dt):
        arrays, params = _max_pool(*geometry)(rng, dt)
        return arrays, {k: v for k, v in params.items() if k != "backend"}
    return make


def _solve_triangular(upper, left, unitriangular, fortran):
    """``linalg_solve_triangular``'s inputs: a well-conditioned A (both triangles filled,
    Fortran-ordered with ``fortran``) and a B of 3 right-hand sides."""
    def make(rng, dt):
        a = (rng.normal(size=(5, 5)) + 4 * np.eye(5)).astype(dt)
        b = rng.normal(size=(5, 3) if left else (3, 5)).astype(dt)
        return ((np.asfortranarray(a) if fortran else a), b), {
            "upper": upper, "left": left, "unitriangular": unitriangular}
    return make


def _adaptive_max_pool(x_shape, out):
    """``adaptive_max_pool``'s input (ties and the extremes included) and output grid."""
    def make(rng, dt):
        x = _x(rng, dt, x_shape)
        if x.size:
            x[0, 0, ..., :2] = 1.5                  # tied maxima
        return (x,), dict(out=out, backend=xg.get_backend("numpy"))
    return make


def _segments(kind, shape, num):
    """A segment reduction's rows (ties, zeros and the extremes included) and unsorted ids,
    some segments empty."""
    def make(rng, dt):
        x = _x(rng, dt, shape, big=kind != "segment_prod")
        x[:3] = 1.5                                 # tied rows, one segment below
        ids = rng.integers(0, num, shape[0])
        ids[:3] = 2
        identity = {"segment_max": -np.inf, "segment_min": np.inf, "segment_prod": 1}[kind]
        return (x,), dict(ids=ids, num=num, identity=identity, fill=0,
                          backend=xg.get_backend("numpy"))
    return make


def _sorted_scatter(size, dim, n, declined=None):
    """``embedding_scatter``'s rows and non-decreasing ids (an embedding bag's), some ids
    repeated, some targets empty; ``declined``: ``"unsorted"`` ids or a ``"padding"`` id,
    which the NumPy kernel leaves to the generic rule."""
    def make(rng, dt):
        ids = np.sort(rng.integers(1, n - 1, size))
        if declined == "unsorted":
            ids = ids[::-1].copy()
        return (_x(rng, dt, (size, dim)),), dict(
            ids=ids, n=n, padding_idx=int(ids[0]) if declined == "padding" else None,
            backend=xg.get_backend("numpy"))
    return make


def _extremum(shape, axis, keepdims, fill=None):
    """A max / min sample over ``axis``: distinct values (each row's extremum once), or
    ``fill``: "ties" (small integers, a row's extremum held several times: the generic rule's
    shared gradient) or "nan" (a NaN in one row); other axes the NumPy kernel declines."""
    def make(rng, dt):
        x = _x(rng, dt, shape)
        if fill == "ties":
            x = rng.integers(-2, 3, size=shape).astype(dt)
        elif fill == "nan":
            x.flat[5] = np.nan
        return (x,), {"axis": axis, "keepdims": keepdims}
    return make


def _vector_norm(shape, axis, keepdims, ord=2):
    """A ``linalg_vector_norm`` sample with a zero vector among the rows (its gradient is 0);
    over leading axes or of another ``ord`` the NumPy kernel declines."""
    def make(rng, dt):
        x = _x(rng, dt, shape)
        x[0] = 0.0
        return (x,), {"axis": axis, "keepdims": keepdims, "ord": ord}
    return make


def _gamma_family(**params):
    """Samples of ``gammaln``, ``digamma`` and ``polygamma``: a wide uniform range; the roots of
    lgamma at 1 and 2, the edges of the series' regions and large and tiny values; negative
    non-integers; next to the poles (their own sample: the tolerance scales with the largest
    value); the poles, +-0, +-inf and NaN; a 0-d and an empty array."""
    edges = [0.7, 1.3, 1.5, 2.6, 10.0, 1.2116, 1.7116, 11.0, 12.0, 13.0]
    near = np.concatenate([np.nextafter(edges, -np.inf), edges, np.nextafter(edges, np.inf)])
    roots = np.concatenate([r + np.geomspace(1e-12, 0.4, 12) * np.resize([1, -1], 12)
                            for r in (1.0, 2.0, 1.4616321449683622)])
    wide = [1e-300, 1e-8, 0.3, 25.0, 1e3, 1e8, 1e15, 1e100, 1e300]
    negative = [-0.5, -1.5, -2.3, -10.99996, -7.0001, -0.999, -1e-8, -123.25, -4.7, -1e15 - 0.5]
    pole_offsets = np.array([1e-9, -1e-9, 1e-7, -3e-8])
    poles = (-np.array([0.0, 1.0, 2.0, 5.0, 30.0])[:, None] + pole_offsets).ravel()
    specials = [0.0, -0.0, -1.0, -2.0, -7.0, np.inf, -np.inf, np.nan, 2.5, -2.5, 1.0, 2.0]

    def fixed(values):
        def make(rng, dt):
            with np.errstate(over="ignore"):              # 1e300 in float32: inf
                return (np.asarray(values, dt),), dict(params)
        return make
    return [lambda rng, dt: ((rng.uniform(-5.5, 12, size=(4, 50)).astype(dt),), dict(params)),
            fixed(np.concatenate([near, roots, wide, negative])), fixed(poles),
            fixed(specials), fixed(2.5), fixed(np.zeros((3, 0)))]


def _quantile_family(low, high, edges):
    """Samples of ``erfinv`` (on [-1, 1]), ``ndtri`` (on [0, 1]), ``erf``, ``log_ndtr``: uniform in
    ``[low, high]``, then ``edges`` (the ends, just inside and outside them, the switches
    between series, +-inf, NaN), a 0-d and an empty array."""
    def fixed(values):
        def make(rng, dt):
            with np.errstate(over="ignore"):              # 1e300 in float32: inf
                return (np.asarray(values, dt),), {}
        return make
    return [lambda rng, dt: ((rng.uniform(low, high, size=(4, 50)).astype(dt),), {}),
            fixed(edges), fixed(0.5 * (low + high) + 0.1), fixed(np.zeros((0, 3)))]


def _divisors(rng, dt, shape):
    """Of both signs, between 0.2 and 3 in size (a zero divisor warns in the generic rule)."""
    return (rng.uniform(0.2, 3.0, shape) * rng.choice([-1.0, 1.0], shape)).astype(dt)


_ADAM = dict(lr=1e-2, beta1=0.9, beta2=0.999, eps=1e-8, step=3)
SAMPLES = {
    "matmul": [lambda rng, dt: ((rng.normal(size=(5, 4)).astype(dt),
                                 rng.normal(size=(4, 3)).astype(dt)), {})],
    "linear": [lambda rng, dt: ((rng.normal(size=(5, 4)).astype(dt),
                                 rng.normal(size=(4, 3)).astype(dt),
                                 rng.normal(size=(3,)).astype(dt)), {})],
    **{f"linear_{act}": [lambda rng, dt: ((rng.normal(size=(5, 4)).astype(dt),
                                           rng.normal(size=(4, 3)).astype(dt),
                                           rng.normal(size=(3,)).astype(dt)), {})]
       for act in ("relu", "tanh", "sigmoid")},
    "softmax_cross_entropy": _ce_cases(),
    "sigmoid_cross_entropy_with_logits": _loss_cases("bce"),
    "mse": _loss_cases("mse"),
    "huber": _huber_cases(),
    "smoothed_softmax_cross_entropy": _smoothed_ce_cases(),
    "multi_margin": _multi_margin_cases(False),
    "weighted_multi_margin": _multi_margin_cases(True),
    "multilabel_margin": _multilabel_margin_cases(),
    "nll": _nll_cases(True),
    "nll_all_kept": _nll_cases(False),
    "ctc_loss": _ctc_cases(),
    "sigmoid_mse": _loss_cases("smse"),
    "sigmoid": _activation(),
    "tanh": _activation(),
    "relu": _activation(),
    "softplus": _activation(),
    "leaky_relu": _activation({"negative_slope": 0.1}),
    "sum": [lambda rng, dt: ((_x(rng, dt, (3, 5)),), {"axis": None, "keepdims": False}),
            lambda rng, dt: ((_x(rng, dt, (3, 5)),), {"axis": (1,), "keepdims": False}),
            lambda rng, dt: ((_x(rng, dt, (2, 3, 4)),), {"axis": (0, 2), "keepdims": True}),
            lambda rng, dt: ((_x(rng, dt, (30, 10)),), {"axis": None, "keepdims": False})],
    "mean": [lambda rng, dt: ((_x(rng, dt, (3, 5)),), {"axis": None, "keepdims": False}),
             lambda rng, dt: ((_x(rng, dt, (2, 3, 4)),), {"axis": (0, 2), "keepdims": True}),
             lambda rng, dt: ((_x(rng, dt, (4, 3, 20, 20)),), {"axis": (2, 3),
                                                               "keepdims": False})],
    "silu": _activation(),
    "sign": _activation() + [lambda rng, dt: ((np.array([0.0, -0.0, 1e-45, -5e-324, np.inf,
                                                         -np.inf, np.nan, 3e38], dt),), {})],
    "gelu": _activation({"approximate": "none"}) + _activation({"approximate": "tanh"}),
    "elu": (_activation(dict(alpha=1.0, scale=1.0, input_scale=1.0))
            + _activation(dict(alpha=2.5, scale=1.0, input_scale=0.4))),
    "mish": _activation(),
    "softsign": _activation(),
    "log_sigmoid": _activation(),
    "hardtanh": (_activation(dict(min_val=-1.0, max_val=1.0))
                 + _activation(dict(min_val=0.0, max_val=6.0))),
    "hardsigmoid": _activation(),
    "hardswish": _activation(),
    "softplus_beta": (_activation(dict(beta=2.0, threshold=None))
                      + _activation(dict(beta=0.5, threshold=3.0))),
    "softmax": _activation({"axis": 1}),
    "log_softmax": _activation({"axis": 1}),
    "glu": _glu(),
    "lstm_scan": [_lstm(3, 5, 4), _lstm(2, 3, 37), _lstm(1, 5, 4), _lstm(4, 1, 4)],
    "lstm_layer": [_lstm_layer(3, 5, 2, 4), _lstm_layer(2, 3, 9, 37), _lstm_layer(1, 4, 3, 2),
                   _lstm_layer(3, 1, 2, 4), _lstm_layer(2, 1, 9, 37)],      # one step: LSTMCell
    "rnn_scan": [_rnn("tanh"), _rnn("relu"), _rnn("tanh", 2, 3, 37), _rnn("relu", 2, 3, 37)],
    "gru_scan": [_gru(), _gru(2, 3, 37), _gru(1, 1, 4)],
    "rnn_layer": [_gated_layer(1, "tanh"), _gated_layer(1, "relu", 2, 3, 9, 37),
                  _gated_layer(1, "tanh", 1, 1, 3, 1), _gated_layer(1, "relu", 4, 1, 9, 37),
                  _gated_layer(1, "tanh", 3, 1, 2, 4)],              # one step: RNNCell
    "gru_layer": [_gated_layer(3, None), _gated_layer(3, None, 2, 3, 9, 37),
                  _gated_layer(3, None, 1, 1, 3, 1), _gated_layer(3, None, 4, 1, 9, 37),
                  _gated_layer(3, None, 3, 1, 2, 4)],               # one step: GRUCell
    "lstm_cell": [_lstm_cell(3, 2, 4), _lstm_cell(2, 9, 37), _lstm_cell(1, 3, 2)],
    "rnn_cell": [_gated_cell(1, "tanh"), _gated_cell(1, "relu", 4, 9, 37),
                 _gated_cell(1, "tanh", 1, 3, 1)],
    "gru_cell": [_gated_cell(3, None), _gated_cell(3, None, 4, 9, 37),
                 _gated_cell(3, None, 1, 3, 1)],
    "layer_norm": [_layer_norm((5, 8), 1, (True, True)), _layer_norm((3, 4, 6), 2, (True, False)),
                   _layer_norm((2, 3, 7), 1, (False, True)), _layer_norm((9,), 1, (False, False)),
                   _layer_norm((4, 300), 1, (True, True))],
    "batch_moments": [lambda rng, dt, shape=shape: ((_x(rng, dt, shape),), {})
                      for shape in ((6, 4), (5, 3, 7), (2, 3, 4, 5))],
    "rms_norm": [_rms_norm((5, 8), 1, True), _rms_norm((3, 4, 6), 2, True),
                 _rms_norm((2, 3, 7), 1, False), _rms_norm((4, 300), 1, True)],
    "batch_norm": [_batch_norm((6, 4), (True, True)), _batch_norm((2, 1), (False, False)),
                   _batch_norm((5, 300), (True, False)), _batch_norm((7, 3), (False, True))],
    "group_norm": [_group_norm((3, 6, 5), 2, (True, True)),
                   _group_norm((2, 4, 3, 5), 4, (True, False)),
                   _group_norm((4, 6), 3, (False, True)), _group_norm((2, 3, 7), 1, (False, False)),
                   _group_norm((2, 4, 300), 2, (True, True), offset=100.0),
                   _group_norm((2, 8, 2, 3, 4), 8, (True, True))],
    # a same-shape pair, a broadcast pair, and large gaps (exp(min - max) underflows)
    "logaddexp": [lambda rng, dt: ((_x(rng, dt, (4, 50)), _x(rng, dt, (4, 50))), {}),
                  lambda rng, dt: ((_x(rng, dt, (6, 1)), _x(rng, dt, (7,), big=False)), {}),
                  lambda rng, dt: ((_x(rng, dt, (3, 9)) * 100, _x(rng, dt, (3, 9))), {})],
    # hypot: a same-shape pair with zeros and huge values (NumPy's own there), a broadcast pair
    "hypot": [lambda rng, dt: ((_x(rng, dt, (4, 50)), _x(rng, dt, (4, 50)) * 1e20), {}),
              lambda rng, dt: ((_x(rng, dt, (6, 1)), _x(rng, dt, (7,), big=False)), {})],
    # divisors of both signs away from 0 (a zero divisor warns in the generic rule)
    "remainder": [lambda rng, dt: ((_x(rng, dt, (4, 50)), _divisors(rng, dt, (4, 50))), {}),
                  lambda rng, dt: ((_x(rng, dt, (6, 1)) * 1e3, _divisors(rng, dt, (7,))), {})],
    # erfc, ndtr: the ends where each underflows and where the Numba float32 loops cap |x|
    "special_erfc": _quantile_family(-6.0, 6.0, [
        0.0, -0.0, 1e-30, -0.4999, 0.5, 5.9, 9.9, 10.1, 10.2, 26.5, 27.0, -27.0, 1e300, np.inf,
        -np.inf, np.nan, 0.46875, -0.46875, 4.0, -4.0001, 27.5, 27.6]),
    "special_ndtr": _quantile_family(-8.0, 8.0, [
        0.0, -0.0, -1e-30, -5.0, -13.9, -14.2, -14.3, -37.5, -38.5, 8.3, 1e300, np.inf,
        -np.inf, np.nan, 0.6629, -0.6629, -5.657, 5.657, -39.0, -39.1]),
    "special_log_ndtr": _quantile_family(-30.0, 8.0, [
        0.0, -0.0, -1e-300, 5e-324, -37.5, -40.0, -1e4, -1e300, 8.3, 12.0, 40.0, np.inf,
        -np.inf, np.nan]),
    # erfcx: Cody's switches (0.46875, 4), the overflow left (-26.64), the caps (27, 1e20)
    "special_erfcx": _quantile_family(-5.0, 10.0, [
        0.0, -0.0, 5e-324, 0.46875, -0.46875, 4.0, 4.0001, 26.6, -26.6, -26.7, -27.5, 1e20,
        1e21, 1e300, -1e300, np.inf, -np.inf, np.nan]),
    "special_erf": _quantile_family(-4.0, 4.0, [
        0.0, -0.0, 1e-300, -5e-324, 0.4999, 0.5, 0.5001, 5.9, -6.0, 27.0, 1e300, np.inf, -np.inf,
        np.nan, 0.46875, -0.46876, 4.0, -4.0001, 27.5, 27.6]),
    "special_erfinv": _quantile_family(-0.99, 0.99, [
        -1.0, 1.0, 0.0, -0.0, 1 - 1e-7, -1 + 1e-12, 1 - 2 ** -53, 1e-300, -1.5, 2.0, np.inf,
        np.nan, 0.3, 0.5, 0.75, 0.4926, 1 - 2 ** -24, -1 + 2 ** -25]),
    "special_ndtri": _quantile_family(0.001, 0.999, [
        0.0, 1.0, 0.5, 1e-300, 5e-324, 1e-20, 1 - 1e-10, 1 - 2 ** -53, 0.25, 0.75, -0.1, 1.5,
        np.nan, np.inf, 2 ** -25, 0.99 * 2 ** -25, 1 - 2 ** -24]),
    "special_exp2": _quantile_family(-20.0, 20.0, [
        0.0, -0.0, 127.5, 128.0, -149.0, -160.0, 1023.5, 1024.0, -1074.0, np.inf, -np.inf,
        np.nan]),
    "special_logit": _quantile_family(0.001, 0.999, [
        0.0, -0.0, 1.0, 0.5, 0.3, 0.7, 0.2999999, 0.7000001, 1e-300, 5e-324, 1 - 2 ** -53,
        0.5 + 2 ** -30, -0.1, 1.5, np.inf, -np.inf, np.nan]),
    "special_gammaln": _gamma_family(),
    "special_gamma": _quantile_family(-4.5, 6.0, [
        0.5, 1.0, 2.0, 3.0, 10.0, 1e-300, -0.5, -2.5, 171.0, 172.0, np.inf, np.nan]),
    **{f"special_{name}": _quantile_family(-8.0, 8.0, [
        0.0, -0.0, 1e-300, 0.5, 30.0, -30.0, 700.0, np.inf, -np.inf, np.nan])
       for name in ("i0", "i0e", "i1", "i1e")},
    **{f"special_{name}": _quantile_family(0.01, 30.0, [
        0.0, -0.0, -1.0, 1e-300, 5e-324, 1.0, 2.0, 25.0, 25.1, 700.0, 800.0, np.inf, -np.inf,
        np.nan]) for name in ("k0", "k1", "k0e", "k1e")},
    **{f"special_{name}": _quantile_family(-45.0, 45.0, [
        0.0, -0.0, -1.0, 1e-300, 5e-324, 2.0, 2.0000001, 2.125, 24.875, 25.0, 25.0000001, 1e6,
        1e300, np.inf, -np.inf, np.nan]) for name in ("j0", "j1", "y0", "y1")},
    **{f"special_{name}": [lambda rng, dt, name=name: (
        tuple(rng.uniform(low, high, size=(4, 50)).astype(dt)
              for low, high in ((0.5, 6.0), (0.5, 6.0), (0.0, 1.0))),
        {"names": (name, "a", "b", "x")})]
       for name in ("betainc", "betaincc")},
    "special_stdtr": [lambda rng, dt: ((rng.uniform(1.0, 30.0, size=(4, 50)).astype(dt),
                                        rng.uniform(-6.0, 6.0, size=(4, 50)).astype(dt)),
                                       {"names": ("stdtr", "df", "t")})],
    "special_exp1": _quantile_family(0.01, 10.0, [
        0.0, -0.0, 1e-300, 2.0, 2.0000001, 700.0, 800.0, -1.0, np.inf, -np.inf, np.nan]),
    # dawsn: SciPy's, its Taylor series below 0.2, the formula's switch at 6.5
    "special_dawsn": _quantile_family(-8.0, 8.0, [
        0.0, -0.0, 5e-324, 1e-300, 0.1999, 0.2, -0.2001, 6.5, 6.5001, 30.0, 1e10, 1e300,
        np.inf, -np.inf, np.nan]),
    **{f"special_{name}": _quantile_family(-25.0, 25.0, [
        0.0, -0.0, 5e-324, 1e-300, 3.0, -3.0001, 40.0, 1e5, 1e300, -1e300, np.inf, -np.inf,
        np.nan]) for name in ("si", "ci")},
    # fresnel: SciPy's to |x| = 4, the formula beyond (its switch at 1.5, 1/2 past 1e150)
    **{f"special_{name}": _quantile_family(-10.0, 10.0, [
        0.0, -0.0, 5e-324, 1e-300, 1.5, -1.5001, 4.0, -4.0, 4.0001, 12345.678, 1e7, 1e200,
        -1e300, np.inf, -np.inf, np.nan]) for name in ("fresnel_s", "fresnel_c")},
    # hyp1f1 where the generic formula is accurate (positive terms; x below 80, where float32
    # holds the slope: the kernel's float64 g a / b 1F1(...) rounded once stays finite where the
    # rule's float32 1F1(...) is already inf), broadcast, the edges
    "special_hyp1f1": [
        lambda rng, dt: ((rng.uniform(0.0, 6.0, size=(4, 50)).astype(dt),
                          rng.uniform(6.0, 12.0, size=(4, 50)).astype(dt),
                          rng.uniform(-120.0, 80.0, size=(4, 50)).astype(dt)), {}),
        lambda rng, dt: ((np.asarray([[0.5], [2.0]], dt), np.asarray(1.5, dt),
                          rng.uniform(-5.0, 5.0, size=(7,)).astype(dt)), {}),
        lambda rng, dt: ((np.asarray([1.0, np.nan, 1.0, 1.0, 2.0, 1.0, 2.0, -3.0], dt),
                          np.asarray([2.0, 1.0, np.nan, 1.0, 3.0, 2.0, 3.0, 2.0], dt),
                          np.asarray([np.nan, 1.0, 1.0, -np.inf, 0.0, 710.0, -800.0, 7.5],
                                     dt)), {}),
        lambda rng, dt: ((np.zeros((0, 3), dt), np.ones((0, 3), dt), np.zeros((0, 3), dt)),
                         {})],
    "special_zeta": [lambda rng, dt: ((rng.uniform(1.1, 12.0, size=(4, 50)).astype(dt),
                                       rng.uniform(0.01, 30.0, size=(4, 50)).astype(dt)), {}),
                     lambda rng, dt: ((np.asarray([1.0, 2.0, 2.5, 0.5, np.inf, 2.0], dt),
                                       np.asarray([2.0, 0.0, np.inf, 1.0, 2.0, np.nan], dt)),
                                      {})],
    "special_betaincinv": [lambda rng, dt: (
        tuple(rng.uniform(low, high, size=(4, 50)).astype(dt)
              for low, high in ((0.5, 6.0), (0.5, 6.0), (0.01, 0.99))),
        {"names": ("betaincinv", "a", "b", "y")})],
    "special_gammaincinv": [lambda rng, dt: ((rng.uniform(0.5, 20.0, size=(4, 50)).astype(dt),
                                              rng.uniform(0.01, 0.99, size=(4, 50)).astype(dt)),
                                             {})],
    "special_gamma_shift": [
        # s within 1e-3 of x (the series), some s = 0 (betaln's and poch's unused entries)
        lambda rng, dt: ((rng.uniform(0.5, 30.0, size=(4, 50)).astype(dt),
                          (rng.uniform(-1e-3, 1e-3, size=(4, 50))
                           * rng.integers(0, 2, size=(4, 50)) * 10.0).astype(dt)), {"n": 0}),
        # next to poles, tiny x, the poles, inf, NaN and an s too large (NaN); orders 1 and 3
        *[lambda rng, dt, n=n: ((np.asarray([-2.5, -3 + 1e-6, 1e-35, -1e-32, -3.0, np.inf,
                                             np.nan, 2.0, 2.0, 0.5], dt),
                                 np.asarray([1e-4, 1e-10, 1e-37, 2e-36, 0.0, 0.0, 0.0, 1.0,
                                             0.0, -4e-4], dt)), {"n": n}) for n in (1, 3)]],
    "special_digamma": _gamma_family(),
    "special_polygamma": _gamma_family(n=1) + _gamma_family(n=2) + _gamma_family(n=5),
    "sgd_update": [
        _update(0, dict(lr=0.1, momentum=0.0, nesterov=False, weight_decay=0.0), optional=1),
        _update(0, dict(lr=0.1, momentum=0.0, nesterov=False, weight_decay=0.01), optional=1),
        _update(1, dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01))],
    "adagrad_update": [_update(1, dict(lr=0.1, eps=1e-10))],
    "adadelta_update": [_update(2, dict(lr=1.0, rho=0.9, eps=1e-6))],
    "rmsprop_update": [_update(1, dict(lr=0.01, rho=0.99, momentum=0.0, eps=1e-8), optional=1),
                       _update(2, dict(lr=0.01, rho=0.99, momentum=0.9, eps=1e-8))],
    "adam_update": [_update(2, dict(_ADAM, weight_decay=0.0, decoupled=False)),
                    _update(2, dict(_ADAM, weight_decay=0.1, decoupled=False)),
                    _update(2, dict(_ADAM, weight_decay=0.1, decoupled=True))],
    "amsgrad_update": [_update(3, dict(_ADAM, weight_decay=0.0, decoupled=False)),
                       _update(3, dict(_ADAM, weight_decay=0.1, decoupled=False)),
                       _update(3, dict(_ADAM, weight_decay=0.1, decoupled=True))],
    "rmsprop_centered_update": [
        _centered(dict(lr=0.01, rho=0.99, momentum=0.0, eps=1e-8), optional=1),
        _centered(dict(lr=0.01, rho=0.9, momentum=0.9, eps=1e-8))],
    "adamax_update": [_update(2, dict(_ADAM, weight_decay=0.0)),
                      _update(2, dict(_ADAM, weight_decay=0.1))],
    "nadam_update": [_update(2, dict(_ADAM, momentum_decay=4e-3, mu_product=0.6, weight_decay=w,
                                     decoupled=d)) for w, d in ((0.0, False), (0.1, False),
                                                                (0.1, True))],
    # step 3: plain momentum; step 12 (beta_2 0.99): rectified
    "radam_update": [_update(2, dict(_ADAM, weight_decay=0.1, decoupled=False)),
                     _update(2, dict(_ADAM, beta2=0.99, step=12, weight_decay=0.0,
                                     decoupled=False)),
                     _update(2, dict(_ADAM, beta2=0.99, step=12, weight_decay=0.1,
                                     decoupled=True))],
    "lion_update": [_update(1, dict(lr=1e-2, beta1=0.9, beta2=0.99, weight_decay=w))
                    for w in (0.0, 0.5)],
    "conv": [_conv((2, 3, 7, 6), (4, 3, 3, 2), (2, 1), (1, 2), ((1, 1), (2, 2))),
             _conv((2, 4, 6, 6), (4, 1, 3, 3), (1, 1), (1, 1), ((1, 1), (1, 1)), groups=4),
             _conv((2, 4, 9), (6, 2, 3), (2,), (1,), ((2, 2),), groups=2),
             # one group, 8 or more input channels: the GEMM kernel (numpy's; numba's
             # gradients, and its forward but at stride 1 with 16 channels)
             _conv((1, 8, 11), (4, 8, 4), (3,), (2,), ((1, 1),)),
             _conv((2, 9, 6, 7), (3, 9, 2, 3), (1, 1), (2, 1), ((2, 2), (1, 1))),
             _conv((2, 16, 5, 6), (3, 16, 3, 3), (1, 1), (1, 1), ((1, 1), (1, 1)))],
    "conv_transpose": [
        _conv_transpose((2, 3, 4, 5), (3, 2, 3, 2), (2, 3), (1, 2), (1, 0), (1, 2)),
        _conv_transpose((2, 4, 5, 4), (4, 1, 3, 3), (1, 1), (1, 1), (1, 1), (0, 0), groups=4,
                        bias=True),
        _conv_transpose((2, 4, 5, 4), (4, 1, 4, 4), (2, 2), (1, 1), (1, 1), (0, 0), groups=2),
        _conv_transpose((2, 4, 9), (4, 3, 3), (2,), (2,), (2,), (1,), groups=2, bias=True)],
    "max_pool": [_max_pool((2, 3, 7, 6), (2, 2), (2, 2), (1, 1), ((0, 1), (0, 0))),
                 _max_pool((2, 2, 9), (3,), (2,), (2,), ((1, 1),)),
                 _max_pool((2, 3, 5, 6), (5, 6), (5, 6), (1, 1), ((0, 0), (0, 0))),
                 _max_pool((2, 3, 7, 9), (3, 2), (2, 1), (1, 2), ((1, 1), (1, 0)))],
    "max_pool_positions": [_max_pool_positions((2, 3, 7, 6), (2, 2), (2, 2), (1, 1),
                                               ((0, 1), (0, 0))),
                           _max_pool_positions((2, 2, 9), (3,), (2,), (2,), ((1, 1),))],
    "adaptive_max_pool": [_adaptive_max_pool((2, 3, 7, 6), (3, 4)),
                          _adaptive_max_pool((2, 2, 9), (5,)),
                          # an empty output grid (no windows) and an empty batch
                          _adaptive_max_pool((2, 3, 7, 6), (0, 4)),
                          _adaptive_max_pool((2, 2, 9), (0,)),
                          _adaptive_max_pool((0, 3, 7, 6), (3, 4))],
    **{kind: [_segments(kind, (40, 3, 2), 9), _segments(kind, (7,), 12)]
       for kind in ("segment_max", "segment_min", "segment_prod")},
    **{kind: [_extremum((6, 9), (1,), False), _extremum((2, 3, 7), (2,), True),
              _extremum((5, 8), (1,), False, "ties"), _extremum((4, 6), (1,), True, "nan"),
              _extremum((9,), (0,), False), _extremum((5, 8), (0,), False),
              _extremum((3, 4, 5), None, False)]
       for kind in ("max", "min")},
    "linalg_vector_norm": [_vector_norm((6, 9), (1,), False),
                           _vector_norm((2, 3, 700), (1, 2), True),
                           _vector_norm((5, 8), None, False), _vector_norm((4, 3, 5), None, True),
                           _vector_norm((5, 8), (0,), False), _vector_norm((5, 8), (1,), False, 1)],
    # rows long enough to be halved (odd lengths: a leftover column at some level), values
    # near 1 (the products stay in range); a zero, inf and NaN; short rows and other axes
    # NumPy's prod
    "prod": [lambda rng, dt: ((rng.uniform(0.8, 1.25, (4, 37)).astype(dt),),
                              {"axis": (1,), "keepdims": False}),
             lambda rng, dt: ((rng.uniform(-1.2, 1.2, (2, 3, 64)).astype(dt),),
                              {"axis": (2,), "keepdims": True}),
             lambda rng, dt: ((np.where(np.arange(4 * 45).reshape(4, 45) % 41 == 3,
                                        [[0.0], [np.inf], [np.nan], [1.0]],
                                        rng.uniform(0.8, 1.25, (4, 45))).astype(dt),),
                              {"axis": (1,), "keepdims": False}),
             lambda rng, dt: ((rng.uniform(0.8, 1.25, (4, 9)).astype(dt),),
                              {"axis": (1,), "keepdims": False}),
             lambda rng, dt: ((rng.uniform(0.8, 1.25, (40, 5)).astype(dt),),
                              {"axis": (0,), "keepdims": False})],
    "embedding_scatter": [_sorted_scatter(40, 3, 9), _sorted_scatter(7, 5, 12),
                          _sorted_scatter(30, 4, 6, "unsorted"),
                          _sorted_scatter(30, 4, 6, "padding")],
    # running sums by blocks: at least 4096 entries and two blocks of 16 along the axis
    "cumulative_sum": [lambda rng, dt: ((_x(rng, dt, (64, 80), big=False),),
                                        {"axis": 1, "include_initial": False}),
                       lambda rng, dt: ((_x(rng, dt, (90, 3, 20), big=False),),
                                        {"axis": 0, "include_initial": False})],
    # running products by blocks (>= 4096 entries, two blocks of 16 along the last axis):
    # the safe range, a zero (the gradient's general rule), a value past 2^100 (NumPy's)
    "cumulative_prod": [
        lambda rng, dt: ((rng.uniform(0.7, 1.4, (64, 80)).astype(dt),),
                         {"axis": 1, "include_initial": False}),
        lambda rng, dt: ((np.where(np.arange(5 * 4 * 300).reshape(5, 4, 300) % 97 == 5, 0.0,
                                   rng.uniform(-1.3, 1.3, (5, 4, 300))).astype(dt),),
                         {"axis": 2, "include_initial": False}),
        lambda rng, dt: ((np.where(np.arange(103) == 100, 2.0 ** 101,
                                   rng.uniform(0.9, 1.1, (40, 103))).astype(dt),),
                         {"axis": 1, "include_initial": False})],
    # triangular solves: the other triangle filled (it must not be read), a transposed A
    "linalg_solve_triangular": [_solve_triangular(upper, left, unit, fortran)
                                for upper, left, unit, fortran in
                                ((False, True, False, False), (True, False, False, True),
                                 (True, True, True, False), (False, False, True, True))],
    # repeated indices (their gradients add up), along the last axis and the first
    "take_along_axis": [
        lambda rng, dt: ((_x(rng, dt, (5, 9)),), {"indices": rng.integers(0, 9, (5, 12)),
                                                  "axis": 1, "backend": _NUMPY}),
        lambda rng, dt: ((_x(rng, dt, (3, 4, 5)),), {"indices": rng.integers(0, 3, (7, 4, 5)),
                                                     "axis": 0, "backend": _NUMPY})],
    # small integers as floats: ties, whose gradients follow the stable order
    "sort": [lambda rng, dt: ((rng.integers(-2, 3, size=(5, 8)).astype(dt),),
                              {"axis": 1, "descending": False}),
             lambda rng, dt: ((rng.integers(-2, 3, size=(6, 4)).astype(dt),),
                              {"axis": 0, "descending": True})],
}
# float32 tolerance where a kernel legitimately rounds differently over many steps
#: (backend, primitive, sample) a kernel declines by design, so the generic rule runs: the
#: NumPy backend's conv kernel is for one group with 8 or more input channels (channels first)
#: or depthwise convolutions, its embedding_scatter (Numba's too, inherited) for non-decreasing
#: ids without padding, its max and min for the last axis, its vector norm for the 2-norm over
#: trailing axes, its prod for rows of 32 or more
DECLINED = {("numpy", "conv", 0), ("numpy", "conv", 2),
            *((name, "embedding_scatter", case) for name in ("numpy", "numba")
              for case in (2, 3)),
            *((name, kind, case) for name in ("numpy", "numba") for kind in ("max", "min")
              for case in (5, 6)),
            *((name, "linalg_vector_norm", case) for name in ("numpy", "numba")
              for case in (4, 5)),
            *((name, "prod", case) for name in ("numpy", "numba") for case in (3, 4))}

#: primitives with inputs that have no gradient (hyp1f1's a and b: its rule refuses them, as
#: JAX's): the positions that do
DIFFERENTIABLE_ONLY = {"special_hyp1f1": (2,)}

RTOL32 = {"lstm_scan": 2e-4, "lstm_layer": 2e-4, "rnn_scan": 2e-4, "gru_scan": 2e-4,
          "rnn_layer": 2e-4, "gru_layer": 2e-4, "rnn_cell": 2e-4, "gru_cell": 2e-4,
          "lstm_cell": 2e-4}


# -- the backends whose kernels are checked ------------------------------------------------------
def _emulated():
    from cuda_emu import EmuLauncher, build, build_dir, compiler, emulated_backend

    if compiler() is None:
        pytest.skip("no host C++ compiler for the CUDA emulator")
    return emulated_backend(EmuLauncher(build(build_dir()), sm_count=1))


_BACKENDS = {}


def backend(name):
    if name not in _BACKENDS:
        try:
            _BACKENDS[name] = _emulated() if name == "cuda_emulated" else xg.get_backend(name)
        except BackendUnavailableError as e:
            _BACKENDS[name] = e
    be = _BACKENDS[name]
    if isinstance(be, Exception):
        pytest.skip(str(be))
    return be


BACKENDS = ["numpy", "numba", "cuda_emulated",
            pytest.param("cupy", marks=pytest.mark.gpu)]


def _cases():
    for name, makers in SAMPLES.items():
        for i in range(len(makers)):
            yield name, i


def _close(actual, expected, dt, what, name):
    actual = np.asarray(actual, np.float64)
    expected = np.asarray(expected, np.float64)
    rtol = RTOL32.get(name, 2e-5) if dt == np.float32 else 1e-12
    finite = np.abs(expected[np.isfinite(expected)])      # (an infeasible CTC loss is inf)
    scale = max(1.0, float(finite.max())) if finite.size else 1.0
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=rtol * scale, equal_nan=True,
                               err_msg=f"{name}: {what}")


# -- the tests ---------------------------------------------------------------------------------
@pytest.mark.parametrize("name", BACKENDS)
def test_every_kernel_names_a_primitive_and_has_samples(name):
    be = backend(name)
    assert be.kernels, f"backend {name} registers no kernels"
    for key, kernel in be.kernels.items():
        assert key in PRIMITIVES, f"{name}: kernel {key!r} names no primitive"
        assert isinstance(kernel, Kernel), f"{name}: {key!r} is not a Kernel"
        assert key in SAMPLES, f"{name}: kernel {key!r} has no SAMPLES row in this test"
        assert (kernel.vjp is None) == (not PRIMITIVES[key].differentiable), key


def test_a_kernel_for_no_primitive_is_refused():
    be = type(xg.get_backend("numpy"))()
    with pytest.raises(KeyError, match="'tahn', which names no primitive; did you mean 'tan"):
        be.register_kernel("tahn", Kernel(lambda x: None))
    with pytest.raises(TypeError, match="must be an xpgrad.Kernel"):
        be.register_kernel("tanh", lambda x: None)


def _device(be, a):
    return None if a is None else be.from_numpy(a)


def _host(be, a):
    return a if a is None or a is NotImplemented else np.asarray(be.to_numpy(a))


def _vjp(kernel, g, saved, needs, raws, params):
    if kernel.needs:
        return kernel.vjp(g, saved, needs, *raws, **params)
    return kernel.vjp(g, saved, *raws, **params)


@pytest.mark.parametrize("dt", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("prim_name,case", list(_cases()))
@pytest.mark.parametrize("name", BACKENDS)
def test_kernel_matches_generic_rule(name, prim_name, case, dt, monkeypatch):
    be = backend(name)
    kernel = be.kernels.get(prim_name)
    if kernel is None:
        pytest.skip(f"backend {name} has no kernel for {prim_name}")
    prim = PRIMITIVES[prim_name]
    rng = np.random.default_rng(case)
    arrays, params = SAMPLES[prim_name][case](rng, dt)

    if not prim.differentiable and not prim_name.endswith("_update"):   # a value, no rule
        out, _ = kernel.forward(*[_device(be, a) for a in arrays], **params)
        _close(_host(be, out), prim.forward(npx, *arrays, **params), dt, "forward", prim_name)
        return
    if not prim.differentiable:               # an in-place update: compare the arrays after
        if name == "numpy":     # the generic rule by blocks (blocks of 2 floats here: arrays
            from xpgrad.backends.numpy import blocks      # of one block are left to the rule)
            monkeypatch.setattr(blocks, "BLOCK_BYTES", 2 * np.dtype(dt).itemsize)
        mine = [_device(be, None if a is None else a.copy()) for a in arrays]
        ref = [None if a is None else a.copy() for a in arrays]
        assert kernel.forward(*mine, **params) is not None, "the kernel declined"
        prim.forward(npx, *ref, **params)
        for i, (a, b) in enumerate(zip(mine, ref)):
            if b is not None and i != 1:      # param and states (grad is only read)
                if name == "numpy":           # the rule's own operations: its bits
                    np.testing.assert_array_equal(a, b, f"{prim_name}: array {i}")
                else:
                    _close(_host(be, a), b, dt, f"array {i} after the update", prim_name)
        return

    raws = [_device(be, a) for a in arrays]
    res = kernel.forward(*raws, **params)
    if (name, prim_name, case) in DECLINED:
        assert res is None, "the kernel took a sample it should decline"
        return
    assert res is not None, "the kernel declined its own sample"
    out, saved = res
    ref_out = prim.forward(npx, *arrays, **params)
    _close(_host(be, out), ref_out, dt, "forward", prim_name)

    needs = [isinstance(a, np.ndarray) and a.dtype.kind == "f" for a in arrays]
    if prim_name in DIFFERENTIABLE_ONLY:
        needs = [need and i in DIFFERENTIABLE_ONLY[prim_name] for i, need in enumerate(needs)]
    for g_kind in ("ones", "random"):
        g = (np.ones if g_kind == "ones" else
             lambda s, dtype: rng.normal(size=s).astype(dtype))(np.shape(ref_out), dtype=dt)
        if g_kind == "ones":
            g = np.asarray(g)
        if g_kind == "random" and prim_name in ("softmax_cross_entropy", "mse", "sigmoid_mse",
                                               "sigmoid_cross_entropy_with_logits", "huber",
                                               "smoothed_softmax_cross_entropy",
                                               "multi_margin", "weighted_multi_margin"):
            res = kernel.forward(*raws, **params)      # a fresh record for a second vjp
            out, saved = res
        got = _vjp(kernel, _device(be, g), saved, needs, raws, params)
        assert len(got) == len(arrays)
        want = [w.dense(npx) if isinstance(w, Scatter) else w       # (a sparse gradient)
                for w in prim.vjp(npx, g, ref_out, needs, arrays, params)]
        for i, (gi, wi) in enumerate(zip(got, want)):
            if gi is NotImplemented or not needs[i]:
                continue                       # the generic rule computes it on the tape
            if wi is None:                     # no gradient (batch_norm's statistics)
                assert gi is None, f"{prim_name}: input {i} has no gradient, got one"
                continue
            assert gi is not None, f"{prim_name}: the kernel gave no gradient for input {i}"
            _close(_host(be, gi), wi, dt, f"vjp of input {i} (g {g_kind})", prim_name)


@pytest.mark.parametrize("name", BACKENDS)
def test_a_kernel_told_its_needs_gives_only_those(name):
    """A ``needs=True`` kernel returns None for the inputs that want no gradient (it skips
    their work) and the generic rule's gradient for the others."""
    be = backend(name)
    for prim_name, kernel in be.kernels.items():
        if not kernel.needs:
            continue
        rng = np.random.default_rng(5)
        case = next(i for i in range(len(SAMPLES[prim_name]))
                    if (name, prim_name, i) not in DECLINED)      # a sample it takes
        arrays, params = SAMPLES[prim_name][case](rng, np.float64)
        out, saved = kernel.forward(*[_device(be, a) for a in arrays], **params)
        g = rng.normal(size=np.shape(_host(be, out)))
        needs = [i % 2 == 1 for i in range(len(arrays))]
        got = kernel.vjp(_device(be, g), saved, needs, *[_device(be, a) for a in arrays],
                         **params)
        want = PRIMITIVES[prim_name].vjp(npx, g, _host(be, out), needs, arrays, params)
        for i, (gi, wi) in enumerate(zip(got, want)):
            if needs[i] and wi is None:         # no gradient (batch_norm's statistics)
                assert gi is None, f"{name} {prim_name}: input {i} has no gradient, got one"
            elif needs[i]:
                _close(_host(be, gi), wi, np.float64, f"vjp of input {i}", prim_name)
            else:
                assert gi is None, f"{name} {prim_name}: input {i} wants no gradient"
