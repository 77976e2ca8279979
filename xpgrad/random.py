"""Random numbers on any backend: ``xg.random.default_rng(seed, backend=...)``.

The backend supplies a native generator; the same seed gives the same numbers on backends that
share one (numpy and numba), so runs can be compared across them. The draws' argument checks
are ``random_checks.py``'s, the noting and replaying of draws for ``xg.recompute_grad``
``random_replay.py``'s, the global seed of the Generators made without one
(``xg.random.seed(n)``, ``get_state``, ``set_state``) ``random_seed.py``'s.

>>> import xpgrad as xg
>>> rng = xg.random.default_rng(0)
>>> rng.normal(size=(2, 3)).shape
(2, 3)
"""
from __future__ import annotations

import copy
from collections.abc import Mapping

import numpy as np

from . import dtypes as _dt
from ._args import listed_names, pointer, refuse_keywords
from .creation import _backend, _count, _shape
from .random_checks import (_CHOICE_P_TRACED, _above, _below, _difference, _draw_shape, _finite,
                            _host_values, _raw_bound, _shape_of, _take)
from .random_replay import (_DRAWS, fresh_seed, _native_state, noting_draws,  # noqa: F401
                            replaying_fresh)
from .random_seed import get_state, seed, set_state  # noqa: F401
from .tensor import Tensor, _wrap
from .tensor_hints import MULTINOMIAL


class Generator:
    """Draws tensors on one backend from a seeded native generator."""

    multinomial = pointer("multinomial", MULTINOMIAL)       # torch's, not NumPy's counts
    manual_seed = pointer("manual_seed", "seed a generator when making it: "
                                         "xg.random.default_rng(seed)")

    def __dir__(self):
        return listed_names(self)         # without the pointers, which raise

    def __init__(self, seed=None, backend=None, **unexpected):
        if unexpected:
            _refuse_generator_keywords("Generator", unexpected)
        self.backend = _backend(backend)
        if seed is None:
            seed = fresh_seed()
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

    @staticmethod
    def _float_dtype(dtype, who):
        dtype = _dt.as_dtype(dtype, f"{who}: dtype")
        if not dtype.is_floating:
            raise TypeError(f"{who}: dtype must be floating, got {dtype}")
        return dtype

    def get_state(self) -> dict:
        """A copy of the generator's state, a JSON-serializable dict (PyTorch's
        ``Generator.get_state``): given back to ``set_state``, a resumed run draws what the
        uninterrupted one would have. A checkpoint saves the generators its model's modules
        hold (dropout's) by itself; others go in its ``metadata=``.

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

    def normal(self, loc=0.0, scale=1.0, size=None, *, dtype=_dt.float32,
               **unexpected) -> Tensor:
        """Normal samples with mean ``loc`` and standard deviation ``scale`` (arrays or
        tensors too: one draw per element of their broadcast shape, or of ``size``).

        >>> [round(float(v), 2) for v in default_rng(0).normal([0.0, 100.0], 1.0)]
        [1.12, 98.61]
        """
        if unexpected:
            _refuse_generator_keywords("Generator.normal", unexpected)
        dtype = self._float_dtype(dtype, "normal")
        if _below(scale, 0):
            raise ValueError(f"normal: scale must be >= 0 (a standard deviation), got {scale!r}")
        size = _draw_shape("normal", size, loc, scale)
        native = self.backend.native_dtype(dtype)
        z = self._tensor_if(self._draw(lambda rng: rng.standard_normal(size, dtype=native)),
                            loc, scale)
        return self._out(z * scale + loc, dtype)

    def uniform(self, low=0.0, high=1.0, size=None, *, dtype=_dt.float32,
                **unexpected) -> Tensor:
        """Uniform samples in ``[low, high)`` (arrays or tensors too: one draw per element of
        their broadcast shape, or of ``size``). In float32, ``u * (high - low) + low`` may round
        up to ``high`` itself, as NumPy's does in float64."""
        if unexpected:
            _refuse_generator_keywords("Generator.uniform", unexpected)
        dtype = self._float_dtype(dtype, "uniform")
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
        return self.uniform(0.0, 1.0, size, dtype=self._float_dtype(dtype, "random"))

    def standard_normal(self, size=None, *, dtype=_dt.float32, **unexpected) -> Tensor:
        """Samples of the standard normal distribution (``normal(0, 1)``)."""
        if unexpected:
            _refuse_generator_keywords("Generator.standard_normal", unexpected)
        return self.normal(0.0, 1.0, size, dtype=self._float_dtype(dtype, "standard_normal"))

    def exponential(self, scale=1.0, size=None, *, dtype=_dt.float32) -> Tensor:
        """Exponential samples with mean ``scale`` (NumPy's numbers for the same seed).

        >>> default_rng(0).exponential(2.0, size=3).shape
        (3,)
        """
        dtype = self._float_dtype(dtype, "exponential")
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
        dt = _dt.as_dtype(dtype, "integers: dtype")
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


class DrawWith:
    """``sample(rng, *arrays)`` as a one-argument sample of ``Generator._draw``; ``jit``
    records ``arrays`` as the draw's inputs (``Generator._draw_with``)."""

    __slots__ = ("sample", "arrays")

    def __init__(self, sample, arrays):
        self.sample, self.arrays = sample, arrays

    def __call__(self, rng):
        return self.sample(rng, *self.arrays)


def default_rng(seed=None, *, backend=None, **unexpected) -> Generator:
    """A Generator seeded with ``seed`` on ``backend`` (default: the current backend);
    without a seed, fresh entropy, or the next seed of ``xg.random.seed(n)`` when one is set.

    >>> import xpgrad as xg
    >>> xg.random.default_rng(0, backend="numpy").normal(size=2).device
    Device('numpy', 'cpu')
    """
    if unexpected:
        _refuse_generator_keywords("default_rng", unexpected)
    return Generator(seed, backend)


def _refuse_generator_keywords(owner, unexpected):
    """PyTorch's ``device=`` (``torch.Generator(device='cuda')``, ``torch.randn(...,
    device=...)``) said as xpgrad's: a generator draws on its backend."""
    if "device" in unexpected:
        raise TypeError(f"{owner}() got an unexpected keyword argument 'device'; a generator "
                        "draws on the backend it was made on: xg.random.default_rng(seed, "
                        "backend='cupy') for CUDA (PyTorch's 'cuda'), backend=t.device.backend "
                        "for where a tensor t lives")
    refuse_keywords(owner, unexpected)


_GENERATORS = ("xpgrad draws from generators, not keys: rng = xg.random.default_rng(seed) "
               "once, then rng.normal(size=shape), ...; each draw moves rng on")
#: jax.random's names (and NumPy's module-level draws), and xpgrad's way to each
_JAX_NAMES = {
    **dict.fromkeys(("PRNGKey", "key"), _GENERATORS),
    **dict.fromkeys(("manual_seed", "set_seed"),
                    "xg.random.seed(n) seeds every generator made without a seed (layer inits, "
                    "Dropout without rng=); xg.random.default_rng(seed) is one seeded generator"),
    **dict.fromkeys(("split", "fold_in"),
                    f"{_GENERATORS}; rng.spawn(n) gives n independent generators, as "
                    "jax.random.split gives keys"),
    **{name: f"{_GENERATORS}: {ours}" for name, ours in (
        ("normal", "rng.normal(loc, scale, size=shape) (size is a keyword: the first "
                   "positional argument is the mean, as NumPy's)"),
        ("uniform", "rng.uniform(low, high, size=shape)"),
        ("randint", "rng.integers(low, high, size=shape)"),
        ("bernoulli", "rng.random(size=shape) < p"),
        ("permutation", "rng.permutation(n_or_tensor)"),
        ("choice", "rng.choice(a, size=shape, replace=True, p=None)"),
        ("exponential", "rng.exponential(scale, size=shape)"),
        ("randn", "rng.normal(size=shape) (NumPy's legacy randn(*shape))"),
        ("rand", "rng.random(size=shape) (NumPy's legacy rand(*shape))"),
        ("randn_like", "rng.normal(size=t.shape, dtype=t.dtype) (torch.randn_like(t))"),
        ("rand_like", "rng.random(size=t.shape, dtype=t.dtype) (torch.rand_like(t))"),
        ("RandomState", "NumPy's legacy RandomState(seed) is default_rng(seed) here"),
        ("categorical", "xg.distributions.Categorical(logits=logits).sample(shape, rng=rng)"))},
    "multinomial": MULTINOMIAL,
}


def __getattr__(name):
    """jax.random's keys and draws: an AttributeError saying how xpgrad draws instead."""
    from ._args import no_module_attribute

    raise no_module_attribute(__name__, name, _JAX_NAMES.get(name))
