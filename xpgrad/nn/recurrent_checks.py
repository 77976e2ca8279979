"""The argument checks of the recurrent cells and layers: an input of the right rank
(``_as_input``), a state of the right shape, dtype and backend (``_check_state``), an LSTM's
``(h, c)`` pair (``_check_pair``) and the nonlinearity (``check_nonlinearity``).

>>> _check_pair((1, 2, 3), "LSTM", "(batch, hidden)")
Traceback (most recent call last):
ValueError: LSTM: state must be a pair (h, c) of (batch, hidden) tensors, got a tuple of 3
"""
from __future__ import annotations

from ..creation import asarray
from ..ops.recurrent import NONLINEARITIES
from ..tensor import Tensor
from ._checks import input_dtype_error


def _as_input(x, layer, ndim, who=None):
    who = who or type(layer).__name__
    if not isinstance(x, Tensor):
        x = asarray(x, dtype=layer.w_ih.dtype, backend=layer.w_ih.backend)
    what = "(batch, time, input_size)" if ndim == 3 else "(batch, input_size) or (input_size,)"
    if x.ndim != ndim or x.shape[-1] != layer.input_size:
        raise ValueError(f"{who} expects input of shape {what} with "
                         f"input_size={layer.input_size}, got shape {x.shape}")
    if x.dtype != layer.w_ih.dtype:
        raise input_dtype_error(x, layer.w_ih.dtype, who)
    return x


def cell_batch(cell, x, state, pair=False):
    """``(x, state, unbatched)`` for a cell's step: an unbatched ``(input_size,)`` input, which
    PyTorch's cells take, and its ``(hidden,)`` state (an LSTM's pair of them: ``pair``) get a
    batch axis of 1, ``unbatched`` True; anything else is handed back as is (converted to a
    Tensor of the cell's dtype) for the batched checks.

    >>> import xpgrad as xg
    >>> cell = xg.nn.GRUCell(3, 4, rng=0)
    >>> x, h, unbatched = cell_batch(cell, [1.0, 2.0, 3.0], None)
    >>> x.shape, h, unbatched
    ((1, 3), None, True)
    """
    if not isinstance(x, Tensor):
        x = asarray(x, dtype=cell.w_ih.dtype, backend=cell.w_ih.backend)
    if x.ndim != 1:
        return x, state, False
    who, shape = type(cell).__name__, (cell.hidden_size,)
    x = _as_input(x, cell, 1, who).reshape(1, -1)

    def batch_of_one(s, what):
        s = _check_state(s, shape, f"{what} (the state of an unbatched input)", cell, cell.w_hh)
        return s.reshape(1, -1)

    if state is not None and pair:
        _check_pair(state, who, "(hidden,)")
        state = tuple(batch_of_one(s, what) for s, what in zip(state, "hc"))
    elif state is not None:
        state = batch_of_one(state, "h")
    return x, state, True


def _describe(value):
    if isinstance(value, Tensor):
        return f"a tensor of shape {value.shape}"
    if isinstance(value, (tuple, list)):
        return f"a {type(value).__name__} of {len(value)}"
    return type(value).__name__


def _check_pair(state, who, dims):
    """ValueError unless ``state`` is None or a pair ``(h, c)``; ``dims`` words its shapes."""
    if state is None or (isinstance(state, (tuple, list)) and len(state) == 2):
        return
    hint = ""
    if isinstance(state, Tensor):
        hint = ("; xg.stop_gradient and xg.asarray stack a pair into one tensor: cut the "
                "state from the tape with xg.nn.detach(state), which keeps the pair")
    raise ValueError(f"{who}: state must be a pair (h, c) of {dims} tensors, got "
                     f"{_describe(state)}{hint}")


def _check_state(s, shape, what, layer, weights):
    """``s`` as a Tensor of ``shape`` with the dtype and backend of ``layer``'s recurrent
    ``weights``: an array or nested list (as the input may be) is converted to them;
    ValueError/TypeError naming ``what`` for another shape, a Tensor of another dtype, or a
    value that is no array."""
    if not isinstance(s, Tensor):
        try:
            s = asarray(s, dtype=weights.dtype, backend=weights.backend)
        except (TypeError, ValueError):
            pass
    if not isinstance(s, Tensor) or s.shape != shape:
        got = s.shape if isinstance(s, Tensor) else type(s).__name__
        raise ValueError(f"{type(layer).__name__}: {what} must be a tensor of shape {shape}, "
                         f"got {got}")
    if s.dtype != weights.dtype:
        raise TypeError(f"{type(layer).__name__} has {weights.dtype} weights but {what} is "
                        f"{s.dtype}; cast it with xg.astype")
    return s


def check_nonlinearity(nonlinearity, owner):
    """ValueError naming ``owner`` unless ``nonlinearity`` is one of ``NONLINEARITIES``.

    >>> check_nonlinearity("relu", "RNN")
    """
    if not isinstance(nonlinearity, str) or nonlinearity not in NONLINEARITIES:
        raise ValueError(f"{owner}: nonlinearity must be one of {NONLINEARITIES}, got "
                         f"{nonlinearity!r}")
