"""Plain SGD folded into the weight gradient's matrix product: ``W <- W - lr * (a @ b)`` as one
BLAS ``gemm`` (``alpha = -lr``, ``beta = 1``, written into ``W``), with no gradient buffer.

``fold_sgd_into_gemm(program, escaping)`` rewrites a traced program in which a plain SGD
optimizer (no momentum, weight decay or clipping; ``apply_gradients`` not overridden) applies a
gradient that is a matrix product used nowhere else (a dense layer's ``x.T @ g``): the product
step is dropped, and the optimizer's host step becomes a ``FusedSGDStep`` that runs the update
of those variables as one ``gemm`` each (the direct gemm the products use,
``xpgrad.backends.blas``, else SciPy's) and the others as ``apply_gradients`` would. The learning rate (a schedule's value included)
and ``iterations`` advance as in eager. Where SciPy's gemm is the one and SciPy is missing, or
while NumPy's BLAS runs several threads
(two OpenBLAS pools would fight over the cores), for arrays BLAS cannot take in place, or for a
product under ``blas.MIN_WORK`` multiply-adds (a gemm call costs more than it saves), the step
computes the product and applies the ordinary update. A product whose factors outweigh the
gradient by more than ``FOLD_MEMORY_SLACK`` bytes (a large batch) is not folded: they would
stay alive until the update.

>>> import numpy as np
>>> w = np.ones((128, 128), np.float32)
>>> a, b = np.ones((128, 256), np.float32), np.ones((256, 128), np.float32)
>>> gemm_update(w, a, b, -0.5), w[0, :2].tolist()      # w - 0.5 * (a @ b)
(True, [-127.0, -127.0])
>>> gemm_update(w[:4], a[:4], b, -0.5)                 # too small to pay: the caller updates
False
"""
from __future__ import annotations

import functools
import importlib.util

import numpy as np

from ..backends import blas
from ..optim._checks import learning_rate_fits
from ..optim.schedules_base import fitting_constant_rate
from ..optim.update_modes import plain_settings
from ..tensor import Tensor
from .guards import _variable_roots
from .program_steps import Ref, slot_uses

_GEMM_DTYPES = (np.dtype("float32"), np.dtype("float64"))


@functools.cache
def _gemms():
    """SciPy's gemm per dtype, or None without SciPy (imported on first use: a program with
    no plain SGD update never loads it)."""
    from ..threads import match_blas_threads

    try:
        from scipy.linalg import blas
    except ImportError:
        return None
    # SciPy's own OpenBLAS, loaded after --threads limited NumPy's (by Numba's first compile or
    # the import above), would run a pool of every CPU: a B=32 MLP step took 3-20x as long
    match_blas_threads("scipy")
    return {np.dtype("float32"): blas.sgemm, np.dtype("float64"): blas.dgemm}


@functools.cache
def _scipy_installed() -> bool:
    """Whether SciPy can be imported, found without importing it."""
    return importlib.util.find_spec("scipy") is not None


def _gemm_expected() -> bool:
    """Whether a folded update will find a gemm: the direct one of the host products, else
    SciPy's, which is not imported here (``scipy.linalg`` cost a plain SGD step's first trace
    0.27 s where the direct gemm runs every update); ``gemm_update`` imports it when it needs
    it, and computes the product and the ordinary update where it cannot."""
    return blas._library() is not None or _scipy_installed()


@functools.cache
def _numpys_blas():
    """threadpoolctl's controllers of NumPy's own BLAS (read for their thread count)."""
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:
        return ()
    from ..threads import _shipped_by

    return tuple(_shipped_by("numpy", ThreadpoolController().select(
        user_api="blas").lib_controllers))


def _one_pool_at_a_time() -> bool:
    """Whether SciPy's gemm may run: not while NumPy's BLAS runs several threads. Two OpenBLAS
    pools of spinning threads then take turns at the cores (a compiled B=128 MLP step at
    --threads 2 took 10 ms instead of 0.7); NumPy's pool then computes the product."""
    return all(lib.num_threads <= 1 for lib in _numpys_blas())


def _fortran_operand(m):
    """``(array, trans)`` with ``array`` Fortran-ordered and ``op(array) == m.T``, or None."""
    if m.flags.c_contiguous:
        return m.T, 0
    if m.flags.f_contiguous:
        return m, 1
    return None


def gemm_update(c, a, b, alpha) -> bool:
    """``c += alpha * (a @ b)`` in place, as one BLAS gemm, for C-ordered 2-D ``c``; False
    (nothing done) where that cannot run in place: no SciPy, another dtype or layout, ``c``
    sharing memory with ``a`` or ``b``, or a product too small for a gemm call to pay. The direct
    gemm of the host backends' products runs it (MKL's or NumPy's OpenBLAS,
    ``xpgrad.backends.blas``), else SciPy's BLAS."""
    if a.ndim != 2 or b.ndim != 2 or blas.small(a, b):
        return False            # NumPy's product and the ordinary update are faster
    if blas.gemm_update(c, a, b, alpha):
        return True
    gemms = _gemms()
    if gemms is None or not _one_pool_at_a_time():
        return False
    gemm = gemms.get(c.dtype)
    if gemm is None or a.dtype != c.dtype or b.dtype != c.dtype or c.ndim != 2 \
            or not c.flags.c_contiguous or not c.flags.writeable \
            or np.may_share_memory(c, a) or np.may_share_memory(c, b):
        return False
    # C-ordered c is Fortran-ordered c.T: c.T += alpha * b.T @ a.T
    lhs, rhs = _fortran_operand(b), _fortran_operand(a)
    if lhs is None or rhs is None:
        return False
    target = c.T
    # positional: (alpha, a, b, beta, c, trans_a, trans_b, overwrite_c), keywords cost 0.3 us
    out = gemm(alpha, lhs[0], rhs[0], 1.0, target, lhs[1], rhs[1], 1)
    if out is not target:       # BLAS worked on a copy: write it back (``.ctypes`` took 2 us)
        c[...] = out.T
    return True


def gemm_available() -> bool:
    """Whether ``gemm_update`` has a BLAS to run (the host products' direct gemm, else
    SciPy's while NumPy's BLAS runs one thread), for operands it takes."""
    return blas._library() is not None or (_gemms() is not None and _one_pool_at_a_time())


class FusedSGDStep:
    """Replay of a plain SGD ``apply_gradients`` whose matrix-product gradients are taken as
    their two factors: ``args`` holds, per variable, ``(a, b)`` for a fused one (its gradient
    is ``a @ b``) or its gradient (None: skipped). ``small``: per variable, whether its
    product was under ``blas.MIN_WORK`` when traced (no gemm tried: NumPy's product and the
    ordinary update, as ``gemm_update`` would decline)."""

    keeps_arguments = False     # plain SGD keeps no gradient: the program may reuse their memory

    def __init__(self, optimizer, variables, fused, be, reset=None, small=None):
        self.optimizer, self.variables, self.fused, self.be = optimizer, variables, fused, be
        self.small = (False,) * len(variables) if small is None else small
        self.reset = reset      # HostOptimizerStep's: an optimizer made afresh in every call

    def __call__(self, *args):
        if self.reset is not None:
            self.reset()
        opt, be = self.optimizer, self.be
        if not plain_settings(opt):
            return self._as_traced(args)    # set since the trace: no longer a plain update
        lr = fitting_constant_rate(opt)
        if lr is None:
            lr = opt.learning_rate      # a bad schedule value raises before any update
            learning_rate_fits(lr, self.variables)
        states = opt._state
        for v, fused, small, arg in zip(self.variables, self.fused, self.small, args):
            if arg is None:
                continue
            entry = states.get(id(v))         # _state_for's usual case inline
            state = entry[1] if entry is not None and entry[0] is v else opt._state_for(v)
            param = v._data
            if fused:
                a, b = arg
                if not small and gemm_update(param, a, b, -lr):
                    continue
                arg = a @ b
            elif isinstance(arg, Tensor):
                arg = arg._data
            if arg.dtype != param.dtype:
                arg = be.xp.astype(arg, param.dtype)
            opt._update(be, param, arg, state, lr)
        iterations = opt.iterations + 1
        object.__setattr__(opt, "iterations", iterations)    # not a checked setting
        return iterations

    def _as_traced(self, args):
        """The step the trace saw: the products computed, then ``apply_gradients``."""
        from ..optim.optimizer import Optimizer
        from .replay_steps import HostOptimizerStep

        grads = [(arg[0] @ arg[1]) if fused else arg for fused, arg in zip(self.fused, args)]
        return HostOptimizerStep(Optimizer.apply_gradients, self.optimizer, self.variables,
                                 self.be)(*grads)


def _plain_sgd(host):
    from ..optim._checks import non_negative_int
    from ..optim.optimizer import Optimizer
    from ..optim.sgd_optimizer import SGD
    from .replay_steps import HostOptimizerStep

    if type(host) is not HostOptimizerStep:
        return None
    opt = host.optimizer
    plain = (host.method is Optimizer.apply_gradients and isinstance(opt, SGD)
             and type(opt).apply_gradients is Optimizer.apply_gradients
             and type(opt)._update is SGD._update and plain_settings(opt)
             # the step sets ``iterations`` past the checks of settings: none may apply
             and type(opt).__setattr__ is Optimizer.__setattr__
             and opt._CHECKS.get("iterations") is non_negative_int)
    return opt if plain else None


def _is_matmul(fn, xp):
    return fn is np.matmul or fn is blas.matmul or fn is getattr(xp, "matmul", None)


def fold_sgd_into_gemm(program, escaping) -> int:
    """Rewrite ``program.steps`` as the module docstring says; the number of variables whose
    update became a gemm. ``escaping``: slots that leave the program (never folded)."""
    steps = program.steps
    if not any(s.kind == "host" and _plain_sgd(s.fn) for s in steps) or not _gemm_expected() \
            or not isinstance(program.be.xp.zeros(1), np.ndarray):
        return 0
    slots = program.slots
    uses = slot_uses(steps)
    producer = {step.outs.i: step for step in steps if type(step.outs) is Ref}
    variable_roots = _variable_roots(steps, slots)
    dropped, count = set(), 0
    for k, step in enumerate(steps):
        opt = _plain_sgd(step.fn) if step.kind == "host" else None
        if opt is None:
            continue
        # a factor viewing a Variable this step updates (w1.T in w2's gradient of w1 @ w2)
        # would be read after that update, where eager took the product before it
        updated = {root for root, v in variable_roots.items()
                   if any(v is u for u in step.fn.variables)}
        args, fused, small = [], [], []
        for g, v in zip(step.args, step.fn.variables):
            factors = _product_factors(g, v, producer, uses, slots, escaping, program.be.xp)
            if factors is not None and any(slots[r.i].root in updated for r in factors):
                factors = None
            fused.append(factors is not None)
            args.append(g if factors is None else factors)
            small.append(factors is not None and blas.small(*(slots[r.i] for r in factors)))
        # a gradient given as a constant (not computed in the program) keeps the generic step
        if any(fused) and all(f or g is None or type(g) is Ref for f, g in zip(fused, args)):
            count += sum(fused)
            dropped.update(id(producer[g.i]) for f, g in zip(fused, step.args) if f)
            steps[k] = type(step)(FusedSGDStep(opt, step.fn.variables, fused, step.fn.be,
                                               step.fn.reset, tuple(small)),
                                  tuple(args), {}, None, "host")
    program.steps = [s for s in steps if id(s) not in dropped]
    return count


def _product_factors(g, v, producer, uses, slots, escaping, xp):
    """``(Ref a, Ref b)`` when gradient ``g`` of Variable ``v`` is ``a @ b`` of 2-D arrays of
    ``v``'s float dtype, made for this update alone; else None."""
    if type(g) is not Ref or g.i in escaping or uses.get(g.i) != 1:
        return None
    step = producer.get(g.i)
    if step is None or step.kind != "call" or step.kwargs or len(step.args) != 2 \
            or not _is_matmul(step.fn, xp) or not all(type(r) is Ref for r in step.args):
        return None
    a, b = step.args
    info = slots[g.i]
    data = getattr(v, "_data", None)
    if len(info.shape) != 2 or info.dtype not in _GEMM_DTYPES or data is None \
            or tuple(data.shape) != info.shape or data.dtype != info.dtype:
        return None
    if any(len(slots[r.i].shape) != 2 or slots[r.i].dtype != info.dtype
           or slots[r.i].dynamic is not None for r in (a, b)):
        return None
    # folded, a and b live until the update instead of the gradient: where they are larger
    # (a large batch: x.T and g hold batch * (fan_in + fan_out) numbers, the gradient
    # fan_in * fan_out), the step's peak memory would grow with each layer
    extra = _size(slots[a.i].shape) + _size(slots[b.i].shape) - _size(info.shape)
    if extra * info.dtype.itemsize > FOLD_MEMORY_SLACK:
        return None
    return (a, b)


#: bytes a fold may keep alive beyond the gradient it replaces, per layer
FOLD_MEMORY_SLACK = 256 * 1024


def _size(shape):
    return shape[0] * shape[1]


__all__ = ["FusedSGDStep", "fold_sgd_into_gemm", "gemm_available", "gemm_update"]
