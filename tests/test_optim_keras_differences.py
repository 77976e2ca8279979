"""docs/training.md's account of where xpgrad's optimizers (PyTorch's formulas) differ from Keras
3's, checked against Keras' update written out in NumPy (keras/src/optimizers/adam.py's formula,
float64): Keras' ``Adam(weight_decay=wd)`` is ``xg.optim.AdamW(weight_decay=wd)``, and Keras'
``epsilon`` at step t is xpgrad's ``epsilon / sqrt(1 - beta_2**t)``."""
from __future__ import annotations

import numpy as np
import pytest

import xpgrad as xg

R = np.random.default_rng(11)
W0 = R.standard_normal((3, 2))
GRADS = [R.standard_normal((3, 2)) for _ in range(4)]


def _keras_adam(lr, epsilon, weight_decay, steps, beta_1=0.9, beta_2=0.999):
    """Keras 3's Adam: decoupled decay first, then alpha = lr * sqrt(1 - b2^t) / (1 - b1^t)
    and var -= alpha * m / (sqrt(v) + epsilon)."""
    w, m, v = W0.copy(), np.zeros_like(W0), np.zeros_like(W0)
    for t, g in enumerate(GRADS[:steps], start=1):
        w = w - w * weight_decay * lr
        alpha = lr * np.sqrt(1 - beta_2 ** t) / (1 - beta_1 ** t)
        m += (g - m) * (1 - beta_1)
        v += (g * g - v) * (1 - beta_2)
        w = w - m * alpha / (np.sqrt(v) + epsilon)
    return w


def _ours(opt, steps):
    w = xg.Variable(W0, dtype=xg.float64)
    for g in GRADS[:steps]:
        opt.apply_gradients([(xg.asarray(g), w)])
    return w.numpy()


def test_keras_adam_weight_decay_is_adamw_not_adam():
    tiny = 1e-30                # epsilon > 0 is required; this one's placement cannot show
    keras = _keras_adam(0.05, tiny, 0.1, steps=4)
    np.testing.assert_allclose(_ours(xg.optim.AdamW(learning_rate=0.05, weight_decay=0.1,
                                                    epsilon=tiny), 4), keras, rtol=1e-12)
    coupled = _ours(xg.optim.Adam(learning_rate=0.05, weight_decay=0.1, epsilon=tiny), 4)
    assert np.max(np.abs(coupled - keras)) > 1e-3          # the L2 term: another trajectory


@pytest.mark.parametrize("steps", [1, 3])
def test_keras_epsilon_is_ours_divided_by_the_second_moments_correction(steps):
    epsilon = 0.1                                           # large, so the placement shows
    keras = _keras_adam(0.05, epsilon, 0.0, steps)
    same_epsilon = _ours(xg.optim.Adam(learning_rate=0.05, epsilon=epsilon), steps)
    assert np.max(np.abs(same_epsilon - keras)) > 1e-3
    if steps == 1:              # one step: one correction, so one constant epsilon matches
        ours = _ours(xg.optim.Adam(learning_rate=0.05,
                                   epsilon=epsilon / np.sqrt(1 - 0.999)), 1)
        np.testing.assert_allclose(ours, keras, rtol=1e-12)


def test_keras_adam_with_its_defaults_is_adam_with_keras_epsilon():
    # docs/porting.md: tf.keras.optimizers.Adam() is xg.optim.Adam(epsilon=1e-7); the
    # epsilon's placement moves these gradients' updates by a relative 1e-4 at most
    keras = _keras_adam(0.001, 1e-7, 0.0, steps=4)
    ours = _ours(xg.optim.Adam(epsilon=1e-7), 4)
    np.testing.assert_allclose(ours - W0, keras - W0, rtol=1e-4)
    assert np.min(np.abs(ours - W0)) > 1e-4                 # each weight moved
    with pytest.raises(TypeError, match="epsilon="):        # PyTorch's keyword says Keras'
        xg.optim.Adam(eps=1e-7)
