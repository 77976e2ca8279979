"""Function transformations on the tape: grad, value_and_grad, jacobian, hessian (vjp, jvp and
hvp are in products.py); a differentiated argument may be a pytree (pytree.py), as in JAX
(differentiated_arguments.py prepares the arguments and puts the gradients in their structure).

>>> import xpgrad as xg
>>> f = lambda x: xg.sum(x ** 3)
>>> xg.grad(f)(xg.asarray([1.0, 2.0])).tolist()
[3.0, 12.0]
>>> xg.grad(xg.grad(lambda x: x ** 3))(xg.asarray(2.0)).item()
12.0
"""
from __future__ import annotations

import numbers

import numpy as np

from ._args import flag
from .differentiated_arguments import (_is_tree, _per_argument, _prepare, _sources,
                                      module_gradient, prepare_module)
from .differentiated_arguments import without_buffers  # noqa: F401  (imported from here before)
from .pytree import is_registered as _is_module, leaves, leaves_with_paths, map_leaves, rebuild
from .tape import GradientTape, stop_gradient as _stop_gradient
from .tensor import Tensor


def _split_aux(out, has_aux):
    if not has_aux:
        return out, None
    if not (isinstance(out, (tuple, list)) and len(out) == 2):
        got = (f"a {type(out).__name__} of {len(out)}" if isinstance(out, (tuple, list))
               else f"a {type(out).__name__}")
        raise TypeError(f"with has_aux=True the function must return a pair (output, aux), a "
                        f"tuple or list of two as JAX takes; it returned {got}")
    return tuple(out)


#: what a non-scalar output of ``f`` should use instead, by the function the user called
_NON_SCALAR = {"hessian": "for a vector-valued f, xg.jacobian(xg.jacobian(f)) gives the "
                          "(output, n, n) array jax.hessian returns",
               "hvp": "for a vector-valued f, take hvp of each output (or of a weighted sum)"}


#: the NumPy scalars a real-valued ``f`` returns (a reduction's result on the NumPy backend)
_REAL_SCALARS = frozenset([np.float16, np.float32, np.float64, np.longdouble])


def _check_scalar_output(out, has_aux, who="grad"):
    """TypeError unless ``out`` is a one-element real floating-point Tensor, as JAX and PyTorch
    ask of ``grad``: an integer, boolean or complex output has no gradient. ``who`` is the
    function the user called, which the message names."""
    if out.__class__ is Tensor and out._data.__class__ in _REAL_SCALARS:
        return                              # (a NumPy real float scalar: the usual output)
    if not isinstance(out, Tensor):
        message = f"{who} needs f to return a scalar Tensor, but f returned {type(out).__name__}"
        if isinstance(out, (numbers.Number, np.generic, np.ndarray)):
            message += (": the value has left the tape (float(), .item(), .numpy(), or NumPy "
                        "functions of NumPy arrays), so it has no gradient; compute it with "
                        "xpgrad functions on Tensors")
        elif isinstance(out, tuple) and not has_aux:
            message += "; a pair (output, aux) needs has_aux=True"
        raise TypeError(message)
    if out.size != 1:
        raise TypeError(f"{who} needs a function with a scalar output, got {out.shape}; "
                        + _NON_SCALAR.get(who, "use xg.vjp or GradientTape.jacobian for "
                                               "non-scalar outputs"))
    if not out.dtype.is_inexact:            # as JAX and PyTorch, not silent zeros
        raise TypeError(f"{who} needs a floating-point output, got {out.dtype}: an integer "
                        "or boolean function has no gradient")
    if out.dtype.kind == "c":
        raise TypeError(f"{who} needs a real-valued output, got {out.dtype}, as JAX and "
                        "PyTorch: take xg.real or xg.abs of it, or use xg.vjp for the "
                        "vector-Jacobian product of a complex function")


def _check_callable(f, what):
    if not callable(f):
        raise TypeError(f"{what} takes a callable f, got {type(f).__name__} {f!r}")


def _refuse_keywords(who, unknown):
    """The TypeError for a keyword a transform does not take, naming ``argnums=`` for HIPS
    autograd's ``argnum=``."""
    key = next(iter(unknown))
    message = f"{who}() got an unexpected keyword argument {key!r}"
    if key == "argnum":
        message += (f"; xpgrad names it argnums=, as JAX (HIPS autograd's argnum=): "
                    f"xg.{who}(f, argnums=1), or xg.{who}(f, 1)")
    raise TypeError(message)


def value_and_grad(f, argnums=0, has_aux=False, **unknown):
    """A function returning ``(f(*args), gradient of f w.r.t. args[argnums])``.

    ``f`` must return a scalar; unconnected arguments get zero gradients (as in JAX). A
    differentiated argument may be a pytree, as in JAX: a dict, tuple or list (nested) of
    arrays, whose gradient has its structure (``grad(loss)({"w": w, "b": b})`` returns
    ``{"w": dw, "b": db}``); a list of plain numbers stays one array. A Module is a pytree
    too: ``grad(loss)(model, x)`` returns a module of its class holding the gradients, None
    for its buffers and integer tensors (nn/module_pytree.py). For a complex argument
    the gradient is PyTorch's ``dL/dx + i dL/dy``, the conjugate of ``jax.grad``'s.

    >>> import xpgrad as xg
    >>> v, (gx, gy) = xg.value_and_grad(lambda x, y: x * y, argnums=(0, 1))(2.0, 3.0)
    >>> v.item(), gx.item(), gy.item()
    (6.0, 3.0, 2.0)
    """
    if unknown:
        _refuse_keywords("value_and_grad", unknown)
    return _value_and_grad(f, argnums, has_aux, "value_and_grad")


def _value_and_grad(f, argnums, has_aux, who):
    """``value_and_grad`` whose errors name ``who``, the function the user called."""
    _check_callable(f, who)
    has_aux = flag(has_aux, "has_aux", who)

    one = argnums if argnums.__class__ is int else None

    def wrapped(*args, **kwargs):
        if one is not None and -len(args) <= one < len(args) and _is_module(args[one]):
            # one Module differentiated (xg.grad(loss)(model, x)): _prepare's work in one pass
            args, sources, walk = prepare_module(args, one % len(args), argnums, who)
        else:
            single, nums, args = _prepare(args, argnums, keywords=kwargs, who=who)
            groups, sources = _sources(args, nums)
            walk = None
        with GradientTape() as tape:
            tape.watch(sources)
            out, aux = _split_aux(f(*args, **kwargs), has_aux)
        _check_scalar_output(out, has_aux, who)
        flat = tape.gradient(out, sources, unconnected_gradients="zero")
        g = module_gradient(flat, walk) if walk is not None else \
            _per_argument(flat, args, nums, groups, single)
        return ((out, aux), g) if has_aux else (out, g)

    wrapped.__name__ = f"value_and_grad({getattr(f, '__name__', 'f')})"
    return wrapped


def grad(f, argnums=0, has_aux=False, **unknown):
    """A function returning the gradient of scalar-valued ``f`` w.r.t. ``args[argnums]``.

    >>> import xpgrad as xg
    >>> xg.grad(lambda x: xg.sum(x * x))(xg.asarray([1.0, -1.0])).tolist()
    [2.0, -2.0]
    """
    if unknown:
        _refuse_keywords("grad", unknown)
    vg = _value_and_grad(f, argnums, has_aux, "grad")

    def wrapped(*args, **kwargs):
        (value, g) = vg(*args, **kwargs)
        return (g, value[1]) if has_aux else g

    wrapped.__name__ = f"grad({getattr(f, '__name__', 'f')})"
    return wrapped


def elementwise_grad(f, argnums=0, **unknown):
    """HIPS autograd's ``elementwise_grad``: a function returning the vector-Jacobian product
    of ``f`` with a cotangent of ones, the gradient of ``sum(f(*args))`` w.r.t.
    ``args[argnums]``. For an ``f`` that acts entry by entry (each output entry depends only on
    the input entry at its place, as ``xg.tanh`` or a polynomial), that is each entry's own
    derivative, computed for the whole array in one pass; for any other ``f`` it is the sum over
    the outputs, not a derivative of each. Nests for higher derivatives; ``argnums`` as
    ``grad``'s. JAX writes the same as ``vmap(grad(f))``.

    >>> import xpgrad as xg
    >>> d2 = xg.elementwise_grad(xg.elementwise_grad(lambda x: x ** 3))
    >>> d2(xg.asarray([1.0, 2.0, -1.0])).tolist()
    [6.0, 12.0, -6.0]
    """
    if unknown:
        _refuse_keywords("elementwise_grad", unknown)
    _check_callable(f, "elementwise_grad")

    def summed(*args, **kwargs):
        from .ops import sum as total

        out = f(*args, **kwargs)
        if not isinstance(out, Tensor):
            raise TypeError(f"elementwise_grad needs f to return a Tensor, but f returned "
                            f"{type(out).__name__}")
        return total(out)

    summed.__name__ = getattr(f, "__name__", "f")
    differentiated = _value_and_grad(summed, argnums, False, "elementwise_grad")

    def wrapped(*args, **kwargs):
        return differentiated(*args, **kwargs)[1]

    wrapped.__name__ = f"elementwise_grad({getattr(f, '__name__', 'f')})"
    return wrapped


def jacobian(f, argnums=0, has_aux=False, **unknown):
    """A function returning the Jacobian of ``f`` (shape ``out.shape + arg.shape``); with
    ``has_aux``, ``f`` returns ``(output, aux)`` and the function ``(jacobian, aux)``, as
    ``jax.jacrev``. Keyword arguments go to ``f`` and are not differentiated; a pytree argument
    gets a Jacobian per leaf, in its structure. An ``f`` returning a pytree (a tuple, list or
    dict of Tensors) gets that structure of Jacobians, each in the arguments' structure, as
    JAX's: ``jacobian(f)(x)["a"]`` is the Jacobian of ``f(x)["a"]``.

    >>> import xpgrad as xg
    >>> xg.jacobian(lambda x: x * x)(xg.asarray([1.0, 3.0])).tolist()
    [[2.0, 0.0], [0.0, 6.0]]
    >>> jac = xg.jacobian(lambda x: {"sum": xg.sum(x), "sq": x * x})(xg.asarray([1.0, 3.0]))
    >>> jac["sum"].tolist(), jac["sq"].shape
    ([1.0, 1.0], (2, 2))
    """
    if unknown:
        _refuse_keywords("jacobian", unknown)
    _check_callable(f, "jacobian")
    return _jacobian(f, argnums, flag(has_aux, "has_aux", "jacobian"), "jacobian")


def _jacobian(f, argnums, has_aux, who):
    """``jacobian(f, argnums, has_aux)``, its errors naming ``who`` (``jacrev`` too)."""

    def wrapped(*args, **kwargs):
        single, nums, args = _prepare(args, argnums, keywords=kwargs, who=who)
        groups, sources = _sources(args, nums)
        tape = GradientTape(persistent=True)
        with tape:
            tape.watch(sources)
            out, aux = _split_aux(f(*args, **kwargs), has_aux)
        outputs = leaves(out)
        for path, leaf in leaves_with_paths(out):
            if not isinstance(leaf, Tensor):
                raise TypeError(f"{who}: f must return Tensors (one, or a tuple, list or "
                                f"dict of them), got {type(leaf).__name__} at output{path} "
                                f"(with has_aux=True, f returns (output, aux))")
        jac = rebuild(out, [_per_argument(tape.jacobian(leaf, sources,
                                                        unconnected_gradients="zero"),
                                          args, nums, groups, single) for leaf in outputs])
        return (jac, aux) if has_aux else jac

    return wrapped


def hessian(f, argnums=0, has_aux=False, holomorphic=False, **unknown):
    """A function returning the Hessian of scalar-valued ``f`` (shape ``arg.shape * 2``), as
    ``jax.hessian``: with a tuple ``argnums``, nested tuples of blocks ``H[i][j]`` of shape
    ``args[i].shape + args[j].shape``; with ``has_aux``, ``f`` returns ``(output, aux)`` and
    the function ``(hessian, aux)``. A pytree argument (as ``grad`` takes) gives a tree of
    trees, as JAX's: ``hessian(f)({"a": a, "b": b})["a"]["b"]`` is the ``a``, ``b`` block.
    The gradient is differentiated once per entry (one pass serves every argument); for a
    product with one vector, ``hvp`` takes two passes. ``holomorphic=True``: complex
    arguments, a holomorphic complex ``f``, and its complex second derivative, as JAX's
    (``jacfwd(jacrev(f, holomorphic=True), holomorphic=True)``).

    >>> import xpgrad as xg
    >>> xg.hessian(lambda x: xg.sum(x ** 3))(xg.asarray([1.0, 2.0])).tolist()
    [[6.0, 0.0], [0.0, 12.0]]
    >>> xg.hessian(lambda z: xg.sum(z ** 3), holomorphic=True)(xg.asarray([1j])).tolist()
    [[6j]]
    """
    if unknown:
        _refuse_keywords("hessian", unknown)
    _check_callable(f, "hessian")
    has_aux = flag(has_aux, "has_aux", "hessian")
    if flag(holomorphic, "holomorphic", "hessian"):
        from .jacobian_modes import _holomorphic_jacrev, _jacfwd

        inner = _holomorphic_jacrev(f, argnums, has_aux, "hessian")
        wrapped = _jacfwd(inner, argnums, has_aux, True, "hessian")
        wrapped.__name__ = f"hessian({getattr(f, '__name__', 'f')})"
        return wrapped
    gradient = _value_and_grad(f, argnums, has_aux, "hessian")

    def wrapped(*args, **kwargs):
        single, nums, args = _prepare(args, argnums, keywords=kwargs, who="hessian")
        groups, sources = _sources(args, nums)
        _refuse_complex_sources(sources)
        with GradientTape(persistent=True) as outer:
            outer.watch(sources)
            value, g = gradient(*args, **kwargs)
        rows = [_per_argument(outer.jacobian(leaf, sources, unconnected_gradients="zero"),
                              args, nums, groups, single) for leaf in leaves(g)]
        blocks = _per_argument(rows, args, nums, groups, single)
        return (blocks, value[1]) if has_aux else blocks

    wrapped.__name__ = f"hessian({getattr(f, '__name__', 'f')})"
    return wrapped


def stop_gradient(x):
    """The same value, cut from every tape: no gradient flows through it. ``x`` is a Tensor
    (or an array), or a pytree of them (a dict, tuple or list holding Tensors), as
    ``jax.lax.stop_gradient`` takes: each leaf is cut, the structure kept.

    >>> import xpgrad as xg
    >>> x = xg.asarray(2.0)
    >>> with xg.GradientTape() as tape:
    ...     tape.watch(x)
    ...     frozen = xg.stop_gradient({"a": x, "b": [x * 3.0]})
    ...     y = x * frozen["a"] + frozen["b"][0]
    >>> float(tape.gradient(y, x))
    2.0
    """
    if _is_tree(x):
        return map_leaves(lambda leaf, path: _stop_gradient(leaf), x)
    return _stop_gradient(x)


def _refuse_complex_sources(sources):
    for s in sources:
        if s.dtype.is_complex:
            raise TypeError(f"hessian needs real arguments, got a {s.dtype} one: for complex z "
                            "the map v -> hvp(v) is real-linear only (it involves conj(v)), "
                            "so no complex matrix holds it; use xg.hvp (PyTorch's hessian "
                            "refuses complex inputs too), or holomorphic=True for a "
                            "holomorphic f (jax.hessian's)")


from .products import hvp, jvp, vjp  # noqa: E402,F401  (they build on the above)
