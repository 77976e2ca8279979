"""The Tensor's in-place operators, ``x += y`` and the rest (``-= *= /= //= %= **= @= &= |= ^=
<<= >>=``), and ``operate_in_place``, which they and PyTorch's in-place arithmetic methods
(``tensor_torch_inplace.py``'s ``x.add_(y)``) share.

They update the object ``x``, as in NumPy and PyTorch (every name for it and its views see the
change; ``xpgrad/inplace.py``'s ``take_value``): a functional update on the tapes, which keep
the old value where they recorded it. On a Variable they update it in place, like ``assign``
(``w -= lr * g`` keeps training ``w``), and raise while a recording tape differentiates it, as
``v[key] = value`` does. The result keeps ``x``'s shape and dtype, as the array API standard
asks: promotion within a kind is cast back (float32 += float64 stays float32), across kinds
raises TypeError, as NumPy and PyTorch do.

>>> import xpgrad as xg
>>> x = xg.asarray([1.0, 2.0, 3.0])
>>> alias, part = x, x[1:]
>>> x *= 2
>>> part += 1
>>> alias.tolist(), part.tolist()
([2.0, 5.0, 7.0], [5.0, 7.0])
"""
from __future__ import annotations

from .tensor_torch_inplace import _new_tensor, _scaled, _spelled

_ns = None  # the xpgrad namespace; set by xpgrad/__init__ once the ops exist
#: ``views.View`` and ``view_writes.update_in_place``, set when ``xpgrad.view_writes`` loads;
#: ``fast_updates.update_sole_buffer``, when it does
_View = _update_in_place = _update_sole_buffer = None


def operate_in_place(self, fn, other, op, alpha=1, viewed=False):
    """``self op= other``: ``self`` takes the value ``self op other`` (``inplace.take_value``);
    a Variable is updated in place (like ``assign``), refused (as ``v[key] = value`` is) while
    a recording tape differentiates it, and recorded as ``v[...] = value`` where a tape
    differentiates the new value. Either way the result keeps ``self``'s shape and dtype
    (module docstring). ``fn``: the namespace function of ``op`` (``"+"``, or a PyTorch
    method's name, ``"add_"``, for the messages); ``alpha``: ``other``'s factor (``add_``'s);
    ``viewed``: the caller tried ``update_in_place`` on a view already.

    >>> import xpgrad as xg
    >>> i = xg.asarray([1, 2])
    >>> operate_in_place(i, xg.multiply, 3, "*") is i, i.tolist()
    (True, [3, 6])
    >>> operate_in_place(i, xg.multiply, 0.5, "*")
    Traceback (most recent call last):
    TypeError: in-place operator *= would change int64 to float32; write x = x * y for a new ...
    """
    if self.__class__ is _View:
        if not viewed and _update_in_place(self, op, other, alpha):
            return self
    elif _update_sole_buffer(self, op, other, alpha):
        return self
    if alpha.__class__ is not int or alpha != 1:
        other = _scaled(other, alpha)
    if isinstance(self, _ns.Variable):
        return _variable_in_place(self, fn, other, op)
    out = _same_dtype(self, fn(self, other), op)
    if out._data.shape != self._data.shape and out.shape != self.shape:
        raise ValueError(f"{_spelled(op)} cannot change the shape: {self.shape} "
                         f"broadcasts to {out.shape}; {_new_tensor(op)}")
    from .inplace import take_value

    take_value(self, out, op)
    return self


def _variable_in_place(v, fn, other, op):
    from .primitive import tape_state

    recording = tape_state.recording
    if recording:
        from .inplace import on_tape, variable_write_refused

        if on_tape(v):
            raise variable_write_refused(v, f"{_spelled(op, v.name)}: ")
    out = _same_dtype(v, fn(v, other), op)
    if recording and out.shape == v.shape and on_tape(out):
        v[...] = out          # a value a tape differentiates: the write is recorded
        return v
    return v._replace(out)    # (which refuses another shape)


_KIND_RANK = {"b": 0, "u": 1, "i": 1, "f": 2, "c": 3}


def _same_dtype(self, out, op):
    if out._data.dtype is self._data.dtype or out.dtype == self.dtype:
        return out
    if _KIND_RANK[out.dtype.kind] > _KIND_RANK[self.dtype.kind]:
        raise TypeError(f"{_spelled(op)} would change {self.dtype} to {out.dtype}; "
                        f"{_new_tensor(op, out.dtype)}")
    return _ns.astype(out, self.dtype)


class InPlaceOperators:
    """Mixed into ``Tensor``: ``x op= y`` updates the object ``x`` (module docstring)."""

    __slots__ = ()

    def __iadd__(self, o):
        # a view's update into its buffer first, inline (the middle of x[a:b] += v)
        if self.__class__ is _View and _update_in_place(self, "+", o):
            return self
        return operate_in_place(self, _ns.add, o, "+", viewed=True)

    def __isub__(self, o):
        if self.__class__ is _View and _update_in_place(self, "-", o):
            return self
        return operate_in_place(self, _ns.subtract, o, "-", viewed=True)

    def __imul__(self, o): return operate_in_place(self, _ns.multiply, o, "*")
    def __itruediv__(self, o): return operate_in_place(self, _ns.divide, o, "/")
    def __ifloordiv__(self, o): return operate_in_place(self, _ns.floor_divide, o, "//")
    def __imod__(self, o): return operate_in_place(self, _ns.remainder, o, "%")
    def __ipow__(self, o): return operate_in_place(self, _ns.pow, o, "**")
    def __imatmul__(self, o): return operate_in_place(self, _ns.matmul, o, "@")
    def __iand__(self, o): return operate_in_place(self, _ns.bitwise_and, o, "&")
    def __ior__(self, o): return operate_in_place(self, _ns.bitwise_or, o, "|")
    def __ixor__(self, o): return operate_in_place(self, _ns.bitwise_xor, o, "^")
    def __ilshift__(self, o): return operate_in_place(self, _ns.bitwise_left_shift, o, "<<")
    def __irshift__(self, o): return operate_in_place(self, _ns.bitwise_right_shift, o, ">>")
