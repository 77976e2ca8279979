"""Tensor (an array value on one backend) and Variable (a named, trainable Tensor,
``variable.py``'s, re-exported here).

>>> import xpgrad as xg
>>> t = xg.asarray([[1.0, 2.0]])
>>> (t * 2 + 1).numpy().tolist()
[[3.0, 5.0]]
>>> v = xg.Variable([1.0, 2.0], name="v")
>>> v.assign_add([1.0, 1.0]).numpy().tolist()
[2.0, 3.0]
"""
from __future__ import annotations

from copy import deepcopy as _deepcopy

from . import tensor_methods
from .backend import UnknownBackendError, get_backend
from .devices import Device, device_of, to_argument_hint, to_keywords_error
from .inplace_operators import InPlaceOperators
from .tensor_methods import TensorMethods
from .tensor_protocols import TensorProtocols, _check_leaving  # noqa: F401 (creation.py)
from .tensor_torch_inplace import TorchInPlaceMethods


def _values_repr(a) -> str:
    """``repr(a.tolist())`` of a host array, with float16/float32/complex64 entries as the
    shortest decimals that identify them in their own dtype (NumPy's ``str`` of the scalar)."""
    kind, size = a.dtype.kind, a.dtype.itemsize
    if not ((kind == "f" and size < 8) or (kind == "c" and size < 16)):
        return repr(a.tolist())
    return repr(_shortest_values(a, complex if kind == "c" else float))


def _shortest_values(x, conv):
    """``x`` as nested lists of ``conv(str(entry))`` (a function of the module: a nested one
    calling itself would make a reference cycle per call)."""
    return conv(str(x[()])) if x.ndim == 0 else [_shortest_values(e, conv) for e in x]


class _Count(int):
    """``t.size``: the number of entries, an int (the array API's property); calling it, as
    PyTorch's ``t.size()`` / ``t.size(k)``, is a TypeError pointing at ``t.shape``.

    >>> import xpgrad as xg
    >>> xg.ones((2, 3)).size
    6
    """

    __slots__ = ()

    def __call__(self, *args, **kwargs):
        raise TypeError("t.size is the number of entries (an int property, as in the array "
                        "API); PyTorch's t.size() is t.shape, t.size(k) is t.shape[k]")


class Tensor(TensorMethods, InPlaceOperators, TorchInPlaceMethods, TensorProtocols):
    """An array on one backend. Create with ``xg.asarray`` and friends; a write
    (``x[k] = v``, ``x += y``) changes it and the views of it, and tapes record it as a new
    value (``xpgrad/inplace.py``, ``xpgrad/views.py``)."""

    # _key: how tapes know this tensor; 0 until a tape watches or records it, then unique in the
    # process and never reused (tapes hold no Tensors, so an id() could come back). _hooks:
    # unset until register_hook, then {key: its gradient hooks} (gradient_hooks.py)
    __slots__ = ("_data", "_backend", "_key", "_hooks", "__weakref__")
    _trainable = False
    __array_priority__ = 1000   # ndarray (op) Tensor defers to Tensor's reflected operator

    def __init__(self, data, backend=None, dtype=None):
        """``xg.Tensor(data)`` is ``xg.asarray(data)``: the same default dtypes (a Python float
        becomes float32) and checks."""
        from .creation import asarray

        t = asarray(data, dtype=dtype, backend=backend)
        self._data = t._data
        self._backend = t._backend
        self._key = 0

    def __getstate__(self):
        """What ``copy.deepcopy`` and ``pickle`` keep: every slot but the tape key and the
        gradient hooks (the key's), so that a copy is another tensor to the tapes (a target
        network deep-copied from a trained model, a layer cloned into a stack; sharing the
        key, their gradients were summed)."""
        slots = {}
        for cls in type(self).__mro__:
            for name in getattr(cls, "__slots__", ()):
                if name not in ("__weakref__", "_key", "_hooks") and hasattr(self, name):
                    slots[name] = getattr(self, name)
        slots["_key"] = 0
        return None, slots

    def __deepcopy__(self, memo):
        """``copy.deepcopy``: a tensor with a copy of the value, another tensor to the tapes
        (``__getstate__``). As in PyTorch, only graph leaves copy: a tensor that a live
        GradientTape computed from a watched one is a RuntimeError, since its copy would be cut
        from the tape (a gradient through it would come back None). Variables and the tensors
        a tape watches are leaves; so is any tensor once no live tape differentiates it.

        >>> import copy, xpgrad as xg
        >>> w = xg.Variable([1.0, 2.0], name="w")
        >>> with xg.GradientTape() as tape:
        ...     y = w * 2.0
        ...     w2 = copy.deepcopy(w)                      # a leaf: copied, not watched
        ...     copy.deepcopy(y)
        Traceback (most recent call last):
        ...
        RuntimeError: copy.deepcopy: only tensors created explicitly by the user (graph ...
        """
        if self._key:
            from .tape import LIVE_TAPES

            key = self._key
            if any(key in tape._keys and key not in tape._watched for tape in list(LIVE_TAPES)):
                raise RuntimeError(
                    "copy.deepcopy: only tensors created explicitly by the user (graph leaves: "
                    "Variables, tensors a tape watches) support the deepcopy protocol while a "
                    "GradientTape differentiates them (as in PyTorch); this one was computed on "
                    "a live tape, and its copy would be cut from it. Copy the value off the "
                    "tape with xg.stop_gradient(t), or keep it on the tape with "
                    "xg.asarray(t, copy=True)")
        cls = type(self)
        new = cls.__new__(cls)
        memo[id(self)] = new
        own, slots = _deepcopy(self.__getstate__(), memo)
        if own:
            vars(new).update(own)
        for name, value in slots.items():
            setattr(new, name, value)
        return new

    # -- basic properties ----------------------------------------------------------------------
    @property
    def shape(self) -> tuple:
        return tuple(self._data.shape)

    @property
    def dtype(self):
        return self._backend.xg_dtype(self._data.dtype)

    @property
    def ndim(self) -> int:
        return self._data.ndim

    @property
    def size(self) -> int:
        n = 1
        for s in self._data.shape:
            n *= s
        return _Count(n)

    @property
    def backend(self):
        return self._backend

    @property
    def device(self):
        """Where this tensor lives: ``xg.Device(backend name, native device)``."""
        return device_of(self._backend, self._data)

    def to_device(self, device, /, *, stream=None) -> "Tensor":
        """This value on ``device`` (an ``xg.Device`` or a backend's name); recorded on tapes."""
        return _to_device(self, device, stream=stream)

    @property
    def data(self):
        """PyTorch's ``t.data``: this value cut from the tapes (as ``xg.stop_gradient(t)``),
        sharing the buffer: a write into it (``p.data[:] = q``, ``p.data *= 0.9``) writes into
        ``t``, as any write (``xpgrad/views.py``; a Variable a recording tape watches refuses
        it). ``p.data = q`` is ``p.assign(q)`` for a Variable. A NumPy array of the value is
        ``t.numpy()``. (Before 2026-12-06 this was the backend's array, which xpgrad's own code
        reads as ``t._data``.)

        >>> import xpgrad as xg
        >>> target = xg.Variable([1.0, 2.0], name="target")
        >>> target.data *= 0.5                   # torch: target.data.mul_(0.5)
        >>> target.data = [3.0, 4.0]             # torch: target.data = q (target.assign(q))
        >>> target.tolist()
        [3.0, 4.0]
        """
        return _data_view(self)

    @data.setter
    def data(self, value):
        if value.__class__ is _View and value._base is self and value._how[0] is _DETACHED:
            return                               # ``t.data op= y``: written through already
        assign = getattr(self, "assign", None)
        if assign is None:
            raise AttributeError("t.data = value: a Tensor's value changes by a write into it, "
                                 "t[...] = value (its shape kept), or bind the name to a new "
                                 "tensor; a Variable's by v.assign(value)")
        assign(value, read_value=False)

    @property
    def base(self):
        """None: this tensor is no view (NumPy's ``a.base`` of an array that owns its data,
        PyTorch's ``t._base``). A view (``x[0]``, ``x.T``, ``t.data``) answers the tensor it
        was taken from.

        >>> import xpgrad as xg
        >>> x = xg.zeros((2, 3))
        >>> x.base is None, x[0].base is x, x.T.base is x
        (True, True, True)
        """
        return None

    def numpy(self):
        """A NumPy array with this tensor's value (a copy for device backends)."""
        return self._backend.to_numpy(self._data)

    def item(self):
        """The value of a one-element tensor as a Python scalar."""
        if self.size != 1:
            raise ValueError(f"item() needs a tensor with one element, got shape {self.shape}")
        return self.numpy().reshape(()).item()

    def tolist(self):
        return self.numpy().tolist()

    def to(self, backend=None, **torch_keywords) -> "Tensor":
        """This value on another backend (a name, or an ``xg.Device``, as ``x.to(y.device)``
        in PyTorch; an explicit copy where memory spaces differ).

        Tapes record the move, so gradients flow back to this tensor's backend. PyTorch's other
        uses (a dtype, ``dtype=``, ``device=``, ``non_blocking=``) are a TypeError saying what
        xpgrad calls them.

        >>> import xpgrad as xg
        >>> xg.ones(2).to(xg.ones(1).device).device
        Device('numpy', 'cpu')
        """
        if torch_keywords or backend is None:
            raise TypeError(to_keywords_error(torch_keywords))
        if isinstance(backend, Device):
            return self.to_device(backend)
        try:
            be = get_backend(backend)
        except (UnknownBackendError, TypeError) as e:
            kind, hint = to_argument_hint(backend)
            if hint is None:
                raise
            error = TypeError if kind == "dtype" else type(e)    # a torch habit: t.to(dtype)
            raise error(f"Tensor.to: {e}; {hint}") from None
        if be is self._backend:
            return self
        return _transfer(self, be)

    # -- Python protocol -----------------------------------------------------------------------
    def __repr__(self) -> str:
        """The values at their own precision (a float32 0.1 shows as 0.1, as NumPy prints it,
        not as its float64 expansion), the dtype and the backend.

        >>> import xpgrad as xg
        >>> xg.asarray([0.1, 2.5], dtype=xg.float32)
        Tensor([0.1, 2.5], dtype=float32, backend=numpy)
        """
        body = _values_repr(self.numpy()) if self.size <= 1000 else f"<{self.shape}>"
        return f"{type(self).__name__}({body}, dtype={self.dtype}, backend={self._backend.name})"

    def __format__(self, spec: str) -> str:
        """A 0-d tensor formats as its number (``f"{loss:.4f}"``), as in PyTorch; others take
        no format spec.

        >>> import xpgrad as xg
        >>> f"loss {xg.asarray(0.123456):.3f}"
        'loss 0.123'
        """
        if self.ndim == 0 and spec:
            return format(self.item(), spec)
        return object.__format__(self, spec)

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    def __iter__(self):
        if self.ndim == 0:      # at iter(), as NumPy and PyTorch: np.iterable(t) is then False
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self._data.shape[0]))

    def __bool__(self) -> bool:
        if self.size != 1:
            raise ValueError("the truth value of a tensor with more than one element is "
                             "ambiguous; use xg.any or xg.all")
        return bool(self.item())

    def __float__(self):
        return float(self._scalar("float"))

    def __complex__(self):
        return complex(self._scalar("complex"))

    def __int__(self):
        return int(self._scalar("int"))

    def _scalar(self, what):
        # TypeError, as NumPy 2 and JAX raise (the standard converts 0-d arrays)
        if self.ndim != 0:
            raise TypeError(f"{what}() needs a 0-d tensor, got shape {self.shape}; read a "
                            f"one-element tensor with .item()")
        return self.item()

    def __index__(self):
        if self.dtype.kind not in "iub":       # a bool indexes, as Python's bool does
            raise TypeError(f"only integer tensors can be used as an index, got {self.dtype}")
        return int(self._scalar("index"))

    __hash__ = object.__hash__

    def __setitem__(self, key, value):
        """``x[key] = value``: ``x`` now holds a new value (``xpgrad/inplace.py``): recorded as a
        functional update on the tapes that differentiate ``x`` or ``value``; its views see it
        (``xpgrad/views.py``), other tensors never change (a buffer something else holds is
        copied first)."""
        if value.__class__ is _View and value._index is key and value._base is self:
            return      # x[key] op= y's write-back: the view it read wrote through already
        _write(self, key, value)


#: ``inplace.write``, set when ``xpgrad.inplace`` loads (it imports this module); ``views``'
#: ``data_view``, ``View`` and ``DETACHED``, when it does
_write = _data_view = _View = _DETACHED = None

_new = object.__new__


def _wrap(data, backend) -> Tensor:
    t = _new(Tensor)
    t._data = data
    t._backend = backend
    t._key = 0
    return t


def _keyed(data, backend, key) -> Tensor:
    """A Tensor that tapes take for the one with ``key``: a recorded value brought back."""
    t = _new(Tensor)
    t._data = data
    t._backend = backend
    t._key = key
    return t


def _transfer(tensor, backend):
    """``primitive.transfer``, imported on first call (primitive.py imports this module) and
    then called directly: an import statement per call cost about a microsecond."""
    global _transfer
    from .primitive import transfer

    _transfer = transfer
    return transfer(tensor, backend)


def _to_device(tensor, device, stream=None):
    """``creation.to_device``, imported on first call (creation.py imports this module) and
    then called directly: an import statement per call cost about a microsecond."""
    global _to_device
    from .creation import to_device

    _to_device = to_device
    return to_device(tensor, device, stream=stream)


from .variable import Variable  # noqa: E402,F401  (re-exported; it subclasses Tensor)
# last: views.py imports this module's Tensor (t.data's view, read on every call)
from .views import DETACHED as _DETACHED, View as _View, data_view as _data_view  # noqa: E402
