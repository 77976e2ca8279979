"""Kernels (forward + vjp) of the activations for the Numba backend.

Forward and backward are one pass each; the backward needs only the saved output (sigmoid,
tanh) or the input (relu, leaky_relu, softplus). ``tanh``'s forward is NumPy's own SIMD tanh,
which measured faster than a Numba polynomial; its backward is fused here. Other dtypes than
float32/float64 fall back to the generic rule.

>>> import numpy as np
>>> x = np.array([-1.0, 2.0], np.float32)
>>> out, saved = KERNELS["relu"].forward(x)
>>> out.tolist(), KERNELS["relu"].vjp(np.ones(2, np.float32), saved, x)[0].tolist()
([0.0, 2.0], [0.0, 1.0])
"""
from __future__ import annotations

import numpy as np

from xpgrad.backend import Kernel

from . import _act_kernels as A
from . import _config
from ._losses import FLOATS, _flat


def _run(serial, parallel, n, *args):
    if n >= _config.PAR_MIN:
        parallel(*args, _config.BLOCK)
    else:
        serial(*args)


def _activation(fwd, fwd_par, bwd, bwd_par, *, save_output, numpy_forward=None, param=None):
    """A Kernel for ``y = f(x[, param])`` with ``dx = bwd(g, y or x[, param])``."""

    def forward(x, **params):
        dt = x.dtype
        if dt not in FLOATS:
            return None
        if numpy_forward is not None:
            out = numpy_forward(x)
        else:
            xf = _flat(x)
            n = xf.shape[0]
            out = np.empty(n, dt)
            extra = (dt.type(params[param]),) if param else ()
            _run(fwd, fwd_par, n, xf, out, *extra)
            out = out.reshape(x.shape)
        return out, (out if save_output else None)

    def vjp(g, saved, x, **params):
        dt = x.dtype
        if g.dtype != dt or g.shape != x.shape:
            return (NotImplemented,)
        gf = _flat(g)
        other = _flat(saved if save_output else x)
        n = gf.shape[0]
        dx = np.empty(n, dt)
        extra = (dt.type(params[param]),) if param else ()
        _run(bwd, bwd_par, n, gf, other, dx, *extra)
        return (dx.reshape(x.shape),)

    return Kernel(forward, vjp)


KERNELS = {
    "sigmoid": _activation(A.sigmoid_fwd, A.sigmoid_fwd_par, A.sigmoid_bwd, A.sigmoid_bwd_par,
                           save_output=True),
    "tanh": _activation(None, None, A.tanh_bwd, A.tanh_bwd_par, save_output=True,
                        numpy_forward=np.tanh),
    "relu": _activation(A.relu_fwd, A.relu_fwd_par, A.relu_bwd, A.relu_bwd_par,
                        save_output=False),
    "leaky_relu": _activation(A.leaky_relu_fwd, A.leaky_relu_fwd_par, A.leaky_relu_bwd,
                              A.leaky_relu_bwd_par, save_output=False, param="negative_slope"),
    "softplus": _activation(A.softplus_fwd, A.softplus_fwd_par, A.softplus_bwd,
                            A.softplus_bwd_par, save_output=False),
}
