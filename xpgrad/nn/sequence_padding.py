"""PyTorch's ``torch.nn.utils.rnn.pad_sequence``: a list of variable-length sequences as one
padded batch, which xpgrad's recurrent layers read with ``lengths=`` (in place of torch's
packed sequences).

>>> import xpgrad as xg
>>> seqs = [xg.asarray([1, 2, 3]), xg.asarray([4]), xg.asarray([5, 6])]
>>> pad_sequence(seqs, batch_first=True).tolist()
[[1, 2, 3], [4, 0, 0], [5, 6, 0]]
"""
from __future__ import annotations

from ..creation import asarray
from ..ops.joining import stack, unstack
from ..tensor import Tensor
from .padding import pad


def pad_sequence(sequences, batch_first=False, padding_value=0.0, padding_side="right"):
    """Stack ``sequences`` (each of shape ``(L_i, *)``, one dtype and backend) into
    ``(max L_i, batch, *)``, or ``(batch, max L_i, *)`` with ``batch_first=True``, filling the
    steps past each length with ``padding_value``; ``padding_side="left"`` pads in front.
    PyTorch's ``torch.nn.utils.rnn.pad_sequence``, defaults included (torch's default layout is
    time-major; a tensor is read as its rows, as torch's). Sequences of different dtypes are a
    TypeError, where torch promotes them. Differentiable: each sequence gets the gradient of its
    own steps.

    Give the recurrent layer the lengths, as ``pack_padded_sequence`` would be given them:

    >>> import xpgrad as xg
    >>> rng = xg.random.default_rng(0)
    >>> seqs = [rng.normal(size=(n, 4)) for n in (5, 2, 3)]
    >>> x = xg.nn.utils.pad_sequence(seqs, batch_first=True)            # (3, 5, 4)
    >>> out, h = xg.nn.GRU(4, 8, rng=0)(x, lengths=[len(s) for s in seqs])
    >>> x.shape, out.shape, h.shape
    ((3, 5, 4), (3, 5, 8), (1, 3, 8))
    """
    if isinstance(sequences, Tensor):
        if sequences.ndim < 2:
            raise ValueError("pad_sequence: a tensor given as sequences holds one sequence a "
                             f"row, shape (batch, L, *), got shape {sequences.shape}")
        sequences = unstack(sequences, axis=0)           # torch unbinds it too
    if not hasattr(sequences, "__iter__"):
        raise TypeError("pad_sequence: sequences must be a list of tensors, got a "
                        f"{type(sequences).__name__}")
    if padding_side not in ("right", "left"):
        raise ValueError(f"pad_sequence: padding_side must be 'right' or 'left', got "
                         f"{padding_side!r}")
    seqs = [s if isinstance(s, Tensor) else asarray(s) for s in sequences]
    if not seqs:
        raise ValueError("pad_sequence: sequences is empty (there is no shape to pad to)")
    first = seqs[0]
    for i, s in enumerate(seqs):
        if s.ndim == 0:
            raise ValueError(f"pad_sequence: sequences[{i}] is 0-d; each sequence has a "
                             "length axis first, shape (L, *)")
        if s.shape[1:] != first.shape[1:]:
            raise ValueError(f"pad_sequence: sequences[{i}] has shape {s.shape}, but "
                             f"sequences[0] has {first.shape}: all must agree after the "
                             "first (length) axis")
        if s.dtype != first.dtype:
            raise TypeError(f"pad_sequence: sequences[{i}] is {s.dtype}, but sequences[0] is "
                            f"{first.dtype}; cast them to one dtype with xg.astype")
    longest = max(s.shape[0] for s in seqs)
    trailing = (0, 0) * (first.ndim - 1)
    padded = []
    for s in seqs:
        short = longest - s.shape[0]
        steps = (0, short) if padding_side == "right" else (short, 0)
        padded.append(pad(s, trailing + steps, value=padding_value) if short else s)
    return stack(padded, axis=0 if batch_first else 1)
