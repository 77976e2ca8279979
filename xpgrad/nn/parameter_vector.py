"""PyTorch's ``torch.nn.utils.parameters_to_vector`` and ``vector_to_parameters``: a model's
Variables as one flat vector and back (for second-order methods, evolution strategies,
flat-weight hypernetworks).

>>> import xpgrad as xg
>>> layer = xg.nn.Linear(2, 3, rng=0)
>>> vec = parameters_to_vector(layer.trainable_variables)
>>> vec.shape
(9,)
>>> vector_to_parameters(xg.zeros(9), layer.trainable_variables)
>>> float(xg.sum(xg.abs(parameters_to_vector(layer.trainable_variables))))
0.0
"""
from __future__ import annotations

from ..ops.joining import concat
from ..tensor import Tensor, Variable


def _listed(parameters, owner) -> list:
    """``parameters`` (any iterable of Tensors, read once) as a list; a bare Tensor is refused
    (iterating it would take its rows for parameters)."""
    if isinstance(parameters, Tensor) or not hasattr(parameters, "__iter__"):
        raise TypeError(f"{owner}: parameters must be an iterable of Variables (such as "
                        f"model.trainable_variables), got a {type(parameters).__name__}")
    listed = list(parameters)
    for i, p in enumerate(listed):
        if not isinstance(p, Tensor):
            raise TypeError(f"{owner}: parameters[{i}] is a {type(p).__name__}, not a "
                            "Variable")
    return listed


def parameters_to_vector(parameters) -> Tensor:
    """Every tensor of ``parameters`` flattened (C order) and concatenated, in order: torch's
    ``parameters_to_vector``. Differentiable: under a GradientTape the gradient of a function
    of the vector reaches each Variable (a tape watches Variables by itself). Mixed dtypes
    promote, as ``xg.concat``.

    >>> import xpgrad as xg
    >>> w, b = xg.Variable([[1.0, 2.0], [3.0, 4.0]]), xg.Variable([5.0])
    >>> with xg.GradientTape() as tape:
    ...     total = xg.sum(parameters_to_vector([w, b]) ** 2)
    >>> [g.tolist() for g in tape.gradient(total, [w, b])]
    [[[2.0, 4.0], [6.0, 8.0]], [10.0]]
    """
    listed = _listed(parameters, "parameters_to_vector")
    if not listed:
        raise ValueError("parameters_to_vector: parameters is empty (there is nothing to "
                         "concatenate)")
    return concat([p.reshape(-1) for p in listed], axis=0)


def vector_to_parameters(vec, parameters) -> None:
    """Write consecutive slices of the 1-D ``vec`` into the Variables ``parameters``, each
    slice reshaped to its Variable's shape: torch's ``vector_to_parameters``. In place and not
    differentiable, as torch's (which assigns ``.data``); each Variable keeps its dtype (the
    slice is cast, as ``Variable.assign``), where torch's takes ``vec``'s. ``vec`` must hold
    exactly as many entries as ``parameters`` (torch ignores extra ones): otherwise a
    ValueError, before any Variable is changed.

    >>> import xpgrad as xg
    >>> w, b = xg.Variable(xg.zeros((2, 2))), xg.Variable(xg.zeros(1))
    >>> vector_to_parameters(xg.asarray([1.0, 2.0, 3.0, 4.0, 5.0]), [w, b])
    >>> w.tolist(), b.tolist()
    ([[1.0, 2.0], [3.0, 4.0]], [5.0])
    """
    if not isinstance(vec, Tensor):
        raise TypeError(f"vector_to_parameters: vec must be a Tensor, got a "
                        f"{type(vec).__name__}")
    if vec.ndim != 1:
        raise ValueError(f"vector_to_parameters: vec must be 1-D, got shape {vec.shape}")
    listed = _listed(parameters, "vector_to_parameters")
    for i, p in enumerate(listed):
        if not isinstance(p, Variable):
            raise TypeError(f"vector_to_parameters: parameters[{i}] is a Tensor, not a "
                            "Variable: only a Variable can be assigned in place")
        if p._backend is not vec._backend:
            from ..primitive import _mixed

            raise _mixed(vec._backend, p._backend)
    needed = sum(p.size for p in listed)
    if vec.shape[0] != needed:
        raise ValueError(f"vector_to_parameters: vec has {vec.shape[0]} entries but the "
                         f"parameters hold {needed}")
    start = 0
    for p in listed:
        p.assign(vec[start:start + p.size].reshape(p.shape))
        start += p.size


__all__ = ["parameters_to_vector", "vector_to_parameters"]
