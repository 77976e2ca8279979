"""``recompute_grad`` (alias ``remat``): gradient checkpointing, trading compute for memory.

TensorFlow's ``tf.recompute_grad``, JAX's ``jax.checkpoint`` / ``jax.remat``, PyTorch's
``torch.utils.checkpoint.checkpoint(fn, ..., use_reentrant=False)``. A block wrapped with it
runs its forward without the tapes keeping its intermediate values (the residuals its rules
would read); the tapes record the block as one node holding only its inputs. When the backward
walk reaches that node, the block runs again under a fresh tape and that tape's gradient is
taken. A deep MLP or a long unrolled LSTM checkpointed block by block keeps one block's
residuals at a time instead of all of them, for about one more forward pass of compute.

What the block reads besides its arguments gets its gradient too: trainable Variables (a
Module's parameters) and tensors a tape outside differentiates (a closure over an earlier
result), as PyTorch's non-reentrant checkpoint does. Random draws (``xg.random`` generators,
``Dropout``) are replayed from the states the first run found, and a generator the block
makes without a seed gets the first run's seed, so the recomputation sees the same masks;
the generators are put back afterwards, so later draws are not disturbed (PyTorch's
``preserve_rng_state``). A side effect of the forward pass is not repeated:
while the block runs again, ``recomputing()`` is True and ``BatchNorm1d`` / ``batch_norm``
skip their running-statistics update, so a checkpointed step moves them once, as an
uncheckpointed one does (PyTorch's checkpoint, reentrant or not, updates them a second
time when it recomputes; JAX's ``remat`` has no side effects to repeat). Higher-order
gradients differentiate the recomputation (a tape that records the backward pass records
it). The block's outputs may be a Tensor or nested tuples, lists and dicts of them (other
values pass through, without gradient).

The block must compute the same thing when run again: a block that writes into its tensor
arguments (``x[i] = v``), or a Variable assigned or an input written between the forward pass
and the gradient, is refused (RuntimeError), as PyTorch refuses a tensor whose version
changed. Under ``xg.function`` a block that draws random numbers raises ``TraceError`` (a
replay would draw other numbers for the recomputation than for the forward pass); draw the
mask outside the block and pass it in. Other blocks trace and replay
with the eager gradients and the eager saving (16 ReLU layers of 128 at batch 4096, 4
segments: 32.3 MiB plain, 14.3 MiB checkpointed, replayed).

>>> import xpgrad as xg
>>> w = xg.Variable(xg.asarray([[1.0, -1.0], [0.5, 2.0]]), name="w")
>>> @xg.recompute_grad
... def block(x):
...     return xg.tanh(x @ w)
>>> x = xg.asarray([[1.0, 2.0]])
>>> with xg.GradientTape() as tape:
...     tape.watch(x)
...     loss = xg.sum(block(block(x)))
>>> dx, dw = tape.gradient(loss, [x, w])
>>> with xg.GradientTape() as plain:      # the same gradients without checkpointing
...     plain.watch(x)
...     y = xg.tanh(xg.tanh(x @ w) @ w)
...     loss2 = xg.sum(y)
>>> bool(xg.all(xg.abs(plain.gradient(loss2, w) - dw) < 1e-6))
True
"""
from __future__ import annotations

import contextlib
import functools
import threading

from . import pytree
from ._args import flag
from .primitive import apply, tape_state
from .random import noting_draws, replaying_fresh
from .tensor import Tensor, _wrap
from .outer_tapes import (OuterTapes, block_primitive, changed_operand, is_float_tensor,
                          pack_outputs, replaying_draws, unpack_outputs, value_identity,
                          walk_back)


def recompute_grad(fn, *, prevent_cse=True, policy=None, static_argnums=()):
    """``fn`` whose forward keeps no residuals on the tapes; its gradient recomputes it (module
    docstring). Use as a decorator or a call: ``y = xg.recompute_grad(block)(x, w)``.
    ``jax.checkpoint``'s keywords are taken where they mean what they do there:
    ``prevent_cse`` (True or False: xpgrad merges no common subexpressions, so both recompute
    the same), ``policy=None`` (nothing but the inputs saved, the one policy here) and
    ``static_argnums`` (an int or a tuple of them: positions of Python values, as a layer
    count, which reach ``fn`` as given: any non-tensor argument does; a Tensor there is a
    TypeError, as JAX refuses an array there).

    >>> import xpgrad as xg
    >>> block = xg.remat(lambda x: xg.sin(x) * x, prevent_cse=False)
    >>> round(xg.grad(block)(xg.asarray(1.0)).item(), 4)        # sin(1) + cos(1)
    1.3818
    """
    return _recomputed(fn, prevent_cse, policy, "recompute_grad", static_argnums)


def remat(fn, *, prevent_cse=True, policy=None, static_argnums=()):
    """``recompute_grad`` under JAX's name (``jax.remat`` is ``jax.checkpoint``;
    ``xg.checkpoint`` saves models); its errors name ``remat``.

    >>> import xpgrad as xg
    >>> round(xg.grad(xg.remat(xg.sin))(xg.asarray(0.0)).item(), 4)
    1.0
    >>> block = xg.remat(lambda x, n: x ** n, static_argnums=(1,))
    >>> xg.grad(block)(xg.asarray(2.0), 3).item()
    12.0
    """
    return _recomputed(fn, prevent_cse, policy, "remat", static_argnums)


def _static_positions(static_argnums, who) -> tuple:
    """``static_argnums`` as a tuple of ints, or TypeError naming it."""
    positions = (static_argnums,) if isinstance(static_argnums, int) else static_argnums
    if not isinstance(positions, (tuple, list)) or not all(
            isinstance(k, int) and not isinstance(k, bool) for k in positions):
        raise TypeError(f"{who}: static_argnums must be an int or a tuple of ints (argument "
                        f"positions), got {static_argnums!r}")
    return tuple(positions)


def _refuse_static_tensors(args, positions, who):
    for k in positions:
        if -len(args) <= k < len(args) and isinstance(args[k], Tensor):
            raise TypeError(f"{who}: argument {k} is in static_argnums but is a Tensor; static "
                            "arguments are Python values (a count, a flag), as jax.checkpoint's "
                            "must be hashable: leave the tensor out of static_argnums")


def _recomputed(fn, prevent_cse, policy, who, static_argnums=()):
    """``recompute_grad``, whose errors name ``who`` (the function the user called)."""
    if not callable(fn):
        raise TypeError(f"{who}: fn must be callable (the block to recompute), got "
                        f"{type(fn).__name__} {fn!r:.60}")
    flag(prevent_cse, "prevent_cse", who)
    if policy is not None:
        raise TypeError(f"{who}: policy must be None, got {policy!r}: xpgrad saves "
                        "only the block's inputs (jax.checkpoint_policies.nothing_saveable); "
                        "keep what should be saved outside the block")
    static = _static_positions(static_argnums, who)

    @functools.wraps(fn)
    def checkpointed(*args, **kwargs):
        if static:
            _refuse_static_tensors(args, static, who)
        if not tape_state.recording:
            return fn(*args, **kwargs)          # nothing records: nothing to save
        return _checkpointed_call(fn, args, kwargs)

    return checkpointed


#: per thread, how many checkpointed blocks are running again for their gradient
_AGAIN = threading.local()


def recomputing() -> bool:
    """True while a checkpointed block runs again for its gradient: a side effect its forward
    pass has made already (``BatchNorm1d``'s running statistics) is skipped then.

    >>> recomputing()
    False
    """
    return getattr(_AGAIN, "depth", 0) > 0


@contextlib.contextmanager
def _again():
    _AGAIN.depth = getattr(_AGAIN, "depth", 0) + 1
    try:
        yield
    finally:
        _AGAIN.depth -= 1



def _name(fn):
    return getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or repr(fn)


class _Reads:
    """Stands in for the tapes while a block's forward runs: records no node, only the tensors
    the block's operations read that a tape outside differentiates (trainable Variables,
    tensors watched or derived from watched ones), to make them inputs of the block's node."""

    def __init__(self, outer):
        self._keys = outside = OuterTapes(outer)
        self._auto = outside.auto
        self.found = {}                         # identity -> Tensor, in the order first read

    def _record(self, prim, args, raws, out, params, saved, kern, nested):
        differentiate = self._keys.differentiate
        for a in args:
            if isinstance(a, Tensor) and differentiate(a):
                self.found.setdefault(value_identity(a), a)

    def _record_one(self, prim, x, raws, out, saved, kern, scalar=None, params=None):
        self._record(prim, (x,), raws, out, params or {}, saved, kern, False)

    def _record_two(self, prim, a, b, raws, out, saved, kern):
        self._record(prim, (a, b), raws, out, {}, saved, kern, False)

    def _record_outputs(self, prim, x, raw, outs, params, nested):
        self._record(prim, (x,), (raw,), None, params, None, None, nested)


def _checkpointed_call(fn, args, kwargs):
    name = _name(fn)
    given = _tensor_arguments(args, kwargs)
    out, read, draws, fresh = _run_unrecorded(fn, args, kwargs)
    _refuse_written_arguments(given, name)
    if draws:
        _refuse_draws_under_trace(name)
    outputs = [t for t in pytree.leaves(out) if is_float_tensor(t)]
    operands = _operands([t for _, t, _, _ in given], read)
    if not outputs or not operands:
        return out                      # nothing a tape could differentiate through
    be = outputs[0]._backend
    for t in outputs + operands:
        if t._backend is not be:
            raise ValueError(f"recompute_grad: block {name!r} reads or returns tensors on "
                             f"backends {be.name!r} and {t._backend.name!r}; move them to one "
                             "backend outside the block")
    specs = [(t.shape, t.dtype) for t in outputs]
    whole = out if isinstance(out, Tensor) else pack_outputs(outputs)
    call = _Call(fn, name, args, kwargs, operands, draws, specs, whole.dtype, be)
    call.fresh = fresh
    call.value = whole._data
    node = apply(_REMAT, *operands, call=call)
    # what each input was when the block ran (the tapes have keyed its Variables by now): a
    # recomputation must see the same values
    call.snapshots = [(t._data, t._key) for t in operands]
    if isinstance(out, Tensor):
        return node
    pieces = iter(unpack_outputs(node, specs))
    return pytree.map_leaves(lambda leaf, path: next(pieces) if is_float_tensor(leaf) else leaf,
                             out)


def _run_unrecorded(fn, args, kwargs):
    """``fn(*args, **kwargs)`` with no tape recording; ``(its result, the tensors it read that
    a tape differentiates, {id: (generator, state)} of the generators it drew from, the seeds
    of the generators it made without one)``."""
    outer = tape_state.recording
    reads = _Reads(outer)
    tape_state.recording = [reads]
    try:
        with noting_draws() as draws:
            out = fn(*args, **kwargs)
    finally:
        tape_state.recording = outer
    return out, list(reads.found.values()), dict(draws), list(draws.fresh)


def _operands(arg_leaves, read):
    """The block's node's inputs: its floating-point Tensor arguments, then what it read that a
    tape differentiates; each value once (a second entry would get its gradient twice)."""
    seen = {}
    for t in arg_leaves + read:
        if is_float_tensor(t):
            seen.setdefault(value_identity(t), t)
    return list(seen.values())


def _tensor_arguments(args, kwargs):
    """``[(path, tensor, its array, its key)]`` of the block's floating-point Tensor
    arguments, paths as Python indexes them (``args[1]``, ``kwargs['h'][0]``)."""
    found = []

    def note(leaf, path):
        if is_float_tensor(leaf):
            where = path.replace("['args']", "args", 1).replace("['kwargs']", "kwargs", 1)
            found.append((where, leaf, leaf._data, leaf._key))
    pytree.map_leaves(note, {"args": args, "kwargs": kwargs}, is_leaf=_owns_state)
    return found


def _owns_state(node) -> bool:
    """A Module is one leaf here: what it holds is its own state (a batch norm's running
    statistics, which its forward updates), not an argument the block writes into; the tensors
    it reads are found as it reads them."""
    from .nn.module import Module

    return isinstance(node, Module)


def _refuse_written_arguments(given, name):
    """RuntimeError if the block wrote into a Tensor argument (``x[i] = v``): running it again
    would start from the written value."""
    for where, t, data, key in given:
        if t._data is not data or t._key != key:
            raise RuntimeError(f"recompute_grad: block {name!r} wrote into its argument "
                               f"{where}; recomputing it for the gradient would start from the "
                               "written value. Write into a copy (y = xg.asarray(x, "
                               "copy=True)), or do not checkpoint this block")


def _refuse_draws_under_trace(name):
    from .jit.capture import current_tracer
    from .jit.errors import TraceError

    if current_tracer() is not None:
        raise TraceError(f"recompute_grad: block {name!r} draws random numbers; under "
                         "xg.function a replay would draw other numbers when it recomputes the "
                         "block than in its forward pass. Draw the mask outside the block and "
                         "pass it in, or call the step without xg.function")


class _Call:
    """One call of a checkpointed block, held by its tape node: what running it again needs."""

    __slots__ = ("fn", "name", "args", "kwargs", "operands", "snapshots", "draws", "fresh",
                 "specs", "dtype", "backend", "value")

    def __init__(self, fn, name, args, kwargs, operands, draws, specs, dtype, backend):
        self.fn, self.name, self.args, self.kwargs = fn, name, args, kwargs
        self.operands = operands
        self.snapshots = ()
        self.draws, self.specs, self.dtype, self.backend = draws, specs, dtype, backend
        self.fresh = ()                 # the seeds of the generators it made without one
        self.value = None               # the first run's output, until the node is made

    def gradients(self, g, needs):
        """The gradients of the node's inputs (None where not ``needs``): raw arrays, or
        Tensors when ``g`` is one (an outer tape differentiates this backward pass)."""
        from .tape import GradientTape

        higher = isinstance(g, Tensor)
        upstream = g if higher else _wrap(g, self.backend)
        seeds = [upstream] if len(self.specs) == 1 and upstream.dtype == self.dtype and \
            self.specs[0][0] == upstream.shape else unpack_outputs(upstream, self.specs)
        sources = [t for t, need in zip(self.operands, needs) if need]
        self._check_unchanged(needs)
        with replaying_draws(self.draws), replaying_fresh(self.fresh), _again(), \
                GradientTape(watch_accessed_variables=False) as tape:
            for s in sources:
                tape.watch(s)
            outputs = [t for t in pytree.leaves(self.fn(*self.args, **self.kwargs))
                       if is_float_tensor(t)]
        self._check_same_outputs(outputs)
        # raw arrays, or Tensors where another tape records (then ``g`` is a Tensor too)
        found = walk_back(tape, outputs, seeds, sources, higher)
        return [found.get(t._key) if need else None for t, need in zip(self.operands, needs)]

    def _check_unchanged(self, needs):
        what = changed_operand(self.operands, self.snapshots, needs)
        if what is not None:
            raise RuntimeError(
                f"recompute_grad: {what} changed (assigned or written in place) after "
                f"block {self.name!r} ran and before its gradient was taken; recomputing "
                "the block would use the new value. Take the gradient first, or do not "
                "checkpoint this block")

    def _check_same_outputs(self, outputs):
        got = [(t.shape, t.dtype) for t in outputs]
        if got != self.specs:
            raise RuntimeError(f"recompute_grad: block {self.name!r} returned other outputs "
                               f"when run again for its gradient ({got} after {self.specs}); "
                               "a checkpointed block must compute the same thing each run")


_REMAT = block_primitive("recompute_grad")
