"""PyTorch's likelihood, margin and embedding losses (gaussian_nll, poisson_nll,
margin_ranking, hinge_embedding, soft_margin, multilabel_soft_margin, multi_margin,
triplet_margin, cosine_embedding) and distances (xg.nn.normalize, cosine_similarity,
pairwise_distance): values and gradients against PyTorch in float64, the gradients at zero
vectors and clamps, finite differences, every host backend equal to numpy, argument errors."""
from __future__ import annotations

import math

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


def _run(fn, arrays, diff, backend="numpy"):
    """Value of ``fn(*arrays)`` and the gradients of sum(value * weights) for ``diff``."""
    xs = [xg.asarray(a, backend=backend) for a in arrays]
    with xg.GradientTape() as tape:
        for i in diff:
            tape.watch(xs[i])
        y = fn(*xs)
        s = xg.sum(y * xg.asarray(_weights(y.shape), dtype=y.dtype, backend=backend))
    return [y.numpy()] + [g.numpy() for g in tape.gradient(s, [xs[i] for i in diff])]


def _torch(fn, arrays, diff):
    ts = [torch.tensor(a, requires_grad=i in diff) for i, a in enumerate(arrays)]
    y = fn(*ts)
    w = torch.tensor(_weights(tuple(y.shape)), dtype=y.dtype)
    grads = torch.autograd.grad((y * w).sum(), [ts[i] for i in diff])
    return [y.detach().numpy()] + [g.numpy() for g in grads]


def _compare(ours, theirs, arrays, diff, rtol=1e-12, atol=1e-14):
    got = _run(ours, arrays, diff)
    want = _torch(theirs, arrays, diff)
    for what, a, b in zip(["value"] + [f"gradient {i}" for i in diff], got, want):
        assert a.shape == b.shape, what
        assert np.isfinite(a).all(), what
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, err_msg=what)


def _shape(rng, ndim):
    return tuple(int(n) for n in rng.integers(1, 6, ndim))


def _pm1(rng, shape):
    return np.where(rng.uniform(size=shape) < 0.5, -1.0, 1.0)


# -- against PyTorch: values and gradients, each reduction, random shapes -----------------------
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("ndim", [1, 2, 3])
@pytest.mark.parametrize("full", [False, True])
def test_gaussian_nll_matches_torch(full, ndim, reduction, rng):
    shape = _shape(rng, ndim)
    x, t = rng.standard_normal(shape), rng.standard_normal(shape)
    v = rng.uniform(0.1, 3.0, shape)
    v.flat[0] = 1e-9                                     # below eps: clamped for the value only
    r = reduction
    kw = dict(full=full, reduction=r)
    _compare(lambda a, b, c: xg.losses.gaussian_nll(a, b, c, **kw),
             lambda a, b, c: F.gaussian_nll_loss(a, b, c, **kw), [x, t, v], (0, 1, 2))
    # homoscedastic: var without the last axis, or with one axis of size 1
    _compare(lambda a, b, c: xg.losses.gaussian_nll(a, b, c, eps=1e-3, **kw),
             lambda a, b, c: F.gaussian_nll_loss(a, b, c, eps=1e-3, **kw),
             [x, t, v[..., 0]], (0, 1, 2))
    one = tuple(1 if i == 0 else n for i, n in enumerate(shape))
    _compare(lambda a, b, c: xg.losses.gaussian_nll(a, b, c, **kw),
             lambda a, b, c: F.gaussian_nll_loss(a, b, c, **kw), [x, t, v[:1]], (0, 1, 2))
    # a number
    _compare(lambda a, b: xg.losses.gaussian_nll(a, b, 0.7, **kw),
             lambda a, b: F.gaussian_nll_loss(a, b, 0.7, **kw), [x, t], (0, 1))
    assert v[:1].shape == one


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("log_input", [True, False])
@pytest.mark.parametrize("full", [False, True])
def test_poisson_nll_matches_torch(full, log_input, reduction, rng):
    shape = _shape(rng, 2)
    x = rng.standard_normal(shape) if log_input else rng.uniform(0.0, 4.0, shape)
    t = rng.poisson(2.5, shape).astype(np.float64) + rng.uniform(0, 0.5, shape)
    t.flat[0] = 1.0                                      # the Stirling term's edge
    kw = dict(log_input=log_input, full=full, reduction=reduction)
    _compare(lambda a, b: xg.losses.poisson_nll(a, b, **kw),
             lambda a, b: F.poisson_nll_loss(a, b, **kw), [x, t], (0, 1))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("ndim", [0, 1, 2])
def test_margin_ranking_hinge_and_soft_margin_match_torch(ndim, reduction, rng):
    shape = _shape(rng, ndim)
    x1, x2, y = rng.standard_normal(shape), rng.standard_normal(shape), _pm1(rng, shape)
    r = reduction
    for margin in (0.0, 0.5, -0.3):
        _compare(lambda a, b, c: xg.losses.margin_ranking(a, b, c, margin=margin, reduction=r),
                 lambda a, b, c: F.margin_ranking_loss(a, b, c, margin=margin, reduction=r),
                 [x1, x2, y], (0, 1, 2))
        _compare(lambda a, b: xg.losses.hinge_embedding(a, b, margin=margin + 1, reduction=r),
                 lambda a, b: F.hinge_embedding_loss(a, b, margin=margin + 1, reduction=r),
                 [np.abs(x1), y], (0,))
    _compare(lambda a, b: xg.losses.soft_margin(a, b, reduction=r),
             lambda a, b: F.soft_margin_loss(a, b, reduction=r), [x1 * 3, y], (0,))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("ndim", [1, 2])
@pytest.mark.parametrize("weighted", [False, True])
def test_multilabel_soft_margin_matches_torch(weighted, ndim, reduction, rng):
    shape = _shape(rng, ndim)
    x = rng.standard_normal(shape) * 3
    y = (rng.uniform(size=shape) < 0.4).astype(np.float64)
    y.flat[0] = 0.3                                       # soft targets too
    arrays = [x, y] + ([rng.uniform(0.2, 2.0, shape[-1])] if weighted else [])
    _compare(lambda a, b, *w: xg.losses.multilabel_soft_margin(
                 a, b, weight=w[0] if w else None, reduction=reduction),
             lambda a, b, *w: F.multilabel_soft_margin_loss(
                 a, b, weight=w[0] if w else None, reduction=reduction),
             arrays, (0, 1))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("p", [1, 2])
@pytest.mark.parametrize("weighted", [False, True])
def test_multi_margin_matches_torch(weighted, p, reduction, rng):
    n, c = _shape(rng, 2)
    c += 1
    x = rng.standard_normal((n, c))
    y = rng.integers(0, c, n)
    w = rng.uniform(0.2, 2.0, c)
    for margin in (1.0, 0.3):
        kw = dict(p=p, margin=margin, reduction=reduction)
        arrays = [x, y] + ([w] if weighted else [])
        _compare(lambda a, b, *w: xg.losses.multi_margin(a, b, weight=w[0] if w else None,
                                                         **kw),
                 lambda a, b, *w: F.multi_margin_loss(a, b, weight=w[0] if w else None, **kw),
                 arrays, (0,))
        # one sample: (C,) scores and a 0-d label
        _compare(lambda a, b: xg.losses.multi_margin(a, b, **kw),
                 lambda a, b: F.multi_margin_loss(a, b, **kw), [x[0], y[0]], (0,))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("ndim", [1, 2])
@pytest.mark.parametrize("p, swap", [(2, False), (2, True), (1, False), (3, True),
                                     (1.5, False)])
def test_triplet_margin_matches_torch(p, swap, ndim, reduction, rng):
    shape = _shape(rng, ndim)
    a, pos, neg = (rng.standard_normal(shape) for _ in range(3))
    if ndim == 2:
        pos[0] = a[0]                  # a zero distance but for eps: gradients stay finite
    for margin in (1.0, 0.2):
        kw = dict(margin=margin, p=p, swap=swap, reduction=reduction)
        _compare(lambda u, v, w: xg.losses.triplet_margin(u, v, w, **kw),
                 lambda u, v, w: F.triplet_margin_loss(u, v, w, **kw), [a, pos, neg],
                 (0, 1, 2))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("margin", [0.0, 0.4, -0.5])
def test_cosine_embedding_matches_torch(margin, reduction, rng):
    n, d = _shape(rng, 2)
    x1, x2 = rng.standard_normal((n, d)), rng.standard_normal((n, d))
    x1[0] = 0.0                                           # a zero vector: finite, as PyTorch
    y = _pm1(rng, n)
    kw = dict(margin=margin, reduction=reduction)
    _compare(lambda a, b, c: xg.losses.cosine_embedding(a, b, c, **kw),
             lambda a, b, c: F.cosine_embedding_loss(a, b, c, **kw), [x1, x2, y], (0, 1),
             rtol=1e-11)
    # (D,) inputs with a 0-d label
    _compare(lambda a, b, c: xg.losses.cosine_embedding(a, b, c, **kw),
             lambda a, b, c: F.cosine_embedding_loss(a, b, c, **kw),
             [x1[-1], x2[-1], np.array(y[-1])], (0, 1), rtol=1e-11)


def test_integer_labels_are_read_in_the_inputs_dtype(rng):
    x1, x2 = rng.standard_normal(6), rng.standard_normal(6)
    y = np.array([1, -1, 1, 1, -1, -1])
    _compare(lambda a, b, c: xg.losses.margin_ranking(a, b, c, margin=0.2),
             lambda a, b, c: F.margin_ranking_loss(a, b, c.double(), margin=0.2),
             [x1, x2, y], (0, 1))
    _compare(lambda a, b: xg.losses.soft_margin(a, b),
             lambda a, b: F.soft_margin_loss(a, b.double()), [x1, y], (0,))
    counts = rng.poisson(3.0, 6)
    _compare(lambda a, b: xg.losses.poisson_nll(a, b, full=True),
             lambda a, b: F.poisson_nll_loss(a, b.double(), full=True), [x1, counts], (0,))


# -- distances ----------------------------------------------------------------------------------
@pytest.mark.parametrize("p", [2.0, 1, 3, math.inf, 0.5])
@pytest.mark.parametrize("axis", [1, -1, 0])
def test_normalize_matches_torch(axis, p, rng):
    x = rng.standard_normal((4, 3, 5))
    x[1, :, 2] = 0.0                               # zero vectors along axis 1 ...
    x[2, 1, :] = 0.0                               # ... and along the last
    x[3, 0, :] = 1e-14                             # tiny: norm below eps for p=2 along -1
    _compare(lambda a: xg.nn.normalize(a, p=p, axis=axis),
             lambda a: F.normalize(a, p=p, dim=axis), [x], (0,), rtol=1e-12, atol=1e-12)
    _compare(lambda a: xg.nn.normalize(a, p=p, axis=axis, eps=1e-3),
             lambda a: F.normalize(a, p=p, dim=axis, eps=1e-3), [x * 1e-3], (0,), atol=1e-12)


def test_normalize_default_axis_and_zero_vector_gradient():
    """Axis 1 by default (PyTorch's); a zero vector maps to 0 with gradient g / eps."""
    x = xg.asarray(np.array([[0.0, 0.0], [3.0, 4.0]]))
    with xg.GradientTape() as tape:
        tape.watch(x)
        y = xg.nn.normalize(x, eps=1e-4)
        s = xg.sum(y * xg.asarray(np.array([[1.0, 2.0], [0.0, 0.0]])))
    np.testing.assert_allclose(y.numpy(), [[0.0, 0.0], [0.6, 0.8]], rtol=1e-15)
    np.testing.assert_allclose(tape.gradient(s, x).numpy(), [[1e4, 2e4], [0.0, 0.0]],
                               rtol=1e-12)


@pytest.mark.parametrize("shapes, axis", [(((4, 5), (4, 5)), 1), (((3, 1, 5), (4, 5)), -1),
                                           (((2, 3, 4), (2, 3, 4)), 0), (((6,), (6,)), 0)])
def test_cosine_similarity_matches_torch(shapes, axis, rng):
    x1, x2 = (rng.standard_normal(s) for s in shapes)
    np.moveaxis(x1, axis, -1)[(0,) * (x1.ndim - 1)] = 0.0    # a zero vector along axis
    x2[..., 0] = 1e-12                                     # tiny entries
    for eps in (1e-8, 0.5):
        _compare(lambda a, b: xg.nn.cosine_similarity(a, b, axis=axis, eps=eps),
                 lambda a, b: F.cosine_similarity(a, b, dim=axis, eps=eps), [x1, x2], (0, 1))


def test_cosine_similarity_zero_and_tiny_vectors():
    """PyTorch clamps each norm at eps for the value only: the gradient at a vector of norm
    below eps is the formula's at the clamped value, and at a zero vector finite."""
    x1 = np.array([[0.0, 0.0, 0.0], [1e-10, -2e-10, 0.0], [1.0, 2.0, 3.0]])
    x2 = np.array([[1.0, -1.0, 2.0], [0.5, 0.5, 0.5], [0.0, 0.0, 0.0]])
    _compare(lambda a, b: xg.nn.cosine_similarity(a, b),
             lambda a, b: F.cosine_similarity(a, b), [x1, x2], (0, 1), atol=0.0)


@pytest.mark.parametrize("p", [2.0, 1, 3, math.inf, 0.5])
@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("shapes", [((4, 5), (4, 5)), ((5,), (3, 5)), ((2, 1, 4), (3, 4)),
                                    ((6,), (6,))])
def test_pairwise_distance_matches_torch(shapes, keepdims, p, rng):
    x1, x2 = (rng.standard_normal(s) for s in shapes)
    for eps in (1e-6, 0.0, 0.1):
        _compare(lambda a, b: xg.nn.pairwise_distance(a, b, p=p, eps=eps, keepdims=keepdims),
                 lambda a, b: F.pairwise_distance(a, b, p=p, eps=eps, keepdim=keepdims),
                 [x1, x2], (0, 1))


def test_pairwise_distance_of_equal_vectors_has_torch_gradient():
    """x1 = x2 with eps=0: the norm of a zero vector, gradient 0 (PyTorch's), not NaN."""
    x = np.array([[1.0, 2.0], [3.0, -1.0]])
    for p in (2.0, 1, 3, math.inf):
        _compare(lambda a, b: xg.nn.pairwise_distance(a, b, p=p, eps=0.0),
                 lambda a, b: F.pairwise_distance(a, b, p=p, eps=0.0), [x, x.copy()], (0, 1),
                 atol=0.0)


# -- edges: clamps, large values, the Stirling term ---------------------------------------------
def test_gaussian_nll_var_gradient_below_eps_is_torch():
    """The clamp changes the value only: var's gradient at var < eps (0 included) is
    0.5 (1 / eps - d**2 / eps**2), as PyTorch's, not 0."""
    x, t = np.array([0.3, -1.0, 2.0]), np.array([0.0, -1.0, 1.0])
    v = np.array([0.0, 1e-8, 0.5])
    _compare(lambda a, b, c: xg.losses.gaussian_nll(a, b, c, eps=1e-4, reduction="none"),
             lambda a, b, c: F.gaussian_nll_loss(a, b, c, eps=1e-4, reduction="none"),
             [x, t, v], (0, 1, 2), atol=0.0)
    got = _run(lambda a, b, c: xg.losses.gaussian_nll(a, b, c, eps=1e-4, reduction="none"),
               [x, t, v], (2,))[1]
    assert got[0] == pytest.approx(_weights(3)[0] * 0.5 * (1e4 - 0.09 * 1e8), rel=1e-12)


def test_poisson_nll_full_at_small_counts():
    """With full=True the Stirling term counts where target > 1; the input gradient is
    PyTorch's everywhere, the target gradient where PyTorch's is finite (its is NaN at 0,
    0 * log(0); xpgrad's is the term's derivative, 0 there)."""
    x = np.array([0.5, -0.2, 1.0, 0.3, 2.0])
    t = np.array([0.0, 0.5, 1.0, 1.5, 7.0])
    ours = _run(lambda a, b: xg.losses.poisson_nll(a, b, full=True, reduction="none"),
                [x, t], (0, 1))
    theirs = _torch(lambda a, b: F.poisson_nll_loss(a, b, full=True, reduction="none"),
                    [x, t], (0, 1))
    np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-14)
    np.testing.assert_allclose(ours[1], theirs[1], rtol=1e-14)
    finite = np.isfinite(theirs[2])
    assert not finite[0] and finite[1:].all()
    np.testing.assert_allclose(ours[2][finite], theirs[2][finite], rtol=1e-14)
    assert ours[2][0] == -x[0] * _weights(5)[0]               # d/dt of -t x: the term's is 0


def test_soft_margin_stays_finite_where_torch_overflows():
    x = np.array([-800.0, 800.0, 0.0])
    y = np.array([1.0, 1.0, -1.0])
    value, grad = _run(lambda a, b: xg.losses.soft_margin(a, b, reduction="none"), [x, y],
                       (0,))
    np.testing.assert_allclose(value, [800.0, 0.0, math.log(2)], rtol=1e-15)
    np.testing.assert_allclose(grad, _weights(3) * [-1.0, 0.0, 0.5], rtol=1e-15)
    want = F.soft_margin_loss(torch.tensor(x), torch.tensor(y), reduction="none").numpy()
    assert math.isinf(want[0])               # PyTorch's log1p(exp(800)); same elsewhere
    np.testing.assert_allclose(value[1:], want[1:], rtol=1e-15)


def test_hinges_pass_the_gradient_at_zero_as_torch():
    """clamp_min's gradient is 1 at 0 (margin_ranking, hinge_embedding); multi_margin's
    kernel counts only z > 0."""
    x1, x2, y = np.array([1.0, 0.5]), np.array([1.0, 0.0]), np.array([1.0, -1.0])
    _compare(lambda a, b, c: xg.losses.margin_ranking(a, b, c, reduction="none"),
             lambda a, b, c: F.margin_ranking_loss(a, b, c, reduction="none"), [x1, x2, y],
             (0, 1), atol=0.0)
    _compare(lambda a, b: xg.losses.hinge_embedding(a, b, margin=1.0, reduction="none"),
             lambda a, b: F.hinge_embedding_loss(a, b, margin=1.0, reduction="none"),
             [np.array([1.0, 1.0, 0.5]), np.array([-1.0, 1.0, 0.0])], (0,), atol=0.0)
    _compare(lambda a, b: xg.losses.multi_margin(a, b, reduction="none"),
             lambda a, b: F.multi_margin_loss(a, b, reduction="none"),
             [np.array([[1.0, 0.0, 0.5]]), np.array([0])], (0,), atol=0.0)


# -- finite differences -------------------------------------------------------------------------
@pytest.mark.parametrize("case", ["gaussian", "poisson", "poisson_linear", "multilabel",
                                  "multi_margin", "triplet", "cosine_embedding", "normalize",
                                  "cosine_similarity", "pairwise_distance"])
def test_finite_differences_float64(case, rng):
    x, t = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    v = rng.uniform(0.5, 2.0, (3, 4))
    labels = xg.asarray(np.array([0, 3, 1]))
    pm = xg.asarray(np.array([1.0, -1.0, -1.0]))
    fns = {
        "gaussian": (lambda a, b, c: xg.losses.gaussian_nll(a, b, c, full=True), [x, t, v]),
        "poisson": (lambda a, b: xg.losses.poisson_nll(a, b, full=True, reduction="none"),
                    [x, v + 1.0]),
        "poisson_linear": (lambda a, b: xg.losses.poisson_nll(a, b, log_input=False),
                           [v, t]),
        "multilabel": (lambda a, b: xg.losses.multilabel_soft_margin(
            a, b, weight=[1.0, 2.0, 0.5, 1.5], reduction="none"), [x, v / 2]),
        "multi_margin": (lambda a: xg.losses.multi_margin(a, labels, p=2, margin=2.0), [x]),
        "triplet": (lambda a, b, c: xg.losses.triplet_margin(a, b, c, margin=3.0, swap=True,
                                                             reduction="none"), [x, t, v]),
        "cosine_embedding": (lambda a, b: xg.losses.cosine_embedding(a, b, pm, margin=-0.9),
                             [x, t]),
        "normalize": (lambda a: xg.nn.normalize(a, p=3), [x]),
        "cosine_similarity": (lambda a, b: xg.nn.cosine_similarity(a, b), [x, t]),
        "pairwise_distance": (lambda a, b: xg.nn.pairwise_distance(a, b, p=1.5), [x, t]),
    }
    fn, arrays = fns[case]
    check_grads(fn, [xg.asarray(a) for a in arrays], order=2)


# -- backends -----------------------------------------------------------------------------------
@pytest.mark.parametrize("backend", [b for b in BACKENDS if b != "numpy"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_backends_equal_numpy(backend, dtype, rng):
    x = rng.standard_normal((4, 3)).astype(dtype)
    t = rng.standard_normal((4, 3)).astype(dtype)
    v = rng.uniform(0.2, 2.0, (4, 3)).astype(dtype)
    pm = np.where(t > 0, 1.0, -1.0).astype(dtype)
    labels = np.array([0, 2, 1, 2])
    cases = [
        (lambda a, b, c: xg.losses.gaussian_nll(a, b, c, full=True), [x, t, v], (0, 1, 2)),
        (lambda a, b: xg.losses.poisson_nll(a, b, full=True), [x, v * 3], (0, 1)),
        (lambda a, b, c: xg.losses.margin_ranking(a, b, c, margin=0.1), [x, t, pm], (0, 1)),
        (lambda a, b: xg.losses.hinge_embedding(a, b, reduction="sum"), [v, pm], (0,)),
        (lambda a, b: xg.losses.soft_margin(a, b, reduction="none"), [x, pm], (0,)),
        (lambda a, b: xg.losses.multilabel_soft_margin(a, b), [x, v / 2], (0, 1)),
        (lambda a, b: xg.losses.multi_margin(a, b, p=2, reduction="none"), [x, labels], (0,)),
        (lambda a, b, c: xg.losses.triplet_margin(a, b, c, swap=True), [x, t, v], (0, 1, 2)),
        (lambda a, b, c: xg.losses.cosine_embedding(a, b, c[:, 0]), [x, t, pm], (0, 1)),
        (lambda a: xg.nn.normalize(a), [x], (0,)),
        (lambda a, b: xg.nn.cosine_similarity(a, b), [x, t], (0, 1)),
        (lambda a, b: xg.nn.pairwise_distance(a, b, keepdims=True), [x, t], (0, 1)),
    ]
    rtol, atol = (2e-5, 1e-6) if dtype == np.float32 else (1e-13, 1e-15)
    for fn, arrays, diff in cases:
        for got, want in zip(_run(fn, arrays, diff, backend), _run(fn, arrays, diff)):
            assert got.dtype == dtype
            np.testing.assert_allclose(got, want, rtol=rtol, atol=atol)


# -- bad input ----------------------------------------------------------------------------------
L = xg.losses


@pytest.mark.parametrize("call, exc, message", [
    (lambda x, y, i: L.gaussian_nll(x, y, x, reduction="avg"), ValueError,
     "reduction must be one of"),
    (lambda x, y, i: L.gaussian_nll(x, y[:2], x), ValueError, "gaussian_nll: target has shape"),
    (lambda x, y, i: L.gaussian_nll(x, y, x[:2]), ValueError, "gaussian_nll: var has shape"),
    (lambda x, y, i: L.gaussian_nll(x, y, x - 1.0), ValueError, "gaussian_nll: var must be >= 0"),
    (lambda x, y, i: L.gaussian_nll(x, y, -1.0), ValueError, "gaussian_nll: var must be >= 0"),
    (lambda x, y, i: L.gaussian_nll(x, y, "1"), TypeError, "gaussian_nll: var must be"),
    (lambda x, y, i: L.gaussian_nll(x, y, x, eps=-1.0), ValueError, "gaussian_nll: eps"),
    (lambda x, y, i: L.gaussian_nll(x, y, x, full=1), TypeError, "full"),
    (lambda x, y, i: L.gaussian_nll(i, y, x), TypeError, "gaussian_nll: input must be"),
    (lambda x, y, i: L.gaussian_nll(x, xg.astype(y, xg.float32), x), TypeError,
     "target has dtype float32"),
    (lambda x, y, i: L.poisson_nll(x, y[:1]), ValueError, "poisson_nll: target has shape"),
    (lambda x, y, i: L.poisson_nll(x, y, log_input="yes"), TypeError, "log_input"),
    (lambda x, y, i: L.poisson_nll(x, y, reduction="batchmean"), ValueError, "reduction"),
    (lambda x, y, i: L.margin_ranking(x, y, y[:2]), ValueError, "margin_ranking: y has shape"),
    (lambda x, y, i: L.margin_ranking(x, y[:2], y), ValueError,
     "margin_ranking: x2 has shape"),
    (lambda x, y, i: L.margin_ranking(x, y, y, margin="0.5"), TypeError,
     "margin_ranking: margin must be a real number"),
    (lambda x, y, i: L.margin_ranking(x, y, y, margin=math.nan), ValueError,
     "margin_ranking: margin must be a finite number"),
    (lambda x, y, i: L.margin_ranking(x, y, y, reduction=None), ValueError, "reduction"),
    (lambda x, y, i: L.hinge_embedding(x, y, margin=None), TypeError,
     "hinge_embedding: margin must be a real number"),
    (lambda x, y, i: L.hinge_embedding(x, y[:1]), ValueError, "hinge_embedding: y has shape"),
    (lambda x, y, i: L.soft_margin(x, xg.asarray([True, False, True])), TypeError,
     "soft_margin: y must be real numbers"),
    (lambda x, y, i: L.multilabel_soft_margin(x, y, weight=xg.ones(2, dtype=xg.float64)),
     ValueError, "multilabel_soft_margin: weight of shape"),
    (lambda x, y, i: L.multi_margin(x[None], i[:1], p=3), ValueError,
     "multi_margin: p must be 1 or 2"),
    (lambda x, y, i: L.multi_margin(x[None], i[:1], margin=[1.0]), TypeError,
     "multi_margin: margin must be a real number"),
    (lambda x, y, i: L.multi_margin(x[None], i), ValueError, r"multi_margin: y must have shape"),
    (lambda x, y, i: L.multi_margin(x[None], y[:1]), TypeError,
     "multi_margin: y must be integer class indices"),
    (lambda x, y, i: L.multi_margin(x[None], i[1:2] + 1), IndexError,
     "multi_margin: label 3 in y is out of range for 3 classes"),
    (lambda x, y, i: L.multi_margin(x[None], i[:1], weight=xg.ones(2, dtype=xg.float64)),
     ValueError, r"multi_margin: weight must have shape \(3,\)"),
    (lambda x, y, i: L.multi_margin(x[None, None], i[:1]), ValueError,
     r"multi_margin: x must have shape \(N, C\)"),
    (lambda x, y, i: L.triplet_margin(x, y, x, margin=0.0), ValueError,
     "triplet_margin: margin must be a finite number > 0"),
    (lambda x, y, i: L.triplet_margin(x, y, x, margin=-1.0), ValueError,
     "triplet_margin: margin"),
    (lambda x, y, i: L.triplet_margin(x, y, x[:2]), ValueError,
     "triplet_margin: negative has shape"),
    (lambda x, y, i: L.triplet_margin(x, y, x, p="2"), TypeError,
     "triplet_margin: p must be a real number"),
    (lambda x, y, i: L.triplet_margin(x, y, x, swap=None), TypeError, "swap"),
    (lambda x, y, i: L.cosine_embedding(x[None], y[None], y), ValueError,
     r"cosine_embedding: y must have shape \(1,\)"),
    (lambda x, y, i: L.cosine_embedding(x, y, y, margin="a"), TypeError,
     "cosine_embedding: margin must be a real number"),
    (lambda x, y, i: L.cosine_embedding(x[None, None], y[None, None], y[:1]), ValueError,
     r"cosine_embedding: x1 must have shape \(N, D\)"),
    (lambda x, y, i: xg.nn.normalize(x), ValueError, "axis 1 is out of range"),
    (lambda x, y, i: xg.nn.normalize(x, axis=0, p="fro"), TypeError, "normalize: p must be"),
    (lambda x, y, i: xg.nn.normalize(x, axis=0, eps=-1.0), ValueError, "normalize: eps"),
    (lambda x, y, i: xg.nn.normalize(i, axis=0), TypeError, "normalize: x must be"),
    (lambda x, y, i: xg.nn.cosine_similarity(x, y[:2], axis=0), ValueError,
     "cosine_similarity: x1 of shape .* and x2 of shape .* do not broadcast"),
    (lambda x, y, i: xg.nn.cosine_similarity(x, xg.astype(y, xg.float32), axis=0), TypeError,
     "cosine_similarity: x2 has dtype float32"),
    (lambda x, y, i: xg.nn.cosine_similarity(x, y, axis=1.0), TypeError, "axis must be an int"),
    (lambda x, y, i: xg.nn.pairwise_distance(x, y, keepdims="no"), TypeError, "keepdims"),
    (lambda x, y, i: xg.nn.pairwise_distance(x, y, p=math.nan), ValueError,
     "pairwise_distance: p must be"),
    (lambda x, y, i: xg.nn.pairwise_distance(x[0], y[0]), ValueError,
     "pairwise_distance: x1 and x2 need at least one axis"),
])
def test_bad_arguments_name_the_argument(call, exc, message):
    x = xg.asarray(np.array([0.5, 1.0, 2.0]))
    y = xg.asarray(np.array([1.0, -1.0, 1.0]))
    i = xg.asarray(np.array([0, 2, 1]))
    with pytest.raises(exc, match=message):
        call(x, y, i)


def test_torch_loss_classes_are_there_and_cosine_similarity_points_to_the_function():
    """The classes are tested against torch's in tests/test_loss_modules.py."""
    assert xg.nn.TripletMarginLoss(margin=2.0).margin == 2.0
    assert xg.nn.GaussianNLLLoss(full=True).full is True
    with pytest.raises(AttributeError, match=r"xg\.nn\.cosine_similarity"):
        xg.nn.CosineSimilarity


def test_names_are_exported():
    for name in ("gaussian_nll", "poisson_nll", "margin_ranking", "hinge_embedding",
                 "soft_margin", "multilabel_soft_margin", "multi_margin", "triplet_margin",
                 "cosine_embedding"):
        assert name in xg.losses.__all__ and callable(getattr(xg.losses, name))
    for name in ("normalize", "cosine_similarity", "pairwise_distance"):
        assert name in xg.nn.__all__ and callable(getattr(xg.nn, name))


def test_traced_step_replays_and_keeps_the_checks(rng):
    """Under xg.function the composed losses replay the eager values and gradients, and the
    range checks (var >= 0, labels in range) still run on each call."""
    def step(x, t, v, y):
        with xg.GradientTape() as tape:
            tape.watch(x)
            loss = (xg.losses.gaussian_nll(x, t, v) + xg.losses.triplet_margin(x, t, v, swap=True)
                    + xg.losses.multi_margin(x, y) + xg.sum(xg.nn.cosine_similarity(x, t)))
        return loss, tape.gradient(loss, x)

    traced = xg.function(step)
    for _ in range(3):
        args = [xg.asarray(rng.standard_normal((4, 3))), xg.asarray(rng.standard_normal((4, 3))),
                xg.asarray(rng.uniform(0.1, 1.0, (4, 3))), xg.asarray(rng.integers(0, 3, 4))]
        for got, want in zip(traced(*args), step(*args)):
            np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-12)
    with pytest.raises(ValueError, match="gaussian_nll: var must be >= 0"):
        traced(args[0], args[1], xg.asarray(-np.ones((4, 3))), args[3])
    with pytest.raises(IndexError, match="multi_margin: label 3"):
        traced(args[0], args[1], args[2], xg.asarray(np.array([0, 1, 2, 3])))
