"""``xpgrad train --seed n`` seeds the generators made without a seed too (``xg.random.seed``):
a registered model whose builder leaves out its ``rng`` (layers without ``rng=``, a Dropout
making its generator in the first step) repeats run after run, and the caller's global seed is
as it was once training returns."""
import numpy as np
import pytest

import xpgrad as xg
from xpgrad.models import MODELS, ModelSpec
from xpgrad.training import TrainConfig, train

pytestmark = pytest.mark.usefixtures("numpy_default")


def _builder_without_rng(dataset, hidden, rng, backend):
    return xg.nn.Sequential([xg.nn.Linear(dataset.n_features, hidden[0], backend=backend),
                             xg.nn.ReLU(), xg.nn.Dropout(0.5),
                             xg.nn.Linear(hidden[0], dataset.n_classes, backend=backend)])


@pytest.fixture
def unseeded_model(monkeypatch):
    monkeypatch.setitem(MODELS, "unseeded", ModelSpec("unseeded", _builder_without_rng, "",
                                                      (16,)))


def _run(seed):
    result = train(TrainConfig(model="unseeded", epochs=1, logdir=None, progress=False,
                               seed=seed), echo=None)
    return result.history.train_loss, result.model.state_dict()


@pytest.mark.usefixtures("unseeded_model")
def test_train_seeds_generators_made_without_a_seed_and_restores_the_global_seed():
    xg.random.seed(123)
    before = xg.random.get_state()
    (loss, weights), (loss_again, weights_again) = _run(3), _run(3)
    assert xg.random.get_state() == before
    np.testing.assert_array_equal(loss_again, loss)
    for name, value in weights.items():
        np.testing.assert_array_equal(weights_again[name], value, err_msg=name)
    other_weights = _run(4)[1]
    first = next(iter(weights))                    # the first Linear's weight
    assert not np.array_equal(other_weights[first], weights[first])
