"""``xg.function``'s option names, what to do instead of other libraries' options, and what
``fuse=None`` and ``cuda_graph=None`` mean on a backend."""
from __future__ import annotations

_OPTIONS = ("max_traces", "warmup", "fuse", "cuda_graph", "retrace_warning", "on_trace_error",
            "input_signature")
_SIGNATURE_HINT = (": it traces once per signature (each tensor argument's shape, dtype and "
                   "backend, every other argument's value); keep shapes fixed (pad the last "
                   "batch), pass values that change as tensors")
#: other libraries' options, with what to do instead
_FOREIGN_OPTIONS = {
    "reduce_retracing": _SIGNATURE_HINT,
    "experimental_relax_shapes": _SIGNATURE_HINT,
    "static_argnums": ": every argument that is not a tensor is static already (its value is "
                      "part of the signature)",
    "static_argnames": ": every argument that is not a tensor is static already (its value is "
                       "part of the signature)",
    "jit_compile": ": elementwise runs are compiled on the numba and cupy backends (fuse=)",
    "autograph": ": Python control flow on a tensor's value is refused (TraceError); use "
                 "xg.where",
    "donate_argnums": ": a replay never writes into its arguments",
}


def _check_option_names(unknown):
    """TypeError for an option ``xg.function`` does not have (another library's, or a typo)."""
    for name in unknown:
        raise TypeError(f"xg.function has no option {name!r}{_FOREIGN_OPTIONS.get(name, '')}; "
                        f"its options are {', '.join(_OPTIONS)}")


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _fuser(be, required=False):
    if be.name == "numba":
        from .fusion import fuse_program

        return fuse_program
    if be.name == "cupy":
        from .fusion_cupy import fuse_program_cupy

        return fuse_program_cupy
    if required:
        raise ValueError(f"fuse=True needs the numba or cupy backend; this function runs on "
                         f"{be.name!r}")
    return None


def _cuda_graphs(be):
    if be.name != "cupy":
        return None
    from .cuda_graph import CupyGraphs

    return CupyGraphs()
