"""``lstm_cell_pair`` (what a batched ``xg.nn.LSTMCell`` call runs): h and c from one tape node
of two outputs (``GradientTape._record_pieces``) where the kernel runs and one tape records,
else the states' two getitems. Gradients against finite differences, and the one-node path
against the getitems' (an outer tape recording too takes those) for whichever outputs the loss
reads: both, one, a slice of one, one twice."""
import numpy as np
import pytest

import xpgrad as xg
from xpgrad.ops.recurrent_cells import lstm_cell_pair
from xpgrad.primitive import BY_INDEX

from layer_kernel_checks import kernels  # noqa: F401 (a fixture)

pytestmark = pytest.mark.usefixtures("numpy_default")


def lstm_inputs(rng, B=3, I=2, H=4):
    shapes = [(B, I), (B, H), (B, H), (I, 4 * H), (H, 4 * H), (4 * H,)]
    return [xg.asarray(rng.standard_normal(s) * (0.5 if i in (3, 4) else 1.0))
            for i, s in enumerate(shapes)]


def test_lstm_cell_pair_gradients_match_finite_differences(kernels, rng):
    def loss(*args):
        h, c = lstm_cell_pair(*args)
        return h * 2.0 + c * c
    xg.testing.check_grads(loss, lstm_inputs(rng), order=1)


LOSSES = {
    "both": lambda h, c, g: xg.sum(h * g) + xg.sum(c * c),
    "h only": lambda h, c, g: xg.sum(h * g),
    "c only": lambda h, c, g: xg.sum(c * g),
    "a slice of h": lambda h, c, g: xg.sum(h[:, 1:3] * g[:, 1:3]),
    "a row of c": lambda h, c, g: xg.sum(c[1] * g[1]),
    "h twice": lambda h, c, g: xg.sum(h * g) + xg.sum(xg.tanh(h)) + xg.sum(c[0]),
}


@pytest.mark.parametrize("loss", list(LOSSES))
def test_the_one_node_path_is_the_getitems_path(loss, rng):
    args = lstm_inputs(rng, B=5, I=3, H=6)
    g = xg.asarray(rng.standard_normal((5, 6)))
    with xg.GradientTape() as tape:
        tape.watch(args)
        h, c = lstm_cell_pair(*args)
        got = LOSSES[loss](h, c, g)
    assert [BY_INDEX[node[0]].name for node in tape._nodes][0] == "lstm_cell"
    assert tape._nodes[0][3] == (h._key, c._key)
    wanted_grads = tape.gradient(got, args)
    with xg.GradientTape() as outer:        # two tapes recording: the getitems' path
        with xg.GradientTape() as inner:
            inner.watch(args)
            h2, c2 = lstm_cell_pair(*args)
            want = LOSSES[loss](h2, c2, g)
    names = [BY_INDEX[node[0]].name for node in inner._nodes]
    assert names[:3] == ["lstm_cell", "getitem", "getitem"]
    np.testing.assert_array_equal(h.numpy(), h2.numpy())
    np.testing.assert_array_equal(c.numpy(), c2.numpy())
    for a, b in zip(wanted_grads, inner.gradient(want, args), strict=True):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-12, atol=1e-13)
    del outer


def test_an_lstm_cell_loop_matches_torch(rng):
    torch = pytest.importorskip("torch")
    theirs = torch.nn.LSTMCell(3, 5).double()
    ours = xg.nn.LSTMCell(3, 5, dtype=xg.float64)
    ours.load_torch_state_dict(theirs.state_dict())
    xs = rng.standard_normal((4, 2, 3))
    state, t_state, loss, t_loss = None, None, 0.0, 0.0
    with xg.GradientTape() as tape:
        for x in xs:
            state = ours(xg.asarray(x), state)
            t_state = theirs(torch.tensor(x), t_state)
            loss = loss + xg.sum(state[0] * state[0]) + xg.sum(state[1])
            t_loss = t_loss + (t_state[0] * t_state[0]).sum() + t_state[1].sum()
    grads = tape.gradient(loss, ours.trainable_variables)
    t_loss.backward()
    want = {"w_ih": theirs.weight_ih.grad.T, "w_hh": theirs.weight_hh.grad.T,
            "b": theirs.bias_ih.grad}
    for v, gv in zip(ours.trainable_variables, grads, strict=True):
        name = v.name.split("/")[-1].split(":")[0]
        np.testing.assert_allclose(gv.numpy(), want[name].numpy(), rtol=1e-10, atol=1e-12)


def test_a_walk_inside_vmap_stacks_the_halves_gradients(rng):
    """A tape recorded outside ``xg.vmap``, walked inside it: the kernel runs once per example
    on the states' gradient, h's and zeros for c (``backward._stacked``)."""
    args = lstm_inputs(rng)
    with xg.GradientTape(persistent=True) as tape:
        tape.watch(args)
        h, _ = lstm_cell_pair(*args)
    seeds = xg.asarray(rng.standard_normal((2, 3, 4)))
    per_example = xg.vmap(lambda s: tape.gradient(h, args[0], output_gradients=s))(seeds)
    for i in range(2):
        want = tape.gradient(h, args[0], output_gradients=seeds[i])
        np.testing.assert_allclose(per_example[i].numpy(), want.numpy(), rtol=1e-12, atol=1e-13)
