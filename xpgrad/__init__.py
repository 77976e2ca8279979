"""xpgrad: reverse-mode automatic differentiation for array-API code on NumPy, Numba and CuPy.

>>> import xpgrad as xg
>>> w = xg.Variable(xg.asarray([[1.0], [2.0]]), name="w")
>>> x = xg.asarray([[3.0, 4.0]])
>>> with xg.GradientTape() as tape:
...     loss = xg.sum(xg.tanh(x @ w))
>>> tape.gradient(loss, [w])[0].shape
(2, 1)
"""
from . import tensor as _tensor_module
from .backend import (Backend, BackendUnavailableError, Kernel, MixedBackendError,
                      UnknownBackendError, available_backends, current_backend, get_backend,
                      register_backend, set_backend, use_backend)
from .creation import (arange, asarray, empty, empty_like, eye, full, full_like, linspace,
                       ones, ones_like, zeros, zeros_like)
from .dtypes import DType, bool_, float32, float64, int32, int64
from .functional import grad, jacobian, value_and_grad, vjp
from .ops import *  # noqa: F401,F403
from .primitive import Primitive, apply
from .tape import GradientTape, stop_gradient
from .tensor import Tensor, Variable
from . import losses, nn, optim, random, testing  # noqa: E402
from .checkpoint import CheckpointError, load_checkpoint, save_checkpoint  # noqa: E402

bool = bool_  # the array-API name; Python's bool stays reachable as builtins.bool

__version__ = "0.1.0"


def isdtype(dtype, kind) -> "builtins.bool":
    """Array-API ``isdtype``: is ``dtype`` of ``kind`` ('real floating', 'integral', 'bool')?"""
    import builtins

    from .dtypes import as_dtype

    d = as_dtype(dtype)
    kinds = kind if isinstance(kind, tuple) else (kind,)
    table = {"real floating": "f", "numeric": "fi", "integral": "i", "signed integer": "i",
             "bool": "b"}
    return builtins.any(d == k if not isinstance(k, str) else d.kind in table[k] for k in kinds)


_tensor_module._ns = __import__(__name__)
