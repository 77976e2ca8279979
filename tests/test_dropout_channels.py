"""Dropout1d / Dropout2d: whole channels zeroed (every (L,) row or (H, W) plane all zero or
all 1 / (1 - rate)), the fraction dropped and the mean near rate and the input's (statistical,
tolerances of about 5 standard deviations), batched and unbatched, numpy and numba; the
gradient is mask * scale; eval and rate 0 are the identity; seeded draws repeat; a compiled
training step equals the eager one draw for draw; bad input."""
import numpy as np
import pytest

import xpgrad as xg
from conftest import backend_report

BACKENDS = [b for b in ("numpy", "numba") if backend_report().get(b, {}).get("available")]
# (layer, input shape, number of spatial axes)
CASES = [(xg.nn.Dropout2d, (40, 50, 3, 4), 2), (xg.nn.Dropout2d, (2000, 2, 3), 2),
         (xg.nn.Dropout1d, (40, 50, 6), 1), (xg.nn.Dropout1d, (2000, 5), 1)]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("layer, shape, spatial", CASES)
def test_whole_channels_are_dropped_at_the_rate_and_the_mean_kept(backend, layer, shape,
                                                                  spatial):
    rate = 0.3
    rng = np.random.default_rng(0)
    x = rng.uniform(1.0, 2.0, size=shape)           # no zeros: y / x is the mask * scale
    xt = xg.asarray(x, backend=backend)
    r = xg.asarray(rng.normal(size=shape), backend=backend)
    drop = layer(rate, rng=1)
    with xg.GradientTape() as tape:
        tape.watch(xt)
        y = drop(xt)
        loss = xg.sum(y * r)
    grad = tape.gradient(loss, xt).numpy()
    factor = y.numpy() / x
    scale = 1.0 / (1.0 - rate)
    per_channel = factor.reshape(factor.shape[:factor.ndim - spatial] + (-1,))
    first = per_channel[..., :1]
    np.testing.assert_allclose(per_channel, np.broadcast_to(first, per_channel.shape),
                               rtol=1e-14)                   # one draw per channel
    assert np.all((first == 0.0) | np.isclose(first, scale, rtol=1e-14))
    channels = first.size
    dropped = np.mean(first == 0.0)
    assert abs(dropped - rate) < 5 * np.sqrt(rate * (1 - rate) / channels)
    np.testing.assert_allclose(grad, factor * r.numpy(), rtol=1e-14)   # mask * scale
    # the mean kept: E[y] = x, the spread of the mean from the channels' draws
    spread = np.sqrt(rate / (1 - rate) / channels) * np.abs(x).max()
    assert abs(y.numpy().mean() - x.mean()) < 5 * spread


@pytest.mark.parametrize("layer, shape, spatial", CASES[:1] + CASES[2:3])
def test_eval_and_rate_0_are_the_identity_and_seeds_repeat(layer, shape, spatial):
    x = xg.asarray(np.random.default_rng(2).normal(size=shape))
    drop = layer(0.5, rng=3)
    a, b = drop(x).numpy(), layer(0.5, rng=3)(x).numpy()
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, drop(x).numpy())            # the next draw is another
    drop.eval()
    np.testing.assert_array_equal(drop(x).numpy(), x.numpy())
    np.testing.assert_array_equal(layer(0.0)(x).numpy(), x.numpy())


@pytest.mark.parametrize("backend", BACKENDS)
def test_numba_draws_as_numpy_and_a_compiled_step_equals_eager(backend):
    def model():
        w = xg.Variable(np.random.default_rng(0).normal(size=(4, 3)), name="w", backend=backend)
        drop = xg.nn.Dropout2d(0.5, rng=xg.random.default_rng(3, backend=backend))
        opt = xg.optim.SGD(0.1, momentum=0.9)

        def step(x):
            with xg.GradientTape() as tape:
                loss = xg.sum(xg.mean(drop(x), axis=(2, 3)) @ w)
            opt.apply_gradients(zip(tape.gradient(loss, [w]), [w]))
            return loss
        return step, w

    (eager, w_eager), (step, w) = model(), model()
    compiled = xg.function(step)
    rng = np.random.default_rng(1)
    for _ in range(4):
        x = xg.asarray(rng.normal(size=(5, 4, 3, 3)), backend=backend)
        np.testing.assert_allclose(compiled(x).numpy(), eager(x).numpy(), rtol=1e-12)
        np.testing.assert_allclose(w.numpy(), w_eager.numpy(), rtol=1e-12)
    assert compiled.trace_count == 1
    x = np.ones((3, 6, 2, 2))
    masks = [xg.nn.Dropout2d(0.5, rng=xg.random.default_rng(4, backend=b))(
        xg.asarray(x, backend=b)).numpy() for b in ("numpy", backend)]
    np.testing.assert_array_equal(*masks)


def test_bad_input():
    with pytest.raises(ValueError, match="Dropout2d.*rate"):
        xg.nn.Dropout2d(1.0)
    with pytest.raises(ValueError, match="Dropout1d.*rate"):
        xg.nn.Dropout1d(-0.1)
    with pytest.raises(TypeError, match="Dropout2d.*rng"):
        xg.nn.Dropout2d(0.5, rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match=r"Dropout2d: input must be \(N, C, H, W\) or "
                                         r"unbatched \(C, H, W\), got shape \(2, 3\)"):
        xg.nn.Dropout2d(0.5)(xg.ones((2, 3)))
    with pytest.raises(ValueError, match=r"Dropout1d: input must be \(N, C, L\)"):
        xg.nn.Dropout1d(0.5).eval()(xg.ones((2, 3, 4, 5)))


def test_a_compiled_call_follows_train_and_eval():
    drop = xg.nn.Dropout2d(0.5, rng=0)
    f = xg.function(lambda x: drop(x) * 1.0)
    x = xg.ones((2, 8, 2, 2))
    assert set(np.unique(f(x).numpy())) == {0.0, 2.0}
    drop.eval()
    np.testing.assert_array_equal(f(x).numpy(), x.numpy())
    drop.train()
    assert set(np.unique(f(x).numpy())) == {0.0, 2.0}


@pytest.mark.parametrize("layer", [lambda: xg.nn.Dropout(0.5, rng=0),
                                   lambda: xg.nn.Dropout2d(0.5, rng=0)])
def test_a_rate_set_after_construction_is_checked_and_replayed(layer):
    """``rate`` is checked when set later (a schedule), as the constructor checks it, and an
    xg.function keeps one program per rate it read (a stale one scaled by the old rate)."""
    d = layer()
    for bad in (1.5, 1.0, -0.5, float("nan")):
        with pytest.raises(ValueError, match="rate must be a finite number in"):
            d.rate = bad
    assert d.rate == 0.5
    compiled = xg.function(lambda x: d(x))
    x = xg.ones((4, 3, 8, 8))
    for rate in (0.5, 0.5, 0.5, 0.2, 0.2, 0.2, 0.5):
        d.rate = rate
        kept = compiled(x).numpy()
        np.testing.assert_allclose(kept[kept != 0], 1 / (1 - rate), rtol=1e-6)
    assert compiled.trace_count == 2
