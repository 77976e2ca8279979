"""``jacrev`` and ``jacfwd``: JAX's two Jacobians. ``jacrev`` takes one reverse pass per output
entry (``xg.jacobian``), ``jacfwd`` one Jacobian-vector product per input entry, all of them
in one batched call (``xg.vmap`` of ``xg.jvp`` over the standard basis). Both return JAX's
structure: the output's pytree outside, the differentiated arguments' inside, each block of
shape ``output.shape + argument.shape``. They compose: ``jacfwd(jacrev(f))`` is the Hessian,
as in JAX.

>>> import xpgrad as xg
>>> f = lambda x: xg.sum(x ** 3)
>>> xg.jacfwd(xg.jacrev(f))(xg.asarray([1.0, 2.0])).tolist()
[[6.0, 0.0], [0.0, 12.0]]
"""
from __future__ import annotations

from ._args import flag
from .differentiated_arguments import _per_argument, _prepare, _sources
from .functional import _check_callable, _jacobian
from .pytree import leaves, rebuild
from .tensor import Tensor


def _refuse_allow_int(allow_int, who):
    if flag(allow_int, "allow_int", who):
        raise NotImplementedError(
            f"{who}: allow_int=True is not supported (JAX gives integer arguments float0 "
            "zeros); leave integer arguments out of argnums")


def jacrev(fun, argnums=0, has_aux=False, holomorphic=False, allow_int=False):
    """``jax.jacrev``: the Jacobian of ``fun`` by reverse mode, one pass per output entry (it
    is ``xg.jacobian``). ``argnums`` an int or a tuple (then a tuple of blocks per output);
    arguments and outputs may be pytrees; with ``has_aux`` ``fun`` returns ``(output, aux)``
    and the function ``(jacobian, aux)``. Outputs must be real, as JAX's; for a complex
    argument the rows are PyTorch's gradients, the conjugates of JAX's. With
    ``holomorphic=True`` arguments and outputs must be complex and ``fun`` holomorphic: the
    result is the complex derivative, as JAX's (and ``jacfwd``'s). A row is then the
    conjugate of the gradient of the output entry's real part (Cauchy-Riemann), one reverse
    pass each.

    >>> import xpgrad as xg
    >>> jac = xg.jacrev(lambda x, y: {"p": x * y}, argnums=(0, 1))(
    ...     xg.asarray([1.0, 2.0]), xg.asarray(3.0))
    >>> jac["p"][0].tolist(), jac["p"][1].tolist()
    ([[3.0, 0.0], [0.0, 3.0]], [1.0, 2.0])
    >>> xg.jacrev(lambda z: z * z, holomorphic=True)(xg.asarray([1.0 + 2.0j])).tolist()
    [[(2+4j)]]
    """
    _check_callable(fun, "jacrev")
    has_aux = flag(has_aux, "has_aux", "jacrev")
    holomorphic = flag(holomorphic, "holomorphic", "jacrev")
    _refuse_allow_int(allow_int, "jacrev")
    wrapped = (_holomorphic_jacrev(fun, argnums, has_aux, "jacrev") if holomorphic
               else _jacobian(fun, argnums, has_aux, "jacrev"))
    wrapped.__name__ = f"jacrev({getattr(fun, '__name__', 'f')})"
    return wrapped


def _holomorphic_jacrev(fun, argnums, has_aux, who):
    """``jacrev(fun, holomorphic=True)``: for holomorphic ``f = u + iv``, the tapes' gradient
    of ``u`` (PyTorch's convention, ``du/dx + i du/dy``) is ``du/dx - i dv/dx``, the
    conjugate of ``f'``. Its errors name ``who``."""
    from .ops import conj, real
    from .pytree import leaves_with_paths, map_leaves

    def real_part(*args, **kwargs):
        returned = fun(*args, **kwargs)
        out, aux = returned if has_aux else (returned, None)
        for path, leaf in leaves_with_paths(out):
            if not (isinstance(leaf, Tensor) and leaf.dtype.is_complex):
                raise TypeError(f"{who} with holomorphic=True needs complex outputs, got "
                                f"{getattr(leaf, 'dtype', type(leaf).__name__)} at "
                                f"output{path}")
        out = map_leaves(lambda leaf, path: real(leaf), out)
        return (out, aux) if has_aux else out

    rows_of_real_parts = _jacobian(real_part, argnums, has_aux, who)

    def wrapped(*args, **kwargs):
        _, nums, prepared = _prepare(args, argnums, keywords=kwargs, who=who)
        _check_input_dtypes(_sources(prepared, nums)[1], True, who)
        returned = rows_of_real_parts(*args, **kwargs)
        jac, aux = returned if has_aux else (returned, None)
        jac = map_leaves(lambda leaf, path: conj(leaf), jac)
        return (jac, aux) if has_aux else jac

    return wrapped


def jacfwd(fun, argnums=0, has_aux=False, holomorphic=False, allow_int=False):
    """``jax.jacfwd``: the Jacobian of ``fun`` by forward mode, ``xg.jvp`` with each vector of
    the standard basis of the differentiated arguments, batched into one ``xg.vmap`` call (so
    ``fun`` must be vmappable; an operation without a batching rule loops there). Cheaper than
    ``jacrev`` for few inputs and many outputs. The same arguments and structure as
    ``jacrev``; keyword arguments go to ``fun`` undifferentiated. Inputs must be real, as
    JAX's, unless ``holomorphic=True``: then they must be complex and ``fun`` holomorphic
    (the result is the complex derivative).

    >>> import xpgrad as xg
    >>> xg.jacfwd(lambda x: xg.sin(x) * 2.0)(xg.asarray([0.0, 0.0])).tolist()
    [[2.0, 0.0], [0.0, 2.0]]
    >>> jac, aux = xg.jacfwd(lambda x: (x * x, "note"), has_aux=True)(xg.asarray([3.0]))
    >>> jac.tolist(), aux
    ([[6.0]], 'note')
    """
    _check_callable(fun, "jacfwd")
    has_aux = flag(has_aux, "has_aux", "jacfwd")
    holomorphic = flag(holomorphic, "holomorphic", "jacfwd")
    _refuse_allow_int(allow_int, "jacfwd")
    return _jacfwd(fun, argnums, has_aux, holomorphic, "jacfwd")


def _jacfwd(fun, argnums, has_aux, holomorphic, who):
    """``jacfwd(fun, argnums, has_aux, holomorphic)``, its errors naming ``who``."""

    def wrapped(*args, **kwargs):
        single, nums, args = _prepare(args, argnums, keywords=kwargs, who=who)
        groups, sources = _sources(args, nums)
        _check_input_dtypes(sources, holomorphic, who)
        products, aux = _pushed_basis(fun, args, kwargs, nums, groups, sources, has_aux)
        jac = rebuild(products, [_per_argument(_blocks(p, sources), args, nums, groups, single)
                                 for p in leaves(products)])
        return (jac, aux) if has_aux else jac

    wrapped.__name__ = f"jacfwd({getattr(fun, '__name__', 'f')})"
    return wrapped


def _check_input_dtypes(sources, holomorphic, who):
    for s in sources:
        if s.dtype.is_complex != holomorphic:
            if holomorphic:
                raise TypeError(f"{who} with holomorphic=True needs complex arguments, got "
                                f"{s.dtype}")
            raise TypeError(f"{who} needs real arguments, got {s.dtype}, as JAX's: pass "
                            "holomorphic=True for a holomorphic function, or use xg.jacrev "
                            "or xg.vjp for a non-holomorphic one")


def _pushed_basis(fun, args, kwargs, nums, groups, sources, has_aux):
    """``(products, aux)``: ``jvp`` of ``fun`` (as a function of ``args[nums]``) with every
    vector of the standard basis of ``sources``, in ``fun``'s output structure, each leaf of
    shape ``output.shape + (n,)`` for ``n`` entries of the sources in all."""
    from .batching import vmap
    from .creation import eye
    from .products import jvp

    n = sum(s.size for s in sources)
    offsets = [sum(s.size for s in sources[:k]) for k in range(len(sources))]
    basis = [eye(n, s.size, k=-start, dtype=s.dtype, backend=s.backend).reshape((n,) + s.shape)
             for s, start in zip(sources, offsets)]
    primals = tuple(args[i] for i in nums)
    found_aux = []

    def restricted(*differentiated):
        full = list(args)
        for i, value in zip(nums, differentiated):
            full[i] = value
        return fun(*full, **kwargs)

    def pushforward(*rows):
        rows = iter(rows)
        tangents = tuple(rebuild(args[i], [next(rows) for _ in group])
                         for i, group in zip(nums, groups))
        if not has_aux:
            return jvp(restricted, primals, tangents)[1]
        _, product, aux = jvp(restricted, primals, tangents, has_aux=True)
        found_aux.append(aux)      # its Tensors leave through vmap; other values as they are
        return product, [leaf for leaf in leaves(aux) if isinstance(leaf, Tensor)]

    pushed = vmap(pushforward, out_axes=(-1, None) if has_aux else -1)(*basis)
    if not has_aux:
        return pushed, None
    products, aux_tensors = pushed
    aux_tensors = iter(aux_tensors)
    aux = found_aux[-1]
    return products, rebuild(aux, [next(aux_tensors) if isinstance(leaf, Tensor) else leaf
                                   for leaf in leaves(aux)])


def _blocks(product, sources):
    """``product`` (shape ``output.shape + (n,)``) split along its last axis into one block per
    source, of shape ``output.shape + source.shape``."""
    blocks, start = [], 0
    for s in sources:
        block = product[..., start:start + s.size]
        blocks.append(block.reshape(product.shape[:-1] + s.shape))
        start += s.size
    return blocks
