"""Fused kernels against their generic rule over the whole input range (|x| up to 1e4, +-inf,
NaN), forward and gradient, float32 and float64, for every fused loss and activation of the
NumPy and Numba backends (the Numba ones one-threaded and threaded) and of the CUDA sources
(run on the CPU by tests/cuda_emu; on a device, the CuPy backend runs the same sources).

Both the kernel and the generic rule (run in the same dtype) are measured against the generic
rule run in extended precision (``np.longdouble``) on the same inputs; the kernel passes when its
largest error, relative to ``max(|reference|, 1)``, is within 4 times the generic rule's or a few
ulps of its dtype, and NaN appears in the same places. That is "agrees to float32 rounding"
without pretending the generic rule itself is exact: both lose the same digits to cancellation.

Found this way: the Numba softmax cross-entropy lost about 1e-4 relative in float32 on rows of
logits near 1e4 (a ``reassoc`` rewrite of ``log(s) - (x - m)``), and the NumPy ``mse`` summed
its squares with one float32 dot (1.6e-5 relative over 80,000 entries).
"""
from __future__ import annotations

import functools
import zlib

import array_api_compat.numpy as npx
import numpy as np
import pytest

import xpgrad as xg
from xpgrad.primitive import PRIMITIVES

LOSSES = ("softmax_cross_entropy", "mse", "sigmoid_mse", "sigmoid_cross_entropy_with_logits",
          "huber", "smoothed_softmax_cross_entropy")
ACTIVATIONS = ("sigmoid", "tanh", "relu", "leaky_relu", "softplus", "elu", "mish", "softsign",
               "log_sigmoid", "hardtanh", "hardsigmoid", "hardswish", "softplus_beta")
#: swept on the NumPy backend only (its kernels of backends/numpy/activations.py, gelu.py,
#: softmax.py)
NUMPY_ACTIVATIONS = ("silu", "gelu", "softmax", "log_softmax")
#: the params each activation is swept with (none: called without)
ACTIVATION_PARAMS = {
    "leaky_relu": [{"negative_slope": 0.1}],
    "elu": [dict(alpha=1.0, scale=1.0, input_scale=1.0),                     # elu
            dict(alpha=1.6732632423543772, scale=1.0507009873554805, input_scale=1.0),  # selu
            dict(alpha=2.5, scale=1.0, input_scale=0.4)],                    # celu(alpha=2.5)
    "hardtanh": [dict(min_val=-1.0, max_val=1.0), dict(min_val=0.0, max_val=6.0)],
    "gelu": [dict(approximate="none"), dict(approximate="tanh")],
    "softmax": [dict(axis=1)],
    "log_softmax": [dict(axis=1)],
    "softplus_beta": [dict(beta=2.0, threshold=None), dict(beta=0.5, threshold=3.0),
                      dict(beta=-1.5, threshold=20.0)],
}
SCALES = (1.0, 30.0, 1e3, 1e4)
DTYPES = (np.float32, np.float64)
ULPS = 8


def _backend(name):
    if name == "cuda_emulated":
        return _emulated()
    try:
        return xg.get_backend(name)
    except xg.BackendUnavailableError as e:
        pytest.skip(str(e))


_EMULATED = []


def _emulated():
    """The CuPy backend's CUDA kernels built for the CPU (tests/cuda_emu), once per session."""
    if not _EMULATED:
        from cuda_emu import EmuLauncher, build, build_dir, compiler, emulated_backend

        if compiler() is None:
            pytest.skip("no host C++ compiler for the CUDA emulator")
        _EMULATED.append(emulated_backend(EmuLauncher(build(build_dir()), sm_count=1)))
    return _EMULATED[0]


def _cases(name, dt, scale, cols, rng):
    """(arrays, params) samples of primitive ``name``: random entries of magnitude ``scale``
    plus the edges (+-1e4, +-88, +-inf, NaN; rows of huge logits for the softmax loss)."""
    if name in ("softmax_cross_entropy", "smoothed_softmax_cross_entropy"):
        x = rng.uniform(-1, 1, (16, cols)) * scale
        x[0] += 1e4                     # a whole row near 1e4: every shifted logit is small
        x[1, 0] = 1e4                   # one huge logit
        x[2, :] = -1e4
        x[2, 1] = 1e4                   # one huge logit among huge negative ones
        x[3, 0] = -1e4
        x = x.astype(dt)
        if name == "smoothed_softmax_cross_entropy":
            labels = rng.integers(0, cols, 16)
            labels[5] = -100                            # an ignored row
            return [((x, labels), dict(reduction=r, smoothing=eps, ignore_index=-100))
                    for r, eps in (("none", 0.1), ("mean", 0.3), ("sum", 1.0))]
        probs = rng.dirichlet(np.ones(cols), 16).astype(dt)
        return [((x, rng.integers(0, cols, 16)), {"reduction": "none"}),
                ((x, rng.integers(0, cols, 16)), {"reduction": "mean"}),
                ((x, probs), {"reduction": "none"}), ((x, probs), {"reduction": "sum"})]
    x = rng.uniform(-1, 1, (16, cols)) * scale
    x.flat[:7] = [1e4, -1e4, 88.0, -88.0, np.inf, -np.inf, np.nan]
    x = x.astype(dt)
    if name in LOSSES:
        t = rng.normal(size=x.shape) * scale if name in ("mse", "huber") else rng.random(x.shape)
        t = t.astype(dt)
        if name == "huber":                 # huber's delta; smooth_l1's beta (scale 1 / beta)
            return [((x, t), dict(reduction=r, delta=d, scale=k))
                    for r, d, k in (("none", 1.0, 1.0), ("sum", 0.5, 2.0), ("mean", 3.0, 1.0))]
        return [((x, t), {"reduction": r}) for r in ("none", "sum", "mean")]
    return [((x,), params) for params in ACTIVATION_PARAMS.get(name, [{}])]


def _wide(a):
    return a.astype(np.longdouble) if isinstance(a, np.ndarray) and a.dtype.kind == "f" else a


def _error(actual, reference):
    """Largest error relative to max(|reference|, 1) and whether NaN patterns differ."""
    a = np.asarray(actual, np.longdouble)
    r = np.asarray(reference, np.longdouble)
    nan_a, nan_r = np.isnan(a), np.isnan(r)
    same = ~(nan_a | nan_r) & ~(np.isinf(a) & (a == r))
    with np.errstate(invalid="ignore"):
        e = np.abs(a - r)[same] / np.maximum(np.abs(r[same]), 1)
    return (float(e.max()) if e.size else 0.0), bool((nan_a != nan_r).any())


def _check(what, kernel_value, reference, generic_error, dt):
    ek, nan_k = _error(kernel_value, reference)
    eg, nan_g = generic_error
    tol = max(4 * eg, ULPS * float(np.finfo(dt).eps))
    assert nan_k == nan_g, f"{what}: NaN where the generic rule has none (or the reverse)"
    assert ek <= tol, f"{what}: error {ek:.3g}, generic rule {eg:.3g} (allowed {tol:.3g})"


@functools.cache
def _references(name, dt, widths):
    """``[(label, arrays, params, g, forward, gradient)]`` for the sweep of primitive ``name``:
    each case's inputs, the output gradient ``g``, and for the forward and the gradient the
    generic rule's value in extended precision with the error (and NaN mismatch) of the same
    rule run in ``dt``. The same for every backend swept on these widths, so computed once per
    process (the extended-precision rule is most of a sweep's time)."""
    prim = PRIMITIVES[name]
    rng = np.random.default_rng(zlib.crc32(f"{name} {np.dtype(dt).name}".encode()))
    out = []
    for scale in SCALES:
        for cols in widths:
            for arrays, params in _cases(name, dt, scale, cols, rng):
                with np.errstate(all="ignore"):
                    ref = prim.forward(npx, *map(_wide, arrays), **params)
                    gen = prim.forward(npx, *arrays, **params)
                    g = np.ones(np.shape(ref), dt)
                    needs = [True] + [False] * (len(arrays) - 1)
                    ref_g = prim.vjp(npx, _wide(g), ref, needs, list(map(_wide, arrays)),
                                     params)[0]
                    gen_g = prim.vjp(npx, g, gen, needs, list(arrays), params)[0]
                    out.append((f"scale={scale:g} cols={cols} {params}", arrays, params, g,
                                (ref, _error(gen, ref)), (ref_g, _error(gen_g, ref_g))))
    return out


def _sweep(be, name, dt, widths=(3, 64, 2000)):
    kernel = be.kernels.get(name)
    if kernel is None:
        pytest.skip(f"backend {be.name} has no kernel for {name}")
    checked = 0
    for label, arrays, params, g, (ref, generic), (ref_g, generic_g) in _references(name, dt,
                                                                                      widths):
        what = f"{be.name} {name} {np.dtype(dt).name} {label}"
        with np.errstate(all="ignore"):     # the kernel gets copies: the cases are shared
            res = kernel.forward(*[a.copy() for a in arrays], **params)
            assert res is not None, f"{what}: the kernel declined"
            out, saved = res
            _check(f"{what} forward", out, ref, generic, dt)
            got = kernel.vjp(g.copy(), saved, *[a.copy() for a in arrays], **params)[0]
            _check(f"{what} gradient", got, ref_g, generic_g, dt)
        checked += 1
    assert checked


@pytest.mark.parametrize("dt", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("name", LOSSES + ACTIVATIONS)
@pytest.mark.parametrize("backend", ["numpy", "numba", "cuda_emulated"])
def test_fused_kernel_matches_generic_rule_over_the_whole_range(backend, name, dt):
    # the emulator runs each CUDA thread on the CPU: narrower rows keep it quick
    _sweep(_backend(backend), name, dt,
           (3, 64, 257) if backend == "cuda_emulated" else (3, 64, 2000))


@pytest.mark.parametrize("dt", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("name", NUMPY_ACTIVATIONS)
def test_numpy_kernel_matches_generic_rule_over_the_whole_range(name, dt):
    _sweep(_backend("numpy"), name, dt)


@pytest.mark.parametrize("dt", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("name", LOSSES + ACTIVATIONS)
def test_threaded_numba_kernels_match_too(name, dt, monkeypatch):
    """The same sweep with the size thresholds lowered, so the threaded kernels run."""
    be = _backend("numba")
    from xpgrad.backends.numba import _config

    monkeypatch.setattr(_config, "PAR_MIN", 64)
    monkeypatch.setattr(_config, "ROW_PAR_MIN", 64)
    monkeypatch.setattr(_config, "BLOCK", 256)
    _sweep(be, name, dt)


def test_the_large_logit_case_that_was_wrong():
    """A row of logits near 1e4 (float32): the Numba loss was off by 4e-4 (1e-4 relative)."""
    be = _backend("numba")
    rng = np.random.default_rng(0)
    x = (rng.uniform(-1, 1, (1, 64)) + 1e4).astype(np.float32)
    labels = np.array([3])
    out, _ = be.kernels["softmax_cross_entropy"].forward(x, labels, reduction="none")
    x64 = x.astype(np.float64)[0]
    want = np.log(np.exp(x64 - x64.max()).sum()) - (x64[3] - x64.max())
    assert abs(float(out[0]) - want) <= 4 * np.finfo(np.float32).eps * abs(want)
