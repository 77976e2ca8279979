"""The Tensor's operators and array-style methods, each a call into the xpgrad namespace.

>>> import xpgrad as xg
>>> x = xg.asarray([[1.0, -2.0]])
>>> (abs(x) * 2 + 1).tolist(), x.T.shape
([[3.0, 5.0]], (2, 1))
"""
from __future__ import annotations

_ns = None  # the xpgrad namespace; set by xpgrad/__init__ once the ops exist


class TensorMethods:
    """Mixed into ``Tensor``: operators (``+ - * / ** @ < == & ...``) and NumPy-like methods."""

    __slots__ = ()

    # -- operators ------------------------------------------------------------------------------
    def __add__(self, o): return _ns.add(self, o)
    def __radd__(self, o): return _ns.add(o, self)
    def __sub__(self, o): return _ns.subtract(self, o)
    def __rsub__(self, o): return _ns.subtract(o, self)
    def __mul__(self, o): return _ns.multiply(self, o)
    def __rmul__(self, o): return _ns.multiply(o, self)
    def __truediv__(self, o): return _ns.divide(self, o)
    def __rtruediv__(self, o): return _ns.divide(o, self)
    def __pow__(self, o): return _ns.pow(self, o)
    def __rpow__(self, o): return _ns.pow(o, self)
    def __matmul__(self, o): return _ns.matmul(self, o)
    def __rmatmul__(self, o): return _ns.matmul(o, self)
    def __neg__(self): return _ns.negative(self)
    def __pos__(self): return self
    def __abs__(self): return _ns.abs(self)
    def __lt__(self, o): return _ns.less(self, o)
    def __le__(self, o): return _ns.less_equal(self, o)
    def __gt__(self, o): return _ns.greater(self, o)
    def __ge__(self, o): return _ns.greater_equal(self, o)
    def __eq__(self, o): return _ns.equal(self, o)
    def __ne__(self, o): return _ns.not_equal(self, o)
    def __invert__(self): return _ns.logical_not(self)
    def __and__(self, o): return _ns.logical_and(self, o)
    def __or__(self, o): return _ns.logical_or(self, o)
    def __getitem__(self, key): return _ns.getitem(self, key)

    @property
    def T(self):
        if self.ndim != 2:
            raise ValueError(f".T needs a 2-D tensor, got {self.ndim}-D; use .mT or permute_dims")
        return _ns.permute_dims(self, (1, 0))

    @property
    def mT(self):
        return _ns.matrix_transpose(self)

    # a few array-style conveniences that read like NumPy
    def reshape(self, *shape):
        return _ns.reshape(self, shape[0] if len(shape) == 1 else shape)

    def sum(self, axis=None, keepdims=False):
        return _ns.sum(self, axis=axis, keepdims=keepdims)

    def mean(self, axis=None, keepdims=False):
        return _ns.mean(self, axis=axis, keepdims=keepdims)

    def astype(self, dtype):
        return _ns.astype(self, dtype)
