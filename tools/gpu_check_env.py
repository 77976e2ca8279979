"""The prepared GPU check's environment probe: Python, the packages found, and what CuPy and
PyTorch say about the device (run in a subprocess, ``gpu_check.py --probe-env``, since it
imports both), and its summary for the log.

>>> _cuda_version(12080)
'12.8'
"""
from __future__ import annotations

import importlib.metadata
import platform
import sys

from gpu_check_config import REPORTED


# -- the environment probe (runs in a subprocess: imports CuPy and PyTorch) ------------------------
def _dist_versions(names) -> dict:
    out = {}
    for name in names:
        if name == "cupy":        # cupy-cuda12x, cupy-cuda13x, cupy (source build)...
            found = [(d.metadata["Name"], d.version) for d in importlib.metadata.distributions()
                     if (d.metadata["Name"] or "").lower().startswith("cupy")]
            out["cupy"] = ", ".join(f"{n} {v}" for n, v in sorted(set(found))) or None
            continue
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    return out


def _cuda_version(v):
    """12080 -> '12.8'; CUDA encodes versions as 1000 * major + 10 * minor."""
    return f"{v // 1000}.{(v % 1000) // 10}" if isinstance(v, int) and v > 0 else v


def probe_env() -> dict:
    """Python, packages, and what CuPy and PyTorch say about the device (errors as text)."""
    env = {"python": sys.version.split()[0], "executable": sys.executable,
           "platform": platform.platform(), "machine": platform.machine(),
           "packages": _dist_versions(REPORTED)}
    try:
        import cupy

        rt = cupy.cuda.runtime
        c = {"version": cupy.__version__,
             "runtime": _cuda_version(rt.runtimeGetVersion()),
             "driver": _cuda_version(rt.driverGetVersion())}
        try:
            c["nvrtc"] = ".".join(map(str, cupy.cuda.nvrtc.getVersion()))
        except Exception as e:  # noqa: BLE001 - reported, not fatal
            c["nvrtc"] = f"{type(e).__name__}: {e}"
        c["device_count"] = rt.getDeviceCount()
        props = rt.getDeviceProperties(0)
        name = props.get("name", b"?")
        c["device"] = name.decode() if isinstance(name, bytes) else str(name)
        c["compute_capability"] = f"{props.get('major')}.{props.get('minor')}"
        c["multiprocessors"] = props.get("multiProcessorCount")
        c["memory_gib"] = round(props.get("totalGlobalMem", 0) / 2**30, 1)
        c["l2_mib"] = round(props.get("l2CacheSize", 0) / 2**20, 1)
        env["cupy"] = c
    except Exception as e:  # noqa: BLE001 - ImportError, CUDARuntimeError...
        env["cupy"] = {"error": f"{type(e).__name__}: {e}"}
    try:
        import torch

        t = {"version": torch.__version__, "cuda": torch.version.cuda,
             "cuda_available": torch.cuda.is_available()}
        if t["cuda_available"]:
            t["device"] = torch.cuda.get_device_name(0)
            t["capability"] = ".".join(map(str, torch.cuda.get_device_capability(0)))
            t["cudnn"] = torch.backends.cudnn.version()
        env["torch"] = t
    except Exception as e:  # noqa: BLE001
        env["torch"] = {"error": f"{type(e).__name__}: {e}"}
    # JAX is reported, not imported: initializing it would take most of the GPU's memory
    env["jax"] = {"version": env["packages"].get("jax"), "note": "version only; not imported"}
    return env


def _format_env(env) -> str:
    p, c, t = env.get("packages", {}), env.get("cupy", {}), env.get("torch", {})
    lines = [f"python {env.get('python')} ({env.get('executable')}), {env.get('platform')}"]
    if "error" in c:
        lines.append(f"CuPy: {c['error']}")
    else:
        lines.append(f"device: {c.get('device')} x{c.get('device_count')}, compute capability "
                     f"{c.get('compute_capability')}, {c.get('multiprocessors')} SMs, "
                     f"{c.get('memory_gib')} GiB, L2 {c.get('l2_mib')} MiB")
        lines.append(f"CUDA driver {c.get('driver')}, runtime {c.get('runtime')}, NVRTC "
                     f"{c.get('nvrtc')}; CuPy {c.get('version')} ({p.get('cupy')})")
    if "error" in t:
        lines.append(f"PyTorch: {t['error']}")
    else:
        lines.append(f"PyTorch {t.get('version')} (CUDA {t.get('cuda')}, cuDNN {t.get('cudnn')},"
                     f" device: {t.get('device') if t.get('cuda_available') else 'none'})")
    lines.append("packages: " + ", ".join(f"{k} {v}" for k, v in p.items() if v))
    lines.append("not installed: " + (", ".join(k for k, v in p.items() if not v) or "-"))
    return "\n".join(lines)
