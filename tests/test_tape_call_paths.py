"""The per-call paths of a gradient step (``GradientTape.__enter__``/``__exit__``, ``watch``,
``gradient`` for one Tensor source, ``xg.sum`` without ``dtype=``) give what the general
ones give, and refuse what those refuse."""
import warnings

import numpy as np
import pytest

import xpgrad as xg

torch = pytest.importorskip("torch")

X = np.array([0.3, -1.2, 2.5, 0.8])
H = 1e-6


def _central_difference(f, x):
    out = np.empty_like(x)
    for i in range(x.size):
        step = np.zeros_like(x)
        step[i] = H
        out[i] = (f(x + step) - f(x - step)) / (2 * H)
    return out


def test_tapes_exited_out_of_order_each_stop_recording_themselves():
    x = xg.asarray(X)
    outer, inner = xg.GradientTape(persistent=True), xg.GradientTape()
    outer.__enter__()
    inner.__enter__()
    outer.watch(x)
    inner.watch(x)
    outer.__exit__(None, None, None)            # the outer first: the inner keeps recording
    y = xg.sum(xg.sin(x) * x)
    inner.__exit__(None, None, None)
    z = xg.sum(x * 3.0)                         # recorded on neither
    expected = _central_difference(lambda v: np.sum(np.sin(v) * v), X)
    np.testing.assert_allclose(inner.gradient(y, x).numpy(), expected, rtol=1e-7)
    with pytest.warns(RuntimeWarning, match="depends on no tensor this tape watched"):
        assert outer.gradient(y, x) is None
    with pytest.warns(RuntimeWarning, match="depends on no tensor this tape watched"):
        assert outer.gradient(z, x) is None
    with xg.GradientTape() as again:            # both can be entered again
        again.watch(x)
        with outer:
            w = xg.sum(x * x)
    np.testing.assert_allclose(outer.gradient(w, x).numpy(), 2 * X)
    np.testing.assert_allclose(again.gradient(w, x).numpy(), 2 * X)


@pytest.mark.parametrize("unconnected_first", [True, False])
def test_no_warning_while_any_source_has_a_gradient(unconnected_first):
    a, b = xg.asarray(X), xg.asarray(X[::-1].copy())
    with xg.GradientTape() as tape:
        tape.watch([a, b])
        y = xg.sum(b * b)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        grads = tape.gradient(y, [a, b] if unconnected_first else [b, a])
    grad_a, grad_b = grads if unconnected_first else grads[::-1]
    assert grad_a is None
    np.testing.assert_allclose(grad_b.numpy(), 2 * X[::-1])


def test_every_source_unconnected_warns_once():
    a, b = xg.asarray(X), xg.asarray(X)
    with xg.GradientTape() as tape:
        tape.watch([a, b])
        y = xg.sum(xg.asarray(X) * 2.0)
    with pytest.warns(RuntimeWarning, match="depends on no tensor") as caught:
        assert tape.gradient(y, [a, b]) == [None, None]
    assert len(caught) == 1


def test_one_source_with_unconnected_gradients_zero_and_a_bad_value():
    x, other = xg.asarray(X), xg.asarray(X)
    with xg.GradientTape(persistent=True) as tape:
        tape.watch([x, other])
        y = xg.sum(x * x)
    np.testing.assert_array_equal(tape.gradient(y, other, unconnected_gradients="zero").numpy(),
                                  np.zeros(4))
    with pytest.raises(ValueError, match="unconnected_gradients must be 'none' or 'zero'"):
        tape.gradient(y, x, unconnected_gradients="zeros")
    with pytest.raises(TypeError, match="sources must be a Tensor"):
        tape.gradient(y, "x")
    np.testing.assert_allclose(tape.gradient(y, x).numpy(), 2 * X)   # still usable


@pytest.mark.parametrize("dtype", ["float32", "float64", "complex64", "complex128"])
def test_watch_takes_every_floating_dtype(dtype):
    x = xg.asarray(X.astype(dtype))
    with xg.GradientTape() as tape:
        tape.watch(x)
        y = x * 2.0
    g = tape.gradient(y, x)
    assert g.dtype == x.dtype
    np.testing.assert_array_equal(g.numpy(), np.full(4, 2.0, dtype))


@pytest.mark.parametrize("value, error, match", [
    (xg.asarray([1, 2]), ValueError, "cannot watch a tensor of dtype int64"),
    (xg.asarray([True, False]), ValueError, "cannot watch a tensor of dtype bool"),
    (np.ones(2), TypeError, "watch\\(\\) takes Tensors, got ndarray"),
    ([xg.asarray(1.0), 2.0], TypeError, "watch\\(\\) takes Tensors, got float"),
])
def test_watch_refuses_what_has_no_gradient(value, error, match):
    tape = xg.GradientTape()
    with pytest.raises(error, match=match):
        tape.watch(value)


@pytest.mark.parametrize("make", [xg.asarray, xg.Variable])
@pytest.mark.parametrize("axis, keepdims", [(None, False), (None, True), (1, False),
                                            ((0, 1), np.bool_(True))])
def test_sum_gradient_matches_torch_and_finite_differences(make, axis, keepdims):
    data = np.array([[0.5, -1.5, 2.0], [1.0, 0.25, -0.75]])
    x = make(data)
    with xg.GradientTape() as tape:
        tape.watch(x)
        s = xg.sum(xg.sin(x), axis=axis, keepdims=keepdims)
        y = xg.sum(s * s)
    g = tape.gradient(y, x).numpy()
    xt = torch.tensor(data, requires_grad=True)
    st = torch.sin(xt).sum(dim=(0, 1) if axis is None else axis, keepdim=bool(keepdims))
    (st * st).sum().backward()
    np.testing.assert_allclose(g, xt.grad.numpy(), rtol=1e-12)
    expected = _central_difference(
        lambda v: np.sum(np.sum(np.sin(v.reshape(2, 3)), axis=axis, keepdims=bool(keepdims))
                         ** 2), data.ravel()).reshape(2, 3)
    np.testing.assert_allclose(g, expected, rtol=1e-6)


def test_sum_of_a_python_list_and_bad_keywords():
    assert float(xg.sum([1.0, 2.5])) == 3.5
    with pytest.raises(TypeError, match="keepdims must be True or False, got 'yes'"):
        xg.sum(xg.asarray(X), keepdims="yes")
    with pytest.raises(ValueError, match="axis 2 is out of range"):
        xg.sum(xg.asarray(X), axis=2)
    with pytest.raises(TypeError, match="sum.*unexpected|sum.*keyword"):
        xg.sum(xg.asarray(X), dim=0)
