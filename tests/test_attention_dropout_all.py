"""Dropout of every attention weight (``dropout_p=1.0`` / ``dropout=1.0``), which PyTorch
allows: ``scaled_dot_product_attention`` gives zeros and zero gradients (not None, not NaN),
``MultiheadAttention`` in training mode the output projection's bias; both against torch in
float64."""
import numpy as np
import pytest
import torch

import xpgrad as xg


@pytest.mark.parametrize("options", [{}, {"is_causal": True}, {"mask": True}])
def test_sdpa_dropping_every_weight_is_torchs(options):
    rng = np.random.default_rng(0)
    q, k, v = (rng.normal(size=s) for s in ((2, 3, 4), (2, 5, 4), (2, 5, 6)))
    g = rng.normal(size=(2, 3, 6))
    mask = np.array([[True, False, True, False, False]] * 2 + [[False] * 5]) \
        if options.get("mask") else None
    kw = {"is_causal": options.get("is_causal", False)}
    tq, tk, tv = (torch.tensor(a, requires_grad=True) for a in (q, k, v))
    t_out = torch.nn.functional.scaled_dot_product_attention(
        tq, tk, tv, attn_mask=None if mask is None else torch.tensor(mask), dropout_p=1.0, **kw)
    (t_out * torch.tensor(g)).sum().backward()
    xq, xk, xv = (xg.asarray(a) for a in (q, k, v))
    with xg.GradientTape() as tape:
        tape.watch([xq, xk, xv])
        out = xg.nn.scaled_dot_product_attention(
            xq, xk, xv, attn_mask=None if mask is None else xg.asarray(mask), dropout_p=1.0,
            rng=0, **kw)
        loss = xg.sum(out * xg.asarray(g))
    grads = tape.gradient(loss, [xq, xk, xv])
    np.testing.assert_array_equal(out.numpy(), t_out.detach().numpy())
    for got, t in zip(grads, (tq, tk, tv)):
        assert got is not None
        np.testing.assert_array_equal(got.numpy(), t.grad.numpy())


def test_multihead_attention_dropping_every_weight_is_torchs():
    rng = np.random.default_rng(1)
    mha = xg.nn.MultiheadAttention(4, 2, dropout=1.0, rng=0, dtype=xg.float64)
    t = torch.nn.MultiheadAttention(4, 2, dropout=1.0, batch_first=True, dtype=torch.float64)
    t.load_state_dict({k: torch.as_tensor(a) for k, a in mha.torch_state_dict().items()})
    x = rng.normal(size=(2, 3, 4))
    tx = torch.tensor(x, requires_grad=True)
    t_out, t_w = t(tx, tx, tx)
    t_out.sum().backward()
    xx = xg.asarray(x)
    with xg.GradientTape() as tape:
        tape.watch(xx)
        out, w = mha(xx, xx, xx)
        loss = xg.sum(out)
    dx = tape.gradient(loss, xx)
    np.testing.assert_allclose(out.numpy(), t_out.detach().numpy(), rtol=0, atol=1e-15)
    np.testing.assert_array_equal(w.numpy(), t_w.detach().numpy())
    np.testing.assert_array_equal(dx.numpy(), tx.grad.numpy())
