"""Kernels compiled in a background process while the NumPy kernels stand in for them.

Inside ``NumbaBackend.compiling_in_background()`` (what ``xpgrad train`` uses), a Numba kernel
whose loops are not yet in the disk cache for the dtype it is called with does not compile in
the caller: the first such call asks one background process (``python -m
xpgrad.backends.numba._background``, started then, in its own session and at a lower priority)
to compile that kernel's loops into the cache, and the NumPy backend's kernel for the same
primitive (or the generic rule, where NumPy has none) runs meanwhile. Once the process reports
the kernel compiled, the next call loads it from the cache and runs it. A forward and its
backward always run on the same kernel: the forward's saved values carry which one ran. The
process outlives the run when it has to (the cache is per machine, so the next run loads what
it compiled); it reads one request a line, ``<primitive> <dtype>``, and answers ``ready
<primitive> <dtype>`` or ``failed <primitive> <dtype> <reason>``.

The process compiles into the cache directory of the sources it imported (``_cache_key``); if
they differ from the run's (an edit in between), it declines every request, and the NumPy
kernels stand in until the run ends rather than the run compiling them itself.

``backend.index_add`` (the gradient of an embedding or of ``x[ids]``) waits the same way for
its row loop, running the NumPy backend's meanwhile.

Only the one-thread loops are compiled this way: the threaded ones (``*_par``) run from
``_config.PAR_MIN`` elements on and compile where they are first called, as outside this mode.

>>> from xpgrad.backends.numba import _losses
>>> sorted(d.__name__ for d in kernel_loops(_losses.KERNELS["mse"]))      # value: the loss alone
['mse_block', 'mse_loss_block']
"""
from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
import time
import types

from xpgrad.backend import Kernel

from . import _cache

#: the primitive whose warmup unit (``_cache.UNITS``) compiles a kernel's loops, where the names
#: differ
UNIT_OF = {"lstm_scan": "lstm", "lstm_layer": "lstm", "rnn_scan": "lstm", "gru_scan": "lstm",
           "rnn_layer": "lstm", "gru_layer": "lstm",
           "batch_moments": "batch_norm", "weighted_multi_margin": "multi_margin",
           "max_pool_positions": "max_pool"}
FLOAT_DTYPES = ("float32", "float64")
#: the fingerprint of the run's sources (``_cache_key.fingerprint``), passed to the process
SOURCES_ENV = "XPGRAD_NUMBA_SOURCES"


# -- which loops a kernel runs, and whether the cache holds them ---------------------------------
def kernel_loops(kernel) -> list:
    """The one-thread Numba dispatchers that ``kernel``'s forward, vjp and value call: those in
    their closures and those they name through a module global (``loops.relu_fwd``), following
    the package's plain functions they call."""
    from numba.core.dispatcher import Dispatcher

    found, seen = {}, set()

    def visit(fn):
        if not isinstance(fn, types.FunctionType) or fn in seen:
            return
        seen.add(fn)
        values = []
        for cell in fn.__closure__ or ():
            with contextlib.suppress(ValueError):           # an empty cell
                values.append(cell.cell_contents)
        names = fn.__code__.co_names
        for name in names:
            value = fn.__globals__.get(name)
            if isinstance(value, types.ModuleType):
                values.extend(getattr(value, n, None) for n in names)
            else:
                values.append(value)
        for value in values:
            if isinstance(value, Dispatcher):
                if not value.targetoptions.get("parallel"):
                    found[id(value)] = value
            elif isinstance(value, types.FunctionType) and \
                    value.__module__.startswith("xpgrad."):
                visit(value)
            elif isinstance(value, Kernel):             # a kernel built on another's
                visit(value.forward)
                visit(value.vjp)

    visit(kernel.forward)
    visit(kernel.vjp)
    visit(kernel.value)
    return list(found.values())


def has_version(dispatcher, dtype: str) -> bool:
    """Whether ``dispatcher`` has a version for arrays of ``dtype`` in this process or in the
    disk cache (one this process would load: same source, CPU and code)."""
    if any(dtype in str(sig) for sig in dispatcher.overloads):
        return True
    try:
        cache = dispatcher._cache
        codegen = dispatcher.targetctx.codegen()
        return any(dtype in str(key[0]) and cache._index_key(key[0], codegen) == key
                   for key in cache._cache_file._load_index())
    except Exception:       # private Numba API: "not cached" compiles, which is always right
        return False


# -- the parent's side: one background process, its requests and answers ------------------------
class BackgroundCompiler:
    """Asks a background process to compile kernels into the disk cache; ``ready(name, dtype)``
    says when one is there. The process starts at the first request."""

    def __init__(self):
        self.requested = {}             # (name, dtype) -> seconds since start when asked
        self.finished = {}              # (name, dtype) -> seconds since start when ready
        self.failed = {}                # (name, dtype) -> reason
        self._t0 = time.perf_counter()
        self._proc = None
        self._lock = threading.Lock()

    def request(self, name, dtype) -> None:
        with self._lock:
            if (name, dtype) in self.requested:
                return
            self.requested[name, dtype] = time.perf_counter() - self._t0
            try:
                if self._proc is None:
                    self._start()
                self._proc.stdin.write(f"{name} {dtype}\n")
                self._proc.stdin.flush()
            except OSError as e:
                self.failed[name, dtype] = f"the background compiler could not start: {e}"

    def ready(self, name, dtype) -> bool:
        return (name, dtype) in self.finished

    def _start(self):
        import xpgrad

        from ._cache_key import fingerprint

        env = dict(os.environ)
        env[SOURCES_ENV] = fingerprint()
        root = os.path.dirname(os.path.dirname(os.path.abspath(xpgrad.__file__)))
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
        self._proc = subprocess.Popen(
            [sys.executable, "-m", __name__], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, text=True, env=env, start_new_session=True)
        threading.Thread(target=self._read, args=(self._proc,), daemon=True,
                         name="xpgrad-numba-compile").start()

    def _read(self, proc):
        for line in proc.stdout:
            word, _, rest = line.strip().partition(" ")
            name, _, rest = rest.partition(" ")
            dtype, _, reason = rest.partition(" ")
            if word == "ready":
                self.finished[name, dtype] = time.perf_counter() - self._t0
            elif word == "failed":
                self.failed[name, dtype] = reason
        proc.wait()
        for key in set(self.requested) - set(self.finished) - set(self.failed):
            self.failed.setdefault(key, f"the background compiler exited ({proc.returncode})")

    @property
    def pid(self):
        return None if self._proc is None else self._proc.pid

    def close(self) -> None:
        """Send no more requests; the process finishes those it has, then exits."""
        if self._proc is not None and self._proc.stdin and not self._proc.stdin.closed:
            with contextlib.suppress(OSError):
                self._proc.stdin.close()

    def summary(self) -> str | None:
        """One line on what was compiled in the background and when it took over (None when
        nothing was)."""
        if not self.requested:
            return None
        parts = []
        for key in sorted(self.requested):
            label = f"{key[0]} ({key[1]})"
            if key in self.finished:
                parts.append(f"{label} ready after {self.finished[key]:.1f} s")
            elif key in self.failed:
                parts.append(f"{label} failed: {self.failed[key]}")
            else:
                parts.append(f"{label} still compiling (pid {self.pid})")
        return ("numba kernels compiled in the background (once per machine; `xpgrad warmup`"
                " compiles them all ahead of time), the NumPy ones standing in until then: "
                + "; ".join(parts))


# -- the kernels that wait for it -------------------------------------------------------------
def _dtype_of(raws):
    for a in raws:
        name = getattr(getattr(a, "dtype", None), "name", None)
        if name is not None:
            return name
    return None


class _Link:
    """What a reused ``deferred`` kernel asks now: the compiler of the context it serves (None
    between contexts) and the dtypes it has settled in that context."""

    __slots__ = ("compiler", "state")

    def __init__(self):
        self.compiler, self.state = None, {}


#: ``(name, id(kernel), id(stand_in)) -> (kernel, stand_in, Kernel, _Link)``: one deferred
#: Kernel per kernel, made in the first context and reused by later ones. Every Kernel stays in
#: ``KERNELS_BY_INDEX`` for the process, so one made per context kept that context's compiler
#: (and the background process's pipe) alive for good: a run of ``xpgrad.training.train`` per
#: hyperparameter setting added 21 Kernels and a compiler each.
_DEFERRED: dict = {}


def deferred(name, kernel, stand_in, compiler) -> Kernel:
    """``kernel`` (a Numba one), with ``stand_in`` (a NumPy kernel, or None: the generic rule)
    running in its place for a dtype whose loops ``compiler`` is still compiling. The same
    Kernel comes back for the same kernel and stand-in, now serving ``compiler``."""
    key = (name, id(kernel), id(stand_in))
    entry = _DEFERRED.get(key)
    if entry is None:
        link = _Link()
        entry = _DEFERRED[key] = (kernel, stand_in, _make_deferred(name, kernel, stand_in, link),
                                  link)
    link = entry[3]
    link.compiler, link.state = compiler, {}
    return entry[2]


def release(kernel, compiler) -> None:
    """``kernel`` (from ``deferred``) stops serving ``compiler``: it no longer holds it."""
    for k, _, wrapped, link in _DEFERRED.values():
        if wrapped is kernel and link.compiler is compiler:
            link.compiler, link.state = None, {}


def _make_deferred(name, kernel, stand_in, link) -> Kernel:
    loops = kernel_loops(kernel)
    unit = UNIT_OF.get(name, name)
    if stand_in is not None and stand_in.needs != kernel.needs:     # vjps called differently
        stand_in = None

    def choose(raws):
        dt = _dtype_of(raws)
        if dt not in FLOAT_DTYPES:
            return kernel           # it declines these itself
        compiler, state = link.compiler, link.state   # state: dtype -> True (Numba's runs)
        if compiler is None:                          # or False (waiting); no context: Numba's
            return kernel
        ok = state.get(dt)
        if ok is None:
            ok = state[dt] = all(has_version(d, dt) for d in loops
                                 if _cache.versions_needed(d, (dt,)))
            if not ok:
                compiler.request(unit, dt)
        if not ok and compiler.ready(unit, dt):
            ok = state[dt] = True
        return kernel if ok else stand_in

    def forward(*raws, **params):
        chosen = choose(raws)
        res = None if chosen is None else chosen.forward(*raws, **params)
        if res is None:
            return None
        out, saved = res
        return out, (chosen, saved)

    def vjp(g, saved, *raws, **params):
        chosen, inner = saved
        return chosen.vjp(g, inner, *raws, **params)

    def vjp_in_place(g, saved, *raws, **params):
        chosen, inner = saved
        rule = chosen.vjp_in_place or chosen.vjp
        return rule(g, inner, *raws, **params)

    def vjp_sliced(key, values, saved, *raws, **params):
        chosen, inner = saved
        if chosen.vjp_sliced is None:
            return None                 # declined: the tape makes the gradient, calls vjp
        return chosen.vjp_sliced(key, values, inner, *raws, **params)

    same = stand_in is None or stand_in.saves == kernel.saves    # else keep everything
    in_place = kernel.vjp_in_place is not None and (stand_in is None or
                                                    stand_in.vjp_in_place is not None)
    return Kernel(forward, vjp if kernel.vjp is not None else None,
                  saves=kernel.saves if same else None,
                  vjp_in_place=vjp_in_place if in_place else None, needs=kernel.needs,
                  vjp_sliced=vjp_sliced if kernel.vjp_sliced is not None else None)


#: the warmup unit that compiles ``index_add``'s row loop (``_scatter.index_add_rows``)
INDEX_ADD_UNIT = "layer_norm"


def _deferred_index_add(backend, compiler):
    """``backend.index_add`` that runs the NumPy backend's while ``compiler`` compiles its row
    loop for the target's dtype (the embedding's gradient, ``x[ids]``'s)."""
    from ..numpy import NumpyBackend
    from ._scatter import index_add_rows

    settled = {}                # dtype -> whether the Numba loop runs

    def index_add(target, key, values):
        dt = getattr(getattr(target, "dtype", None), "name", None)
        if dt in FLOAT_DTYPES:
            ok = settled.get(dt)
            if ok is None:
                ok = settled[dt] = has_version(index_add_rows, dt)
                if not ok:
                    compiler.request(INDEX_ADD_UNIT, dt)
            if not ok and compiler.ready(INDEX_ADD_UNIT, dt):
                ok = settled[dt] = True
            if not ok:
                return NumpyBackend.index_add(backend, target, key, values)
        return type(backend).index_add(backend, target, key, values)

    return index_add


@contextlib.contextmanager
def compiling_in_background(backend):
    """While inside, ``backend``'s Numba kernels that are not in the cache compile in a
    background process and the NumPy kernels stand in (see the module's docstring). Yields the
    ``BackgroundCompiler``; restores the kernels (and ``index_add``) on the way out."""
    import xpgrad

    from . import _cache

    units = {name for _, name in _cache.UNITS}
    stand_ins = xpgrad.get_backend("numpy").kernels     # one table for the process: reused
    compiler = BackgroundCompiler()
    originals = {name: k for name, k in backend.kernels.items()
                 if UNIT_OF.get(name, name) in units}
    wrapped = {name: deferred(name, k, stand_ins.get(name), compiler)
               for name, k in originals.items()}
    backend.kernels.update(wrapped)
    outer_index_add = vars(backend).get("index_add")        # a context around this one's
    index_add = backend.index_add = _deferred_index_add(backend, compiler)
    try:
        yield compiler
    finally:
        if vars(backend).get("index_add") is index_add:
            if outer_index_add is None:
                del backend.index_add
            else:
                backend.index_add = outer_index_add
        for name, k in wrapped.items():
            if backend.kernels.get(name) is k:
                backend.kernels[name] = originals[name]
            release(k, compiler)
        compiler.close()


# -- the background process -------------------------------------------------------------------
def _answer(line) -> None:
    try:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()
    except OSError:             # the run that asked has ended: the cache still gets the kernel
        pass


def main() -> int:
    """Compile each ``<primitive> <dtype>`` read from stdin (one-thread loops) into the cache."""
    with contextlib.suppress(OSError, AttributeError):
        os.nice(10)                                     # the run in front comes first
    import numpy as np

    import xpgrad
    from . import _cache
    from ._cache_key import fingerprint

    backend = xpgrad.get_backend("numba")
    index = {name: i for i, (_, name) in enumerate(_cache.UNITS)}
    run_sources = os.environ.get(SOURCES_ENV, fingerprint())
    for line in sys.stdin:
        name, _, dtype = line.strip().partition(" ")
        if not name:
            continue
        try:
            if run_sources != fingerprint():
                raise RuntimeError("the numba backend's sources changed since the run started "
                                   "(its kernels would be cached for the new ones)")
            if name not in index or dtype not in FLOAT_DTYPES:
                raise ValueError(f"no kernel {name!r} for {dtype!r}")
            _cache._compile(backend, (np.dtype(dtype),), (index[name],), parallel=False)
        except Exception as e:                          # noqa: BLE001 (reported to the run)
            _answer(f"failed {name} {dtype} {' '.join(str(e).split()) or type(e).__name__}")
        else:
            _answer(f"ready {name} {dtype}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
