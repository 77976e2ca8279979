"""The Numba backend's softmax cross-entropy for rows of one or two registers of classes
(backends/numba/_sce_registers.py, ``sce_labels_regs``: 4-24 float32 or 4-12 float64
classes, ``sce_probs_regs``: 4-16 or 4-8).

The register kernels are compared with the row-at-a-time kernel at the class counts where
their code changes shape (``class_counts``), over ragged last tiles and groups and rows with logits at +-1e4, +-inf and NaN; threaded
against one thread; through the tape against the generic rule, PyTorch and finite
differences; and the forward is checked to pick it exactly where it applies."""
from __future__ import annotations

import numpy as np
import pytest

import xpgrad as xg
from sce_checks import assert_kernels_agree, assert_threaded_equals_one_thread, awkward_logits

numba = pytest.importorskip("numba", reason="Numba is not installed")

from xpgrad.backends.numba import _losses, _sce_gathered  # noqa: E402
from xpgrad.backends.numba import _loss_kernels as loops  # noqa: E402
from xpgrad.backends.numba import _sce_kernels as short  # noqa: E402
from xpgrad.backends.numba import _sce_registers as regs  # noqa: E402

DTYPES = pytest.mark.parametrize("dt", [np.float32, np.float64], ids=["float32", "float64"])


def class_counts(dt, kind="labels"):
    """The class counts the register kernel of ``kind`` is compared at for ``dt``: each count is
    code of its own, compiled on first use (1-2 s each on CI's cores), so not all 48 of them but
    those where the generated code changes shape: ``REGS_MIN`` and one more (the fewest
    classes, an odd count), a register's lanes ``L`` (``_transpose.lanes``: 16 float32, 8
    float64) and ``L - 1`` (one register, full and one short), ``L + 1`` (a second transposed
    block of a single class, whose stores spill into the next row), the most and one fewer
    (the second block full and one short), and 10, the commonest count (the one ``warmup``
    compiles).

    >>> class_counts(np.float32), class_counts(np.float64, "probs")
    ([4, 5, 10, 15, 16, 17, 23, 24], [4, 5, 7, 8])
    """
    lanes, top = 64 // np.dtype(dt).itemsize, regs.regs_max(dt, kind)
    wanted = {regs.REGS_MIN, regs.REGS_MIN + 1, 10, lanes - 1, lanes, lanes + 1, top - 1, top}
    return sorted(c for c in wanted if regs.REGS_MIN <= c <= top)


def test_class_counts_reach_every_register_layout():
    """The sampled counts hold both ends of every kind and dtype's range, and, where the
    range passes a register, both sides of that edge."""
    for dt in (np.float32, np.float64):
        for kind in ("labels", "probs"):
            counts, top = class_counts(dt, kind), regs.regs_max(dt, kind)
            lanes = 64 // np.dtype(dt).itemsize
            assert {regs.REGS_MIN, top, min(lanes, top)} <= set(counts), (dt, kind)
            assert (lanes + 1 in counts) == (top > lanes), (dt, kind)


@DTYPES
@pytest.mark.parametrize("rows", [1, 9, regs.TILE, 2 * regs.TILE + 21])
def test_register_kernel_matches_row_kernel_at_every_register_layout(rows, dt):
    """Every layout of class registers the kernel makes (``class_counts``), with a ragged last
    group and tile; NaN rows agree."""
    for classes in class_counts(dt):
        rng = np.random.default_rng(classes * 1000 + rows)
        x = (awkward_logits(rng, rows, classes, dt) if rows > 8
             else (rng.normal(size=(rows, classes)) * 3).astype(dt))
        labels = rng.integers(0, classes, rows)
        labels[-1] = classes - 1
        assert_kernels_agree(regs.sce_labels_regs, loops.sce_labels_block, x, labels,
                             2e-6 if dt == np.float32 else 1e-13, f"{classes} classes")


@DTYPES
@pytest.mark.parametrize("rows", [1, 9, 2 * regs.TILE + 21])
def test_register_kernel_with_probabilities_matches_row_kernel(rows, dt):
    """Probability targets, some rows not summing to 1 and a masked class without weight."""
    for classes in class_counts(dt, "probs"):
        rng = np.random.default_rng(classes * 1000 + rows + 1)
        x = (awkward_logits(rng, rows, classes, dt) if rows > 8
             else (rng.normal(size=(rows, classes)) * 3).astype(dt))
        t = rng.dirichlet(np.ones(classes), rows).astype(dt)
        if rows > 8:
            t[7] *= 0.5
            t[2, 0] = 0.0                   # no weight on the masked class
            t[2] /= t[2].sum()
        assert_kernels_agree(regs.sce_probs_regs, loops.sce_probs_block, x, t,
                             1e-5 if dt == np.float32 else 1e-12, f"{classes} classes")


@DTYPES
def test_register_kernel_touches_nothing_past_its_arrays(dt):
    """Rows that end inside a register: the stores past the last row are masked, so the
    entries after a view's end (the next thread's rows) keep their values."""
    for classes in (regs.REGS_MIN, 7, regs.regs_max(dt, "probs"), regs.regs_max(dt) - 1,
                    regs.regs_max(dt)):
        rng = np.random.default_rng(classes)
        n = 37
        x = rng.normal(size=(n + 5, classes)).astype(dt)
        grad = np.full_like(x, 7.0)
        labels = rng.integers(0, classes, n)
        regs.sce_labels_regs(x[:n], labels, grad[:n], np.empty(n, dt), dt(1.0))
        assert (grad[n:] == 7.0).all()
        np.testing.assert_allclose(grad[:n].sum(axis=1), 0.0, atol=1e-5)
        if classes <= regs.regs_max(dt, "probs"):
            t = np.full((n + 5, classes), 1.0 / classes, dt)
            regs.sce_probs_regs(x[:n], t[:n], grad[:n], np.empty(n, dt), dt(1.0))
            assert (grad[n:] == 7.0).all()
            np.testing.assert_allclose(grad[:n].sum(axis=1), 0.0, atol=1e-5)


def test_register_kernels_threaded_equal_one_thread():
    """Blocks of rows ending inside a group give what one thread gives, bit for bit."""
    assert_threaded_equals_one_thread((regs.sce_labels_regs, short.sce_labels_regs_par),
                                      (regs.sce_probs_regs, short.sce_probs_regs_par), 10)


@pytest.mark.parametrize("bad", [-1, 10])
def test_register_kernel_returns_nan_at_a_bad_label(bad):
    x = np.zeros((3 * regs.TILE + 5, 10), np.float32)
    labels = np.zeros(x.shape[0], np.int64)
    labels[-2] = bad
    total = regs.sce_labels_regs(x, labels, np.empty_like(x), np.empty(x.shape[0], np.float32),
                                 np.float32(1.0))
    assert np.isnan(total)


def test_register_kernels_start_where_the_gathered_ones_stop():
    assert regs.REGS_MIN == _sce_gathered.GATHERED_MAX + 1


@pytest.mark.parametrize("classes, dt", [(3, np.float32), (25, np.float32), (13, np.float64)])
def test_label_register_kernel_refuses_other_class_counts(classes, dt):
    x = np.zeros((5, classes), dt)
    with pytest.raises(ValueError, match="sce_labels_regs: x must have 4 to 24"):
        regs.sce_labels_regs(x, np.zeros(5, np.int64), np.empty_like(x), np.empty(5, dt), dt(1))


@pytest.mark.parametrize("classes, dt", [(3, np.float32), (17, np.float32), (9, np.float64)])
def test_probability_register_kernel_refuses_other_class_counts(classes, dt):
    x = np.zeros((5, classes), dt)
    with pytest.raises(ValueError, match="sce_probs_regs: x must have 4 to 16"):
        regs.sce_probs_regs(x, x.copy(), np.empty_like(x), np.empty(5, dt), dt(1))


@DTYPES
@pytest.mark.parametrize("target", ["labels", "probs"])
def test_forward_picks_the_register_kernel_up_to_regs_max(target, dt, monkeypatch):
    """From ``REGS_MIN`` to ``regs_max`` classes the register kernel, one more the short-row
    one, one fewer the gathered one."""
    calls = []
    monkeypatch.setattr(_losses, "_PREPARED", {})    # choices made by earlier tests' calls
    for length in ("gathered", "short"):
        name = f"sce_{target}_{length}"
        real = getattr(short, name)
        monkeypatch.setattr(short, name, lambda *a, _n=length, _f=real: calls.append(_n) or _f(*a))
    made = short.regs_loops         # the register loops are made per class count

    def regs_loops(kind, classes):
        one_thread = made(kind, classes)[0]
        return (lambda *a: calls.append("regs") or one_thread(*a)), None

    monkeypatch.setattr(short, "regs_loops", regs_loops)
    top = regs.regs_max(dt, target)
    kernel = _losses.KERNELS["softmax_cross_entropy"]
    for c in (regs.REGS_MIN - 1, regs.REGS_MIN, top, top + 1):
        y = np.zeros(3, np.int64) if target == "labels" else np.full((3, c), 1.0 / c, dt)
        assert kernel.forward(np.zeros((3, c), dt), y, "mean") is not None
    assert calls == ["gathered", "regs", "regs", "short"]


def _loss_and_grad(x, y, backend, reduction="mean"):
    xs = xg.asarray(x, backend=backend)
    with xg.GradientTape() as tape:
        tape.watch(xs)
        loss = xg.losses.softmax_cross_entropy(xs, xg.asarray(y, backend=backend),
                                               reduction=reduction)
        total = xg.sum(loss) if reduction == "none" else loss
    return loss.numpy(), tape.gradient(total, xs).numpy()


@pytest.mark.parametrize("classes", [4, 8, 9, 10, 11, 16, 17, 24])
@pytest.mark.parametrize("reduction", ["mean", "none"])
@pytest.mark.parametrize("target", ["labels", "probs"])
def test_register_kernel_equals_numpy_backend_and_torch_in_float64(target, classes, reduction):
    """Through the tape in float64: the numba backend against the numpy one and PyTorch."""
    torch = pytest.importorskip("torch", reason="PyTorch not installed")
    rng = np.random.default_rng(classes)
    n = regs.TILE + 13
    x = rng.normal(size=(n, classes)) * 3
    x[1] += 1e4
    labels = (rng.integers(0, classes, n) if target == "labels"
              else rng.dirichlet(np.ones(classes), n))
    got = _loss_and_grad(x, labels, "numba", reduction)
    want = _loss_and_grad(x, labels, "numpy", reduction)
    np.testing.assert_allclose(got[0], want[0], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(got[1], want[1], rtol=1e-11, atol=1e-16)
    tx = torch.tensor(x, requires_grad=True)
    ref = torch.nn.functional.cross_entropy(tx, torch.tensor(labels), reduction=reduction)
    (ref.sum() if reduction == "none" else ref).backward()
    np.testing.assert_allclose(got[0], ref.detach().numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(got[1], tx.grad.numpy(), rtol=1e-11, atol=1e-16)


def test_register_kernel_gradient_matches_finite_differences():
    rng = np.random.default_rng(3)
    n, classes = 40, 6
    x = rng.normal(size=(n, classes)) * 2
    labels = rng.integers(0, classes, n)
    _, grad = _loss_and_grad(x, labels, "numba")
    eps = 1e-6
    for i, j in [(0, 0), (17, 5), (39, 2)]:
        up, down = x.copy(), x.copy()
        up[i, j] += eps
        down[i, j] -= eps
        numeric = (_loss_and_grad(up, labels, "numba")[0]
                   - _loss_and_grad(down, labels, "numba")[0]) / (2 * eps)
        assert abs(numeric - grad[i, j]) < 1e-8, (i, j, numeric, grad[i, j])


def test_label_out_of_range_raises_the_generic_error():
    x = xg.asarray(np.zeros((70, 10), np.float32), backend="numba")
    labels = np.zeros(70, np.int64)
    labels[66] = 10
    with pytest.raises(IndexError, match="label 10 is out of range for 10 classes"):
        xg.losses.softmax_cross_entropy(x, xg.asarray(labels, backend="numba"))


def test_docstring_examples_of_the_register_module():
    import doctest

    assert doctest.testmod(regs).failed == 0


def test_warmup_exercise_reaches_every_softmax_loop_in_both_dtypes(monkeypatch):
    """``warmup``'s softmax cross-entropy inputs run every one-thread loop (gathered,
    register, short-row, row-at-a-time; labels and probabilities) in float32 and float64, so
    that a warm cache holds them all."""
    from xpgrad.backends.numba import _cache

    # the loops chosen for a shape are kept per process (_losses._PREPARED): an earlier test's
    # softmax cross-entropy on the exercise's shapes would replay its choice past the spies
    monkeypatch.setattr(_losses, "_PREPARED", {})
    seen = set()
    names = [f"sce_{kind}_{length}" for kind in ("labels", "probs")
             for length in ("gathered", "regs", "short")]
    for name in names:
        real = getattr(short, name)
        monkeypatch.setattr(short, name, lambda x, *a, _n=name, _f=real:
                            seen.add((_n, x.dtype.name)) or _f(x, *a))
    made = short.regs_loops             # the register loops are made per class count

    def regs_loops(kind, classes):
        one_thread = made(kind, classes)[0]
        return (lambda x, *a: seen.add((f"sce_{kind}_regs", x.dtype.name))
                or one_thread(x, *a)), None

    monkeypatch.setattr(short, "regs_loops", regs_loops)
    for name in ("sce_labels_block", "sce_probs_block"):
        real = getattr(loops, name)
        monkeypatch.setattr(loops, name, lambda x, *a, _n=name, _f=real:
                            seen.add((_n, x.dtype.name)) or _f(x, *a))
        names.append(name)
    be = xg.get_backend("numba")
    for dt in ("float32", "float64"):
        _cache._exercise_loss(be, np.dtype(dt), "softmax_cross_entropy")
    assert seen == {(n, dt) for n in names for dt in ("float32", "float64")}


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_the_forward_takes_any_row_count_layout_and_label_dtype_as_numpy_does(reduction):
    """The forward keeps its gradient's scale per (dtype, reduction, rows) and takes
    contiguous logits and intp labels as they are: over 70 row counts (more than it keeps),
    Fortran-ordered logits and int32 labels, loss and gradient equal the NumPy backend's in
    float64."""
    kernel = _losses.KERNELS["softmax_cross_entropy"]
    numpy_kernel = xg.get_backend("numpy").kernels["softmax_cross_entropy"]
    rng = np.random.default_rng(7)
    for n in range(1, 71):
        x = rng.normal(size=(n, 10))
        y = rng.integers(0, 10, n)
        for xs, ys in ((x, y), (np.asfortranarray(x), y.astype(np.int32))):
            loss, saved = kernel.forward(xs, ys, reduction)
            want, want_saved = numpy_kernel.forward(x, y, reduction)
            np.testing.assert_allclose(loss, want, rtol=1e-12)
            grad = kernel.vjp(np.float64(1.0), saved, xs, ys, reduction)[0]
            want_grad = numpy_kernel.vjp(np.float64(1.0), want_saved, x, y, reduction)[0]
            np.testing.assert_allclose(grad, want_grad, rtol=1e-12, atol=1e-15)


def test_register_loops_are_made_once_per_class_count():
    """``regs_loops`` makes a class count's loops the first time and hands out the same ones
    after; a loop made for one count refuses logits of another."""
    one_thread, threaded = regs.regs_loops("labels", 10)
    assert regs.regs_loops("labels", 10) == (one_thread, threaded)
    assert regs.regs_loops("labels", 11)[0] is not one_thread
    assert regs.regs_loops("probs", 10)[0] is not one_thread
    x = np.zeros((5, 12), np.float32)
    with pytest.raises(ValueError, match="the class count the loop was made for"):
        one_thread(x, np.zeros(5, np.int64), np.empty_like(x), np.empty(5, np.float32),
                   np.float32(1))
