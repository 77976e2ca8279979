"""The Numba backend's short-row softmax cross-entropy (backends/numba/_sce_kernels.py,
``sce_*_short``) and the register transposes it runs on (backends/numba/_transpose.py).

The kernels are compared with the row-at-a-time kernels and the generic rule at class counts
on both sides of every register width (1, 2, 10, 11, 15, 16, 17, 31, 32, 33, 63, 64), over
ragged last tiles and rows with logits at +-1e4, +-inf and NaN; threaded against one thread;
and the gradient against PyTorch and finite differences."""
from __future__ import annotations

import numpy as np
import pytest

import xpgrad as xg
from sce_checks import assert_kernels_agree, assert_threaded_equals_one_thread, awkward_logits

numba = pytest.importorskip("numba", reason="Numba is not installed")

from xpgrad.backends.numba import _config, _losses  # noqa: E402
from xpgrad.backends.numba import _loss_kernels as loops  # noqa: E402
from xpgrad.backends.numba import _sce_kernels as short  # noqa: E402
from xpgrad.backends.numba import _sce_registers as regs  # noqa: E402
from xpgrad.backends.numba._transpose import (IN_CACHE_BYTES, lanes, target_sums_block,  # noqa: E402
                                              transpose_block)

DTYPES = pytest.mark.parametrize("dt", [np.float32, np.float64], ids=["float32", "float64"])
CLASSES = [1, 2, 3, 5, 7, 8, 9, 10, 11, 15, 16, 17, 31, 32, 33, 47, 48, 49, 63, 64, 100, 160]


# -- transpose_block -----------------------------------------------------------------------------
@numba.njit
def _transpose(src, s0, ss, sr, sc, dst, d0, ds, dr, dc, factors, lane_max, at):
    transpose_block(src, s0, ss, sr, sc, dst, d0, ds, dr, dc, factors, lane_max, at)


@DTYPES
@pytest.mark.parametrize("rows, cols", [(1, 1), (3, 5), (7, 16), (16, 16), (16, 3), (9, 8)])
def test_transpose_block_at_the_end_of_both_arrays_writes_only_the_block(rows, cols, dt):
    """A block whose registers do not fit in either array (masked loads and stores): the
    transposed block lands at its place and nothing else in ``dst`` changes."""
    width = lanes(np.empty(0, dt))
    rows, cols = min(rows, width), min(cols, width)
    stride, d_stride = cols + 2, rows + 3
    src = np.arange(rows * stride, dtype=dt)
    dst = np.full((cols - 1) * d_stride + rows, -7.0, dt)    # ends with the block
    _transpose(src, 0, stride, rows, cols, dst, 0, d_stride, cols, rows, None, None, 0)
    want = np.full((cols, d_stride), -7.0, dt)
    want[:, :rows] = src.reshape(rows, stride)[:, :cols].T
    np.testing.assert_array_equal(dst, want.reshape(-1)[:dst.size])


@DTYPES
def test_transpose_block_inside_the_arrays_with_factors_and_lane_max(dt):
    """Whole registers (plain loads and stores) well inside both arrays: the block is
    transposed, each source row scaled by ``factors``, the lane max taken over the stored
    columns only (a NaN skipped), and the stores spill only past each stored column."""
    width = lanes(np.empty(0, dt))
    rng = np.random.default_rng(0)
    n_rows, n_cols = width - 3, width - 5          # a partial block
    stride, d_stride = width + 4, 2 * width
    src = rng.normal(size=4 * width * stride).astype(dt)
    src[2 * stride + 1] = np.nan
    factors = rng.normal(size=width + 2).astype(dt)
    lane_max = np.full(width + 2, -np.inf, dt)
    lane_max[1] = 1e9                              # a start value above the block's
    dst = np.full(4 * width * d_stride, -7.0, dt)
    d0 = 2 * d_stride
    _transpose(src, stride, stride, n_rows, n_cols, dst, d0, d_stride, n_cols, n_rows, None,
               lane_max, 2)
    block = src[stride:].reshape(-1, stride)[:n_rows, :n_cols]
    got = dst[d0:d0 + n_cols * d_stride].reshape(n_cols, d_stride)[:, :n_rows]
    np.testing.assert_array_equal(got, block.T)
    assert (dst[:d0] == -7).all()                  # nothing before the block
    want_max = np.where(np.isnan(block), -np.inf, block).max(axis=1)
    np.testing.assert_array_equal(lane_max[2:2 + n_rows], want_max)
    assert lane_max[1] == 1e9 and (lane_max[2 + width:] == -np.inf).all()

    _transpose(src, stride, stride, n_rows, n_cols, dst, d0, d_stride, n_cols, n_rows, factors,
               None, 1)
    scaled = block * factors[1:1 + n_cols]
    got = dst[d0:d0 + n_cols * d_stride].reshape(n_cols, d_stride)[:, :n_rows]
    np.testing.assert_array_equal(got, scaled.T)


def test_transpose_block_rejects_other_dtypes():
    with pytest.raises(numba.core.errors.TypingError):
        _transpose(np.zeros(4, np.int64), 0, 1, 1, 1, np.zeros(4, np.int64), 0, 1, 1, 1, None,
                   None, 0)


# -- the short-row kernels -----------------------------------------------------------------------
@DTYPES
@pytest.mark.parametrize("classes", CLASSES)
def test_short_row_labels_match_row_kernel(classes, dt):
    rng = np.random.default_rng(classes)
    n = 3 * short.TILE + 37                         # a ragged last tile
    x = awkward_logits(rng, n, classes, dt)
    labels = rng.integers(0, classes, n)
    labels[2] = classes - 1
    assert_kernels_agree(short.sce_labels_short, loops.sce_labels_block, x, labels,
                          2e-6 if dt == np.float32 else 1e-13)


@DTYPES
@pytest.mark.parametrize("classes", CLASSES)
def test_short_row_probabilities_match_row_kernel(classes, dt):
    rng = np.random.default_rng(classes + 100)
    n = 2 * short.TILE + 45
    x = awkward_logits(rng, n, classes, dt)
    t = rng.dirichlet(np.ones(classes), n).astype(dt)
    t[7] *= 0.5
    if classes > 1:
        t[2, 0] = 0.0                               # no weight on the masked class
        t[2] /= t[2].sum()
    assert_kernels_agree(short.sce_probs_short, loops.sce_probs_block, x, t,
                          1e-5 if dt == np.float32 else 1e-12)


@numba.njit
def _target_sums(t, t0, ts_, tr, tc, xt, x0, xs, m, ts, gap, at):
    target_sums_block(t, t0, ts_, tr, tc, xt, x0, xs, m, ts, gap, at)


@DTYPES
@pytest.mark.parametrize("rows, cols", [(1, 1), (5, 3), (16, 16), (9, 12), (16, 7)])
def test_target_sums_block_adds_the_sums_of_the_targets_and_their_gap(rows, cols, dt):
    """The block's targets (at the very end of their array: masked loads) summed per row, and
    ``-t * (x - m)`` against logits laid out in lanes, a class without weight adding 0 even at
    a logit of -inf (where ``t * (x - m)`` alone is NaN); columns past ``cols`` add nothing."""
    rng = np.random.default_rng(rows * 31 + cols)
    lw, stride = lanes(np.empty(0, dt)), 24
    rows, cols = min(rows, lw), min(cols, lw)       # (float64: 8 lanes)
    c = cols + 2                                    # rows of c targets, the block's cols first
    t = rng.random((rows, c)).astype(dt)
    t[0, 0] = 0.0
    x = (rng.normal(size=(lw, rows)) * 3).astype(dt)        # class j of row r at x[j, r]
    x[0, 0] = -np.inf
    logits = np.full((lw, stride), 1e30, dt)                 # lanes past the rows: never used
    logits[:, :rows] = x
    m = np.zeros(lw + 2, dt)
    m[1:1 + rows] = rng.normal(size=rows)
    ts, gap = np.full(lw + 2, 0.5, dt), np.full(lw + 2, 0.25, dt)
    flat = t.reshape(-1)[:(rows - 1) * c + cols]             # the array ends at the block's end
    _target_sums(flat, 0, c, rows, cols, logits.reshape(-1), 0, stride, m[1:], ts[1:], gap[1:],
                 0)
    block = t[:, :cols].astype(np.float64)
    diff = x[:cols].T.astype(np.float64) - m[1:1 + rows, None]
    with np.errstate(invalid="ignore"):                       # 0 * inf, selected away
        terms = np.where(block != 0, -block * diff, 0.0)
    tol = 1e-6 if dt == np.float32 else 1e-14
    np.testing.assert_allclose(ts[1:1 + rows], 0.5 + block.sum(1), rtol=tol)
    np.testing.assert_allclose(gap[1:1 + rows], 0.25 + terms.sum(1), rtol=tol, atol=tol)
    assert ts[0] == 0.5 and gap[0] == 0.25                   # nothing before ``at``


@DTYPES
@pytest.mark.parametrize("classes", [6, 33])
def test_one_thread_loops_past_the_cache_size_match_the_row_kernel(classes, dt):
    """Logits over ``IN_CACHE_BYTES``: the one-thread loops then ask for rows ahead (smaller
    ones do not), with the same results."""
    rng = np.random.default_rng(classes)
    n = IN_CACHE_BYTES // (classes * np.dtype(dt).itemsize) + 77
    x = awkward_logits(rng, n, classes, dt)
    labels = rng.integers(0, classes, n)
    t = rng.dirichlet(np.ones(classes), n).astype(dt)
    tol = 1e-5 if dt == np.float32 else 1e-12
    kernels = (short.sce_labels_short, short.sce_probs_short) if classes > 16 \
        else (regs.sce_labels_regs, regs.sce_probs_regs)
    assert_kernels_agree(kernels[0], loops.sce_labels_block, x, labels, tol)
    assert_kernels_agree(kernels[1], loops.sce_probs_block, x, t, tol)


@pytest.mark.parametrize("classes", [3, 10, 33])
def test_short_row_threaded_equals_one_thread(classes):
    """Blocks of rows that end inside a tile and inside a register (whose stores must not
    spill into the next thread's rows) give what one thread gives."""
    assert_threaded_equals_one_thread((short.sce_labels_short, short.sce_labels_short_par),
                                      (short.sce_probs_short, short.sce_probs_short_par),
                                      classes)


def _loss_and_grad(x, y, backend, reduction="mean"):
    xs = xg.asarray(x, backend=backend)
    with xg.GradientTape() as tape:
        tape.watch(xs)
        loss = xg.losses.softmax_cross_entropy(xs, xg.asarray(y, backend=backend),
                                               reduction=reduction)
        total = xg.sum(loss) if reduction == "none" else loss
    return loss.numpy(), tape.gradient(total, xs).numpy()


def _generic(x, y, reduction="mean"):
    be = xg.get_backend("numpy")
    saved, be.kernels = be.kernels, {}
    try:
        return _loss_and_grad(x, y, "numpy", reduction)
    finally:
        be.kernels = saved


@DTYPES
@pytest.mark.parametrize("classes", [2, 10, 33, 48])
@pytest.mark.parametrize("reduction", ["mean", "none"])
def test_short_row_kernel_equals_generic_rule_through_the_tape(classes, reduction, dt):
    rng = np.random.default_rng(classes)
    n = 2 * short.TILE + 5
    x = (rng.normal(size=(n, classes)) * 3).astype(dt)
    x[1] += 1e4
    labels = rng.integers(0, classes, n)
    assert classes <= _config.SHORT_ROWS_MAX
    got = _loss_and_grad(x, labels, "numba", reduction)
    want = _generic(x, labels, reduction)
    tol = 2e-5 if dt == np.float32 else 1e-12
    np.testing.assert_allclose(got[0], want[0], rtol=tol)
    np.testing.assert_allclose(got[1], want[1], rtol=tol, atol=tol / n)


def test_short_row_gradient_matches_torch_and_finite_differences():
    torch = pytest.importorskip("torch", reason="PyTorch not installed")
    rng = np.random.default_rng(3)
    n, classes = 70, 11
    x = rng.normal(size=(n, classes)) * 2
    labels = rng.integers(0, classes, n)
    loss, grad = _loss_and_grad(x, labels, "numba")
    tx = torch.tensor(x, requires_grad=True)
    ref = torch.nn.functional.cross_entropy(tx, torch.tensor(labels))
    ref.backward()
    np.testing.assert_allclose(loss, ref.item(), rtol=1e-13)
    np.testing.assert_allclose(grad, tx.grad.numpy(), rtol=1e-12, atol=1e-16)

    eps = 1e-6
    for i, j in [(0, 0), (13, 10), (69, 5)]:
        up, down = x.copy(), x.copy()
        up[i, j] += eps
        down[i, j] -= eps
        numeric = (_loss_and_grad(up, labels, "numba")[0]
                   - _loss_and_grad(down, labels, "numba")[0]) / (2 * eps)
        assert abs(numeric - grad[i, j]) < 1e-8, (i, j, numeric, grad[i, j])


@DTYPES
@pytest.mark.parametrize("target", ["labels", "probs"])
def test_forward_picks_the_short_row_kernel_up_to_the_limit(target, dt, monkeypatch):
    """Rows of ``SHORT_ROWS_MAX`` float32 classes with labels (``SHORT_PROBS_MAX`` with
    probabilities; float64: half as many) run the short-row kernel, one more the row kernel."""
    calls = []
    for module, length in ((short, "short"), (loops, "block")):
        name = f"sce_{target}_{length}"
        real = getattr(module, name)
        monkeypatch.setattr(module, name, lambda *a, _n=length, _f=real: calls.append(_n) or _f(*a))
    limit = _config.SHORT_ROWS_MAX if target == "labels" else _config.SHORT_PROBS_MAX
    limit //= np.dtype(dt).itemsize // 4
    for c in (limit, limit + 1):
        x = np.zeros((3, c), dt)
        y = np.zeros(3, np.int64) if target == "labels" else np.full((3, c), 1.0 / c, dt)
        assert _losses.KERNELS["softmax_cross_entropy"].forward(x, y, "mean") is not None
    assert calls == ["short", "block"]


def test_docstring_examples_of_the_transpose_and_short_row_modules():
    import doctest

    from xpgrad.backends.numba import _transpose

    from xpgrad.backends.numba import _sce_gathered

    assert doctest.testmod(_transpose).failed == 0
    assert doctest.testmod(short).failed == 0
    assert doctest.testmod(_sce_gathered).failed == 0


# -- this session: labels checked in the kernel, probabilities in one pass, prefetch ------------
EDGE_CLASSES = [4, 10, 15, 16, 17, 33, 47, 48, 49, 64, 65, 80, 81, 128, 129, 160, 161]


@DTYPES
@pytest.mark.parametrize("classes", EDGE_CLASSES)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("target", ["labels", "probabilities"])
def test_fused_forward_equals_generic_rule_at_register_edges(target, reduction, classes, dt):
    """Through the tape, on both sides of every short-row limit (``SHORT_ROWS_MAX`` and
    ``SHORT_PROBS_MAX``, float32 and float64) and of register widths (8 float64 or 16 float32
    lanes), with a ragged last tile and rows at +-1e4."""
    rng = np.random.default_rng(classes + 7)
    n = 2 * short.TILE + 19
    x = (rng.normal(size=(n, classes)) * 3).astype(dt)
    x[1] += 1e4
    x[4] -= 1e4
    y = (rng.integers(0, classes, n) if target == "labels"
         else rng.dirichlet(np.ones(classes), n).astype(dt))
    got = _loss_and_grad(x, y, "numba", reduction)
    want = _generic(x, y, reduction)
    tol = 2e-5 if dt == np.float32 else 1e-12
    # a loss near 0 is log(s) for s near 1: a few ulp of s, absolute
    np.testing.assert_allclose(got[0], want[0], rtol=tol, atol=8 * np.finfo(dt).eps)
    np.testing.assert_allclose(got[1], want[1], rtol=tol, atol=tol / n)


@pytest.mark.parametrize("classes", [2, 3, 10, 33, 48, 49, 100])
@pytest.mark.parametrize("bad", [-1, "classes"])
@pytest.mark.parametrize("threaded", [False, True], ids=["one_thread", "threaded"])
def test_forward_declines_a_label_out_of_range(classes, bad, threaded, monkeypatch):
    """A label outside [0, classes), in a middle tile or in the ragged last one, one-threaded or
    in threaded blocks: the kernel reports it (touching nothing outside its arrays) and the
    forward returns None, so the generic rule raises its IndexError."""
    if threaded:
        monkeypatch.setattr(_config, "ROW_PAR_MIN", 1)
    rng = np.random.default_rng(classes)
    n = 3 * short.TILE + 11
    x = rng.normal(size=(n, classes)).astype(np.float32)
    kernel = _losses.KERNELS["softmax_cross_entropy"]
    for row in (short.TILE + 5, n - 1):
        labels = rng.integers(0, classes, n)
        labels[row] = -1 if bad == -1 else classes
        assert kernel.forward(x, labels, "mean") is None
    labels[row] = classes - 1
    assert kernel.forward(x, labels, "mean") is not None


@pytest.mark.parametrize("length", ["gathered", "short", "rows"])
def test_label_kernels_return_nan_at_a_bad_label(length):
    one_thread = short.sce_loops("labels", length)[0]
    c = 3 if length == "gathered" else 12
    x = np.zeros((70, c), np.float32)
    labels = np.full(70, c - 1)
    grad, losses = np.empty_like(x), np.empty(70, np.float32)
    assert one_thread(x, labels, grad, losses, np.float32(1)) == pytest.approx(70 * np.log(c))
    labels[69] = c
    assert np.isnan(one_thread(x, labels, grad, losses, np.float32(1)))


def test_user_call_with_a_bad_label_names_it_on_numba():
    x = xg.asarray(np.zeros((5, 33), np.float32), backend="numba")
    with pytest.raises(IndexError, match="label 33 is out of range for 33 classes"):
        xg.losses.softmax_cross_entropy(x, xg.asarray([0, 1, 33, 2, 3], backend="numba"))


@DTYPES
@pytest.mark.parametrize("length", ["gathered", "short", "rows"])
@pytest.mark.parametrize("kind", ["labels", "probs"])
def test_softmax_kernels_return_the_float64_sum_of_their_losses(kind, length, dt):
    """One thread and in threaded blocks (summed in block order), to float64 rounding."""
    import math

    rng = np.random.default_rng(3)
    n, c = 3 * short.TILE + 5, 3 if length == "gathered" else 20
    x = (rng.normal(size=(n, c)) * 4).astype(dt)
    y = rng.integers(0, c, n) if kind == "labels" else rng.dirichlet(np.ones(c), n).astype(dt)
    one_thread, threaded = short.sce_loops(kind, length)
    grad, losses = np.empty_like(x), np.empty(n, dt)
    total = one_thread(x, y, grad, losses, dt(1.0))
    want = math.fsum(losses.astype(np.float64))
    assert abs(total - want) <= 1e-13 * want
    block_total = _config.run_parallel(threaded, x, y, grad, losses, dt(1.0), 17)
    assert abs(block_total - want) <= 1e-13 * want


def test_prefetch_clips_its_range_to_the_array():
    """Prefetching is a hint: ranges past either end of the array are clipped, never read."""
    from xpgrad.backends.numba._transpose import prefetch_read, prefetch_write

    @numba.njit
    def hint(a):
        prefetch_read(a, -100, 10)
        prefetch_read(a, a.shape[0] - 3, a.shape[0] + 1000)
        prefetch_write(a, a.shape[0] + 5, a.shape[0] + 50)
        prefetch_write(a, 0, a.shape[0])
        return a.sum()

    a = np.arange(40, dtype=np.float32)
    assert hint(a) == a.sum()
    with pytest.raises(numba.core.errors.TypingError):
        hint(np.zeros((2, 2), np.float32))
