"""A bad output of f is reported under the name of the transform the user called (hessian,
value_and_grad, hvp), not grad's; a vector-valued f given to hessian is pointed at the nesting
that computes jax.hessian's array, and that nesting agrees with torch.func."""
import numpy as np
import pytest
import torch

import xpgrad as xg

X = xg.asarray([0.5, -1.0, 2.0], dtype=xg.float64)


def _cube_times_sum(a):
    return a ** 3 * xg.sum(a)


@pytest.mark.parametrize("call,name", [
    (lambda: xg.grad(_cube_times_sum)(X), "grad"),
    (lambda: xg.value_and_grad(_cube_times_sum)(X), "value_and_grad"),
    (lambda: xg.hessian(_cube_times_sum)(X), "hessian"),
    (lambda: xg.hvp(_cube_times_sum, X, X), "hvp"),
])
def test_non_scalar_output_names_the_transform_called(call, name):
    with pytest.raises(TypeError, match=rf"^{name} needs a function with a scalar output, "
                                        r"got \(3,\)"):
        call()


@pytest.mark.parametrize("call,name", [
    (lambda: xg.hessian(lambda a: float(a[0]))(X), "hessian"),
    (lambda: xg.value_and_grad(lambda a: xg.sum(a) > 0)(X), "value_and_grad"),
    (lambda: xg.hessian(lambda a: xg.sum(a) * 1j)(X), "hessian"),
])
def test_other_bad_outputs_name_the_transform_called(call, name):
    with pytest.raises(TypeError, match=rf"^{name} needs"):
        call()


def test_the_nesting_suggested_for_a_vector_valued_hessian_matches_torch():
    with pytest.raises(TypeError, match=r"xg\.jacobian\(xg\.jacobian\(f\)\)"):
        xg.hessian(_cube_times_sum)(X)
    got = xg.jacobian(xg.jacobian(_cube_times_sum))(X).numpy()
    want = torch.func.jacrev(torch.func.jacrev(lambda a: a ** 3 * a.sum()))(
        torch.tensor(X.numpy())).numpy()
    assert got.shape == (3, 3, 3)
    np.testing.assert_allclose(got, want, rtol=1e-12)
