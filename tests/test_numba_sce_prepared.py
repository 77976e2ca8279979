"""The Numba softmax cross-entropy forward prepared for a replayed program's fixed shapes and
dtypes (``sce_prepared``): the loss and gradient of the general forward (``_sce_forward``) bit
for bit, for every row loop and target kind; a bad label still declines; what it cannot take
it leaves to the general path (None), and arrays of another layout go the general way inside
it. The eager kernel (``sce_forward``) takes it per shapes and dtypes, and follows a change of
the threading threshold."""
import numpy as np
import pytest

pytest.importorskip("numba")
from xpgrad.backends.numba import _config, _losses  # noqa: E402


def _inputs(n, c, dtype, kind, seed=0):
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(n, c)).astype(dtype)
    if kind == "labels":
        return logits, rng.integers(0, c, n).astype(np.intp)
    probs = rng.random((n, c)).astype(dtype)
    return logits, probs / probs.sum(1, keepdims=True)


def _prepare(logits, labels, reduction):
    return _losses.sce_prepared(logits.shape, logits.dtype, labels.shape, labels.dtype,
                                reduction)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("kind", ["labels", "probs"])
@pytest.mark.parametrize("classes", [2, 10, 100, 300])     # gathered, regs, short, rows
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_the_prepared_forward_equals_sce_forward_bit_for_bit(dtype, kind, classes, reduction):
    logits, labels = _inputs(33, classes, dtype, kind)
    forward = _prepare(logits, labels, reduction)
    assert forward is not None
    loss, grad = forward(logits, labels)
    want_loss, saved = _losses._sce_forward(logits, labels, reduction)
    np.testing.assert_array_equal(loss, want_loss)
    assert loss.dtype == want_loss.dtype and np.shape(loss) == np.shape(want_loss)
    np.testing.assert_array_equal(grad, saved.grad)


def test_another_layout_goes_the_general_way_with_the_same_numbers():
    logits, labels = _inputs(8, 10, "float32", "labels")
    forward = _prepare(logits, labels, "mean")
    strided = np.empty((8, 20), np.float32)[:, ::2]
    strided[...] = logits
    loss, grad = forward(strided, labels)
    want_loss, saved = _losses._sce_forward(logits, labels, "mean")
    np.testing.assert_array_equal(loss, want_loss)
    np.testing.assert_array_equal(grad, saved.grad)


@pytest.mark.parametrize("bad", [-1, 10])
def test_a_bad_label_declines(bad):
    logits, labels = _inputs(8, 10, "float32", "labels")
    forward = _prepare(logits, labels, "mean")
    labels[3] = bad
    assert forward(logits, labels) is None
    assert _losses._sce_forward(logits, labels, "mean") is None
    assert _losses.sce_forward(logits, labels, "mean") is None       # also once prepared


def test_what_it_cannot_take_is_left_to_the_general_path(monkeypatch):
    logits, labels = _inputs(8, 10, "float32", "labels")
    prepare = _losses.sce_prepared
    assert prepare((8, 10), np.float32, (8,), np.int32, "mean") is None      # to convert
    assert prepare((8, 10), np.float32, (7,), np.intp, "mean") is None       # another shape
    assert prepare((8, 10), np.float32, (8, 10), np.float64, "mean") is None  # mixed probs
    assert prepare((8, 10), np.int64, (8,), np.intp, "mean") is None
    assert prepare((8, 10, 1), np.float32, (8,), np.intp, "mean") is None
    assert prepare((0, 10), np.float32, (0,), np.intp, "mean") is None
    monkeypatch.setattr(_config, "ROW_PAR_MIN", 80)                          # threaded
    assert prepare((8, 10), np.float32, (8,), np.intp, "mean") is None
    assert prepare((1, 10), np.float32, (1,), np.intp, "mean") is not None   # one row


@pytest.mark.parametrize("kind", ["labels", "probs"])
def test_the_eager_kernel_takes_the_prepared_forward_and_follows_the_threshold(kind, monkeypatch):
    """``sce_forward`` equals the general path bit for bit, from its first call (which prepares)
    on; after ``ROW_PAR_MIN`` drops it runs the threaded loop (as the general path would),
    not the one-thread forward it prepared before."""
    logits, labels = _inputs(40, 10, "float32", kind)
    want_loss, want = _losses._sce_forward(logits, labels, "mean")
    for _ in range(2):
        loss, saved = _losses.sce_forward(logits, labels, "mean")
        np.testing.assert_array_equal(loss, want_loss)
        np.testing.assert_array_equal(saved.grad, want.grad)
    threaded = []
    loops = _losses._sce_loop(kind, 1 << 30, logits.dtype, 10)
    real_run = _config.run_by_rows
    monkeypatch.setattr(_config, "run_by_rows", lambda serial, parallel, *a: threaded.append(
        parallel) or real_run(serial, parallel, *a))
    monkeypatch.setattr(_config, "ROW_PAR_MIN", 80)
    loss, saved = _losses.sce_forward(logits, labels, "mean")
    assert threaded == [loops[1]]
    np.testing.assert_allclose(loss, want_loss, rtol=1e-6)
    np.testing.assert_allclose(saved.grad, want.grad, rtol=1e-6)
