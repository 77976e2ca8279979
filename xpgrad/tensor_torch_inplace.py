"""PyTorch's common in-place Tensor methods, each the xpgrad write it stands for, returning the
tensor itself (so calls chain, as in PyTorch):

==================================  ==========================================
``x.add_(y, alpha=a)``              ``x += a * y``
``x.sub_(y, alpha=a)``              ``x -= a * y``
``x.mul_(y)``, ``x.div_(y)``        ``x *= y``, ``x /= y``
``x.clamp_(min, max)``              ``x[...] = xg.clip(x, min, max)`` (kept in ``x``'s dtype)
``x.zero_()``, ``x.fill_(v)``       ``x[...] = 0``, ``x[...] = v`` (``v`` a number or 0-d)
``x.copy_(src)``                    ``x[...] = src`` (broadcast, cast to ``x``'s dtype)
==================================  ==========================================

So they follow the rules of those writes (``xpgrad/inplace.py``): on a tensor a tape
differentiates, a recorded functional update; a view writes through to its base
(``p.data.mul_(0.9)`` writes into ``p``); a Variable is updated in place, refused while a
recording tape differentiates it (use them outside the tape, as an optimizer step is);
a tensor a tape watches as a gradient source is refused. The arithmetic ones keep ``x``'s dtype
as ``x op= y`` does: a float factor into an integer tensor raises TypeError, as PyTorch's.

>>> import xpgrad as xg
>>> w = xg.Variable([1.0, 2.0], name="w")
>>> w.data.mul_(0.5).add_(xg.asarray([1.0, 1.0]), alpha=2.0).tolist()
[2.5, 3.0]
>>> w.tolist()
[2.5, 3.0]
"""
from __future__ import annotations


#: each arithmetic method's value as a new tensor (what its errors suggest instead)
NEW_VALUE = {"add_": "x + alpha * y", "sub_": "x - alpha * y", "mul_": "x * y",
             "div_": "x / y", "clamp_": "xg.clip(x, min, max)"}


def _scaled(other, alpha):
    return other if isinstance(alpha, (int, float)) and alpha == 1 else alpha * other


def _arithmetic(self, compute, other, name, alpha=1):
    return _operators.operate_in_place(self, compute, other, name, alpha)


def _ns():
    """The xpgrad namespace (``inplace_operators._ns``, set once the package is imported)."""
    return _operators._ns


def _spelled(op, name="x"):
    """How the user wrote the update, for ``inplace_operators.operate_in_place``'s messages:
    ``in-place operator +=``, or one of these methods, ``x.add_()``."""
    return f"{name}.{op}()" if op.endswith("_") else f"in-place operator {op}="


def _new_tensor(op, dtype=None):
    """What computes the value as a new tensor instead (of ``dtype``, where it differs)."""
    expression = NEW_VALUE[op] if op.endswith("_") else f"x {op} y"
    kind = "" if dtype is None else f"{dtype} "
    return f"write x = {expression} for a new {kind}tensor"


class TorchInPlaceMethods:
    """Mixed into ``Tensor``: ``add_ sub_ mul_ div_ clamp_ zero_ fill_ copy_`` (module
    docstring)."""

    __slots__ = ()

    def add_(self, other, *, alpha=1):
        """``self += alpha * other`` (PyTorch's ``add_``); returns ``self``.

        >>> import xpgrad as xg
        >>> xg.asarray([1.0, 2.0]).add_(1.0, alpha=3).tolist()
        [4.0, 5.0]
        """
        return _arithmetic(self, _ns().add, other, "add_", alpha)

    def sub_(self, other, *, alpha=1):
        """``self -= alpha * other`` (PyTorch's ``sub_``); returns ``self``.

        >>> import xpgrad as xg
        >>> xg.asarray([1.0, 2.0]).sub_(xg.asarray([1.0, 1.0]), alpha=0.5).tolist()
        [0.5, 1.5]
        """
        return _arithmetic(self, _ns().subtract, other, "sub_", alpha)

    def mul_(self, other):
        """``self *= other`` (PyTorch's ``mul_``); returns ``self``.

        >>> import xpgrad as xg
        >>> xg.asarray([1.0, 2.0]).mul_(3).tolist()
        [3.0, 6.0]
        """
        return _arithmetic(self, _ns().multiply, other, "mul_")

    def div_(self, other):
        """``self /= other`` (PyTorch's ``div_``, true division); returns ``self``.

        >>> import xpgrad as xg
        >>> xg.asarray([1.0, 2.0]).div_(4).tolist()
        [0.25, 0.5]
        """
        return _arithmetic(self, _ns().divide, other, "div_")

    def clamp_(self, min=None, max=None):
        """``self`` clipped into ``[min, max]`` in place (PyTorch's ``clamp_``, ``xg.clip``'s
        values; one bound may be None, not both); returns ``self``.

        >>> import xpgrad as xg
        >>> xg.asarray([-1.0, 0.5, 2.0]).clamp_(0.0, 1.0).tolist()
        [0.0, 0.5, 1.0]
        """
        if min is None and max is None:
            raise ValueError("clamp_: give min, max or both (both None would change nothing)")
        clip = _ns().clip
        return _arithmetic(self, lambda x, bounds: clip(x, *bounds), (min, max), "clamp_")

    def zero_(self):
        """Every entry set to zero (PyTorch's ``zero_``, ``self[...] = 0``); returns ``self``.

        >>> import xpgrad as xg
        >>> xg.ones(2).zero_().tolist()
        [0.0, 0.0]
        """
        self[...] = 0
        return self

    def fill_(self, value):
        """Every entry set to ``value``, a number or a 0-d tensor (PyTorch's ``fill_``,
        ``self[...] = value``); returns ``self``.

        >>> import xpgrad as xg
        >>> xg.zeros(2).fill_(7.0).tolist()
        [7.0, 7.0]
        """
        if getattr(value, "ndim", 0) != 0:
            raise ValueError(f"fill_: value must be a number or a 0-d tensor, got one of shape "
                             f"{tuple(value.shape)}; copy_ writes a tensor of values")
        self[...] = value
        return self

    def copy_(self, src):
        """``src``'s values written into ``self`` (PyTorch's ``copy_``, ``self[...] = src``:
        broadcast to ``self``'s shape, cast to its dtype); returns ``self``.

        >>> import xpgrad as xg
        >>> xg.zeros((2, 2)).copy_(xg.asarray([1.0, 2.0])).tolist()
        [[1.0, 2.0], [1.0, 2.0]]
        """
        self[...] = src
        return self


# (at the end: inplace_operators imports this module's names; read at call time)
from . import inplace_operators as _operators  # noqa: E402

__all__ = ["TorchInPlaceMethods"]
