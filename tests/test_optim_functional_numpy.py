"""NumPy params in the optax-style functional form: ``opt.init``, ``opt.update`` and
``xg.optim.apply_updates`` take NumPy arrays and scalars as Tensors of their dtype, as
``xg.grad`` and optax do (they were refused, so a JAX user's ``params = {"loc": np.float64(0)}``
needed an ``xg.asarray`` on every leaf)."""
from __future__ import annotations

import numpy as np
import pytest

import xpgrad as xg

pytestmark = pytest.mark.usefixtures("numpy_default")

DATA = np.random.default_rng(3).normal(1.5, 0.7, size=64)


def _nll(p):
    """A Normal's negative log-likelihood, its scale kept positive by softplus."""
    scale = xg.nn.softplus(p["raw_scale"])
    return -xg.mean(xg.distributions.Normal(p["loc"], scale).log_prob(DATA)) + xg.sum(p["w"] ** 2)


def _start():
    return {"loc": np.float64(0.0), "raw_scale": np.float64(0.5), "w": np.array([0.3, -0.2])}


def _fit(params, steps=5):
    opt = xg.optim.Adam(0.1)
    state = opt.init(params)
    for _ in range(steps):
        updates, state = opt.update(xg.grad(_nll)(params), state, params)
        params = xg.optim.apply_updates(params, updates)
    return params, state


def test_numpy_params_give_the_tensor_params_numbers_and_stay_unwritten():
    start = _start()
    got, state = _fit(start)
    want, _ = _fit(xg.tree_map(xg.asarray, _start()))
    for name in start:
        assert isinstance(got[name], xg.Tensor) and got[name].dtype == xg.float64
        np.testing.assert_array_equal(got[name].numpy(), want[name].numpy())
    assert state.slots["m"]["w"].dtype == xg.float64 and int(state.count) == 5
    assert start["loc"] == 0.0 and start["w"].tolist() == [0.3, -0.2]        # not written


def test_numpy_params_follow_torchs_adam():
    torch = pytest.importorskip("torch")
    got, _ = _fit(_start())
    theirs = {k: torch.tensor(np.asarray(v), requires_grad=True) for k, v in _start().items()}
    opt = torch.optim.Adam(list(theirs.values()), lr=0.1)
    data = torch.from_numpy(DATA)
    for _ in range(5):
        opt.zero_grad()
        scale = torch.nn.functional.softplus(theirs["raw_scale"])
        nll = -torch.distributions.Normal(theirs["loc"], scale).log_prob(data).mean()
        (nll + (theirs["w"] ** 2).sum()).backward()
        opt.step()
    for name, tensor in theirs.items():
        np.testing.assert_allclose(got[name].numpy(), tensor.detach().numpy(), rtol=1e-13)


def test_float32_arrays_keep_float32_and_numpy_updates_apply():
    params = {"w": np.ones(3, dtype=np.float32)}
    state = xg.optim.SGD(0.5).init(params)
    assert state.count.item() == 0
    updates, _ = xg.optim.SGD(0.5).update({"w": np.full(3, 2.0, dtype=np.float32)}, state, params)
    new = xg.optim.apply_updates(params, updates)
    assert new["w"].dtype == xg.float32 and new["w"].tolist() == [0.0, 0.0, 0.0]
    moved = xg.optim.apply_updates({"w": np.ones(2)}, {"w": np.array([-0.25, 0.5])})
    assert moved["w"].dtype == xg.float64 and moved["w"].tolist() == [0.75, 1.5]


def test_python_numbers_and_integer_arrays_are_still_refused_naming_the_leaf():
    opt = xg.optim.Adam(0.1)
    with pytest.raises(TypeError, match=r"Adam: params\['a'\] is a float; params is a tree of "
                                        r"Tensors or NumPy arrays"):
        opt.init({"a": 1.0})
    with pytest.raises(TypeError, match=r"params\['n'\] has dtype int64"):
        opt.init({"n": np.array([1, 2])})
