"""The Numba backend lets LLVM vectorize 512 bits wide on AVX-512 machines (LLVM's tuning for
those cores prefers 256-bit vectors): ``_config.apply_vector_width``. Each case runs in a fresh
interpreter, since Numba fixes its target's CPU features when it first compiles."""
from __future__ import annotations

import os
import subprocess
import sys
import types

import pytest

pytest.importorskip("numba", reason="Numba is not installed")

from xpgrad.backends.numba import _config  # noqa: E402


def _avx512():
    from llvmlite import binding

    return bool(binding.get_host_cpu_features().get("avx512f"))


# a kernel loop of the backend's kind, compiled afresh (no cache): its machine code's widest
# registers, the width the backend reports, and whether the environment was left alone
_PROBE = """
import os
import numpy as np
from numba import njit
import xpgrad as xg
width = xg.get_backend("numba").describe()["vector_width"]
from xpgrad.backends.numba._math import sigmoid

@njit(fastmath={"nsz", "arcp", "contract", "reassoc"}, error_model="numpy")
def loop(a, out):
    for i in range(a.shape[0]):
        out[i] = sigmoid(a[i])

x = np.ones(64, np.float32)
loop(x, x.copy())
asm = next(iter(loop.inspect_asm().values()))
print("zmm" if "zmm" in asm else "ymm" if "ymm" in asm else "xmm", width,
      os.environ.get("NUMBA_CPU_FEATURES", "unset")[-16:])
"""


def _probe(**env):
    environ = {k: v for k, v in os.environ.items()
               if k not in ("NUMBA_CPU_FEATURES", _config.VECTOR_ENV)}
    return subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True,
                          env={**environ, **env}, timeout=120)


def test_avx512_machines_get_512_bit_loops_unless_told_otherwise():
    if not _avx512():
        pytest.skip("this CPU has no AVX-512")
    wide = _probe()
    assert wide.returncode == 0, wide.stderr
    assert wide.stdout.split() == ["zmm", "512", "unset"]      # children decide for themselves
    narrow = _probe(XPGRAD_NUMBA_VECTOR_WIDTH="256")
    assert narrow.returncode == 0, narrow.stderr
    assert narrow.stdout.split() == ["ymm", "256", "unset"]


def test_a_users_numba_cpu_features_are_left_alone():
    from llvmlite import binding

    own = binding.get_host_cpu_features().flatten()
    run = _probe(NUMBA_CPU_FEATURES=own)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split()[1:] == ["256", own[-16:]]


def test_the_choice_without_a_process_of_its_own():
    """The rule on stand-ins for Numba's modules: a user's features win, 256 asks for 256-bit
    vectors, a bad value names the variable and the choices; the target's features get the
    suffix only while no user's features are set."""
    class Target:
        def _customize_tm_features(self):
            return "+avx512f"

    codegen = types.SimpleNamespace(JITCPUCodegen=Target)
    preset = types.SimpleNamespace(CPU_FEATURES="+avx2")
    assert _config.apply_vector_width(codegen, preset, {}) == 256
    assert Target()._customize_tm_features() == "+avx512f"
    assert _config.apply_vector_width(codegen, types.SimpleNamespace(CPU_FEATURES=None),
                                      {_config.VECTOR_ENV: "256"}) == 256
    if _avx512():           # LLVM told to prefer 256 bits (AMD's cores would choose 512)
        assert Target()._customize_tm_features() == "+avx512f,+prefer-256-bit"
    with pytest.raises(ValueError, match=r"XPGRAD_NUMBA_VECTOR_WIDTH must be 256 or 512 "
                                         r"\(or unset\), got '1024'"):
        _config.apply_vector_width(codegen, types.SimpleNamespace(CPU_FEATURES=None),
                                   {_config.VECTOR_ENV: "1024"})
    config = types.SimpleNamespace(CPU_FEATURES=None)
    width = _config.apply_vector_width(codegen, config, {})
    assert width == (512 if _avx512() else 256)
    if width == 512:
        assert Target()._customize_tm_features() == "+avx512f,-prefer-256-bit"
        assert _config.apply_vector_width(codegen, config, {}) == 512    # patched once
        assert Target()._customize_tm_features() == "+avx512f,-prefer-256-bit"
        config.CPU_FEATURES = "+avx2"       # set later (Numba rereads its environment)
        assert Target()._customize_tm_features() == "+avx512f"
