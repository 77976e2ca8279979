"""Settings of the Numba backend. Imported before Numba so the cache directory applies.

``XPGRAD_NUMBA_CACHE_DIR`` puts the compiled kernels in that directory (it becomes Numba's
``NUMBA_CACHE_DIR``, so other Numba code of the process caches there too); without it Numba's own
rule applies: ``NUMBA_CACHE_DIR`` if set, else ``__pycache__`` beside these sources when it is
writable, else a per-user cache directory. In that directory the kernels of this package go to a
subdirectory ``xpgrad-<hash of this package's *.py files and of Numba's version>``
(``_cache_key``), so no edit or upgrade loads machine code built from older sources.

The size thresholds below are module attributes so tests (and curious users) can change them.

>>> BLOCK <= PAR_MIN
True
"""
from __future__ import annotations

import os
import sys
import threading

CACHE_ENV = "XPGRAD_NUMBA_CACHE_DIR"
INSTALL_HINT = 'pip install numba (or pip install -e ".[numba]" in the xpgrad checkout)'

#: elementwise kernels run on all threads from this many elements on; below it one thread runs
#: them, paying no thread start-up. Set high on purpose: a threaded kernel waits for every core,
#: and in a training step those cores are often still held by BLAS threads spinning after a
#: matmul (or by other processes). benchmarks/numba_kernels.py --thresholds measures it.
PAR_MIN = 1 << 20
#: row kernels (softmax cross-entropy, softmax, log-softmax) go parallel from this many entries on
ROW_PAR_MIN = 1 << 20
#: softmax cross-entropy rows of at most this many float32 classes run the short-row kernels,
#: SIMD across rows, with integer labels (SHORT_PROBS_MAX: with probabilities); longer rows
#: the row-at-a-time ones; float64 rows half as many (4M logits, one thread, ratio to the copy
#: floor, short against rows: labels 1.8x against 2.6x at 160 classes, 2.3x and 2.2x at 200;
#: probabilities 2.9x against 4.5x at 160, 3.7x against 3.1x at 200)
SHORT_ROWS_MAX = 160
SHORT_PROBS_MAX = 160
#: elements per parallel work item; fixed, so sums do not depend on the thread count
BLOCK = 1 << 14


def apply_cache_dir() -> str | None:
    """Map ``XPGRAD_NUMBA_CACHE_DIR`` onto Numba's setting; return the directory or None."""
    path = os.environ.get(CACHE_ENV)
    if not path:
        return None
    path = os.path.abspath(os.path.expanduser(path))
    os.environ["NUMBA_CACHE_DIR"] = path
    if "numba" in sys.modules:          # Numba read its settings at import: tell it too
        from numba.core import config

        config.CACHE_DIR = path
    return path


#: "256" asks for 256-bit vectors on AVX-512 machines, "512" (the default) for 512 (apply_vector_width)
VECTOR_ENV = "XPGRAD_NUMBA_VECTOR_WIDTH"


def apply_vector_width(codegen, config, environ=os.environ) -> int:
    """Let LLVM vectorize the kernels 512 bits wide on an AVX-512 machine; the width chosen.

    LLVM's tuning for Intel's AVX-512 cores prefers 256-bit vectors ("prefer-256-bit"), so
    Numba's loops run half as wide as the machine can: the LSTM cell's gate pass (sigmoids and
    tanh over 64x512 entries) took 30 us, 21 us with 512-bit vectors. Numba's JIT target
    (``codegen``: ``numba.core.codegen``) gets the host's features with ``-prefer-256-bit``
    when it starts, so other Numba code of the process compiled afterwards is vectorized so
    too; the environment is not touched (a child process, perhaps on another machine, decides
    for its own CPU). ``XPGRAD_NUMBA_VECTOR_WIDTH=256`` asks for 256-bit vectors instead
    (``+prefer-256-bit``: on AMD's AVX-512 cores LLVM would otherwise choose 512 bits itself).
    Left alone where ``NUMBA_CPU_FEATURES`` is set (``config``: ``numba.core.config``) and
    where the CPU has no AVX-512.
    """
    choice = environ.get(VECTOR_ENV, "").strip()
    if choice not in ("", "256", "512"):
        raise ValueError(f"{VECTOR_ENV} must be 256 or 512 (or unset), got {choice!r}")
    if config.CPU_FEATURES is not None:
        return 256
    try:
        from llvmlite import binding

        if not binding.get_host_cpu_features().get("avx512f"):
            return 256
        target = codegen.JITCPUCodegen
        current = target._customize_tm_features
    except (ImportError, RuntimeError, AttributeError):
        return 256
    suffix = _NARROW if choice == "256" else _WIDE
    if getattr(current, "suffix", None) != suffix:
        original = getattr(current, "original", current)

        def customize_tm_features(self):
            features = original(self)
            return features if config.CPU_FEATURES is not None else features + suffix

        customize_tm_features.suffix, customize_tm_features.original = suffix, original
        target._customize_tm_features = customize_tm_features
    return 256 if choice == "256" else 512


_WIDE, _NARROW = ",-prefer-256-bit", ",+prefer-256-bit"


def vector_width() -> int:
    """The vector width Numba's JIT target compiles with in this process (``xpgrad info``):
    256 where it started before ``apply_vector_width`` (Numba code compiled first)."""
    try:
        from numba.core.registry import cpu_target

        features = cpu_target.target_context.codegen()._tm_features
    except (ImportError, AttributeError):
        return 256
    return 512 if features.endswith(_WIDE) else 256


def run_by_size(serial, parallel, n, *args):
    """Run a kernel over ``n`` entries: ``parallel(*args, BLOCK)`` on all threads from
    ``PAR_MIN`` entries on, else ``serial(*args)`` on this one; return its result.

    >>> run_by_size(lambda *a: "one thread", lambda *a: "all threads", PAR_MIN, "x")
    'all threads'
    """
    if n >= PAR_MIN:
        return run_parallel(parallel, *args, BLOCK)
    return serial(*args)


def run_by_rows(serial, parallel, n, c, *args):
    """Run a row kernel over ``n`` rows of ``c`` entries: ``parallel(*args, rows)`` on all
    threads, ``rows`` rows (about ``BLOCK`` entries) a work item, from ``ROW_PAR_MIN`` entries
    on, else ``serial(*args)`` on this one; return its result.

    >>> run_by_rows(lambda *a: "one thread", lambda *a: a, 2, ROW_PAR_MIN // 2, "x")
    ('x', 1)
    """
    if n > 1 and n * c >= ROW_PAR_MIN:
        return run_parallel(parallel, *args, max(1, BLOCK // max(c, 1)))
    return serial(*args)


# -- threaded kernels from several Python threads ----------------------------------------------
#: Numba's threading layers that may be entered by several Python threads at once. The
#: ``workqueue`` layer (Numba's fallback when neither TBB nor OpenMP loads) is not: a second
#: concurrent launch aborts the whole process ("Concurrent access has been detected").
THREADSAFE_LAYERS = ("tbb", "omp")
_launch_lock = threading.Lock()
_layer_threadsafe = None        # None: not known yet (Numba picks its layer at the first launch)


def run_parallel(kernel, *args):
    """Call the threaded Numba ``kernel``, one launch at a time unless Numba's threading layer
    is thread-safe (``THREADSAFE_LAYERS``); until the first launch tells which layer Numba
    picked, launches are serialized too. So Python threads may share the backend whatever the
    layer; on ``workqueue`` their threaded kernels take turns (each still uses every core).

    >>> import numpy as np
    >>> float(run_parallel(lambda a, block: a.sum(), np.ones(4), BLOCK))
    4.0
    """
    if _layer_threadsafe:
        return kernel(*args)
    with _launch_lock:
        out = kernel(*args)
        _learn_layer()
    return out


def _learn_layer() -> None:
    global _layer_threadsafe
    if _layer_threadsafe is not None:
        return
    try:
        import numba

        layer = numba.threading_layer()
    except (ImportError, ValueError):     # ValueError: no threaded kernel has run yet
        return
    _layer_threadsafe = layer in THREADSAFE_LAYERS
