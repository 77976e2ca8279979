"""The transforms' inverses at the boundary of their codomain: ``TanhTransform.inv(+-1)``,
``ExpTransform``'s and ``SoftmaxTransform``'s ``inv(0)``, ``PowerTransform.inv(0)``, give the
+-inf (and gradients) PyTorch gives, without NumPy's divide-by-zero RuntimeWarning, which the
test configuration turns into an error (``TanhTransform.inv(1.0)`` raised one).
``SigmoidTransform`` clamps into ``[tiny, 1 - eps]`` first, as PyTorch's: finite there."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import xpgrad as xg

torch = pytest.importorskip("torch")
T = xg.distributions.transforms
TT = torch.distributions.transforms


def _cases():
    return {
        "tanh": (T.TanhTransform(), TT.TanhTransform(), [1.0, -1.0, 0.5]),
        "sigmoid": (T.SigmoidTransform(), TT.SigmoidTransform(), [0.0, 1.0, 0.25]),
        "exp": (T.ExpTransform(), TT.ExpTransform(), [0.0, 2.0]),
        "softmax": (T.SoftmaxTransform(), TT.SoftmaxTransform(), [0.0, 1.0]),
        "power 2": (T.PowerTransform(2.0), TT.PowerTransform(torch.tensor(2.0)), [0.0, 4.0]),
        "power -1": (T.PowerTransform(-1.0), TT.PowerTransform(torch.tensor(-1.0)), [0.0, 4.0]),
        "power 0.5": (T.PowerTransform(0.5), TT.PowerTransform(torch.tensor(0.5)), [0.0, 4.0]),
    }


def _ours(transform, value, dtype):
    y = xg.asarray([value], dtype=dtype)
    with xg.GradientTape() as tape:
        tape.watch(y)
        x = transform.inv(y)
        total = xg.sum(x)
    return x.numpy()[0], tape.gradient(total, y).numpy()[0]


def _theirs(transform, value, dtype):
    y = torch.tensor([value], dtype=getattr(torch, dtype), requires_grad=True)
    x = transform.inv(y)
    (g,) = torch.autograd.grad(x.sum(), y)
    return x.detach().numpy()[0], g.numpy()[0]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", sorted(_cases()))
def test_inverses_at_the_boundary_match_torch_without_warnings(name, dtype):
    ours, theirs, values = _cases()[name]
    for value in values:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            got = _ours(ours, value, dtype)
        want = _theirs(theirs, value, dtype)
        np.testing.assert_allclose(got, want, rtol=1e-6, err_msg=f"{name} at {value}")


def test_tanh_inverse_of_plus_and_minus_one_is_signed_infinity():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        x = T.TanhTransform().inv(xg.asarray([1.0, -1.0, 0.0], dtype=xg.float32))
    assert x.tolist() == [np.inf, -np.inf, 0.0]


def test_inverse_gradient_inside_the_domain_matches_finite_differences():
    """Away from the boundary the quiet rules are the plain ones (float64, central
    differences)."""
    for transform, y0 in ((T.TanhTransform(), 0.3), (T.ExpTransform(), 0.7),
                          (T.PowerTransform(-1.5), 2.0)):
        _, g = _ours(transform, y0, "float64")
        h = 1e-6
        up, down = (transform.inv(xg.asarray([y0 + s], dtype=xg.float64)).item()
                    for s in (h, -h))
        assert abs(g - (up - down) / (2 * h)) < 1e-6 * max(1.0, abs(g))


def test_the_library_functions_still_warn_at_the_boundary():
    """Only the transforms' inverses are quiet: ``xg.atanh(1.0)`` keeps NumPy's warning."""
    with pytest.warns(RuntimeWarning, match="divide by zero"):
        xg.atanh(xg.asarray(1.0))
