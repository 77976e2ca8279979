"""A one-hidden-layer ReLU MLP's softmax cross-entropy for one example (``params``: w1, b1,
w2, b2), and its per-example gradients by ``torch.func`` as NumPy arrays: the peer of
``xg.vmap(xg.grad(mlp_loss), in_axes=(None, 0, 0))`` in the vmap tests."""
from __future__ import annotations

import xpgrad as xg


def mlp_loss(p, x, y):
    h = xg.nn.relu(x @ p[0] + p[1])
    return xg.losses.softmax_cross_entropy((h @ p[2] + p[3])[None], y[None])


def torch_per_example_grads(torch, params, x, y):
    """``torch.func.vmap(torch.func.grad(loss), in_dims=(None, 0, 0))`` of the same loss on
    xpgrad arrays ``params``, ``x``, ``y``: one NumPy array per parameter."""
    def loss(p, xi, yi):
        h = torch.relu(xi @ p[0] + p[1])
        return torch.nn.functional.cross_entropy((h @ p[2] + p[3])[None], yi[None])

    grads = torch.func.vmap(torch.func.grad(loss), in_dims=(None, 0, 0))(
        [torch.from_numpy(p.numpy()) for p in params], torch.from_numpy(x.numpy()),
        torch.from_numpy(y.numpy()))
    return [g.numpy() for g in grads]
