"""``SequenceClassifier``: stacked recurrent layers read a sequence, a Linear layer maps the
last state to logits.

>>> import xpgrad as xg
>>> SequenceClassifier(3, [4], 2, cell="gru", rng=0)(xg.ones((5, 6, 3))).shape
(5, 2)
"""
from __future__ import annotations

from .. import dtypes as _dt
from .._args import flag
from ..creation import asarray
from ..ops.joining import concat
from ..ops.shape import reshape
from ..tensor import Tensor
from . import _checks
from . import init as _init
from .linear import Linear
from .module import Module
from .recurrent_layers import GRU, LSTM, RNN


class SequenceClassifier(Module):
    """Stacked recurrent layers read a sequence; a Linear layer maps the last state to logits.

    Input (B, T, input_size), or flat (B, T * input_size) rows (e.g. images read row by row).
    ``hidden`` lists one size per layer; ``cell`` is "lstm", "gru" or "rnn". ``lengths`` (one
    int per sequence) reads right-padded sequences each to its own last step.
    ``bidirectional=True`` makes every layer bidirectional; the head then reads the last
    layer's two final states side by side, ``[h_n[-2] | h_n[-1]]`` (the forward direction at
    the last step, the reverse one after reading back to the first), PyTorch's usual
    ``torch.cat((h_n[-2], h_n[-1]), dim=1)``. ``kernel_init``, ``recurrent_init``,
    ``bias_init`` and (LSTM only) ``forget_bias`` go to every recurrent layer, as the layer
    takes them (see ``LSTM``); the head is initialized as ``Linear``'s default.

    >>> import xpgrad as xg
    >>> model = xg.nn.SequenceClassifier(8, [16], 10, rng=0)
    >>> model(xg.zeros((4, 64))).shape                 # 8 rows of 8 pixels
    (4, 10)
    >>> xg.nn.SequenceClassifier(8, [16], 10, bidirectional=True, rng=0).head.w.shape
    (32, 10)
    >>> model = xg.nn.SequenceClassifier(8, [16], 10, recurrent_init="orthogonal",
    ...                                  forget_bias=None, rng=0)
    """

    def __init__(self, input_size, hidden, n_classes, *, cell="lstm", bidirectional=False,
                 kernel_init=None, recurrent_init=None, bias_init=None, forget_bias=1.0,
                 rng=None, dtype=_dt.float32, backend=None, name="seq_classifier"):
        super().__init__(name)
        kinds = {"lstm": LSTM, "gru": GRU, "rnn": RNN}
        if cell not in kinds:
            raise ValueError(f"cell must be one of {sorted(kinds)}, got {cell!r}")
        owner = "SequenceClassifier"
        inits = dict(kernel_init=kernel_init, recurrent_init=recurrent_init,
                     bias_init=bias_init)
        if cell == "lstm":
            inits["forget_bias"] = forget_bias
        elif forget_bias != 1.0:
            raise ValueError(f"{owner}: forget_bias is the LSTM's forget-gate bias; "
                             f"cell={cell!r} has no forget gate (use cell='lstm', or leave "
                             f"forget_bias out), got forget_bias={forget_bias!r}")
        hidden = _checks.sizes("hidden", hidden, owner)
        if not hidden:
            raise ValueError(f"{owner}: hidden must list at least one recurrent layer size, "
                             "got []")
        n_classes = _checks.size("n_classes", n_classes, owner)
        self.bidirectional = flag(bidirectional, "bidirectional", owner)
        D = 2 if self.bidirectional else 1
        sizes = [_checks.size("input_size", input_size, owner)] + hidden
        gen = _init.as_rng(rng, backend)
        self.input_size = sizes[0]
        layers = [kinds[cell](a if i == 0 else D * a, b, bidirectional=self.bidirectional,
                              batch_first=True, rng=gen, dtype=dtype, backend=backend,
                              name=f"{self.name}/{cell}{i}", **inits)
                  for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:]))]
        for layer in layers:
            layer.name = cell
        self.layers = layers            # (its Variables are named after these paths)
        self.head = Linear(D * sizes[-1], n_classes, rng=gen, dtype=dtype, backend=backend,
                           name=f"{self.name}/head")

    def forward(self, x, *, lengths=None):
        if not isinstance(x, Tensor):
            x = asarray(x, dtype=self.head.w.dtype, backend=self.head.w.backend)
        if x.ndim == 2:
            if x.shape[1] % self.input_size:
                raise ValueError(f"SequenceClassifier: input of shape {x.shape}: its "
                                 f"{x.shape[1]} features do not split into steps of "
                                 f"input_size={self.input_size}")
            x = reshape(x, (x.shape[0], x.shape[1] // self.input_size, self.input_size))
        for layer in self.layers:
            x, final = layer(x, lengths=lengths)
        if lengths is None and not self.bidirectional:
            return self.head(x[:, -1, :])
        h_n = final[0] if isinstance(final, tuple) else final
        if self.bidirectional:
            return self.head(concat([h_n[-2], h_n[-1]], axis=-1))
        return self.head(h_n[-1])


__all__ = ["SequenceClassifier"]
