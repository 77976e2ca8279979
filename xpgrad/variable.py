"""Variable: a named, trainable Tensor whose value can be replaced (``assign``, and the
optimizers' in-place updates); ``xpgrad.tensor`` re-exports it beside Tensor.

>>> import xpgrad as xg
>>> v = xg.Variable([1.0, 2.0], name="v")
>>> v.assign_sub([1.0, 1.0]).tolist(), v.trainable
([0.0, 1.0], True)
"""
from __future__ import annotations

import threading
import weakref

from ._args import flag
from .tensor import Tensor, _wrap

#: every Variable alive, however it was made (constructed, unpickled, copied: each calls
#: ``Variable.__new__``); an ``xg.function`` trace captures them (``jit.tracer.live_variables``)
_LIVE = weakref.WeakSet()
_LIVE_LOCK = threading.Lock()


def live_variables() -> list:
    """The Variables alive in this process, in no particular order.

    >>> import xpgrad as xg
    >>> v = xg.Variable([1.0])
    >>> any(u is v for u in live_variables())
    True
    """
    with _LIVE_LOCK:
        return list(_LIVE)


class Variable(Tensor):
    """A named, trainable Tensor whose value can be replaced; tapes watch it automatically.

    >>> import xpgrad as xg
    >>> w = xg.Variable(xg.zeros((2,)), name="w")
    >>> with xg.GradientTape() as tape:
    ...     y = xg.sum(w * 3.0)
    >>> tape.gradient(y, w).tolist()
    [3.0, 3.0]
    """

    __slots__ = ("_trainable", "name")

    def __new__(cls, *args, **kwargs):
        self = super().__new__(cls)
        with _LIVE_LOCK:
            _LIVE.add(self)
        return self

    def __init__(self, initial_value, name=None, trainable=None, dtype=None, backend=None,
                 **unexpected):
        """``trainable``: None (the default) trains floating-point (real or complex) values
        only; True asks for training and raises TypeError for other dtypes."""
        try:
            self._initialize(initial_value, name, trainable, dtype, backend, unexpected)
        except BaseException:
            # no half-built Variable (without a value) stays live; not _LIVE.discard(self),
            # which compares weak references by their referents' __eq__ (elementwise here)
            with _LIVE_LOCK:
                for ref in [r for r in _LIVE.data if r() is self]:
                    _LIVE.data.discard(ref)
            raise

    def _initialize(self, initial_value, name, trainable, dtype, backend, unexpected):
        if "requires_grad" in unexpected:
            raise TypeError("Variable() got an unexpected keyword argument 'requires_grad': a "
                            "Variable is what PyTorch's requires_grad=True makes (trainable=True "
                            "is the default for floats); requires_grad=False is "
                            "trainable=False")
        if "constraint" in unexpected:
            raise TypeError("Variable() got an unexpected keyword argument 'constraint': "
                            "optimizers here apply no projection after their step "
                            "(tf.Variable's constraint=); project after it, "
                            "w.assign(xg.clip(w, low, high)) for bounds, as PyTorch's "
                            "p.clamp_(low, high) under no_grad")
        if unexpected:
            from .tf_names import VARIABLE_KEYWORDS

            key = next(iter(unexpected))
            hint = VARIABLE_KEYWORDS.get(key)
            raise TypeError(f"Variable() got an unexpected keyword argument {key!r}"
                            + (f": {hint}" if hint else ""))
        from .creation import named_asarray

        if trainable is not None:
            trainable = flag(trainable, "trainable", "Variable")
        t = named_asarray(initial_value, "Variable: initial_value", dtype=dtype,
                          backend=backend)
        if trainable and not t.dtype.is_inexact:
            raise TypeError(f"Variable {name or 'Variable'!r} of dtype {t.dtype} cannot be "
                            "trainable: only floating-point values have gradients (give "
                            "dtype=xg.float32, or trainable=False)")
        self._data = t._backend.owned_copy(t._data)
        self._backend = t._backend
        self._key = 0
        self._trainable = (trainable is None or trainable) and t.dtype.is_inexact
        self.name = name or "Variable"

    @property
    def trainable(self) -> bool:
        """Whether optimizers train it and tapes watch it by themselves; settable, as Keras 3's
        ``variable.trainable`` (PyTorch's ``p.requires_grad_(False)``: freeze one weight, e.g.
        a bias, without freezing its module).

        >>> import xpgrad as xg
        >>> lin = xg.nn.Linear(2, 3, rng=0)
        >>> lin.b.trainable = False
        >>> [v.name for v in lin.trainable_variables]
        ['linear/w']
        """
        return self._trainable

    @trainable.setter
    def trainable(self, value):
        value = flag(value, "trainable", "Variable")
        if value and not self.dtype.is_inexact:
            raise TypeError(f"Variable {self.name!r} has dtype {self.dtype} and cannot be "
                            "trainable: only floating-point values have gradients")
        self._trainable = value
        from .nn.module_cache import changed

        changed()                       # the modules' cached trainable_variables

    def numpy(self):
        """A NumPy copy of the current value: later updates (the optimizer writes in place) do
        not reach it, as ``tf.Variable.numpy()``.

        >>> import xpgrad as xg
        >>> v = xg.Variable([1.0, 2.0])
        >>> snapshot = v.numpy()
        >>> _ = v.assign([5.0, 6.0])
        >>> snapshot.tolist()
        [1.0, 2.0]
        """
        out = self._backend.to_numpy(self._data)
        if out is self._data or getattr(out, "base", None) is not None:
            out = out.copy()
        return out

    def read_value(self) -> Tensor:
        """A Tensor holding a copy of the current value, which the tapes differentiate as a
        read of the variable (TensorFlow's ``read_value``)."""
        if _recording():
            return _asarray(self, dtype=None, backend=self._backend, copy=True)
        return _wrap(self._backend.xp.asarray(self._data, copy=True), self._backend)

    def _coerce(self, value, what):
        _refuse_lossy_cast(value, self, what)
        t = _asarray(value, dtype=self.dtype, backend=self._backend)
        if t.shape != self.shape:
            raise ValueError(f"{what}: value of shape {t.shape} does not match variable "
                             f"{self.name!r} of shape {self.shape}")
        return t._data

    def assign(self, value, read_value=True):
        """Replace the value by a copy of ``value`` (same shape; cast to the variable's dtype
        within its kind: a float into an integer variable, a complex into a real one, or a
        number into a bool one, is a TypeError rather than a truncation; an integer the
        variable's integer dtype cannot hold is an OverflowError rather than a wrap-around):
        changing ``value`` afterwards does not change the variable, nor training ``value``.
        Returns the variable (so calls chain), or None with ``read_value=False``, as
        TensorFlow's ``assign``.

        >>> import xpgrad as xg
        >>> v = xg.Variable([1.0, 2.0])
        >>> v.assign([3.0, 4.0]).assign_add([1.0, 1.0]).tolist()
        [4.0, 5.0]
        >>> print(v.assign([0.0, 0.0], read_value=False))
        None
        >>> xg.Variable([1], dtype=xg.int32, name="n").assign([2**40])
        Traceback (most recent call last):
        ...
        OverflowError: assign: the value 1099511627776 is out of range for variable 'n' of \
dtype int32 (-2147483648 to 2147483647); it would wrap around. Clip it, or give the variable \
a wider dtype
        """
        if not copy_into_sole_buffer(self, value):
            self._data = self._backend.owned_copy(self._coerce(value, "assign"))
        return self if read_value is True else _read(self, read_value, "assign")

    def _replace(self, fresh) -> "Variable":
        """``assign`` of a Tensor this library just made, which nothing else holds: no copy."""
        self._data = self._coerce(fresh, "assign")
        return self

    def assign_add(self, delta, read_value=True):
        """Add ``delta`` (``assign``'s rules); the variable, or None with ``read_value=False``."""
        if not update_sole_buffer(self, "assign_add", delta, same_shape=True):
            # asarray: NumPy's sum of two 0-d arrays is a scalar, which has no memory to write in
            self._data = self._backend.xp.asarray(self._data + self._coerce(delta, "assign_add"))
        return self if read_value is True else _read(self, read_value, "assign_add")

    def assign_sub(self, delta, read_value=True):
        """Subtract ``delta`` (``assign``'s rules); the variable, or None with
        ``read_value=False``."""
        if not update_sole_buffer(self, "assign_sub", delta, same_shape=True):
            self._data = self._backend.xp.asarray(self._data - self._coerce(delta, "assign_sub"))
        return self if read_value is True else _read(self, read_value, "assign_sub")

    def __repr__(self) -> str:
        return f"Variable({self.name!r}, shape={self.shape}, dtype={self.dtype}, " \
               f"backend={self._backend.name})"


#: ``fast_updates``' NumPy paths, set when it loads (it imports this module)
copy_into_sole_buffer = update_sole_buffer = None


def _read(variable, read_value, what):
    """What ``assign`` returns: the variable, or None for ``read_value=False``."""
    return variable if flag(read_value, "read_value", f"Variable.{what}") else None


def _refuse_lossy_cast(value, variable, what):
    """TypeError for a ``value`` whose kind the variable's dtype would lose: a float (or a
    complex) written into an integer or bool variable, a complex into a real one, a number
    into a bool variable (``bool(2)`` is truthiness, not a conversion); OverflowError for an
    integer the variable's integer dtype cannot hold (it would wrap). Bools, and values of a
    kind the dtype holds, pass (within a kind a float is rounded to the dtype, as TensorFlow
    converts a NumPy array)."""
    target = variable.dtype
    if target.kind == "c":
        return
    if isinstance(value, bool):
        return
    if isinstance(value, int):
        kind = "i"
    elif isinstance(value, complex):
        kind = "c"
    elif isinstance(value, float):
        kind = "f"
    else:
        dtype = getattr(value, "dtype", None)
        kind = getattr(dtype, "kind", None)
        if kind is None:
            value = _asarray(value, dtype=None, backend=variable._backend)  # a list: its kind
            kind = value.dtype.kind
    if kind == "c":
        way = "xg.real(value) keeps the real part"
    elif kind == "f" and target.kind in "iu":
        way = f"xg.astype(value, {target}) rounds toward zero"
    elif kind in "iuf" and target.kind == "b":
        number = "an integer" if kind in "iu" else "a floating"
        raise TypeError(f"{what}: variable {variable.name!r} has dtype bool, and {number} "
                        "value would become its truthiness (2 -> True, 0.5 -> True); give "
                        "booleans (value != 0)")
    else:
        if kind in "iu" and target.kind in "iu":
            _refuse_out_of_range(value, variable, what)
        return
    kind = "complex floating" if kind == "c" else "floating"
    raise TypeError(f"{what}: variable {variable.name!r} has dtype {target}, which would drop "
                    f"part of a {kind} value; convert it explicitly first ({way})")


def _refuse_out_of_range(value, variable, what):
    """OverflowError naming the variable and the first value out of its integer dtype's range
    (a narrower dtype would wrap it: int64 2**40 into int32 is 0). An array's range is read
    only where its dtype is wider than the variable's (one transfer from a device; under
    ``xg.function`` a guard that replays check, as an index's bounds)."""
    be = variable._backend
    xp = be.xp
    info = xp.iinfo(variable._data.dtype)
    if isinstance(value, int):
        lo = hi = value
    else:
        raw = value._data if isinstance(value, Tensor) else be.asarray(value)
        if xp.can_cast(raw.dtype, variable._data.dtype) or not raw.size:
            return
        lo, hi = be.check_index_range(raw)
    bad = lo if lo < info.min else hi if hi > info.max else None
    if bad is not None:
        raise OverflowError(f"{what}: the value {bad} is out of range for variable "
                            f"{variable.name!r} of dtype {variable.dtype} ({info.min} to "
                            f"{info.max}); it would wrap around. Clip it, or give the "
                            "variable a wider dtype")


def _recording():
    """Whether a tape records, through ``appliers.tape_state`` (imported on first call:
    appliers.py imports tensor.py, which imports this module)."""
    global _recording
    from .appliers import tape_state

    _recording = lambda: tape_state.recording        # noqa: E731
    return _recording()


def _asarray(value, dtype, backend, copy=None):
    """``creation.asarray``, imported on first call (creation.py imports this module through
    tensor.py) and then called directly: an import statement per call cost about a
    microsecond on every ``assign``."""
    global _asarray
    from .creation import asarray

    _asarray = asarray
    return asarray(value, dtype=dtype, backend=backend, copy=copy)
