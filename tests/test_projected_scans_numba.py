"""Numba's rnn_layer and gru_layer kernels against the generic rules: at the rings' block
boundaries (the forward's input projection and the GRU backward's gate gradients: 2, 3, all
steps), a batch of 0, one step, with and without directly called gemms for
the steps' products, and the RNN's vjp_in_place (which writes over its own g) equal to its vjp.
The layers against PyTorch on Numba: tests/test_gru.py and test_recurrent.py under
XPGRAD_BACKEND=numba, and the training step below."""
import tracemalloc

import numpy as np
import pytest

import xpgrad as xg
from xpgrad.backends import blas
from xpgrad.backends.numpy import scans

from layer_kernel_checks import CASES, GENERIC, check_kernel_matches_generic

pytest.importorskip("numba")
from xpgrad.backends.numba import _layers  # noqa: E402



def layer_inputs(rng, gates, B, T, I, H, dtype):
    shapes = [(B, T, I), (B, H), (I, gates * H), (H, gates * H), (gates * H,)]
    shapes += [(H,)] if gates == 3 else []
    return [(rng.standard_normal(s) * (0.5 if len(s) == 2 and s[0] != B else 1.0)).astype(dtype)
            for s in shapes]


@pytest.mark.parametrize("gemm", ["direct", "from Python"])
@pytest.mark.parametrize("steps,B,T", [(2, 3, 7), (3, 3, 7), (7, 3, 7), (None, 0, 7),
                                       (None, 2, 1)])
@pytest.mark.parametrize("kind,nonlinearity", CASES)
def test_kernels_equal_the_generic_rule(kind, nonlinearity, steps, B, T, gemm, monkeypatch,
                                        rng):
    if steps is not None:
        monkeypatch.setattr(scans, "ring_steps", lambda T, step_bytes: steps)
    if gemm == "from Python":
        monkeypatch.setattr(blas, "stepped_plans", lambda *args: (None, ()))
    args = layer_inputs(rng, 3 if kind == "gru_layer" else 1, B, T, 5, 4, np.float64)
    params = {} if nonlinearity is None else {"nonlinearity": nonlinearity}
    g = rng.standard_normal((B, T, 4))
    check_kernel_matches_generic(_layers.KERNELS[kind], kind, args, params, g)


@pytest.mark.parametrize("kind,nonlinearity", CASES)
def test_forward_makes_no_whole_projection(kind, nonlinearity, monkeypatch, rng):
    """The forward's NumPy allocations peak below what it returns and saves plus half a
    (B, T, G) projection: it projects into a ring of a few steps (tracemalloc sees NumPy's
    buffers)."""
    monkeypatch.setattr(scans, "ring_steps", lambda T, step_bytes: 4)
    gates = 3 if kind == "gru_layer" else 1
    B, T, H = 8, 120, 16
    args = layer_inputs(rng, gates, B, T, 6, H, np.float64)
    params = {} if nonlinearity is None else {"nonlinearity": nonlinearity}
    # compiled before measuring, and held: the saved buffers are new ones (not its, pooled)
    first = _layers.KERNELS[kind].forward(*args, **params)
    tracemalloc.start()
    try:
        out, saved = _layers.KERNELS[kind].forward(*args, **params)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    kept = sum(a.nbytes for a in [out, *((saved.acts for saved in saved[1:]) if gates == 3
                                         else ())])
    projection = B * T * gates * H * 8
    np.testing.assert_allclose(out, GENERIC[kind][0](np, *args, **params), rtol=1e-12,
                               atol=1e-12)
    assert peak < kept + projection // 2, (peak, kept, projection)
    del first


@pytest.mark.parametrize("kind", ["rnn", "gru"])
def test_training_step_on_numba_matches_torch(kind, rng):
    """A float32 GRU / RNN step with the MSE of every output (the RNN's vjp then writes over
    the loss's gradient) against PyTorch's gradients."""
    torch = pytest.importorskip("torch")
    B, T, I, H = 4, 9, 3, 5
    ref = (torch.nn.GRU if kind == "gru" else torch.nn.RNN)(I, H, batch_first=True)
    ours = (xg.nn.GRU if kind == "gru" else xg.nn.RNN)(I, H, batch_first=True, backend="numba")
    ours.load_torch_state_dict(ref.state_dict())
    x = rng.standard_normal((B, T, I)).astype(np.float32)
    y = rng.standard_normal((B, T, H)).astype(np.float32)
    named = ours.named_variables()
    with xg.GradientTape() as tape:
        out, _ = ours(xg.asarray(x, backend="numba"))
        loss = xg.losses.mse(out, xg.asarray(y, backend="numba"))
    grads = dict(zip(named, tape.gradient(loss, list(named.values()))))
    tout, _ = ref(torch.from_numpy(x))
    tloss = torch.nn.functional.mse_loss(tout, torch.from_numpy(y))
    tloss.backward()
    np.testing.assert_allclose(loss.numpy(), tloss.item(), rtol=1e-5)
    tp = {k: v.grad.numpy() for k, v in ref.named_parameters()}
    cell = f"{ours.name}/cell0"
    pairs = [("w_ih", tp["weight_ih_l0"].T), ("w_hh", tp["weight_hh_l0"].T),
             ("b", tp["bias_ih_l0"])] + ([("b_hn", tp["bias_hh_l0"][2 * H:])] if kind == "gru"
                                         else [])
    for ours_key, expected in pairs:
        np.testing.assert_allclose(grads[f"{cell}/{ours_key}"].numpy(), expected, rtol=1e-4,
                                   atol=1e-6)
