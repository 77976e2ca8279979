"""Benchmark workloads shared by the asv suites (asv_benchmarks/) and ``xpgrad bench``.

Each builder takes a library name from ``LIBS`` plus the workload's parameters and returns a
zero-argument callable that does the work once (on a GPU, including the device synchronize).
The same seeded NumPy inputs feed every library. A library that cannot run here raises
``Unavailable`` (a ``NotImplementedError``, which asv reports as a skip) saying why.

The package reaches xpgrad only through its public API (``import xpgrad as xg``, never a
relative import of xpgrad's modules): the asv suites load it from the source tree, so the same
workloads measure every commit of the history. ``ops`` holds the single-operation workloads,
``training`` the training steps, ``vmap`` per-example gradients, ``gradients`` single
operations' forward+backward where a gradient once cost far more than the forward, ``ode``
``xg.odeint``'s fits against JAX's, ``_libs`` what each library provides.

>>> fn = build("chain", "xpgrad-numpy", n_ops=8)
>>> fn() is None, fn.work                  # the sizes read off the arrays it built
(True, {'n_ops': 8, 'size': 4})
"""
from __future__ import annotations

from ._libs import (ACTIVATIONS, LIBS, LOSSES, MLP_SIZES, OPTIMIZERS, PEER_LIBS, REFERENCE,
                    SECOND_REFERENCE, XPGRAD_LIBS, Unavailable, _Lib, limit_jax_threads,
                    limit_threads, parse_shape)
from .char_lm import char_lm_step
from .gradients import GRADIENT_OPS, op_gradient
from .ode import neural_ode, ode_fit
from .ops import activation, chain, loss
from .remat import remat_step
from .training import lstm_step, mlp_step, optimizer, rnn_loop
from .vmap import VMAP_SIZES, per_example_grads

WORKLOADS = {"chain": chain, "loss": loss, "activation": activation,
             "optimizer": optimizer, "mlp_step": mlp_step, "lstm_step": lstm_step,
             "rnn_loop": rnn_loop, "char_lm_step": char_lm_step,
             "remat_step": remat_step, "per_example_grads": per_example_grads,
             "op_gradient": op_gradient, "ode_fit": ode_fit, "neural_ode": neural_ode}


def build(workload, lib_name, **params):
    """The zero-argument callable for ``workload`` on ``lib_name``, already run once (so
    compilation, caches and allocations are outside the timings).

    Raises Unavailable when the library or the xpgrad module it needs is missing here.
    """
    fn = WORKLOADS[workload](_Lib(lib_name), **params)
    fn()
    return fn


__all__ = ["ACTIVATIONS", "GRADIENT_OPS", "LIBS", "LOSSES", "MLP_SIZES", "OPTIMIZERS",
           "PEER_LIBS", "REFERENCE", "SECOND_REFERENCE", "VMAP_SIZES", "limit_jax_threads",
           "WORKLOADS", "XPGRAD_LIBS", "Unavailable", "build", "limit_threads", "parse_shape"]
