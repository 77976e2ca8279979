"""Products with the Jacobian and the Hessian on the tape: ``vjp``, ``jvp``, ``hvp``. Primals,
tangents, cotangents and outputs may be pytrees (tuples, namedtuples, lists and dicts of
arrays, pytree.py), as in JAX: a tangent has its primal's structure, a cotangent the output's,
and each product the structure of what it is the derivative with respect to.

>>> import xpgrad as xg
>>> out, pullback = xg.vjp(lambda p: {"y": p["w"] * 2.0}, {"w": xg.asarray([1.0, 2.0])})
>>> pullback({"y": xg.asarray([1.0, 10.0])})[0]["w"].tolist()
[2.0, 20.0]
"""
from __future__ import annotations

from ._args import flag
from .backend import MixedBackendError
from .creation import asarray, zeros_like
from .differentiated_arguments import PRIMALS, _is_tree, _per_argument, _prepare, _sources
from .functional import _check_callable, _split_aux, _value_and_grad
from .ops import conj, positive, real, reductions
from .pytree import is_node, leaves, leaves_like, map_leaves, rebuild
from .tape import GradientTape
from .tensor import Tensor


def vjp(f, *primals, has_aux=False):
    """``(f(*primals), vjp_fn)`` where ``vjp_fn(cotangent)`` gives a tuple of gradients, one per
    primal in its structure, as ``jax.vjp``. A primal may be a pytree; ``f`` may return one,
    and the cotangent then has its structure. With ``has_aux``, ``f`` returns a pair
    ``(output, aux)`` and the result is ``(output, vjp_fn, aux)``, as JAX's.

    >>> import xpgrad as xg
    >>> y, pullback = xg.vjp(lambda x: x * 2.0, xg.asarray([1.0, 2.0]))
    >>> pullback(xg.asarray([1.0, 10.0]))[0].tolist()
    [2.0, 20.0]
    >>> y, pullback, aux = xg.vjp(lambda x: (x * 2.0, "note"), xg.asarray([1.0]), has_aux=True)
    >>> aux
    'note'
    """
    _check_callable(f, "vjp")
    has_aux = flag(has_aux, "has_aux", "vjp")
    _, nums, args = _prepare(primals, PRIMALS, who="vjp")
    groups, sources = _sources(args, nums)
    tape = GradientTape(persistent=True)
    with tape:
        tape.watch(sources)
        out, aux = _split_aux(f(*args), has_aux)
    outs = _output_leaves(out, "vjp")

    def vjp_fn(cotangent):
        if is_node(out):
            target = outs
            cotangent = [_cotangent(c, o, path) for (path, c), o in
                         zip(leaves_like(out, cotangent, "cotangent", "f's output"), outs)]
        else:
            target = out
            cotangent = _cotangent(cotangent, out, "")
        flat = tape.gradient(target, sources, output_gradients=cotangent,
                             unconnected_gradients="zero")
        return _per_argument(flat, args, nums, groups, single=False)

    return (out, vjp_fn, aux) if has_aux else (out, vjp_fn)


def _output_leaves(out, who, floating=False):
    """The Tensors of ``f``'s output (one, or a pytree of them); TypeError naming the path of
    one that is not a Tensor (or, with ``floating``, not floating-point)."""
    found = []

    def take(leaf, path):
        if not isinstance(leaf, Tensor) or floating and not leaf.dtype.is_inexact:
            kind = "floating-point Tensors" if floating else "Tensors"
            raise TypeError(f"{who} needs a function returning {kind} (one, or a pytree of "
                            f"them), got {getattr(leaf, 'dtype', type(leaf).__name__)} at "
                            f"output{path}" + ("; a pair (output, aux) needs has_aux=True"
                                               if path == "[1]" else ""))
        found.append(leaf)

    map_leaves(take, out)
    return found


def _cotangent(cotangent, out, path):
    """The cotangent of the output Tensor ``out`` (at ``path``): None stands for ones only for a
    one-element output, as in PyTorch; a shape is checked against ``out``'s."""
    if cotangent is None:
        if out.size != 1:
            raise TypeError(f"vjp_fn needs a cotangent{path} of the output's shape {out.shape}, "
                            "got None (as in PyTorch, None stands for 1 only for a one-element "
                            "output)")
        return None
    cotangent = _named_tensor(cotangent, f"vjp_fn: cotangent{path}", out.backend)
    if cotangent.shape != out.shape:
        raise ValueError(f"vjp_fn: cotangent{path} has shape {cotangent.shape} but the output "
                         f"there has shape {out.shape}; they must match")
    return cotangent


def hvp(f, primals, tangents):
    """``(f(*primals), H @ tangents)``: the Hessian of scalar-valued ``f`` times ``tangents``
    in two reverse passes, as ``torch.autograd.functional.hvp``. ``primals`` and
    ``tangents`` are one tensor (or array-like) each, or tuples (or lists, as in JAX) of the
    same length, one entry per argument of ``f`` (then the product is a tuple, one entry per
    primal); a primal may be a pytree, its tangent and product then have its structure.

    >>> import xpgrad as xg
    >>> value, product = xg.hvp(lambda x: xg.sum(x ** 3), xg.asarray([1.0, 2.0]),
    ...                         xg.asarray([1.0, 1.0]))
    >>> value.item(), product.tolist()
    (9.0, [6.0, 12.0])
    """
    _check_callable(f, "hvp")
    single, args, _, tangents = _with_tangents(primals, tangents, "hvp")
    # the tape differentiates fresh aliases of the primals, so a tangent that is a primal
    # (``hvp(f, x, x)``) stays a constant: H @ x, not H @ x + grad f (tapes outside still see
    # the aliases come from the primals)
    args = [map_leaves(lambda leaf, path: positive(leaf), a) for a in args]
    nums = tuple(range(len(args)))
    groups, sources = _sources(args, nums)
    with GradientTape() as outer:
        outer.watch(sources)
        value, grads = _value_and_grad(f, nums, False, "hvp")(*args)
        directional = _real_inner(leaves(grads), tangents)
    products = outer.gradient(directional, sources, unconnected_gradients="zero")
    return value, _per_argument(products, args, nums, groups, single)


def _real_inner(grads, tangents):
    """``sum Re(g * conj(t))``, the real inner product of C as R^2 (``sum(g * t)`` for real
    tensors): the gradient of it is PyTorch's jvp (of a vjp) and hvp for complex inputs too."""
    return sum(reductions.sum(g * t) if not (g.dtype.kind == "c" or t.dtype.kind == "c")
               else reductions.sum(real(g * conj(t))) for g, t in zip(grads, tangents))


def _with_tangents(primals, tangents, who):
    """``(single, primal trees, their Tensors, the tangents' Tensors in the same order)``: one
    primal and tangent, or tuples (or lists, as in JAX: one entry per argument of ``f``) of
    equal length; a tangent has its primal's structure and each Tensor its primal's shape. With
    one primal, ``tangents`` is one array-like too (``[1.0, 0.5]`` is one vector)."""
    single = not isinstance(primals, (tuple, list))
    primals = (primals,) if single else tuple(primals)
    if single or not isinstance(tangents, (tuple, list)):
        tangents = (tangents,)
    if len(tangents) != len(primals):
        raise ValueError(f"{who}: tangents has {len(tangents)} entries for {len(primals)} "
                         "primals")
    primals = [_named_tensors(p, f"{who}: primals[{i}]") for i, p in enumerate(primals)]
    nums = tuple(range(len(primals)))
    _, _, args = _prepare(primals, PRIMALS, who=who)
    sources = _sources(args, nums)[1]
    labelled = []
    for i, (primal, tangent) in enumerate(zip(args, tangents)):
        name = f"{who}: tangents[{i}]"
        pairs = (leaves_like(primal, tangent, name, f"primals[{i}]") if is_node(primal)
                 else [("", tangent)])
        labelled += [(name + path, leaf) for path, leaf in pairs]
    return single, args, sources, [_tangent(t, label, s)
                                   for (label, t), s in zip(labelled, sources)]


def _tangent(tangent, label, primal):
    """``tangent`` as a Tensor on ``primal``'s backend, of its shape and dtype (numbers and
    lists take the primal's dtype; an array of another dtype is refused, as ``jax.jvp`` does:
    a cast would hide a float32 tangent meeting float64 primals); errors start with
    ``label``."""
    dtype = getattr(tangent, "dtype", None)
    tangent = _named_tensor(tangent, label, primal.backend,
                            dtype=None if dtype is not None else primal.dtype)
    if tangent.backend.name != primal.backend.name:
        raise MixedBackendError(f"{label} is on backend {tangent.backend.name!r} but its primal "
                                f"is on {primal.backend.name!r}; move it with "
                                f".to({primal.backend.name!r})")
    if tangent.shape != primal.shape:
        raise ValueError(f"{label} has shape {tangent.shape} but its primal has shape "
                         f"{primal.shape}; they must match")
    if tangent.dtype != primal.dtype:
        raise TypeError(f"{label} has dtype {tangent.dtype} but its primal has dtype "
                        f"{primal.dtype}; they must be equal (as in jax.jvp): cast it with "
                        f"xg.astype(tangent, xg.{primal.dtype})")
    return tangent


def _named_tensors(value, label):
    """``value`` (an array-like, or a pytree of them) with every array a Tensor."""
    if _is_tree(value):
        return map_leaves(lambda leaf, path: _named_tensor(leaf, label + path), value)
    return _named_tensor(value, label)


def _named_tensor(value, label, backend=None, dtype=None):
    """``value`` as a Tensor (on ``backend``, of ``dtype``); TypeError starting with ``label``
    if it is no array."""
    if isinstance(value, Tensor):
        return value
    try:
        return asarray(value, dtype=dtype, backend=backend)
    except (TypeError, ValueError) as e:
        raise TypeError(f"{label} ({type(value).__name__} {value!r:.40}) is not a tensor or "
                        f"numbers: {e}") from None


def jvp(f, primals, tangents, has_aux=False):
    """``(f(*primals), J @ tangents)``: the Jacobian-vector product (forward-mode derivative)
    of ``f``, as ``torch.autograd.functional.jvp`` computes it: by differentiating a vjp with
    respect to its cotangent, two reverse passes. ``primals`` and ``tangents`` are one tensor
    (or array-like) each, or tuples (or lists, as in JAX's ``jvp``) of the same length, one
    entry per argument of ``f``; a primal may be a pytree (its tangent has its structure), and
    ``f`` may return one (the product has its structure), as in JAX. With ``has_aux``, ``f``
    returns a pair ``(output, aux)`` and the result is ``(output, product, aux)``, as JAX's.

    >>> import xpgrad as xg
    >>> out, product = xg.jvp(lambda x: x ** 2, xg.asarray([1.0, 3.0]), xg.asarray([1.0, 0.5]))
    >>> out.tolist(), product.tolist()
    ([1.0, 9.0], [2.0, 3.0])
    """
    _check_callable(f, "jvp")
    has_aux = flag(has_aux, "has_aux", "jvp")
    _, args, sources, tangents = _with_tangents(primals, tangents, "jvp")
    outer, out, aux, cotangents, directional = _recorded_vjp(f, args, sources, has_aux, "jvp",
                                                             tangents=tangents)
    products = outer.gradient(directional, cotangents, unconnected_gradients="zero")
    product = rebuild(out, products) if is_node(out) else products[0]
    return (out, product, aux) if has_aux else (out, product)


def linearize(fun, *primals, has_aux=False):
    """``(fun(*primals), f_jvp)`` where ``f_jvp(*tangents)`` is the Jacobian-vector product at
    ``primals``, as ``jax.linearize``: one tangent per primal, in its structure (pytrees as in
    ``jvp``), the product in the output's structure. ``fun`` runs once; its tapes are kept,
    and each ``f_jvp`` call is one reverse pass through the recorded vector-Jacobian product
    (the vjp is linear in its cotangent, so differentiating it gives ``J @ tangents``), no
    recomputation of ``fun``. With ``has_aux``, ``fun`` returns ``(output, aux)`` and the
    result is ``(output, f_jvp, aux)``.

    >>> import xpgrad as xg
    >>> y, f_jvp = xg.linearize(lambda x: xg.sin(x) * 2.0, xg.asarray([0.0, 1.0]))
    >>> f_jvp(xg.asarray([1.0, 0.0])).tolist()
    [2.0, 0.0]
    >>> f_jvp(xg.asarray([3.0, 0.0])).tolist()
    [6.0, 0.0]
    """
    _check_callable(fun, "linearize")
    has_aux = flag(has_aux, "has_aux", "linearize")
    _, nums, args = _prepare([_named_tensors(p, f"linearize: primals[{i}]")
                              for i, p in enumerate(primals)], PRIMALS, who="linearize")
    sources = _sources(args, nums)[1]
    outer, out, aux, cotangents, vjps = _recorded_vjp(fun, args, sources, has_aux,
                                                      "linearize", persistent=True)

    def f_jvp(*tangents):
        if len(tangents) != len(args):
            raise TypeError(f"linearize: f_jvp takes one tangent per primal: {len(args)}, got "
                            f"{len(tangents)}")
        tangents = _with_tangents(tuple(args), tangents, "linearize: f_jvp")[3]
        products = outer.gradient(vjps, cotangents, output_gradients=tangents,
                                  unconnected_gradients="zero")
        return rebuild(out, products) if is_node(out) else products[0]

    return (out, f_jvp, aux) if has_aux else (out, f_jvp)


def _recorded_vjp(f, args, sources, has_aux, who, persistent=False, tangents=None):
    """``(outer, out, aux, cotangents, vjps)``: ``f(*args)`` run on an inner tape watching
    ``sources``, and its vector-Jacobian product with zero ``cotangents`` (one per output
    leaf) recorded on ``outer``, which watches only them. The vjp is linear in the
    cotangents, so ``outer.gradient(vjps, cotangents, output_gradients=tangents)`` is ``J @
    tangents``. Given ``tangents``, the last item is instead the real inner product of the
    vjps with them, recorded on ``outer`` too (whose gradient is ``J @ tangents``)."""
    # the outer tape records while the inner one does, so the inner keeps what the generic
    # rules read (which the outer differentiates)
    with GradientTape(watch_accessed_variables=False, persistent=persistent) as outer:
        with GradientTape() as inner:
            inner.watch(sources)
            out, aux = _split_aux(f(*args), has_aux)
        outs = _output_leaves(out, who, floating=True)
        cotangents = [zeros_like(o) for o in outs]
        outer.watch(cotangents)
        vjps = inner.gradient(outs, sources, output_gradients=cotangents,
                              unconnected_gradients="zero")
        if tangents is not None:
            vjps = _real_inner(vjps, tangents)
    return outer, out, aux, cotangents, vjps
