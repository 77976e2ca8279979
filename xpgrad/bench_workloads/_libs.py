"""What the workloads need from each library (xpgrad backends, PyTorch, JAX), and the names
of the workloads' parameters."""
from __future__ import annotations

import contextlib

import numpy as np

XPGRAD_LIBS = ("xpgrad-numpy", "xpgrad-numba", "xpgrad-cupy")
PEER_LIBS = ("torch-cpu", "torch-cuda", "jax-cpu")
LIBS = XPGRAD_LIBS + PEER_LIBS
# the peer each xpgrad backend is compared with (same device)
REFERENCE = {"xpgrad-numpy": "torch-cpu", "xpgrad-numba": "torch-cpu",
             "xpgrad-cupy": "torch-cuda"}
# a second peer on the same device, compared with where it was timed too
SECOND_REFERENCE = {"xpgrad-numpy": "jax-cpu", "xpgrad-numba": "jax-cpu"}

LOSSES = ("softmax_cross_entropy", "sigmoid_mse", "sigmoid_cross_entropy_with_logits", "mse")
ACTIVATIONS = ("sigmoid", "tanh", "relu", "leaky_relu", "softplus", "softmax", "log_softmax",
               "silu", "gelu", "elu", "selu", "celu", "mish", "softsign", "log_sigmoid",
               "hardtanh", "relu6", "hardsigmoid", "hardswish")
OPTIMIZERS = ("sgd", "adagrad", "adadelta", "rmsprop", "adam", "adamw")
MLP_SIZES = (784, 256, 10)


class Unavailable(NotImplementedError):
    """This library (or the xpgrad module a workload needs) cannot run here."""


def parse_shape(text: str) -> tuple:
    """``"128x10"`` -> ``(128, 10)`` (asv parameters are shown as text on the dashboard)."""
    return tuple(int(n) for n in text.split("x"))


# -- libraries -------------------------------------------------------------------------------

class _Lib:
    """What a workload needs from a library: put NumPy data on it, synchronize it."""

    def __init__(self, name):
        self.name = name
        self.kind, _, self.device = name.partition("-")
        self.sync = _nothing
        if self.kind == "xpgrad":
            self._init_xpgrad()
        elif self.kind == "torch":
            self._init_torch()
        elif self.kind == "jax":
            self._init_jax()
        else:
            raise ValueError(f"unknown library {name!r}; expected one of {LIBS}")

    def _init_xpgrad(self):
        import xpgrad as xg

        try:
            self.backend = xg.get_backend(self.device)
        except xg.BackendUnavailableError as e:
            raise Unavailable(str(e)) from None
        warmup = getattr(self.backend, "warmup", None)
        if warmup is not None:   # Numba compiles its kernels here, outside the timings
            try:
                warmup(dtypes=("float32",))
            except TypeError:
                warmup()
        self.sync = self.backend.synchronize

    def _init_torch(self):
        try:
            import torch
        except ImportError:
            raise Unavailable("PyTorch is not installed") from None
        if self.device == "cuda":
            if not torch.cuda.is_available():
                raise Unavailable("PyTorch sees no CUDA device")
            self.sync = torch.cuda.synchronize
        self.torch = torch

    def _init_jax(self):
        with _one_cpu_if(one_jax_thread_asked()):
            try:
                import jax
            except ImportError:
                raise Unavailable("JAX is not installed") from None
            self.jax = jax
            self.cpu = jax.devices("cpu")[0]    # XLA sizes its CPU thread pool here

    def namespace(self):
        """The library's array namespace: xpgrad, torch or jax.numpy."""
        if self.kind == "xpgrad":
            import xpgrad

            return xpgrad
        return self.torch if self.kind == "torch" else self.jax.numpy

    def put(self, a, grad=False):
        """NumPy array ``a`` on this library (a watched leaf when ``grad`` on torch)."""
        if self.kind == "xpgrad":
            import xpgrad as xg

            return xg.asarray(a, backend=self.backend)
        if self.kind == "torch":
            t = self.torch.from_numpy(np.ascontiguousarray(a)).to(self.device)
            return t.requires_grad_(grad)
        return self.jax.device_put(a, self.cpu)


def _nothing():
    pass


def limit_threads(n, torch=False, numba=False) -> dict:
    """Let BLAS (threadpoolctl), Numba (when imported, or imported first with ``numba``: an
    asv benchmark's fresh process imports it only when it builds the workload, after this)
    and, with ``torch``, PyTorch use ``n`` threads each; returns the counts now in force.
    (The asv suites run this package against older xpgrad commits, so it cannot use
    ``xpgrad.threads``.)"""
    import sys

    out = {}
    if numba or "numba" in sys.modules:
        import numba

        numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))
        out["numba"] = numba.get_num_threads()
    if torch:
        try:
            import torch as th
        except ImportError:
            pass
        else:
            th.set_num_threads(n)
            out["torch"] = th.get_num_threads()
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:
        return out
    controller = ThreadpoolController()
    controller.limit(limits=n)
    blas = [lib["num_threads"] for lib in controller.info() if lib["user_api"] == "blas"]
    if blas:
        out["blas"] = min(blas)
    return out


#: what JAX's issue #1539 gives for one XLA CPU thread (JAX documents no API for it); read
#: once, when jax is imported. jax 0.10 ignores them for its matrix products (a 4096x784x256
#: product took 22 ms of CPU in 13 ms of wall time on two cores), so ``_Lib("jax-cpu")`` also
#: creates XLA's CPU client on one core (``_one_cpu_if``): its thread pool is as large as the
#: process's CPU affinity then
JAX_ONE_THREAD_FLAGS = ("--xla_cpu_multi_thread_eigen=false", "intra_op_parallelism_threads=1")


def one_jax_thread_asked() -> bool:
    """Whether ``XLA_FLAGS`` holds the one-thread flags (``limit_jax_threads(1)`` set them)."""
    import os

    flags = os.environ.get("XLA_FLAGS", "")
    return all(f in flags for f in JAX_ONE_THREAD_FLAGS)


@contextlib.contextmanager
def _one_cpu_if(asked):
    """The process on one of its CPUs inside the block, when ``asked`` (and the platform has
    ``sched_setaffinity``); its CPUs as before afterwards, however the block ends."""
    import os

    cpus = os.sched_getaffinity(0) if asked and hasattr(os, "sched_setaffinity") else None
    if not cpus or len(cpus) == 1:
        yield
        return
    os.sched_setaffinity(0, {min(cpus)})
    try:
        yield
    finally:
        os.sched_setaffinity(0, cpus)


def limit_jax_threads(n):
    """Ask XLA for ``n`` CPU threads before jax is imported; returns 1 when the one-thread
    flags are in ``XLA_FLAGS`` (set here or by the caller), None where JAX picks (``n > 1``,
    or jax imported earlier without them)."""
    import os
    import sys

    flags = os.environ.get("XLA_FLAGS", "")
    if n == 1 and "jax" not in sys.modules:
        missing = [f for f in JAX_ONE_THREAD_FLAGS if f.split("=")[0] not in flags]
        flags = " ".join([flags, *missing]).strip()
        os.environ["XLA_FLAGS"] = flags
    return 1 if one_jax_thread_asked() else None


def measured(run, **sizes):
    """Attach ``sizes`` (read off the arrays the workload built) to its callable as
    ``run.work``: ``xpgrad bench`` checks them against the sizes its row's label states."""
    run.work = {k: tuple(int(n) for n in v) if isinstance(v, (tuple, list)) else int(v)
                for k, v in sizes.items()}
    return run


def _xpgrad_module(name):
    """``xpgrad.<name>`` (losses, optim, nn), or Unavailable in a commit without it."""
    import importlib

    try:
        return importlib.import_module(f"xpgrad.{name}")
    except ModuleNotFoundError as e:
        if e.name != f"xpgrad.{name}":
            raise       # a broken import inside the module is a failure, not a skip
        raise Unavailable(f"xpgrad.{name} is missing in this version of xpgrad") from None


def _need(obj, attr, what):
    if not hasattr(obj, attr):
        raise Unavailable(f"{what} has no {attr!r} here")
    return getattr(obj, attr)


def _jax_timed(lib, fn, *args):
    jitted = lib.jax.jit(fn)

    def run():
        lib.jax.block_until_ready(jitted(*args))
    return run
