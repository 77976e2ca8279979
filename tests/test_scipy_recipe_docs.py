"""docs/autodiff.md's SciPy recipe runs: ``xg.for_scipy(xg.value_and_grad(f))`` with
``jac=True`` and ``hessp`` from ``xg.hvp`` take SciPy's own iterations on Rosenbrock in 10
dimensions, step for step with its analytic ``rosen_der`` and ``rosen_hess_prod``."""
from __future__ import annotations

import re

import numpy as np
import pytest

import xpgrad as xg
from docs_text import text_from

scipy_optimize = pytest.importorskip("scipy.optimize")
pytestmark = pytest.mark.usefixtures("numpy_default")


def _recipe():
    text = text_from("Rosenbrock in 10\ndimensions takes SciPy's")
    (code,) = re.findall(r"```python\n(.*?)```", text[:text.index("\n```\n") + 5], re.S)
    scope = {"xg": xg}
    exec(code, scope)                                    # noqa: S102 (the docs' own example)
    return scope


def test_the_recipe_takes_scipys_iterations_with_the_analytic_derivatives():
    scope = _recipe()
    x0 = scope["x0"]
    exact = scipy_optimize.minimize(scipy_optimize.rosen, x0, jac=scipy_optimize.rosen_der,
                                    method="L-BFGS-B")
    fit = scope["fit"]
    assert fit.success and type(fit.x) is np.ndarray and fit.x.dtype == np.float64
    assert fit.nit == exact.nit
    np.testing.assert_allclose(fit.x, exact.x, atol=1e-9)
    np.testing.assert_allclose(fit.x, np.ones(10), atol=1e-4)
    newton = scipy_optimize.minimize(scipy_optimize.rosen, x0, jac=scipy_optimize.rosen_der,
                                     hessp=scipy_optimize.rosen_hess_prod, method="Newton-CG")
    assert scope["newton"].nit == newton.nit
    np.testing.assert_allclose(scope["newton"].x, newton.x, atol=1e-9)


def test_the_wrapped_value_gradient_and_hessian_product_are_scipys_analytic_ones():
    rosen = _recipe()["rosen"]
    x = np.random.default_rng(0).normal(size=10)
    value, grad = xg.for_scipy(xg.value_and_grad(rosen))(x)
    assert type(value) is float and type(grad) is np.ndarray
    np.testing.assert_allclose(value, scipy_optimize.rosen(x), rtol=1e-14)
    np.testing.assert_allclose(grad, scipy_optimize.rosen_der(x), rtol=1e-12, atol=1e-12)
    p = np.arange(10.0)
    product = xg.for_scipy(lambda x, p: xg.hvp(rosen, x, p)[1])(x, p)
    np.testing.assert_allclose(product, scipy_optimize.rosen_hess_prod(x, p), rtol=1e-12,
                               atol=1e-10)


def test_unwrapped_l_bfgs_b_fails_as_the_docs_say():
    rosen = _recipe()["rosen"]
    with pytest.raises(TypeError, match="must be numpy.ndarray, not Tensor"):
        scipy_optimize.minimize(xg.value_and_grad(rosen), np.linspace(-1.2, 1.0, 10), jac=True,
                                method="L-BFGS-B")
