"""xg.trapezoid, xg.cov and xg.corrcoef (and np.trapezoid / np.cov / np.corrcoef on Tensors):
values against NumPy, gradients against PyTorch's torch.trapezoid / torch.cov / torch.corrcoef
and finite differences in float64, and bad arguments named in the error."""
import numpy as np
import pytest

import xpgrad as xg

torch = pytest.importorskip("torch", reason="PyTorch is not installed: no comparison")

R = np.random.default_rng(11)
Y = R.normal(size=(3, 6))
XS = np.sort(R.uniform(0.0, 2.0, 6))
M = R.normal(size=(4, 9))


def _finite_difference(f, a, h=1e-6):
    grad = np.zeros_like(a)
    for i in np.ndindex(a.shape):
        e = np.zeros_like(a)
        e[i] = h
        grad[i] = (f(a + e) - f(a - e)) / (2 * h)
    return grad


@pytest.mark.parametrize("x, dx, axis", [(None, 0.3, -1), (XS, 1.0, 1), (None, 1.0, 0),
                                         (np.tile(XS, (3, 1)), 1.0, -1)])
def test_trapezoid_values_and_gradients_match_numpy_torch_and_differences(x, dx, axis):
    want = np.trapezoid(Y, x, dx=dx, axis=axis)
    weights = R.normal(size=want.shape)
    xt = None if x is None else xg.asarray(x)
    got = xg.trapezoid(xg.asarray(Y), xt, dx=dx, axis=axis)
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-13)

    def loss(y, x=xt):
        return xg.sum(xg.trapezoid(y, x, dx=dx, axis=axis) * xg.asarray(weights))

    yt = torch.tensor(Y, requires_grad=True)
    xtt = None if x is None else torch.tensor(x, requires_grad=True)
    out = (torch.trapezoid(yt, xtt, dim=axis) if x is not None
           else torch.trapezoid(yt, dx=dx, dim=axis))
    (out * torch.tensor(weights)).sum().backward()
    np.testing.assert_allclose(xg.grad(loss)(xg.asarray(Y)).numpy(), yt.grad.numpy(),
                               rtol=1e-13)
    np.testing.assert_allclose(
        xg.grad(loss)(xg.asarray(Y)).numpy(),
        _finite_difference(lambda y: np.sum(np.trapezoid(y, x, dx=dx, axis=axis) * weights), Y),
        rtol=1e-7, atol=1e-9)
    if x is not None:
        dxs = xg.grad(lambda x: loss(xg.asarray(Y), x))(xt).numpy()
        np.testing.assert_allclose(dxs, xtt.grad.numpy(), rtol=1e-12, atol=1e-14)


def test_trapezoid_through_numpy_and_of_integers():
    y = xg.asarray(Y)
    with xg.GradientTape() as tape:
        tape.watch(y)
        area = np.trapezoid(y ** 2, dx=0.1)
    np.testing.assert_allclose(area.numpy(), np.trapezoid(Y ** 2, dx=0.1), rtol=1e-13)
    assert tape.gradient(area, y) is not None
    assert np.trapezoid(xg.asarray([1, 2, 4])).dtype == xg.float64        # NumPy's
    assert xg.trapezoid(xg.asarray([1, 2, 4])).dtype == xg.float32         # the default float


@pytest.mark.parametrize("kwargs", [{}, {"rowvar": False}, {"bias": True}, {"ddof": 2}])
def test_cov_and_corrcoef_match_numpy_and_torch_gradients(kwargs):
    m = M if kwargs.get("rowvar", True) else M.T
    np.testing.assert_allclose(xg.cov(xg.asarray(m), **kwargs).numpy(), np.cov(m, **kwargs),
                               rtol=1e-13)
    weights = R.normal(size=(4, 4))
    correction = kwargs.get("ddof", 0 if kwargs.get("bias") else 1)
    mt = torch.tensor(M, requires_grad=True)
    (torch.cov(mt, correction=correction) * torch.tensor(weights)).sum().backward()
    got = xg.grad(lambda m: xg.sum(xg.cov(m, **kwargs) * xg.asarray(weights)))(xg.asarray(m))
    if m is M:                                    # torch's spelling gives the same matrix
        np.testing.assert_allclose(xg.cov(xg.asarray(M), correction=correction).numpy(),
                                   torch.cov(torch.tensor(M), correction=correction).numpy(),
                                   rtol=1e-13)
    np.testing.assert_allclose(got.numpy(), mt.grad.numpy() if m is M else mt.grad.numpy().T,
                               rtol=1e-12, atol=1e-14)

    mt.grad = None
    (torch.corrcoef(mt) * torch.tensor(weights)).sum().backward()
    rowvar = kwargs.get("rowvar", True)
    np.testing.assert_allclose(xg.corrcoef(xg.asarray(m), rowvar=rowvar).numpy(),
                               np.corrcoef(m, rowvar=rowvar), rtol=1e-13)
    got = xg.grad(lambda m: xg.sum(xg.corrcoef(m, rowvar=rowvar) * xg.asarray(weights)))(
        xg.asarray(m))
    np.testing.assert_allclose(got.numpy(), mt.grad.numpy() if m is M else mt.grad.numpy().T,
                               rtol=1e-11, atol=1e-13)


def test_cov_of_two_arrays_one_variable_and_through_numpy():
    a, b = M[0], M[1]
    np.testing.assert_allclose(xg.cov(xg.asarray(a), xg.asarray(b)).numpy(), np.cov(a, b),
                               rtol=1e-13)
    single = xg.cov(xg.asarray(a))
    assert single.shape == () and np.isclose(single.item(), np.cov(a))
    grad = xg.grad(lambda a: np.cov(a))(xg.asarray(a)).numpy()
    np.testing.assert_allclose(grad, _finite_difference(np.cov, a), rtol=1e-7)
    assert np.cov(xg.asarray(M.astype(np.float32))).dtype == xg.float64    # NumPy's
    np.testing.assert_allclose(np.corrcoef(xg.asarray(M)).numpy(), np.corrcoef(M), rtol=1e-13)


def test_bad_arguments_are_named():
    y = xg.asarray(Y)
    with pytest.raises(ValueError, match="x has 4 points but y has 6 along axis 1"):
        xg.trapezoid(y, xg.asarray(XS[:4]))
    with pytest.raises(ValueError, match="x of shape"):
        xg.trapezoid(y, xg.ones((2, 6)))
    with pytest.raises(ValueError, match="0-d"):
        xg.trapezoid(xg.asarray(1.0))
    with pytest.raises(TypeError, match="axis must be an int"):
        xg.trapezoid(y, axis=(0, 1))
    with pytest.raises(ValueError, match="dx must be a number"):
        xg.trapezoid(y, dx=xg.ones(6))
    with pytest.raises(TypeError, match="fweights"):
        xg.cov(y, fweights=[1, 2, 3, 4, 5, 6])
    with pytest.raises(ValueError, match="y has 2 observations, m has 6"):
        xg.cov(y, xg.ones((1, 2)))
    with pytest.raises(ValueError, match="must be 1-D or 2-D"):
        xg.cov(xg.ones((2, 2, 2)))
    with pytest.raises(ValueError, match="degrees of freedom"):
        xg.cov(xg.ones((2, 3)), ddof=3)
    with pytest.raises(TypeError, match="ddof or correction"):
        xg.cov(y, ddof=1, correction=1)
    with pytest.raises(TypeError, match="ddof must be an int"):
        xg.cov(y, ddof=1.5)
    with pytest.raises(TypeError, match="rowvar must be True or False"):
        xg.cov(y, rowvar="no")
    # NumPy's ints 0 and 1 (SciPy's spearmanr passes rowvar=0) read as the bools
    np.testing.assert_array_equal(xg.cov(y, rowvar=0).numpy(), np.cov(Y, rowvar=0))
