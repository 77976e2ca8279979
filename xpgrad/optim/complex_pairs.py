"""Complex variables in the adaptive optimizers, as PyTorch updates them: each complex number is
the pair of its real and imaginary parts (``torch.view_as_real``), two real parameters with
moments of their own. The update runs unchanged on real views (NumPy's and CuPy's ``.view``) of
the variable, its gradient and its state, which stays complex arrays of the variable's shape
(so checkpoints keep it as it was).

>>> import numpy as np
>>> z = np.array([1 + 2j, 3 - 4j])
>>> pairs = real_pairs(z)
>>> pairs *= 2.0
>>> z.tolist(), pairs.tolist()
([(2+4j), (6-8j)], [2.0, 4.0, 6.0, -8.0])
"""
from __future__ import annotations


def supports_real_pairs(raw) -> bool:
    """Whether ``raw``'s namespace can view complex memory as real pairs (NumPy, CuPy)."""
    return hasattr(raw, "view") and hasattr(raw, "flags")


def real_pairs(raw):
    """The flat real view of the complex array ``raw``: ``(re, im)`` pairs sharing its memory
    when ``raw`` is C-contiguous (a variable, a state array), else of a contiguous copy (a
    gradient, which is only read)."""
    if not raw.flags.c_contiguous:
        raw = raw.copy()
    flat = raw.reshape(-1)
    return flat.view(flat.real.dtype)


def as_real_pairs(param, grad, state):
    """``param``, ``grad`` and ``state`` (the optimizer's dict for ``param``) as real pairs."""
    if not param.flags.c_contiguous:     # Variables store row-major arrays (owned_copy)
        raise RuntimeError("a complex variable's array is not C-contiguous: its real view "
                           "would be a copy, and the update would be lost")
    return real_pairs(param), real_pairs(grad), RealPairsState(state, param)


class RealPairsState(dict):
    """An optimizer's state for one complex variable, seen as real pairs: arrays read from it
    are ``real_pairs`` views of the stored complex arrays; an array written into it (a slot
    made after the first update) is stored back as a complex array of the variable's shape.
    Everything else (``step``) passes through."""

    def __init__(self, state: dict, param):
        super().__init__()
        self._state = state
        self._shape, self._dtype = param.shape, param.dtype

    def __getitem__(self, key):
        return self._as_pairs(self._state[key])

    def get(self, key, default=None):
        value = self._state.get(key, default)
        return value if value is default else self._as_pairs(value)

    def __setitem__(self, key, value):
        if _is_array(value):
            value = value.view(self._dtype).reshape(self._shape)
        self._state[key] = value

    def __contains__(self, key):
        return key in self._state

    @staticmethod
    def _as_pairs(value):
        return real_pairs(value) if _is_array(value) else value


def _is_array(value) -> bool:
    return hasattr(value, "dtype") and hasattr(value, "view")
