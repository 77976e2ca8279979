"""Losses: ``mse``, ``sigmoid_mse``, ``softmax_cross_entropy``,
``sigmoid_cross_entropy_with_logits`` (primitives and rules in ``xpgrad/ops/losses.py``).

>>> import xpgrad as xg
>>> logits = xg.asarray([[2.0, 0.0, -1.0], [0.0, 3.0, 0.0]])
>>> round(xg.losses.softmax_cross_entropy(logits, xg.asarray([0, 1])).item(), 4)
0.1324
"""
from .ops.losses import (REDUCTIONS, mse, sigmoid_cross_entropy_with_logits, sigmoid_mse,
                         softmax_cross_entropy)

__all__ = ["mse", "sigmoid_mse", "softmax_cross_entropy", "sigmoid_cross_entropy_with_logits",
           "REDUCTIONS"]
