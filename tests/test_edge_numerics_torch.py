"""Values at the edges -- NaN, +-inf, +-0, huge, denormal -- against PyTorch (CPU), on every
host backend, in float32 and float64: forward values and gradients of the activations and
elementwise functions, row functions (softmax, log_softmax, logsumexp, max, min) and the losses,
norms at 0, and optimizer updates with huge or NaN gradients. Where xpgrad differs from PyTorch
on purpose, the case says why and checks xpgrad's own answer against a reference (the
mathematical limit, JAX's rule, or PyTorch on the same problem without the edge); the list is
in docs/design-choices.md ("Numbers at the edges").

Also here: half-precision inputs are refused with an error naming the argument and saying
what to do, and truthy non-bools (``keepdims="no"``) are refused where a flag is expected.
"""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import xpgrad as xg
from conftest import backend_report

BACKENDS = [b for b in ("numpy", "numba") if b in backend_report()]
DTYPES = [np.float32, np.float64]
nan, inf = math.nan, math.inf


def _torch():
    return pytest.importorskip("torch")


def _edges(dtype):
    """NaN, infinities, signed zeros, huge, largest, denormal and ordinary values."""
    if dtype == np.float32:
        huge, top, tiny, far = 1e30, 3e38, 1e-40, 100.0
    else:
        huge, top, tiny, far = 1e300, 1.7e308, 1e-310, 800.0
    pairs = [(nan,), (inf, -inf), (0.0, -0.0), (huge, -huge), (top, -top), (tiny, -tiny),
             (1.0, -1.0), (25.0, -25.0), (far, -far)]
    return np.array([v for p in pairs for v in p], dtype)


def _rtol(dtype):
    return 2e-6 if dtype == np.float32 else 1e-13


def _assert_same(got, want, dtype, what, ulps=0):
    """Equal NaN positions and values to a few ulp; anything smaller than the smallest normal
    counts as 0 (the Numba kernels flush results below it, see docs/design-choices.md), and
    with ``ulps`` anything within that many ulp of 1 (sums of O(1) terms that cancel)."""
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want), err_msg=f"{what}: NaN at")
    atol = max(float(np.finfo(dtype).tiny), ulps * float(np.finfo(dtype).eps))
    np.testing.assert_allclose(got, want, rtol=_rtol(dtype), atol=atol, err_msg=what)


def _ours(f, arrays, backend, watch=(0,)):
    xs = [xg.asarray(a, backend=backend) for a in arrays]
    with xg.GradientTape() as tape:
        tape.watch([xs[i] for i in watch])
        y = f(*xs)
        total = xg.sum(y)
    grads = tape.gradient(total, [xs[i] for i in watch])
    return y.numpy(), [g.numpy() for g in grads]


def _theirs(f, arrays, watch=(0,)):
    torch = _torch()
    ts = [torch.tensor(a, requires_grad=i in watch) for i, a in enumerate(arrays)]
    y = f(*ts)
    y.sum().backward()
    return y.detach().numpy(), [ts[i].grad.numpy() for i in watch]


# -- elementwise functions and activations -------------------------------------------------
def _unary():
    torch = _torch()
    fn = torch.nn.functional
    return {
        "relu": (xg.nn.relu, torch.relu),
        "leaky_relu": (lambda x: xg.nn.leaky_relu(x, negative_slope=0.1),
                       lambda t: fn.leaky_relu(t, 0.1)),
        "softplus": (xg.nn.softplus, fn.softplus),
        "sigmoid": (xg.nn.sigmoid, torch.sigmoid),
        "tanh": (xg.tanh, torch.tanh),
        "abs": (xg.abs, torch.abs),
        "sign": (xg.sign, torch.sign),
        "sqrt": (xg.sqrt, torch.sqrt),
        "exp": (xg.exp, torch.exp),
        "log": (xg.log, torch.log),
        "square": (xg.square, torch.square),
    }


def _softplus_grad_exact(x):
    return np.array([1.0 / (1.0 + math.exp(-v)) if v > -700 else math.exp(v) for v in x])


# Deliberate differences: (function, forward or gradient) -> (where, what xpgrad gives, why).
# ``want(x)`` is the reference at the entries ``where(x)`` selects.
DIFFERENT = {
    ("abs", "grad"): (np.isnan, lambda x: np.full(x.shape, nan),
                      "PyTorch gives 0 at NaN (sgn(NaN) = 0), hiding the NaN; xpgrad passes it "
                      "on (JAX gives -1, no better)"),
    ("sign", "value"): (np.isnan, lambda x: np.full(x.shape, nan),
                        "sign(NaN) is NaN in the array API standard, NumPy and JAX; PyTorch "
                        "gives 0"),
    ("softplus", "grad"): (lambda x: np.abs(x) >= 20, _softplus_grad_exact,
                           "PyTorch returns x itself above its threshold (20), so its gradient "
                           "there is exactly 1; xpgrad's is sigmoid(x), as JAX's"),
    ("softplus", "value"): (lambda x: x >= 20, lambda x: np.logaddexp(x, 0.0),
                            "PyTorch returns x above its threshold; xpgrad log(1 + exp(x))"),
}


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", ["relu", "leaky_relu", "softplus", "sigmoid", "tanh", "abs",
                                  "sign", "sqrt", "exp", "log", "square"])
def test_elementwise_values_and_gradients_at_the_edges_match_torch(name, backend, dtype):
    ours, theirs = _unary()[name]
    x = _edges(dtype)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        y, (g,) = _ours(ours, [x], backend)
        ty, (tg,) = _theirs(theirs, [x])
    for what, got, want in (("value", y, ty), ("grad", g, tg)):
        if (name, what) in DIFFERENT:
            where, reference, _ = DIFFERENT[(name, what)]
            mask = where(x)
            with np.errstate(all="ignore"):
                want = np.where(mask, reference(x.astype(np.float64)), want)
        _assert_same(got, want, dtype, f"{name} {what}")


def test_relu_passes_the_gradient_to_a_nan_input_like_maximum():
    """relu(NaN) is NaN, so the NaN input gets the gradient, as for maximum(x, 0)."""
    x = xg.asarray(np.array([nan, -1.0, 2.0]))
    with xg.GradientTape(persistent=True) as tape:
        tape.watch(x)
        a = xg.sum(xg.nn.relu(x) * 3.0)
        b = xg.sum(xg.maximum(x, 0.0) * 3.0)
    np.testing.assert_array_equal(tape.gradient(a, x).numpy(), tape.gradient(b, x).numpy())


# -- rows: softmax, log_softmax, logsumexp, max, min, softmax cross-entropy -----------------
ROWS = [[nan, 0.0, 1.0], [inf, 0.0, 1.0], [-inf, 0.0, 1.0], [inf, inf, 0.0],
        [-inf, -inf, -inf], [1e30, -1e30, 0.0], [3e38, 3e38, -3e38], [0.0, -0.0, 0.0]]


def _rows():
    torch = _torch()
    fn = torch.nn.functional
    return {
        "softmax": (lambda x: xg.nn.softmax(x), lambda t: fn.softmax(t, -1)),
        "log_softmax": (lambda x: xg.nn.log_softmax(x), lambda t: fn.log_softmax(t, -1)),
        "logsumexp": (lambda x: xg.logsumexp(x, axis=-1), lambda t: torch.logsumexp(t, -1)),
        "max": (lambda x: xg.max(x, axis=-1), lambda t: t.amax(-1)),
        "min": (lambda x: xg.min(x, axis=-1), lambda t: t.amin(-1)),
    }


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", ["softmax", "log_softmax", "logsumexp", "max", "min"])
def test_row_functions_at_the_edges_match_torch(name, backend, dtype):
    ours, theirs = _rows()[name]
    for row in ROWS:
        x = np.array([row], dtype)
        with np.errstate(all="ignore"):
            y, (g,) = _ours(ours, [x], backend)
            ty, (tg,) = _theirs(theirs, [x])
        _assert_same(y, ty, dtype, f"{name} of {row}", ulps=4)
        _assert_same(g, tg, dtype, f"{name} gradient of {row}", ulps=4)


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("reduction", ["mean", "none"])
def test_softmax_cross_entropy_at_the_edges_matches_torch(reduction, backend, dtype):
    torch = _torch()
    for row in ROWS:
        x = np.array([row, [0.5, -0.5, 2.0]], dtype)
        for label in (0, 1):
            labels = np.array([label, 2])
            with np.errstate(all="ignore"):
                y, (g,) = _ours(lambda a, b: xg.losses.softmax_cross_entropy(
                    a, b, reduction=reduction), [x, labels], backend)
                ty, (tg,) = _theirs(lambda a, b: torch.nn.functional.cross_entropy(
                    a, b, reduction=reduction), [x, labels])
            _assert_same(y, ty, dtype, f"loss of {row}, label {label}", ulps=4)
            _assert_same(g, tg, dtype, f"gradient of {row}, label {label}", ulps=4)


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("backend", BACKENDS)
def test_a_masked_class_without_target_weight_costs_nothing(backend, dtype):
    """Probability targets: a class with logit -inf and target 0 is left out (0 * log 0 = 0),
    where PyTorch gives NaN: the loss and gradient are PyTorch's on the other classes."""
    x = np.array([[-inf, 0.0, 1.0], [2.0, -inf, -1.0]], dtype)
    t = np.array([[0.0, 0.25, 0.75], [0.5, 0.0, 0.5]], dtype)
    with np.errstate(all="ignore"):
        y, (g,) = _ours(xg.losses.softmax_cross_entropy, [x, t], backend)
    torch = _torch()
    kept = [np.array([[0.0, 1.0]], dtype), np.array([[2.0, -1.0]], dtype)]
    targets = [np.array([[0.25, 0.75]], dtype), np.array([[0.5, 0.5]], dtype)]
    want = sum(_theirs(lambda a, b: torch.nn.functional.cross_entropy(a, b, reduction="sum"),
                       [k, tt])[0] for k, tt in zip(kept, targets)) / 2
    _assert_same(y, want, dtype, "loss")
    (tg0,), (tg1,) = (_theirs(lambda a, b: torch.nn.functional.cross_entropy(
        a, b, reduction="sum") / 2, [k, tt])[1] for k, tt in zip(kept, targets))
    _assert_same(g, [[0.0, *tg0[0]], [tg1[0, 0], 0.0, tg1[0, 1]]], dtype, "gradient")


# -- elementwise losses --------------------------------------------------------------------
LOGITS = [nan, inf, -inf, 0.0, -0.0, 1e30, -1e30, 1.0, -1.0, 100.0, -100.0]


def _bce_limit(x, t):
    """The loss ``t softplus(-x) + (1 - t) softplus(x)`` at x = +-inf: the weight on the side
    that loses times inf, and 0 when that weight is exactly 0."""
    weight = np.where(x > 0, 1.0 - t, t)
    with np.errstate(invalid="ignore"):
        return np.where(weight == 0, 0.0, weight * np.inf)


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("reduction", ["none", "sum"])
def test_sigmoid_cross_entropy_at_infinite_logits_is_the_limit(reduction, backend, dtype):
    """At an infinite logit, PyTorch's answer where it has one (inf for x=+inf, t=0) and the
    limit where PyTorch gives NaN (x=+inf, t=1 or x=-inf, t<1): 0 or inf, never NaN. Finite
    logits: the formula in float64 (PyTorch's float64 loss of x=-100, t=0 is 0, not 3.7e-44);
    gradients: PyTorch's."""
    torch = _torch()
    for target in (0.0, 1.0, 0.5, 0.25):
        x = np.array(LOGITS, dtype)
        t = np.full_like(x, target)
        with np.errstate(all="ignore"):
            y, (gx, gt) = _ours(lambda a, b: xg.losses.sigmoid_cross_entropy_with_logits(
                a, b, reduction="none"), [x, t], backend, watch=(0, 1))
            ty, (tgx, tgt) = _theirs(lambda a, b: torch.nn.functional
                                     .binary_cross_entropy_with_logits(a, b, reduction="none"),
                                     [x, t], watch=(0, 1))
            wide = x.astype(np.float64)
            exact = np.maximum(wide, 0) - wide * target + np.log1p(np.exp(-np.abs(wide)))
            want = np.where(np.isinf(x), _bce_limit(wide, target), exact)
            keep = ~np.isnan(x)
            total = xg.losses.sigmoid_cross_entropy_with_logits(
                xg.asarray(x[keep], backend=backend), xg.asarray(t[keep], backend=backend),
                reduction=reduction)
        _assert_same(y, want, dtype, f"loss, target {target}")
        _assert_same(gx, tgx, dtype, f"logits' gradient, target {target}")
        _assert_same(gt, tgt, dtype, f"targets' gradient, target {target}")
        want_total = want[keep] if reduction == "none" else want[keep].astype(np.float64).sum()
        _assert_same(total.numpy(), want_total, dtype, f"{reduction} loss, target {target}")


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("backend", BACKENDS)
def test_sigmoid_cross_entropy_of_exactly_predicted_infinite_logits_is_zero(backend, dtype):
    x = xg.asarray(np.array([inf, -inf, inf, -inf], dtype), backend=backend)
    t = xg.asarray(np.array([1.0, 0.0, 1.0, 0.0], dtype), backend=backend)
    for reduction in ("mean", "sum"):
        loss = xg.losses.sigmoid_cross_entropy_with_logits(x, t, reduction=reduction)
        assert loss.item() == 0.0


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("backend", BACKENDS)
def test_mse_at_the_edges_matches_torch(backend, dtype):
    torch = _torch()
    x = np.array(LOGITS, dtype)
    for target in (0.0, inf, nan):
        t = np.full_like(x, target)
        with np.errstate(all="ignore"):
            y, grads = _ours(lambda a, b: xg.losses.mse(a, b, reduction="none"), [x, t], backend,
                             watch=(0, 1))
            ty, tgrads = _theirs(lambda a, b: torch.nn.functional.mse_loss(
                a, b, reduction="none"), [x, t], watch=(0, 1))
        _assert_same(y, ty, dtype, f"loss, target {target}")
        for g, tg in zip(grads, tgrads):
            _assert_same(g, tg, dtype, f"gradient, target {target}")


# -- norms at zero ------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("ord", [2, 1, inf, -inf, 3, 0.5])
def test_vector_norm_gradient_at_the_zero_vector_is_zero_like_torch(ord, backend, dtype):
    torch = _torch()
    for v in ([0.0, 0.0, 0.0], [0.0, -0.0], [1e-40, 0.0], [3.0, -4.0]):
        x = np.array(v, dtype)
        with np.errstate(all="ignore"):
            y, (g,) = _ours(lambda a: xg.linalg.vector_norm(a, ord=ord), [x], backend)
            ty, (tg,) = _theirs(lambda a: torch.linalg.vector_norm(a, ord=ord), [x])
        _assert_same(y, ty, dtype, f"norm of {v}")
        _assert_same(g, tg, dtype, f"gradient at {v}")


# -- optimizers ---------------------------------------------------------------------------
def _optimizers():
    optim = _torch().optim
    return {
        "sgd": (lambda: xg.optim.SGD(0.1), lambda p: optim.SGD(p, lr=0.1)),
        "momentum": (lambda: xg.optim.SGD(0.1, momentum=0.9),
                     lambda p: optim.SGD(p, lr=0.1, momentum=0.9)),
        "nesterov": (lambda: xg.optim.SGD(0.1, momentum=0.9, nesterov=True),
                     lambda p: optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True)),
        "sgd_decay": (lambda: xg.optim.SGD(0.1, weight_decay=0.1),
                      lambda p: optim.SGD(p, lr=0.1, weight_decay=0.1)),
        "adam": (lambda: xg.optim.Adam(0.1), lambda p: optim.Adam(p, lr=0.1)),
        "adam_decay": (lambda: xg.optim.Adam(0.1, weight_decay=0.1),
                       lambda p: optim.Adam(p, lr=0.1, weight_decay=0.1)),
        "adamw": (lambda: xg.optim.AdamW(0.1), lambda p: optim.AdamW(p, lr=0.1)),
        "rmsprop": (lambda: xg.optim.RMSprop(0.1), lambda p: optim.RMSprop(p, lr=0.1)),
        "rmsprop_momentum": (lambda: xg.optim.RMSprop(0.1, momentum=0.9),
                             lambda p: optim.RMSprop(p, lr=0.1, momentum=0.9)),
        "adagrad": (lambda: xg.optim.Adagrad(0.1), lambda p: optim.Adagrad(p, lr=0.1)),
        "adadelta": (lambda: xg.optim.Adadelta(1.0), lambda p: optim.Adadelta(p, lr=1.0)),
    }


def _gradients(dtype):
    """Huge (|g| > 1.8e19 overflows g * g in float32; > 1.3e154 in float64), infinite, NaN,
    denormal and ordinary gradients."""
    if dtype == np.float32:
        huge = [1e20, -1e20, 2e19, 3e38, -3e38, 1e-40]
    else:
        huge = [1e160, -1e160, 1e155, 1e300, -1e300, 1e-310]
    return np.array(huge + [nan, inf, -inf, 0.0, 1.0, -3.0], dtype)


def _steps(make_ours, make_theirs, backend, dtype):
    torch = _torch()
    g0 = _gradients(dtype)
    start = np.linspace(-1, 1, g0.size).astype(dtype)
    v = xg.Variable(xg.asarray(start, backend=backend), name="v")
    w = torch.tensor(start, requires_grad=True)
    ours, theirs = make_ours(), make_theirs([w])
    for step in range(3):
        g = g0 if step == 0 else np.full_like(g0, 0.5 * step)
        ours.apply_gradients([(xg.asarray(g, backend=backend), v)])
        w.grad = torch.tensor(g)
        theirs.step()
        yield step, v.numpy(), w.detach().numpy()


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", ["sgd", "momentum", "nesterov", "sgd_decay", "adam",
                                  "adam_decay", "adamw", "rmsprop", "rmsprop_momentum",
                                  "adagrad", "adadelta"])
def test_updates_with_huge_infinite_and_nan_gradients_match_torch(name, backend, dtype):
    """NaN gradients reach the weights (nothing hides them) and huge ones move a weight as
    PyTorch's step does: Adam's step stays lr even where g * g / (1 - beta2) overflows."""
    make_ours, make_theirs = _optimizers()[name]
    with np.errstate(all="ignore"):
        for step, got, want in _steps(make_ours, make_theirs, backend, dtype):
            np.testing.assert_array_equal(np.isnan(got), np.isnan(want),
                                          err_msg=f"NaN after step {step}")
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6,
                                       err_msg=f"after step {step}")


# -- half precision is refused, saying what to do -------------------------------------------
@pytest.mark.parametrize("make, words", [
    (lambda: xg.asarray(np.ones(3, np.float16)), ["asarray: obj has dtype float16",
                                                   "astype(np.float32)"]),
    (lambda: xg.asarray([1.0, 2.0], dtype="float16"), ["dtype: unsupported dtype 'float16'",
                                                       "pass dtype=xg.float32"]),
    (lambda: xg.ones(3, dtype=np.float16), ["dtype: unsupported", "pass dtype=xg.float32"]),
    (lambda: xg.astype(xg.ones(2), "bfloat16"), ["dtype: unsupported dtype 'bfloat16'",
                                                 "pass dtype=xg.float32"]),
    (lambda: xg.Variable(np.ones(2, np.float16)), ["Variable: initial_value has dtype float16",
                                                   "astype(np.float32)"]),
    (lambda: xg.zeros_like(xg.ones(2), dtype="half"), ["dtype: unsupported dtype 'half'",
                                                       "pass dtype=xg.float32"]),
])
def test_half_precision_is_refused_naming_the_argument(make, words):
    with pytest.raises(TypeError, match="no half precision") as info:
        make()
    for word in words:
        assert word in str(info.value)


def test_half_precision_torch_tensors_are_refused_naming_the_argument():
    torch = _torch()
    for dtype, name in ((torch.float16, "float16"), (torch.bfloat16, "bfloat16")):
        with pytest.raises(TypeError, match=rf"obj has dtype {name}.*t\.float\(\)"):
            xg.asarray(torch.ones(2, dtype=dtype))


# -- flags: only True or False -------------------------------------------------------------
X = np.arange(6.0).reshape(2, 3)
FLAGS = {
    "keepdims (sum)": (lambda v: xg.sum(xg.asarray(X), keepdims=v), "keepdims"),
    "keepdims (max)": (lambda v: xg.max(xg.asarray(X), keepdims=v), "keepdims"),
    "keepdims (std)": (lambda v: xg.std(xg.asarray(X), keepdims=v), "keepdims"),
    "keepdims (any)": (lambda v: xg.any(xg.asarray(X) > 1, keepdims=v), "keepdims"),
    "keepdims (logsumexp)": (lambda v: xg.logsumexp(xg.asarray(X), keepdims=v), "keepdims"),
    "keepdims (vector_norm)": (lambda v: xg.linalg.vector_norm(xg.asarray(X), keepdims=v),
                               "keepdims"),
    "keepdims (matrix_norm)": (lambda v: xg.linalg.matrix_norm(xg.eye(2), keepdims=v),
                               "keepdims"),
    "persistent": (lambda v: xg.GradientTape(persistent=v), "persistent"),
    "watch_accessed_variables": (lambda v: xg.GradientTape(watch_accessed_variables=v),
                                 "watch_accessed_variables"),
    "trainable": (lambda v: xg.Variable(xg.asarray(X), trainable=v), "trainable"),
    "bias (Linear)": (lambda v: xg.nn.Linear(3, 2, bias=v), "bias"),
    "bias (MLP)": (lambda v: xg.nn.MLP([2, 3], bias=v), "bias"),
    "mode (train)": (lambda v: xg.nn.Dropout(0.5).train(v), "mode"),
    "training (Dropout)": (lambda v: _dropout_with_training(v), "training"),
    "descending (sort)": (lambda v: xg.sort(xg.asarray(X), descending=v), "descending"),
    "stable (sort)": (lambda v: xg.sort(xg.asarray(X), stable=v), "stable"),
    "descending (argsort)": (lambda v: xg.argsort(xg.asarray(X), descending=v), "descending"),
    "upper (cholesky)": (lambda v: xg.linalg.cholesky(xg.eye(2), upper=v), "upper"),
    "full_matrices (svd)": (lambda v: xg.linalg.svd(xg.eye(2), full_matrices=v),
                            "full_matrices"),
    "copy (asarray)": (lambda v: xg.asarray(xg.asarray(X), copy=v), "copy"),
    "endpoint (linspace)": (lambda v: xg.linspace(0, 1, 5, endpoint=v), "endpoint"),
    "include_initial": (lambda v: xg.cumulative_sum(xg.asarray(X), axis=1,
                                                    include_initial=v), "include_initial"),
    "has_aux": (lambda v: xg.grad(lambda a: xg.sum(a), has_aux=v)(xg.asarray(X)), "has_aux"),
    "nesterov": (lambda v: xg.optim.SGD(0.1, momentum=0.9, nesterov=v), "nesterov"),
    "keepdims (mean)": (lambda v: xg.mean(xg.asarray(X), keepdims=v), "keepdims"),
    "keepdims (argmax)": (lambda v: xg.argmax(xg.asarray(X), keepdims=v), "keepdims"),
    "invert (isin)": (lambda v: xg.isin(xg.asarray([1, 2]), xg.asarray([2]), invert=v),
                      "invert"),
    "copy (astype)": (lambda v: xg.astype(xg.asarray(X), xg.float32, copy=v), "copy"),
    "copy (reshape)": (lambda v: xg.reshape(xg.asarray(X), (3, 2), copy=v), "copy"),
    "bias (LSTM)": (lambda v: xg.nn.LSTM(3, 4, bias=v), "bias"),
    "bias (RNNCell)": (lambda v: xg.nn.RNNCell(3, 4, bias=v), "bias"),
    "staircase": (lambda v: xg.optim.ExponentialDecay(0.1, 10, 0.5, staircase=v), "staircase"),
    "has_aux (value_and_grad)": (lambda v: xg.value_and_grad(lambda a: xg.sum(a), has_aux=v)(
        xg.asarray(X)), "has_aux"),
}


def _dropout_with_training(value):
    layer = xg.nn.Dropout(0.5, rng=0)
    layer.training = value
    return layer(xg.ones(4))


@pytest.mark.parametrize("value", ["no", "False", 1, None])
@pytest.mark.parametrize("case", sorted(FLAGS))
def test_flags_refuse_anything_but_true_or_false(case, value):
    call, name = FLAGS[case]
    if value is None and name in ("copy", "trainable"):
        return                      # None is a value these take (copy if needed; by dtype)
    with pytest.raises(TypeError, match=rf"{name} must be True"):    # (copy: "or None")
        call(value)


@pytest.mark.parametrize("case", sorted(FLAGS))
def test_flags_take_python_and_numpy_bools(case):
    call, _ = FLAGS[case]
    for value in (True, False, np.True_, np.False_):
        try:
            call(value)
        except (TypeError, ValueError) as e:   # refused for another reason (has_aux=True here)
            assert "must be True or False" not in str(e)
