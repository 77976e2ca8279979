"""One side of the regression gate (tools/asv_gate.py): a process that imports one version of
xpgrad (whatever ``PYTHONPATH`` puts first), builds the gate's workloads and times them on
request. It reads one JSON request per line on stdin and answers one JSON line on stdout:

    {"build": KEY, "workload": "chain", "lib": "xpgrad-numpy", "params": {...}}
        -> {"ok": true, "xpgrad": "/path/to/xpgrad/__init__.py"}  or  {"unavailable": "why"}
    {"time": KEY, "number": N}   -> {"wall": seconds, "cpu": this process's CPU seconds,
                                     "thread": this thread's CPU seconds} (totals for N calls)
    {"calibrate": KEY, "min_time": S}  -> {"number": calls lasting at least S seconds}

The workloads are the asv suites' (this checkout's xpgrad/bench_workloads/, loaded by file path
through asv_benchmarks/_common.py, so both sides run the same benchmark code at one thread).
"""
from __future__ import annotations

import importlib.util
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _common():
    spec = importlib.util.spec_from_file_location("_xpgrad_asv_common",
                                                  ROOT / "asv_benchmarks" / "_common.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _time(fn, number):
    start, cpu, thread = time.perf_counter(), time.process_time(), time.thread_time_ns()
    for _ in range(number):
        fn()
    return (time.perf_counter() - start, time.process_time() - cpu,
            (time.thread_time_ns() - thread) * 1e-9)


def main():
    common = _common()
    fns = {}
    for line in sys.stdin:
        req = json.loads(line)
        try:
            if "build" in req:
                try:
                    fns[req["build"]] = common.build(req["workload"], req["lib"],
                                                     **req["params"])
                except NotImplementedError as e:
                    reply = {"unavailable": str(e)}
                else:
                    reply = {"ok": True, "xpgrad": sys.modules["xpgrad"].__file__}
            elif "time" in req:
                wall, cpu, thread = _time(fns[req["time"]], req["number"])
                reply = {"wall": wall, "cpu": cpu, "thread": thread}
            elif "calibrate" in req:
                fn, number = fns[req["calibrate"]], 1
                while (elapsed := _time(fn, number)[0]) < req["min_time"]:
                    number = max(2 * number,
                                 int(number * req["min_time"] / max(elapsed, 1e-9) * 1.2))
                reply = {"number": number}
            else:
                reply = {"error": f"unknown request {req}"}
        except Exception as e:      # noqa: BLE001 - reported to the gate, which stops
            reply = {"error": f"{type(e).__name__}: {e}"}
        print(json.dumps(reply), flush=True)


if __name__ == "__main__":
    main()
