"""Layer-level primitives: ``linear`` (``x @ w + b`` as one tape node), ``embedding`` (rows of
a weight picked by integer ids, the gradient a sparse scatter-add) and ``layer_norm`` (one node,
one joint rule), exposed through ``xg.nn``.

>>> import xpgrad as xg
>>> xg.nn.linear(xg.ones((2, 3)), xg.ones((3, 4)), xg.ones(4)).tolist()[0]
[4.0, 4.0, 4.0, 4.0]
"""
from __future__ import annotations

import numbers

from ..accumulate import Scatter
from ..creation import asarray, named_asarray
from ..jit.capture import THREAD as _TRACES
from ..optim._checks import hyperparameter
from ..primitive import PRIMITIVES, Primitive, apply
from ..tensor import Tensor, Variable, _wrap
from ._define import as_tensor
from .activations import relu, sigmoid
from .elementwise import tanh
from .linalg_helpers import mH
from .moments import mean_kept, normalized
from .shape import reshape

# x @ w + b for 2-D x as one primitive: one tape node instead of two, and the bias gradient is
# a plain column sum (no broadcast bookkeeping). Backends may add a kernel (NumPy adds the bias
# in place). Complex operands: the other factor conjugated, as matmul's rules do.
def _adjoint(xp, a):
    """``a``'s (conjugate) transpose in one call: this runs in every training step."""
    kind = getattr(a.dtype, "kind", None)
    if kind == "f":
        mt = getattr(a, "mT", None)
        return xp.matrix_transpose(a) if mt is None else mt
    return mH(xp, a)


_linear = Primitive(
    "linear", lambda xp, x, w, b: xp.matmul(x, w) + b,
    lambda xp, g, ans, x, w, b: g @ _adjoint(xp, w),      # the standard's operator: a
    lambda xp, g, ans, x, w, b: _adjoint(xp, x) @ g,      # C call on NumPy, no wrapper
    lambda xp, g, ans, x, w, b: xp.sum(g, axis=0), saves=(0, 1))


# act(x @ w + b) as one primitive per activation whose rule reads only its output (relu, tanh,
# sigmoid): one tape node instead of two, and on a backend with a kernel one pass for the bias
# and the activation forward, one for the activation's gradient and the bias gradient backward.
# The generic rules are the activations' own, composed with linear's.
def _linear_activation(name):
    act = PRIMITIVES[name]
    act_forward, act_rule = act.forward, act.vjps[0]

    def forward(xp, x, w, b):
        return act_forward(xp, xp.matmul(x, w) + b)

    def joint(xp, g, ans, needs, x, w, b):
        gz = act_rule(xp, g, ans, None)                 # the rule reads the output alone
        return (gz @ _adjoint(xp, w) if needs[0] else None,
                _adjoint(xp, x) @ gz if needs[1] else None,
                xp.sum(gz, axis=0) if needs[2] else None)

    return Primitive(f"linear_{name}", forward, joint=joint, saves=(0, 1, "output"))


#: the activations ``linear`` applies in the same primitive, by name
LINEAR_ACTIVATIONS = {name: _linear_activation(name) for name in ("relu", "tanh", "sigmoid")}
#: their functions (what an unfused call applies), and the names of those functions
_ACTIVATION_FUNCTIONS = {"relu": relu, "tanh": tanh, "sigmoid": sigmoid}


def fused_activation_name(fn):
    """The name ``linear`` fuses ``fn`` under (``xg.nn.relu``: ``"relu"``), else None."""
    for name, known in _ACTIVATION_FUNCTIONS.items():
        if fn is known:
            return name
    return None


def linear(x, w, b=None, activation=None):
    """``x @ w + b`` (``b`` optional); one fused primitive for 2-D ``x``. ``activation``
    (None, ``"relu"``, ``"tanh"``, ``"sigmoid"`` or any callable) is applied to the result:
    the three named ones (or their functions, ``xg.nn.relu``...) in the same primitive when
    ``b`` is given (the bias and the activation in one pass, their gradients in one pass
    back), another callable after it.

    >>> import xpgrad as xg
    >>> xg.nn.linear(xg.ones((2, 3)), xg.ones((3, 4))).shape
    (2, 4)
    >>> xg.nn.linear(xg.ones((1, 2)), -xg.ones((2, 2)), xg.ones(2), activation="relu").tolist()
    [[0.0, 0.0]]
    """
    fused = None
    if activation is not None:
        if activation.__class__ is not str:        # xg.nn.relu is the string's function
            activation = fused_activation_name(activation) or activation
        fused = LINEAR_ACTIVATIONS.get(activation) if activation.__class__ is str else None
        if fused is None:
            if activation.__class__ is str or not callable(activation):
                raise ValueError(f"linear: activation must be None, one of "
                                 f"{sorted(LINEAR_ACTIVATIONS)} or a callable, got "
                                 f"{activation!r}")
            return activation(linear(x, w, b))
    if isinstance(x, Tensor) and x._data.ndim > 2 and len(getattr(w, "shape", ())) == 2 \
            and x._data.shape[-1] == w.shape[0]:
        # (..., in) as (N, in), as PyTorch's F.linear: one product (and one for each gradient)
        # instead of a batched matmul whose weight gradient is a stack of products summed
        lead = tuple(x.shape[:-1])
        y = linear(reshape(x, (-1, x.shape[-1])), w, b, activation)
        return reshape(y, lead + (y.shape[-1],))
    if b is not None and isinstance(x, Tensor) and x._data.ndim == 2:
        ws = w.shape if w.__class__ is not Tensor and w.__class__ is not Variable \
            else w._data.shape                      # raw shapes: this runs every step
        bs = b.shape if b.__class__ is not Tensor and b.__class__ is not Variable \
            else b._data.shape
        if len(ws) != 2 or x._data.shape[1] != ws[0] or bs != (ws[1],):
            raise ValueError(f"linear: x {x.shape}, w {w.shape} and b {b.shape} do not fit "
                             "(need x (N, in), w (in, out), b (out,))")
        if fused is None:
            return apply(_linear, x, w, b)
        kernels = x._backend.kernels
        if getattr(x._data.dtype, "kind", None) == "f" and _TRACES.tracer is None and \
                kernels and fused.name in kernels:
            # the two ops apart where the backend has no kernel for the pair (its activation
            # kernel is then faster than the generic rules), and under xg.function: the
            # program's rewrites (the bias add in a fused run, the SGD update in the gemm)
            # know linear's steps
            return apply(fused, x, w, b)
        return _ACTIVATION_FUNCTIONS[activation](apply(_linear, x, w, b))
    y = as_tensor(x, "linear") @ as_tensor(w, "linear", "w")
    y = y if b is None else y + b
    return y if fused is None else _ACTIVATION_FUNCTIONS[activation](y)


# -- embedding: weight[ids] -------------------------------------------------------------------
# ``ids`` reach the primitive flat (1-D, checked in range), ``shape`` is their shape. The
# weight's gradient is a ``Scatter`` of the output gradient's rows at ``ids`` (repeated ids
# accumulate), added by the tape into one buffer: no one-hot product. Rows read at
# ``padding_idx`` send no gradient back (PyTorch's rule).
def _embedding_forward(xp, weight, ids, shape, padding_idx, backend):
    return xp.reshape(xp.take(weight, ids, axis=0), (*shape, weight.shape[1]))


def _embedding_rows(xp, g, ids, padding_idx, backend):
    """The output gradient as (N, D) rows, zero where ``ids == padding_idx``."""
    rows = xp.reshape(g, (ids.shape[0], g.shape[-1]))
    if padding_idx is None:
        return rows
    pad = backend.xp.reshape(ids == padding_idx, (ids.shape[0], 1))
    if isinstance(g, Tensor):
        pad = _wrap(pad, g._backend)
    return xp.where(pad, xp.zeros_like(rows), rows)


def _embedding_vjp(xp, g, ans, weight, ids, shape, padding_idx, backend):
    rows = _embedding_rows(xp, g, ids, padding_idx, backend)
    if isinstance(g, Tensor):          # an outer tape records: a differentiable scatter
        return apply(_embedding_scatter, rows, ids=ids, n=weight.shape[0],
                     padding_idx=padding_idx, backend=backend)
    return Scatter(tuple(weight.shape), (ids,), rows, backend)


def _embedding_scatter_forward(xp, rows, ids, n, padding_idx, backend):
    return Scatter((n, rows.shape[1]), (ids,), rows, backend).dense(xp)


def _embedding_scatter_vjp(xp, g, ans, rows, ids, n, padding_idx, backend):
    picked = apply(_embedding, g, ids=ids, shape=(ids.shape[0],), padding_idx=padding_idx,
                   backend=backend) if isinstance(g, Tensor) else xp.take(g, ids, axis=0)
    return _embedding_rows(xp, picked, ids, padding_idx, backend)


_embedding = Primitive("embedding", _embedding_forward, _embedding_vjp, saves=(0,))
_embedding_scatter = Primitive("embedding_scatter", _embedding_scatter_forward,
                               _embedding_scatter_vjp, saves=())


def embedding(ids, weight, padding_idx=None):
    """Rows of ``weight`` (num_embeddings, embedding_dim) at integer ``ids`` (any shape):
    ``weight[ids]`` of shape ``ids.shape + (embedding_dim,)``, as ``torch.nn.functional.
    embedding``. ``ids`` must lie in ``[0, num_embeddings)`` (IndexError otherwise; negative
    ids are refused, as PyTorch does). The weight's gradient is a sparse scatter-add of the
    output gradient's rows; rows read at ``padding_idx`` (negative: counted from the end) get
    no gradient.

    >>> import xpgrad as xg
    >>> w = xg.asarray([[0.0, 0.0], [1.0, 2.0], [3.0, 4.0]])
    >>> xg.nn.embedding(xg.asarray([[1, 2], [2, 0]]), w).tolist()
    [[[1.0, 2.0], [3.0, 4.0]], [[3.0, 4.0], [0.0, 0.0]]]
    """
    weight = as_tensor(weight, "embedding", "weight")
    if weight.ndim != 2:
        raise ValueError(f"embedding: weight must be 2-D (num_embeddings, embedding_dim), got "
                         f"shape {weight.shape}")
    return lookup(ids, weight, _padding_index(padding_idx, weight.shape[0], "embedding"),
                  "embedding")


def lookup(ids, weight, padding_idx, owner):
    """``embedding`` of a checked 2-D ``weight`` and ``padding_idx`` (in ``[0, n)`` or None);
    errors about ``ids`` name ``owner``."""
    ids = as_ids(ids, weight, weight.shape[0], owner)
    flat = ids._data if ids.ndim == 1 else ids._backend.xp.reshape(ids._data, (-1,))
    return apply(_embedding, weight, ids=flat, shape=ids.shape, padding_idx=padding_idx,
                 backend=weight._backend)


def _padding_index(padding_idx, n, owner):
    """``padding_idx`` as an int in ``[0, n)`` (negative counted from the end), or None."""
    if padding_idx is None:
        return None
    if isinstance(padding_idx, bool) or not isinstance(padding_idx, numbers.Integral):
        raise TypeError(f"{owner}: padding_idx must be an integer or None, got "
                        f"{type(padding_idx).__name__} {padding_idx!r}")
    if not -n <= padding_idx < n:
        raise ValueError(f"{owner}: padding_idx must be within num_embeddings ({n}): in "
                         f"[{-n}, {n}), got {padding_idx}")
    return int(padding_idx) % n


def as_ids(ids, weight, n, owner, what="ids"):
    """``ids`` as an integer Tensor on ``weight``'s backend, every id in ``[0, n)``;
    TypeError/IndexError naming ``what`` (the argument: ``ids``, ``input``) otherwise."""
    ids = integer_tensor(ids, weight, owner, what)
    if ids.size:
        lo, hi = ids._backend.check_index_range(ids._data)
        if lo < 0 or hi >= n:
            raise IndexError(f"{owner}: {what} must lie in [0, num_embeddings) = [0, {n}), "
                             f"got id {lo if lo < 0 else hi}")
    return ids


def integer_tensor(value, weight, owner, what):
    """``value`` as an integer Tensor on ``weight``'s backend (TypeError/ValueError naming
    ``what`` otherwise)."""
    if not isinstance(value, Tensor):
        try:
            value = named_asarray(value, f"{owner}: {what}", backend=weight._backend)
        except (TypeError, ValueError) as e:
            raise TypeError(f"{owner}: {what} must be an integer tensor or array, got "
                            f"{type(value).__name__} ({e})") from None
    elif value._backend is not weight._backend:
        raise ValueError(f"{owner}: {what} are on backend {value._backend.name!r}, the weight "
                         f"on {weight._backend.name!r}; move one with .to()")
    if value.dtype.kind not in "iu":
        raise TypeError(f"{owner}: {what} must be integers (int32, int64, ...), got "
                        f"{value.dtype}; cast them with xg.astype")
    return value


# -- layer_norm: (x - mean) / sqrt(var + eps) * weight + bias over the last k axes ----------------
# One primitive with a joint rule: the composition of mean, subtract, square, mean, rsqrt,
# multiply (and the affine pair) is 7-9 tape nodes, each a full pass that the tape keeps a
# residual of; here the rule recomputes the normalized input from x (two reductions) and
# shares it between the gradients of x, weight and bias. ``arrays`` is ``(x, [weight],
# [bias])``: ``affine`` says which of the two are there.
def _normalize(xp, x, k, eps):
    """``(xhat, rstd)``: x normalized over its last ``k`` axes, and 1 / sqrt(var + eps)
    (rescaled where the sum of squares overflows: ``moments.normalized``)."""
    return normalized(xp, x, tuple(range(x.ndim - k, x.ndim)), eps)


def _layer_norm_forward(xp, x, *affine_arrays, k, eps, affine):
    y, _ = _normalize(xp, x, k, eps)
    weight, bias = _split_affine(affine_arrays, affine)
    if weight is not None:
        y = y * weight
    return y if bias is None else y + bias


def _split_affine(arrays, affine):
    weight = arrays[0] if affine[0] else None
    bias = arrays[-1] if affine[1] else None
    return weight, bias


def _layer_norm_vjp(xp, g, ans, needs, x, *affine_arrays, k, eps, affine):
    weight, _ = _split_affine(affine_arrays, affine)
    xhat, rstd = _normalize(xp, x, k, eps)
    lead = tuple(range(x.ndim - k))

    def over_lead(a):
        return xp.sum(a, axis=lead) if lead else a

    dx = None
    if needs[0]:
        axes = tuple(range(x.ndim - k, x.ndim))
        gy = g if weight is None else g * weight
        dx = rstd * (gy - mean_kept(xp, gy, axes) - xhat * mean_kept(xp, gy * xhat, axes))
    out = [dx]
    if affine[0]:
        out.append(over_lead(g * xhat) if needs[len(out)] else None)
    if affine[1]:
        out.append(over_lead(g) if needs[len(out)] else None)
    return tuple(out)


_layer_norm = Primitive("layer_norm", _layer_norm_forward, joint=_layer_norm_vjp, saves=(0, 1))


def layer_norm(x, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Normalize ``x`` over its last axes, those of ``normalized_shape`` (an int or a tuple),
    to zero mean and unit (biased) variance, then scale by ``weight`` and shift by ``bias``
    (each optional, of shape ``normalized_shape``): ``torch.nn.functional.layer_norm``.

    >>> import xpgrad as xg
    >>> y = xg.nn.layer_norm(xg.asarray([[1.0, 2.0, 3.0]]), 3)
    >>> [round(v, 4) for v in y.tolist()[0]]
    [-1.2247, 0.0, 1.2247]
    """
    shape = _normalized_shape(normalized_shape, "layer_norm")
    eps = _eps(eps, "layer_norm")
    x = as_tensor(x, "layer_norm")
    check_normalized_input(x, shape, "layer_norm")
    arrays = [x]
    for what, value in (("weight", weight), ("bias", bias)):
        if value is not None:
            value = value if isinstance(value, Tensor) else _array_like(value, x, what)
            if value.shape != shape:
                raise ValueError(f"layer_norm: {what} must have shape normalized_shape = "
                                 f"{shape}, got {value.shape}")
            if value.dtype != x.dtype:
                raise TypeError(f"layer_norm: {what} is {value.dtype} but the input is "
                                f"{x.dtype}; cast one with xg.astype")
            arrays.append(value)
    return apply(_layer_norm, *arrays, k=len(shape), eps=eps,
                 affine=(weight is not None, bias is not None))


def _array_like(value, x, what, owner="layer_norm"):
    """A list, number or array given for ``what`` as a Tensor of ``x``'s dtype and backend
    (a Tensor keeps its own: no silent cast); errors name ``owner``."""
    try:
        return asarray(value, dtype=x.dtype, backend=x.backend)
    except (TypeError, ValueError) as e:
        raise TypeError(f"{owner}: {what} must be a tensor or numbers, got "
                        f"{type(value).__name__} ({e})") from None


def _normalized_shape(value, owner):
    """``normalized_shape`` as a non-empty tuple of ints >= 0: TypeError for what is not an
    int or a tuple/list of ints (bools refused), ValueError for an empty one or sizes < 0. A
    size 0 normalizes rows of no entries, an empty result, as PyTorch's."""
    def integer(n):
        return isinstance(n, numbers.Integral) and not isinstance(n, bool)

    items = (value,) if integer(value) else value
    text = (f"{owner}: normalized_shape must be a non-negative integer or a non-empty tuple "
            f"of them, got {value!r}")
    if not isinstance(items, (tuple, list)) or not all(integer(n) for n in items):
        raise TypeError(text)
    if not items or any(n < 0 for n in items):
        raise ValueError(text)
    return tuple(int(n) for n in items)


def _eps(value, owner):
    return hyperparameter("eps", value, low=0.0, owner=owner)


def check_normalized_input(x, shape, owner):
    """``x`` must end with the axes ``shape`` and be floating (ValueError/TypeError naming
    ``owner`` and ``normalized_shape``)."""
    if tuple(x.shape[x.ndim - len(shape):]) != shape or x.ndim < len(shape):
        raise ValueError(f"{owner}: the input's last axes must be normalized_shape = {shape}, "
                         f"got an input of shape {x.shape}")
    if not x.dtype.is_floating:
        raise TypeError(f"{owner} needs a floating-point input, got {x.dtype}")


__all__: list = []   # exposed through xg.nn
