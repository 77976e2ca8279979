"""The errors ``xg.function`` raises, and how they name the user's line.

>>> try:
...     raise TraceError("bool() of a traced value", where="step.py:12")
... except TraceError as e:
...     print(e.name_function("step"))
bool() of a traced value (in xg.function 'step', at step.py:12)
"""
from __future__ import annotations

import os
import sys

_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_SKIP = (os.path.join(_PACKAGE, ""), os.path.join(os.path.dirname(_PACKAGE), "backends", ""))
#: a frame is the array libraries' when a directory of its file is one of these packages, or the
#: file one of these modules (whole names: a user's ``~/numba_project/step.py`` is the user's)
_LIBRARIES = frozenset(("numpy", "array_api_compat", "numba", "cupy", "cupyx", "cupy_backends"))
_LIBRARY_FILES = frozenset(("contextlib.py", "functools.py"))


class TraceError(RuntimeError):
    """A traced function did something a replay cannot repeat: it read a tensor's value in
    Python (``bool``, ``.item()``, ``.numpy()``, ``float``), or a tensor made while tracing
    leaked out of the function. ``where`` is the user's line (``file:line``)."""

    def __init__(self, message, where=None):
        self.message, self.where, self.function = message, where, None
        super().__init__(f"{message} (at {where})" if where else message)

    def name_function(self, name):
        """Name the traced function the error concerns next to the line (once: an inner
        function traced inline leaves it to the outermost, whose call the user made)."""
        if self.function is None:
            self.function = name
            where = f", at {self.where}" if self.where else ""
            self.args = (f"{self.message} (in xg.function {name!r}{where})", *self.args[1:])
        return self


class OtherBackend(TraceError):
    """The traced function computed on ``backend``, not on ``traced``, the backend the trace
    records (its tensor arguments', or the current one when it has none)."""

    def __init__(self, backend, traced, where=None):
        self.backend, self.traced = backend, traced
        super().__init__(f"the function computes on backend {backend.name!r} while it is traced "
                         f"on {traced.name!r}: a traced function runs on one backend (move its "
                         f"tensors with .to(), or make its arguments tensors of "
                         f"{backend.name!r})", where)


CREATED_VARIABLE = (
    "a Variable created while tracing an xg.function outlives the call (stored on an object, "
    "e.g. a layer built on its first call, or returned): a replay would keep using the value "
    "it had when traced. Create Variables before tracing: outside the function, or in its "
    "first call, which runs eagerly (warmup >= 1, the default)")

WROTE_ARGUMENT = ("the function wrote into its tensor argument #{} (x[key] = value, x += y, or "
                  "a write through a view of x such as x[1:]; counted from 1, nested ones "
                  "included): a replay cannot update the caller's tensor. Write into a copy "
                  "(y = xg.asarray(x, copy=True); y[key] = value) and return it, or call the "
                  "function without xg.function")

WROTE_OUTSIDE = ("the function wrote into a tensor it did not make (a global's or a closure's, "
                 "directly or through a view of it): a replay cannot update it. Pass the tensor "
                 "as an argument and return the new value, use a Variable, or call the "
                 "function without xg.function")


_TENSOR_FILE = os.path.join(_PACKAGE, "tensor.py")
_READS = {"__bool__": "bool() of a tensor (Python control flow on its value: if, while, and, "
                      "or, not)",
          "item": ".item()", "numpy": ".numpy()", "tolist": ".tolist()", "__float__": "float()",
          "__int__": "int()", "__index__": "a tensor used as a Python index",
          "__complex__": "complex()", "__repr__": "repr() or print() of a tensor",
          "__array__": "np.asarray() of a tensor", "__iter__": "iterating over a tensor",
          "to": "moving a tensor to another backend (.to(); a traced function runs on one "
                "backend)"}


def tensor_read() -> str | None:
    """What the user did to read a value: the outermost Tensor method on the stack."""
    frame, found = sys._getframe(1), None
    while frame is not None:
        if frame.f_code.co_filename == _TENSOR_FILE and frame.f_code.co_name in _READS:
            found = _READS[frame.f_code.co_name]
        frame = frame.f_back
    return found


def function_name(fn) -> str:
    """How messages name a traced function: its ``__name__``, else the object."""
    return getattr(fn, "__name__", None) or repr(fn)


def user_stacklevel() -> int:
    """``warnings.warn``'s ``stacklevel`` for a warning about the caller's call: the frames from
    the function that warns (the caller of this one) to the first outside xpgrad (the user's
    call of the traced function)."""
    frame, level = sys._getframe(1), 1
    while frame.f_back is not None and frame.f_code.co_filename.startswith(_SKIP):
        frame, level = frame.f_back, level + 1
    return level


def user_line() -> str | None:
    """``file:line`` of the innermost frame outside xpgrad, its backends and array libraries:
    the line of the user's function that did what a trace cannot record."""
    frame = sys._getframe(1)
    while frame is not None:
        name = frame.f_code.co_filename
        if not name.startswith(_SKIP) and not _in_library(name) \
                and not name.startswith(("<frozen", "<xg.function")):
            return f"{name}:{frame.f_lineno}"
        frame = frame.f_back
    return None


def _in_library(filename) -> bool:
    """Whether ``filename`` is a file of the array libraries (``_LIBRARIES``, ``_LIBRARY_FILES``).

    >>> _in_library("/venv/site-packages/numpy/_core/fromnumeric.py")
    True
    >>> _in_library("/home/me/numba_experiments/train.py")
    False
    """
    parts = filename.replace("\\", "/").split("/")
    return parts[-1] in _LIBRARY_FILES or not _LIBRARIES.isdisjoint(parts[:-1])
