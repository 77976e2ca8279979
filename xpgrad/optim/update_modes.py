"""What ``xg.function``'s program rewrites need to know of an optimizer's update, apart from
the optimizers (which import ``xpgrad.jit``: ``clip_global_norm`` runs its scaling through
``jit.whole.run_quietly``), so that ``xpgrad.jit`` reads it without importing them: whether an
SGD update is plain (``plain_settings``: ``W -= lr * g``, which ``jit/sgd_gemm.py`` folds into
the gradient's gemm), and the in-place mode of a CUDA-graph replay (``in_program``, which the
optimizers' updates read through ``_COPY_ON_WRITE``).

>>> _COPY_ON_WRITE.on
True
>>> with in_program():
...     print(_COPY_ON_WRITE.on)
False
"""
from __future__ import annotations

import contextlib
import threading


def plain_settings(opt) -> bool:
    """No momentum, weight decay, ``maximize`` or clipping of any kind: the update is
    ``W -= lr * g``.

    >>> import xpgrad as xg
    >>> plain_settings(xg.optim.SGD(0.1)), plain_settings(xg.optim.SGD(0.1, momentum=0.9))
    (True, False)
    """
    return not (opt.momentum or opt.weight_decay or getattr(opt, "maximize", False)
                or opt.global_clipnorm is not None
                or opt.clipnorm is not None or opt.clipvalue is not None)


class _CopyOnWrite(threading.local):
    on = True


_COPY_ON_WRITE = _CopyOnWrite()


@contextlib.contextmanager
def in_program():
    """Updates in the block write in place whoever holds the arrays: a CUDA-graph replay,
    whose slot list holds every array for the whole call (``jit/cuda_graph.py``)."""
    outer, _COPY_ON_WRITE.on = _COPY_ON_WRITE.on, False
    try:
        yield
    finally:
        _COPY_ON_WRITE.on = outer
