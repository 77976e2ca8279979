"""The arguments and results of ``GradientTape.gradient``: the sources checked, the seed the
backward walk starts from, and each source's gradient as returned (a Tensor, or None/zeros for
an unconnected source).
"""
from __future__ import annotations

import numpy as np

from .tensor import Tensor, _wrap


def check_sources(sources, unconnected_gradients):
    """``(single, list of sources)`` of a ``gradient`` call, after checking its arguments.

    >>> import xpgrad as xg
    >>> check_sources(xg.asarray(1.0), "none")[0]
    True
    """
    if unconnected_gradients not in ("none", "zero"):
        raise ValueError("unconnected_gradients must be 'none' or 'zero', got "
                         f"{unconnected_gradients!r}")
    single = isinstance(sources, Tensor)
    try:
        if isinstance(sources, (dict, str)):
            raise TypeError
        src = [sources] if single else list(sources)
    except TypeError:
        raise TypeError("sources must be a Tensor or a list of Tensors, got "
                        f"{type(sources).__name__}") from None
    for s in src:
        if not isinstance(s, Tensor):
            raise TypeError(f"sources must be Tensors, got {type(s).__name__}")
    return single, src


def check_target(target):
    """Raise TypeError unless ``target`` is a Tensor; a number or NumPy array has left the tape
    (``float()``, ``.item()``, ``.numpy()``, or a library that returns Python floats, as
    scikit-learn's metrics do), and the message says so.

    >>> check_target(0.5)
    Traceback (most recent call last):
    ...
    TypeError: target must be a Tensor, got float: ...
    """
    if isinstance(target, Tensor):
        return
    message = f"target must be a Tensor, got {type(target).__name__}"
    if isinstance(target, (int, float, complex, np.generic, np.ndarray)):
        message += (": the value has left the tape (float(), .item(), .numpy(), or a library "
                    "that returns Python or NumPy numbers, as scikit-learn's metrics do), so "
                    "it has no gradient; compute it with xpgrad functions on Tensors")
    raise TypeError(message)


def seed_of(target, output_gradients):
    """The gradient ``gradient()`` starts from: ones of ``target``'s shape, or
    ``output_gradients`` checked against it (a Tensor: another recording tape differentiates
    through it).

    >>> import xpgrad as xg
    >>> seed_of(xg.asarray([1.0, 2.0]), None).tolist()
    [1.0, 1.0]
    """
    be = target._backend
    if output_gradients is None:
        raw = target._data
        # np.ones_like is Python-level: 10x slower (a NumPy scalar, e.g. a sum's value, gets
        # the 0-d array it would give)
        if raw.__class__ is np.ndarray or isinstance(raw, np.generic):
            seed = np.empty(raw.shape, raw.dtype)
            seed.fill(1)
            return seed
        raw = be.xp.ones_like(raw)
    else:
        from .creation import asarray

        og = asarray(output_gradients, dtype=target.dtype, backend=be)
        if og.shape != target.shape:
            raise ValueError(f"output_gradients has shape {og.shape} but the target has "
                             f"shape {target.shape}; they must match")
        return og        # a Tensor: another tape recording differentiates through it
    return raw


def finish(g, source, unconnected):
    """The gradient of ``source`` as ``gradient()`` returns it: a Tensor, or for none
    None or zeros (``unconnected_gradients``).

    >>> import xpgrad as xg
    >>> finish(None, xg.asarray([1.0, 2.0]), "zero").tolist()
    [0.0, 0.0]
    """
    if g is None:
        if unconnected == "zero":
            from .creation import zeros_like

            return zeros_like(source)
        return None
    return g if isinstance(g, Tensor) else _wrap(g, source._backend)
