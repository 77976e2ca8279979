"""xpgrad: reverse-mode automatic differentiation for array-API code on NumPy, Numba and CuPy.

>>> import xpgrad as xg
>>> w = xg.Variable(xg.asarray([[1.0], [2.0]]), name="w")
>>> x = xg.asarray([[3.0, 4.0]])
>>> with xg.GradientTape() as tape:
...     loss = xg.sum(xg.tanh(x @ w))
>>> tape.gradient(loss, [w])[0].shape
(2, 1)
"""
from . import allocator as _allocator
from . import tensor as _tensor_module
from . import tensor_methods as _tensor_methods_module
from .backend import (Backend, BackendUnavailableError, Kernel, MixedBackendError,
                      UnknownBackendError, available_backends, current_backend, get_backend,
                      register_backend, set_backend, use_backend)
from .creation import (arange, asarray, empty, empty_like, eye, from_dlpack, full, full_like,
                       linspace, ones, ones_like, to_device, zeros, zeros_like)
from .devices import Device, __array_namespace_info__
from .dtype_functions import can_cast, finfo, iinfo, result_type
from .dtypes import (DType, bool_, complex64, complex128, float32, float64, int8, int16, int32,
                     int64, isdtype, uint8, uint16, uint32, uint64)
from .custom import custom_gradient
from .recompute import recompute_grad, remat
from .functional import grad, hessian, hvp, jacobian, jvp, value_and_grad, vjp
from .batching import vmap
from .scipy_io import for_scipy
from .ops import *  # noqa: F401,F403
from .primitive import Primitive, apply
from .appliers import binary_applier as _binary_applier, unary_applier as _unary_applier
from .tape import GradientTape, stop_gradient
from .tensor import Tensor, Variable
from . import (distributed, fft, linalg, losses, nn, optim, random, special,  # noqa: E402
               testing)
from .jit import function  # noqa: E402  (xg.function: trace once, replay)
from .checkpoint import (CheckpointError, checkpoint_extra,  # noqa: E402
                         checkpoint_metadata, load_checkpoint, save_checkpoint)

bool = bool_  # the array-API name; Python's bool stays reachable as builtins.bool

__version__ = "0.1.0"
__array_api_version__ = "2025.12"   # docs/array-api.md: the conformance tables

# the array API's constants (newaxis indexes like None)
e = 2.718281828459045
inf = float("inf")
nan = float("nan")
pi = 3.141592653589793
newaxis = None

#: submodules imported on first use (``xg.data.batches``, ``xg.training.train``), as
#: ``torch.utils.data`` is there after ``import torch``; ``import xpgrad`` does not pay for them
_ON_FIRST_USE = ("data", "training", "distributions")   # the main job needs none


_SPLIT = ("xg.unstack(t, axis=k) gives every slice of size one (the axis dropped; "
          "xg.expand_dims(s, axis=k) puts it back), slicing t[:, i:j] any other piece")
_NO_TAPE = ("nothing is recorded outside a `with xg.GradientTape()` block, so there is no "
            "switch to turn off; xg.stop_gradient(t) cuts one tensor from the tapes")
#: PyTorch's namespace names a user reaches for, and where xpgrad has them
_PYTORCH_NAMES = {
    "cat": "xg.concat(tensors, axis=k) (the array API's name)",
    "split": _SPLIT, "chunk": _SPLIT,
    "no_grad": _NO_TAPE, "inference_mode": _NO_TAPE, "set_grad_enabled": _NO_TAPE,
    "manual_seed": "random numbers come from explicit generators: xg.random.default_rng(seed), "
                   "and rng= on layers and Dropout",
    "from_numpy": "xg.asarray(array) (copy=False to share the array's memory)",
    "clamp": "xg.clip(x, min, max) (the array API's name; t.clip(min, max) too)",
    "cholesky_solve": "xg.linalg.cholesky_solve(B, L, upper=False)",
    "cumsum": "xg.cumulative_sum(x, axis=k) (the array API's name)",
    "arctan2": "xg.atan2(y, x) (the array API's name)",
    "norm": "xg.linalg.vector_norm(x, ord=2, axis=None) or xg.linalg.matrix_norm(x, ord='fro')",
    "dot": "xg.vecdot(a, b) for vectors, a @ b for matrices",
    "logdet": "xg.linalg.slogdet(a).logabsdet (PyTorch's logdet is NaN where the determinant "
              "is negative)",
    "diag": "xg.linalg.diagonal(m) reads a matrix's diagonal; v * xg.eye(n, dtype=v.dtype) "
            "builds one from a vector",
    "cdist": "xg.linalg.vector_norm(x1[..., :, None, :] - x2[..., None, :, :], axis=-1) "
             "(ord=p for other p)",
    "lstsq": "xg.linalg.pinv(a) @ b, the least-squares solution (minimum-norm where a is "
             "rank-deficient)",
    **dict.fromkeys(("jacrev", "jacfwd"),
                    "xg.jacobian(f, argnums=...) (reverse mode; jacfwd's array is the same)"),
    "masked_fill": "xg.where(mask, value, x) (a new tensor: where mask is true, value)",
    "func": "torch.func's transforms are in xg itself: xg.grad, xg.value_and_grad, xg.vjp, "
            "xg.jvp, xg.jacobian, xg.hessian, xg.vmap",
    "autograd": "torch.autograd.grad(loss, inputs) is tape.gradient(loss, inputs) (or xg.grad(f))",
    "compile": "xg.function(step) traces a step once and replays it (torch.compile's job)",
    **dict.fromkeys(("save", "load"),
                    "checkpoints: xg.save_checkpoint(path, model, optimizer) and "
                    "xg.load_checkpoint(path, model, optimizer) (.npz); model.state_dict() "
                    "is {path: NumPy array}, loaded back with model.load_state_dict"),
    **{name: f"random numbers come from explicit generators: rng = xg.random.default_rng(seed)"
             f"; {ours}" for name, ours in (
                 ("randn", "rng.normal(size=shape)"), ("rand", "rng.random(size=shape)"),
                 ("randint", "rng.integers(low, high, size=shape)"),
                 ("randperm", "rng.permutation(n)"))},
}
#: what ``xg.tensor(data)`` (PyTorch's torch.tensor; xg.tensor is the module of xg.Tensor) says
_TENSOR_CALL = ("xg.tensor is xpgrad's module of the Tensor class; PyTorch's "
                "torch.tensor(data) is xg.asarray(data, dtype=...) (xg.Variable(data) for a "
                "trainable one)")


def __getattr__(name):
    if name in _ON_FIRST_USE:
        import importlib

        return importlib.import_module(f".{name}", __name__)
    from ._args import no_module_attribute

    raise no_module_attribute(__name__, name, _PYTORCH_NAMES.get(name))


class _TensorModule(type(_tensor_methods_module)):
    """The module ``xpgrad.tensor``, whose call (a PyTorch user's ``xg.tensor(data)``) is a
    TypeError pointing at ``xg.asarray``."""

    def __call__(self, *args, **kwargs):
        raise TypeError(_TENSOR_CALL)


_tensor_module.__class__ = _TensorModule
_allocator.tune()   # glibc's malloc: keep large freed arrays for the next step (allocator.py)
_tensor_methods_module._ns = __import__(__name__)
_tensor_methods_module.bind_operators(_tensor_methods_module._ns, _unary_applier,
                                      _binary_applier)

from . import einops_backend as _einops_backend  # noqa: E402
_einops_backend.install()   # einops.rearrange(t, ...) and friends on Tensors, whenever einops loads
