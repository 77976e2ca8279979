"""binary_cross_entropy's inputs outside [0, 1], NaN included, as PyTorch: a ValueError naming
the argument (PyTorch raises RuntimeError "all elements of input/target should be between 0 and
1"), eagerly on every host backend and when an ``xg.function`` replays a traced call."""
from __future__ import annotations

import math

import numpy as np
import pytest

import xpgrad as xg
from conftest import backend_report

torch = pytest.importorskip("torch")

BACKENDS = [b for b in ("numpy", "numba") if b in backend_report()]
GOOD = [0.25, 0.5, 0.75]
#: (name of the bad argument, probs, targets)
BAD = [("probs", [0.25, math.nan, 0.75], [1.0, 0.0, 1.0]),
       ("probs", [math.nan] * 3, [1.0, 0.0, 1.0]),
       ("targets", GOOD, [1.0, math.nan, 1.0]),
       ("targets", GOOD, [1.0, 2.0, 0.0]),
       ("targets", GOOD, [-0.5, 0.0, 1.0])]


def _torch_refuses(probs, targets):
    with pytest.raises(RuntimeError, match="should be between 0 and 1"):
        torch.nn.functional.binary_cross_entropy(torch.tensor(probs), torch.tensor(targets))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name, probs, targets", BAD)
def test_values_outside_0_1_are_refused_as_pytorch(backend, name, probs, targets):
    _torch_refuses(probs, targets)
    p, t = (xg.asarray(np.array(a), backend=backend) for a in (probs, targets))
    for weight in (None, xg.ones((3,), dtype=p.dtype, backend=backend)):
        with pytest.raises(ValueError, match=rf"{name} must be in \[0, 1\].*got (nan|-0.5|2.0)"):
            xg.losses.binary_cross_entropy(p, t, weight=weight)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name, probs, targets", BAD)
def test_a_replay_refuses_what_the_eager_call_refuses(backend, name, probs, targets):
    """The trace saw values in [0, 1]; its guard let a NaN through (NaN compares False) and
    never looked at the targets."""
    @xg.function
    def loss(p, t):
        return xg.losses.binary_cross_entropy(p, t)

    good_t = xg.asarray([1.0, 0.0, 1.0], backend=backend)
    for _ in range(3):
        loss(xg.asarray(GOOD, backend=backend), good_t)
    p, t = (xg.asarray(a, backend=backend) for a in (probs, targets))
    assert (p.dtype, t.dtype) == (good_t.dtype, good_t.dtype)      # the traced signature
    with pytest.raises(ValueError, match=rf"{name} must be in \[0, 1\]"):
        loss(p, t)
    assert loss.trace_count == 1
