"""ODE workloads: ``xg.odeint`` against ``jax.experimental.ode.odeint`` (under ``jax.jit``) in
float64, both with adjoint gradients: a Lotka-Volterra fit's loss and its gradient for the four
parameters and the initial state (a 2-entry state: Python's cost per solver step), and a
neural ODE's gradient for the weights of a 2-hidden-2 tanh MLP (a batch of states: the
arithmetic). xpgrad keeps ``func``'s captures from one call to the next, so after the build's
first call the timed calls replay them, as ``jax.jit`` replays its compiled call. PyTorch has
no ``odeint`` (torchdiffeq is another package): Unavailable there.

>>> from xpgrad.bench_workloads import build
>>> build("neural_ode", "xpgrad-numpy", batch=4, hidden=3).work
{'batch': 4, 'hidden': 3}
"""
from __future__ import annotations

import contextlib

import numpy as np

from ._libs import Unavailable, _need, measured

#: the Lotka-Volterra parameters (prey growth, predation, predator growth, predator death)
#: the fit starts from, and the initial populations
LV_PARAMS, LV_STATE = (1.1, 0.4, 0.1, 0.4), (10.0, 5.0)


def lotka_volterra(xp):
    """``dynamics(state, t, params)`` of the Lotka-Volterra system in namespace ``xp``.

    >>> import xpgrad as xg
    >>> lotka_volterra(xg)(xg.asarray(LV_STATE), 0.0, xg.asarray(LV_PARAMS)).tolist()
    [-9.0, 3.0]
    """
    def dynamics(s, t, p):
        return xp.stack([p[0] * s[0] - p[1] * s[0] * s[1], p[2] * s[0] * s[1] - p[3] * s[1]])
    return dynamics


def mlp_field(xp):
    """``field(y, t, w1, b1, w2, b2)``: a tanh MLP's output, the neural ODE's dy/dt.

    >>> import xpgrad as xg
    >>> mlp_field(xg)(xg.ones((1, 2)), 0.0, xg.zeros((2, 3)), xg.zeros(3), xg.ones((3, 2)),
    ...               xg.asarray([0.5, -0.5])).tolist()
    [[0.5, -0.5]]
    """
    def field(y, t, w1, b1, w2, b2):
        return xp.tanh(y @ w1 + b1) @ w2 + b2
    return field


def _odeint(lib):
    """``(odeint, namespace, float64)``: ``float64()`` a context in which JAX computes in
    float64 (its ``enable_x64``, which leaves the process's setting as it was)."""
    if lib.kind == "torch":
        raise Unavailable("PyTorch has no odeint (torchdiffeq is not a dependency)")
    if lib.kind == "jax":
        from jax.experimental.ode import odeint

        return odeint, lib.jax.numpy, lambda: lib.jax.enable_x64(True)
    import xpgrad as xg

    return _need(xg, "odeint", "xpgrad"), xg, contextlib.nullcontext


def _timed(lib, float64, fn, *args):
    """A call of ``fn(*args)`` (under ``jax.jit`` on JAX, waited for) in ``float64()``."""
    if lib.kind == "jax":
        jitted = lib.jax.jit(fn)

        def run():
            with float64():
                lib.jax.block_until_ready(jitted(*args))
        return run
    return lambda: fn(*args)


def ode_fit(lib, points=50, tol=1e-8):
    """The squared distance of the Lotka-Volterra solution at ``points`` times in [0, 15] to
    fixed observations, and its gradient for the parameters and the initial state."""
    odeint, xp, float64 = _odeint(lib)
    with float64():
        t = lib.put(np.linspace(0.0, 15.0, points))
        observed = lib.put(5.0 + np.random.default_rng(0).normal(size=(points, 2)))
        params, state = lib.put(np.array(LV_PARAMS)), lib.put(np.array(LV_STATE))
    dynamics = lotka_volterra(xp)

    def loss(p, y0):
        return xp.sum((odeint(dynamics, y0, t, p, rtol=tol, atol=tol) - observed) ** 2)

    value_and_grad = (lib.jax if lib.kind == "jax" else xp).value_and_grad
    run = _timed(lib, float64, value_and_grad(loss, argnums=(0, 1)), params, state)
    return measured(run, points=t.shape[0])


def neural_ode(lib, batch=512, hidden=64, tol=1e-8):
    """The gradient of the sum of squares of a neural ODE's solution at 10 times in [0, 1]
    (``batch`` states through a 2-``hidden``-2 tanh MLP) for the MLP's four weight arrays."""
    odeint, xp, float64 = _odeint(lib)
    rng = np.random.default_rng(1)
    weights0 = [rng.normal(size=(2, hidden)) / np.sqrt(2), np.zeros(hidden),
                rng.normal(size=(hidden, 2)) / np.sqrt(hidden), np.zeros(2)]
    with float64():
        weights = [lib.put(w) for w in weights0]
        y0, t = lib.put(rng.normal(size=(batch, 2))), lib.put(np.linspace(0.0, 1.0, 10))
    field = mlp_field(xp)

    def loss(*w):
        return xp.sum(odeint(field, y0, t, *w, rtol=tol, atol=tol) ** 2)

    grad = (lib.jax if lib.kind == "jax" else xp).grad
    run = _timed(lib, float64, grad(loss, argnums=(0, 1, 2, 3)), *weights)
    return measured(run, batch=y0.shape[0], hidden=weights[0].shape[1])
