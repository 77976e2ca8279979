"""BatchNorm2d and BatchNorm3d: PyTorch's ``nn.BatchNorm2d`` / ``nn.BatchNorm3d``, each channel
(axis 1) of an (N, C, H, W) / (N, C, D, H, W) input normalized over the batch and the spatial
axes; BatchNorm1d's state, running statistics and conversions (``xpgrad.nn.normalization``).

>>> import xpgrad as xg
>>> bn = xg.nn.BatchNorm2d(3)
>>> bn(xg.ones((2, 3, 4, 4))).shape, [v.name for v in bn.trainable_variables]
((2, 3, 4, 4), ['batch_norm/weight', 'batch_norm/bias'])
"""
from __future__ import annotations

from .normalization import _BatchNorm


class BatchNorm2d(_BatchNorm):
    """``BatchNorm2d(num_features)``: PyTorch's ``nn.BatchNorm2d`` on an (N, C, H, W) input,
    ``C = num_features``: each channel normalized with the mean and biased variance over N, H
    and W in training mode, with the running statistics in eval mode, then scaled by
    ``weight`` (ones) and shifted by ``bias`` (zeros) when ``affine``.

    Everything else is ``BatchNorm1d``'s: the arguments (``eps``, ``momentum``, ``momentum=
    None`` the cumulative average, ``affine``, ``track_running_stats``, ``dtype``,
    ``backend``, ``name``), the running statistics updated in training mode (the variance
    unbiased, over ``N * H * W`` values), ``num_batches_tracked``, ``reset_running_stats``,
    ``reset_parameters`` and ``load_torch_state_dict`` / ``torch_state_dict`` (PyTorch's
    keys). ``SyncBatchNorm.convert_sync_batchnorm`` converts it.

    >>> import xpgrad as xg
    >>> bn = xg.nn.BatchNorm2d(1, momentum=0.5, dtype=xg.float64)
    >>> x = xg.asarray([[[[1.0, 3.0]]], [[[1.0, 3.0]]]], dtype=xg.float64)   # (2, 1, 1, 2)
    >>> [round(v, 3) for v in bn(x).reshape((4,)).tolist()]
    [-1.0, 1.0, -1.0, 1.0]
    >>> bn.running_mean.tolist(), [round(v, 4) for v in bn.running_var.tolist()]
    ([1.0], [1.1667])
    """

    _ndims, _layout = (4,), "a 4-D (N, C, H, W)"


class BatchNorm3d(_BatchNorm):
    """``BatchNorm3d(num_features)``: PyTorch's ``nn.BatchNorm3d``, ``BatchNorm2d`` on an
    (N, C, D, H, W) input (statistics over N, D, H and W).

    >>> import xpgrad as xg
    >>> xg.nn.BatchNorm3d(2)(xg.ones((2, 2, 3, 3, 3))).shape
    (2, 2, 3, 3, 3)
    """

    _ndims, _layout = (5,), "a 5-D (N, C, D, H, W)"


__all__ = ["BatchNorm2d", "BatchNorm3d"]
