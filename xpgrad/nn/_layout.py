"""The one place where a recurrent layer's input and output layout is handled: the layers
run batch-first (B, T, F) internally, so a time-major input (T, B, F) (``batch_first=False``,
PyTorch's default) is transposed at entry and its outputs transposed back at exit, and an
unbatched input (T, F) gets a batch axis of 1 (its states are (L * D, H), without one), as
PyTorch's ``nn.RNN`` / ``LSTM`` / ``GRU``. The transposes cost nothing measurable: a
time-major RNN, LSTM or GRU training step takes 0.91-1.00 times a batch-first one (numpy and
numba backends, one thread, shared machine: ``benchmarks/recurrent_layout.py``; PyTorch's own
ratio 0.92-0.99), so there is no time-major path inside.

>>> import xpgrad as xg
>>> x, unbatched = sequence_in(xg.ones((7, 2, 3)), False, 3, xg.float32, "LSTM")
>>> x.shape, unbatched
((2, 7, 3), False)
>>> sequence_out(x, False, unbatched).shape
(7, 2, 3)
"""
from __future__ import annotations

import warnings

from .._args import flag
from ..creation import asarray
from ..ops.shape import expand_dims, permute_dims, squeeze
from ..tensor import Tensor
from ._checks import input_dtype_error


def stated_layout(module, batch_first, who) -> bool:
    """A layer's ``batch_first``: None (left out) is xpgrad's default, True, and the layer
    remembers that it was left out, for ``warn_unstated_layouts``.

    >>> import xpgrad as xg
    >>> gru = xg.nn.GRU(2, 3, rng=0)
    >>> gru.batch_first, gru._batch_first_unstated
    (True, True)
    """
    module._batch_first_unstated = batch_first is None
    return True if batch_first is None else flag(batch_first, "batch_first", who)


def warn_unstated_layouts(module, stacklevel) -> None:
    """After ``module.load_torch_state_dict``: one UserWarning naming the layers in it built
    without ``batch_first`` (xpgrad's default, True, is not torch's, False: a literal port of
    time-major torch code would run silently wrong); each layer is named once, ever."""
    unstated = [m for m in (module, *module.submodules())
                if vars(m).get("_batch_first_unstated")]
    if not unstated:
        return
    for m in unstated:
        m._batch_first_unstated = False
    names = ", ".join(f"{type(m).__name__} {m.name!r}" for m in unstated)
    warnings.warn(f"torch weights loaded into {names}, built without batch_first: xpgrad's "
                  "default is batch_first=True (batch, sequence, features), torch's is False "
                  "(sequence, batch, features); pass batch_first explicitly (False for "
                  "torch's time-major layout) to silence this", UserWarning,
                  stacklevel=stacklevel + 1)


def layout(batch_first) -> str:
    """The words for a 3-D input of this layout: "(batch, time, input_size)" or the
    time-major "(time, batch, input_size)".

    >>> layout(False)
    '(time, batch, input_size)'
    """
    return "(batch, time, input_size)" if batch_first else "(time, batch, input_size)"


def sequence_in(x, batch_first, input_size, dtype, who, backend=None):
    """``(x as a batch-first (B, T, input_size) Tensor, whether it was unbatched)``: a
    time-major (T, B, F) input is transposed, an unbatched (T, F) one gets a batch axis of 1;
    a non-Tensor is made one with ``dtype`` on ``backend``. Another rank or feature size, or
    no time steps, is a ValueError, another dtype a TypeError, each naming ``who`` and the
    layout expected."""
    if not isinstance(x, Tensor):
        x = asarray(x, dtype=dtype, backend=backend)
    if x.ndim not in (2, 3) or x.shape[-1] != input_size:
        raise ValueError(f"{who} expects input of shape {layout(batch_first)} with "
                         f"input_size={input_size}, got shape {x.shape} (batch_first="
                         f"{batch_first}; an unbatched input is (time, input_size))")
    if x.dtype != dtype:
        raise input_dtype_error(x, dtype, who)
    if x.shape[0 if x.ndim == 2 or not batch_first else 1] == 0:
        words = "(time, input_size)" if x.ndim == 2 else layout(batch_first)
        raise ValueError(f"{who}: x has no time steps (shape {x.shape}, {words}); an empty"
                         " sequence has no last state, so it is refused, as "
                         "PyTorch's (an empty batch is answered)")
    if x.ndim == 2:
        return expand_dims(x, axis=0), True
    return (x if batch_first else permute_dims(x, (1, 0, 2))), False


def sequence_out(out, batch_first, unbatched):
    """The layer's (B, T, D * H) outputs in the input's layout: (T, B, D * H) time-major,
    (T, D * H) unbatched."""
    if unbatched:
        return squeeze(out, axis=0)
    return out if batch_first else permute_dims(out, (1, 0, 2))


def state_in(state, unbatched, n, hidden_size, what, who, like):
    """An initial state as the layer reads it: with an unbatched input, PyTorch's 2-D
    (``n``, ``hidden_size``) state gets a batch axis of 1; a 3-D one is a ValueError naming
    ``what`` (as PyTorch refuses it). ``like`` (a weight) gives a non-Tensor its dtype and
    backend. Batched states pass through (the layer checks them)."""
    if state is None or not unbatched:
        return state
    if not isinstance(state, Tensor):
        try:
            state = asarray(state, dtype=like.dtype, backend=like.backend)
        except (TypeError, ValueError):
            pass
    if not isinstance(state, Tensor) or state.shape != (n, hidden_size):
        got = state.shape if isinstance(state, Tensor) else type(state).__name__
        raise ValueError(f"{who}: with an unbatched (time, input_size) input, {what} must be "
                         f"a tensor of shape {(n, hidden_size)} (no batch axis, as PyTorch's), "
                         f"got {got}")
    return expand_dims(state, axis=1)


def state_out(state, unbatched):
    """A final state (n, B, H) as returned: (n, H) for an unbatched input."""
    return squeeze(state, axis=1) if unbatched else state


def model_layout(model, batch_first, who):
    """Whether ``model``'s sequences are batch first, for a function that cuts them along
    time (``tbptt_train``): ``batch_first`` when given (True/False), else the layout of the
    recurrent layers (RNN, LSTM, GRU) that ``model`` is or holds, else True (a plain
    function, or a model without such layers). A given value that contradicts every such
    layer, or layers that disagree when none is given, is a ValueError naming ``who``.

    >>> import xpgrad as xg
    >>> model_layout(xg.nn.LSTM(2, 3, batch_first=False), None, "tbptt_train")
    False
    """
    from .._args import flag
    from .module import Module
    from .recurrent_layers import _Sequence

    if batch_first is not None:
        batch_first = flag(batch_first, "batch_first", who)
    layers = []
    if isinstance(model, Module):
        layers = [m for m in (model, *model.submodules()) if isinstance(m, _Sequence)]
    found = {m.batch_first for m in layers}
    if batch_first is None:
        if len(found) > 1:
            names = ", ".join(f"{m.name!r} batch_first={m.batch_first}" for m in layers)
            raise ValueError(f"{who}: the model's recurrent layers disagree on the layout "
                             f"({names}); pass batch_first= to say how the inputs are laid out")
        return found.pop() if found else True
    if found == {not batch_first}:
        raise ValueError(f"{who}: batch_first={batch_first} contradicts the model's recurrent "
                         f"layers, which all have batch_first={not batch_first} "
                         f"({', '.join(repr(m.name) for m in layers)}); leave batch_first out "
                         "to use theirs")
    return batch_first


__all__ = ["layout", "sequence_in", "sequence_out", "state_in", "state_out", "model_layout"]
