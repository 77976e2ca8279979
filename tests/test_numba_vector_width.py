"""The Numba backend lets LLVM vectorize 512 bits wide on AVX-512 machines (LLVM's tuning for
those cores prefers 256-bit vectors): ``_config.apply_vector_width``. Each case runs in a fresh
interpreter, since Numba fixes its CPU features at its first compilation."""
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
# registers, and the width the backend chose
_PROBE = """
import numpy as np
from numba import njit
from numba.core import config
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
print("zmm" if "zmm" in asm else "ymm" if "ymm" in asm else "xmm", config.CPU_FEATURES, width)
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
    register, features, width = wide.stdout.split()
    assert register == "zmm" and features.endswith(",-prefer-256-bit") and width == "512"
    narrow = _probe(XPGRAD_NUMBA_VECTOR_WIDTH="256")
    assert narrow.returncode == 0, narrow.stderr
    assert narrow.stdout.split() == ["ymm", "None", "256"]


def test_a_users_numba_cpu_features_are_left_alone():
    from llvmlite import binding

    own = binding.get_host_cpu_features().flatten()
    run = _probe(NUMBA_CPU_FEATURES=own)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split()[1] == own


def test_the_choice_without_numba():
    """The rule itself, on a stand-in for Numba's config: an existing setting wins, 256 keeps
    LLVM's choice, a bad value names the variable and the choices."""
    preset = types.SimpleNamespace(CPU_FEATURES="+avx2")
    environ = {}
    assert _config.apply_vector_width(preset, environ) == 256
    assert preset.CPU_FEATURES == "+avx2" and environ == {}
    fresh = types.SimpleNamespace(CPU_FEATURES=None)
    width = _config.apply_vector_width(fresh, environ)
    assert width == (512 if _avx512() else 256)
    assert (fresh.CPU_FEATURES is None) == (width == 256)
    # kept in the environment, where Numba rereads it before compiling (and children see it)
    assert environ.get("NUMBA_CPU_FEATURES") == fresh.CPU_FEATURES
    if width == 512:        # a process that inherited it: the same width, nothing changed
        again = types.SimpleNamespace(CPU_FEATURES=environ["NUMBA_CPU_FEATURES"])
        assert _config.apply_vector_width(again, dict(environ)) == 512
    kept = types.SimpleNamespace(CPU_FEATURES=None)
    assert _config.apply_vector_width(kept, {_config.VECTOR_ENV: "256"}) == 256
    assert kept.CPU_FEATURES is None
    with pytest.raises(ValueError, match=r"XPGRAD_NUMBA_VECTOR_WIDTH must be 256 or 512 "
                                         r"\(or unset\), got '1024'"):
        _config.apply_vector_width(types.SimpleNamespace(CPU_FEATURES=None),
                                   {_config.VECTOR_ENV: "1024"})
