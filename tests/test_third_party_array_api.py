"""More of other people's array-API code on xpgrad Tensors under a tape.

Continues ``tests/test_third_party.py`` (whose ``check`` helper this file reuses): einops'
main API (``einops.rearrange``/``reduce``/``repeat``/``einsum``/``pack``, not only
``einops.array_api``), more scikit-learn estimators, metrics and ``utils.extmath`` helpers, more
SciPy ``stats``, and what happens when a library's result leaves the tape as a Python float.
Each library is skipped where it is not installed.
"""
import subprocess
import sys

import numpy as np
import pytest

import xpgrad as xg
from test_third_party import (_data, _on_numpy, _scipy, backend, check,  # noqa: F401 (fixtures)
                               sklearn_dispatch)


# -------------------------------------------------------------------------- einops (main API)

@pytest.fixture
def einops():
    return pytest.importorskip("einops", minversion="0.7")


def _printed_by_a_fresh_python(code):
    """What ``code`` prints, run in a new interpreter (its imports in its own order)."""
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True).stdout


EINOPS_CASES = {
    "rearrange transpose": (lambda e, x: e.rearrange(x, "a b -> b a"), [(4, 6)]),
    "rearrange split and merge": (lambda e, x: e.rearrange(x, "a (b c) -> (a b) c", c=2),
                                  [(4, 6)]),
    "rearrange new axis": (lambda e, x: e.rearrange(x, "a b -> a 1 b"), [(4, 6)]),
    "reduce mean": (lambda e, x: e.reduce(x, "a b -> a", "mean"), [(4, 6)]),
    "reduce max pooling": (lambda e, x: e.reduce(x, "(h h2) (w w2) -> h w", "max", h2=2, w2=3),
                           [(4, 6)]),
    "reduce sum keep axis": (lambda e, x: e.reduce(x, "a b -> a 1", "sum"), [(4, 6)]),
    "reduce prod": (lambda e, x: e.reduce(x, "a b -> b", "prod"), [(3, 4)]),
    "repeat new axis": (lambda e, x: e.repeat(x, "a b -> a r b", r=3), [(4, 6)]),
    "repeat tile axis": (lambda e, x: e.repeat(x, "a b -> (r a) b", r=2), [(4, 6)]),
    "einsum": (lambda e, x, y: e.einsum(x, y, "a b, c b -> a c"), [(4, 6), (3, 6)]),
    "pack": (lambda e, x, y: e.pack([x, y], "a *")[0], [(4, 6), (4, 2, 3)]),
    "unpack": (lambda e, x: e.unpack(x, [(2,), (4,)], "a *")[1], [(3, 6)]),
}


@pytest.mark.parametrize("name", sorted(EINOPS_CASES))
def test_einops_main_api_value_and_gradient(name, einops, backend):
    f, shapes = EINOPS_CASES[name]
    check(lambda *xs: f(einops, *xs), _data(31, *shapes), backend)


def test_einops_main_api_parse_shape_and_asnumpy(einops, backend):
    x = xg.asarray(_data(3, (4, 6))[0], backend=backend)
    assert einops.parse_shape(x, "a b") == {"a": 4, "b": 6}
    np.testing.assert_array_equal(einops.asnumpy(x), x.numpy())


def test_einops_main_api_when_einops_is_imported_after_xpgrad():
    pytest.importorskip("einops")
    code = ("import xpgrad as xg, einops\n"
            "x = xg.asarray([[1.0, 2.0], [3.0, 4.0]])\n"
            "with xg.GradientTape() as tape:\n"
            "    tape.watch(x)\n"
            "    y = xg.sum(einops.rearrange(x, 'a b -> b a') * x)\n"
            "print(tape.gradient(y, x).numpy().tolist())\n")
    out = _printed_by_a_fresh_python(code)
    assert out.strip() == "[[2.0, 6.0], [4.0, 8.0]]"     # 2 x.T


def test_einops_main_api_before_xpgrad_is_imported():
    pytest.importorskip("einops")
    code = ("import einops, numpy as np\n"
            "assert einops.rearrange(np.ones((2, 3)), 'a b -> b a').shape == (3, 2)\n"
            "import xpgrad as xg\n"
            "print(einops.rearrange(xg.ones((2, 3)), 'a b -> b a').shape)\n")
    out = _printed_by_a_fresh_python(code)
    assert out.strip() == "(3, 2)"


def test_einops_mean_of_integers_is_refused_as_on_numpy(einops):
    with pytest.raises(NotImplementedError, match="non-floating"):
        einops.reduce(np.asarray([[1, 2], [3, 4]]), "a b -> a", "mean")
    with pytest.raises(NotImplementedError, match="non-floating"):
        einops.reduce(xg.asarray([[1, 2], [3, 4]]), "a b -> a", "mean")


# ------------------------------------------------------- results that leave the tape as numbers

def test_gradient_of_a_python_float_says_the_value_left_the_tape():
    p = xg.asarray([0.5, -1.0, 2.0])
    with xg.GradientTape() as tape:
        tape.watch(p)
        loss = float(xg.sum(p * p))
    with pytest.raises(TypeError, match=r"target.*float.*left the tape.*float\(\)"):
        tape.gradient(loss, p)


def test_gradient_of_a_sklearn_metric_says_the_value_left_the_tape(sklearn_dispatch, backend):
    from sklearn.metrics import log_loss, mean_squared_error

    y_true = xg.asarray([0.0, 1.0, 1.0, 0.0], backend=backend)
    p = xg.asarray([0.2, 0.7, 0.9, 0.4], backend=backend)
    for metric in (mean_squared_error, log_loss):
        with xg.GradientTape() as tape:
            tape.watch(p)
            loss = metric(y_true, p)
        assert loss == pytest.approx(metric(y_true.numpy(), p.numpy()), rel=1e-12)
        with pytest.raises(TypeError, match="left the tape"):
            tape.gradient(loss, p)


def test_gradient_of_a_numpy_array_says_the_value_left_the_tape():
    p = xg.asarray([0.5, -1.0])
    with xg.GradientTape() as tape:
        tape.watch(p)
        loss = xg.sum(p * p).numpy()
    with pytest.raises(TypeError, match="ndarray.*left the tape"):
        tape.gradient(loss, p)


# ------------------------------------------- writes into what NumPy and PyTorch would make a view

def test_writing_into_a_slice_writes_into_the_tensor_it_came_from():
    """A slice is a view (docs/array-api.md): code that writes through one, as
    scikit-learn's GaussianMixture does, computes what it does on NumPy."""
    covariances = xg.zeros((2, 3, 3))
    block = covariances[1, :, :]
    block[0, 0] = 1.0
    block += 2.0
    expected = np.zeros((2, 3, 3))
    view = expected[1, :, :]
    view[0, 0] = 1.0
    view += 2.0
    assert block[0, 0].item() == 3.0 and covariances.tolist() == expected.tolist()


# ------------------------------------------------- scikit-learn: more estimators and helpers

def _like(x, labels):
    """``labels`` (a NumPy array) as ``x`` is: a Tensor on ``x``'s backend, or NumPy."""
    return xg.asarray(labels, backend=x.backend.name) if isinstance(x, xg.Tensor) else labels


def _labels(n):
    return (np.arange(n) % 3 == 0).astype(np.int64)


SKLEARN_CASES = {
    "GaussianNB predict_proba": lambda sk, X: sk.naive_bayes.GaussianNB().fit(
        X, _like(X, _labels(X.shape[0]))).predict_proba(X),
    "RidgeCV predict": lambda sk, X: sk.linear_model.RidgeCV(alphas=(0.1, 1.0)).fit(
        X, X[:, 0] - 2 * X[:, 1]).predict(X),
    "RidgeClassifier decision_function": lambda sk, X: sk.linear_model.RidgeClassifier(
        solver="svd").fit(X, _like(X, _labels(X.shape[0]))).decision_function(X),
    "PolynomialFeatures": lambda sk, X: sk.preprocessing.PolynomialFeatures(2).fit_transform(X),
    "KernelCenterer": lambda sk, X: sk.preprocessing.KernelCenterer().fit_transform(X @ X.T),
    "Normalizer": lambda sk, X: sk.preprocessing.Normalizer().fit_transform(X),
    "Nystroem": lambda sk, X: sk.kernel_approximation.Nystroem(
        n_components=5, random_state=0).fit_transform(X),
    "PCA covariance_eigh": lambda sk, X: sk.decomposition.PCA(
        2, svd_solver="covariance_eigh").fit_transform(X),
    "PCA inverse_transform": lambda sk, X: (lambda p: p.inverse_transform(p.transform(X)))(
        sk.decomposition.PCA(2, svd_solver="full").fit(X)),
    "pairwise_distances cosine": lambda sk, X: sk.metrics.pairwise_distances(
        X, X[:3], metric="cosine"),
    "additive_chi2_kernel": lambda sk, X: sk.metrics.pairwise.additive_chi2_kernel(
        X * X, X[:3] * X[:3] + 0.1),
    "extmath.row_norms": lambda sk, X: sk.utils.extmath.row_norms(X, squared=True),
    "extmath.safe_sparse_dot": lambda sk, X: sk.utils.extmath.safe_sparse_dot(X, X.T),
    "extmath.softmax": lambda sk, X: sk.utils.extmath.softmax(X),
    # its variance computes a 0/0 (first batch) it overwrites: NaN gradient, as StandardScaler
    "extmath._incremental_mean_and_var mean": lambda sk, X: sk.utils.extmath.
        _incremental_mean_and_var(X, 0.0, 0.0, 0)[0],
}


def _sklearn_modules():
    import importlib

    import sklearn

    for name in ("naive_bayes", "linear_model", "preprocessing", "kernel_approximation",
                 "decomposition", "metrics", "metrics.pairwise", "utils.extmath"):
        importlib.import_module(f"sklearn.{name}")
    return sklearn


# _incremental_mean_and_var's 0/0 warns on xpgrad's NumPy backend (scikit-learn silences it
# with np.errstate only for NumPy itself; PyTorch never warns)
@pytest.mark.filterwarnings("ignore:invalid value encountered in divide:RuntimeWarning")
@pytest.mark.parametrize("name", sorted(SKLEARN_CASES))
def test_sklearn_value_and_gradient(name, sklearn_dispatch, backend):
    sk = _sklearn_modules()
    f = SKLEARN_CASES[name]
    check(lambda X: f(sk, X), _data(7, (12, 4)), backend,
          reference=_on_numpy(lambda X: f(sk, X)), rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("metric", ["mean_squared_error", "mean_absolute_error", "r2_score",
                                    "explained_variance_score", "log_loss", "brier_score_loss",
                                    "mean_poisson_deviance", "d2_tweedie_score"])
def test_sklearn_metrics_agree_with_numpy(metric, sklearn_dispatch, backend):
    import sklearn.metrics

    f = getattr(sklearn.metrics, metric)
    rng = np.random.default_rng(3)
    y_true = (rng.random(10) > 0.5).astype(np.float64) + 0.25
    y_pred = rng.uniform(0.1, 0.9, 10)
    if metric in ("log_loss", "brier_score_loss"):
        y_true = np.floor(y_true)
    got = f(xg.asarray(y_true, backend=backend), xg.asarray(y_pred, backend=backend))
    assert got == pytest.approx(_on_numpy(f)(y_true, y_pred), rel=1e-12)


# ----------------------------------------------------------------------- SciPy: more of stats

SCIPY_MORE = {
    "stats.tmean": lambda st, x: st.tmean(x),
    "stats.tvar": lambda st, x: st.tvar(x),
    "stats.iqr": lambda st, x: st.iqr(x, axis=1),
    "stats.quantile": lambda st, x: st.quantile(x, 0.3, axis=1),
    "stats.circmean": lambda st, x: st.circmean(x, axis=1),
}


@pytest.mark.parametrize("name", sorted(SCIPY_MORE))
def test_scipy_stats_value_and_gradient(name, backend):
    _, st = _scipy()
    check(lambda x: SCIPY_MORE[name](st, x), _data(11, (3, 7)), backend)


SCIPY_OTHER_MODULES = {
    "fft.fft": lambda sp, x: sp.fft.fft(x, axis=1).imag,
    "fft.rfft": lambda sp, x: abs(sp.fft.rfft(x, axis=1)),
    "fft.irfft": lambda sp, x: sp.fft.irfft(x, axis=0),
    "fft.fftn": lambda sp, x: sp.fft.fftn(x).real,
    "fft.fftshift": lambda sp, x: sp.fft.fftshift(x),
    "integrate.trapezoid": lambda sp, x: sp.integrate.trapezoid(x, axis=1),
    "integrate.cumulative_trapezoid": lambda sp, x: sp.integrate.cumulative_trapezoid(x),
    "cluster.vq.whiten": lambda sp, x: sp.cluster.vq.whiten(x),
    "signal.fftconvolve": lambda sp, x: sp.signal.fftconvolve(x, x[:2, :3]),
}


@pytest.mark.parametrize("name", sorted(SCIPY_OTHER_MODULES))
def test_scipy_fft_integrate_signal_value_and_gradient(name, backend):
    _scipy()
    import scipy.cluster.vq
    import scipy.fft
    import scipy.integrate
    import scipy.signal

    check(lambda x: SCIPY_OTHER_MODULES[name](scipy, x), _data(13, (4, 6)), backend)


SCIPY_THROUGH_NUMPY = {
    "fft.dct": lambda sp, x: sp.fft.dct(x),
    "integrate.simpson": lambda sp, x: sp.integrate.simpson(x),
    "signal.convolve": lambda sp, x: sp.signal.convolve(x, x[:2, :2]),
    "signal.detrend": lambda sp, x: sp.signal.detrend(x),
    "ndimage.gaussian_filter": lambda sp, x: sp.ndimage.gaussian_filter(x, 1.0),
    "linalg.expm": lambda sp, x: sp.linalg.expm(x),
}


@pytest.mark.parametrize("name", sorted(SCIPY_THROUGH_NUMPY))
def test_scipy_numpy_only_functions_raise_on_a_tape_and_run_outside(name, backend):
    _scipy()
    import importlib

    import scipy

    for module in ("fft", "integrate", "signal", "ndimage", "linalg"):
        importlib.import_module(f"scipy.{module}")
    f = lambda x: SCIPY_THROUGH_NUMPY[name](scipy, x)  # noqa: E731
    x = xg.asarray(_data(17, (4, 4))[0], backend=backend)
    expected = f(x.numpy())
    np.testing.assert_allclose(np.asarray(f(x)), expected, rtol=1e-12)   # no tape: NumPy runs
    with xg.GradientTape() as tape:
        tape.watch(x)
        with pytest.raises(TypeError, match="cut it from the tape"):
            f(x)


def test_einops_imported_after_xpgrad_keeps_its_loader():
    pytest.importorskip("einops")
    code = ("import inspect, sys, xpgrad as xg, einops, einops._backends as b\n"
            "assert 'class AbstractBackend' in inspect.getsource(b)\n"
            "assert b.__loader__.get_source('einops._backends') == inspect.getsource(b)\n"
            "assert not any('Einops' in type(f).__name__ for f in sys.meta_path)\n"
            "print(einops.rearrange(xg.ones((2, 3)), 'a b -> b a').shape)\n")
    out = _printed_by_a_fresh_python(code)
    assert out.strip() == "(3, 2)"


@pytest.mark.parametrize("spec, shapes", [("ii->", [(3, 3)]), ("ii->i", [(3, 3)]),
                                          ("iij,j->i", [(3, 3, 2), (2,)]),
                                          ("jii->ij", [(2, 3, 3)]), ("iii->i", [(2, 2, 2)]),
                                          ("ij,jj->i", [(2, 3), (3, 3)])])
def test_einsum_gradient_through_a_repeated_label_matches_torch(spec, shapes):
    torch = pytest.importorskip("torch")
    arrays = _data(19, *shapes)
    tensors = [xg.asarray(a) for a in arrays]
    cotangent = np.random.default_rng(2).standard_normal(np.einsum(spec, *arrays).shape)
    with xg.GradientTape() as tape:
        for t in tensors:
            tape.watch(t)
        out = xg.einsum(spec, *tensors)
    grads = tape.gradient(out, tensors, output_gradients=xg.asarray(cotangent))
    leaves = [torch.tensor(a, requires_grad=True) for a in arrays]
    expected = torch.einsum(spec, *leaves)
    expected.backward(torch.tensor(cotangent))
    np.testing.assert_allclose(out.numpy(), expected.detach().numpy(), rtol=1e-12)
    for g, leaf in zip(grads, leaves):
        np.testing.assert_allclose(g.numpy(), leaf.grad.numpy(), rtol=1e-12, atol=1e-14)
    xg.testing.check_grads(lambda *xs: xg.einsum(spec, *xs), tensors, order=2)


def test_einops_einsum_trace(einops, backend):
    check(lambda x: einops.einsum(x, "a a ->"), _data(23, (4, 4)), backend)


# ------------------------------------------- generic code that makes constants without device=

def _soft_minimum(values, gamma=0.5):
    """A library's smooth minimum of a list of 0-d arrays, written generically: its
    constant ``big`` is made as generic code makes them, without ``device=``."""
    xp = values[0].__array_namespace__()
    big = xp.asarray(1e10, dtype=values[0].dtype)
    stack = xp.stack([*values, big])
    low = xp.min(stack)
    return low - gamma * xp.log(xp.sum(xp.exp(-(stack - low) / gamma)))


@pytest.mark.parametrize("tensors, default", [("numba", "numpy"), ("numpy", "numba")])
def test_a_constant_made_without_device_joins_tensors_of_another_backend(tensors, default):
    """Generic code's ``xp.asarray(1e10, dtype=...)`` is a 0-d tensor of the default backend;
    beside tensors of another backend it raised MixedBackendError (a soft-DTW written with
    ``array_api_compat.array_namespace``). Such a constant, on no tape, now joins them, as a
    0-d CPU tensor joins CUDA tensors in PyTorch (JAX: an uncommitted array)."""
    pytest.importorskip("numba")
    f = lambda x: _soft_minimum([x[0] * x[1], x[2], x[1] ** 2])
    with xg.use_backend(default):
        check(f, _data(11, (3,)), tensors)


def test_a_zero_d_tensor_a_tape_differentiates_gets_its_gradient_on_its_own_backend():
    """A 0-d tensor moves to the other tensors' backend as ``.to`` moves it, on the tape: its
    gradient comes back on its own backend, as a 0-d CPU tensor's beside CUDA tensors in
    PyTorch."""
    pytest.importorskip("numba")
    scale = xg.asarray(2.0, backend="numpy")
    x = xg.asarray([1.0, 2.0], backend="numba")
    with xg.GradientTape() as tape:
        tape.watch([scale, x])
        y = xg.sum(x * scale ** 2)
    assert y.backend.name == "numba"
    d_scale, d_x = tape.gradient(y, [scale, x])
    assert d_scale.backend.name == "numpy" and d_x.backend.name == "numba"
    assert d_scale.item() == 2 * 2.0 * 3.0 and d_x.tolist() == [4.0, 4.0]


def test_a_constant_with_more_than_one_element_still_refuses_another_backend():
    """``xp.eye(n)`` without ``device=`` beside numba tensors raises, as a CPU matrix beside CUDA
    tensors does in PyTorch; ``xg.use_backend`` makes the default the tensors' backend."""
    pytest.importorskip("numba")
    x = xg.asarray(np.ones((2, 2)), backend="numba")
    with xg.use_backend("numpy"):
        with pytest.raises(xg.MixedBackendError, match="use_backend"):
            x - xg.eye(2)
    with xg.use_backend("numba"):
        assert (x - xg.eye(2)).tolist() == [[0.0, 1.0], [1.0, 0.0]]


def _attention(x, wq, wk, wv, heads=2):
    """Multi-head self-attention written with einops, for any namespace einops takes."""
    import array_api_compat
    import einops

    xp = array_api_compat.array_namespace(x)
    q, k, v = (einops.rearrange(x @ w, "b t (h d) -> b h t d", h=heads) for w in (wq, wk, wv))
    scores = einops.einsum(q, k, "b h t d, b h s d -> b h t s")
    scores = scores - einops.reduce(scores, "b h t s -> b h t 1", "max")
    exps = xp.exp(scores)
    weights = exps / einops.reduce(exps, "b h t s -> b h t 1", "sum")
    out = einops.einsum(weights, v, "b h t s, b h s d -> b h t d")
    return einops.reduce(einops.rearrange(out, "b h t d -> b t (h d)") ** 2, "b t d ->", "mean")


@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "xg.function"])
def test_einops_attention_matches_pytorch(einops, backend, compiled):
    torch = pytest.importorskip("torch")
    arrays = _data(17, (2, 5, 8), (8, 8), (8, 8), (8, 8))
    params = [torch.tensor(a, requires_grad=True) for a in arrays]
    expected = _attention(*params)
    expected.backward()

    def value_and_grads(*tensors):
        with xg.GradientTape() as tape:
            tape.watch(list(tensors))
            value = _attention(*tensors)
        return value, tape.gradient(value, list(tensors))

    step = xg.function(value_and_grads) if compiled else value_and_grads
    value, grads = step(*[xg.asarray(a, backend=backend) for a in arrays])
    assert value.item() == pytest.approx(expected.item(), rel=1e-12)
    for got, param in zip(grads, params):
        np.testing.assert_allclose(got.numpy(), param.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_einops_attention_under_vmap(einops, backend):
    """einops' patterns see one example's shape under ``xg.vmap``: mapping the attention over a
    batch gives each example's value."""
    arrays = _data(19, (3, 1, 5, 8), (8, 8), (8, 8), (8, 8))
    x, *weights = [xg.asarray(a, backend=backend) for a in arrays]
    mapped = xg.vmap(lambda example: _attention(example, *weights))(x)
    one_by_one = [_attention(x[i], *weights).item() for i in range(3)]
    np.testing.assert_allclose(mapped.numpy(), one_by_one, rtol=1e-12)
    xg.testing.check_grads(lambda wq: xg.sum(xg.vmap(
        lambda example: _attention(example, wq, *weights[1:]))(x)), [weights[0]])
