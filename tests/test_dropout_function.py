"""``xg.nn.dropout``, the functional form PyTorch users reach for (``F.dropout``): the same
masks as the ``Dropout`` layer from the same seed, the gradient through the kept entries,
identity when not training, fresh masks on each replay of an ``xg.function``, bad input."""
import numpy as np
import pytest

import xpgrad as xg
from conftest import backend_report

BACKENDS = [b for b in ("numpy", "numba") if backend_report().get(b, {}).get("available")]


@pytest.mark.parametrize("backend", BACKENDS)
def test_same_masks_as_the_layer_and_gradient_through_kept_entries(backend):
    x = xg.asarray(np.random.default_rng(0).normal(size=(50, 40)), backend=backend)
    layer = xg.nn.Dropout(0.3, rng=7)
    np.testing.assert_array_equal(xg.nn.dropout(x, 0.3, rng=7).numpy(), layer(x).numpy())
    with xg.GradientTape() as tape:
        tape.watch(x)
        y = xg.nn.dropout(x, 0.3, rng=xg.random.default_rng(1, backend=backend))
        loss = xg.sum(y)
    g = tape.gradient(loss, x).numpy()
    kept = y.numpy() != 0
    assert 0.25 < 1 - kept.mean() < 0.35
    np.testing.assert_allclose(g[kept], 1 / 0.7)
    assert np.all(g[~kept] == 0)


def test_identity_when_not_training_or_rate_zero():
    x = xg.asarray([1.0, 2.0, 3.0])
    assert xg.nn.dropout(x, 0.9, training=False) is x
    assert xg.nn.dropout(x, 0.0) is x


@pytest.mark.parametrize("compiled", [False, True])
def test_a_generator_given_advances_and_replays_draw_as_eager_calls(compiled):
    """A Generator passed in gives a new mask each call, compiled as eager: the same sequence
    from the same seed; with rng=None each call has fresh entropy."""
    def step(x, rng):
        return xg.nn.dropout(x, 0.5, rng=rng)

    run = xg.function(step) if compiled else step
    rng = xg.random.default_rng(3)
    masks = [run(xg.ones(32), rng).tolist() for _ in range(5)]
    rng = xg.random.default_rng(3)
    assert masks == [step(xg.ones(32), rng).tolist() for _ in range(5)]
    assert len({tuple(m) for m in masks}) == 5
    fresh = xg.function(lambda x: xg.nn.dropout(x, 0.5)) if compiled else step
    args = () if compiled else (None,)
    assert len({tuple(fresh(xg.ones(32), *args).tolist()) for _ in range(5)}) > 1


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(rate=1.0), ValueError, "rate must be"),
    (dict(rate=-0.1), ValueError, "rate must be"),
    (dict(rate=0.5, training="yes"), TypeError, "dropout: training must be True or False"),
    (dict(rate=0.5, rng="seed"), TypeError, "rng"),
])
def test_bad_arguments_are_named(kwargs, error, match):
    with pytest.raises(error, match=match):
        xg.nn.dropout(xg.ones(3), **kwargs)
