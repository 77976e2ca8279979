"""The Tensor's operators and array-style methods, each a call into the xpgrad namespace (so
every one is recorded on tapes like the function it calls). The common arithmetic operators
apply their primitive directly (``bind_operators``), as the namespace function would.

Operators follow the array API standard: ``+ - * / // % ** @``, the comparisons, ``& | ^ ~``
(bitwise on integers, logical on booleans), ``<< >>``, their reflected forms, and unary
``- + abs()``. The in-place forms (``x += y``), which update the object ``x``, are
``inplace_operators.py``'s.

The methods are the names NumPy and PyTorch users reach for, with the standard's semantics
(``axis=``, ``keepdims=``): ``sum mean prod max min std var argmax argmin any all cumsum``,
``reshape flatten transpose permute swapaxes squeeze astype abs conj clip round`` and the
properties ``T mT real imag``.

>>> import xpgrad as xg
>>> x = xg.asarray([[1.0, -2.0]])
>>> (abs(x) * 2 + 1).tolist(), x.T.shape
([[3.0, 5.0]], (2, 1))
>>> i = xg.asarray([7, -7])
>>> (i // 2).tolist(), (i % 2).tolist(), (i & 3).tolist(), (i >> 1).tolist()
([3, -4], [1, 1], [3, 1], [3, -4])
>>> x.sum(axis=1, keepdims=True).tolist(), x.max().item(), x.argmin().item()
([[-1.0]], 1.0, 1)
"""
from __future__ import annotations

from ._args import is_operand, listed_names, pointer, refuse_keywords, refuse_tensor_axis
from . import tf_names as _tf_names
from .tensor_hints import PYTORCH_NAMES as _PYTORCH_NAMES

_ns = None  # the xpgrad namespace; set by xpgrad/__init__ once the ops exist
#: ``Tensor``, ``views.View``, ``primitive.tape_state`` and ``ops.indexing._untaped_view``, set
#: when ``xpgrad.ops.indexing`` loads
_Tensor = _View = _tape_state = _untaped_view = None


class TensorMethods:
    """Mixed into ``Tensor``: operators (``+ - * / ** @ < == & ...``) and NumPy-like methods."""

    __slots__ = ()

    def __dir__(self):
        return listed_names(self)     # without PyTorch's names, which raise (_PYTORCH_NAMES)

    # -- arithmetic operators -------------------------------------------------------------------
    def __add__(self, o): return _ns.add(self, o)
    def __radd__(self, o): return _ns.add(o, self)
    def __sub__(self, o): return _ns.subtract(self, o)
    def __rsub__(self, o): return _ns.subtract(o, self)
    def __mul__(self, o): return _ns.multiply(self, o)
    def __rmul__(self, o): return _ns.multiply(o, self)
    def __truediv__(self, o): return _ns.divide(self, o)
    def __rtruediv__(self, o): return _ns.divide(o, self)
    def __floordiv__(self, o): return _ns.floor_divide(self, o)
    def __rfloordiv__(self, o): return _ns.floor_divide(o, self)
    def __mod__(self, o): return _ns.remainder(self, o)
    def __rmod__(self, o): return _ns.remainder(o, self)
    def __pow__(self, o): return _ns.pow(self, o)
    def __rpow__(self, o): return _ns.pow(o, self)
    def __matmul__(self, o): return _ns.matmul(self, o)
    def __rmatmul__(self, o): return _ns.matmul(o, self)
    def __neg__(self): return _ns.negative(self)
    def __pos__(self): return _ns.positive(self)
    def __abs__(self): return _ns.abs(self)

    # -- comparisons ----------------------------------------------------------------------------
    def __lt__(self, o): return _ns.less(self, o)
    def __le__(self, o): return _ns.less_equal(self, o)
    def __gt__(self, o): return _ns.greater(self, o)
    def __ge__(self, o): return _ns.greater_equal(self, o)
    def __eq__(self, o): return NotImplemented if _incomparable(o) else _ns.equal(self, o)
    def __ne__(self, o): return NotImplemented if _incomparable(o) else _ns.not_equal(self, o)

    # -- bitwise (logical on booleans) ------------------------------------------------------------
    def __invert__(self): return _ns.bitwise_invert(self)
    def __and__(self, o): return _ns.bitwise_and(self, o)
    def __rand__(self, o): return _ns.bitwise_and(o, self)
    def __or__(self, o): return _ns.bitwise_or(self, o)
    def __ror__(self, o): return _ns.bitwise_or(o, self)
    def __xor__(self, o): return _ns.bitwise_xor(self, o)
    def __rxor__(self, o): return _ns.bitwise_xor(o, self)
    def __lshift__(self, o): return _ns.bitwise_left_shift(self, o)
    def __rlshift__(self, o): return _ns.bitwise_left_shift(o, self)
    def __rshift__(self, o): return _ns.bitwise_right_shift(self, o)
    def __rrshift__(self, o): return _ns.bitwise_right_shift(o, self)

    def __getitem__(self, key):
        # getitem's untaped view, inline: the first half of every x[a:b] += v
        if not _tape_state.recording and (self.__class__ is _Tensor or self.__class__ is _View):
            view = _untaped_view(self, key)
            if view is not None:
                return view
        return _ns.getitem(self, key)

    @property
    def at(self):
        """JAX's functional indexed updates: ``x.at[key].set(v)`` (``add``, ``multiply``,
        ``min``, ``max``, ``get``, ...) return a new tensor (``xpgrad/ops/indexed_updates.py``).

        >>> import xpgrad as xg
        >>> xg.zeros(3).at[xg.asarray([0, 0])].add(1.0).tolist()
        [2.0, 0.0, 0.0]
        """
        return _index_updates(self)

    # -- transposes and complex parts --------------------------------------------------------
    @property
    def T(self):
        """The transpose of a 2-D tensor (the standard's ``.T``; ``.mT`` for stacks)."""
        if self.ndim != 2:
            raise ValueError(f".T needs a 2-D tensor, got {self.ndim}-D; use .mT or permute_dims")
        return _ns.permute_dims(self, (1, 0))

    @property
    def mT(self):
        """The transpose of the last two axes."""
        return _ns.matrix_transpose(self)

    @property
    def real(self):
        """The real part (the tensor itself when it is real)."""
        return _ns.real(self) if self.dtype.is_complex else self

    @property
    def imag(self):
        """The imaginary part (zeros when the tensor is real)."""
        return _ns.imag(self) if self.dtype.is_complex else _ns.zeros_like(self)

    def conj(self):
        return _ns.conj(self)

    # -- reductions: the namespace's, with its keywords ----------------------------------------
    def sum(self, axis=None, *, dtype=None, keepdims=False, **unexpected):
        if unexpected:
            refuse_keywords("TensorMethods.sum", unexpected)
        return _ns.sum(self, axis=axis, dtype=dtype, keepdims=keepdims)

    def prod(self, axis=None, *, dtype=None, keepdims=False, **unexpected):
        if unexpected:
            refuse_keywords("TensorMethods.prod", unexpected)
        return _ns.prod(self, axis=axis, dtype=dtype, keepdims=keepdims)

    def mean(self, axis=None, *, keepdims=False, **unexpected):
        if unexpected:
            refuse_keywords("TensorMethods.mean", unexpected)
        return _ns.mean(self, axis=axis, keepdims=keepdims)

    def max(self, axis=None, *, keepdims=False, **unexpected):
        if unexpected:
            refuse_keywords("TensorMethods.max", unexpected)
        if is_operand(axis):
            refuse_tensor_axis("max", axis)
        return _ns.max(self, axis=axis, keepdims=keepdims)

    def min(self, axis=None, *, keepdims=False, **unexpected):
        if unexpected:
            refuse_keywords("TensorMethods.min", unexpected)
        if is_operand(axis):
            refuse_tensor_axis("min", axis)
        return _ns.min(self, axis=axis, keepdims=keepdims)

    def var(self, axis=None, *, correction=0.0, keepdims=False, ddof=None, **unexpected):
        """The variance; ``ddof`` (NumPy's name) is the standard's ``correction``."""
        if unexpected:
            refuse_keywords("TensorMethods.var", unexpected)
        return _ns.var(self, axis=axis, correction=correction, ddof=ddof,
                       keepdims=keepdims)

    def std(self, axis=None, *, correction=0.0, keepdims=False, ddof=None, **unexpected):
        """The standard deviation; ``ddof`` (NumPy's name) is the standard's ``correction``."""
        if unexpected:
            refuse_keywords("TensorMethods.std", unexpected)
        return _ns.std(self, axis=axis, correction=correction, ddof=ddof,
                       keepdims=keepdims)

    def argmax(self, axis=None, *, keepdims=False, **unexpected):
        if unexpected:
            refuse_keywords("TensorMethods.argmax", unexpected)
        return _ns.argmax(self, axis=axis, keepdims=keepdims)

    def argmin(self, axis=None, *, keepdims=False, **unexpected):
        if unexpected:
            refuse_keywords("TensorMethods.argmin", unexpected)
        return _ns.argmin(self, axis=axis, keepdims=keepdims)

    def any(self, axis=None, *, keepdims=False, **unexpected):
        if unexpected:
            refuse_keywords("TensorMethods.any", unexpected)
        return _ns.any(self, axis=axis, keepdims=keepdims)

    def all(self, axis=None, *, keepdims=False, **unexpected):
        if unexpected:
            refuse_keywords("TensorMethods.all", unexpected)
        return _ns.all(self, axis=axis, keepdims=keepdims)

    def cumsum(self, axis=None, **unexpected):
        """``cumulative_sum``; without ``axis``, of the flattened tensor (as NumPy)."""
        if unexpected:
            refuse_keywords("TensorMethods.cumsum", unexpected)
        if axis is None:
            return _ns.cumulative_sum(_ns.reshape(self, (-1,)), axis=0)
        return _ns.cumulative_sum(self, axis=axis)

    # -- shape --------------------------------------------------------------------------------
    def reshape(self, *shape):
        """``x.reshape(2, 3)`` or ``x.reshape((2, 3))``."""
        return _ns.reshape(self, shape[0] if len(shape) == 1 else shape)

    def flatten(self, *torch_dims):
        """A 1-D tensor with the elements in row-major order (NumPy's ``flatten``; it takes
        no axes, so PyTorch's ``x.flatten(1)`` is a TypeError saying what to write)."""
        if torch_dims:
            raise TypeError("Tensor.flatten() takes no axes (NumPy's: every axis into one); "
                            "PyTorch's x.flatten(1) is x.reshape(x.shape[0], -1) (the layer: "
                            "xg.nn.Flatten(start_axis=1))")
        return _ns.reshape(self, (-1,))

    def dot(self, other):
        """NumPy's ``a.dot(b)``, ``np.dot(a, b)``: the sum product over the last axis of ``a``
        and the second-to-last of ``b`` (``a @ b`` for matrices, a scalar for vectors)."""
        from .numpy_dispatch.products import _dot

        return _dot(self, other)

    def ravel(self):
        """``flatten``'s twin under NumPy's (and PyTorch's) other name: the entries in
        row-major order, one axis."""
        return _ns.reshape(self, (-1,))

    def transpose(self, *axes):
        """NumPy's ``transpose``: the axes reversed, or permuted as ``axes`` says
        (``x.transpose(1, 0, 2)`` or ``x.transpose((1, 0, 2))``). PyTorch's
        ``transpose(0, 1)`` swaps two axes: that is ``x.swapaxes(0, 1)`` here (two axes of a
        tensor with more than two are a ValueError saying so)."""
        if not axes:
            axes = tuple(range(self.ndim - 1, -1, -1))
        elif len(axes) == 1 and not isinstance(axes[0], int):
            axes = tuple(axes[0])
        if len(axes) == 2 and self.ndim > 2:
            a, b = axes
            raise ValueError(f"x.transpose({a}, {b}) on a {self.ndim}-D tensor: xpgrad's "
                             f"transpose is NumPy's, which takes a permutation of all "
                             f"{self.ndim} axes; PyTorch's transpose swaps two axes: "
                             f"x.swapaxes({a}, {b}) (or xg.permute_dims(x, axes) with the "
                             f"whole order)")
        return _ns.permute_dims(self, axes)

    def permute(self, *axes):
        """PyTorch's ``permute``: ``x.permute(2, 0, 1)`` or ``x.permute((2, 0, 1))``."""
        if len(axes) == 1 and not isinstance(axes[0], int):
            axes = tuple(axes[0])
        return _ns.permute_dims(self, axes)

    def swapaxes(self, axis1, axis2):
        """The tensor with two axes exchanged."""
        axes = list(range(self.ndim))
        a, b = axes[axis1], axes[axis2]     # IndexError for an axis out of range
        axes[a], axes[b] = b, a
        return _ns.permute_dims(self, tuple(axes))

    def squeeze(self, axis=None, **unexpected):
        """Without ``axis``, every axis of length 1 removed (as NumPy and PyTorch)."""
        if unexpected:
            refuse_keywords("TensorMethods.squeeze", unexpected)
        if axis is None:
            axis = tuple(i for i, n in enumerate(self.shape) if n == 1)
        return _ns.squeeze(self, axis=axis)

    # -- elementwise ----------------------------------------------------------------------------
    def astype(self, dtype, /, *, copy=True, device=None):
        kw = {}
        if copy is not True:
            kw["copy"] = copy
        if device is not None:
            kw["device"] = device
        return _ns.astype(self, dtype, **kw)

    def abs(self):
        return _ns.abs(self)

    def clip(self, min=None, max=None, **unexpected):
        return _ns.clip(self, min, max, **unexpected)

    def round(self):
        return _ns.round(self)

    def register_hook(self, hook):
        """PyTorch's ``t.register_hook(hook)``: ``hook(grad)`` runs when a backward walk has
        this tensor's total gradient; a Tensor it returns replaces the gradient (None leaves
        it). Returns a handle with ``.remove()``. The rules: ``xpgrad/gradient_hooks.py``.

        >>> import xpgrad as xg
        >>> x = xg.asarray([1.0, 2.0])
        >>> with xg.GradientTape() as tape:
        ...     tape.watch(x)
        ...     y = x * x
        ...     _ = y.register_hook(lambda g: g * 10.0)
        ...     total = xg.sum(y)
        >>> tape.gradient(total, x).tolist()
        [20.0, 40.0]
        """
        from .gradient_hooks import register_hook

        return register_hook(self, hook)


for _name, _hint in {**_tf_names.TENSOR, **_PYTORCH_NAMES}.items():
    setattr(TensorMethods, _name, pointer(_name, _hint))


# operator -> (namespace function, operands reversed); unary operators have no second operand
_DIRECT = {"__add__": ("add", False), "__radd__": ("add", True),
           "__sub__": ("subtract", False), "__rsub__": ("subtract", True),
           "__mul__": ("multiply", False), "__rmul__": ("multiply", True),
           "__truediv__": ("divide", False), "__rtruediv__": ("divide", True),
           "__pow__": ("pow", False), "__rpow__": ("pow", True),
           "__lt__": ("less", False), "__le__": ("less_equal", False),
           "__gt__": ("greater", False), "__ge__": ("greater_equal", False),
           "__neg__": ("negative", None), "__abs__": ("abs", None)}


def bind_operators(ns, unary_applier, binary_applier):
    """Make the common operators appliers of their primitive (``appliers.py``) where the
    namespace function is the plain one of one primitive: ``x * y`` runs what
    ``xg.multiply(x, y)`` runs, in one Python call (the reflected ones in two).

    >>> import xpgrad as xg
    >>> xg.Tensor.__mul__.__doc__
    "``multiply`` (``xg.multiply``'s primitive, applied directly)."
    >>> (xg.asarray([2.0]) * 3).tolist(), (3 - xg.asarray([2.0])).tolist()
    ([6.0], [1.0])
    """
    for dunder, (name, reflected) in _DIRECT.items():
        fn = getattr(ns, name)
        prim = getattr(fn, "primitive", None)
        if prim is None or fn.__module__ != "xpgrad.ops._define":
            continue          # a function with its own argument handling keeps it
        if reflected is None:
            op = unary_applier(prim)
        elif reflected:
            op = _reflected(binary_applier(prim))
        else:
            op = binary_applier(prim)
        op.__name__, op.__qualname__ = dunder, f"TensorMethods.{dunder}"
        op.__doc__ = f"``{name}`` (``xg.{name}``'s primitive, applied directly)."
        setattr(TensorMethods, dunder, op)


def _reflected(apply_to):
    def op(self, other):
        return apply_to(other, self)
    return op


def _incomparable(other) -> bool:
    """Whether ``==`` with ``other`` is no array comparison (None, a string): Python then
    answers by identity, so ``x == None`` is False and ``x in [None, 3]`` works, as PyTorch's."""
    return other is None or isinstance(other, (str, bytes))


def _index_updates(x):
    """``IndexUpdates(x)``, its class imported on first call (the ops import the Tensor this
    mixin is part of) and then made directly: an import statement per call cost a microsecond."""
    global _index_updates
    from .ops.indexed_updates import IndexUpdates

    _index_updates = IndexUpdates
    return IndexUpdates(x)
