"""What treating a model as a pytree costs next to the stateful and the dict-of-tensors routes,
on a 16-32-1 MLP (batch 8, float32): microseconds of CPU time per call (``time.process_time``,
so other processes on shared cores count little), median of interleaved rounds, one
thread.

    python benchmarks/module_pytree.py [--rounds 9] [--calls 200]   # the pytree routes
    python benchmarks/module_pytree.py overhead   # xg.function's call cost with a model of
                                                  # Variables (runs on xpgrad before pytrees)

``grad``: ``xg.grad(loss)(model, x, y)`` (a gradient shaped like the model) against a tape's
``tape.gradient(loss, model.trainable_variables)``; the ratios of each pytree route to its peer
are printed last. ``step``: an ``xg.function`` SGD step
taking and returning the model (a value: plain tensors) against the same step over a dict of
tensors through ``functional_call``. ``tree_map``: one ``xg.tree_map`` over the model and over
the dict. ``overhead``: a traced ``f(model, x)`` with a model holding Variables (the MLP and a
Transformer encoder layer, d_model 32, 4 heads).
"""
from __future__ import annotations

import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from interleaved import one_thread  # noqa: E402


def per_call_us(fn, calls, rounds=7):
    """The median over ``rounds`` of the mean time of ``calls`` calls of ``fn``, in µs."""
    samples = []
    for _ in range(rounds):
        start = time.process_time()
        for _ in range(calls):
            fn()
        samples.append((time.process_time() - start) / calls * 1e6)
    return statistics.median(samples)


def interleaved(cases, calls, rounds):
    """``{name: µs per call}`` for ``cases`` (``{name: fn}``), timed in turns, each warmed."""
    for fn in cases.values():
        for _ in range(20):
            fn()
    times = {name: [] for name in cases}
    for _ in range(rounds):
        for name, fn in cases.items():
            times[name].append(per_call_us(fn, calls, rounds=1))
    return {name: statistics.median(t) for name, t in times.items()}


def pytree_cases():
    import xpgrad as xg

    model = xg.nn.MLP([16, 32, 1], rng=0)
    x, y = xg.ones((8, 16)), xg.zeros((8, 1))

    def loss(m, x, y):
        return xg.mean((m(x) - y) ** 2)

    def tape_grad():
        with xg.GradientTape() as tape:
            value = loss(model, x, y)
        return tape.gradient(value, model.trainable_variables)

    def model_step(m, x, y):
        grads = xg.grad(loss)(m, x, y)
        return xg.tree_map(lambda p, g: p - 0.01 * g, m, grads)

    params = {k: xg.asarray(v.numpy()) for k, v in model.named_variables().items()}

    def dict_loss(p, x, y):
        return xg.mean((xg.nn.functional_call(model, p, (x,)) - y) ** 2)

    def dict_step(p, x, y):
        grads = xg.grad(dict_loss)(p, x, y)
        return xg.tree_map(lambda p, g: p - 0.01 * g, p, grads)

    traced_model, traced_dict = xg.function(model_step), xg.function(dict_step)
    state = {"model": xg.tree_map(lambda p: p * 1.0, model), "dict": params}

    def run_model():
        state["model"] = traced_model(state["model"], x, y)

    def run_dict():
        state["dict"] = traced_dict(state["dict"], x, y)

    return {
        "grad: xg.grad(model)": lambda: xg.grad(loss)(model, x, y),
        "grad: tape": tape_grad,
        "step: xg.function(model -> model)": run_model,
        "step: xg.function(dict) + functional_call": run_dict,
        "tree_map: model": lambda: xg.tree_map(lambda p: p, model),
        "tree_map: dict": lambda: xg.tree_map(lambda p: p, params),
    }


def overhead_cases():
    import xpgrad as xg

    mlp = xg.nn.MLP([16, 32, 1], rng=0)
    layer = xg.nn.TransformerEncoderLayer(32, 4, dim_feedforward=64, dropout=0.0,
                                          batch_first=True, rng=0)
    x, seq = xg.ones((8, 16)), xg.ones((2, 5, 32))
    call = xg.function(lambda m, x: m(x))
    return {"overhead: f(mlp, x)": lambda: call(mlp, x),
            "overhead: f(transformer layer, x)": lambda: call(layer, seq)}


def _parser():
    import argparse

    from xpgrad import cli_types

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("mode", nargs="?", default="pytree", choices=["pytree", "overhead"])
    p.add_argument("--rounds", type=cli_types.positive(int), default=9,
                   help="interleaved rounds (the median is shown)")
    p.add_argument("--calls", type=cli_types.positive(int), default=200,
                   help="calls timed per round")
    return p


#: the ratios printed after the times: (what, the route measured, the route it is set against)
RATIOS = [("grad: xg.grad(model) / tape", "grad: xg.grad(model)", "grad: tape"),
          ("step: model -> model / dict", "step: xg.function(model -> model)",
           "step: xg.function(dict) + functional_call"),
          ("tree_map: model / dict", "tree_map: model", "tree_map: dict")]


def ratios(times) -> list:
    """``[(what, ratio)]`` of the pytree routes' times to their stateful or dict peers.

    >>> ratios({"grad: xg.grad(model)": 90.0, "grad: tape": 80.0})
    [('grad: xg.grad(model) / tape', 1.125)]
    """
    return [(what, times[ours] / times[theirs]) for what, ours, theirs in RATIOS
            if ours in times and theirs in times]


def main(argv=None):
    args = _parser().parse_args(argv)
    one_thread()
    cases = overhead_cases() if args.mode == "overhead" else pytree_cases()
    times = interleaved(cases, calls=args.calls, rounds=args.rounds)
    for name, us in times.items():
        print(f"{name:45s} {us:8.1f} us")
    for what, ratio in ratios(times):
        print(f"{what:45s} {ratio:8.2f}x")


if __name__ == "__main__":
    main()
