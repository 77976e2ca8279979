"""The prepared GPU check: one command that proves (or disproves) every CUDA claim on a lent device.

    tools/gpu_check.sh --prepare     # here, with network: wheels the device lacks + source stamp
    tools/gpu_check.sh               # on the device: everything below, about 4-6.5 minutes
    tools/gpu_check.sh --dry-run     # anywhere (CI): the same stages without device work

Stages, most valuable evidence first, each under its own time limit inside one overall budget
(``--budget``, 390 s), so that a hang in one cannot eat the lease and the run fits twice into a
15-minute one:

1. ``source``: the commit and date the run is for (git where ``.git`` travelled; otherwise the
   stamp ``--prepare`` wrote, with every file's hash checked against the tree that arrived).
2. ``env``: ``nvidia-smi``; Python; device name, driver, CUDA runtime, NVRTC, compute capability;
   the versions of CuPy, PyTorch, JAX, NumPy, Numba found there (reused, never installed).
3. ``install``: the carried wheels (``.whl/``, no registry: ``pip --no-index``) into a private
   folder on ``PYTHONPATH``; xpgrad itself with ``pip install --no-deps --no-build-isolation -e .``
   unless it already imports from this tree. CuPy is never installed: the one present is used.
   A missing ``array-api-compat`` stops the check here with the command that fixes it.
4. ``tests``: ``pytest -m gpu -rfEs`` over ``tests/test_cupy_backend.py`` (every kernel against
   the generic rule in float32 and float64, optimizer updates, MLP training parity with numpy,
   LSTM/RNN/GRU, 1,000-step memory growth), ``tests/test_cupy_gated_layers.py`` (the
   ``rnn_layer``/``gru_layer`` kernels and the in-place vjp on CuPy arrays),
   ``tests/test_function_cuda.py`` (``xg.function`` and its CUDA-graph replay),
   ``tests/test_cupy_api_paths.py`` (LSTMCell's one-step kernel, per-example outer products,
   several-output ``custom_gradient``, ``read_value``, ``xg.print`` between CUDA graphs) and
   ``tests/test_kernel_protocol.py`` where it exists, then the cupy cases of
   ``tests/test_cupy_training_features.py`` (tensor hooks, ``maximize``/``dampening`` through
   the fused updates, onecycle momentum, pytree clipping), ``tests/test_cupy_special_functions.py``
   (session 49's special functions in float32 and float64, extremes' gradients),
   ``tests/test_function_print.py``, ``tests/test_conv_channels_last.py`` and
   ``tests/test_gradients_at_special_points*.py``
   (``LATER_GPU_TESTS``); counts read from the JUnit XML.
5. ``portable``: the array-api-strict tests (every primitive, layer, loss, optimizer step,
   distribution and ``xg.vmap`` case) pointed at the cupy backend by
   ``XPGRAD_STRICT_TESTS_BACKEND=cupy``: CuPy against numpy in float64. A dry run checks they
   all collect (and skip), and runs a sample of them on numpy through the same variable.
6. ``bench``: ``benchmarks/cuda_kernels.py --json`` next to PyTorch CUDA and the copy bandwidth,
   issue 18's MLP step (eager and CUDA-graph compiled, against PyTorch eager and graphed) first.

Everything goes under ``$OUT`` if set, else ``runs/gpu-check-<UTC time>/``: ``gpu_check.log``
(all output), ``gpu_check.json`` (rewritten after each stage), ``summary.txt``, the JUnit XMLs
and ``bench.json``; at most 8 plain-named files, as the device tool returns. The last line
printed is the summary::

    GPU CHECK: 154 passed, 0 failed, 0 skipped; CE 1.62× torch (API 1.41×), 83% of copy BW; ...

``tools/gpu_evidence.py`` turns that folder into dated evidence under ``docs/gpu-evidence/``.
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from datetime import datetime, timezone
from pathlib import Path

# the gpu_check_* modules beside this file: its folder is put on the path here, since the
# environment probe runs this file with PYTHONSAFEPATH=1, which leaves it off
_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from gpu_check_config import (DEFAULT_BUDGET, DEVICE_CALL, FILES, GPU_TESTS,  # noqa: E402,F401
                              KILL_GRACE, LIMITS, PROTOCOL_TESTS, ROOT, STAGES, WHEEL_DIR_NAME)
from gpu_check_env import probe_env  # noqa: E402
from gpu_check_log import Log, run_logged, utc_now  # noqa: E402,F401
from gpu_check_results import (SUMMARY_RE, merge_results, parse_junit,  # noqa: E402,F401
                               summary_line)
from gpu_check_source import (check_wheels, compare_digests, file_digests,  # noqa: E402,F401
                              link_tree, prepare, wheel_dist)
from gpu_check_stages import Check, stage_timeout  # noqa: E402,F401


def default_out(dry_run) -> Path:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return ROOT / "runs" / f"gpu-check-{stamp}{'-dry' if dry_run else ''}"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dry-run", action="store_true",
                   help="no device work: no installs, GPU tests seen as skips, benchmark plan")
    p.add_argument("--prepare", action="store_true",
                   help="here, with network: fetch the wheels the device lacks into .whl/ and "
                        "stamp the source")
    p.add_argument("--out", help="output folder (default: $OUT, else runs/gpu-check-<time>)")
    p.add_argument("--budget", type=float, default=None,
                   help=f"seconds for all stages together (default {DEFAULT_BUDGET}; "
                        "240 for --dry-run)")
    p.add_argument("--stages", default=",".join(STAGES),
                   help=f"comma-separated subset of {','.join(STAGES)} (source always runs, "
                        "and install whenever tests, portable or bench do)")
    p.add_argument("--bench-args", default="",
                   help="extra arguments for benchmarks/cuda_kernels.py, e.g. '--sections ce'")
    p.add_argument("--pytest-args", default="", help="extra arguments for pytest")
    p.add_argument("--protocol-args", default=None,
                   help="selection for tests/test_kernel_protocol.py when none of its tests is "
                        "marked gpu (default: '-k cupy')")
    p.add_argument("--probe-env", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.probe_env:
        env = probe_env()
        Path(args.probe_env).write_text(json.dumps(env, indent=2, default=str))
        return 0
    if args.prepare:
        return prepare()
    stages = [s.strip() for s in args.stages.split(",") if s.strip()]
    unknown = [s for s in stages if s not in STAGES]
    if unknown:
        p.error(f"unknown stage(s) {unknown}; choose from {STAGES}")
    out = Path(args.out or os.environ.get("OUT") or default_out(args.dry_run))
    budget = args.budget or (240 if args.dry_run else DEFAULT_BUDGET)
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(encoding="utf-8", errors="replace")
    check = Check(out, args.dry_run, budget, stages, bench_args=shlex.split(args.bench_args),
                  pytest_args=shlex.split(args.pytest_args), protocol_args=args.protocol_args)
    return check.run()


if __name__ == "__main__":
    sys.exit(main())
