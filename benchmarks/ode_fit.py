"""A Lotka-Volterra fit's value and gradient: ``xg.odeint`` (adjoint gradients, ``--backend``)
against ``jax.experimental.ode.odeint`` in float64 on one thread.

    python benchmarks/ode_fit.py [--points 50] [--tol 1e-8] [--repeats 5] [--backend numpy]

The loss is the squared distance of the solution at ``--points`` times in [0, 15] to noisy
data, differentiated with respect to the four parameters and the initial state. JAX is timed
three ways: under ``jax.jit`` after its first call (compilation excluded), that first call
(compilation included), and without ``jax.jit`` around the loss (its odeint compiles its own
pieces once; later calls reuse them). Times are the process's CPU time (all its threads; other
processes' load only adds), the least of ``--repeats`` calls. torchdiffeq is not timed (not
installed here).
"""
from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false "
                                   "intra_op_parallelism_threads=1")

import argparse            # noqa: E402
import time                # noqa: E402

import numpy as np         # noqa: E402

import xpgrad as xg        # noqa: E402
from xpgrad import cli_types  # noqa: E402
from xpgrad.bench_workloads.ode import lotka_volterra, mlp_field  # noqa: E402

PARAMS, Y0 = np.array([1.1, 0.4, 0.1, 0.4]), np.array([10.0, 5.0])


def data(points):
    from scipy.integrate import solve_ivp

    t = np.linspace(0.0, 15.0, points)
    a, b, d, g = PARAMS
    clean = solve_ivp(lambda t, y: [a * y[0] - b * y[0] * y[1], d * y[0] * y[1] - g * y[1]],
                      (0.0, 15.0), Y0, t_eval=t, rtol=1e-12, atol=1e-12).y.T
    return t, clean + np.random.default_rng(0).normal(scale=0.5, size=clean.shape)


def best(fn, repeats):
    times = []
    for _ in range(repeats):
        start = time.process_time()
        fn()
        times.append(time.process_time() - start)
    return min(times)


def xpgrad_case(t, observed, tol):
    dynamics = lotka_volterra(xg)
    tt, obs = xg.asarray(t), xg.asarray(observed)

    def loss(p, y0):
        return xg.sum((xg.odeint(dynamics, y0, tt, p, rtol=tol, atol=tol) - obs) ** 2)

    step = xg.value_and_grad(loss, argnums=(0, 1))
    p, y0 = xg.asarray(PARAMS * 1.1), xg.asarray(Y0)
    return lambda: step(p, y0), lambda: float(step(p, y0)[0])


def jax_cases(t, observed, tol):
    import jax

    jax.config.update("jax_enable_x64", True)
    jnp = jax.numpy
    from jax.experimental.ode import odeint

    dynamics = lotka_volterra(jnp)

    def loss(p, y0):
        return jnp.sum((odeint(dynamics, y0, t, p, rtol=tol, atol=tol) - observed) ** 2)

    p, y0 = jnp.asarray(PARAMS * 1.1), jnp.asarray(Y0)
    eager = jax.value_and_grad(loss, argnums=(0, 1))
    jitted = jax.jit(eager)

    def first_jitted():
        fresh = jax.jit(jax.value_and_grad(lambda p, y0: loss(p, y0) * 1.0, argnums=(0, 1)))
        jax.block_until_ready(fresh(p, y0))

    return {"jax.jit (compiled)": lambda: jax.block_until_ready(jitted(p, y0)),
            "jax.jit first call": first_jitted,
            "jax, no jit": lambda: jax.block_until_ready(eager(p, y0)),
            "value": lambda: float(jitted(p, y0)[0])}


def neural_cases(tol, batch=512, hidden=64):
    """A neural ODE (2 -> hidden -> 2 tanh MLP, ``batch`` states, 10 times in [0, 1]): the
    gradient of a squared loss with respect to the four weight arrays."""
    rng = np.random.default_rng(1)
    weights = [rng.normal(size=(2, hidden)) / np.sqrt(2), np.zeros(hidden),
               rng.normal(size=(hidden, 2)) / np.sqrt(hidden), np.zeros(2)]
    y0, t = rng.normal(size=(batch, 2)), np.linspace(0.0, 1.0, 10)

    ours = mlp_field(xg)
    step = xg.grad(lambda *w: xg.sum(xg.odeint(ours, xg.asarray(y0), xg.asarray(t), *w,
                                                rtol=tol, atol=tol) ** 2), argnums=(0, 1, 2, 3))
    ws = [xg.asarray(w) for w in weights]
    cases = {f"xg.odeint ({xg.current_backend().name})": lambda: step(*ws)}
    try:
        import jax
    except ImportError:
        return cases
    jax.config.update("jax_enable_x64", True)
    from jax.experimental.ode import odeint

    theirs = mlp_field(jax.numpy)
    jgrad = jax.jit(jax.grad(lambda *w: jax.numpy.sum(odeint(theirs, y0, t, *w, rtol=tol,
                                                             atol=tol) ** 2), argnums=(0, 1, 2, 3)))
    jws = [jax.numpy.asarray(w) for w in weights]
    jax.block_until_ready(jgrad(*jws))
    cases["jax.jit (compiled)"] = lambda: jax.block_until_ready(jgrad(*jws))
    return cases


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=50)
    parser.add_argument("--tol", type=float, default=1e-8)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--backend", type=cli_types.backend_name, default="numpy",
                        help="xpgrad's backend (numba: its first call compiles kernels, "
                        "excluded from the times)")
    args = parser.parse_args()
    xg.set_backend(args.backend)
    ours = f"xg.odeint ({args.backend})"
    t, observed = data(args.points)
    run, value = xpgrad_case(t, observed, args.tol)
    run()                                      # first call: imports, allocations
    rows = [(ours, best(run, args.repeats))]
    values = {"xpgrad": value()}
    try:
        cases = jax_cases(t, observed, args.tol)
    except ImportError:
        cases = {}
    if cases:
        values["jax"] = cases.pop("value")()
        cases["jax.jit (compiled)"]()
        cases["jax, no jit"]()
        for name, fn in cases.items():
            rows.append((name, best(fn, 1 if "first" in name else args.repeats)))
    print(f"Lotka-Volterra fit, {args.points} points, rtol=atol={args.tol}: loss "
          + ", ".join(f"{k} {v:.10g}" for k, v in values.items()))
    for name, seconds in rows:
        print(f"  {name:24s} {seconds * 1e3:9.2f} ms   ({seconds / rows[0][1]:.2f} x xpgrad)")
    neural = neural_cases(args.tol)
    neural[ours]()
    timed = [(name, best(fn, args.repeats)) for name, fn in neural.items()]
    print("Neural ODE (2-64-2 tanh MLP, 512 states, 10 times), gradient of the weights:")
    for name, seconds in timed:
        print(f"  {name:24s} {seconds * 1e3:9.2f} ms   ({seconds / timed[0][1]:.2f} x xpgrad)")


if __name__ == "__main__":
    main()
