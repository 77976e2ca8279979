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
from . import inplace_operators as _inplace_operators_module
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
from .custom_vjps import custom_vjp
from .custom_jvps import custom_jvp
from .recompute import recompute_grad, remat
from .functional import (elementwise_grad, grad, hessian, hvp, jacobian, jvp, stop_gradient, value_and_grad,
                         vjp)
from .products import linearize
from .batching import vmap
from .jacobian_modes import jacfwd, jacrev
from .branches import cond, switch, while_loop
from .loops import fori_loop, scan
from .ode import StepLimitError, odeint
from .implicit import custom_linear_solve, custom_root, fixed_point
from .scipy_io import for_scipy
from .pytree import tree_leaves, tree_map
from .pytree_flatten import tree_flatten, tree_structure, tree_unflatten
from .pytree_nodes import register_dataclass, register_pytree_node, register_pytree_node_class
from . import tree_util
from .pytree_vector import ravel_pytree
from .ops import *  # noqa: F401,F403
from .ops.segments import *  # noqa: F401,F403  (TensorFlow's segment reductions)
from .ops.gather_scatter_nd import *  # noqa: F401,F403  (TensorFlow's gather_nd, scatter_nd)
from .primitive import Primitive, apply
from . import primitive as _primitive_module
from .appliers import binary_applier as _binary_applier, unary_applier as _unary_applier
from .tape import GradientTape
from .tensor import Tensor, Variable
from . import (distributed, fft, linalg, losses, nn, optim, random, special,  # noqa: E402
               testing)
from .jit import function  # noqa: E402  (xg.function: trace once, replay)
from . import debug  # noqa: E402  (xg.debug.print: printed on every replay)
from .host_print import print_values as print  # noqa: E402,A001  (tf.print)
from .jit.input_signature import TensorSpec  # noqa: E402  (xg.function's input_signature)
from .checkpoint import (CheckpointError, checkpoint_extra,  # noqa: E402
                         checkpoint_metadata, load_checkpoint, save_checkpoint)
from .checkpoint_manager import CheckpointManager  # noqa: E402
from .tensor_hints import MULTINOMIAL as _MULTINOMIAL  # noqa: E402

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
_ON_FIRST_USE = ("data", "training", "distributions", "threads",   # the main job needs none
                 "profiler", "events")


_SPLIT = ("xg.unstack(t, axis=k) gives every slice of size one (the axis dropped; "
          "xg.expand_dims(s, axis=k) puts it back), slicing t[:, i:j] any other piece, and "
          "NumPy's np.split(t, sections, axis=k) equal pieces, on the tapes (torch.split(t, "
          "size, dim=k) is np.split(t, t.shape[k] // size, axis=k))")
_NO_TAPE = ("nothing is recorded outside a `with xg.GradientTape()` block, so there is no "
            "switch to turn off; xg.stop_gradient(t) cuts one tensor from the tapes")
#: PyTorch's namespace names a user reaches for, and where xpgrad has them
_FLOAT64 = ("the default float is float32, fixed (the array API's default): for float64 give "
            "float64 data (a NumPy float64 array or np.float64 number stays float64; a Python "
            "float next to a float64 tensor takes its dtype), dtype=xg.float64 to xg.zeros, "
            "xg.linspace, rng.normal ..., dtype='float64' to layers")
_PYTORCH_NAMES = {
    "cat": "xg.concat(tensors, axis=k) (the array API's name)",
    "split": _SPLIT, "chunk": _SPLIT,
    "no_grad": _NO_TAPE, "inference_mode": _NO_TAPE, "set_grad_enabled": _NO_TAPE,
    **dict.fromkeys(("manual_seed", "seed", "set_random_seed"),
                    "xg.random.seed(n) seeds every generator made without a seed (layer inits, "
                    "Dropout without rng=); xg.random.default_rng(seed) is one generator, "
                    "rng= on a layer or Dropout seeds it alone"),
    "from_numpy": "xg.asarray(array) (copy=False to share the array's memory)",
    "Generator": "xg.random.default_rng(seed) (torch.Generator().manual_seed(seed)); "
                 "its draws are NumPy's Generator's: rng.normal(size=shape), rng.integers(low, "
                 "high, size=shape), rng.choice(n, p=probs)",
    "multinomial": _MULTINOMIAL,
    "enable_grad": _NO_TAPE,
    **dict.fromkeys(("bmm", "mm"), "a @ b (xg.matmul; batched over the leading axes)"),
    "long": "xg.int64 (torch.long)", "int": "xg.int32 (torch.int)",
    "float": "xg.float32 (torch.float)", "double": "xg.float64 (torch.double)",
    **dict.fromkeys(("set_num_threads", "get_num_threads"),
                    "xg.threads.limit(n) sets the threads of BLAS, "
                    "Numba and PyTorch (what xpgrad train --threads n does; .restore() undoes "
                    "it)"),
    **dict.fromkeys(("set_default_dtype", "get_default_dtype"), _FLOAT64),
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
    "masked_fill": "xg.where(mask, value, x) (a new tensor: where mask is true, value)",
    "index_add": "x.at[index].add(source) along axis 0, x.at[:, index].add(source) along axis "
                 "1 (repeated indices accumulate, as torch's); into zeros "
                 "xg.unsorted_segment_sum(source, index, num_segments)",
    "scatter_add": "torch.scatter_add(x, 0, index, src) with one index per row of src (each row "
                   "repeated across the columns, as a graph's messages summed at their nodes) "
                   "is x.at[ids].add(src), into zeros xg.unsorted_segment_sum(src, ids, "
                   "num_segments); other index patterns xg.tensor_scatter_nd_add(x, "
                   "coordinates, updates)",
    "scatter_reduce": "the segment reductions into zeros: xg.unsorted_segment_sum, _max, _min, "
                      "_prod, _mean(src, ids, num_segments) (reduce='sum', 'amax', 'amin', "
                      "'prod', 'mean'), or onto x: x.at[ids].add / .max / .min / .multiply(src)",
    "index_select": "xg.take(x, index, axis=k) (torch's dim is axis)",
    "rsqrt": "1 / xg.sqrt(x)",
    "bincount": "xg.unsorted_segment_sum(xg.ones_like(ids), ids, n) counts each id in [0, n) "
                "(weights in place of the ones for torch.bincount(ids, weights))",
    "repeat_interleave": "xg.repeat(x, repeats, axis=k) (NumPy's name)",
    **dict.fromkeys(("sparse", "sparse_coo_tensor"),
                    "xpgrad has no sparse tensors: the product of a sparse (n, m) matrix given "
                    "by rows, cols and values with a dense h (torch.sparse.mm, a graph's "
                    "normalized adjacency) is xg.unsorted_segment_sum(values[:, None] * "
                    "h[cols], rows, n)"),
    "diagonal": "xg.linalg.diagonal(x, offset=k) (of the last two axes)",
    "fill_diagonal": "xg.where(xg.eye(n, dtype=xg.bool), value, x) (a new tensor; -xg.inf "
                     "masks a similarity matrix's diagonal)",
    "func": "torch.func's transforms are in xg itself: xg.grad, xg.value_and_grad, xg.vjp, "
            "xg.jvp, xg.jacrev, xg.jacfwd, xg.linearize, xg.hessian, xg.vmap; "
            "functional_call and stack_module_state are xg.nn.functional_call(model, "
            "{path: tensor}, args) and xg.nn.stack_module_state(models)",
    "autograd": "torch.autograd.grad(loss, inputs) is tape.gradient(loss, inputs) (or "
                "xg.grad(f)); a torch.autograd.Function is @xg.custom_gradient (forward returns "
                "(value, grad_fn), grad_fn(upstream) the inputs' gradients) or xg.custom_vjp",
    "compile": "xg.function(step) traces a step once and replays it (torch.compile's job)",
    **dict.fromkeys(("save", "load"),
                    "checkpoints: xg.save_checkpoint(path, model, optimizer) and "
                    "xg.load_checkpoint(path, model, optimizer) (.npz); model.state_dict() "
                    "is {path: NumPy array}, loaded back with model.load_state_dict"),
    **{name: f"random numbers come from explicit generators: rng = xg.random.default_rng(seed)"
             f"; {ours}" for name, ours in (
                 ("randn", "rng.normal(size=shape)"), ("rand", "rng.random(size=shape)"),
                 ("randint", "rng.integers(low, high, size=shape)"),
                 ("randperm", "rng.permutation(n)"),
                 ("randn_like", "rng.normal(size=t.shape, dtype=t.dtype) (a VAE's eps)"),
                 ("rand_like", "rng.random(size=t.shape, dtype=t.dtype)"),
                 ("randint_like", "rng.integers(low, high, size=t.shape)"))},
}
#: JAX's (and NumPy's) names a JAX user reaches for, and where xpgrad has them
_JAX_NAMES = {
    "concatenate": "xg.concat(arrays, axis=0) (the array API's name)",
    "transpose": "xg.permute_dims(x, axes) (the array API's name; jnp.transpose(x) without "
                 "axes is xg.permute_dims(x, tuple(range(x.ndim))[::-1])); x.mT swaps the "
                 "last two axes",
    "swapaxes": "x.swapaxes(axis1, axis2), or xg.moveaxis(x, source, destination)",
    "power": "xg.pow(x, y) (the array API's name)",
    "absolute": "xg.abs(x) (the array API's name)",
    "ravel": "xg.reshape(x, (-1,))",
    "trace": "xg.linalg.trace(x, offset=0) (the array API's place for it)",
    "pad": "xg.nn.pad(x, pad) takes PyTorch's flat (before, after) pairs from the last axis "
           "backwards: jnp.pad(x, ((1, 1), (0, 2))) is xg.nn.pad(x, (0, 2, 1, 1))",
    "lax": "jax.lax.scan is xg.scan, lax.fori_loop xg.fori_loop, lax.while_loop "
           "xg.while_loop (Python loops the tapes differentiate), lax.cond xg.cond, lax.switch "
           "xg.switch, lax.select xg.where, lax.stop_gradient xg.stop_gradient, lax.custom_root xg.custom_root, "
           "lax.custom_linear_solve xg.custom_linear_solve (xg.fixed_point for "
           "x = f(x, *params)); xg.nn.rnn_scan, lstm_scan and "
           "gru_scan are the recurrent layers' fused scans",
    "numpy": "xg is the array namespace itself: jnp.sum is xg.sum, jnp.linalg is xg.linalg "
             "(the array API's names: xg.concat, xg.pow, xg.permute_dims); NumPy's own "
             "functions called on Tensors dispatch to xpgrad, so HIPS autograd's "
             "autograd.numpy is plain `import numpy as np`",
    "scipy": "jax.scipy.special (autograd.scipy.special) is xg.special, jax.scipy.stats "
             "(autograd.scipy.stats) is xg.distributions (log_prob, cdf), jax.scipy.linalg's "
             "solve_triangular, expm and cho_solve are xg.linalg's solve_triangular, expm and "
             "cholesky_solve",
    "tree": "xg.tree_util (xg.tree_map(f, tree, *rest), xg.tree_leaves(tree), "
            "xg.tree_flatten(tree), xg.tree_unflatten(treedef, leaves), xg.tree_structure(tree), "
            "xg.register_pytree_node(cls, flatten, unflatten)) is jax.tree_util (a dict's leaves "
            "in its own order: JAX sorts the keys)",
    **dict.fromkeys(("register_pytree_with_keys", "register_static"),
                    "xg.register_pytree_node(cls, flatten_func, unflatten_func), "
                    "xg.register_pytree_node_class and xg.register_dataclass are jax.tree_util's "
                    "(no key paths: a dataclass's leaves are named .field, others "
                    "[<flat index i>]); a class with no leaves is a static argument already"),
    "device_put": "xg.asarray(x, backend=...) makes a Tensor on a backend; t.to(backend) moves "
                  "one",
    "pmap": "data-parallel training runs one process per device: xg.distributed "
            "(MPI or NCCL, docs/distributed.md)",
    "grad_and_value": "xg.value_and_grad(f) returns (value, gradient), the pair "
                      "torch.func.grad_and_value returns as (gradient, value)",
    **dict.fromkeys(("config", "enable_x64"), "jax.config.update('jax_enable_x64', True) has "
                    "no switch here: float64 is always there. " + _FLOAT64),
    "trapz": "xg.trapezoid(y, x=None, dx=1.0, axis=-1) (NumPy 2's name)",
    "make_jaxpr": "f = xg.function(f) traces on its second call with a signature; "
                  "f.programs()[0].source is the traced program",
}
_VJP_RULE = ("HIPS autograd's @primitive f with defvjp(f, lambda ans, x: lambda g: ...) is "
             "f = xg.custom_vjp(f); f.defvjp(fwd, bwd) (JAX's): fwd(x) returns (ans, saved), "
             "bwd(saved, g) a tuple of one gradient per argument; fwd calls the undecorated "
             "function (or @xg.custom_gradient, TensorFlow's)")
#: HIPS autograd's names (``autograd.*``, ``autograd.misc.*``) and where xpgrad has them
_AUTOGRAD_NAMES = {
    "make_vjp": "xg.vjp(f, x) returns (f(x), vjp_fn), JAX's order, where HIPS autograd's "
                "make_vjp(f)(x) returns (vjp_fn, f(x)); vjp_fn(g) returns a tuple, one gradient "
                "per argument",
    "hessian_vector_product": "xg.hvp(f, x, v)[1] (xg.hvp returns (f(x), H @ v)); for SciPy: "
                              "hessp=xg.for_scipy(lambda x, v: xg.hvp(f, x, v)[1])",
    "flatten": "HIPS autograd's flatten(params) (jax.flatten_util.ravel_pytree) is "
               "xg.ravel_pytree(params) -> (vector, unravel), a dict's leaves in its own order "
               "(autograd and JAX sort the keys); one tensor's entries as a vector: "
               "x.reshape(-1) (PyTorch's torch.flatten(x, 1): x.reshape(x.shape[0], -1))",
    "flatten_func": "vector, unravel = xg.ravel_pytree(params); then "
                    "f_flat = lambda v, *args: f(unravel(v), *args)",
    "defvjp": _VJP_RULE,
}
#: what calling one of xpgrad's modules that shares its name with another library's function
#: says (``xg.tensor(data)`` as torch.tensor, ``xg.jit(step)`` as jax.jit, ``xg.checkpoint(f)``
#: as jax.checkpoint)
_MODULE_CALLS = {
    "tensor": "xg.tensor is xpgrad's module of the Tensor class; PyTorch's torch.tensor(data) "
              "is xg.asarray(data, dtype=...) (xg.Variable(data) for a trainable one)",
    "jit": "xg.jit is the package of xg.function; jax.jit(step) (torch.compile(step)) is "
           "xg.function(step): make it once, outside the loop, and call it with tensors "
           "(docs/function.md)",
    "checkpoint": "xg.checkpoint is the module of save_checkpoint / load_checkpoint; "
                  "jax.checkpoint(f) (jax.remat) is xg.remat(f), also spelled "
                  "xg.recompute_grad(f)",
    "primitive": "xg.primitive is the module of xg.Primitive, xpgrad's own operations; "
                 + _VJP_RULE,
}


def __getattr__(name):
    if name in _ON_FIRST_USE:
        import importlib

        return importlib.import_module(f".{name}", __name__)
    from ._args import no_module_attribute
    from .tf_names import NAMESPACE as _TENSORFLOW_NAMES

    raise no_module_attribute(__name__, name, _PYTORCH_NAMES.get(name) or _JAX_NAMES.get(name)
                              or _AUTOGRAD_NAMES.get(name) or _TENSORFLOW_NAMES.get(name)
                              or _in_submodule(name))


#: the namespaces whose public names ``xg.name`` points at (``xg.softmax_cross_entropy``)
_SUBMODULES = ("losses", "nn", "special", "linalg", "fft", "random", "optim", "distributions")


def _in_submodule(name):
    """Where ``name`` is among the public names of one of ``_SUBMODULES`` already imported
    (``xg.losses.softmax_cross_entropy``), or None."""
    import sys

    found = [f"xg.{sub}.{name}" for sub in _SUBMODULES
             if name in getattr(sys.modules.get(f"{__name__}.{sub}"), "__all__", ())]
    return " or ".join(found) if found else None


class _NamesakeModule(type(_tensor_methods_module)):
    """A module of xpgrad named as another library's function (``xpgrad.tensor``,
    ``xpgrad.jit``, ``xpgrad.checkpoint``, ``xpgrad.primitive``): calling it is a TypeError
    saying what xpgrad calls that function, instead of Python's "'module' object is not
    callable"."""

    def __call__(self, *args, **kwargs):
        raise TypeError(_MODULE_CALLS[self.__name__.rpartition(".")[2]])


for _namesake in (_tensor_module, jit, checkpoint, _primitive_module):
    _namesake.__class__ = _NamesakeModule
del _namesake
_allocator.tune()   # glibc's malloc: keep large freed arrays for the next step (allocator.py)
_tensor_methods_module._ns = _inplace_operators_module._ns = __import__(__name__)
_tensor_methods_module.bind_operators(_tensor_methods_module._ns, _unary_applier,
                                      _binary_applier)

from . import einops_backend as _einops_backend  # noqa: E402
_einops_backend.install()   # einops.rearrange(t, ...) and friends on Tensors, whenever einops loads
