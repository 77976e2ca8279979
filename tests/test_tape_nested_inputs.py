"""Higher-order gradients through an input the inner tape does not watch but the outer one
does: ``outer.gradient(inner.gradient(loss, w), ct)``. The inner tape's rules, run again for
the outer tape, rebuilt such an input as a new, unconnected tensor, so the result was None
(or zeros) instead of the derivative. Against PyTorch's double backward in float64."""
from __future__ import annotations

import numpy as np
import pytest

import xpgrad as xg

torch = pytest.importorskip("torch")

W0 = np.array([0.3, -1.2, 0.7])
C0 = np.array([1.5, -0.5, 2.0])


def _torch(f):
    w = torch.tensor(W0, requires_grad=True)
    c = torch.tensor(C0, requires_grad=True)
    (gw,) = torch.autograd.grad(f(w, c), w, create_graph=True)
    (gc,) = torch.autograd.grad(gw.sum(), c)
    return gc.numpy()


CASES = {
    "sin(w) * c": (lambda w, c: xg.sum(xg.sin(w) * c), lambda w, c: (torch.sin(w) * c).sum()),
    "tanh(w * c)": (lambda w, c: xg.sum(xg.tanh(w * c)), lambda w, c: torch.tanh(w * c).sum()),
    "w @ c": (lambda w, c: (w * w) @ c, lambda w, c: (w * w) @ c),
    "exp(w) / c": (lambda w, c: xg.sum(xg.exp(w) / c), lambda w, c: (torch.exp(w) / c).sum()),
}


@pytest.mark.parametrize("backend", ["numpy", "numba"])
@pytest.mark.parametrize("case", list(CASES))
def test_the_outer_tape_differentiates_through_an_input_only_it_watches(case, backend):
    f, f_torch = CASES[case]
    w = xg.asarray(W0, backend=backend)
    c = xg.asarray(C0, backend=backend)
    with xg.GradientTape() as outer:
        outer.watch(c)
        with xg.GradientTape() as inner:
            inner.watch(w)
            loss = f(w, c)
        gw = inner.gradient(loss, w)
        total = xg.sum(gw)
    gc = outer.gradient(total, c)
    assert gc is not None
    np.testing.assert_allclose(gc.numpy(), _torch(f_torch), rtol=1e-12)

