"""The ``(gradient, variable)`` pairs ``Optimizer.apply_gradients`` takes, checked: a pair, a
Variable, a gradient of its shape, backend and a floating-point dtype (real for a real
variable), whether the gradient is a Tensor, an array or a list; and the variables and the loss
of ``Optimizer.minimize``."""
from __future__ import annotations

import numpy as np

from ..pytree import is_registered, leaves
from ..tensor import Tensor, Variable


def unpack_pair(pair) -> tuple:
    """One ``(gradient, variable)`` item of ``apply_gradients``, checked: a pair whose second
    entry is a Variable.

    >>> import xpgrad as xg
    >>> unpack_pair((None, xg.Variable([1.0])))[0] is None
    True
    """
    try:
        if isinstance(pair, Tensor):        # a Tensor unpacks along its first axis
            raise TypeError
        g, v = pair
    except (TypeError, ValueError):
        raise TypeError(f"apply_gradients takes (gradient, variable) pairs, e.g. "
                        f"zip(grads, variables); got the item {_item(pair)}"
                        f"{module_hint(pair)}") from None
    if not isinstance(v, Variable):
        if isinstance(g, Variable):
            raise TypeError(f"apply_gradients takes (gradient, variable) pairs, the gradient "
                            f"first: zip(grads, variables), not zip(variables, grads); got "
                            f"Variable {g.name!r} first and a {type(v).__name__} second")
        raise TypeError(f"apply_gradients updates Variables in place; got a "
                        f"{type(v).__name__} (wrap trainable values in xg.Variable)")
    return g, v


def _item(pair) -> str:
    """A Tensor item as its kind and shape (a gradient given without its variable), where its
    repr would print every entry; anything else as its repr."""
    if isinstance(pair, Tensor):
        return (f"a {type(pair).__name__} of shape {pair.shape} (a gradient without its "
                f"variable?)")
    return repr(pair)


def module_hint(value) -> str:
    """The end of ``apply_gradients``' TypeError for a Module given where pairs go (a
    gradient shaped like a model, or the model): where it goes instead.

    >>> import xpgrad as xg
    >>> module_hint(xg.nn.ReLU())[-39:], module_hint([1.0])
    ('is applied with opt.apply(grads, model)', '')
    """
    if not is_registered(value):
        return ""
    return ("; a gradient shaped like a model (tape.gradient(loss, model), "
            "xg.grad(loss)(model)) is applied with opt.apply(grads, model)")


def checked_gradient(g, v, caller: str = "apply_gradients") -> Tensor:
    """Gradient ``g`` (not None) of Variable ``v`` as a Tensor, checked: ``v``'s backend and
    shape, a floating-point dtype (a real one for a real variable), each error starting with
    ``caller``, the function given the pair. A real gradient of another precision is taken (a
    float64 one for a float32 variable, as Keras and an array's are): the update and the
    optimizer's state stay in the variable's precision.

    >>> import xpgrad as xg
    >>> checked_gradient([0.5], xg.Variable([1.0])).shape
    (1,)
    >>> try:
    ...     checked_gradient([0.5, 1.0], xg.Variable([1.0], name="w"))
    ... except ValueError as e:
    ...     print(e)
    apply_gradients: gradient for 'w' has shape (2,), the variable has shape (1,)
    """
    if not isinstance(g, Tensor):
        from ..creation import asarray

        if isinstance(g, (list, tuple)) and any(e is None or isinstance(e, Tensor) for e in g):
            raise TypeError(f"{caller}: gradient for {v.name!r} is a {type(g).__name__} of {len(g)} "
                            "tensors, not one gradient: pair each variable with its own, "
                            "zip(grads, variables) (clip_global_norm returns a pair: grads, "
                            "norm = xg.optim.clip_global_norm(grads, max_norm))")
        dtype = getattr(g, "dtype", None)
        if getattr(dtype, "kind", None) is None:
            dtype = np.asarray(g).dtype           # a list, a number (a torch tensor)
        _check_gradient_dtype(g, v, str(dtype), dtype.kind, caller)
        g = asarray(g, dtype=v.dtype, backend=v._backend)   # floats: read in v's precision
    if g._backend is not v._backend:
        raise ValueError(f"{caller}: gradient for {v.name!r} is on backend {g._backend.name!r} "
                         f"but the variable is on {v._backend.name!r}")
    if g._data.shape != v._data.shape:
        raise ValueError(f"{caller}: gradient for {v.name!r} has shape {g.shape}, the variable "
                         f"has shape {v.shape}")
    if g._data.dtype != v._data.dtype:
        _check_gradient_dtype(g, v, g.dtype, g.dtype.kind, caller)
    return g


def _check_gradient_dtype(g, v, name, kind, caller) -> None:
    """TypeError unless dtype kind ``kind`` (named ``name``) is floating-point, and real for a
    real variable ``v``."""
    if kind == "f" or (kind == "c" and v.dtype.kind == "c"):
        return
    wanted = "real floating-point" if v.dtype.kind == "f" else "floating-point"
    raise TypeError(f"{caller}: gradient for {v.name!r} has dtype {name}; the variable ({v.dtype}) "
                    f"takes {wanted} gradients")


def listed_variables(variables):
    """``minimize``'s ``variables`` as a list (None stays None: every Variable the loss reads):
    a Module's trainable ones, one Variable, the leaves of dicts, lists and tuples (nested), or
    the items of an iterable, as TensorFlow flattens ``var_list``.

    >>> import xpgrad as xg
    >>> w = xg.Variable([1.0], name="w")
    >>> [v.name for v in listed_variables(w)], [v.name for v in listed_variables({"a": w})]
    (['w'], ['w'])
    """
    if variables is None:
        return None
    if hasattr(variables, "trainable_variables"):
        variables = variables.trainable_variables
    if isinstance(variables, Tensor):
        return [variables]
    return leaves(variables if isinstance(variables, (dict, list, tuple)) else list(variables))


def check_loss(loss) -> None:
    """TypeError unless a Tensor ``loss`` is real floating-point: an integer loss has no
    gradient, and a complex one no order to minimize in (PyTorch's backward refuses both)."""
    if isinstance(loss, Tensor) and (not loss.dtype.is_inexact or loss.dtype.kind == "c"):
        raise TypeError(f"minimize needs a real floating-point loss, got a loss of dtype "
                        f"{loss.dtype}: an integer loss has no gradient and a complex one "
                        "cannot be minimized (take xg.abs or xg.real of it)")
