"""``t.data`` is PyTorch's: the value cut from the tapes, sharing the tensor's buffer, so that
PyTorch's ``p.data`` habits (a write into it, ``p.data *= c``, ``p.data.copy_(q)``,
``p.data = q``) update ``p``. Before,
``t.data`` was the NumPy array: ``p.data.copy_`` was NumPy's AttributeError, ``p.data = q`` a
setter-less property."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import xpgrad as xg


def test_writes_into_data_land_in_the_variable_as_in_torch():
    start, q = [1.0, -2.0, 3.0], [0.5, 0.25, -4.0]
    p, tp = xg.Variable(start, name="p", dtype=xg.float64), torch.tensor(start,
                                                                         dtype=torch.float64)
    p.data *= 0.9
    tp.data.mul_(0.9)
    np.testing.assert_array_equal(p.numpy(), tp.numpy())
    p.data[1:] = xg.asarray(q[1:], dtype=xg.float64)
    tp.data[1:] = torch.tensor(q[1:], dtype=torch.float64)
    np.testing.assert_array_equal(p.numpy(), tp.numpy())
    p.data = q
    tp.data = torch.tensor(q, dtype=torch.float64)
    np.testing.assert_array_equal(p.numpy(), tp.numpy())


def test_data_reads_the_current_value():
    p = xg.Variable([1.0, 2.0], name="p")
    d = p.data
    p.assign([3.0, 4.0])
    assert d.tolist() == [3.0, 4.0] and d.dtype == p.dtype and d.shape == p.shape


def test_data_is_cut_from_the_tape_as_torch():
    values = [0.5, -1.5, 2.0]
    p = xg.Variable(values, name="p", dtype=xg.float64)
    with xg.GradientTape() as tape:
        loss = xg.sum(p * p.data ** 2)
    tp = torch.tensor(values, dtype=torch.float64, requires_grad=True)
    (tp * tp.data ** 2).sum().backward()
    np.testing.assert_allclose(tape.gradient(loss, p).numpy(), tp.grad.numpy(), rtol=1e-15)


def test_a_partial_write_through_data_keeps_the_other_entries_gradient():
    # z.data[0] = v is z[0] = v: z[1:] still depends on x (torch's z[0] = v; its z.data[0] = v
    # leaves the tape stale, a gradient as if z[0] were still 2 x[0])
    values = [1.0, 2.0, -3.0]
    x = xg.asarray(values, dtype=xg.float64)
    with xg.GradientTape() as tape:
        tape.watch(x)
        z = x * 2.0
        z.data[0] = 10.0
        loss = xg.sum(z * x)
    tx = torch.tensor(values, dtype=torch.float64, requires_grad=True)
    tz = tx * 2.0
    tz[0] = 10.0
    (tz * tx).sum().backward()
    grad = tape.gradient(loss, x).numpy()
    np.testing.assert_allclose(grad, tx.grad.numpy(), rtol=1e-15)

    def f(v):
        z = v * 2.0
        z[0] = 10.0
        return float(np.sum(z * v))
    eps, x0 = 1e-6, np.array(values)
    fd = [(f(x0 + eps * e) - f(x0 - eps * e)) / (2 * eps) for e in np.eye(3)]
    np.testing.assert_allclose(grad, fd, rtol=1e-8)


def test_a_write_through_a_view_of_data_keeps_the_other_entries_gradient():
    values = [[1.0, 2.0], [3.0, -4.0]]
    x = xg.asarray(values, dtype=xg.float64)
    with xg.GradientTape() as tape:
        tape.watch(x)
        z = x * 2.0
        z.data[0][1] = 5.0
        z.data.T[0, 1] = 7.0                  # z[1, 0]
        loss = xg.sum(z * x)
    tx = torch.tensor(values, dtype=torch.float64, requires_grad=True)
    tz = tx * 2.0
    tz[0][1] = 5.0
    tz.T[0, 1] = 7.0
    (tz * tx).sum().backward()
    np.testing.assert_array_equal(z.numpy(), tz.detach().numpy())
    np.testing.assert_allclose(tape.gradient(loss, x).numpy(), tx.grad.numpy(), rtol=1e-15)


def test_torch_methods_on_data_write_into_the_variable_as_in_torch():
    p = xg.Variable([1.0, 2.0], name="p", dtype=xg.float64)
    tp = torch.tensor([1.0, 2.0], dtype=torch.float64)
    p.data.copy_(xg.asarray([3.0, -1.0])).mul_(0.5).add_(1.0)
    tp.data.copy_(torch.tensor([3.0, -1.0])).mul_(0.5).add_(1.0)
    np.testing.assert_array_equal(p.numpy(), tp.numpy())
    p.data.zero_()
    assert p.tolist() == [0.0, 0.0]
    with pytest.raises(AttributeError, match=r"xg\.asarray\(t, copy=True\)"):
        p.data.clone


def test_bad_assignments_to_data_say_what_to_write():
    p = xg.Variable([1.0, 2.0], name="p")
    with pytest.raises(ValueError, match="assign: value of shape \\(3,\\) does not match "
                                         "variable 'p'"):
        p.data = [1.0, 2.0, 3.0]
    with pytest.raises(AttributeError, match=r"t\[\.\.\.\] = value"):
        xg.ones(2).data = xg.zeros(2)
    with xg.GradientTape():
        with pytest.raises(ValueError, match="cannot write into Variable 'p' while a "
                                             "GradientTape records it.*assign"):
            p.data *= 2.0
    assert p.tolist() == [1.0, 2.0]
