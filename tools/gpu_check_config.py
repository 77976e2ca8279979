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
         "bench": "bench.json", "asv": "asv-results"}
GPU_TESTS = ("tests/test_cupy_backend.py", "tests/test_function_cuda.py")
PROTOCOL_TESTS = "tests/test_kernel_protocol.py"
# packages the device image lacks (/work/.library/device/KINDS.md): dist name -> import name
REQUIRED_WHEELS = {"array-api-compat": "array_api_compat"}
OPTIONAL_WHEELS = {"array-api-strict": "array_api_strict"}
# packages reported, never installed: the device's own
REPORTED = ("numpy", "cupy", "torch", "jax", "jaxlib", "numba", "array-api-compat",
            "array-api-strict", "pytest", "pytest-timeout", "hypothesis", "scipy", "setuptools",
            "pip")
STAGES = ("source", "env", "install", "tests", "bench")
# stage -> (cap: the most seconds it may take, floor: the seconds kept back for it while the
# stages before it run)
LIMITS = {"source": (10, 1), "env": (60, 10), "install": (90, 10), "tests": (200, 30),
          "bench": (200, 45)}
DEFAULT_BUDGET = 360
PER_TEST_TIMEOUT = 150
KILL_GRACE = 15

DEVICE_CALL = {"command": "bash tools/gpu_check.sh --budget 360", "carry": [".whl"],
               "timeout_s": 420}
