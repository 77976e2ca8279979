"""The Numba backend: NumPy arrays, with fused JIT-compiled kernels for the hot primitives.

Losses (softmax cross-entropy, sigmoid-MSE, sigmoid cross-entropy, MSE, CTC, multi-margin), the
activations (sigmoid, tanh, relu, leaky_relu, softplus, silu, gelu, elu/selu/celu, mish, softsign,
log_sigmoid, hardtanh/relu6, hardsigmoid, hardswish; softmax and log_softmax on the last axis), the
optimizer updates, the normalizations (layer, RMS, batch, group norm) and the recurrent scans
(LSTM, Elman RNN: one fused pass per step) run as Numba kernels (float32 and float64; anything
else falls back to the generic rule). Kernels compile on first use and are cached on disk (see
``_config`` for the cache directory); ``warmup()`` compiles them all ahead of time.

The disk cache is keyed by the sources: the kernels of this package are cached in a
subdirectory named by a hash of every ``*.py`` file here and of Numba's and llvmlite's versions
(``_cache_key``), on top of Numba's own key (the kernel's file, bytecode, signature, CPU). Numba
alone would not notice an edit of a helper that it compiles into kernels of another file
(``_math``, ``_transpose``); with the hash, any edit or upgrade makes the next process compile
into a fresh directory, and ``xpgrad info`` reports that cache cold until it is warmed again.

>>> import xpgrad as xg
>>> x = xg.asarray([[2.0, 0.0, -1.0]], backend="numba")
>>> loss = xg.losses.softmax_cross_entropy(x, xg.asarray([0], backend="numba"))
>>> round(loss.item(), 4), loss.backend.name
(0.1698, 'numba')
"""
from __future__ import annotations

import os

import warnings

from xpgrad.backend import BackendUnavailableError

from ..numpy import NumpyBackend
from . import _config


def _import_numba():
    _config.apply_cache_dir()
    try:
        import numba
    except ImportError as e:
        raise BackendUnavailableError(
            f"the 'numba' backend needs Numba, which is not installed here ({e}); "
            f"install it with: {_config.INSTALL_HINT}") from e
    except ValueError as e:     # Numba reads its environment on import: NUMBA_NUM_THREADS=0
        raise BackendUnavailableError(
            f"Numba refused its settings on import ({e}); check the NUMBA_* environment "
            f"variables (NUMBA_NUM_THREADS={os.environ.get('NUMBA_NUM_THREADS')!r})") from e
    from numba.core import codegen, config

    from xpgrad.threads import _numba_loaded

    _numba_loaded(numba)        # the thread limits made before Numba was imported (threads.py)
    # before any kernel compiles (Numba's cache index keys each by the target's features)
    _config.apply_vector_width(codegen, config)
    from . import _cache_key

    try:
        _cache_key.install()
    except (ImportError, AttributeError) as e:      # Numba's private caching API moved
        warnings.warn(f"xpgrad cannot key Numba's disk cache by its sources on Numba "
                      f"{numba.__version__} ({e}): after editing or upgrading xpgrad, delete its "
                      f"cached kernels (*.nbi, *.nbc) by hand", RuntimeWarning, stacklevel=2)
    return numba


# Numba picks a kernel's cache directory when the kernel is defined, so the key of the sources
# goes in before any kernel module of this package can be imported (NumbaBackend() says what
# is missing when Numba is not installed).
try:
    _import_numba()
except BackendUnavailableError:
    pass


class NumbaBackend(NumpyBackend):
    """NumPy arrays and namespace; Numba kernels for the primitives in ``kernels``."""

    name = "numba"

    def __init__(self):
        super().__init__()
        self._numba = _import_numba()
        from . import (_activations, _batch_norm, _conv, _conv_transpose, _ctc, _group_norm,
                       _layers, _linear_activation, _losses, _margin, _norm, _optim, _pool,
                       _rms_norm, _scans, _softmax, _special)

        # the NumPy backend's kernels, overridden where Numba has a faster one
        self.kernels.update(_losses.KERNELS, _activations.KERNELS, _softmax.KERNELS,
                            _optim.KERNELS, _scans.KERNELS, _norm.KERNELS,
                            _batch_norm.KERNELS, _ctc.KERNELS, _conv.KERNELS,
                            _pool.KERNELS, _linear_activation.KERNELS, _special.KERNELS,
                            _rms_norm.KERNELS, _group_norm.KERNELS, _conv_transpose.KERNELS,
                            _margin.KERNELS, _layers.KERNELS)

    def index_add(self, target, key, values):
        """``target[key] += values``: whole rows in one compiled loop (``_scatter``), else
        ``np.add.at``."""
        from ._scatter import add_rows

        if not add_rows(target, key, values):
            super().index_add(target, key, values)

    def describe(self):
        """Numba's version, threads, threading layer and the state of the kernel cache.

        >>> import xpgrad as xg
        >>> sorted(xg.get_backend("numba").describe())[:5]
        ['cache_dir', 'cache_stale_dirs', 'cache_warm', 'cached_kernels', 'device']
        """
        from ._cache import describe

        return {"name": self.name, "device": "cpu", **describe(self._numba),
                "vector_width": _config.vector_width()}

    def warmup(self, dtypes=("float32", "float64"), parallel=True, processes=None) -> float:
        """Compile (or load from the disk cache) every kernel for ``dtypes`` -- with
        ``parallel``, their threaded versions too; return seconds.

        With a cold cache the kernel groups compile in ``processes`` worker processes side by
        side (None: one per available CPU; 1: in this process), then this process loads them.
        ``xpgrad warmup`` runs it once per machine; benchmarks call it first so no compile
        time lands inside a timing.

        >>> import xpgrad as xg
        >>> xg.get_backend("numba").warmup(dtypes=("float32",)) >= 0
        True
        """
        from ._cache import warmup

        return warmup(self, dtypes, parallel, processes)

    def prune_cache(self) -> tuple:
        """Delete the kernel cache directories left by older sources or Numba versions (each
        edit or upgrade starts a new one, ~7 MB when warm); return ``(directories, bytes)``
        removed. ``xpgrad warmup --prune`` calls it.

        >>> import xpgrad as xg
        >>> removed, freed = xg.get_backend("numba").prune_cache()
        >>> removed >= 0 and freed >= 0
        True
        """
        from ._cache import kernel_dispatchers, _cache_dir
        from ._cache_key import remove_stale

        cache_dir = _cache_dir(kernel_dispatchers())
        return remove_stale(cache_dir) if cache_dir else (0, 0)

    def compiling_in_background(self):
        """A context in which kernels missing from the disk cache compile in a background
        process while the NumPy kernels run in their place, each switching over once compiled
        (``_background``); it yields the ``BackgroundCompiler``. ``xpgrad train`` runs in one,
        so its first run on a machine does not wait for the compiler.

        >>> import xpgrad as xg
        >>> with xg.get_backend("numba").compiling_in_background() as compiler:
        ...     loss = xg.losses.mse(xg.asarray([1.0, 3.0], backend="numba"),
        ...                          xg.asarray([0.0, 0.0], backend="numba"))
        >>> float(loss)
        5.0
        """
        from ._background import compiling_in_background

        return compiling_in_background(self)

    def kernels_cached(self, dtypes=("float32",)) -> bool:
        """Whether every kernel for ``dtypes`` is in the disk cache (a run would load them
        rather than compile).

        >>> import xpgrad as xg
        >>> isinstance(xg.get_backend("numba").kernels_cached(), bool)
        True
        """
        from ._cache import cache_is_warm

        return cache_is_warm(dtypes)


__all__ = ["NumbaBackend"]
