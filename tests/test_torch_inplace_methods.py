"""PyTorch's in-place Tensor methods (``add_ sub_ mul_ div_ clamp_ zero_ fill_ copy_``,
``xpgrad/tensor_torch_inplace.py``) as the xpgrad writes they stand for, values and gradients
against PyTorch; the one rule for writes into a Variable (refused only while a recording tape
differentiates it) for ``v[k] = value``, ``v += y`` and the methods alike; ``t.base``."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import xpgrad as xg
from xpgrad.testing import numerical_vjp

START = [0.5, -1.5, 2.0, 3.0]
OTHER = [1.0, 2.0, -0.5, 0.25]


def _chain(x, other):
    """The same chain of in-place methods on a tensor derived from ``x``, in either library."""
    y = x * 2.0
    y.mul_(x).add_(other, alpha=3.0).sub_(x, alpha=0.5).div_(other).clamp_(-4.0, 9.0)
    y[1:3].mul_(other[1:3])          # through a view: lands in y
    return y


def test_method_chain_gives_torchs_values_and_gradients():
    x, other = xg.asarray(START, dtype=xg.float64), xg.asarray(OTHER, dtype=xg.float64)
    with xg.GradientTape() as tape:
        tape.watch([x, other])
        y = _chain(x, other)
        loss = xg.sum(y * xg.asarray([1.0, -2.0, 3.0, 0.5], dtype=xg.float64))
    gx, gother = tape.gradient(loss, [x, other])
    tx = torch.tensor(START, dtype=torch.float64, requires_grad=True)
    tother = torch.tensor(OTHER, dtype=torch.float64, requires_grad=True)
    ty = _chain(tx, tother)
    (ty * torch.tensor([1.0, -2.0, 3.0, 0.5], dtype=torch.float64)).sum().backward()
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-15)
    np.testing.assert_allclose(gx.numpy(), tx.grad.numpy(), rtol=1e-14)
    np.testing.assert_allclose(gother.numpy(), tother.grad.numpy(), rtol=1e-14)
    # and against finite differences (no entry sits on a clamp bound)
    weights = np.array([1.0, -2.0, 3.0, 0.5])

    def f(a, b):
        return xg.sum(_chain(a, b) * xg.asarray(weights))
    fd = numerical_vjp(f, (np.array(START), np.array(OTHER)), xg.asarray(1.0, dtype=xg.float64))
    np.testing.assert_allclose(gx.numpy(), fd[0], rtol=1e-6)
    np.testing.assert_allclose(gother.numpy(), fd[1], rtol=1e-6)


def test_writing_methods_give_torchs_values_and_gradients():
    def writes(x, src, fill):
        y = x * 1.0
        y[0].copy_(src)                    # row 0 := src, broadcast
        y[1].zero_()
        y[2, 1:].fill_(fill)
        return y

    x = np.arange(9.0).reshape(3, 3) - 4.0
    src, fill = np.array([0.5, -1.0, 2.0]), np.array(7.0)
    tensors = [xg.asarray(a, dtype=xg.float64) for a in (x, src, fill)]
    with xg.GradientTape() as tape:
        tape.watch(tensors)
        y = writes(*tensors)
        loss = xg.sum(y * y)
    grads = tape.gradient(loss, tensors)
    leaves = [torch.tensor(a, requires_grad=True) for a in (x, src, fill)]
    ty = writes(*leaves)
    (ty * ty).sum().backward()
    np.testing.assert_array_equal(y.numpy(), ty.detach().numpy())
    for g, leaf in zip(grads, leaves):
        np.testing.assert_allclose(g.numpy(), leaf.grad.numpy(), rtol=1e-15)


def test_methods_return_the_tensor_and_write_through_views_and_data():
    c = xg.zeros((2, 3), dtype=xg.float64)
    row = c[1]
    assert row.add_(2.0) is row and c.tolist() == [[0.0] * 3, [2.0] * 3]
    tc = torch.zeros(2, 3, dtype=torch.float64)
    tc[1].add_(2.0)
    c.T.mul_(xg.asarray([1.0, 2.0], dtype=xg.float64)).clamp_(max=3.0)
    tc.T.mul_(torch.tensor([1.0, 2.0], dtype=torch.float64)).clamp_(max=3.0)
    np.testing.assert_array_equal(c.numpy(), tc.numpy())
    w = xg.Variable(START, name="w", dtype=xg.float64)
    tw = torch.tensor(START, dtype=torch.float64)
    assert w.data.mul_(0.9) is not None and w.mul_(2.0) is w
    tw.data.mul_(0.9)
    tw.mul_(2.0)
    w.data.sub_(xg.asarray(OTHER, dtype=xg.float64), alpha=0.1)
    tw.data.sub_(torch.tensor(OTHER, dtype=torch.float64), alpha=0.1)
    np.testing.assert_allclose(w.numpy(), tw.numpy(), rtol=1e-15)
    assert isinstance(w, xg.Variable)


def test_bad_arguments_say_what_is_wrong():
    x = xg.ones(3)
    with pytest.raises(TypeError, match=r"x.mul_\(\) would change int64 to float"):
        xg.asarray([1, 2]).mul_(1.5)            # torch: "result type Float can't be cast"
    assert xg.asarray([1, 2]).mul_(3).tolist() == [3, 6]
    with pytest.raises(ValueError, match=r"x.add_\(\) cannot change the shape: \(3,\) "
                                         r"broadcasts to \(2, 3\); write x = x \+ alpha \* y"):
        x.add_(xg.ones((2, 3)))
    with pytest.raises(ValueError, match=r"fill_: value must be a number or a 0-d tensor, "
                                         r"got one of shape \(3,\)"):
        x.fill_(xg.zeros(3))
    with pytest.raises(ValueError, match="clamp_: give min, max or both"):
        x.clamp_()
    with pytest.raises(TypeError, match="rounding_mode"):
        x.div_(2.0, rounding_mode="floor")
    assert x.tolist() == [1.0, 1.0, 1.0]
    with pytest.raises(AttributeError, match=r"lerp_.*x.add_\(end - x, alpha=weight\)"):
        x.lerp_


def test_a_watched_source_is_refused_as_torch_refuses_a_leaf():
    x = xg.asarray([1.0, 2.0])
    with xg.GradientTape() as tape:
        tape.watch(x)
        with pytest.raises(ValueError, match="watches as a gradient source"):
            x.mul_(2.0)
        with pytest.raises(ValueError, match="watches as a gradient source"):
            x.zero_()
    assert x.tolist() == [1.0, 2.0]


# -- one rule for writes into a Variable: refused only where a recording tape differentiates it ---
WRITES = {"v[0] = 6.0": lambda v: v.__setitem__(0, 6.0),
          "v += 1": lambda v: v.__iadd__(1.0),
          "v.mul_(2)": lambda v: v.mul_(2.0),
          "v.zero_()": lambda v: v.zero_(),
          "v.data *= 2": lambda v: v.data.__imul__(2.0)}


@pytest.mark.parametrize("write", list(WRITES))
def test_a_variable_write_is_refused_where_a_recording_tape_differentiates_it(write):
    v = xg.Variable([1.0, 2.0], name="w")
    with xg.GradientTape():            # watches the trainable Variables it reads
        with pytest.raises(ValueError, match="cannot write into Variable 'w' while a "
                                             "GradientTape records it") as error:
            WRITES[write](v)
    assert "_" + "WriteRefused" not in repr(error.value) and type(error.value) is ValueError
    assert v.tolist() == [1.0, 2.0]
    with xg.GradientTape() as tape:
        tape.watch(v)
        with pytest.raises(ValueError, match="cannot write into Variable 'w'"):
            WRITES[write](v)


@pytest.mark.parametrize("write", list(WRITES))
def test_a_variable_write_is_allowed_under_a_tape_that_does_not_differentiate_it(write):
    v = xg.Variable([1.0, 2.0], name="w")
    frozen = xg.Variable([1.0, 2.0], name="frozen", trainable=False)
    x = xg.asarray([3.0, 4.0])
    with xg.GradientTape(watch_accessed_variables=False) as tape:
        tape.watch(x)
        WRITES[write](v)
        WRITES[write](frozen)
        loss = xg.sum(x * x)
    expected = torch.tensor([1.0, 2.0])
    {"v[0] = 6.0": lambda t: t.__setitem__(0, 6.0), "v += 1": lambda t: t.add_(1.0),
     "v.mul_(2)": lambda t: t.mul_(2.0), "v.zero_()": lambda t: t.zero_(),
     "v.data *= 2": lambda t: t.mul_(2.0)}[write](expected)
    assert v.tolist() == expected.tolist() and frozen.tolist() == expected.tolist()
    assert tape.gradient(loss, x).tolist() == [6.0, 8.0]


def test_base_is_none_for_a_tensor_that_is_no_view():
    x = xg.zeros((2, 3))
    assert x.base is None and xg.Variable([1.0]).base is None
    assert x[0].base is x and x.T.base is x and x[0][1:].base.base is x
    assert x.data.base is x and xg.reshape(x, (6,)).base is None     # a reshape copies
    assert (np.zeros((2, 3)).base is None) and torch.zeros(2, 3)._base is None


@pytest.mark.parametrize("spelling", ["v += 2 * x", "v.add_(x, alpha=2)", "v[...] = v + 2 * x"])
def test_a_differentiated_value_written_into_a_frozen_variable_keeps_its_gradient(spelling):
    # torch: a tensor without requires_grad updated in place by one that has it joins the graph
    v = xg.Variable([1.0, 2.0], name="v", trainable=False, dtype=xg.float64)
    x = xg.asarray([3.0, 4.0], dtype=xg.float64)
    with xg.GradientTape() as tape:
        tape.watch(x)
        exec(spelling, {}, {"v": v, "x": x})
        loss = xg.sum(v * v)
    tv, tx = torch.tensor([1.0, 2.0], dtype=torch.float64), torch.tensor([3.0, 4.0],
                                                                          dtype=torch.float64,
                                                                          requires_grad=True)
    exec(spelling.replace("v[...] = v + 2 * x", "v.copy_(v + 2 * x)"), {}, {"v": tv, "x": tx})
    (tv * tv).sum().backward()
    np.testing.assert_array_equal(v.numpy(), tv.detach().numpy())
    np.testing.assert_allclose(tape.gradient(loss, x).numpy(), tx.grad.numpy(), rtol=1e-15)
