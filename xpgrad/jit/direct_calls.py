"""NumPy's own functions for the array-API wrappers a trace recorded on NumPy arrays.

The host backends' namespace is ``array_api_compat.numpy``, whose ``matmul``, ``zeros``,
``asarray``, ``reshape`` and ``astype`` are Python wrappers that check a ``device`` and turn
the standard's arguments into NumPy's before calling NumPy: 0.3 to 1 us a call, on every
replay of every such step. ``direct_numpy_calls(program)`` replays each one whose recorded
arguments the wrapper would pass on unchanged as the NumPy call it makes: ``matmul`` as the
``np.matmul`` ufunc (which may then write into a buffer the program plans), ``zeros``,
``ones``, ``empty``, ``full`` and their ``_like`` forms as NumPy's (no device), ``asarray``
as ``np.asarray`` (no copy asked) or ``np.array`` (``copy=True`` or ``False``), ``reshape``
(no copy asked) as ``np.reshape`` (written as the array's method, ``step_syntax.py``) and
``astype`` of an array as ``ndarray.astype``.

>>> import array_api_compat.numpy as compat
>>> from xpgrad.jit.program_steps import Ref, Step
>>> step = Step(compat.zeros, ((3,),), {"dtype": np.float32, "device": None}, Ref(0), "call")
>>> _direct(step, compat) is np.zeros, step.kwargs
(True, {'dtype': <class 'numpy.float32'>})
"""
from __future__ import annotations

import numpy as np

#: wrappers whose call is NumPy's same-named function, given only a dtype (and no device)
_SAME_NAME = ("matmul", "zeros", "ones", "empty", "full", "zeros_like", "ones_like",
              "empty_like", "full_like")


def _compat_namespace():
    try:
        import array_api_compat.numpy as compat
    except ImportError:        # pragma: no cover - a dependency of the host backends
        return None
    return compat


def _direct(step, compat):
    """The NumPy function replaying ``step`` (its kwargs trimmed to NumPy's), or None."""
    fn, kwargs = step.fn, step.kwargs
    name = getattr(fn, "__name__", None)
    if name is None or getattr(compat, name, None) is not fn or kwargs.get("device") is not None:
        return None
    rest = {k: v for k, v in kwargs.items() if k != "device"}
    if name in _SAME_NAME:
        if set(rest) - {"dtype"} or (name == "matmul" and rest):
            return None
        step.kwargs = rest
        return getattr(np, name)
    if name in ("asarray", "reshape"):
        if set(rest) - {"dtype", "copy"} or (name == "reshape" and "dtype" in rest):
            return None
        copy = rest.get("copy")
        if copy is None:
            step.kwargs = {k: v for k, v in rest.items() if k != "copy"}
            return getattr(np, name)
        if name == "asarray" and type(copy) is bool:    # the wrapper's own call
            step.kwargs = rest
            return np.array
        return None
    if name == "astype" and not set(rest) - {"copy"}:
        step.kwargs = {"copy": rest.get("copy", True)}
        return np.ndarray.astype
    return None


def direct_numpy_calls(program) -> int:
    """Rewrite ``program.steps`` as the module docstring says; how many steps changed."""
    compat = _compat_namespace()
    if compat is None or not isinstance(program.be.xp.zeros(1), np.ndarray):
        return 0
    count = 0
    for step in program.steps:
        if step.kind != "call" or not callable(step.fn):
            continue
        if getattr(step.fn, "__name__", None) == "astype" and not _ndarray_first(step, program):
            continue          # (ndarray.astype takes no NumPy scalar)
        direct = _direct(step, compat)
        if direct is not None:
            step.fn = direct
            count += 1
    return count


def _ndarray_first(step, program) -> bool:
    from .program_steps import Ref

    first = step.args[0] if step.args else None
    return type(first) is Ref and program.slots[first.i].ndarray \
        and isinstance(program.slots[first.i].dtype, np.dtype)


__all__ = ["direct_numpy_calls"]
