"""The prepared GPU check's settings (``tools/gpu_check.py``): where things are, the files it
writes, the stages and their time limits, the wheels carried to the device, the device call.

>>> STAGES[0], sum(cap for cap, floor in LIMITS.values()) >= DEFAULT_BUDGET
('source', True)
"""
from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: the check itself (the environment probe runs it again, in a subprocess)
SCRIPT = Path(__file__).with_name("gpu_check.py")
WHEEL_DIR_NAME = ".whl"
STAMP_NAME = "SOURCE.json"
SCHEMA = 1
SUMMARY_PREFIX = "GPU CHECK:"
FILES = {"log": "gpu_check.log", "json": "gpu_check.json", "summary": "summary.txt",
         "junit": "pytest-gpu.xml", "junit_protocol": "pytest-protocol.xml",
         "junit_portable": "pytest-portable.xml", "bench": "bench.json", "asv": "asv-results"}
GPU_TESTS = ("tests/test_cupy_backend.py", "tests/test_cupy_gated_layers.py",
             "tests/test_function_cuda.py", "tests/test_cupy_api_paths.py")
PROTOCOL_TESTS = "tests/test_kernel_protocol.py"
# host tests with a cupy case (tests/gpu_marks.py's cupy_param, which -m gpu selects), run
# after the protocol tests: a stage cut short loses these first. The first two hold the
# features added in session 49 (hooks, maximize/dampening, onecycle momentum, pytrees; special
# functions in float32 and float64), about 20-40 s on a device (estimated, not measured)
LATER_GPU_TESTS = ("tests/test_cupy_training_features.py", "tests/test_cupy_special_functions.py",
                   "tests/test_function_print.py", "tests/test_conv_channels_last.py",
                   "tests/test_gradients_at_special_points.py",
                   "tests/test_gradients_at_special_points_chosen.py")
# the array-api-strict tests (tests/strict_checks.py), pointed at the cupy backend by the
# variable: every primitive, layer, loss, optimizer, distribution and vmap case against numpy;
# most valuable first (a stage cut short keeps the files it finished)
PORTABLE_TESTS = ("tests/test_layers_strict.py", "tests/test_vmap_strict.py",
                  "tests/test_primitives_strict.py")
PORTABLE_BACKEND_VARIABLE = "XPGRAD_STRICT_TESTS_BACKEND"
# the dry run's check of that plumbing: a few of the same tests pointed at the numpy backend
PORTABLE_DRY_SAMPLE = ("-k", "LSTM or GRU or RNN or Adam or Normal or mse or rnn_scan or "
                       "tensor_scatter_nd_update or namespace_lacks or k0e or array_orders")
# the benchmark's sections, issue 18's MLP step (eager and CUDA graphs) first
BENCH_SECTIONS = "mlp,ce,mse,activations,optim,lstm"
# packages the device image lacks (/work/.library/device/KINDS.md): dist name -> import name
REQUIRED_WHEELS = {"array-api-compat": "array_api_compat"}
OPTIONAL_WHEELS = {"array-api-strict": "array_api_strict"}
# packages reported, never installed: the device's own
REPORTED = ("numpy", "cupy", "torch", "jax", "jaxlib", "numba", "array-api-compat",
            "array-api-strict", "pytest", "pytest-timeout", "hypothesis", "scipy", "setuptools",
            "pip")
STAGES = ("source", "env", "install", "tests", "portable", "bench")
# stage -> (cap: the most seconds it may take, floor: the seconds kept back for it while the
# stages before it run)
LIMITS = {"source": (10, 1), "env": (60, 10), "install": (90, 10), "tests": (150, 30),
          "portable": (110, 30), "bench": (140, 60)}
DEFAULT_BUDGET = 390
PER_TEST_TIMEOUT = 150
KILL_GRACE = 15

DEVICE_CALL = {"command": "bash tools/gpu_check.sh --budget 390", "carry": [".whl"],
               "timeout_s": 450}
