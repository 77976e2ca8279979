"""A ``vmap`` call under tapes that record: one node of theirs.

The batched operations inside never reach a tape outside the call (their values are batched
only while the call runs). The call runs with no tape outside recording, its batched
operations recorded on a tape of its own (``kept.py``) that watches what those tapes
differentiate as the function reads it (its arguments, closures, trainable Variables: what
``xg.recompute_grad`` notes, by the same ``outer_tapes.OuterTapes``); the tapes outside then
record the call as one node. A first-order gradient walks the call's tape in its level,
entered again, and sums the per-example gradients of what was not mapped. A higher order (a
tape records that backward pass) runs the function again inside ``vmap`` under a fresh tape --
the per-example vjp, batched, as ``jax.vjp`` of a ``jax.vmap`` is, summing what every example
read with ``vmap_sum_examples`` (JAX's ``psum`` over the vmap axis) -- and that vmap is again
such a node, whose gradient is the vmapped vjp of the vjp: every order composes.

>>> import xpgrad as xg
>>> w = xg.asarray([1.0, 2.0])
>>> xs = xg.asarray([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
>>> per_example = xg.vmap(xg.grad(lambda w, x: xg.sum(xg.sin(x * w))), in_axes=(None, 0))
>>> penalty = lambda w: xg.sum(per_example(w, xs) ** 2)
>>> loop = lambda w: sum(xg.sum(xg.grad(lambda w, x: xg.sum(xg.sin(x * w)))(w, x) ** 2)
...                      for x in xs)
>>> bool(xg.all(xg.abs(xg.grad(penalty)(w) - xg.grad(loop)(w)) < 1e-6))
True
"""
from __future__ import annotations

from ..primitive import Primitive, apply, tape_state
from ..pytree import rebuild
from ..random import noting_draws, replaying_fresh
from ..outer_tapes import (OuterTapes, block_primitive, changed_operand, is_float_tensor,
                           pack_outputs, replaying_draws, unpack_outputs, walk_back)
from ..tape import GradientTape
from ..tensor import Tensor, _wrap
from .axes import spec_leaves
from .batched import BatchedArray
from .outer_products import sum_examples
from .kept import KeptCall
from .session import reentrant


def recorded_call(run, spec, args, kwargs):
    """``run(args, kwargs)`` (the vmap call) with the tapes recording it as one node.

    ``spec``: the vmap's ``fn, in_axes, out_axes, randomness, fallbacks`` and ``remap`` (how to
    make another vmap of the same kind, for the gradient)."""
    outer = tape_state.recording
    kept = KeptCall(OuterTapes(outer))
    tape_state.recording = []               # (the kept tape records inside, alone)
    try:
        if spec.randomness == "error":      # (a draw raises: nothing to replay)
            draws = _NO_DRAWS
            out = run(args, kwargs, kept.around)
        else:
            with noting_draws() as draws:
                out = run(args, kwargs, kept.around)
    finally:
        tape_state.recording = outer
    out_axes = spec.out_axes
    if out.__class__ is Tensor and (out_axes is None or out_axes.__class__ is int):
        outs, outputs = None, [(0, out_axes, out)] if is_float_tensor(out) else []
    else:
        outs = spec_leaves(out_axes, out, "out_axes", "outputs")
        outputs = [(k, axis, leaf) for k, (axis, _, leaf) in enumerate(outs)
                   if is_float_tensor(leaf)]
    operands = kept.finish(spec, outputs, outs is None)
    if not outputs or not operands:
        return out                          # nothing a tape could differentiate through
    call = _Call(spec, args, kwargs, kept, operands, outputs, draws)
    whole = out if outs is None else outputs[0][2] if len(outputs) == 1 else \
        pack_outputs([leaf for _, _, leaf in outputs])
    call.value = whole._data
    node = apply(_NODE, *operands, call=call)
    # what each operand was when the call ran (the tapes have keyed its Variables by now): the
    # gradient reruns the function, which must see the same values
    call.snapshots = [(t._data, t._key) for t in operands]
    if out is whole:
        return node
    pieces = iter([node] if len(outputs) == 1 else unpack_outputs(node, call.specs))
    floats = {k for k, _, _ in outputs}
    return rebuild(out, [next(pieces) if k in floats else leaf
                         for k, (_, _, leaf) in enumerate(outs)])


class _NoDraws(dict):
    """``noting_draws``' answer for a call that cannot draw (``randomness="error"``)."""

    fresh = ()


_NO_DRAWS = _NoDraws()


def _refuse_draws_under_trace():
    from ..jit.capture import current_tracer
    from ..jit.errors import TraceError

    if current_tracer() is not None:
        raise TraceError("xg.vmap: the vmapped function draws random numbers, and a "
                         "higher-order gradient through it runs it again; under xg.function a "
                         "replay would draw other numbers for that gradient than for its value. "
                         "Draw outside the vmapped function and pass the draws in, or call "
                         "without xg.function")


class _Call:
    """One recorded vmap call, held by its node: what its gradient needs."""

    __slots__ = ("spec", "args", "kwargs", "operands", "draws", "specs", "value",
                 "outputs", "sources", "snapshots", "kept")

    def __init__(self, spec, args, kwargs, kept, operands, outputs, draws):
        self.spec, self.args, self.kwargs, self.kept = spec, args, kwargs, kept
        self.operands, self.draws = operands, draws
        self.outputs = [(k, axis if axis is None else axis % leaf.ndim)
                        for k, axis, leaf in outputs]
        self.specs = [(leaf.shape, leaf.dtype) for _, _, leaf in outputs]
        self.value = None
        self.snapshots = ()
        # (argument leaf number or None for a closure, its batch axis or None, operand number)
        self.sources = kept.sources

    def gradients(self, g, needs):
        """The operands' gradients (None where not ``needs``): raw arrays, or Tensors when
        ``g`` is one (a tape records this backward pass)."""
        higher = isinstance(g, Tensor)
        kept = self.kept
        size = kept.size
        if not higher and size and reentrant(kept.level):
            seeds = [g] if len(self.specs) == 1 else \
                [s._data for s in unpack_outputs(_wrap(g, kept.backend), self.specs)]
            return kept.walk(seeds, needs, self.outputs, len(self.operands), self.spec)
        upstream = g if higher else _wrap(g, self.operands[0]._backend)
        seeds = [upstream] if len(self.specs) == 1 else unpack_outputs(upstream, self.specs)
        self._check_unchanged(needs)
        if self.draws:
            _refuse_draws_under_trace()
        seeds = [seed if axis is not None else _seed_of_shared(seed, size)
                 for seed, (_, axis) in zip(seeds, self.outputs)]
        sources = [s for s in self.sources if needs[s[2]]]
        closures = tuple(self.operands[i] for k, _, i in sources if k is None)
        # what every example reads gets the examples' gradients summed inside the vmap (an
        # outer product's factors are summed as one matrix product), except over no examples
        inside = size > 0
        per_example = _per_example_vjp(self.spec, len(self.args), sources, self.outputs,
                                       inside)
        arg_axes = (tuple(self.spec.in_axes) if isinstance(self.spec.in_axes, (tuple, list))
                    else (self.spec.in_axes,) * len(self.args))
        seed_axes = tuple(0 if axis is None else axis for _, axis in self.outputs)
        grad_axes = tuple(axis if axis is not None or inside else 0 for _, axis, _ in sources)
        vjp = self.spec.remap(per_example, arg_axes + (None, seed_axes), grad_axes)
        with replaying_draws(self.draws), replaying_fresh(self.draws.fresh):
            found = vjp(*self.args, closures, tuple(seeds), **self.kwargs)

        from ..ops.reductions import sum as reduce_sum

        totals = [None] * len(self.operands)
        for (_, axis, i), grad in zip(sources, found):
            if grad is None:
                continue
            if axis is None and not inside:     # the examples' gradients, of no example
                grad = reduce_sum(grad, axis=0)
            totals[i] = grad if totals[i] is None else totals[i] + grad
        if higher:
            return totals
        return [None if t is None else t._data for t in totals]

    def _check_unchanged(self, needs):
        what = changed_operand(self.operands, self.snapshots, needs)
        if what is not None:
            raise RuntimeError(
                f"xg.vmap: {what} changed (assigned or written in place) after the "
                f"vmapped function {_name(self.spec.fn)!r} ran and before the gradient "
                "through it was taken; the gradient runs the function again and would "
                "use the new value. Take the gradient before changing it")


def _name(fn):
    return getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or repr(fn)


def _seed_of_shared(seed, size):
    """The gradient of an output that every example shares (``out_axes`` None), as a batch:
    ``seed`` for the first example, zeros for the others (the output counts once)."""
    from ..creation import zeros
    from ..ops.joining import concat
    from ..ops.reductions import any as any_of
    from ..ops.shape import expand_dims

    if size == 0:
        if bool(any_of(seed != 0)):
            raise NotImplementedError(
                "xg.vmap over 0 examples: the gradient of an output with out_axes None (one "
                "value for all examples) is not supported, as no example runs its vjp; give "
                "that output an axis or compute it outside the vmapped function")
        return expand_dims(seed, axis=0)[:0]
    rest = zeros((size - 1,) + tuple(seed.shape), dtype=seed.dtype, backend=seed._backend)
    return concat([expand_dims(seed, axis=0), rest], axis=0)


def _per_example_vjp(spec, n_args, sources, outputs, summed):
    """The function vmapped for the gradient: one example's vjp of ``spec.fn`` with respect
    to ``sources`` (its argument leaves by number, then the closures given in order); with
    ``summed``, the gradients of the unmapped ones are the sums over the examples."""
    from .arguments import positional_leaves

    def vjp(*args_and_more, **kwargs):
        args, closures, seeds = args_and_more[:n_args], args_and_more[n_args], \
            args_and_more[n_args + 1]
        leaves = [leaf for _, _, leaf in positional_leaves(args, spec.in_axes)]
        leaves += [leaf for _, _, leaf in spec_leaves(None, kwargs, "in_axes", "keyword "
                                                      "arguments")]
        extra = iter(closures)
        watched = [leaves[k] if k is not None else next(extra) for k, _, _ in sources]
        with GradientTape(watch_accessed_variables=False) as tape:
            for t in watched:
                tape.watch(t)
            out = spec.fn(*args, **kwargs)
        outs = spec_leaves(spec.out_axes, out, "out_axes", "outputs")
        pairs = [(outs[k][2], seed) for (k, _), seed in zip(outputs, seeds)
                 if isinstance(outs[k][2], Tensor)]
        if not pairs:
            return tuple(None for _ in watched)
        higher = bool(tape_state.recording)
        found = walk_back(tape, [t for t, _ in pairs], [s for _, s in pairs], watched, higher)
        grads = [_as_tensor(found.get(t._key), t) for t in watched]
        if summed:
            level = seeds[0]._data._level       # (the seeds are entered: batched by this vmap)
            grads = [apply(_SUM_EXAMPLES, g, level=level) if axis is None and g is not None
                     else g for g, (_, axis, _) in zip(grads, sources)]
        return tuple(grads)

    return vjp


def _as_tensor(g, source):
    if g is None or isinstance(g, Tensor):
        return g
    return _wrap(g, source._backend)


def _sum_examples(xp, x, level):
    """The sum over the examples of ``level`` (JAX's ``psum`` over a vmap's axis), the value
    every example then shares."""
    if x.__class__ is BatchedArray and x._level is level:
        if x._shared:
            return BatchedArray.of_example(x.example() * level.size, level)
        return BatchedArray.of_example(sum_examples(level, x), level)
    return x * level.size                   # every example's the same


def _sum_examples_vjp(xp, g, ans, x, level):
    # each example's input reaches every example's sum: its gradient sums them too
    if isinstance(g, Tensor):
        return apply(_SUM_EXAMPLES, g, level=level)
    return _sum_examples(xp, g, level)


_SUM_EXAMPLES = Primitive("vmap_sum_examples", _sum_examples, _sum_examples_vjp, saves=())


_NODE = block_primitive("vmap")
