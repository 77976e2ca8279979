"""``blockwise(init, blocks)``: one initializer drawn on each of ``blocks`` equal column blocks
of a weight, as separate weights (a recurrent layer's gates, each orthogonal).

>>> import xpgrad as xg
>>> w = blockwise(orthogonal(), 4)(xg.random.default_rng(0), (3, 12), xg.float64).numpy()
>>> bool(abs(w[:, 3:6].T @ w[:, 3:6] - np.eye(3)).max() < 1e-12)     # the second gate's
True
"""
from __future__ import annotations

import numbers

import numpy as np  # noqa: F401 (the example)

from ... import dtypes as _dt
from ...ops.joining import concat
from ._common import as_rng, float_dtype, named, shape_arg
from .orthogonal import orthogonal  # noqa: F401 (the example)


def blockwise(init, blocks):
    """An initializer ``(rng, shape, dtype=float32)`` splitting the last axis of ``shape`` into
    ``blocks`` equal parts and drawing ``init`` (an initializer: a callable, or a name of
    ``xg.nn.init.INITIALIZERS``) on each, shape ``(*shape[:-1], shape[-1] // blocks)``, in
    order from one generator, then joining them. Each block is a weight of its own: its fans
    are the block's, and with ``orthogonal()`` each block is orthogonal (every gate's
    recurrent matrix), where one ``orthogonal()`` draw on an LSTM's (H, 4H) ``w_hh`` (Keras'
    ``recurrent_initializer``, PyTorch's ``orthogonal_(weight_hh)``) has orthonormal rows but
    gate blocks that are not orthogonal. ``blocks`` is a positive integer that divides ``shape[-1]``
    (ValueError naming it otherwise). Each block ``init`` returns is checked as a layer checks
    its weights: another shape is a ValueError, values that are not real floats a TypeError;
    arrays, lists, other float dtypes and Tensors of another backend are cast and moved.
    A ``fan_in=`` (a layer gives its weight's to a bias initializer, see ``torch_linear_default``)
    is passed on to an ``init`` taking it, unchanged: a block of a bias adds to a block of the
    weight, split along its output axis, whose fan_in is the whole weight's.

    >>> import xpgrad as xg
    >>> lstm = xg.nn.LSTM(3, 5, recurrent_init=blockwise("orthogonal", 4), rng=0)
    >>> lstm.layers[0].w_hh.shape
    (5, 20)
    >>> bias = blockwise("torch_linear_default", 4)(xg.random.default_rng(0), (8,), fan_in=16)
    >>> bool(abs(bias).max().item() <= 0.25)
    True
    """
    from . import get           # the package imports this module

    if isinstance(blocks, bool) or not isinstance(blocks, numbers.Integral) or blocks < 1:
        raise ValueError(f"blockwise: blocks must be a positive integer, got {blocks!r}")
    blocks = int(blocks)
    try:
        fn = get(init)
    except (TypeError, ValueError) as e:
        raise type(e)(f"blockwise: {e}") from None

    from .._initial import takes_fan_in      # it imports this package

    passes_fan_in = takes_fan_in(fn)

    def draw(rng, shape, dtype=_dt.float32, *, fan_in=None):
        rng, shape = as_rng(rng), shape_arg(shape)
        if not shape or shape[-1] % blocks:
            raise ValueError(f"blockwise: blocks={blocks} must divide the last axis of shape "
                             f"{shape}")
        from .._initial import initial      # it imports this package

        dtype = float_dtype(dtype, "blockwise")
        part = (*shape[:-1], shape[-1] // blocks)
        layout = f"(each of {blocks} blocks of shape {shape})"
        # a block splits the output axis: it adds to a block of the weight of the same fan_in
        kwargs = {"fan_in": fan_in} if fan_in is not None and passes_fan_in else {}
        return concat([initial(fn(rng, part, dtype, **kwargs), part, dtype, rng, init,
                               "blockwise", layout) for _ in range(blocks)], axis=-1)

    label = init if isinstance(init, str) else getattr(fn, "__name__", repr(fn))
    return named(draw, f"blockwise({label}, {blocks})")
