"""The functions that run one primitive on Tensors and record it on the tapes recording
(``primitive.apply`` routes every call here): the tape state they read, the general path, and
per primitive an applier of one operand and one of two, whose path for a plain Tensor is
spelled out (a Python scalar beside it, or a Tensor or Variable of its backend). The
namespace's one- and two-argument functions and the arithmetic operators are such appliers:
an operation costs one Python call before the kernel or the generic forward.

>>> import xpgrad as xg
>>> from xpgrad.primitive import PRIMITIVES
>>> negative = unary_applier(PRIMITIVES["negative"])
>>> negative(xg.asarray([1.0, -2.0])).tolist()
[-1.0, 2.0]
"""
from __future__ import annotations

import threading
from types import MappingProxyType

from .backend import MixedBackendError, current_backend
from .residuals import _SMALL
from .tensor import Tensor, Variable, _keyed


class _TapeState(threading.local):
    def __init__(self):
        self.recording: list = []   # tapes recording now, innermost last
        # custom_gradient forwards running now: their inputs may leave the tape for NumPy
        # (grad_fn gives the gradient), see ``inplace.leaving_loses_gradient``
        self.custom_forwards = 0


tape_state = _TapeState()

_new = object.__new__
#: the keywords of a call without any (never filled)
_NO_PARAMS = MappingProxyType({})

_scalar_types = (int, float, bool, complex)


def _mixed(a, b):
    return MixedBackendError(
        f"tensors on backends {a.name!r} and {b.name!r} met in one operation; move one "
        f"explicitly with .to({a.name!r}) or .to({b.name!r}) (an array made without device= "
        f"or backend= is on the default backend, which xg.use_backend(name) sets)")


def _scalars_moved(args):
    """``args`` with their 0-d tensors of another backend than the others' moved to it
    (recorded, so their gradients go back), as PyTorch lets a 0-d CPU tensor join CUDA tensors:
    generic code's ``xp.asarray(1e10, dtype=x.dtype)``, made without ``device=``. Where all are
    0-d, those of the default backend (made without ``device=``) move. Tensors with axes on two
    backends raise MixedBackendError."""
    backends = {a._backend for a in args if isinstance(a, Tensor) and a.ndim}
    if not backends:
        backends = {a._backend for a in args if isinstance(a, Tensor)} - {current_backend()}
    if len(backends) != 1:
        return args               # _raw_inputs raises, naming two of them
    (be,) = backends
    return tuple(a.to(be.name) if isinstance(a, Tensor) and a._backend is not be else a
                 for a in args)


def _bad_input(prim, raws, err):
    """A backend's ValueError (e.g. shapes that do not broadcast), naming the op and shapes."""
    shapes = ", ".join(str(tuple(getattr(r, "shape", ()))) for r in raws)
    return ValueError(f"{prim.name}: bad inputs of shapes {shapes}: {err}")


def unary_applier(prim):
    """The function ``x -> apply(prim, x)`` (``primitive.apply``), its path for a plain Tensor
    spelled out: this runs once per operation of every eager program."""
    def apply_to(x, /):
        if x.__class__ is not Tensor:
            if x.__class__ is View:
                return apply_to(_plain_for_tape(x))
            return apply_general(prim, (x,), _NO_PARAMS)
        be = x._backend
        raw = x._data
        kern = be.kernels.get(prim.name) if be.kernels else None
        saved = None
        try:
            if kern is not None:
                res = (kern.forward if kern.value is None or tape_state.recording
                       else kern.value)(raw)        # value: no saved, nothing records
                if res is None:
                    kern = None
                else:
                    out_raw, saved = res
            if kern is None:
                out_raw = prim.forward(be.xp, raw)
        except ValueError as e:
            if type(e) is not ValueError:
                raise
            raise _bad_input(prim, (raw,), e) from e
        out = _new(Tensor)            # _wrap, inline
        out._data = out_raw
        out._backend = be
        out._key = 0
        recording = tape_state.recording
        if recording and prim.differentiable:
            if len(recording) == 1:
                recording[0]._record_one(prim, x, (raw,), out, saved, kern)
            else:
                for tape in recording:
                    tape._record(prim, (x,), (raw,), out, _NO_PARAMS, saved, kern, True)
        return out
    return apply_to


def binary_applier(prim):
    """The function ``(x, y) -> apply(prim, x, y)`` (``primitive.apply``), its paths for a
    plain Tensor and a Python scalar (either side), or a plain Tensor and a Tensor or Variable
    of its backend, spelled out: this runs once per operation of every eager program.

    >>> import xpgrad as xg
    >>> from xpgrad.primitive import PRIMITIVES
    >>> binary_applier(PRIMITIVES["multiply"])(xg.asarray([1.0, -2.0]), 3).tolist()
    [3.0, -6.0]
    """
    scalar_arrays = prim.scalar_arrays

    def apply_to(x, y, /):
        lone = False        # a plain Tensor, then a Python scalar
        if x.__class__ is Tensor:
            be = x._backend
            r0 = x._data
            if y.__class__ in _exact_scalars:
                r1 = y
                if scalar_arrays and r0.__class__ is be.array_class:   # _scalar_array, inline
                    table = be.scalar_arrays.get(r0.dtype)
                    if table is not None:
                        r1 = table.get(y)
                        if r1 is None:
                            r1 = be.scalar_array(r0.dtype, y)
                lone = True
            elif y.__class__ in _tensor_classes and y._backend is be:   # x @ w: a Variable
                r1 = y._data
            elif y.__class__ is View:
                return apply_to(x, _plain_for_tape(y))
            else:
                return apply_general(prim, (x, y), _NO_PARAMS)
        elif y.__class__ is Tensor and x.__class__ in _exact_scalars:
            be = y._backend
            r1 = y._data
            r0 = _scalar_array(be, r1, x) if prim.scalar_arrays else x
        elif x.__class__ is View or y.__class__ is View:     # as the plain tensors they hold
            return apply_to(_plain_for_tape(x) if x.__class__ is View else x,
                            _plain_for_tape(y) if y.__class__ is View else y)
        else:
            return apply_general(prim, (x, y), _NO_PARAMS)
        kern = be.kernels.get(prim.name) if be.kernels else None
        saved = None
        try:
            if kern is not None:
                res = (kern.forward if kern.value is None or tape_state.recording
                       else kern.value)(r0, r1)     # value: no saved, nothing records
                if res is None:
                    kern = None
                else:
                    out_raw, saved = res
            if kern is None:
                out_raw = prim.forward(be.xp, r0, r1)
        except ValueError as e:
            if type(e) is not ValueError:
                raise
            raise _bad_input(prim, (r0, r1), e) from e
        out = _new(Tensor)            # _wrap, inline
        out._data = out_raw
        out._backend = be
        out._key = 0
        recording = tape_state.recording
        if recording and prim.differentiable:
            if len(recording) == 1:
                if lone:
                    recording[0]._record_one(prim, x, (r0, r1), out, saved, kern, y)
                elif x.__class__ is Tensor:
                    recording[0]._record_two(prim, x, y, (r0, r1), out, saved, kern)
                else:
                    recording[0]._record(prim, (x, y), (r0, r1), out, _NO_PARAMS, saved, kern,
                                         False)
            else:
                for tape in recording:
                    tape._record(prim, (x, y), (r0, r1), out, _NO_PARAMS, saved, kern, True)
        return out
    return apply_to


def apply_general(prim, args, params) -> Tensor:
    """``apply(prim, *args, **params)`` for any operands and keywords (``apply`` routes the
    calls of one or two operands without keywords to the primitive's appliers).

    >>> import xpgrad as xg
    >>> from xpgrad.primitive import PRIMITIVES
    >>> x = xg.asarray([1.0, 2.0])
    >>> apply_general(PRIMITIVES["sum"], (x,), {"axis": None, "keepdims": False}).tolist()
    3.0
    """
    n = len(args)
    if n == 3 and args[0].__class__ in _tensor_classes and \
            args[1].__class__ in _tensor_classes and args[2].__class__ in _tensor_classes and \
            args[0]._backend is args[1]._backend is args[2]._backend:
        # three Tensors or Variables of one backend (a linear layer's x, w, b)
        be, raws = args[0]._backend, (args[0]._data, args[1]._data, args[2]._data)
    elif n == 1 and args[0].__class__ is Tensor:    # one plain Tensor with keywords (a sum)
        be, raws = args[0]._backend, (args[0]._data,)
    else:
        try:
            be, raws = _raw_inputs(args, prim.name)
        except MixedBackendError:
            args = _scalars_moved(args)
            be, raws = _raw_inputs(args, prim.name)

    kern = be.kernels.get(prim.name) if be.kernels else None
    saved = None
    # calls of up to three inputs without keywords are spelled out: a plain call costs a third
    # of one through *raws, **params
    if params:
        n = -1
    try:
        if kern is not None:
            forward = kern.forward if kern.value is None or tape_state.recording \
                else kern.value                  # value: no saved, nothing records
            res = forward(raws[0]) if n == 1 else \
                forward(raws[0], raws[1], raws[2]) if n == 3 else forward(*raws, **params)
            if res is None:
                kern = None
            else:
                out_raw, saved = res
        if kern is None:
            if n == 1:
                out_raw = prim.forward(be.xp, raws[0])
            elif n == 2:
                out_raw = prim.forward(be.xp, raws[0], raws[1])
            elif n == 3:
                out_raw = prim.forward(be.xp, raws[0], raws[1], raws[2])
            else:
                out_raw = prim.forward(be.xp, *raws, **params)
    except ValueError as e:
        if type(e) is not ValueError:
            raise
        raise _bad_input(prim, raws, e) from e
    out = _new(Tensor)            # _wrap, inline
    out._data = out_raw
    out._backend = be
    out._key = 0
    recording = tape_state.recording
    if recording and prim.differentiable:
        if len(recording) == 1 and len(args) == 1 and args[0].__class__ is Tensor:
            # one plain Tensor with keywords (a sum): the appliers' path
            recording[0]._record_one(prim, args[0], raws, out, saved, kern, None, params)
            return out
        nested = len(recording) > 1
        for tape in recording:
            tape._record(prim, args, raws, out, params, saved, kern, nested)
    return out


def _plain_for_tape(view):
    """A View as the plain Tensor an operation takes: while a tape records, one holding a copy
    of a small view's elements (at most ``tape_recording._SMALL``), so that a node keeping it
    does not keep the view's base alive (each later write into the base would copy it)."""
    raw = view._data
    if tape_state.recording and raw.size <= _SMALL and getattr(raw, "base", None) is not None:
        return _keyed(raw.copy(), view._backend, view._key)
    return view._plain()


def _scalar_array(be, raw, value):
    """The Python scalar ``value`` beside ``raw`` as the backend's 0-d array of ``raw``'s dtype
    where it keeps one (``Backend.scalar_arrays``), else ``value``."""
    if raw.__class__ is be.array_class:
        table = be.scalar_arrays.get(raw.dtype)
        if table is not None:
            array = table.get(value)
            return be.scalar_array(raw.dtype, value) if array is None else array
    return value


def _raw_inputs(args, name):
    """``(backend, raw inputs)`` of ``apply``'s ``args`` to primitive ``name``: Tensors' arrays,
    Python scalars as they are, other array-likes converted on the Tensors' backend (the current
    one if none); a conversion's error names the primitive and the argument's position."""
    be = None
    raws = list(args)
    convert = False
    i = 0
    for a in args:
        if isinstance(a, Tensor):
            b = a._backend
            if b is not be:
                if be is not None:
                    raise _mixed(be, b)
                be = b
            raws[i] = a._data if a.__class__ is not View else _plain_for_tape(a)._data
        elif a.__class__ not in _exact_scalars:
            convert = True
        i += 1
    if be is None:
        be = current_backend()
        from .conversion import named_asarray

        raws = [named_asarray(a, f"{name}: argument {i + 1}", backend=be)._data
                for i, a in enumerate(raws)]
    elif convert:
        for i, a in enumerate(raws):
            if not isinstance(args[i], Tensor) and not isinstance(a, _scalar_types):
                from .conversion import named_asarray

                raws[i] = named_asarray(a, f"{name}: argument {i + 1}", backend=be)._data
    return be, raws


_exact_scalars = frozenset(_scalar_types)
_tensor_classes = frozenset((Tensor, Variable))


from .views import View  # noqa: E402  (it imports tensor.py only)
