"""Array-API edges a conformance probe found outside the official suite: float32 ``arange``
rounds each value once (PyTorch's values, not float32 steps added up past ``stop``), ``round``
refuses bool, and ``==`` with None or a string is Python's identity answer."""
import numpy as np
import pytest

import xpgrad as xg


@pytest.mark.parametrize("backend", ["numpy", "numba"])
@pytest.mark.parametrize("start, stop, step", [(1e8, 1e8 + 40, 5.0), (1e6, 1e6 + 1, 0.1),
                                               (16777216, 16777220, 1), (0.0, 1.0, 0.25),
                                               (-3.0, 2.0, 0.7)])
def test_float32_arange_is_pytorchs(backend, start, stop, step):
    torch = pytest.importorskip("torch")
    got = xg.arange(start, stop, step, dtype=xg.float32, backend=backend)
    want = torch.arange(start, stop, step, dtype=torch.float64).to(torch.float32)
    assert got.dtype == xg.float32
    np.testing.assert_array_equal(got.numpy(), want.numpy())
    assert (got.numpy() <= np.float32(stop)).all()


def test_round_refuses_bool():
    with pytest.raises(TypeError, match="round: x must have a numeric dtype, got bool"):
        xg.round(xg.asarray([True, False]))


def test_equality_with_none_or_a_string_is_false():
    x = xg.ones(2)
    assert (x == None) is False and (x != None) is True       # noqa: E711
    assert (x == "a") is False and x not in [None, "b"]
    assert (x == xg.ones(2)).tolist() == [True, True]


@pytest.mark.parametrize("shape, axis, keepdims", [((0,), None, False), ((2, 0), 1, False),
                                                   ((0, 3), 0, True), ((2, 0), 0, False)])
def test_logsumexp_of_an_empty_sum_is_minus_infinity(shape, axis, keepdims):
    torch = pytest.importorskip("torch")
    x = xg.zeros(shape, dtype=xg.float64)
    got = xg.logsumexp(x, axis=axis, keepdims=keepdims)
    dims = tuple(range(len(shape))) if axis is None else axis
    want = torch.logsumexp(torch.zeros(shape, dtype=torch.float64), dim=dims, keepdim=keepdims)
    np.testing.assert_array_equal(got.numpy(), want.numpy())
    np.testing.assert_array_equal(
        xg.special.logsumexp(x, axis=axis, keepdims=keepdims).numpy(), want.numpy())


@pytest.mark.parametrize("call, error, message", [
    (lambda: xg.linalg.pinv(xg.ones((2, 2)), rtol=-1), ValueError, "rtol must be >= 0"),
    (lambda: xg.linalg.pinv(xg.ones((2, 2)), rtol=float("nan")), ValueError, "rtol"),
    (lambda: xg.linalg.vector_norm(xg.ones(2), ord=float("nan")), ValueError, "ord must be"),
    (lambda: xg.special.logsumexp(xg.ones(2), return_sign="yes"), TypeError,
     "return_sign must be True or False"),
])
def test_bad_options_are_refused(call, error, message):
    with pytest.raises(error, match=message):
        call()


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_linspace_and_arange_take_0d_tensors_as_array_api_strict_does(backend):
    # SciPy writes xp.linspace(xp.min(x), xp.max(x), n) and xp.arange(xp.max(k)): the bounds'
    # values, their floating dtype and their device, as array-api-strict's float64 results
    strict = pytest.importorskip("array_api_strict")
    lo, hi = -0.3, 2.9
    t = lambda v, **kw: xg.asarray(v, dtype=xg.float64, backend=backend, **kw)  # noqa: E731
    got = xg.linspace(t(lo), t(hi), 7)
    want = strict.linspace(strict.asarray(lo), strict.asarray(hi), 7)
    assert got.dtype == xg.float64 and got.device == t(0.0).device
    np.testing.assert_array_equal(got.numpy(), np.asarray(want))
    got = xg.arange(t(lo), t(hi), 0.4)
    np.testing.assert_array_equal(got.numpy(), np.asarray(strict.arange(
        strict.asarray(lo), strict.asarray(hi), 0.4)))
    assert xg.arange(xg.asarray(4, backend=backend)).tolist() == [0, 1, 2, 3]
    assert xg.linspace(xg.asarray(0, backend=backend), 1, 3).dtype == xg.float32  # as for ints


def test_linspace_and_arange_refuse_tensor_bounds_they_would_cut_from_a_tape():
    with pytest.raises(TypeError, match="linspace: stop must be a number or a 0-d tensor, got "
                                        r"a tensor of shape \(2,\)"):
        xg.linspace(0.0, xg.ones(2), 3)
    start = xg.asarray(1.0, dtype=xg.float64)
    with xg.GradientTape() as tape:
        tape.watch(start)
        with pytest.raises(TypeError, match=r"arange\(start=tensor\) .* cut it from the tape"):
            xg.arange(start, 3.0)
        assert xg.linspace(xg.stop_gradient(start), 2.0, 3).tolist() == [1.0, 1.5, 2.0]


def test_a_0d_tensor_is_not_iterable_as_numpy_and_torch_say():
    # iter() itself raises, so np.iterable(t) is False: Matplotlib's unit check (SciPy's
    # dendrogram sets ylim from a 0-d tensor) then takes it as a number
    torch = pytest.importorskip("torch")
    for not_iterable in (np.asarray(1.5), torch.tensor(1.5), xg.asarray(1.5)):
        with pytest.raises(TypeError, match="iteration over a 0-d"):
            iter(not_iterable)
        assert not np.iterable(not_iterable)
    rows = list(xg.asarray([[1.0, 2.0], [3.0, 4.0]]))
    assert [r.tolist() for r in rows] == [[1.0, 2.0], [3.0, 4.0]]
