"""How long ``xg.function`` takes to trace a long program, next to running it eagerly and to
replaying the trace: a 100-draw HMC chain (leapfrog steps in a Python loop over ``xg.grad`` of a
log density) and a 200-step velocity-Verlet run with Lennard-Jones forces from ``xg.grad``.

    python benchmarks/trace_long_programs.py [--profile hmc|md] [--sort cumulative|tottime]

Prints seconds of CPU time (``time.process_time``: other processes on shared cores count
little) for the eager call (``warmup=1``'s first call), the trace (the
second call), each the least of ``--repeat`` fresh functions, and the median replay, and how
far the replay is from the eager result.
``--profile`` runs the trace of one workload under cProfile instead.
"""
from __future__ import annotations

import argparse
import cProfile
import pstats
import statistics
import time

import numpy as np

import xpgrad as xg
from xpgrad import cli_types

DIM, DRAWS, LEAPFROGS, STEP_SIZE = 8, 100, 5, 0.15
PARTICLES, MD_STEPS, DT = 8, 200, 0.002


def log_density(q):
    """A correlated Gaussian with a quartic tail (enough ops per gradient to be realistic)."""
    return -0.5 * xg.sum(q * q) - 0.1 * xg.sum(q[1:] * q[:-1]) - 0.01 * xg.sum(q ** 4)


def hmc_chain(q, momenta, uniforms):
    """``DRAWS`` HMC draws from ``q``; ``momenta`` (DRAWS, DIM) and ``uniforms`` (DRAWS,) are
    the chain's noise, passed in so the trace reads no generator."""
    grad_log_density = xg.grad(log_density)
    draws = []
    for k in range(DRAWS):
        p0 = momenta[k]
        q_new, p = q, p0 + 0.5 * STEP_SIZE * grad_log_density(q)
        for step in range(LEAPFROGS):
            q_new = q_new + STEP_SIZE * p
            if step < LEAPFROGS - 1:
                p = p + STEP_SIZE * grad_log_density(q_new)
        p = p + 0.5 * STEP_SIZE * grad_log_density(q_new)
        log_accept = (log_density(q_new) - 0.5 * xg.sum(p * p)
                      - log_density(q) + 0.5 * xg.sum(p0 * p0))
        q = xg.where(xg.log(uniforms[k]) < log_accept, q_new, q)
        draws.append(q)
    return xg.stack(draws)


def lennard_jones_energy(x):
    """Total Lennard-Jones energy (sigma = epsilon = 1) of the particles at rows of ``x``."""
    diff = x[:, None, :] - x[None, :, :]
    r2 = xg.sum(diff * diff, axis=-1) + xg.eye(PARTICLES, dtype=x.dtype)  # 1 on the diagonal
    inv6 = 1.0 / r2 ** 3
    off_diagonal = 1.0 - xg.eye(PARTICLES, dtype=x.dtype)
    return 2.0 * xg.sum(off_diagonal * (inv6 * inv6 - inv6))


def velocity_verlet(x, v):
    """``MD_STEPS`` velocity-Verlet steps of unit-mass particles; returns positions and
    velocities."""
    force = xg.grad(lambda y: -lennard_jones_energy(y))
    f = force(x)
    for _ in range(MD_STEPS):
        x = x + DT * v + 0.5 * DT * DT * f
        f_new = force(x)
        v = v + 0.5 * DT * (f + f_new)
        f = f_new
    return x, v


def hmc_inputs():
    rng = np.random.default_rng(0)
    return (xg.asarray(rng.normal(size=DIM)), xg.asarray(rng.normal(size=(DRAWS, DIM))),
            xg.asarray(rng.uniform(size=DRAWS)))


def md_inputs():
    side = 2
    grid = np.stack(np.meshgrid(*[np.arange(side)] * 3, indexing="ij"), -1).reshape(-1, 3)
    rng = np.random.default_rng(1)
    x = 1.12 * grid + 0.02 * rng.normal(size=grid.shape)
    return xg.asarray(x), xg.asarray(0.1 * rng.normal(size=x.shape))


WORKLOADS = {"hmc": (hmc_chain, hmc_inputs), "md": (velocity_verlet, md_inputs)}


def _timed(fn, *args):
    start = time.process_time()
    out = fn(*args)
    return out, time.process_time() - start


def _flat(out):
    return np.concatenate([np.ravel(np.asarray(o)) for o in (out if isinstance(out, tuple)
                                                             else (out,))])


def measure(name, replays=7):
    """``{eager, trace, replay: seconds, max_diff: replay vs eager}`` for one workload."""
    body, make_inputs = WORKLOADS[name]
    args = make_inputs()
    fn = xg.function(body)
    eager, eager_s = _timed(fn, *args)
    _, trace_s = _timed(fn, *args)
    replay_times = []
    for _ in range(replays):
        replayed, seconds = _timed(fn, *args)
        replay_times.append(seconds)
    assert fn.trace_count == 1, fn.trace_count
    diff = float(np.max(np.abs(_flat(replayed) - _flat(eager))))
    return {"eager": eager_s, "trace": trace_s, "replay": statistics.median(replay_times),
            "max_diff": diff, "steps": sum(p.source.count("\n") for p in fn.programs())}


def profile(name, sort):
    body, make_inputs = WORKLOADS[name]
    args = make_inputs()
    fn = xg.function(body)
    fn(*args)
    profiler = cProfile.Profile()
    profiler.runcall(fn, *args)
    pstats.Stats(profiler).sort_stats(sort).print_stats(35)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", choices=sorted(WORKLOADS))
    parser.add_argument("--repeat", type=cli_types.positive(int), default=3, help="traces of each (the least "
                        "eager and trace time printed: other processes only add time)")
    parser.add_argument("--sort", default="cumulative", choices=("cumulative", "tottime"))
    options = parser.parse_args()
    if options.profile:
        profile(options.profile, options.sort)
        return
    for name in WORKLOADS:
        runs = [measure(name) for _ in range(options.repeat)]
        r = dict(runs[0], **{k: min(run[k] for run in runs) for k in ("eager", "trace")})
        print(f"{name}: eager {r['eager']:.3f} s, trace {r['trace']:.3f} s, replay "
              f"{r['replay'] * 1e3:.1f} ms ({r['steps']} program lines), replay - eager max "
              f"{r['max_diff']:.1e}")


if __name__ == "__main__":
    main()
