"""What a new signature costs an ``xg.function``: the trace (its second call, ``warmup=1``) and
the first replay, for ``xpgrad bench``'s compiled rows (the MLP step at batch 32, the LSTM step
over 50 steps, the 1000-op chain with its gradient), with the trace split by phase.

    python benchmarks/first_call_latency.py [--backend numpy] [--repeat 5] [--only mlp ...]
    python benchmarks/first_call_latency.py --scaling       # the chain's trace at 1k..50k ops

Prints CPU seconds (``time.process_time``), the least of ``--repeat`` fresh functions: the
eager warm-up call, the trace, the first replay, and the trace's phases -- recording
(``capture``: the function run once on stand-ins), each pass of ``Program`` over the recorded
steps, the source written and compiled -- with the recorded steps and microseconds per step.
On the numba backend run it twice: the first run compiles kernels (cached on disk after).
"""
from __future__ import annotations

import argparse
import contextlib
import time

import xpgrad as xg
from xpgrad import cli_types
from xpgrad.bench_workloads import ops, training
from xpgrad.jit import program as program_module
from xpgrad.jit import trace_cache

#: ``Program``'s passes (names in ``xpgrad/jit/program.py``) timed one by one
PASSES = ("fold_constants", "merge_common_steps", "fold_sgd_into_gemm", "fold_label_guards",
          "fold_loss_gradient", "small_products_to_numpy", "small_stacks_to_array",
          "direct_numpy_calls", "take_in_place_vjps", "element_plan", "python_float_reads",
          "safe_reads", "listed_inputs")
METHODS = ("_drop_dead", "_plan", "_generate")


class PhaseClock:
    """Adds up the CPU time spent in the wrapped functions, by name; nested calls count once
    (in the outermost wrapped one)."""

    def __init__(self):
        self.seconds, self._depth = {}, 0

    def wrap(self, name, fn):
        def timed(*args, **kwargs):
            if self._depth:
                return fn(*args, **kwargs)
            self._depth += 1
            start = time.process_time()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds[name] = self.seconds.get(name, 0.0) + time.process_time() - start
                self._depth -= 1
        return timed


@contextlib.contextmanager
def phases_timed(clock):
    """The recording, ``Program``'s passes and its methods timed into ``clock``."""
    saved = [(trace_cache, "capture", trace_cache.capture),
             (program_module.Program, "__init__", program_module.Program.__init__)]
    saved += [(program_module, name, getattr(program_module, name)) for name in PASSES]
    saved += [(program_module.Program, name, getattr(program_module.Program, name))
              for name in METHODS]
    if getattr(program_module, "compile", None) is None:
        saved.append((program_module, "compile", None))
    for owner, name, fn in saved:
        if name == "__init__":
            continue
        setattr(owner, name, clock.wrap(name, fn if fn is not None else compile))
    build = program_module.Program.__init__

    def init(self, *args, **kwargs):       # the whole Program; the passes nest in it
        start = time.process_time()
        depth, clock._depth = clock._depth, 0
        try:
            build(self, *args, **kwargs)
        finally:
            clock._depth = depth
            clock.seconds["Program"] = clock.seconds.get("Program", 0.0) + \
                time.process_time() - start
    program_module.Program.__init__ = init
    try:
        yield
    finally:
        for owner, name, fn in saved:
            if fn is None:
                delattr(owner, name)
            else:
                setattr(owner, name, fn)


def _first_calls(measure):
    """A stand-in for the workloads' ``_traced`` that times the eager call, the trace and the
    first replay into ``measure`` and returns the Function."""
    def traced(xg_module, fn, *args):
        function = xg_module.function(fn)
        for phase in ("eager", "trace", "replay"):
            clock = PhaseClock()
            with phases_timed(clock) if phase == "trace" else contextlib.nullcontext():
                start = time.process_time()
                function(*args)
                measure[phase] = time.process_time() - start
            if phase == "trace":
                measure["phases"] = clock.seconds
        measure["steps"] = sum(p.source.count("\n") for p in function.programs())
        measure["recorded"] = _recorded[0]
        return function
    return traced


_recorded = [0]


def _counting_capture(capture):
    def counted(*args, **kwargs):
        tracer, result, writes = capture(*args, **kwargs)
        _recorded[0] = len(tracer.steps)
        return tracer, result, writes
    return counted


WORKLOADS = {
    "mlp": lambda lib: training.mlp_step(lib, batch=32, compiled=True),
    "lstm": lambda lib: training.lstm_step(lib, compiled=True),
    "chain": lambda lib: ops.chain(lib, n_ops=1000, compiled=True),
}


def measure(name, lib):
    """``{eager, trace, replay, phases, steps, recorded}`` of one fresh trace of ``name``."""
    result = {}
    getattr(program_module, "_COMPILED", {}).clear()     # a first trace: no code to reuse
    saved = training._traced, ops._traced, trace_cache.capture
    training._traced = ops._traced = _first_calls(result)
    trace_cache.capture = _counting_capture(saved[2])
    try:
        WORKLOADS[name](lib)
    finally:
        training._traced, ops._traced, trace_cache.capture = saved
    return result


def _least(runs):
    out = dict(runs[0])
    for key in ("eager", "trace", "replay"):
        out[key] = min(r[key] for r in runs)
    out["phases"] = {k: min(r["phases"].get(k, 0.0) for r in runs) for k in runs[0]["phases"]}
    return out


def report(name, r):
    phases = dict(r["phases"])
    program = phases.pop("Program", 0.0)
    recording = phases.pop("capture", 0.0)
    passes = sum(phases.values())
    print(f"{name}: eager {r['eager'] * 1e3:.1f} ms, trace {r['trace'] * 1e3:.1f} ms, first "
          f"replay {r['replay'] * 1e3:.1f} ms; first call (trace + replay) "
          f"{(r['trace'] + r['replay']) * 1e3:.1f} ms; {r['recorded']} recorded steps, "
          f"{r['steps']} program lines")
    print(f"  recording {recording * 1e3:.1f} ms ({recording / max(r['recorded'], 1) * 1e6:.1f} "
          f"us/step), Program {program * 1e3:.1f} ms "
          f"({program / max(r['recorded'], 1) * 1e6:.1f} us/step), of which:")
    for key, seconds in sorted(phases.items(), key=lambda kv: -kv[1]):
        if seconds >= 5e-5:
            print(f"    {key:26s} {seconds * 1e3:8.2f} ms")
    print(f"    {'(rest of Program)':26s} {(program - passes) * 1e3:8.2f} ms")


def scaling(lib, sizes=(1000, 10000, 50000)):
    """The chain's trace phases at ``sizes`` ops: a pass linear in the steps keeps its time
    per step."""
    for n in sizes:
        WORKLOADS["chain_n"] = lambda lib, n=n: ops.chain(lib, n_ops=n, compiled=True)
        r = measure("chain_n", lib)
        phases = dict(r["phases"])
        steps = max(r["recorded"], 1)
        row = ", ".join(f"{k} {v / steps * 1e6:.2f}" for k, v in
                        sorted(phases.items(), key=lambda kv: -kv[1]) if v >= 1e-4)
        print(f"chain {n} ops, {steps} steps, us per step: {row}")


def main():
    from xpgrad.bench_workloads._libs import _Lib

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="numpy", choices=("numpy", "numba"))
    parser.add_argument("--repeat", type=cli_types.positive(int), default=5,
                        help="fresh traces of each (the least times printed)")
    parser.add_argument("--only", nargs="*", choices=sorted(WORKLOADS))
    parser.add_argument("--scaling", action="store_true")
    options = parser.parse_args()
    lib = _Lib(f"xpgrad-{options.backend}")
    xg.set_backend(options.backend)
    if options.scaling:
        scaling(lib)
        return
    for name in options.only or WORKLOADS:
        report(name, _least([measure(name, lib) for _ in range(options.repeat)]))


if __name__ == "__main__":
    main()
