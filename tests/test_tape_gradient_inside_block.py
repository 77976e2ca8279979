"""A gradient a tape takes inside its own ``with`` block is not recorded on that tape (where
TensorFlow records it, and PyTorch's ``create_graph=True`` builds on it): differentiating it
again warns with the way to nest tapes, and the nested tapes give the right second derivative."""
import warnings

import numpy as np
import pytest
import torch

import xpgrad as xg


def test_gradient_of_a_gradient_from_the_same_tape_warns_how_to_nest():
    x = xg.asarray([1.0, 2.0], dtype=xg.float64)
    with xg.GradientTape(persistent=True) as tape:
        tape.watch(x)
        dy = tape.gradient(xg.sum(x ** 3), x)
        total = xg.sum(dy)
    with pytest.warns(RuntimeWarning, match="took a gradient inside its own `with` block.*"
                                            "second tape opened inside"):
        assert tape.gradient(total, x) is None


def test_jacobian_of_a_gradient_from_the_same_tape_warns_how_to_nest():
    x = xg.asarray([1.0, 2.0], dtype=xg.float64)
    with xg.GradientTape(persistent=True) as tape:
        tape.watch(x)
        dy = tape.gradient(xg.sum(x ** 3), x)
    with pytest.warns(RuntimeWarning, match="took a gradient inside its own `with` block"):
        assert tape.jacobian(dy, x) is None


def test_a_target_from_outside_the_block_keeps_the_plain_warning():
    x = xg.asarray([1.0, 2.0], dtype=xg.float64)
    with xg.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = xg.sum(x ** 3)
    tape.gradient(y, x)                      # after the block: nothing to hint about
    with pytest.warns(RuntimeWarning) as record:
        assert tape.gradient(xg.sum(x), x) is None
    assert "took a gradient inside" not in str(record[0].message)


def test_reset_forgets_the_gradient_taken_inside_the_block():
    x = xg.asarray([1.0, 2.0], dtype=xg.float64)
    with xg.GradientTape(persistent=True) as tape:
        tape.watch(x)
        tape.gradient(xg.sum(x ** 3), x)
    tape.reset()
    with pytest.warns(RuntimeWarning) as record:
        assert tape.gradient(xg.sum(x), x) is None
    assert "took a gradient inside" not in str(record[0].message)


def test_the_nesting_the_warning_points_to_matches_torch_create_graph():
    values = np.array([0.3, -1.2, 2.0])
    x = xg.asarray(values)
    with xg.GradientTape() as outer:
        outer.watch(x)
        with xg.GradientTape() as inner:
            inner.watch(x)
            y = xg.sum(xg.sin(x) * x ** 2)
        dy = inner.gradient(y, x)
        total = xg.sum(dy * dy)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        second = outer.gradient(total, x).numpy()
    xt = torch.tensor(values, requires_grad=True)
    (dyt,) = torch.autograd.grad((torch.sin(xt) * xt ** 2).sum(), xt, create_graph=True)
    (expected,) = torch.autograd.grad((dyt * dyt).sum(), xt)
    np.testing.assert_allclose(second, expected.numpy(), rtol=1e-12)
