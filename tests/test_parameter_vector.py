"""``xg.nn.utils.parameters_to_vector`` / ``vector_to_parameters``: torch.nn.utils' pair. The
vector is torch's (C-order flattening, in order), differentiable as torch's (checked against
finite differences and torch's autograd); writing it back is in place, into Variables, and
refuses a vector of the wrong length before changing anything."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import xpgrad as xg
from xpgrad.testing import check_grads

RNG = np.random.default_rng(0)
ARRAYS = [RNG.standard_normal((3, 4)), RNG.standard_normal(4), RNG.standard_normal((2, 1, 3)),
          RNG.standard_normal(())]


def test_the_vector_is_torchs():
    ours = xg.nn.utils.parameters_to_vector(xg.Variable(a) for a in ARRAYS)   # a generator
    theirs = torch.nn.utils.parameters_to_vector(torch.from_numpy(a) for a in ARRAYS)
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_gradients_through_the_vector_match_torch_and_finite_differences():
    weights = RNG.standard_normal(sum(a.size for a in ARRAYS))
    variables = [xg.Variable(a) for a in ARRAYS]
    with xg.GradientTape() as tape:
        vec = xg.nn.utils.parameters_to_vector(variables)
        loss = xg.sum(xg.sin(vec) * xg.asarray(weights)) + xg.sum(vec[:5]) ** 2
    ours = tape.gradient(loss, variables)
    params = [torch.tensor(a, requires_grad=True) for a in ARRAYS]
    tvec = torch.nn.utils.parameters_to_vector(params)
    (torch.sum(torch.sin(tvec) * torch.from_numpy(weights)) + tvec[:5].sum() ** 2).backward()
    for g, p in zip(ours, params):
        assert g.shape == tuple(p.shape)
        np.testing.assert_allclose(g.numpy(), p.grad.numpy(), rtol=1e-13, atol=1e-15)
    check_grads(lambda *ts: xg.sin(xg.nn.utils.parameters_to_vector(ts)) ** 2,
                [xg.asarray(a) for a in ARRAYS])


def test_vector_to_parameters_assigns_in_place_as_torch():
    variables = [xg.Variable(np.zeros_like(a)) for a in ARRAYS]
    before = [id(v) for v in variables]
    params = [torch.zeros(a.shape, dtype=torch.float64, requires_grad=True) for a in ARRAYS]
    vec = RNG.standard_normal(sum(a.size for a in ARRAYS))
    assert xg.nn.utils.vector_to_parameters(xg.asarray(vec), variables) is None
    torch.nn.utils.vector_to_parameters(torch.from_numpy(vec), params)
    assert [id(v) for v in variables] == before
    for v, p in zip(variables, params):
        np.testing.assert_array_equal(v.numpy(), p.detach().numpy())
    # the round trip gives back the vector
    np.testing.assert_array_equal(
        xg.nn.utils.parameters_to_vector(variables).numpy(), vec)


def test_a_layers_weights_round_trip_and_keep_their_dtype():
    layer = xg.nn.Linear(3, 2, rng=0)
    vec = xg.nn.utils.parameters_to_vector(layer.trainable_variables)
    x = xg.ones((1, 3))
    out = layer(x).numpy()
    xg.nn.utils.vector_to_parameters(xg.zeros(vec.shape, dtype=xg.float64),
                                     layer.trainable_variables)
    assert all(v.dtype == xg.float32 for v in layer.trainable_variables)   # cast, not replaced
    np.testing.assert_array_equal(layer(x).numpy(), np.zeros((1, 2), np.float32))
    xg.nn.utils.vector_to_parameters(vec, layer.trainable_variables)
    np.testing.assert_array_equal(layer(x).numpy(), out)


@pytest.mark.parametrize("call, error, match", [
    (lambda v, ps: xg.nn.utils.vector_to_parameters(v[:-1], ps), ValueError,
     "vec has 22 entries but the parameters hold 23"),
    (lambda v, ps: xg.nn.utils.vector_to_parameters(xg.concat([v, v[:1]]), ps), ValueError,
     "vec has 24 entries but the parameters hold 23"),
    (lambda v, ps: xg.nn.utils.vector_to_parameters(v[:22].reshape(2, 11), ps),
     ValueError, r"vec must be 1-D, got shape \(2, 11\)"),
    (lambda v, ps: xg.nn.utils.vector_to_parameters(v.numpy(), ps), TypeError,
     "vec must be a Tensor, got a ndarray"),
    (lambda v, ps: xg.nn.utils.vector_to_parameters(v, [ps[0], ps[1] * 1.0]), TypeError,
     r"parameters\[1\] is a Tensor, not a Variable"),
    (lambda v, ps: xg.nn.utils.vector_to_parameters(v, ps[0]), TypeError,
     "parameters must be an iterable of Variables"),
    (lambda v, ps: xg.nn.utils.parameters_to_vector(ps[0]), TypeError,
     "parameters must be an iterable of Variables"),
    (lambda v, ps: xg.nn.utils.parameters_to_vector([ps[0], ARRAYS[1]]), TypeError,
     r"parameters\[1\] is a ndarray, not a Variable"),
    (lambda v, ps: xg.nn.utils.parameters_to_vector([]), ValueError, "parameters is empty"),
])
def test_bad_input_is_named_and_changes_nothing(call, error, match):
    variables = [xg.Variable(a) for a in ARRAYS]
    vec = xg.nn.utils.parameters_to_vector(variables) * 2.0
    with pytest.raises(error, match=match):
        call(vec, variables)
    for v, a in zip(variables, ARRAYS):
        np.testing.assert_array_equal(v.numpy(), a)
