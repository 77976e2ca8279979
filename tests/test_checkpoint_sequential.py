"""``xg.nn.checkpoint_sequential`` (PyTorch's), and the memory ``xg.recompute_grad`` saves: a
step's peak (tracemalloc, which NumPy reports its buffers to) with and without checkpointing."""
from __future__ import annotations

import numpy as np
import pytest
from test_recompute_grad import _assert_all_close, _grads

import xpgrad as xg


@pytest.fixture(params=["numpy", "numba"])
def backend(request):
    return request.param


@pytest.mark.parametrize("segments", [1, 2, 3, 5])
def test_checkpoint_sequential_gives_the_plain_gradients(backend, rng, segments):
    layers = [xg.nn.Linear(6, 6, rng=i, backend=backend) for i in range(4)]
    model = xg.nn.Sequential([m for layer in layers for m in (layer, xg.nn.Tanh())])
    x = xg.asarray(rng.normal(size=(3, 6)), dtype="float32", backend=backend)
    params = model.trainable_variables
    plain = _grads(lambda: xg.sum(model(x) ** 2), [x] + params)
    remat = _grads(lambda: xg.sum(xg.nn.checkpoint_sequential(model, segments, x) ** 2),
                   [x] + params)
    np.testing.assert_allclose(remat[0].numpy(), plain[0].numpy(), rtol=1e-6)
    _assert_all_close(remat[1], plain[1], rtol=1e-6, atol=1e-7)


def test_checkpoint_sequential_refuses_bad_arguments():
    model = xg.nn.Sequential(xg.nn.Tanh(), xg.nn.Tanh())
    x = xg.ones((2, 2))
    with pytest.raises(TypeError, match="segments must be a positive integer"):
        xg.nn.checkpoint_sequential(model, 1.5, x)
    with pytest.raises(ValueError, match="segments must be a positive integer"):
        xg.nn.checkpoint_sequential(model, 0, x)
    with pytest.raises(ValueError, match="segments=3 is more than the 2 layers"):
        xg.nn.checkpoint_sequential(model, 3, x)
    with pytest.raises(TypeError, match="layers must be a Sequential or a list"):
        xg.nn.checkpoint_sequential(xg.tanh, 1, x)
    with pytest.raises(TypeError, match="takes callables"):
        xg.nn.checkpoint_sequential([xg.tanh, 3], 1, x)

def _peak_bytes(step):
    import tracemalloc

    tracemalloc.start()
    try:
        step()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_checkpointing_a_deep_mlp_lowers_the_peak_memory_of_a_step(rng):
    # 16 layers in 4 checkpointed segments: the tape keeps 4 segment inputs, the backward pass
    # one segment's activations at a time (about 8 of 16 activations; measured 0.54 of plain)
    ws = [xg.Variable(rng.normal(size=(128, 128)) / 16, dtype="float32", name=f"w{i}")
          for i in range(16)]
    x = xg.asarray(rng.normal(size=(512, 128)), dtype="float32")

    def segment(h, part):
        for w in part:
            h = xg.nn.relu(h @ w)
        return h

    def step(wrap):
        with xg.GradientTape() as tape:
            h = x
            for i in range(0, 16, 4):
                h = wrap(segment)(h, ws[i:i + 4])
            loss = xg.sum(h * h)
        return tape.gradient(loss, ws)

    step(lambda f: f)                                   # warm-up: kernels compiled, caches
    step(xg.recompute_grad)                             # and those only the recompute runs
    plain = _peak_bytes(lambda: step(lambda f: f))
    remat = _peak_bytes(lambda: step(xg.recompute_grad))
    assert remat < 0.7 * plain, (remat, plain)
