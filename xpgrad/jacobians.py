"""The Jacobians of a GradientTape, one reverse pass per seed: ``jacobian`` seeds each entry of
the target; ``batch_jacobian`` seeds one entry of every example at once, so its passes are as
many as the entries of one example, not of the batch.

>>> import xpgrad as xg
>>> x = xg.asarray([[1.0, 2.0], [3.0, 4.0]])
>>> with xg.GradientTape(persistent=True) as tape:
...     tape.watch(x)
...     y = x * x
>>> tape.batch_jacobian(y, x).tolist()
[[[2.0, 0.0], [0.0, 4.0]], [[6.0, 0.0], [0.0, 8.0]]]
"""
from __future__ import annotations

import math

from . import creation, ops
from .gradient_call import check_sources
from .pytree import is_node, rebuild
from .tensor import Tensor, _wrap


def _checked(tape, who, target, source, unconnected_gradients, many=False):
    """``(single, sources, structure)`` as ``check_sources`` gives them: one Tensor, or
    (``many``) lists, tuples and dicts of them, nested as TensorFlow's."""
    sources = (Tensor, list, tuple, dict) if many else Tensor
    if not (isinstance(target, Tensor) and (isinstance(source, sources)
                                             or many and is_node(source))):
        what = ("one source Tensor or a (nested) list, tuple or dict of them (Modules and "
                "nodes of registered pytree classes too)"
                if many else "one source Tensor")
        raise TypeError(f"{who} takes a target Tensor and {what}, got "
                        f"{type(target).__name__} and {type(source).__name__}")
    if target.dtype.is_complex:
        raise TypeError(
            f"{who} needs a real-valued target, got {target.dtype}: with PyTorch's convention "
            "a row would be the gradient of the entry's real part only (the conjugate of a "
            "holomorphic derivative), as PyTorch's jacobian refuses it; take the Jacobians of "
            "xg.real(y) and xg.imag(y), or use xg.jvp / xg.vjp")
    return check_sources(source, unconnected_gradients)


def _one_hot(xp, n, i, dtype):
    """Row ``i`` of the ``n x n`` identity, made alone (the whole identity is ``n**2`` entries:
    80 GB of float64 for a target of 10^5)."""
    return xp.eye(1, n, k=i, dtype=dtype)[0, :]     # (the array API indexes every axis)


def _rows(tape, target, sources, seeds):
    """For each source, the gradients of ``target`` for each raw seed, as Tensors (one reverse
    pass per seed serves every source); None for a source not connected to ``target``."""
    be = target._backend
    rows = [[] for _ in sources]
    for seed in seeds:
        grads = tape._backward(target, sources, seed, consume=False)
        for j, source in enumerate(sources):
            g = grads.get(source._key or None)
            if g is None:
                rows[j] = None
            elif rows[j] is not None:
                rows[j].append(g if isinstance(g, Tensor) else _wrap(g, be))
    return rows


def _assembled(tape, rows, shape, source, unconnected_gradients, axis=0):
    """The rows stacked along ``axis`` and reshaped to ``shape`` (zeros or None where there are
    none); a non-persistent tape is released."""
    if not tape._persistent:
        tape._release()
    if not rows:
        if rows is not None or unconnected_gradients == "zero":
            return creation.zeros(shape, dtype=source.dtype, backend=source._backend)
        return None
    return ops.reshape(ops.stack(rows, axis=axis), shape)


def jacobian(tape, target, source, unconnected_gradients="none"):
    """``tape.jacobian``: shape ``target.shape + source.shape``; for a list of sources (or
    nested lists, tuples, dicts), those in the same structure (TensorFlow's), from the same
    passes."""
    single, sources, structure = _checked(tape, "jacobian", target, source, unconnected_gradients,
                               many=True)
    tape._check_usable()
    n, xp, raw = target.size, target._backend.xp, target._data
    rows = _rows(tape, target, sources, (xp.reshape(_one_hot(xp, n, i, raw.dtype), raw.shape)
                                         for i in range(n)))
    jacobians = [_assembled(tape, r, target.shape + s.shape, s, unconnected_gradients)
                 for r, s in zip(rows, sources)]
    if unconnected_gradients == "none" and all(j is None for j in jacobians) and sources \
            and target._key not in tape._keys:
        from .tape import warn_no_path

        warn_no_path("jacobian", stacklevel=4, tape=tape)
    if structure is not None:
        return rebuild(structure, jacobians)
    return jacobians[0] if single else (tuple(jacobians) if isinstance(source, tuple)
                                        else jacobians)


def batch_jacobian(tape, target, source, unconnected_gradients="none"):
    """``tape.batch_jacobian``: shape ``(B,) + target.shape[1:] + source.shape[1:]``."""
    _checked(tape, "batch_jacobian", target, source, unconnected_gradients)
    if target.ndim == 0 or source.ndim == 0 or target.shape[0] != source.shape[0]:
        raise ValueError(f"batch_jacobian needs a target and a source with the same batch size "
                         f"along axis 0, got shapes {target.shape} and {source.shape}")
    tape._check_usable()
    batch, per_example = target.shape[0], math.prod(target.shape[1:])
    xp, raw = target._backend.xp, target._data
    seeds = (xp.reshape(xp.broadcast_to(_one_hot(xp, per_example, j, raw.dtype),
                                        (batch, per_example)), raw.shape)
             for j in range(per_example))
    rows = _rows(tape, target, [source], seeds)[0] if batch else []
    result = _assembled(tape, rows, target.shape + source.shape[1:], source,
                        unconnected_gradients, axis=1)
    if result is None and unconnected_gradients == "none" and target._key not in tape._keys:
        from .tape import warn_no_path

        warn_no_path("batch_jacobian", stacklevel=4, tape=tape)
    return result
