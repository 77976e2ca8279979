"""``xg.optim.sgd`` and ``xg.optim.clip`` are optax's functions, not xpgrad's modules: their
hints are raised (the modules are ``sgd_optimizer`` and ``gradient_clipping``), the old module
paths still import, and the translations the sgd hint gives take optax's and HIPS autograd's
steps (their documented update formulas, written out in NumPy)."""
from __future__ import annotations

import pickle

import numpy as np
import pytest

import xpgrad as xg

A = np.array([[3.0, 0.5], [0.5, 1.0]])
C = np.array([1.0, -2.0])


def _grad(w):
    """The gradient of ``0.5 w A w - C w``."""
    return A @ w - C


def _xg_steps(opt, steps):
    w = xg.Variable(np.array([0.3, 0.7]), name="w")
    out = []
    for _ in range(steps):
        with xg.GradientTape() as tape:
            loss = 0.5 * xg.sum(w * (xg.asarray(A) @ w)) - xg.sum(xg.asarray(C) * w)
        opt.apply_gradients(zip(tape.gradient(loss, [w]), [w]))
        out.append(w.numpy().copy())
    return np.array(out)


@pytest.mark.parametrize("name, says", [
    ("sgd", r"xg\.optim\.SGD\(learning_rate, \.\.\.\).*optax's momentum=None is momentum=0\.0"),
    ("clip", r"clipvalue=max_delta of any xg\.optim optimizer"),
])
def test_optax_names_that_were_modules_raise_their_hints(name, says):
    assert not hasattr(xg.optim, name) and name not in dir(xg.optim)
    with pytest.raises(AttributeError, match=rf"^module 'xpgrad\.optim' has no attribute "
                                             rf"'{name}': .*{says}"):
        getattr(xg.optim, name)(0.1)


def test_the_sgd_hint_names_hips_autograds_translation():
    with pytest.raises(AttributeError, match=r"HIPS autograd's sgd\(.*mass\) loop is "
                                             r"xg\.optim\.SGD\(learning_rate=step_size \* "
                                             r"\(1 - mass\), momentum=mass\)"):
        xg.optim.sgd


def test_the_old_module_paths_still_import():
    from xpgrad.optim.clip import clip_global_norm
    from xpgrad.optim.sgd import SGD

    assert SGD is xg.optim.SGD and clip_global_norm is xg.optim.clip_global_norm


def test_an_sgd_pickled_under_the_old_module_name_loads():
    opt = xg.optim.SGD(0.05, momentum=0.9)
    old = pickle.dumps(opt, protocol=0).replace(b"xpgrad.optim.sgd_optimizer\n",
                                                b"xpgrad.optim.sgd\n")
    assert b"xpgrad.optim.sgd\n" in old
    back = pickle.loads(old)
    assert type(back) is xg.optim.SGD and (back.learning_rate, back.momentum) == (0.05, 0.9)


@pytest.mark.parametrize("momentum, nesterov", [(None, False), (0.9, False), (0.9, True)])
def test_optax_sgd_translation_takes_optaxs_steps(momentum, nesterov):
    """optax.sgd: ``trace = g + momentum * trace``, the update ``-lr * trace`` (nesterov:
    ``-lr * (g + momentum * trace)``)."""
    lr, w, trace, want = 0.1, np.array([0.3, 0.7]), np.zeros(2), []
    for _ in range(6):
        g = _grad(w)
        if momentum is None:
            w = w - lr * g
        else:
            trace = g + momentum * trace
            w = w - lr * (g + momentum * trace if nesterov else trace)
        want.append(w)
    ours = _xg_steps(xg.optim.SGD(lr, momentum=momentum or 0.0, nesterov=nesterov), 6)
    np.testing.assert_allclose(ours, np.array(want), rtol=1e-13, atol=1e-15)


def test_hips_autograd_sgd_translation_takes_its_steps():
    """autograd.misc.optimizers.sgd: ``velocity = mass * velocity - (1 - mass) * g``,
    ``x = x + step_size * velocity``."""
    step_size, mass, w, velocity, want = 0.2, 0.8, np.array([0.3, 0.7]), np.zeros(2), []
    for _ in range(6):
        velocity = mass * velocity - (1.0 - mass) * _grad(w)
        w = w + step_size * velocity
        want.append(w)
    ours = _xg_steps(xg.optim.SGD(learning_rate=step_size * (1 - mass), momentum=mass), 6)
    np.testing.assert_allclose(ours, np.array(want), rtol=1e-13, atol=1e-15)
