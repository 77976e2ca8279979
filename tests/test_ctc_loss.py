"""xg.losses.ctc against PyTorch's F.ctc_loss in float64: values, and gradients of the logits
before a log_softmax (where the two agree: PyTorch's gradient w.r.t. log_probs assumes a
log_softmax before it, xpgrad's is the true partial derivative); finite differences on
log_probs themselves; every host backend equal to numpy."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import xpgrad as xg
from conftest import backend_report
from xpgrad.testing import check_grads

torch = pytest.importorskip("torch")
F = torch.nn.functional

BACKENDS = [b for b in ("numpy", "numba") if b in backend_report()]
REDUCTIONS = ["mean", "sum", "none"]


def _weights(shape):
    return np.linspace(0.5, 1.5, int(np.prod(shape))).reshape(shape)


def _ours(logits, targets, il, tl, backend="numpy", **kw):
    """Loss and gradient of sum(w * loss) w.r.t. the logits, through xg.nn.log_softmax."""
    x = xg.asarray(logits, backend=backend)
    with xg.GradientTape() as tape:
        tape.watch(x)
        loss = xg.losses.ctc(xg.nn.log_softmax(x, axis=-1), xg.asarray(targets, backend=backend),
                             xg.asarray(il, backend=backend), xg.asarray(tl, backend=backend),
                             **kw)
        total = xg.sum(loss * xg.asarray(_weights(loss.shape), dtype=loss.dtype,
                                         backend=backend))
    return loss.numpy(), tape.gradient(total, x).numpy()


def _theirs(logits, targets, il, tl, **kw):
    x = torch.tensor(logits, requires_grad=True)
    loss = F.ctc_loss(x.log_softmax(-1), torch.tensor(targets), torch.tensor(il),
                      torch.tensor(tl), **kw)
    w = torch.tensor(_weights(tuple(loss.shape)), dtype=loss.dtype)
    (g,) = torch.autograd.grad((loss * w).sum(), x)
    return loss.detach().numpy(), g.numpy()


def _compare(logits, targets, il, tl, **kw):
    (a, ga), (b, gb) = _ours(logits, targets, il, tl, **kw), _theirs(logits, targets, il, tl,
                                                                      **kw)
    np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12, err_msg="loss")
    np.testing.assert_allclose(ga, gb, rtol=1e-8, atol=1e-10, err_msg="gradient")
    return a, ga


def _case(seed, T=12, N=4, C=6, S=5, repeat=False):
    rng = np.random.default_rng(seed)
    logits = rng.standard_normal((T, N, C)) * 2.0
    tl = rng.integers(0, S + 1, N)
    targets = rng.integers(1, C, (N, S))
    if repeat:
        targets[:, 1::2] = targets[:, 0::2][:, : S // 2]     # runs of equal labels: no skip
    # each input long enough for its target (labels + the blanks between repeats)
    il = np.minimum(T, 2 * tl + 1 + rng.integers(0, 3, N))
    return logits, targets, il, tl


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("seed", range(4))
def test_random_shapes_match_torch(seed, reduction):
    rng = np.random.default_rng(100 + seed)
    T, N, C, S = (int(v) for v in (rng.integers(1, 15), rng.integers(1, 6), rng.integers(2, 9),
                                   rng.integers(0, 6)))
    logits = rng.standard_normal((T, N, C))
    targets = rng.integers(1, C, (N, S))
    tl = rng.integers(0, S + 1, N)
    il = rng.integers(0, T + 1, N)           # some infeasible: compared with zero_infinity
    _compare(logits, targets, il, tl, reduction=reduction, zero_infinity=True)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_repeated_labels_match_torch(reduction):
    logits, targets, il, tl = _case(1, repeat=True)
    targets[0, :4] = [3, 3, 3, 3]
    tl[0], il[0] = 4, 8                       # 4 labels + 3 blanks between them: 7 <= 8
    _compare(logits, targets, il, tl, reduction=reduction)


def test_skip_rule_counts_paths():
    """With uniform probabilities the loss counts alignments: target (1, 1) over 3 steps has
    one ("1 0 1"); (1, 2) over 3 steps has five."""
    lp = np.log(np.full((3, 2, 3), 1 / 3))
    loss = xg.losses.ctc(xg.asarray(lp), xg.asarray([[1, 1], [1, 2]]), [3, 3], [2, 2],
                         reduction="none").numpy()
    np.testing.assert_allclose(np.exp(-loss) * 27, [1.0, 5.0], rtol=1e-12)


def test_empty_targets_and_length_equal_input():
    logits, targets, il, tl = _case(2, T=6, N=3, S=6)
    tl[:] = [0, 6, 3]
    il[:] = [6, 6, 3]                        # target length == input length (distinct labels)
    targets[1] = [1, 2, 3, 4, 5, 1]
    targets[2, :3] = [1, 2, 3]
    loss, _ = _compare(logits, targets, il, tl, reduction="none")
    assert np.all(np.isfinite(loss))
    lp = torch.tensor(logits).log_softmax(-1).numpy()
    np.testing.assert_allclose(loss[0], -lp[:, 0, 0].sum(), rtol=1e-12)   # all blanks


@pytest.mark.parametrize("zero_infinity", [False, True])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_infeasible_as_torch(reduction, zero_infinity):
    logits, targets, il, tl = _case(3)
    targets[1, :3] = [2, 2, 4]
    tl[1], il[1] = 3, 3                       # needs 4 steps (a blank between the 2s)
    il[2], tl[2] = 0, 2                       # no input at all
    il[3], tl[3] = 0, 0                       # no input, empty target: probability 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")        # no RuntimeWarning from inf - inf either
        ours = _ours(logits, targets, il, tl, reduction=reduction, zero_infinity=zero_infinity)
    theirs = _theirs(logits, targets, il, tl, reduction=reduction, zero_infinity=zero_infinity)
    for a, b, what in zip(ours, theirs, ("loss", "gradient")):
        np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-10, err_msg=what)
    grad = ours[1]
    assert np.isnan(grad[:3, 1]).all() != zero_infinity           # NaN only on its 3 steps
    assert not np.isnan(grad[3:, 1]).any() and not np.isnan(grad[:, [0, 3]]).any()
    if reduction == "none":
        assert (ours[0][2] == np.inf) != zero_infinity and ours[0][3] == 0.0


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_concatenated_targets_equal_padded(reduction):
    logits, targets, il, tl = _case(4)
    flat = np.concatenate([targets[i, :tl[i]] for i in range(len(tl))])
    padded = _compare(logits, targets, il, tl, reduction=reduction)
    concatenated = _compare(logits, flat, il, tl, reduction=reduction)
    np.testing.assert_allclose(concatenated[0], padded[0], rtol=1e-14)
    np.testing.assert_allclose(concatenated[1], padded[1], rtol=1e-14)


def test_padding_values_are_ignored():
    logits, targets, il, tl = _case(5)
    tl[:] = [2, 0, 5, 1]
    other = targets.copy()
    for i, n in enumerate(tl):
        other[i, n:] = 0                      # blank, even: past the length it is padding
    a = xg.losses.ctc(xg.nn.log_softmax(xg.asarray(logits)), targets, il, tl, reduction="none")
    b = xg.losses.ctc(xg.nn.log_softmax(xg.asarray(logits)), other, il, tl, reduction="none")
    np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_unbatched_as_torch():
    logits, targets, il, tl = _case(6, N=1)
    for reduction in REDUCTIONS:
        x = torch.tensor(logits[:, 0]).log_softmax(-1)
        want = F.ctc_loss(x, torch.tensor(targets[0]), torch.tensor(il[0]),
                          torch.tensor(tl[0]), reduction=reduction)
        got = xg.losses.ctc(xg.asarray(x.numpy()), targets[0], int(il[0]), int(tl[0]),
                            reduction=reduction)
        assert got.shape == tuple(want.shape) == ()
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-12)


@pytest.mark.parametrize("blank", [0, 3, 5])
def test_other_blank_matches_torch(blank):
    logits, targets, il, tl = _case(7)
    targets = np.where(targets == blank, 0, targets)          # labels stay off the blank
    _compare(logits, targets, il, tl, blank=blank, reduction="sum")


def test_gradient_wrt_log_probs_is_the_partial_derivative():
    """Finite differences on log_probs themselves (not normalized), every reduction; and the
    relation to PyTorch's gradient: ours = theirs - exp(log_probs) on each sample's steps."""
    logits, targets, il, tl = _case(8, T=7, N=3, C=4, S=3)
    lp = torch.tensor(logits).log_softmax(-1).numpy()
    for reduction in REDUCTIONS:
        check_grads(lambda a: xg.losses.ctc(a, targets, il, tl, reduction=reduction),
                    (xg.asarray(lp + 0.1),))       # off the simplex: still the true partials
    x = xg.asarray(lp)
    with xg.GradientTape() as tape:
        tape.watch(x)
        loss = xg.losses.ctc(x, targets, il, tl, reduction="sum")
    ours = tape.gradient(loss, x).numpy()
    t = torch.tensor(lp, requires_grad=True)
    (theirs,) = torch.autograd.grad(F.ctc_loss(t, torch.tensor(targets), torch.tensor(il),
                                               torch.tensor(tl), reduction="sum"), t)
    steps = np.arange(lp.shape[0])[:, None] < il[None, :]
    np.testing.assert_allclose(ours, theirs.numpy() - np.exp(lp) * steps[:, :, None],
                               rtol=1e-10, atol=1e-12)


def test_finite_differences_through_log_softmax():
    logits, targets, il, tl = _case(9, T=6, N=2, C=4, S=2)
    check_grads(lambda x: xg.losses.ctc(xg.nn.log_softmax(x, axis=-1), targets, il, tl),
                (xg.asarray(logits),))


def test_float32_close_to_float64():
    logits, targets, il, tl = _case(10)
    a, ga = _ours(logits, targets, il, tl)
    b, gb = _ours(logits.astype(np.float32), targets, il, tl)
    assert b.dtype == np.float32 and gb.dtype == np.float32
    np.testing.assert_allclose(b, a, rtol=1e-5)
    np.testing.assert_allclose(gb, ga, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("backend", BACKENDS)
def test_backends_equal_numpy(backend):
    logits, targets, il, tl = _case(11, T=20, N=5, C=7, S=6, repeat=True)
    for dtype in (np.float32, np.float64):
        for reduction in REDUCTIONS:
            for zero_infinity in (False, True):
                kw = dict(reduction=reduction, zero_infinity=zero_infinity)
                a, ga = _ours(logits.astype(dtype), targets, il, tl, **kw)
                b, gb = _ours(logits.astype(dtype), targets, il, tl, backend=backend, **kw)
                tol = 1e-5 if dtype == np.float32 else 1e-12
                np.testing.assert_allclose(b, a, rtol=tol, err_msg=f"{dtype} {kw}")
                np.testing.assert_allclose(gb, ga, rtol=tol, atol=tol, err_msg=f"{dtype} {kw}")


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_second_order_finite_differences(reduction):
    """The rule run by an outer tape (xp = xpgrad): the gradient of the gradient. Positions no
    path reaches (alpha and beta -inf) must not turn it NaN through logaddexp(-inf, -inf)."""
    x = np.random.default_rng(12).standard_normal((4, 3, 3))
    targets, il, tl = [[1, 2], [2, 0], [1, 1]], [4, 3, 2], [2, 1, 2]    # the third infeasible
    check_grads(lambda a: xg.losses.ctc(xg.nn.log_softmax(a, axis=-1), targets, il, tl,
                                        reduction=reduction, zero_infinity=True),
                (xg.asarray(x),), order=2)
