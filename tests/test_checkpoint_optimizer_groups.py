"""One checkpoint for several optimizers (PyTorch's parameter groups are one optimizer each
here: AdamW with weight decay on the weights, without on the biases): saved together,
loaded together, the run continues bit for bit; a different list is refused, changing
nothing."""
import numpy as np
import pytest

import xpgrad as xg


def _groups(seed):
    model = xg.nn.MLP([3, 4, 2], rng=seed)
    return model, [xg.optim.AdamW(0.01, weight_decay=0.1), xg.optim.AdamW(0.01, weight_decay=0.0)]


def _step(model, optimizers):
    x, y = xg.ones((5, 3)), xg.asarray([0, 1, 0, 1, 1])
    with xg.GradientTape() as tape:
        loss = xg.losses.softmax_cross_entropy(model(x), y)
    weights = [v for v in model.trainable_variables if v.ndim > 1]
    biases = [v for v in model.trainable_variables if v.ndim == 1]
    grads = tape.gradient(loss, [weights, biases])
    for opt, group, group_grads in zip(optimizers, [weights, biases], grads):
        opt.apply_gradients(zip(group_grads, group))
    return loss.item()


def test_two_optimizers_in_one_checkpoint_resume_exactly(tmp_path):
    model, optimizers = _groups(0)
    for _ in range(3):
        _step(model, optimizers)
    path = tmp_path / "groups.npz"
    xg.save_checkpoint(path, model, optimizers)
    again, again_optimizers = _groups(7)
    xg.load_checkpoint(path, again, tuple(again_optimizers))
    assert [_step(model, optimizers) for _ in range(3)] == \
        [_step(again, again_optimizers) for _ in range(3)]
    assert xg.checkpoint_metadata(path) == {}
    xg.load_checkpoint(path, _groups(1)[0])              # the weights alone


@pytest.mark.parametrize("other", [lambda opts: opts[:1], lambda opts: opts[0],
                                   lambda opts: [opts[0], xg.optim.SGD(0.1)]])
def test_another_list_of_optimizers_is_refused(tmp_path, other):
    model, optimizers = _groups(0)
    _step(model, optimizers)
    path = tmp_path / "groups.npz"
    xg.save_checkpoint(path, model, optimizers)
    fresh, fresh_optimizers = _groups(3)
    before = fresh.state_dict()
    with pytest.raises(xg.CheckpointError, match=r"holds \['AdamW', 'AdamW'\] state, not"):
        xg.load_checkpoint(path, fresh, other(fresh_optimizers))
    for name, value in fresh.state_dict().items():
        np.testing.assert_array_equal(value, before[name])


def test_a_list_holding_something_else_is_a_type_error(tmp_path):
    model, optimizers = _groups(0)
    with pytest.raises(TypeError, match="an xg.optim Optimizer, a list of them or None"):
        xg.save_checkpoint(tmp_path / "x.npz", model, [optimizers[0], "adam"])
