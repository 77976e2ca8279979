"""Session 17 bug bash of xg.losses.ctc and the Module conveniences (ModuleList / ModuleDict,
torch state dicts, hints): each test failed before its fix."""
from __future__ import annotations

import numpy as np
import pytest

import xpgrad as xg

torch = pytest.importorskip("torch")
F = torch.nn.functional

BACKENDS = [b for b in ("numpy", "numba") if b in xg.available_backends()]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("targets", [[], [[], []]], ids=["concatenated", "padded"])
def test_ctc_empty_python_lists_are_integers(backend, targets):
    # a batch whose targets are all empty, built from Python lists: [] is no labels, not a
    # float array (asarray's default), as PyTorch's lengths lists are
    lp = np.log(np.full((4, 2, 3), 1 / 3))
    x = xg.asarray(lp, backend=backend)
    with xg.GradientTape() as tape:
        tape.watch(x)
        loss = xg.losses.ctc(x, targets, [4, 2], [0, 0], reduction="none")
        total = xg.sum(loss)
    grad = tape.gradient(total, x).numpy()
    xt = torch.tensor(lp, requires_grad=True)
    ref = F.ctc_loss(xt, torch.zeros((2, 0), dtype=torch.long), [4, 2], [0, 0],
                     reduction="none")
    np.testing.assert_allclose(loss.numpy(), ref.detach().numpy(), rtol=1e-12)
    # the true partial derivative: -1 on each blank of each sample's steps, 0 elsewhere
    expected = np.zeros_like(lp)
    expected[:4, 0, 0] = expected[:2, 1, 0] = -1.0
    np.testing.assert_allclose(grad, expected, atol=1e-12)


def test_ctc_empty_batch_from_lists():
    loss = xg.losses.ctc(xg.zeros((4, 0, 3), dtype=xg.float64), [], [], [], reduction="sum")
    assert loss.shape == () and loss.item() == 0.0


def test_ctc_float_values_still_refused():
    with pytest.raises(TypeError, match="target_lengths must be integers"):
        xg.losses.ctc(xg.zeros((4, 1, 3)), [[1]], [4], [1.0])
    with pytest.raises(TypeError, match="targets must be integer labels"):
        xg.losses.ctc(xg.zeros((4, 0, 3)), np.zeros(0), [], [])
