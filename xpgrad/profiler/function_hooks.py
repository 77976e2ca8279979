"""Profiling ``xg.function``: a range per call, a range per trace, and a replay's steps.

While a profile is active (``hooks.install`` calls ``install_function_hooks``):

- each call of an ``xg.function`` is one ``"function"`` range named ``xg.function <name>``;
- a trace is one ``"trace"`` range, run with the wrappers out (``hooks.paused``): the program
  records the original functions, and the ops it runs eagerly while tracing are not counted
  per primitive;
- a replay is one ``"replay"`` range (``program replay``) holding one event per program step,
  phase ``"replay"``, its implementation the step's kind (``step_kind``): ``"kernel"`` (a
  backend kernel: its name is the primitive's, ``... vjp`` for its backward), ``"fused
  kernel"`` (elementwise runs fused into one kernel, SGD folded into a gemm, a loss with its
  gradient), ``"solver step"``, ``"optimizer"`` (an ``apply_gradients`` replayed), ``"host"``
  (random draws, guards, Variable writes) or ``"call"`` (a NumPy function or method called
  directly). The steps are timed by swapping the callables in the replay function's globals
  for the call's length; a CUDA-graph replay stays one range.

>>> import numpy as np
>>> step_kind(np.add, {})
('add', 'call')
"""
from __future__ import annotations

import re

from .recorder import begin, end, timed

#: by a step class's module (``xpgrad.jit.<module>``): the kind of step its instances are
_KIND_BY_MODULE = {
    "sgd_gemm": "fused kernel", "fusion_cupy": "fused kernel", "loss_gradient": "fused kernel",
    "fused_kernels": "fused kernel", "solver_steps": "solver step",
    "solver_gradients": "solver step", "label_guards": "kernel",
}
#: per program callable (by id, the callable kept alive beside its wrapper): its timed wrapper
_step_wrappers: dict = {}
#: per program (by id, the program kept beside): the names its source calls
_calls: dict = {}


def step_kind(fn, kernel_names) -> tuple:
    """``(name, kind)`` of a program step's callable (module docstring); ``kernel_names``:
    ``{id(function): name}`` of the backends' kernel functions."""
    name = kernel_names.get(id(fn))
    if name is not None:
        return name, "kernel"
    qualname = getattr(fn, "__qualname__", "") or ""
    if qualname.startswith("<fused kernel"):
        return qualname.strip("<>"), "fused kernel"
    cls = type(fn)
    module = cls.__module__.rpartition(".")[2]
    if cls.__name__ == "HostOptimizerStep":
        return f"{type(fn.optimizer).__name__}.apply_gradients", "optimizer"
    kind = _KIND_BY_MODULE.get(module)
    if kind is None and cls.__module__.startswith("xpgrad.jit"):
        kind = "call" if cls.__name__ == "Method" else "host"
    if kind is not None:
        if cls.__name__ == "Method":
            return f".{fn.name}()", kind
        return getattr(fn, "__name__", None) or cls.__name__, kind
    return getattr(fn, "__name__", None) or getattr(fn, "name", None) or cls.__name__, "call"


def _kernel_names() -> dict:
    from .hooks import _registered_kernels

    names = {}
    for prim_name, kernel in _registered_kernels():
        for attr, suffix in (("forward", ""), ("value", ""), ("vjp", " vjp"),
                             ("vjp_in_place", " vjp"), ("vjp_sliced", " vjp")):
            fn = getattr(kernel, attr)
            if fn is not None:
                fn = getattr(fn, "__wrapped__", fn)
                names[id(fn)] = prim_name + suffix
    return names


def called_names(program) -> frozenset:
    """The globals a program's source calls (``c4(s0, s2)``: its steps).

    >>> sorted(called_names(type("P", (), {"source": "s1 = c3(s0)\\ns2 = c4.value(s1)"})))
    ['c3']
    """
    names = set()
    for source in (program.source, getattr(program, "python_floats_source", None)):
        if source:
            names.update(_CALL.findall(source))
    return frozenset(names)


_CALL = re.compile(r"(?<![\w.])([A-Za-z]\w*)\(")


def _instrument(namespace, calls, kernel_names) -> dict:
    """Swap the step callables (``calls``: their names) of a replay's globals for timed ones;
    the originals by name."""
    originals = {}
    for key in calls:
        value = namespace.get(key)
        if value is None or not callable(value) or isinstance(value, type):
            continue
        entry = _step_wrappers.get(id(value))
        if entry is None:
            name, kind = step_kind(value, kernel_names)
            entry = _step_wrappers[id(value)] = (value, timed(value, name, "replay", kind))
        originals[key] = value
    for key, value in originals.items():
        namespace[key] = _step_wrappers[id(value)][1]
    return originals


def install_function_hooks(swap) -> None:
    """Swap ``xg.function``'s call, trace and replay for profiled ones (``swap(obj, attr,
    value)`` remembers the original for ``hooks.uninstall``)."""
    from .hooks import paused
    from ..jit import Function
    from ..jit.errors import function_name
    from ..jit.program import Program
    from ..jit.trace_cache import TraceCache

    _step_wrappers.clear()
    _calls.clear()
    kernel_names = _kernel_names()
    call, trace, run_arrays = Function.__call__, TraceCache._trace, Program.run_arrays

    def profiled_call(self, *args, **kwargs):
        start = begin()
        try:
            return call(self, *args, **kwargs)
        finally:
            end(start, f"xg.function {function_name(self.fn)}", "function", "")

    def profiled_trace(self, *args, **kwargs):
        with paused():
            start = begin()
            try:
                return trace(self, *args, **kwargs)
            finally:
                end(start, f"trace {function_name(self.fn)}", "trace", "")

    def profiled_run_arrays(self, raws):
        originals = namespace = None
        if self.graph is None:
            try:
                replay = self._free.pop()
            except IndexError:
                replay = self._another_replay()
            namespace = replay.__globals__
            calls = _calls.get(id(self))
            if calls is None:
                calls = _calls[id(self)] = (self, called_names(self))
            originals = _instrument(namespace, calls[1], kernel_names)
            self._free.append(replay)           # the one run_arrays takes next
        start = begin()
        try:
            return run_arrays(self, raws)
        finally:
            end(start, "program replay", "replay", "graph" if self.graph is not None else "")
            if originals:
                namespace.update(originals)

    for fn, original in ((profiled_call, call), (profiled_trace, trace),
                         (profiled_run_arrays, run_arrays)):
        fn.__wrapped__, fn.__doc__ = original, original.__doc__
    swap(Function, "__call__", profiled_call)
    swap(TraceCache, "_trace", profiled_trace)
    swap(Program, "run_arrays", profiled_run_arrays)


__all__ = ["install_function_hooks", "step_kind"]
