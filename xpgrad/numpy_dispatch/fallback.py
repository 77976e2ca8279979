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
