"""Where no xpgrad function answers: NumPy on the tensors' values (read-only arrays), or a
TypeError while a recording tape differentiates a tensor involved; and ``out=`` Tensors
written with the result.

>>> import numpy as np, xpgrad as xg
>>> from xpgrad.numpy_dispatch.fallback import _values
>>> _values([xg.ones(2), 3]).__class__.__name__, _values(xg.ones(2)).flags.writeable
('list', False)
"""
from __future__ import annotations

import numpy as np

from ..backend import MixedBackendError, current_backend, use_backend
from ..inplace import leaving_loses_gradient
from ..tensor import Tensor


# -- shared helpers -------------------------------------------------------------------------------

def _known_types(types) -> bool:
    for t in types:
        if issubclass(t, Tensor):
            continue
        if t.__name__ == "ndarray" and t.__module__ == "numpy":
            continue
        if getattr(t, "__array_ufunc__", None) is None and \
                getattr(t, "__array_function__", None) is None:
            continue
        if t.__module__ == "numpy" or t.__module__.startswith("numpy."):
            continue          # NumPy scalars and the like
        return False
    return True


def _tensors(tree):
    if isinstance(tree, Tensor):
        yield tree
    elif isinstance(tree, (list, tuple)):
        for v in tree:
            yield from _tensors(v)
    elif isinstance(tree, dict):
        for v in tree.values():
            yield from _tensors(v)


def on_tensors_backend(adapter, tree, *args, **kwargs):
    """``adapter(*args, **kwargs)``, run again with the Tensors' backend current where it met
    a value converted to the current backend beside them (a MixedBackendError): an ndarray or
    a list beside numba tensors with numpy the default converts to numba, as ``t + ndarray``
    converts it. Tensors of two backends still raise. ``tree`` holds the call's arguments.

    >>> import numpy as np, xpgrad as xg
    >>> with xg.use_backend("numpy"):
    ...     np.dot(np.ones(2), xg.ones(2, backend="numba")).backend.name
    'numba'
    """
    try:
        return adapter(*args, **kwargs)
    except MixedBackendError:
        backend = _tensors_backend(tree)
        if backend is None:
            raise
    with use_backend(backend):
        return adapter(*args, **kwargs)


def _tensors_backend(tree):
    """The backend of the Tensors in ``tree`` when they share one that is not the current
    backend, else None."""
    found = None
    for t in _tensors(tree):
        if found is None:
            found = t._backend
        elif t._backend is not found:
            return None
    return None if found is None or found is current_backend() else found


def _values(tree):
    """``tree`` with every Tensor replaced by a read-only NumPy array of its value."""
    if isinstance(tree, Tensor):
        a = tree.numpy().view()
        a.flags.writeable = False
        return a
    if isinstance(tree, (list, tuple)):
        out = [_values(v) for v in tree]
        return tuple(out) if isinstance(tree, tuple) else out
    if isinstance(tree, dict):
        return {k: _values(v) for k, v in tree.items()}
    return tree


def _fallback(what, reason, call_args, call):
    args, kwargs = call_args
    if any(leaving_loses_gradient(t) for t in _tensors((args, kwargs))):
        raise TypeError(
            f"{what} on a tensor that a recording GradientTape differentiates: {reason}, and "
            f"running NumPy instead would cut the tensor from the tape (its gradient would "
            f"come back None). Use xpgrad functions, or leave the tape explicitly with "
            f"xg.stop_gradient(t).numpy()")
    return call(_values(args), _values(kwargs))


def _write_out(result, out):
    if out is None:
        return result
    results = result if isinstance(result, tuple) else (result,)
    if len(results) != len(out):
        raise ValueError(f"out= has {len(out)} arrays for {len(results)} results")
    for o, r in zip(out, results):
        if not np.can_cast(np.dtype(str(r.dtype)), np.dtype(str(o.dtype)), "same_kind"):
            raise TypeError(f"out=: cannot write the {r.dtype} result into an array of dtype "
                            f"{o.dtype} (NumPy's casting='same_kind' rule)")
        o[...] = r
    return out[0] if len(out) == 1 else tuple(out)
