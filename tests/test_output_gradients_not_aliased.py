"""A gradient ``tape.gradient(y, x, output_gradients=g)`` returns owns its memory, also where
the backward pass hands back ``g`` itself or a view of it (``y = x + 0``, a reshape, a
transpose): writing into ``g``'s memory afterwards (a NumPy buffer reused for the next seed,
as a loop over a Jacobian's rows does, or ``g.numpy()``'s view) leaves the gradient as it
was, and writing into the gradient's memory leaves ``g`` as it was. (PyTorch's
``autograd.grad`` and TensorFlow return ``g`` itself for an identity; TensorFlow's tensors
cannot be written, and xpgrad's ``t[...] = v`` copies a shared buffer, but NumPy views can.)"""
import numpy as np
import pytest

import xpgrad as xg

CHAINS = {"times-one": lambda x: x * 1, "reshape": lambda x: xg.reshape(x, (3, 2)),
          "transpose": lambda x: xg.matrix_transpose(x), "plus-zero": lambda x: x + 0}


@pytest.mark.parametrize("backend", ["numpy", "numba"])
@pytest.mark.parametrize("chain", sorted(CHAINS))
@pytest.mark.parametrize("seed_kind", ["tensor", "numpy"])
def test_the_gradient_and_output_gradients_do_not_share_memory(backend, chain, seed_kind):
    x = xg.asarray(np.arange(6.0).reshape(2, 3), backend=backend)
    with xg.GradientTape() as tape:
        tape.watch(x)
        y = CHAINS[chain](x)
    values = np.arange(10.0, 16.0).reshape(y.shape)
    seed = values.copy() if seed_kind == "numpy" else xg.asarray(values.copy(), backend=backend)
    grad = tape.gradient(y, x, output_gradients=seed)
    want = np.reshape(values.T if chain == "transpose" else values, (2, 3))    # values kept
    seed_memory = seed if seed_kind == "numpy" else seed.numpy()
    seed_memory[...] = -1.0                 # the seed's buffer reused
    np.testing.assert_array_equal(grad.numpy(), want)
    grad.numpy()[...] = 0.0                 # the gradient clipped in place
    np.testing.assert_array_equal(seed_memory, np.full(y.shape, -1.0))
