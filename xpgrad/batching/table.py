"""Which batching rule each namespace function takes; a function not here (and not one of
NumPy's elementwise ufuncs) loops over the batch.

>>> RULES["sum"].__name__, RULES["linalg.inv"].__name__
('reduction', 'leading')
"""
from __future__ import annotations

from . import products, rules
from .rules import along, elementwise, leading, reduction

_ELEMENTWISE = ("ceil", "floor", "trunc", "sign", "round", "around", "clip", "where", "real",
                "imag", "conj", "isposinf", "isneginf", "nan_to_num", "sinc", "i0", "fix",
                "angle", "heaviside", "signbit", "copysign", "nextafter", "hypot")
_REDUCTIONS = ("sum", "prod", "mean", "max", "min", "amax", "amin", "std", "var", "any",
               "all", "count_nonzero", "ptp", "nansum", "nanmean", "nanmax", "nanmin",
               "nanprod", "nanstd", "nanvar", "median", "nanmedian", "linalg.vector_norm")
_LEADING = ("matrix_transpose", "tril", "triu", "linalg.matrix_transpose", "linalg.inv",
            "linalg.det", "linalg.slogdet", "linalg.cholesky", "linalg.eigh",
            "linalg.eigvalsh", "linalg.eig", "linalg.eigvals", "linalg.svd", "linalg.svdvals",
            "linalg.qr", "linalg.pinv", "linalg.matrix_rank", "linalg.diagonal",
            "linalg.trace", "linalg.matrix_power", "linalg.matrix_norm")



def _numpy_ufuncs():
    """NumPy's elementwise ufuncs by name (one output, no core signature): batched by name,
    so also where the inner namespace wraps them (an ``xg.function`` trace's proxy)."""
    import numpy as np

    return [n for n in dir(np) if isinstance(getattr(np, n), np.ufunc)
            and getattr(np, n).signature is None and getattr(np, n).nout == 1]


RULES = {
    **dict.fromkeys(_numpy_ufuncs(), elementwise),
    **dict.fromkeys(_ELEMENTWISE, elementwise),
    **dict.fromkeys(_REDUCTIONS, reduction),
    **dict.fromkeys(_LEADING, leading),
    "astype": rules.astype, "copy": rules.copy,
    "argmax": rules.arg_reduction, "argmin": rules.arg_reduction,
    "cumulative_sum": rules.cumulative, "cumulative_prod": rules.cumulative,
    "cumsum": rules.cumulative, "cumprod": rules.cumulative,
    "sort": along(-1), "argsort": along(-1),
    "flip": rules.flip, "roll": rules.roll,
    "reshape": rules.reshape, "expand_dims": rules.expand_dims, "squeeze": rules.squeeze,
    "permute_dims": rules.permute_dims, "transpose": rules.permute_dims,
    "moveaxis": rules.moveaxis, "swapaxes": rules.swapaxes,
    "broadcast_to": rules.broadcast_to, "broadcast_arrays": rules.broadcast_arrays,
    "concat": rules.joining(False), "concatenate": rules.joining(False),
    "stack": rules.joining(True), "unstack": rules.unstack,
    "take": rules.take, "take_along_axis": rules.take_along_axis,
    "vecdot": rules.vecdot, "linalg.vecdot": rules.vecdot,
    "matmul": products.matmul, "linalg.matmul": products.matmul,
    "tensordot": products.tensordot, "linalg.tensordot": products.tensordot,
    "outer": products.outer, "linalg.outer": products.outer,
    "asarray": rules.asarray,
    **dict.fromkeys(("zeros_like", "ones_like", "empty_like", "full_like"), rules.like),
}

#: functions that make a buffer: inside vmap (in its thread) a batched one, which operations
#: may write batched values into (see ``BatchedArray``)
CREATION = dict.fromkeys(("zeros", "empty", "full", "ones", "asarray", "zeros_like",
                          "ones_like", "empty_like", "full_like"), rules.created)
