"""Fusion on the cupy backend: runs of elementwise steps become one CuPy ``ElementwiseKernel``.

The runs are found as on numba (``fusion.py``): consecutive elementwise steps whose results all
have one shape; on CUDA every operand may be any shape that broadcasts to it (CuPy broadcasts
the kernel's inputs). A run becomes one kernel computing every op in registers, in C, each op
cast to its NumPy dtype (``float``/``double``; a Python number is converted to the op's dtype
first, as NEP 50 says), writing only the values used after the run. CuPy compiles the kernel
(NVRTC) on its first launch and caches it on disk.

``make_kernel`` is ``cupy.ElementwiseKernel``; the tests pass a stand-in that compiles the same
operation text with the host C++ compiler (tests/test_function_fusion.py).

>>> print(CudaDialect.line("t0", np.dtype("float32"), CudaDialect.binary["add"].format(
...     "v0", CudaDialect.literal(0.1, np.dtype("float32")))))
float t0 = (float)((v0 + ((float)0.1)));
"""
from __future__ import annotations

import hashlib

import numpy as np

from .fusion import _Run, _try_add, op_name
from .program_steps import Ref, Step
from .step_facts import reads

_C_TYPES = {"float32": "float", "float64": "double", "bool": "bool"}
_C_UNARY = {"negative": "(-{0})", "positive": "(+{0})", "absolute": "fabs({0})",
            "square": "({0} * {0})", "sqrt": "sqrt({0})", "exp": "exp({0})",
            "exp2": "exp2({0})", "expm1": "expm1({0})", "log": "log({0})",
            "log1p": "log1p({0})", "log2": "log2({0})", "log10": "log10({0})",
            "sin": "sin({0})", "cos": "cos({0})", "tan": "tan({0})", "sinh": "sinh({0})",
            "cosh": "cosh({0})", "tanh": "tanh({0})", "arcsin": "asin({0})",
            "arccos": "acos({0})", "arctan": "atan({0})", "arcsinh": "asinh({0})",
            "arctanh": "atanh({0})", "reciprocal": "(1 / {0})", "logical_not": "(!{0})",
            "sign": "(({0} > 0) - ({0} < 0))"}
# maximum/minimum propagate NaN as NumPy's do (C's fmax/fmin would drop it)
_C_BINARY = {"add": "({0} + {1})", "subtract": "({0} - {1})", "multiply": "({0} * {1})",
             "divide": "({0} / {1})", "power": "pow({0}, {1})",
             "maximum": "((({0}) > ({1}) || ({0}) != ({0})) ? ({0}) : ({1}))",
             "minimum": "((({0}) < ({1}) || ({0}) != ({0})) ? ({0}) : ({1}))",
             "greater": "({0} > {1})", "greater_equal": "({0} >= {1})", "less": "({0} < {1})",
             "less_equal": "({0} <= {1})", "equal": "({0} == {1})",
             "not_equal": "({0} != {1})", "logical_and": "({0} && {1})",
             "logical_or": "({0} || {1})"}


class CudaDialect:
    """How a fused run is written for an ``ElementwiseKernel``: C expressions and casts."""

    unary, binary, where = _C_UNARY, _C_BINARY, "({0} ? {1} : {2})"
    flat = False         # CuPy broadcasts the operands itself
    half_power = None    # CuPy's own power calls pow for ``x ** 0.5`` too

    @staticmethod
    def literal(value, dtype):
        if dtype == np.dtype("bool"):
            return "true" if value else "false"
        value = float(value)
        if np.isfinite(value):
            text = repr(value)
        else:       # NVRTC has no NAN/INFINITY macros (no <cmath>): IEEE division makes them
            text = "(0.0 / 0.0)" if np.isnan(value) else f"({np.sign(value):.1f} / 0.0)"
        return f"(({_C_TYPES[dtype.name]}){text})"

    @staticmethod
    def line(name, dtype, expr):
        ctype = _C_TYPES[dtype.name]
        return f"{ctype} {name} = ({ctype})({expr});"


class FusedElementwise:
    """Replay of a fused run: one launch of its kernel; returns the values used later."""

    def __init__(self, kernel, n_outputs, source):
        self.kernel, self.n_outputs, self.source = kernel, n_outputs, source

    def __call__(self, *inputs):
        out = self.kernel(*inputs)
        return tuple(out) if self.n_outputs > 1 else (out,)

    def __repr__(self):
        return f"<fused ElementwiseKernel of {self.source.count(';')} ops>"


def fuse_program_cupy(program, escaping, make_kernel=None) -> int:
    """Replace runs of two or more elementwise steps by ``ElementwiseKernel`` launches; return
    how many runs were fused."""
    if make_kernel is None:
        import cupy

        make_kernel = cupy.ElementwiseKernel
    steps, slots = program.steps, program.slots
    last_use = {}
    for i, step in enumerate(steps):
        for s in reads(step):
            last_use[s] = i
    out, fused, k = [], 0, 0
    while k < len(steps):
        run = None
        if op_name(steps[k].fn) is not None and type(steps[k].outs) is Ref:
            run = _Run(slots[steps[k].outs.i].shape, CudaDialect)
            j = k
            while j < len(steps) and _try_add(run, steps[j], slots):
                j += 1
        if run is None or len(run.steps) < 2:
            out.append(steps[k])
            k += 1
            continue
        last = k + len(run.steps) - 1
        needed = [s for s in run.made if s in escaping or last_use.get(s, -1) > last]
        out.append(_kernel_step(run, needed, slots, make_kernel))
        fused += 1
        k = last + 1
    program.steps = out
    return fused


def _kernel_step(run, needed, slots, make_kernel):
    in_params = ", ".join(f"{slots[s].dtype.name} {name}"
                          for s, (name, _) in run.inputs.items())
    out_params = ", ".join(f"{slots[s].dtype.name} o{i}" for i, s in enumerate(needed))
    stores = [f"o{i} = {run.made[s]};" for i, s in enumerate(needed)]
    operation = "\n".join(run.lines + stores)
    digest = hashlib.sha256(f"{in_params}|{out_params}|{operation}".encode()).hexdigest()[:16]
    kernel = make_kernel(in_params, out_params, operation, f"xpgrad_fused_{digest}")
    call = FusedElementwise(kernel, len(needed), operation)
    return Step(call, tuple(Ref(s) for s in run.inputs), {}, tuple(Ref(s) for s in needed),
                "call")
