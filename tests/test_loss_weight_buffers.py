"""Loss modules' weight tensors are buffers, as PyTorch's ``register_buffer``: ``weight``
(CrossEntropyLoss, NLLLoss, BCELoss, BCEWithLogitsLoss, MultiLabelSoftMarginLoss,
MultiMarginLoss) and ``pos_weight`` (BCEWithLogitsLoss) are non-trainable Variables, so
``state_dict``/``load_state_dict`` and ``torch_state_dict``/``load_torch_state_dict`` carry
them; None is not registered. They were plain attributes, in no state dict."""
from __future__ import annotations

import numpy as np
import pytest

import xpgrad as xg

torch = pytest.importorskip("torch")

W3 = [0.2, 1.0, 3.0]
POS3 = [2.0, 0.5, 1.5]


def _weighted():
    """name -> (xpgrad kwargs, torch kwargs as tensors); the weights are per class (3)."""
    return {
        "CrossEntropyLoss": dict(weight=W3),
        "NLLLoss": dict(weight=W3),
        "BCELoss": dict(weight=W3),
        "BCEWithLogitsLoss": dict(weight=W3, pos_weight=POS3),
        "MultiLabelSoftMarginLoss": dict(weight=W3),
        "MultiMarginLoss": dict(weight=W3),
    }


def _pair(name, kwargs):
    ours = getattr(xg.nn, name)(**kwargs)
    theirs = getattr(torch.nn, name)(**{k: torch.tensor(v, dtype=torch.float64)
                                        for k, v in kwargs.items()})
    return ours, theirs


def _inputs(name, dtype):
    rng = np.random.default_rng(0)
    scores = rng.standard_normal((5, 3)).astype(dtype)
    if name in ("CrossEntropyLoss", "NLLLoss", "MultiMarginLoss"):
        target = rng.integers(0, 3, 5)
        if name == "NLLLoss":
            scores = scores - np.log(np.exp(scores).sum(axis=1, keepdims=True))
    else:
        target = (rng.random((5, 3)) < 0.5).astype(dtype)
        if name == "BCELoss":
            scores = 1.0 / (1.0 + np.exp(-scores))
    return scores, target


def _losses(ours, theirs, name, dtype):
    scores, target = _inputs(name, dtype)
    got = ours(xg.asarray(scores), xg.asarray(target)).item()
    theirs = theirs.to(getattr(torch, dtype))
    want = theirs(torch.tensor(scores), torch.tensor(target)).item()
    return got, want


@pytest.mark.parametrize("name", sorted(_weighted()))
def test_weights_are_in_the_state_dicts_under_torchs_keys(name):
    ours, theirs = _pair(name, _weighted()[name])
    mine = ours.torch_state_dict()
    assert list(mine) == list(theirs.state_dict())
    for key, value in theirs.state_dict().items():
        np.testing.assert_allclose(mine[key], value.numpy(), rtol=1e-15)
        assert f"{ours.name}/{key}" in ours.state_dict()
        assert not getattr(ours, key).trainable
    assert all(id(v) not in map(id, ours.trainable_variables) for v in ours.variables)


@pytest.mark.parametrize("name", sorted(_weighted()))
def test_no_weight_registers_nothing_as_torch(name):
    ours, theirs = getattr(xg.nn, name)(), getattr(torch.nn, name)()
    assert ours.state_dict() == {} and list(theirs.state_dict()) == []
    assert ours.weight is None


@pytest.mark.parametrize("name", sorted(_weighted()))
def test_loaded_weights_are_the_ones_the_loss_uses(name):
    """load_state_dict and load_torch_state_dict change the loss: it matches torch's with
    the loaded weights (float64), and a float32 input reads them in float32."""
    kwargs = _weighted()[name]
    ours, _ = _pair(name, {k: [1.0, 1.0, 1.0] for k in kwargs})
    source, theirs = _pair(name, kwargs)
    before = _losses(ours, theirs, name, "float64")[0]
    ours.load_state_dict({k.replace(source.name, ours.name): v
                          for k, v in source.state_dict().items()})
    got, want = _losses(ours, theirs, name, "float64")
    assert got != before
    np.testing.assert_allclose(got, want, rtol=1e-12)
    fresh, _ = _pair(name, {k: [1.0, 1.0, 1.0] for k in kwargs})
    fresh.load_torch_state_dict(theirs.state_dict())
    np.testing.assert_allclose(_losses(fresh, theirs, name, "float64")[0], want, rtol=1e-12)
    got32, want32 = _losses(fresh, theirs, name, "float32")
    np.testing.assert_allclose(got32, want32, rtol=1e-5)


def test_every_loss_class_has_torchs_state_dict_keys():
    names = [n for n in dir(xg.nn) if n.endswith("Loss") and hasattr(torch.nn, n)]
    assert len(names) >= 20
    for name in names:
        kwargs = _weighted().get(name, {})
        ours = getattr(xg.nn, name)(**kwargs)
        theirs = getattr(torch.nn, name)(**{k: torch.tensor(v) for k, v in kwargs.items()})
        assert list(ours.torch_state_dict()) == list(theirs.state_dict()), name


def test_a_variable_given_as_weight_is_kept_and_a_tensor_keeps_its_dtype_check():
    w = xg.Variable(xg.asarray(W3, dtype=xg.float64), name="w")
    loss = xg.nn.CrossEntropyLoss(weight=w)
    assert loss.weight is w
    f32 = xg.nn.CrossEntropyLoss(weight=xg.asarray(W3, dtype=xg.float32))
    with pytest.raises(TypeError, match="weight has dtype float32"):
        f32(xg.asarray(np.zeros((2, 3))), xg.asarray([0, 1]))


def test_bad_weights_still_name_the_argument():
    with pytest.raises(TypeError, match="CrossEntropyLoss: weight must be"):
        xg.nn.CrossEntropyLoss(weight="heavy")
    with pytest.raises(ValueError, match="NLLLoss: weight must be one-dimensional"):
        xg.nn.NLLLoss(weight=[[1.0, 2.0]])
    with pytest.raises(TypeError, match="BCEWithLogitsLoss: pos_weight must be real"):
        xg.nn.BCEWithLogitsLoss(pos_weight=[1j])


def test_weighted_loss_replays_under_function_with_loaded_weights():
    loss = xg.nn.CrossEntropyLoss(weight=W3)
    scores, target = _inputs("CrossEntropyLoss", "float32")
    step = xg.function(lambda x, y: loss(x, y))
    x, y = xg.asarray(scores), xg.asarray(target)
    first = [step(x, y).item() for _ in range(3)]
    loss.load_state_dict({f"{loss.name}/weight": np.array([5.0, 1.0, 0.1])})
    assert step(x, y).item() == pytest.approx(loss(x, y).item(), rel=1e-6)
    assert step(x, y).item() != pytest.approx(first[-1])
