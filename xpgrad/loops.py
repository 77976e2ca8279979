"""``scan`` and ``fori_loop``: ``jax.lax``'s loops, as Python loops the tapes differentiate
like any other code (``xg.function`` traces them unrolled: one program step per step of the
loop, the number of steps fixed by the trace). The carry is a pytree that keeps its structure,
shapes and dtypes from step to step.

>>> import xpgrad as xg
>>> total, running = xg.scan(lambda c, x: (c + x, c + x), 0.0, xg.asarray([1.0, 2.0, 3.0]))
>>> total.item(), running.tolist()
(6.0, [1.0, 3.0, 6.0])
"""
from __future__ import annotations

import numbers
import operator

from .creation import asarray
from .pytree import is_node, leaves, leaves_with_paths, map_leaves, rebuild
from .tensor import Tensor


def scan(f, init, xs=None, length=None, reverse=False, unroll=1, _split_transpose=False):
    """``jax.lax.scan``: ``carry, y = f(carry, x)`` for each ``x`` of ``xs`` along its leading
    axis, returning ``(final carry, ys)`` with the ``y``'s stacked along a new leading axis.
    ``xs`` and ``y`` may be pytrees (each leaf sliced / stacked) or None (``xs=None`` needs
    ``length``); ``reverse=True`` runs from the last ``x`` to the first and still stacks
    ``ys[i]`` for ``xs[i]``. ``unroll`` is taken and changes nothing (the loop is Python's:
    always unrolled); ``xg.function`` traces it unrolled. With no steps, ``f`` is called once
    on zeros to learn the shapes of ``ys`` (its result is discarded).

    >>> import xpgrad as xg
    >>> def step(h, x):
    ...     h = xg.tanh(0.5 * h + x)
    ...     return h, {"h": h}
    >>> h, ys = xg.scan(step, xg.zeros(2), xg.ones((3, 2)))
    >>> ys["h"].shape
    (3, 2)
    """
    if not callable(f):
        raise TypeError(f"scan takes a callable f(carry, x) first, got {type(f).__name__} "
                        f"{f!r:.60}")
    reverse = _flag(reverse, "reverse")
    _check_unroll(unroll, "scan")
    n = _length(xs, length)
    slices = [_sliced(leaf, path) for path, leaf in _xs_leaves(xs)]
    carry, ys = init, []
    for i in (reversed(range(n)) if reverse else range(n)):
        x = None if xs is None else rebuild(xs, [s[i] for s in slices])
        carry, y = _step(f, carry, x, init, "scan")
        ys.append(y)
    if reverse:
        ys.reverse()
    if not n:
        return init, _empty_ys(f, init, xs)
    return carry, _stacked(ys)


def fori_loop(lower, upper, body_fun, init_val, *, unroll=None):
    """``jax.lax.fori_loop``: ``val = body_fun(i, val)`` for ``i`` from ``lower`` up to
    ``upper - 1``, returning the last ``val`` (``init_val`` when ``upper <= lower``). ``i`` is
    a Python int (JAX's is a scalar array: both index and multiply Tensors); ``lower`` and
    ``upper`` are ints (or integer scalars). ``val`` is a pytree of fixed structure, shapes and
    dtypes. ``unroll`` is taken and changes nothing (the loop is Python's); ``xg.function``
    traces it unrolled.

    >>> import xpgrad as xg
    >>> xg.fori_loop(0, 4, lambda i, x: x * 2.0 + i, xg.asarray(1.0)).item()
    27.0
    """
    if not callable(body_fun):
        raise TypeError(f"fori_loop takes a callable body_fun(i, val), got "
                        f"{type(body_fun).__name__} {body_fun!r:.60}")
    lower, upper = _bound(lower, "lower"), _bound(upper, "upper")
    if unroll is not None:
        _check_unroll(unroll, "fori_loop")
    val = init_val
    for i in range(lower, upper):
        val = _checked_carry(body_fun(i, val), init_val, "fori_loop", "body_fun")
    return val


def _flag(value, name):
    from ._args import flag

    return flag(value, name, "scan")


def _check_unroll(unroll, who):
    if isinstance(unroll, bool):
        return
    if not isinstance(unroll, numbers.Integral) or unroll < 1:
        raise TypeError(f"{who}: unroll must be a positive int or a bool, got {unroll!r}")


#: ``fori_loop`` with a bound that an ``xg.function`` trace computes (or takes as an argument)
_BOUND_TRACED = (
    "fori_loop({name}=tensor) inside an xg.function: the number of steps is Python's, and a "
    "replay cannot read a traced tensor's value. Pass the bound as a Python int (xg.function "
    "traces once per value), or call the function without xg.function")


def _bound(value, name):
    """``value`` as a Python int; TypeError naming ``name`` for anything else (a float, a
    Tensor of more than one entry)."""
    if isinstance(value, Tensor):
        if value.ndim != 0 or value.dtype.is_inexact or value.dtype.kind == "b":
            raise TypeError(f"fori_loop: {name} must be an int or an integer scalar, got a "
                            f"{value.dtype} Tensor of shape {value.shape}")
        from .random_checks import _host_values

        return int(_host_values(value, _BOUND_TRACED.format(name=name)).item())
    try:
        if isinstance(value, bool):
            raise TypeError
        return operator.index(value)
    except TypeError:
        raise TypeError(f"fori_loop: {name} must be an int or an integer scalar, got "
                        f"{type(value).__name__} {value!r:.40}") from None


def _xs_leaves(xs):
    return [] if xs is None else leaves_with_paths(xs)


def _length(xs, length):
    """The number of steps: ``length``, and the leading axis of every leaf of ``xs``, which
    must agree."""
    if length is not None:
        if isinstance(length, bool) or not isinstance(length, numbers.Integral) or length < 0:
            raise TypeError(f"scan: length must be a non-negative int, got {length!r}")
        length = int(length)
    sizes = []
    for path, leaf in _xs_leaves(xs):
        shape = getattr(leaf, "shape", None)
        if shape is None:
            shape = asarray(leaf).shape
        if not shape:
            raise ValueError(f"scan: xs{path} is a scalar; every leaf of xs needs a leading "
                             "axis to scan over")
        sizes.append((path, shape[0]))
    if len({size for _, size in sizes}) > 1:
        listed = ", ".join(f"xs{path}: {size}" for path, size in sizes)
        raise ValueError(f"scan: the leaves of xs have different leading axis sizes ({listed})")
    if sizes and length is not None and sizes[0][1] != length:
        raise ValueError(f"scan: length={length} disagrees with the leading axis size of xs, "
                         f"{sizes[0][1]}")
    if not sizes and length is None:
        raise ValueError("scan: with xs=None (or xs without arrays) give length, the number "
                         "of steps")
    return sizes[0][1] if sizes else length


def _sliced(leaf, path):
    """The slices of ``leaf`` along its leading axis, from one operation."""
    from .ops import unstack

    if not isinstance(leaf, Tensor):
        leaf = asarray(leaf)
    return unstack(leaf, axis=0)


def _step(f, carry, x, init, who):
    returned = f(carry, x)
    if not (isinstance(returned, (tuple, list)) and len(returned) == 2):
        got = (f"a {type(returned).__name__} of {len(returned)}"
               if isinstance(returned, (tuple, list)) else type(returned).__name__)
        raise TypeError(f"{who}: f must return a pair (carry, y), got {got}")
    new_carry, y = returned
    return _checked_carry(new_carry, init, who, "f"), y


def _checked_carry(carry, init, who, fn):
    """``carry`` after checking that it has ``init``'s structure, and each leaf its shape (and
    its dtype, where ``init``'s leaf is an array), as JAX asks of a loop's carry."""
    from .pytree import leaves_like

    try:
        pairs = leaves_like(init, carry, f"{fn}'s carry output", "the initial carry")
    except ValueError as e:
        raise TypeError(f"{who}: {e}") from None
    if not is_node(init) and is_node(carry):
        raise TypeError(f"{who}: {fn} returned a {type(carry).__name__} as its carry, but the "
                        "initial carry is one value; they must have the same structure")
    for (path, new), old in zip(pairs, leaves(init)):
        old_shape, new_shape = _shape(old), _shape(new)
        if old_shape != new_shape:
            raise TypeError(f"{who}: {fn}'s carry output{path} has shape {new_shape} but the "
                            f"initial carry{path} has shape {old_shape}; a carry keeps its "
                            "shape from step to step")
        old_dtype = getattr(old, "dtype", None)
        if isinstance(old, Tensor) and getattr(new, "dtype", None) != old_dtype:
            raise TypeError(f"{who}: {fn}'s carry output{path} has dtype "
                            f"{getattr(new, 'dtype', type(new).__name__)} but the initial "
                            f"carry{path} has {old_dtype}; cast it (x.astype(...)) to keep "
                            "its dtype")
    return carry


def _shape(value):
    shape = getattr(value, "shape", None)
    return tuple(shape) if shape is not None else ()


def _stacked(ys):
    """The ``y`` pytrees of every step, stacked leaf by leaf along a new leading axis."""
    from .ops import stack

    first = ys[0]
    if first is None:
        return None
    columns = zip(*(leaves(y) for y in ys))
    return rebuild(first, [stack([leaf if isinstance(leaf, Tensor) else asarray(leaf)
                                  for leaf in column], axis=0) for column in columns])


def _empty_ys(f, init, xs):
    """The ``ys`` of a scan without steps: each leaf of a step's ``y`` with a leading axis of
    0, its shape learnt from calling ``f`` on ``init`` and zeros like one slice of ``xs``."""
    from .creation import zeros
    from .tape import stop_gradient

    x = None if xs is None else map_leaves(
        lambda leaf, path: zeros(_shape(leaf)[1:], dtype=asarray(leaf).dtype), xs)
    _, y = _step(f, stop_gradient(init) if isinstance(init, Tensor) else init, x, init, "scan")
    if y is None:
        return None
    return map_leaves(lambda leaf, path: zeros((0,) + _shape(leaf),
                                               dtype=asarray(leaf).dtype), y)
