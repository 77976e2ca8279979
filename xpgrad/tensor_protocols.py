"""The protocols by which a Tensor meets other array code: the array API's
``__array_namespace__``, NumPy's ``__array__``, ``__array_ufunc__`` and
``__array_function__`` (which keep NumPy's functions on the tape), and DLPack. Leaving xpgrad
(NumPy, DLPack) is refused while a recording tape differentiates the tensor.

>>> import numpy as np
>>> import xpgrad as xg
>>> t = xg.asarray([1.0, 2.0])
>>> np.asarray(t).tolist(), type(np.exp(t)).__name__, t.__array_namespace__() is xg
([1.0, 2.0], 'Tensor', True)
"""
from __future__ import annotations

from . import tensor_methods


class TensorProtocols:
    """Tensor's side facing the array API, NumPy and DLPack (module docstring)."""

    __slots__ = ()

    def __array_namespace__(self, api_version=None):
        """The xpgrad namespace (``api_version``: None or a standard version it implements)."""
        ns = tensor_methods._ns
        if api_version is not None and (api_version not in _API_VERSIONS
                                        or api_version > ns.__array_api_version__):
            raise ValueError(f"api_version={api_version!r} is not supported: xpgrad implements "
                             f"the array API standard {ns.__array_api_version__}")
        return ns

    # -- leaving xpgrad: NumPy, DLPack ----------------------------------------------------------
    def __array__(self, dtype=None, copy=None):
        """NumPy's conversion (``np.asarray(t)``): a NumPy array with this value.

        Raises TypeError while a recording GradientTape differentiates this tensor (as PyTorch
        refuses ``numpy()`` on a tensor that requires grad): the array would come back without
        a gradient. ``t.numpy()`` and ``xg.stop_gradient(t)`` leave the tape explicitly.
        """
        _check_leaving(self, "np.asarray()")
        a = self.numpy()
        if dtype is not None and a.dtype != dtype:
            if copy is False:
                raise ValueError(f"np.asarray(copy=False) cannot cast {self.dtype} to {dtype}")
            return a.astype(dtype)
        return a.copy() if copy else a

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        """NumPy ufuncs on Tensors run the xpgrad function (``np.exp(t)`` is ``xg.exp(t)``),
        so they stay on the tape (``xpgrad/numpy_dispatch/``)."""
        from .numpy_dispatch import array_ufunc

        return array_ufunc(ufunc, method, inputs, kwargs)

    def __array_function__(self, func, types, args, kwargs):
        """NumPy functions on Tensors run the xpgrad function (``np.sum(t, axis=0)`` is
        ``xg.sum(t, axis=0)``), so they stay on the tape (``xpgrad/numpy_dispatch/``)."""
        from .numpy_dispatch import array_function

        return array_function(func, types, args, kwargs)

    def __dlpack__(self, *, stream=None, max_version=None, dl_device=None, copy=None):
        """Export through DLPack (the backend array's own ``__dlpack__``). Like ``__array__``,
        refused while a recording tape differentiates this tensor."""
        _check_leaving(self, "DLPack export")
        kwargs = {}
        if stream is not None:
            kwargs["stream"] = stream
        if max_version is not None:
            kwargs["max_version"] = max_version
        if dl_device is not None:
            kwargs["dl_device"] = dl_device
        if copy is not None:
            kwargs["copy"] = copy
        try:
            return self._data.__dlpack__(**kwargs)
        except TypeError:
            if set(kwargs) - {"stream", "max_version"}:
                raise
            # an array of an older DLPack producer: its legacy capsule (what max_version allows)
            kwargs.pop("max_version", None)
            return self._data.__dlpack__(**kwargs)

    def __dlpack_device__(self):
        return self._data.__dlpack_device__()


_API_VERSIONS = ("2021.12", "2022.12", "2023.12", "2024.12", "2025.12")


def _check_leaving(t, what):
    """Raise if a recording tape differentiates ``t``: leaving for NumPy or DLPack would cut it
    from the tape without a word."""
    if (_tape_state or _import_tape_state()).recording:
        from .inplace import foreign_caller, leaving_loses_gradient

        if leaving_loses_gradient(t):
            caller, hint = foreign_caller()
            raise TypeError(
                f"{what}{caller} on a tensor that a recording GradientTape differentiates would "
                f"cut it from the tape (its gradient would come back None). Use xpgrad "
                f"functions (xg.exp, xg.sum, ...; NumPy's own functions dispatch to them), or "
                f"leave the tape explicitly: xg.stop_gradient(t).numpy(){hint}")


#: ``primitive.tape_state`` once imported (primitive.py imports the Tensor these protocols are
#: part of): an import statement on every ``np.asarray(t)`` cost about a microsecond
_tape_state = None


def _import_tape_state():
    global _tape_state
    from .primitive import tape_state

    _tape_state = tape_state
    return tape_state
