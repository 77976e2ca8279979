"""A value-and-gradient run of a convolution or pooling function, xpgrad's and PyTorch's, shared
by the conv1d/conv2d and pool1d/pool2d tests: the loss is ``sum(cos(arange(size)) * out)`` (out
the first output when the function returns several, as pooling with ``return_indices``), so
every output entry gets its own weight; the gradients are those of every array given (None
entries are passed through, not differentiated)."""
from __future__ import annotations

import numpy as np

import xpgrad as xg

#: numpy, and numba where it is installed
BACKENDS = ["numpy"] + (["numba"] if xg.available_backends().get(
    "numba", {"available": False})["available"] else [])


def _first(out):
    return out[0] if isinstance(out, tuple) else out


def ours(fn, backend, arrays, kwargs):
    """``(fn(*arrays, **kwargs), [gradient of each non-None array])``, as Tensors."""
    given = [None if a is None else xg.asarray(a, backend=backend) for a in arrays]
    watched = [t for t in given if t is not None]
    with xg.GradientTape() as tape:
        for t in watched:
            tape.watch(t)
        out = fn(*given, **kwargs)
        y = _first(out)
        ct = xg.asarray(np.cos(np.arange(y.size)).reshape(y.shape), backend=backend)
        loss = xg.sum(y * ct)
    return out, tape.gradient(loss, watched)


def theirs(fn, arrays, kwargs):
    """The same with a torch function: ``(fn(...), [each non-None array's .grad as NumPy])``."""
    import torch

    given = [None if a is None else torch.tensor(a, requires_grad=True) for a in arrays]
    out = fn(*given, **kwargs)
    y = _first(out)
    (y * torch.tensor(np.cos(np.arange(y.numel())).reshape(y.shape))).sum().backward()
    return out, [t.grad.numpy() for t in given if t is not None]
