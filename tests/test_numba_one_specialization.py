"""Loops the Numba backend reaches along two paths compile once per dtype, not once per path:
the streamed softmax cross-entropy loops pass ``ahead`` as a runtime bool (a literal ``True``
compiled ``_labels_short`` / ``_probs_short`` / ``_labels_regs`` / ``_probs_regs`` again), the
threaded CTC loop passes its (unsigned) prange index as int64 (``_sample`` compiled again for
uint64), and the depthwise convolution gets read-only views of what it reads (a read-only
input or gradient compiled ``depthwise_fwd1`` / ``depthwise_bwd1`` / ``_padded_plane`` again).
Each test runs both paths and counts the shared loop's versions for the dtype."""
from __future__ import annotations

import numpy as np
import pytest

import xpgrad as xg
from conftest import backend_report

numba = pytest.importorskip("numba")
if not backend_report().get("numba", {}).get("available"):
    pytest.skip("the numba backend is unavailable", allow_module_level=True)

from xpgrad.backends.numba import _config, _conv_depthwise, _ctc_kernels  # noqa: E402
from xpgrad.backends.numba._math import LOOP_OPTIONS  # noqa: E402
from xpgrad.backends.numba import _sce_kernels as short  # noqa: E402
from xpgrad.backends.numba import _sce_registers as regs  # noqa: E402

DTYPES = pytest.mark.parametrize("dt", [np.float32, np.float64], ids=["float32", "float64"])


def _uncached(dispatcher, **options):
    """A copy of ``dispatcher`` compiled here, never loaded from the disk cache: compiling it
    asks the loops it calls for their version for its argument types (a caller loaded from the
    cache would not, and the callee's ``signatures`` would miss what it uses)."""
    return numba.njit(**{**options, "cache": False})(dispatcher.py_func)


def _versions(dispatcher, dt):
    return [s for s in dispatcher.signatures if s[0].dtype == numba.from_dtype(np.dtype(dt))]


def _sce_args(dt, classes, labels):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((40, classes)).astype(dt)
    if labels:
        target = rng.integers(0, classes, 40)
    else:
        target = rng.random((40, classes)).astype(dt)
        target /= target.sum(1, keepdims=True)
    return x, target, np.empty_like(x), np.empty(40, dt), dt(1.0)


@DTYPES
@pytest.mark.parametrize("labels", [True, False], ids=["labels", "probs"])
def test_streamed_short_rows_reuse_the_one_thread_loop(dt, labels):
    plain, streamed, shared = ((short.sce_labels_short, short.sce_labels_short_streamed,
                                short._labels_short) if labels else
                               (short.sce_probs_short, short.sce_probs_short_streamed,
                                short._probs_short))
    args = _sce_args(dt, 3, labels)
    first = _uncached(plain, **LOOP_OPTIONS)(*args)
    before = _versions(shared, dt)      # what this process has (other tests add their own)
    again = _uncached(streamed, **LOOP_OPTIONS)(*args)
    assert _versions(shared, dt) == before      # the streamed caller compiled no other
    assert again == pytest.approx(first, rel=1e-6)


@DTYPES
@pytest.mark.parametrize("labels", [True, False], ids=["labels", "probs"])
def test_streamed_register_loop_reuses_the_one_thread_loop(dt, labels):
    shared = regs._labels_regs if labels else regs._probs_regs
    args = _sce_args(dt, 6, labels)
    first = _uncached(regs._loop(labels, 6, False), **LOOP_OPTIONS)(*args)
    before = _versions(shared, dt)      # what this process has (other tests add their own)
    again = _uncached(regs._loop(labels, 6, True), **LOOP_OPTIONS)(*args)
    assert _versions(shared, dt) == before      # the streamed caller compiled no other
    assert again == pytest.approx(first, rel=1e-6)


def test_threaded_ctc_reuses_the_serial_sample_loop():
    rng = np.random.default_rng(1)
    T, N, C, S = 12, 3, 5, 4
    x = rng.standard_normal((T, N, C))
    lp = x - np.log(np.exp(x).sum(-1, keepdims=True))
    targets = rng.integers(1, C, (N, S))
    il, tl = np.full(N, T, np.int64), np.full(N, S, np.int64)
    runs, versions = [], []
    for loop, threaded in ((_ctc_kernels.ctc_serial, False), (_ctc_kernels.ctc_threaded, True)):
        grad, nll = np.empty(lp.shape), np.empty(N)
        copy = _uncached(loop, error_model="numpy", parallel=threaded)
        _config.run_parallel(copy, lp, targets, il, tl, 0, False, grad, nll, True)
        runs.append((grad, nll))
        versions.append(_versions(_ctc_kernels._sample, np.float64))
    assert versions[1] == versions[0]       # the threaded loop compiled no other
    np.testing.assert_array_equal(runs[0][1], runs[1][1])
    np.testing.assert_array_equal(runs[0][0], runs[1][0])


def _conv_step(dt, read_only):
    """A depthwise convolution's gradients, from writeable input and gradient
    arrays, or from read-only ones (a frozen input, ``sum(y)``'s broadcast gradient)."""
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 4, 7, 6)).astype(dt)
    w = rng.standard_normal((4, 1, 3, 3)).astype(dt)
    for a in (x, w):
        a.flags.writeable = not read_only
    x = xg.asarray(x, backend="numba")
    w = xg.Variable(xg.asarray(w, backend="numba"))
    with xg.GradientTape() as tape:
        tape.watch(x)
        y = xg.nn.conv2d(x, w, None, padding=1, groups=4)
        loss = xg.sum(y) if read_only else xg.sum(y * y)
    return [t.numpy() for t in tape.gradient(loss, [x, w])]


@DTYPES
def test_depthwise_loops_compile_once_for_writeable_and_read_only_arrays(dt):
    """(The loops are called from Python: each call adds what it loads or compiles to their
    ``signatures``.)"""
    _conv_step(dt, read_only=False)
    loops = (_conv_depthwise.depthwise_fwd1, _conv_depthwise.depthwise_bwd1)
    before = [_versions(loop, dt) for loop in loops]
    assert all(before)                                   # the stride-1 loops ran
    dx, dw = _conv_step(dt, read_only=True)
    assert [_versions(loop, dt) for loop in loops] == before   # no version of their own
    assert dx.shape == (2, 4, 7, 6) and dw.shape == (4, 1, 3, 3)
