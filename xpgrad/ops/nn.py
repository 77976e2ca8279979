"""Layer-level primitives: ``linear`` (``x @ w + b`` as one tape node), exposed as ``xg.nn.linear``.

>>> import xpgrad as xg
>>> xg.nn.linear(xg.ones((2, 3)), xg.ones((3, 4)), xg.ones(4)).tolist()[0]
[4.0, 4.0, 4.0, 4.0]
"""
from __future__ import annotations

from ..primitive import Primitive, apply
from ..tensor import Tensor
from .linalg_helpers import mH

# x @ w + b for 2-D x as one primitive: one tape node instead of two, and the bias gradient is
# a plain column sum (no broadcast bookkeeping). Backends may add a kernel (NumPy adds the bias
# in place). Complex operands: the other factor conjugated, as matmul's rules do.
def _adjoint(xp, a):
    """``a``'s (conjugate) transpose in one call: this runs in every training step."""
    kind = getattr(a.dtype, "kind", None)
    if kind == "f":
        mt = getattr(a, "mT", None)
        return xp.matrix_transpose(a) if mt is None else mt
    return mH(xp, a)


_linear = Primitive(
    "linear", lambda xp, x, w, b: xp.matmul(x, w) + b,
    lambda xp, g, ans, x, w, b: g @ _adjoint(xp, w),      # the standard's operator: a
    lambda xp, g, ans, x, w, b: _adjoint(xp, x) @ g,      # C call on NumPy, no wrapper
    lambda xp, g, ans, x, w, b: xp.sum(g, axis=0), saves=(0, 1))


def linear(x, w, b=None):
    """``x @ w + b`` (``b`` optional); one fused primitive for 2-D ``x``.

    >>> import xpgrad as xg
    >>> xg.nn.linear(xg.ones((2, 3)), xg.ones((3, 4))).shape
    (2, 4)
    """
    if b is not None and isinstance(x, Tensor) and x.ndim == 2:
        if x.shape[1] != w.shape[0] or b.shape != (w.shape[1],):
            raise ValueError(f"linear: x {x.shape}, w {w.shape} and b {b.shape} do not fit "
                             "(need x (N, in), w (in, out), b (out,))")
        return apply(_linear, x, w, b)
    y = x @ w
    return y if b is None else y + b


__all__: list = []   # exposed through xg.nn
