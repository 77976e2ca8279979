"""Batch normalization over a batch spread across the ranks of a data-parallel job (what
``xg.nn.SyncBatchNorm`` computes in training mode on more than one process).

Forward: the global batch's per-channel count, mean and biased variance come from one
allreduce (``distributed.sync_stats.global_moments``), off the tape; the running statistics
move towards the global mean and unbiased variance, identically on every rank. Backward: the
three-term formula ``dx = rstd * (gy - mean(gy) - xhat * mean(gy * xhat))`` with the two means
taken over the GLOBAL batch, their sums allreduced in one call; ``weight``'s and ``bias``'s
gradients stay this rank's (the tape or optimizer reduces them with the others). The result is
the gradient of batch normalization on the concatenated batch.
"""
from __future__ import annotations

from ..primitive import Primitive, apply
from ..tensor import Tensor, _wrap
from .batch_norm import _axes, _forward, _shape, _split, _update, with_affine_grads


def _vjp(xp, g, ans, needs, x, mean, var, *affine_arrays, eps, affine, count, group):
    from ..distributed.sync_stats import current_contribution, note_backward, reduce_sums

    if isinstance(g, Tensor):
        raise NotImplementedError("SyncBatchNorm has no higher-order gradient across ranks (nor"
                                  " has PyTorch's): differentiate a gradient through "
                                  "BatchNorm1d on one process instead")
    weight, _ = _split(affine_arrays, affine)
    axes = _axes(x.ndim)
    c = x.shape[1]
    rstd = 1.0 / xp.sqrt(var + eps)
    xhat = (x - mean) * rstd

    def channels(a):
        return xp.reshape(xp.sum(a, axis=axes), (c,))

    dx = None
    if needs[0]:
        gy = g if weight is None else g * _shape(x, weight)
        scale = current_contribution()
        note_backward(scale)
        sum_gy, sum_gy_xhat = reduce_sums(group, [channels(gy) * scale,
                                                  channels(gy * xhat) * scale], xp)
        if scale > 0:
            per = 1.0 / (count * scale)
            shape = (1, c) + (1,) * (x.ndim - 2)
            mean_gy = xp.reshape(xp.astype(sum_gy * per, x.dtype), shape)
            mean_gy_xhat = xp.reshape(xp.astype(sum_gy_xhat * per, x.dtype), shape)
            dx = rstd * (gy - mean_gy - xhat * mean_gy_xhat)
        else:       # a rank whose gradients are left out (weight=0): it only joined the sums
            dx = xp.zeros_like(x)
    return with_affine_grads(dx, g, xhat, channels, needs, affine)


def _sync_forward(xp, x, mean, var, *affine_arrays, eps, affine, count, group):
    return _forward(xp, x, mean, var, *affine_arrays, eps=eps, affine=affine)


_sync_batch_norm = Primitive("sync_batch_norm", _sync_forward, joint=_vjp,
                             saves=(0, 1, 2, 3))


def is_sync_node(node) -> bool:
    """Whether a tape node (``tape._nodes`` entry) is a ``sync_batch_norm``: its backward is a
    collective, so every rank must walk it."""
    return node[0] == _sync_batch_norm.index


def sync_normalize(x, running_mean, running_var, weight, bias, momentum, eps, group, who,
                   count_batch=None):
    """Training-mode batch normalization of the checked ``x`` with the statistics of the
    batch spread over ``group`` (a process group of more than one rank). ``count_batch`` (a
    callable) runs once the global batch is known to hold more than one value per channel, or
    none, and returns the momentum to use (BatchNorm1d's ``num_batches_tracked`` step)."""
    from ..distributed.group import refuse_trace
    from ..distributed.sync_stats import global_moments

    refuse_trace()
    xp = x._backend.xp
    count, mean, var = global_moments(group, x._data, xp)
    if count == 1:
        raise ValueError(f"{who}: expected more than 1 value per channel when training, got "
                         f"1 over the {group.size} ranks (this rank's input has shape "
                         f"{x.shape}; PyTorch's rule: the variance of one value is undefined)")
    if count_batch is not None:
        momentum = count_batch()
    if count == 0:                  # PyTorch's: an empty output, the statistics left alone
        y = x if weight is None else x * _shape(x, weight)
        return y if bias is None else y + _shape(x, bias)
    shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
    mean, var = (_wrap(xp.reshape(xp.astype(a, x._data.dtype), shape), x._backend)
                 for a in (mean, var))
    if running_mean is not None:
        _update(running_mean, running_var, mean, var, count, momentum)
    arrays = [a for a in (x, mean, var, weight, bias) if a is not None]
    return apply(_sync_batch_norm, *arrays, eps=eps,
                 affine=(weight is not None, bias is not None), count=count, group=group)


__all__: list = []
