"""Training features added since the GPU check was last extended, on the cupy backend (marked
gpu: run by tools/gpu_check.sh where a GPU is lent) against the numpy backend: tensor gradient
hooks (eager, and replayed by ``xg.function``: CUDA graphs on cupy), the optimizers'
``maximize=`` and SGD's ``dampening=`` through cupy's fused update kernels (float32 and
float64), ``xpgrad train --lr-schedule onecycle``'s cycled momentum, and ``xg.tree_flatten`` /
``clip_global_norm`` over a pytree of gradients. array-api-strict stands in for cupy without a
device (tests/backend_under_test.py)."""
from __future__ import annotations

import numpy as np
import pytest

import xpgrad as xg
from xpgrad.training import TrainConfig, train

from backend_under_test import assert_close, backend  # noqa: F401 (backend: a fixture)
from gpu_marks import cupy_param

RNG = np.random.default_rng(49)
X0, W0 = RNG.normal(size=(5, 4)), RNG.normal(size=(4, 3))


def _hooked_loss(x, w):
    h = x @ w
    h.register_hook(lambda g: g * 2.0)
    return xg.sum(xg.tanh(h))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_a_tensor_hook_changes_the_gradient_as_on_numpy(dtype, backend):
    def gradients(on):
        x, w = (xg.asarray(a, dtype=dtype, backend=on) for a in (X0, W0))
        leaf_seen = []
        with xg.GradientTape() as tape:
            tape.watch([x, w])
            w.register_hook(lambda g: leaf_seen.append(g.backend.name) or g - 1.0)
            loss = _hooked_loss(x, w)
        got = tape.gradient(loss, [x, w])
        assert leaf_seen == [on]
        return [g.numpy() for g in got]
    assert_close(gradients(backend), gradients("numpy"), dtype, "hooked gradients")


@pytest.mark.parametrize("on", [cupy_param()])
def test_xg_function_replays_the_hook_as_numpy_computes_it(on):
    """cupy only: ``xg.function`` traces no array-api-strict arrays (they have no ``flags``)."""
    backend = on
    step = xg.function(xg.grad(_hooked_loss, argnums=1))
    for scale in (1.0, 0.5, -0.7, 2.0):          # warm-up, trace, two replays
        got = step(xg.asarray(X0 * scale, backend=backend), xg.asarray(W0, backend=backend))
        want = xg.grad(_hooked_loss, argnums=1)(xg.asarray(X0 * scale, backend="numpy"),
                                                xg.asarray(W0, backend="numpy"))
        assert_close([got.numpy()], [want.numpy()], "float64", f"scale {scale}")


OPTIMIZERS = {
    "sgd-momentum-maximize": lambda: xg.optim.SGD(0.05, momentum=0.9, maximize=True),
    "sgd-nesterov-maximize-decay": lambda: xg.optim.SGD(0.05, momentum=0.9, nesterov=True,
                                                        maximize=True, weight_decay=0.1),
    "sgd-dampening-decay": lambda: xg.optim.SGD(0.05, momentum=0.9, dampening=0.4,
                                                weight_decay=0.1),
    "adam-maximize": lambda: xg.optim.Adam(0.05, maximize=True),
    "adam-amsgrad-maximize": lambda: xg.optim.Adam(0.05, amsgrad=True, maximize=True),
    "adamw-maximize": lambda: xg.optim.AdamW(0.05, maximize=True),
    "rmsprop-centered-maximize": lambda: xg.optim.RMSprop(0.01, momentum=0.5, centered=True,
                                                          maximize=True),
    "adagrad-maximize": lambda: xg.optim.Adagrad(0.1, maximize=True),
    "adadelta-maximize": lambda: xg.optim.Adadelta(1.0, maximize=True),
}


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_maximize_and_dampening_step_as_on_numpy(name, dtype, backend):
    """A weight large enough for the fused update kernels (300 x 300), three steps."""
    w0, grads = RNG.normal(size=(300, 300)), RNG.normal(size=(3, 300, 300))

    def end(on):
        w = xg.Variable(xg.asarray(w0, dtype=dtype, backend=on))
        opt = OPTIMIZERS[name]()
        for g in grads:
            opt.apply_gradients([(xg.asarray(g, dtype=dtype, backend=on), w)])
        return w.numpy()
    got, want = end(backend), end("numpy")
    assert_close([got], [want], dtype, name)
    assert not np.allclose(want, w0, atol=1e-3)                 # it moved


@pytest.mark.parametrize("optimizer", ["adam", "momentum"])
def test_onecycle_training_cycles_the_momentum_as_on_numpy(optimizer, backend):
    """``xpgrad train --lr-schedule onecycle`` (beta_1 or momentum set before every step)
    ends with the numpy backend's weights: 12 steps of 128 digits."""
    def weights(on):
        cfg = TrainConfig(backend=on, optimizer=optimizer, epochs=1, batch_size=128, hidden=[16],
                          learning_rate=0.05, lr_schedule="onecycle", max_steps=12,
                          progress=False)
        result = train(cfg, echo=lambda *a, **k: None)
        assert result.steps == 12
        return [v.numpy() for v in result.model.trainable_variables], result.optimizer
    (got, opt), (want, _) = weights(backend), weights("numpy")
    for index, (g, w) in enumerate(zip(got, want)):   # test_cupy_backend.py's MLP parity bound
        np.testing.assert_allclose(g, w, rtol=1e-3, atol=1e-4, err_msg=f"variable {index}")
    # the schedule's last momentum, not the optimizer's default, was left set
    assert getattr(opt, "beta_1", getattr(opt, "momentum", None)) not in (0.9, None)


def test_pytree_flatten_and_clip_global_norm_keep_the_backend_and_match_numpy(backend):
    grads = {"dense": {"w": RNG.normal(size=(4, 3)) * 5.0, "b": RNG.normal(size=3)},
             "head": [RNG.normal(size=(3, 2)), None]}

    def clipped(on):
        tree = xg.tree_map(lambda a: xg.asarray(a, backend=on), grads)
        leaves, treedef = xg.tree_flatten(tree)
        assert {t.backend.name for t in leaves} == {on} and len(leaves) == 3
        rebuilt = xg.tree_unflatten(treedef, [t * 1.0 for t in leaves])
        out, norm = xg.optim.clip_global_norm(rebuilt, 1.0)
        assert out["head"][1] is None and norm.backend.name == on
        return [norm.numpy(), *(t.numpy() for t in xg.tree_leaves(out))]
    got, want = clipped(backend), clipped("numpy")
    assert_close(got, want, "float64", "clip_global_norm")
    assert np.sqrt(sum(np.sum(t ** 2) for t in got[1:])) == pytest.approx(1.0)
