"""More scikit-learn estimators and functions with array-API support, on xpgrad Tensors.

Continues ``tests/test_third_party.py`` and ``tests/test_third_party_array_api.py`` (their
``check``: the value against scikit-learn's own NumPy path, the gradient with respect to the
data against central finite differences). The estimators that declare array-API support
(``get_tags(est).array_api_support``) all pass scikit-learn's own array-API checks on xpgrad
(``tools/third_party_suites.py``); these are the ones whose fit and prediction differentiate,
including through a fit (GaussianMixture's EM iterations, cross-validation).
"""
import numpy as np
import pytest

import xpgrad as xg
from test_third_party import (BACKENDS, _data, _on_numpy, backend,  # noqa: F401 (fixtures)
                              check, sklearn_dispatch)


def _labels(x, classes=2):
    labels = (np.arange(x.shape[0]) % classes).astype(np.int64)
    return xg.asarray(labels, backend=x.backend.name) if isinstance(x, xg.Tensor) else labels


def _estimators():
    import importlib

    import sklearn

    for name in ("linear_model", "preprocessing", "pipeline", "mixture", "decomposition",
                 "discriminant_analysis", "naive_bayes", "metrics.pairwise",
                 "kernel_approximation", "model_selection"):
        importlib.import_module(f"sklearn.{name}")
    return sklearn


CASES = {
    "RidgeClassifierCV decision_function": lambda sk, X: sk.linear_model.RidgeClassifierCV()
        .fit(X, _labels(X)).decision_function(X),
    "Ridge sample_weight": lambda sk, X: sk.linear_model.Ridge(solver="svd").fit(
        X, X[:, 0], sample_weight=X[:, 1] * X[:, 1] + 0.5).predict(X),
    "RidgeCV gcv_mode=eigen": lambda sk, X: sk.linear_model.RidgeCV(gcv_mode="eigen").fit(
        X, X[:, 0] - X[:, 2]).predict(X),
    "FeatureUnion": lambda sk, X: sk.pipeline.FeatureUnion(
        [("a", sk.preprocessing.MinMaxScaler()), ("b", sk.preprocessing.Normalizer())])
        .fit_transform(X),
    "make_pipeline": lambda sk, X: sk.pipeline.make_pipeline(
        sk.preprocessing.MinMaxScaler(), sk.linear_model.Ridge(solver="svd"))
        .fit(X, X[:, 0]).predict(X),
    "GaussianMixture tied": lambda sk, X: sk.mixture.GaussianMixture(
        2, covariance_type="tied", init_params="random_from_data", random_state=0)
        .fit(X).predict_proba(X),
    "GaussianMixture diag": lambda sk, X: sk.mixture.GaussianMixture(
        2, covariance_type="diag", init_params="random_from_data", random_state=0)
        .fit(X).score_samples(X),
    "GaussianMixture spherical": lambda sk, X: sk.mixture.GaussianMixture(
        2, covariance_type="spherical", init_params="random_from_data", random_state=0)
        .fit(X).predict_proba(X),
    "PCA randomized": lambda sk, X: sk.decomposition.PCA(
        2, svd_solver="randomized", power_iteration_normalizer="QR", random_state=0)
        .fit_transform(X),
    "PCA mle": lambda sk, X: sk.decomposition.PCA("mle", svd_solver="full").fit_transform(X),
    "PCA whiten": lambda sk, X: sk.decomposition.PCA(
        2, whiten=True, svd_solver="full").fit_transform(X),
    "PCA score_samples": lambda sk, X: sk.decomposition.PCA(2, svd_solver="full").fit(X)
        .score_samples(X),
    "LDA predict_log_proba": lambda sk, X: sk.discriminant_analysis
        .LinearDiscriminantAnalysis().fit(X, _labels(X, 3)).predict_log_proba(X),
    "GaussianNB predict_log_proba": lambda sk, X: sk.naive_bayes.GaussianNB().fit(
        X, _labels(X, 3)).predict_log_proba(X),
    "chi2_kernel": lambda sk, X: sk.metrics.pairwise.chi2_kernel(X * X + 0.1,
                                                                 X[:3] * X[:3] + 0.2),
    "linear_kernel": lambda sk, X: sk.metrics.pairwise.linear_kernel(X, X[:3]),
    "pairwise_kernels rbf": lambda sk, X: sk.metrics.pairwise.pairwise_kernels(
        X, X[:3], metric="rbf"),
    "pairwise_distances manhattan": lambda sk, X: sk.metrics.pairwise.pairwise_distances(
        X, X[:3] + 1.0, metric="manhattan"),
    "paired_cosine_distances": lambda sk, X: sk.metrics.pairwise.paired_cosine_distances(
        X, X[::-1]),
    "paired_euclidean_distances": lambda sk, X: sk.metrics.pairwise
        .paired_euclidean_distances(X, X[::-1] + 1.0),
    "nan_euclidean_distances": lambda sk, X: sk.metrics.pairwise.nan_euclidean_distances(
        X, X[:3] + 1.0),
    "cosine_distances": lambda sk, X: sk.metrics.pairwise.cosine_distances(X, X[:3]),
    "MinMaxScaler inverse_transform": lambda sk, X: sk.preprocessing.MinMaxScaler().fit(
        X * 2.0).inverse_transform(X),
    "MaxAbsScaler inverse_transform": lambda sk, X: sk.preprocessing.MaxAbsScaler().fit(
        X * 2.0).inverse_transform(X),
    "Normalizer l1": lambda sk, X: sk.preprocessing.Normalizer(norm="l1").fit_transform(X),
    "Normalizer max": lambda sk, X: sk.preprocessing.Normalizer(norm="max").fit_transform(X),
    "minmax_scale": lambda sk, X: sk.preprocessing.minmax_scale(X),
    "maxabs_scale": lambda sk, X: sk.preprocessing.maxabs_scale(X),
    "KernelCenterer transform": lambda sk, X: sk.preprocessing.KernelCenterer().fit(
        X @ X.T * 2.0).transform(X @ X.T),
    "Nystroem transform": lambda sk, X: sk.kernel_approximation.Nystroem(
        n_components=4, random_state=0).fit(X * 1.5).transform(X),
    "cross_val_predict": lambda sk, X: sk.model_selection.cross_val_predict(
        sk.linear_model.Ridge(solver="svd"), X, X[:, 0] + 2.0 * X[:, 1], cv=3),
    "train_test_split": lambda sk, X: sk.model_selection.train_test_split(
        X, random_state=0)[0],
    "PCA get_covariance": lambda sk, X: sk.decomposition.PCA(2, svd_solver="full").fit(X)
        .get_covariance(),
    "PCA get_precision": lambda sk, X: sk.decomposition.PCA(2, svd_solver="full").fit(X)
        .get_precision(),
    "additive_chi2_kernel": lambda sk, X: sk.metrics.pairwise.additive_chi2_kernel(
        X * X + 0.1, X[:3] * X[:3] + 0.2),
    # per-output scores stay Tensors (the averaged ones are Python floats: off the tape)
    **{f"{name} raw_values": (lambda name: lambda sk, X: getattr(sk.metrics, name)(
        X, X[::-1] * 0.8, multioutput="raw_values"))(name)
       for name in ("r2_score", "mean_squared_error", "root_mean_squared_error",
                    "mean_absolute_error", "median_absolute_error", "explained_variance_score",
                    "mean_absolute_percentage_error", "mean_pinball_loss",
                    "d2_absolute_error_score", "d2_pinball_score")},
    "mean_squared_log_error raw_values": lambda sk, X: sk.metrics.mean_squared_log_error(
        X * X, X[::-1] * X[::-1], multioutput="raw_values"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_sklearn_estimators_value_and_gradient(name, sklearn_dispatch, backend):
    sk = _estimators()
    f = CASES[name]
    check(lambda X: f(sk, X), _data(71, (9, 3)), backend,
          reference=_on_numpy(lambda X: f(sk, X)), rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("model", ["LogisticRegression", "PoissonRegressor"])
def test_sklearn_scipy_optimizer_fit_off_the_tape_then_predict_on_it(model, sklearn_dispatch,
                                                                     backend):
    # their fit runs scipy.optimize's L-BFGS on NumPy: on a tape it raises (the data would be
    # cut from it); fitted outside one, the prediction differentiates w.r.t. new data
    import sklearn.linear_model

    a, new = _data(73, (12, 4), (5, 4))
    target = (np.arange(12) % 3) if model == "LogisticRegression" else a[:, 0] ** 2 + 1.0
    estimator = getattr(sklearn.linear_model, model)
    x = xg.asarray(a, backend=backend)
    with xg.GradientTape() as tape:
        tape.watch(x)
        with pytest.raises(TypeError, match="cut it from the tape"):
            estimator().fit(x, xg.asarray(target, backend=backend))
    fitted = estimator().fit(x, xg.asarray(target, backend=backend))
    reference = estimator().fit(a, target)
    method = "predict_proba" if model == "LogisticRegression" else "predict"
    check(getattr(fitted, method), [new], backend, reference=getattr(reference, method),
          rtol=1e-5, atol=1e-8)


def test_sklearn_ridgecv_without_dispatch_takes_tensors(backend):
    # array_api_dispatch off: scikit-learn converts through np.asarray and keeps X.dtype, an
    # xpgrad dtype, for xp.astype on NumPy; DType.__numpy_dtype__ lets NumPy read it
    if np.lib.NumpyVersion(np.__version__) < "2.4.0":
        pytest.skip("NumPy reads __numpy_dtype__ from 2.4 on")
    sklearn = pytest.importorskip("sklearn", minversion="1.8")
    from sklearn.linear_model import RidgeCV

    a, target = _data(79, (12, 4), (12,))
    with sklearn.config_context(array_api_dispatch=False):
        model = RidgeCV().fit(xg.asarray(a, backend=backend), xg.asarray(target, backend=backend))
    np.testing.assert_allclose(np.asarray(model.coef_), RidgeCV().fit(a, target).coef_,
                               rtol=1e-10)


def test_sklearn_full_covariance_gaussian_mixture_fits_through_views(sklearn_dispatch):
    # GaussianMixture(covariance_type="full") adds reg_covar through covariances[k, :, :]
    # (a view in NumPy, and in xpgrad): the fit is NumPy's
    import sklearn.mixture

    (a,) = _data(71, (12, 4))
    make = lambda: sklearn.mixture.GaussianMixture(  # noqa: E731
        2, init_params="random_from_data", random_state=0)
    model, reference = make().fit(xg.asarray(a)), make().fit(a)
    np.testing.assert_allclose(model.covariances_.numpy(), reference.covariances_, rtol=1e-10)
    np.testing.assert_allclose(model.predict_proba(xg.asarray(a)).numpy(),
                               reference.predict_proba(a), rtol=1e-8, atol=1e-12)


@pytest.mark.parametrize("default", BACKENDS)
def test_sklearn_d2_log_loss_score_without_dispatch_averages_integer_weights_in_float64(
        backend, default):
    # array_api_dispatch off: scikit-learn averages the labels with integer sample weights by
    # np.average on the Tensors; that was float32 (xpgrad's default float), 3e-8 off NumPy's.
    # Tensors of a backend that is not the default (numba ones with numpy the default): its
    # np.dot(ndarray, tensor) converts the NumPy labels to the tensor's backend, as
    # tensor + ndarray does (it raised MixedBackendError before)
    sklearn = pytest.importorskip("sklearn", minversion="1.8")
    from sklearn.metrics import d2_log_loss_score

    rng = np.random.default_rng(5)
    labels, proba = rng.integers(0, 3, 50), rng.dirichlet(np.ones(3), 50)
    weights = rng.integers(1, 5, 50)
    with sklearn.config_context(array_api_dispatch=False), xg.use_backend(default):
        got = d2_log_loss_score(xg.asarray(labels, backend=backend),
                                xg.asarray(proba, backend=backend),
                                sample_weight=xg.asarray(weights, backend=backend))
    want = d2_log_loss_score(labels, proba, sample_weight=weights)
    assert abs(got - want) <= 1e-15
