"""Gradient checkpointing: the gradient of a deep ReLU MLP (no bias) with its layers in
checkpointed segments (``xg.recompute_grad``, PyTorch's ``checkpoint(use_reentrant=False)``)
or plain, for the time and peak memory the recomputation trades."""
from __future__ import annotations

import numpy as np

from ._libs import Unavailable, _need, measured


def _weights(width, depth, seed=11):
    rng = np.random.default_rng(seed)
    return [(rng.normal(size=(width, width)) / np.sqrt(width)).astype(np.float32)
            for _ in range(depth)]


def _segments(items, size):
    return [items[i:i + size] for i in range(0, len(items), size)]


def remat_step(lib, batch=1024, checkpoint=True, width=256, depth=16, per_segment=4):
    """The loss ``mean(h * h)`` of ``depth`` ReLU layers of ``width`` at ``batch`` and its
    gradient for every weight; ``checkpoint``: each ``per_segment`` layers recomputed in the
    backward pass instead of kept."""
    if lib.kind == "jax":
        raise Unavailable("no JAX peer written for the checkpointed step")
    x0 = np.random.default_rng(12).normal(size=(batch, width)).astype(np.float32)
    weights0 = _weights(width, depth)
    sync = lib.sync
    if lib.kind == "xpgrad":
        import xpgrad as xg

        wrap = _need(xg, "recompute_grad", "xpgrad") if checkpoint else (lambda f: f)
        ws = [xg.Variable(lib.put(w)) for w in weights0]
        x = lib.put(x0)

        def segment(h, part):
            for w in part:
                h = xg.nn.relu(h @ w)
            return h

        def run():
            with xg.GradientTape() as tape:
                h = x
                for part in _segments(ws, per_segment):
                    h = wrap(segment)(h, part)
                loss = xg.mean(h * h)
            tape.gradient(loss, ws)
            sync()
        return measured(run, batch=batch, width=width, depth=depth)
    torch = lib.torch
    from torch.utils.checkpoint import checkpoint as torch_checkpoint

    ws = [lib.put(w, grad=True) for w in weights0]
    x = lib.put(x0)

    def torch_segment(h, *part):
        for w in part:
            h = torch.relu(h @ w)
        return h

    def run():
        h = x
        for part in _segments(ws, per_segment):
            h = torch_checkpoint(torch_segment, h, *part, use_reentrant=False) if checkpoint \
                else torch_segment(h, *part)
        torch.autograd.grad((h * h).mean(), ws)
        sync()
    return measured(run, batch=batch, width=width, depth=depth)
