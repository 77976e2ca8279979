"""Random numbers on any backend: ``xg.random.default_rng(seed, backend=...)``.

The backend supplies a native generator; the same seed gives the same numbers on backends that
share one (numpy and numba), so runs can be compared across them.

>>> import xpgrad as xg
>>> rng = xg.random.default_rng(0)
>>> rng.normal(size=(2, 3)).shape
(2, 3)
"""
from __future__ import annotations

import contextlib
import copy
import numbers
import threading
from collections.abc import Mapping

import numpy as np

from . import dtypes as _dt
from .creation import _backend, _count, _shape
from .tensor import Tensor, _wrap


class Generator:
    """Draws tensors on one backend from a seeded native generator."""

    def __init__(self, seed=None, backend=None):
        self.backend = _backend(backend)
        if seed is None:
            seed = _fresh_seed()
        try:
            self._rng = self.backend.rng(seed)
        except (TypeError, ValueError) as e:
            raise type(e)(f"seed must be None or a non-negative integer (or a sequence of "
                          f"them), got {seed!r}: {e}") from None

    def _draw(self, sample):
        """``sample(native generator)``, a host or native array, as a raw array of the backend.
        Every draw goes through here: under ``xg.function`` it is recorded as one step, so a
        replay draws fresh numbers from the same generator (as eager calls would). ``sample``
        only draws: what is computed from the draw (scale, shift) is done on its result."""
        notes = _DRAWS.notes
        if notes is not None and id(self) not in notes:
            notes[id(self)] = (self, _native_state(self._rng))
        return self.backend.asarray(sample(self._rng))

    def _draw_with(self, sample, *arrays):
        """``sample(native generator, *arrays)`` through ``_draw``, ``arrays`` raw arrays of
        the backend it reads (a sampler's parameters: gamma and count draws). Under
        ``xg.function`` they are the recorded draw's inputs, so a replay draws fresh numbers
        with the parameters' values of that call (a ``sample`` that closed over them would see
        the trace's)."""
        return self._draw(DrawWith(sample, arrays))

    def _tensor_if(self, raw, *params):
        """``raw`` as a Tensor where a parameter is one (then the arithmetic is Tensor
        arithmetic, which a trace records), else as it is."""
        return _wrap(raw, self.backend) if any(isinstance(p, Tensor) for p in params) else raw

    def _out(self, raw, dtype):
        be = self.backend
        # a Tensor where loc/scale/low/high were tensors; a NumPy scalar for a 0-d draw; an
        # xg.function trace's stand-in (already an array of the backend) as it is
        if isinstance(raw, Tensor):
            raw = raw._data
        elif not getattr(raw, "_shared_unknown", False):
            raw = be.asarray(raw)
        native = be.native_dtype(_dt.as_dtype(dtype))
        if raw.dtype != native:
            raw = be.xp.astype(raw, native)
        return _wrap(raw, be)

    def _float_dtype(self, dtype):
        dtype = _dt.as_dtype(dtype)
        if not dtype.is_floating:
            raise TypeError(f"dtype must be floating, got {dtype}")
        return dtype

    def get_state(self) -> dict:
        """A copy of the generator's state, a JSON-serializable dict (PyTorch's
        ``Generator.get_state``): saved with a checkpoint (``metadata=``) and given back to
        ``set_state``, a resumed run draws what the uninterrupted one would have (its dropout
        masks included).

        >>> rng = default_rng(0)
        >>> state = rng.get_state()
        >>> a = rng.uniform(size=2).tolist()
        >>> rng.set_state(state)
        >>> rng.uniform(size=2).tolist() == a
        True
        """
        return copy.deepcopy(self._bits("get_state").state)

    def set_state(self, state) -> None:
        """Put the generator back in ``state`` (from ``get_state``, of a generator of the same
        kind); a state that does not fit is a ValueError/TypeError naming ``state``, and the
        generator is left as it was."""
        bits = self._bits("set_state")
        if not isinstance(state, Mapping):
            raise TypeError(f"set_state: state must be a dict from Generator.get_state(), got "
                            f"{type(state).__name__}")
        try:
            bits.state = dict(state)
        except (KeyError, TypeError, ValueError, OverflowError) as e:
            detail = f"missing key {e}" if isinstance(e, KeyError) else str(e)
            raise ValueError(f"set_state: state is not a state of this generator "
                             f"({type(bits).__name__}): {detail}") from None

    def _bits(self, who):
        bits = getattr(self._rng, "bit_generator", None)
        if bits is None:
            raise TypeError(f"{who}: the {self.backend.name} backend's generator "
                            f"({type(self._rng).__name__}) has no NumPy bit_generator state")
        return bits

    def normal(self, loc=0.0, scale=1.0, size=None, *, dtype=_dt.float32) -> Tensor:
        """Normal samples with mean ``loc`` and standard deviation ``scale`` (arrays or
        tensors too: one draw per element of their broadcast shape, or of ``size``).

        >>> [round(float(v), 2) for v in default_rng(0).normal([0.0, 100.0], 1.0)]
        [1.12, 98.61]
        """
        dtype = self._float_dtype(dtype)
        if _below(scale, 0):
            raise ValueError(f"normal: scale must be >= 0 (a standard deviation), got {scale!r}")
        size = _draw_shape("normal", size, loc, scale)
        native = self.backend.native_dtype(dtype)
        z = self._tensor_if(self._draw(lambda rng: rng.standard_normal(size, dtype=native)),
                            loc, scale)
        return self._out(z * scale + loc, dtype)

    def uniform(self, low=0.0, high=1.0, size=None, *, dtype=_dt.float32) -> Tensor:
        """Uniform samples in ``[low, high)`` (arrays or tensors too: one draw per element of
        their broadcast shape, or of ``size``). In float32, ``u * (high - low) + low`` may round
        up to ``high`` itself, as NumPy's does in float64."""
        dtype = self._float_dtype(dtype)
        for name, value in (("low", low), ("high", high)):
            if not _finite(value):
                raise ValueError(f"uniform: {name} must be finite, got {value!r}")
        if _above(_difference(low, high), 0):
            raise ValueError(f"uniform: low must be <= high, got low={low!r}, high={high!r}")
        size = _draw_shape("uniform", size, low, high)
        native = self.backend.native_dtype(dtype)
        u = self._tensor_if(self._draw(lambda rng: rng.random(size, dtype=native)), low, high)
        low, high = (v if isinstance(v, Tensor) or np.isscalar(v) else np.asarray(v)
                     for v in (low, high))                   # lists: NumPy's arithmetic
        span = high - low
        if not isinstance(span, Tensor) and np.size(span) and \
                np.max(np.abs(span)) > np.finfo(dtype.name).max:
            return self._out(u * high + (1 - u) * low, dtype)    # the range overflows dtype
        return self._out(u * span + low, dtype)

    def random(self, size=None, *, dtype=_dt.float32) -> Tensor:
        """Uniform samples in ``[0, 1)``."""
        return self.uniform(0.0, 1.0, size, dtype=dtype)

    def standard_normal(self, size=None, *, dtype=_dt.float32) -> Tensor:
        """Samples of the standard normal distribution (``normal(0, 1)``)."""
        return self.normal(0.0, 1.0, size, dtype=dtype)

    def exponential(self, scale=1.0, size=None, *, dtype=_dt.float32) -> Tensor:
        """Exponential samples with mean ``scale`` (NumPy's numbers for the same seed).

        >>> default_rng(0).exponential(2.0, size=3).shape
        (3,)
        """
        dtype = self._float_dtype(dtype)
        if _below(scale, 0):
            raise ValueError(f"exponential: scale must be >= 0, got {scale!r}")
        size = _draw_shape("exponential", size, scale)
        native = self.backend.native_dtype(dtype)
        e = self._tensor_if(self._draw(lambda rng: rng.standard_exponential(size, dtype=native)),
                            scale)
        return self._out(e * scale, dtype)

    def integers(self, low, high=None, size=None, *, dtype=_dt.int64, endpoint=False) -> Tensor:
        """Integers in ``[low, high)`` (or ``[0, low)`` when ``high`` is None); with
        ``endpoint=True`` in ``[low, high]``, as NumPy's.

        >>> sorted(set(default_rng(0).integers(1, 3, size=50, endpoint=True).tolist()))
        [1, 2, 3]
        """
        dt = _dt.as_dtype(dtype)
        if dt.kind not in "iu":
            raise TypeError(f"integers: dtype must be an integer dtype, got {dt}")
        info = np.iinfo(dt.name)
        low, high = _raw_bound(low), _raw_bound(high)
        endpoint = bool(endpoint)
        for name, value, top in (("low", 0 if high is None else low, info.max),
                                 ("high", low if high is None else high,
                                  info.max + (not endpoint))):
            if _below(value, info.min) or _above(value, top):
                raise ValueError(f"integers: {name}={value!r} is out of bounds for {dt} "
                                 f"([{info.min}, {info.max}])")
        size = _draw_shape("integers", size, low, high)
        try:
            drawn = self._draw(lambda rng: rng.integers(low, high, size, dtype=dt.name,
                                                         endpoint=endpoint))   # NumPy's draws
        except ValueError as e:             # low >= high: NumPy checks before drawing
            raise ValueError(f"integers: low={0 if high is None else low!r} and "
                             f"high={low if high is None else high!r} leave no integer to "
                             f"draw ({e})") from None
        return self._out(drawn, dt)

    def permutation(self, x) -> Tensor:
        """A random permutation of ``range(x)``, or, for an array or tensor, of its rows (a
        shuffled copy along axis 0; gradients flow back to the rows of a tensor).

        >>> sorted(default_rng(0).permutation(4).tolist())
        [0, 1, 2, 3]
        """
        if _shape_of(x):
            rows = self.permutation(_shape_of(x)[0])
            return _take(x, rows, self.backend)
        n = _count(x, "n", "permutation")
        return self._out(self._draw(lambda rng: rng.permutation(n)), _dt.int64)

    def choice(self, a, size=None, replace=True, p=None) -> Tensor:
        """Samples of ``range(a)`` or of the rows of an array or tensor ``a``, with or without
        replacement, uniformly or with probabilities ``p`` (NumPy's ``Generator.choice``,
        the same numbers for the same seed; gradients flow back to the chosen rows of ``a``).

        >>> default_rng(0).choice(5, size=3, replace=False).shape
        (3,)
        """
        whole = bool(_shape_of(a))
        n = _shape_of(a)[0] if whole else _count(a, "a", "choice")
        if p is not None:
            given = np.asarray(_host_values(p, _CHOICE_P_TRACED) if isinstance(p, Tensor) else p)
            p = given.astype(np.float64)
            if p.shape != (n,):
                raise ValueError(f"choice: p must have one probability per choice ({n}), got "
                                 f"shape {p.shape}")
            # NumPy's tolerance: sqrt(eps) of p's own float dtype (a float32 softmax sums to
            # 1 within 1e-7, not float64's 1.5e-8)
            eps = np.finfo(given.dtype if given.dtype.kind == "f" else np.float64).eps
            if not (np.isfinite(p).all() and (p >= 0).all()) \
                    or abs(p.sum() - 1) > max(np.sqrt(eps), np.sqrt(np.finfo(np.float64).eps)):
                raise ValueError(f"choice: p must be probabilities (finite, >= 0, summing to "
                                 f"1), got {p.tolist() if p.size <= 8 else p}")
            p = p / p.sum()       # within NumPy's float64 tolerance too
        shape = () if size is None else _shape(size)
        try:           # NumPy checks p, and size against n without replacement, before drawing
            index = self._draw(lambda rng: rng.choice(n, shape, bool(replace), p))
        except ValueError as e:
            raise ValueError(f"choice: {e}") from None
        index = self._out(index, _dt.int64)
        if not whole:
            return index
        from .ops.shape import reshape

        picked = _take(a, reshape(index, (-1,)), self.backend)
        return reshape(picked, shape + tuple(picked.shape[1:]))

    def spawn(self, n) -> list:
        """``n`` new, independent Generators on this one's backend (NumPy's
        ``Generator.spawn``): one per worker or per data-parallel rank.

        >>> a, b = default_rng(0).spawn(2)
        >>> bool((a.normal(size=3) != b.normal(size=3)).any())
        True
        """
        n = _count(n, "n", "spawn")
        children = []
        for native in self._rng.spawn(n):
            child = object.__new__(Generator)
            child.backend, child._rng = self.backend, native
            children.append(child)
        return children


def _shape_of(a) -> tuple:
    return tuple(a.shape) if isinstance(a, Tensor) else np.shape(a)


def _take(a, rows, backend):
    """The rows ``rows`` of ``a`` (a Tensor, or an array made one on ``backend``)."""
    from .ops.indexing import take

    if not isinstance(a, Tensor):
        a = _wrap(backend.asarray(np.asarray(a)), backend)
    return take(a, rows, axis=0)


class DrawWith:
    """``sample(rng, *arrays)`` as a one-argument sample of ``Generator._draw``; ``jit``
    records ``arrays`` as the draw's inputs (``Generator._draw_with``)."""

    __slots__ = ("sample", "arrays")

    def __init__(self, sample, arrays):
        self.sample, self.arrays = sample, arrays

    def __call__(self, rng):
        return self.sample(rng, *self.arrays)


def _draw_shape(who, size, *params):
    """The shape of a draw: ``size``, or the broadcast shape of the parameters (arrays,
    tensors, numbers; None: absent); ValueError where they do not broadcast to ``size``, as
    NumPy's Generator refuses."""
    shapes = [_shape_of(p) for p in params if p is not None]
    try:
        broadcast = np.broadcast_shapes(*shapes)
    except ValueError:
        raise ValueError(f"{who}: the parameters' shapes {shapes} do not broadcast together") \
            from None
    if size is None:
        return broadcast
    try:
        size = _shape(size)
    except (TypeError, ValueError) as e:
        raise type(e)(f"{who}: size: {e}") from None
    try:
        fits = np.broadcast_shapes(size, broadcast) == size
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(f"{who}: size {size} does not fit the parameters' broadcast shape "
                         f"{broadcast}")
    return size


def _raw_bound(value):
    """An integer bound as NumPy's ``integers`` takes it: a tensor's array on the host."""
    return np.asarray(_host_values(value, _INTEGERS_BOUND_TRACED)) \
        if isinstance(value, Tensor) else value


#: ``choice(p=tensor)`` where the tensor is computed inside an ``xg.function`` trace
_CHOICE_P_TRACED = (
    "choice(..., p=tensor) inside an xg.function samples with probabilities that the traced "
    "function computes: NumPy's Generator.choice needs their values in Python, which a replay "
    "cannot repeat. Sample in xpgrad ops instead (inverse CDF: c = xg.cumulative_sum(p); "
    "i = xg.searchsorted(c, rng.random(size=n, dtype=c.dtype) * c[-1])), pass p as a NumPy "
    "array or a tensor made outside the function (its values then stay fixed for every "
    "replay), or call the function without xg.function")
#: ``integers(low, high)`` with a bound computed inside an ``xg.function`` trace
_INTEGERS_BOUND_TRACED = (
    "integers(low, high) inside an xg.function with a bound that the traced function "
    "computes: NumPy's Generator.integers needs its value in Python, which a replay cannot "
    "repeat. Give the bounds as Python numbers or tensors made outside the function, draw "
    "in xpgrad ops (xg.floor(rng.random(size=n) * (high - low)) + low), or call the "
    "function without xg.function")


def _host_values(t, under_trace):
    """``t.numpy()``; where ``t`` is a value the running ``xg.function`` trace computes (it
    has no value a replay could read), a TraceError saying ``under_trace``: what the user did,
    not the ``.numpy()`` they never called."""
    from .jit.errors import TraceError, user_line
    from .jit.traced import Traced

    raw = t._data
    if type(raw) is Traced and raw._tracer.active:
        raise TraceError(under_trace, user_line())
    return t.numpy()


def _values(value):
    """``value`` as a NumPy array to check, or None where its values are not to be read: None,
    or a tensor not in host memory (a GPU array: reading it waits for the device) or being
    traced by xg.function (no values yet)."""
    if value is None:
        return None
    if isinstance(value, Tensor):
        raw = value._data
        return raw if isinstance(raw, np.ndarray) else None
    return np.asarray(value)


def _finite(value) -> bool:
    """Whether a number or an array-like of numbers holds no infinity and no NaN (a tensor's
    where ``_values`` reads it)."""
    a = _values(value)
    return a is None or a.dtype.kind not in "fc" or bool(np.isfinite(a).all())


def _difference(low, high):
    """``low - high`` where both are readable (``_values``; broadcast), else None."""
    a, b = _values(low), _values(high)
    if a is None or b is None:
        return None
    try:
        with np.errstate(all="ignore"):
            return np.subtract(a, b, dtype=np.float64)
    except (TypeError, ValueError):
        return None               # a shape or type error: the draw itself names it


def _below(value, limit) -> bool:
    """Whether a number or an array-like of numbers holds one below ``limit``, or a NaN."""
    return _beyond(value, limit, np.min, lambda a, b: not a >= b)


def _above(value, limit) -> bool:
    return _beyond(value, limit, np.max, lambda a, b: a > b)


def _beyond(value, limit, extreme, past) -> bool:
    if isinstance(value, numbers.Real):          # a Python int past int64 too
        return bool(past(value, limit))
    a = _values(value)
    if a is None or a.size == 0 or a.dtype.kind not in "iuf":
        return False
    if a.dtype.kind == "f" and np.isnan(a).any():
        return bool(past(np.nan, limit))
    return bool(past(extreme(a), limit))


class _Draws(threading.local):
    #: while ``noting_draws`` runs: {id(generator): (generator, its state before its first draw)}
    notes = None
    #: while ``noting_draws`` runs: the seeds given to the Generators made there without one
    fresh = None
    #: while ``replaying_fresh`` runs: the seeds the next Generators made without one take
    replay = None


class _Notes(dict):
    """``noting_draws``' dict, with ``fresh``: the seeds of the Generators made without one
    in the block, in order (``replaying_fresh`` gives them back)."""

    def __init__(self):
        super().__init__()
        self.fresh = []


def _fresh_seed():
    """The seed of a Generator made without one: None (the backend's fresh entropy), except
    while ``noting_draws`` runs (fresh entropy, noted) or ``replaying_fresh`` (the noted seeds
    in order), so that ``xg.recompute_grad`` recomputes a block that makes its own generator
    (``scaled_dot_product_attention(..., dropout_p=0.1)``) with the first run's numbers."""
    if _DRAWS.replay:
        seed = _DRAWS.replay.pop(0)
    elif _DRAWS.fresh is not None:
        seed = int(np.random.SeedSequence().entropy)
    else:
        return None
    if _DRAWS.fresh is not None:
        _DRAWS.fresh.append(seed)
    return seed


@contextlib.contextmanager
def replaying_fresh(seeds):
    """The Generators made without a seed in the block take ``seeds`` (a ``noting_draws``
    dict's ``fresh``), in order, then fresh entropy again."""
    outer, _DRAWS.replay = _DRAWS.replay, list(seeds)
    try:
        yield
    finally:
        _DRAWS.replay = outer


_DRAWS = _Draws()


def _native_state(rng):
    from .jit.guards import rng_state

    return rng_state(rng)


@contextlib.contextmanager
def noting_draws():
    """Note every Generator drawn from in the block, with its state before its first draw
    there (``xg.recompute_grad`` replays them); yields the dict ``{id: (generator, state)}``,
    whose ``fresh`` lists the seeds given to the Generators made there without one.
    Nested blocks note into their own dict, and what they note is noted outside too.

    >>> rng = default_rng(0)
    >>> with noting_draws() as notes:
    ...     _ = rng.uniform(size=2)
    >>> list(notes) == [id(rng)]
    True
    """
    outer, outer_fresh = _DRAWS.notes, _DRAWS.fresh
    notes = _DRAWS.notes = _Notes()
    _DRAWS.fresh = notes.fresh
    try:
        yield notes
    finally:
        _DRAWS.notes, _DRAWS.fresh = outer, outer_fresh
        if outer is not None:
            for key, entry in notes.items():
                outer.setdefault(key, entry)
            outer.fresh.extend(notes.fresh)


def default_rng(seed=None, *, backend=None) -> Generator:
    """A Generator seeded with ``seed`` on ``backend`` (default: the current backend)."""
    return Generator(seed, backend)
