"""``Distribution``, the base of ``xg.distributions``, and what the families share: parameters
made Tensors of one backend and dtype (``as_params``), shapes, the generator of a draw, and the
checks of values (``validate_args``).

Parameters may be Python numbers, lists, NumPy arrays or Tensors/Variables: Tensors keep their
backend and are recorded on tapes (gradients flow back to them through every method but
``sample``); the others become Tensors on that backend (or the current one). The dtype is the
floating result type of the array parameters, float32 where all are Python numbers or lists
(PyTorch's default dtype, and ``xg.asarray``'s for Python floats).

>>> import xpgrad as xg
>>> d = xg.distributions.Normal(0.0, xg.asarray([1.0, 2.0], dtype=xg.float64))
>>> d.batch_shape, d.event_shape, d.loc.dtype
((2,), (), xpgrad.float64)
"""
from __future__ import annotations

import numbers
import operator

import numpy as np

from .. import dtypes as _dt
from .._args import refuse_keywords
from ..backend import MixedBackendError
from ..creation import _backend, asarray
from ..nn.init._common import as_rng, check_rng
from ..ops import astype, broadcast_to, sqrt
from ..tape import stop_gradient
from ..tensor import Tensor
from . import constraints as _c


class Distribution:
    """A batch of probability distributions, PyTorch's ``torch.distributions.Distribution``.

    ``batch_shape`` indexes independent distributions, ``event_shape`` is the shape of one
    draw; ``sample(sample_shape)`` has shape ``sample_shape + batch_shape + event_shape``.
    ``validate_args`` (default True, as PyTorch's; ``Distribution.set_default_validate_args``)
    checks the parameters when made and the values given to ``log_prob``/``cdf``/``icdf``:
    a ValueError names the argument and what it must be.
    """

    has_rsample = False
    #: {parameter name: constraint}, checked in ``__init__`` when validating
    arg_constraints: dict = {}
    _validate_default = True

    def __init__(self, batch_shape=(), event_shape=(), validate_args=None):
        self._batch_shape, self._event_shape = tuple(batch_shape), tuple(event_shape)
        self._validate_args = self._validating(validate_args)
        if self._validate_args:
            for name, constraint in self.arg_constraints.items():
                if name in self.__dict__:
                    _c.require(type(self).__name__, name, constraint, self.__dict__[name])

    def _init_parameters(self, who, validate_args, **named):
        """An element-wise family's constructor: ``named`` made Tensors of one backend and
        floating dtype (``as_params``), broadcast together (``broadcast_all``) and set as
        attributes of those names; the batch shape is theirs."""
        self.backend, self.dtype, p = as_params(who, **named)
        shape, p = broadcast_all(who, p)
        for name, value in p.items():
            setattr(self, name, value)
        Distribution.__init__(self, shape, validate_args=validate_args)

    def _validating(self, validate_args) -> bool:
        """Whether to check: ``validate_args``, or the default where it is None."""
        if validate_args is not None and not isinstance(validate_args, bool):
            raise TypeError(f"{type(self).__name__}: validate_args must be True, False or None, "
                            f"got {validate_args!r}")
        return Distribution._validate_default if validate_args is None else validate_args

    @staticmethod
    def set_default_validate_args(value: bool) -> None:
        """Whether distributions made with ``validate_args=None`` check their arguments
        (PyTorch's ``Distribution.set_default_validate_args``)."""
        if not isinstance(value, bool):
            raise TypeError(f"set_default_validate_args: value must be True or False, got "
                            f"{value!r}")
        Distribution._validate_default = value

    # -- shapes -----------------------------------------------------------------------------
    @property
    def batch_shape(self) -> tuple:
        return self._batch_shape

    @property
    def event_shape(self) -> tuple:
        return self._event_shape

    def _extended_shape(self, sample_shape=()) -> tuple:
        return sample_shape_arg(sample_shape) + self._batch_shape + self._event_shape

    def expand(self, batch_shape):
        """The same distribution over a larger batch: each parameter broadcast (a view, not
        a copy) to ``batch_shape`` (PyTorch's ``expand``); ``batch_shape`` must be one the
        current batch shape broadcasts to. Gradients flow back to the original parameters.

        >>> import xpgrad as xg
        >>> d = xg.distributions.Normal(xg.asarray([0.0, 1.0]), 1.0).expand((3, 2))
        >>> d.batch_shape, d.loc.shape, d.sample(rng=0).shape
        ((3, 2), (3, 2), (3, 2))
        """
        new = self._expanded_copy(batch_shape)
        old = len(self._batch_shape)
        for name in self.arg_constraints:
            value = self.__dict__.get(name)
            if isinstance(value, Tensor):
                setattr(new, name, broadcast_to(value, new._batch_shape
                                                + tuple(value.shape[old:])))
        return new

    def _expanded_copy(self, batch_shape):
        """A shallow copy of this distribution with ``batch_shape`` checked and set; the
        family's ``expand`` broadcasts the parameters on it."""
        who = f"{type(self).__name__}.expand"
        entries = batch_shape if isinstance(batch_shape, (tuple, list)) else (batch_shape,)
        if not all(isinstance(s, numbers.Integral) and not isinstance(s, bool)
                   for s in entries):
            raise TypeError(f"{who}: batch_shape must be a tuple of ints, got {batch_shape!r}")
        shape = tuple(operator.index(s) for s in entries)
        if any(s < 0 for s in shape):
            raise ValueError(f"{who}: batch_shape must not have negative entries, got {shape}")
        try:
            fits = tuple(np.broadcast_shapes(self._batch_shape, shape)) == shape
        except ValueError:
            fits = False
        if not fits:
            raise ValueError(f"{who}: batch_shape {shape} is not one the current batch_shape "
                             f"{self._batch_shape} broadcasts to")
        new = object.__new__(type(self))
        new.__dict__.update(self.__dict__)
        new._batch_shape = shape
        return new

    # -- moments and the rest, per family ----------------------------------------------------
    @property
    def mean(self) -> Tensor:
        raise NotImplementedError(f"{type(self).__name__} has no mean")

    @property
    def mode(self) -> Tensor:
        raise NotImplementedError(f"{type(self).__name__} has no mode")

    @property
    def variance(self) -> Tensor:
        raise NotImplementedError(f"{type(self).__name__} has no variance")

    @property
    def stddev(self) -> Tensor:
        return sqrt(self.variance)

    @property
    def support(self):
        """The constraint a value of ``log_prob`` must satisfy."""
        raise NotImplementedError(f"{type(self).__name__} has no support")

    def log_prob(self, value) -> Tensor:
        raise NotImplementedError(f"{type(self).__name__} has no log_prob")

    def cdf(self, value) -> Tensor:
        raise NotImplementedError(f"{type(self).__name__} has no cdf")

    def icdf(self, value) -> Tensor:
        raise NotImplementedError(f"{type(self).__name__} has no icdf")

    def entropy(self) -> Tensor:
        raise NotImplementedError(f"{type(self).__name__} has no entropy")

    # -- sampling ----------------------------------------------------------------------------
    def rsample(self, sample_shape=(), *, rng=None) -> Tensor:
        """A reparameterized draw: gradients flow back to the parameters (the pathwise
        estimator), where the family has one (``has_rsample``)."""
        raise NotImplementedError(
            f"{type(self).__name__} has no reparameterized sampler (rsample); draw with "
            f"sample() and weight log_prob by the reward (the score-function estimator)")

    def sample(self, sample_shape=(), *, rng=None) -> Tensor:
        """A draw of shape ``sample_shape + batch_shape + event_shape``, cut from the tapes.
        ``rng``: an ``xg.random.Generator``, an int seed, or None (fresh entropy), as
        ``xg.nn.Dropout``'s; the same generator state gives the same draw on every backend
        that shares NumPy's numbers (numpy, numba)."""
        return stop_gradient(self.rsample(sample_shape, rng=rng))

    def _noise(self, draw, sample_shape, rng):
        """``draw(generator, shape, dtype)`` for this distribution's extended shape, on its
        backend (a generator of another backend draws there, then the draw moves)."""
        shape = self._extended_shape(sample_shape)
        gen = as_rng(check_rng(rng, f"{type(self).__name__}.sample"), self.backend)
        out = draw(gen, shape, self.dtype)
        return out if out.backend is self.backend else out.to(self.backend)

    # -- values ------------------------------------------------------------------------------
    def _value(self, value, who="log_prob", support=None, dtype=None):
        """``value`` as a Tensor on this distribution's backend (Python numbers and arrays in
        its dtype), its shape and values checked when validating."""
        if isinstance(value, bool) or not isinstance(value, (Tensor, numbers.Number, list,
                                                             tuple, np.ndarray, np.generic)):
            raise TypeError(f"{type(self).__name__}.{who}: value must be a Tensor, an array or "
                            f"a number, got {type(value).__name__}")
        if not isinstance(value, Tensor):
            value = asarray(np.asarray(value), dtype=dtype or self.dtype, backend=self.backend)
        elif dtype is None and not value.dtype.is_floating:    # int or bool labels: 0/1, ...
            value = astype(value, self.dtype)
        if self._validate_args:
            self._check_shape(tuple(value.shape), who)
            _c.require(f"{type(self).__name__}.{who}", "value",
                       self.support if support is None else support, value)
        return value

    def _check_shape(self, shape, who):
        name = f"{type(self).__name__}.{who}"
        n = len(self._event_shape)
        if n and shape[len(shape) - n:] != self._event_shape:
            raise ValueError(f"{name}: value's rightmost axes must be the event shape "
                             f"{self._event_shape}, got shape {shape}")
        expected = self._batch_shape + self._event_shape
        for i, j in zip(reversed(shape), reversed(expected)):
            if i != 1 and j != 1 and i != j:
                raise ValueError(f"{name}: value of shape {shape} does not broadcast with "
                                 f"batch_shape + event_shape {expected}")

    def __repr__(self):
        names = ", ".join(f"{k}: {tuple(self.__dict__[k].shape)}" for k in self.arg_constraints
                          if isinstance(self.__dict__.get(k), Tensor))
        return f"{type(self).__name__}({names})"


class LocationScale(Distribution):
    """A real-valued family given by ``loc`` and a positive ``scale``, broadcast together
    (Normal, Laplace): its mean and mode are ``loc``."""

    arg_constraints = {"loc": _c.real, "scale": _c.positive}
    support = _c.real
    has_rsample = True

    def __init__(self, loc, scale, validate_args=None, **unexpected):
        if unexpected:      # the family's name, not this base class's
            refuse_keywords(type(self).__name__, unexpected)
        self._init_parameters(type(self).__name__, validate_args, loc=loc, scale=scale)

    @property
    def mean(self):
        return self.loc

    @property
    def mode(self):
        return self.loc


def sample_shape_arg(sample_shape) -> tuple:
    """``sample_shape`` as a tuple of non-negative ints (an int is one axis)."""
    if isinstance(sample_shape, bool):
        raise TypeError(f"sample_shape must be a tuple of ints, got {sample_shape!r}")
    try:
        shape = ((operator.index(sample_shape),) if not isinstance(sample_shape, (tuple, list))
                 else tuple(operator.index(s) for s in sample_shape))
    except TypeError:
        raise TypeError(f"sample_shape must be a tuple of ints, got {sample_shape!r}") from None
    if any(s < 0 for s in shape):
        raise ValueError(f"sample_shape must not have negative entries, got {shape}")
    return shape


def as_params(who, event_ndims=None, **named):
    """``(backend, dtype, {name: Tensor})``: the parameters made Tensors of one backend and
    floating dtype, not yet broadcast. ``event_ndims`` {name: least number of axes}. A family
    passes only the parameters it uses (``one_of`` picks probs or logits), so a None here is
    one the user left unset: a TypeError naming it.

    >>> be, dtype, p = as_params("Normal", loc=0.0, scale=[1.0, 2.0])
    >>> dtype, p["scale"].shape
    (xpgrad.float32, (2,))
    >>> as_params("Normal", loc=None, scale=1.0)
    Traceback (most recent call last):
    ...
    TypeError: Normal: loc must be a number, an array or a Tensor, got None
    """
    for name, value in named.items():
        if value is None:
            raise TypeError(f"{who}: {name} must be a number, an array or a Tensor, got None")
    given = dict(named)
    backend, dtypes = None, []
    for name, value in given.items():
        if isinstance(value, Tensor):
            if backend is not None and value.backend is not backend:
                raise MixedBackendError(f"{who}: the parameters are Tensors of two backends "
                                        f"({backend.name} and {value.backend.name}, {name}); "
                                        f"move one with .to(...)")
            backend = value.backend
            if value.dtype.is_floating:
                dtypes.append(value.dtype)
            elif value.dtype.kind not in "iub":
                raise TypeError(f"{who}: {name} must be real, got a {value.dtype} tensor")
        elif isinstance(value, bool) or isinstance(value, str):
            raise TypeError(f"{who}: {name} must be a number, an array or a Tensor, got "
                            f"{value!r}")
        elif isinstance(value, np.floating):        # a NumPy scalar has a dtype, as an array
            dtypes.append(_dt.as_dtype(value.dtype.name))
        elif not isinstance(value, numbers.Real):
            try:
                a = np.asarray(value)
            except (TypeError, ValueError) as e:
                raise TypeError(f"{who}: {name} must be a number, an array or a Tensor: {e}") \
                    from None
            if a.dtype.kind not in "fiub":
                raise TypeError(f"{who}: {name} must be real numbers, got an array of "
                                f"{a.dtype}")
            if a.dtype.kind == "f" and isinstance(value, np.ndarray):   # lists: Python's
                dtypes.append(_dt.as_dtype(a.dtype.name))
            given[name] = a
    backend = backend or _backend(None)
    dtype = _dt.float32 if not dtypes else _result(dtypes)
    out = {}
    for name, value in given.items():
        if isinstance(value, Tensor):
            out[name] = value if value.dtype == dtype else astype(value, dtype)
        else:
            out[name] = asarray(value, dtype=dtype, backend=backend)
        least = (event_ndims or {}).get(name, 0)
        if out[name].ndim < least:
            raise ValueError(f"{who}: {name} must have at least {least} axes, got shape "
                             f"{tuple(out[name].shape)}")
    return backend, dtype, out


def _result(dtypes):
    from ..dtype_functions import result_type

    return result_type(*dtypes)


def broadcast_shape(who, shapes: dict) -> tuple:
    """The broadcast shape of ``{name: shape}``; ValueError naming them where they do not
    broadcast."""
    try:
        return tuple(np.broadcast_shapes(*shapes.values()))
    except ValueError:
        listed = ", ".join(f"{k} {tuple(v)}" for k, v in shapes.items())
        raise ValueError(f"{who}: the parameters' shapes do not broadcast together: {listed}") \
            from None


def broadcast_all(who, params: dict) -> tuple:
    """``(shape, {name: Tensor broadcast to it})`` (recorded on tapes: the gradient of a
    broadcast parameter sums back to its own shape)."""
    shape = broadcast_shape(who, {k: v.shape for k, v in params.items()})
    return shape, {k: v if tuple(v.shape) == shape else broadcast_to(v, shape)
                   for k, v in params.items()}


def sum_rightmost(x, n):
    """``x`` summed over its ``n`` rightmost axes."""
    from ..ops import sum as _sum

    return x if n == 0 else _sum(x, axis=tuple(range(-n, 0)))
