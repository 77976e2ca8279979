"""A gradient fitted to its input: a broadcast summed back to the input's shape and the result
cast to its dtype (a real input's gradient is the real part of a complex one). The backward
walk (``backward.py``) does this in one place for every rule, so the rules may return gradients
of the broadcast shape; host arrays are summed by ``backends/axis_sums.py``.

>>> import numpy as np
>>> fit_gradient(np, np.ones((4, 3)), (1, 3), np.dtype("float64")).tolist()
[[4.0, 4.0, 4.0]]
>>> fit_gradient(np, np.array([1 + 2j]), (1,), np.dtype("float32")).tolist()
[1.0]
"""
from __future__ import annotations

import numpy as np

from .backends.axis_sums import sum_axes

_ndarray = np.ndarray


def fit_gradient(xp, g, xshape, xdtype):
    """Sum a broadcast gradient back to an input's shape and cast it to the input's dtype
    (``xp``: the namespace of ``g``'s arrays; ``xshape``, ``xdtype``: the input's). A 0-d
    ``g`` of an input that is not 0-d stands for ``g`` everywhere: its read-only broadcast.

    >>> fit_gradient(np, np.asarray(2.0), (2, 2), np.dtype("float64")).tolist()
    [[2.0, 2.0], [2.0, 2.0]]
    """
    gshape = g.shape
    if gshape == () and xshape:         # g everywhere (a full sum's gradient, backward.py)
        g = xp.broadcast_to(g, xshape)
    elif gshape != xshape:
        axes = _AXES.get((gshape, xshape))
        if axes is None:
            axes = _summed_axes(gshape, xshape)
        if g.__class__ is _ndarray:        # the methods: xp's wrappers cost 2 us more
            # a leading/trailing block of axes as products with ones (axis_sums: faster, and
            # pairwise-accurate in float32 where NumPy adds rows in order)
            g = (sum_axes(g, axes) if axes else g).reshape(xshape)
        else:
            if axes:
                summed = _traced_host_sum(xp)
                g = summed(g, axes) if summed is not None else \
                    xp.sum(g, axis=axes, keepdims=True)
            g = xp.reshape(g, xshape)
    if g.dtype != xdtype:
        if xp.isdtype(g.dtype, "complex floating") and not xp.isdtype(xdtype,
                                                                       "complex floating"):
            g = xp.real(g)      # a real input's gradient: the real part (complex convention)
        if g.dtype != xdtype:
            g = xp.astype(g, xdtype)
    return g


#: the summed axes of a broadcast by (gradient shape, input shape): a loop's bias gradient
#: meets the same pair at every step
_AXES: dict = {}


def _summed_axes(gshape, xshape):
    """The axes of a gradient of shape ``gshape`` that a broadcast of ``xshape`` added or
    stretched (remembered in ``_AXES``).

    >>> _summed_axes((4, 5, 3), (5, 1))
    (0, 2)
    """
    lead = len(gshape) - len(xshape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, n in enumerate(xshape) if n == 1 and gshape[lead + i] != 1)
    if len(_AXES) > 1024:
        _AXES.clear()
    _AXES[gshape, xshape] = axes
    return axes


def _traced_host_sum(xp):
    """``sum_axes`` through a trace's namespace where it traces a host backend (the step then
    replays the sum an eager walk runs); None elsewhere (CuPy, a vmap's, xpgrad's own)."""
    from .jit.tracer import _XpProxy
    return getattr(xp, "sum_axes", None) if xp.__class__ is _XpProxy else None
