"""RNNCell, LSTMCell and GRUCell take an unbatched ``(input_size,)`` input and ``(hidden,)``
state, as PyTorch's cells do: values and the gradients of the input, the state and the weights
equal torch's in float64, on numpy and numba; a state of another shape is a ValueError naming
the cell."""
import re

import numpy as np
import pytest

import xpgrad as xg

torch = pytest.importorskip("torch", reason="PyTorch is not installed: no comparison")

KINDS = ["RNNCell", "LSTMCell", "GRUCell"]


@pytest.fixture
def backend(host_backend):
    return host_backend


def pair(kind, backend):
    torch.manual_seed(0)
    ref = getattr(torch.nn, kind)(3, 4).double()
    ours = getattr(xg.nn, kind)(3, 4, dtype=xg.float64, backend=backend, rng=1)
    ours.load_torch_state_dict(ref.state_dict())
    return ref, ours


def torch_step(ref, x, state):
    xt = torch.tensor(x, requires_grad=True)
    st = [torch.tensor(s, requires_grad=True) for s in state]
    outs = ref(xt, tuple(st) if len(st) == 2 else (st[0] if st else None))
    outs = outs if isinstance(outs, tuple) else (outs,)
    loss = sum((o * (k + 1.5)).sum() + (o ** 2).sum() for k, o in enumerate(outs))
    loss.backward()
    grads = [xt.grad, *(s.grad for s in st), ref.weight_ih.grad.T, ref.weight_hh.grad.T]
    return [o.detach().numpy() for o in outs], [g.numpy() for g in grads]


def ours_step(cell, x, state):
    xs = xg.asarray(x, backend=cell.w_ih.backend)
    st = [xg.asarray(s, backend=cell.w_ih.backend) for s in state]
    with xg.GradientTape() as tape:
        tape.watch([xs, *st])
        outs = cell(xs, tuple(st) if len(st) == 2 else (st[0] if st else None))
        outs = outs if isinstance(outs, tuple) else (outs,)
        loss = sum(xg.sum(o * (k + 1.5)) + xg.sum(o ** 2) for k, o in enumerate(outs))
    grads = tape.gradient(loss, [xs, *st, cell.w_ih, cell.w_hh])
    return [o.numpy() for o in outs], [g.numpy() for g in grads]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("given_state", [False, True])
def test_unbatched_cell_matches_torch(kind, given_state, backend):
    ref, ours = pair(kind, backend)
    rng = np.random.default_rng(2)
    x = rng.standard_normal(3)
    state = [rng.standard_normal(4) for _ in range(2 if kind == "LSTMCell" else 1)]
    state = state if given_state else []
    want_values, want_grads = torch_step(ref, x, state)
    got_values, got_grads = ours_step(ours, x, state)
    for got, want in zip(got_values + got_grads, want_values + want_grads, strict=True):
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("kind", KINDS)
def test_unbatched_cell_is_a_batch_of_one(kind, backend):
    _, cell = pair(kind, backend)
    x = np.random.default_rng(3).standard_normal(3)
    one = cell(xg.asarray(x, backend=backend))
    batch = cell(xg.asarray(x[None], backend=backend))
    one, batch = (one, batch) if kind == "LSTMCell" else ((one,), (batch,))
    for a, b in zip(one, batch, strict=True):
        assert a.shape == (4,)
        np.testing.assert_array_equal(a.numpy(), b.numpy()[0])


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("shape", [(5,), (1, 4)])
def test_unbatched_cell_refuses_a_state_of_another_shape(kind, shape):
    cell = getattr(xg.nn, kind)(3, 4, dtype=xg.float64, rng=0)
    h = xg.zeros(shape, dtype=xg.float64)
    with pytest.raises(ValueError, match=rf"{kind}: h \(the state of an unbatched input\) must "
                                         r"be a tensor of shape \(4,\), got " + re.escape(str(shape))):
        cell(xg.ones(3, dtype=xg.float64), (h, h) if kind == "LSTMCell" else h)


def test_unbatched_cell_names_both_input_shapes():
    with pytest.raises(ValueError, match=r"GRUCell expects input of shape \(batch, input_size\) "
                                         r"or \(input_size,\) with input_size=3, got shape \(5,\)"):
        xg.nn.GRUCell(3, 4, rng=0)(xg.ones(5))
