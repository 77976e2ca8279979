"""``DistributedGradientTape``: a GradientTape whose ``gradient`` returns gradients reduced
over all ranks, with each bucket's reduction started while the backward walk is still running.

>>> import xpgrad as xg
>>> w = xg.Variable([1.0, 2.0], name="w")
>>> with xg.GradientTape() as tape:
...     loss = xg.sum(w * w)
>>> tape = xg.distributed.DistributedGradientTape(tape)
>>> tape.gradient(loss, [w])[0].tolist()         # one process: the local gradient
[2.0, 4.0]
"""
from __future__ import annotations

import math
import time
import warnings

from .._args import flag
from ..primitive import tape_state
from ..gradient_call import check_sources
from ..gradient_hooks import HOOKS
from ..pytree import leaves_with_paths, rebuild
from ..tape_recording import node_keys
from ..tensor import _wrap
from .buckets import DEFAULT_BUCKET_BYTES, Reduction, plan_for
from .agreement import ADVICE, check_same, raise_together
from .tape_gradients import (SETTINGS_ADVICE, last_step, mark_reduced,  # noqa: F401
                             reduced_by_tape)
from .group import world as _world
from .join import bucket_shadow, note_weight
from .sync_stats import contribution, take_backward_scales

OPS = ("mean", "sum")

def check_weight(weight):
    """``weight`` as a float (a real number >= 0), else ValueError/TypeError naming it."""
    if isinstance(weight, bool) or not isinstance(weight, (int, float)) and not (
            hasattr(weight, "__float__") and getattr(weight, "ndim", 0) == 0):
        raise TypeError(f"weight must be a real number >= 0 (e.g. the local batch size), got "
                        f"{type(weight).__name__}")
    weight = float(weight)
    if not (math.isfinite(weight) and weight >= 0):
        raise ValueError(f"weight must be a finite number >= 0 (e.g. the local batch size), "
                         f"got {weight}")
    return weight


def check_op(op):
    if op not in OPS:
        raise ValueError(f"op must be 'mean' or 'sum', got {op!r}")
    return op


def check_bucket_bytes(bucket_bytes):
    """``bucket_bytes`` if it is a positive integer, else ValueError naming it."""
    if isinstance(bucket_bytes, bool) or not isinstance(bucket_bytes, int) or bucket_bytes < 1:
        raise ValueError(f"bucket_bytes must be a positive integer, got {bucket_bytes!r}")
    return bucket_bytes


def describe(sources):
    """One line per source (name, shape, dtype): what every rank must agree on."""
    return [f"{getattr(s, 'name', None) or 'tensor'}: shape {tuple(s.shape)} {s.dtype}"
            for s in sources]


def check_same_reduction(world, what, tensors, op, first=(), last=(), shadow=None):
    """Raise DistributedError on every rank unless all ranks reduce the same ``tensors``
    (names, shapes, dtypes, order) with the same ``op``, naming what differs; ``first``:
    items this rank puts ahead of them (a reason it cannot take part like the others);
    ``last``: the settings of the optimizer that applied the last gradients (``last_step``);
    ``shadow``: what a rank that has left its ``dist.join()`` block takes part in."""
    what += " or optimizer settings" if last else ""
    check_same(world, what, [*first, *describe(tensors), f"op={op!r}", *last],
               SETTINGS_ADVICE if last else f"{ADVICE}, with the same op",
               call="DistributedGradientTape.gradient()", shadow=shadow)


#: the wrapped tape's methods whose answer would silently be one rank's
_LOCAL_ONLY = ("jacobian", "batch_jacobian")


class DistributedGradientTape:
    """Wrap ``tape`` (a GradientTape): ``gradient`` gives the gradients reduced across ranks.

    ``op="mean"`` (default) averages them -- weighted by ``gradient(..., weight=w)``, so with
    ``w`` = the local batch size the result is the mean over the global batch; ``"sum"`` adds
    them. Gradients are reduced in flat buckets of at most ``bucket_bytes``; with ``overlap`` a
    bucket's reduction starts (non-blocking) as soon as the backward walk has produced all its
    gradients. Every rank must call ``gradient`` with the same sources (names, shapes, dtypes,
    order), which is checked on each call: a rank that differs is named in a DistributedError
    raised on all ranks. ``last_timing`` holds the seconds of the last call: ``walk`` (the
    backward walk, reductions running behind it) and ``wait`` (waiting for them afterwards).
    An exception in one rank's backward pass (a MemoryError) is raised on every rank by the
    same ``gradient`` call, with ``failed_rank`` naming that rank (see
    ``agreement.raise_together``), instead of leaving the others waiting for its gradients.
    """

    def __init__(self, tape, *, op="mean", bucket_bytes=DEFAULT_BUCKET_BYTES, overlap=True,
                 world=None):
        if isinstance(tape, DistributedGradientTape):
            raise TypeError("tape is already a DistributedGradientTape; wrap the xg.GradientTape"
                            " once (each wrapper reduces the gradients again)")
        if not hasattr(tape, "gradient") or not hasattr(tape, "_backward"):
            raise TypeError(f"tape must be an xg.GradientTape, got {type(tape).__name__}")
        self.tape = tape
        self.op = check_op(op)
        self.bucket_bytes = check_bucket_bytes(bucket_bytes)
        self.overlap = flag(overlap, "overlap", "DistributedGradientTape")
        self.world = world if world is not None else _world()
        self.last_timing = {}

    # the wrapped tape's recording API
    def __enter__(self):
        self.tape.__enter__()
        return self

    def __exit__(self, *exc):
        return self.tape.__exit__(*exc)

    def __getattr__(self, name):
        if name == "tape":          # not set yet (a failed __init__): no recursion
            raise AttributeError(name)
        if name in _LOCAL_ONLY:
            raise AttributeError(
                f"DistributedGradientTape has no {name}: it reduces gradients across ranks, "
                f"and a {name} would be this rank's alone; call .tape.{name}(...) for this "
                f"rank's, or gradient(...) for reduced gradients")
        return getattr(self.tape, name)

    def gradient(self, target, sources, output_gradients=None, unconnected_gradients="none",
                 *, weight=1.0):
        """Gradients of ``target`` reduced over all ranks, in the structure of ``sources``
        (a Tensor, or lists, tuples, namedtuples and dicts of them, nested, as
        ``GradientTape.gradient`` takes them; each Tensor once).

        A rank with nothing to contribute (an empty local batch) passes ``weight=0``; its
        ``target`` may then be None. A source no rank has a gradient for gives None (zeros
        with ``unconnected_gradients="zero"``).
        """
        weight = check_weight(weight)
        single, src, structure = check_sources(sources, unconnected_gradients)
        _check_each_once(src, structure)
        if target is None and weight != 0:
            raise ValueError("target is None: only a rank with nothing to contribute "
                             "(weight=0, an empty local batch) may pass no target")
        unwalked = ()
        if target is None and self.world.size > 1 and _has_collectives(self.tape):
            # the others' backward pass waits in SyncBatchNorm's reduction for this rank's
            unwalked = ("target=None on a tape that recorded SyncBatchNorm, whose backward "
                        "pass every rank must take: pass the loss with weight=0 on an empty "
                        "share",)
        check_same_reduction(self.world, "list of gradient sources", src, self.op, unwalked,
                             last_step(), bucket_shadow(src, self.bucket_bytes, self.op, weight))
        note_weight(weight)
        out = self._reduced(target, src, output_gradients, weight)
        out = [_finish(g, s, unconnected_gradients) for g, s in zip(out, src)]
        mark_reduced(out, self.world)
        if structure is not None:
            return rebuild(structure, out)
        return out[0] if single else (tuple(out) if isinstance(sources, tuple) else out)

    def _reduced(self, target, src, output_gradients, weight):
        if self.world.size == 1:            # the weighted mean over one process: its gradient
            if weight == 0:
                if target is not None and not self.tape._persistent:
                    self.tape._release()
                return [None] * len(src)
            # new Tensors on the same data, so that only these are marked as reduced (the
            # tape may hand back a Tensor of the caller's, e.g. from output_gradients); under
            # an outer recording tape new Tensors on it, for a second-order gradient
            grads = self.tape.gradient(target, src, output_gradients)
            if tape_state.recording:
                from ..ops.elementwise import positive

                return [None if g is None else positive(g) for g in grads]
            return [None if g is None else _wrap(g._data, g._backend) for g in grads]
        if tape_state.recording:
            warnings.warn("DistributedGradientTape.gradient under a recording GradientTape: "
                          "the reduction over ranks is not recorded, so a gradient of these "
                          "gradients (a second order) is None; take it on one process or "
                          "reduce it yourself", RuntimeWarning, stacklevel=3)
        plan = plan_for(src, self.bucket_bytes)
        backend = src[0]._backend if src else None
        reduction = Reduction(plan, self.world, backend.xp if backend else None, weight, self.op)
        t0 = time.perf_counter()
        local = None
        if weight != 0:
            hook = None
            # not while tensor hooks are registered: a Variable's runs when the walk ends
            # (gradient_hooks.py), and its bucket must be reduced after it
            if self.overlap and self.world.size > 1 and not tape_state.recording \
                    and not HOOKS:
                hook = _overlap_hook(self.tape, src, reduction)
            if hook is not None:
                self.tape._walk_hook = hook
            try:
                with contribution(weight if self.op == "mean" else 1.0):
                    grads = self.tape.gradient(target, src, output_gradients)
            except Exception as e:      # e.g. MemoryError: every rank raises it, none waits
                if reduction.abandon():
                    raise_together(self.world, e, "the backward pass")
                raise
            finally:
                if hook is not None:
                    self.tape.__dict__.pop("_walk_hook", None)
            local = [None if g is None else g._data for g in grads]
        elif target is not None and _has_collectives(self.tape):
            with contribution(0.0):    # SyncBatchNorm's backward sums: the others wait for it
                self.tape.gradient(target, src, output_gradients)
        elif target is not None and not self.tape._persistent:
            self.tape._release()       # the tape is spent, as after a gradient call
        take_backward_scales()         # weighted as this reduction weighs: nothing to check
        t1 = time.perf_counter()
        started_in_walk = len(reduction.requests)
        out = reduction.finish(local)
        if reduction.failed:            # another rank's backward pass failed: raise its error
            raise_together(self.world, None, "the backward pass")
        self.last_timing = {"walk": t1 - t0, "wait": time.perf_counter() - t1,
                            "started_in_walk": started_in_walk}
        return [None if g is None else _wrap(g, s._backend) for g, s in zip(out, src)]


def _has_collectives(tape):
    """Whether ``tape`` recorded an op whose backward is a collective (SyncBatchNorm's): a rank
    passing ``weight=0`` must still walk it, or the other ranks wait for it there."""
    from ..ops.sync_batch_norm import is_sync_node

    return any(is_sync_node(node) for node in getattr(tape, "_nodes", ()))


def _check_each_once(src, structure):
    """ValueError naming both places unless each source Tensor comes once (its gradient is
    reduced once, in one bucket)."""
    first = {}
    for i, s in enumerate(src):
        if id(s) in first:
            paths = ([path for path, _ in leaves_with_paths(structure)] if structure
                     is not None else [f"[{j}]" for j in range(len(src))])
            raise ValueError(f"sources lists a tensor twice (sources{paths[first[id(s)]]} and "
                             f"sources{paths[i]}); list each source once")
        first[id(s)] = i


def _overlap_hook(tape, sources, reduction):
    """The tape's walk hook: once the walk has passed the node where a source is first used
    (walking backwards, its last contribution), hand that source's gradient to the reduction.
    None if the tape's nodes cannot be read (the reductions then all start after the walk)."""
    position = {s._key: i for i, s in enumerate(sources) if getattr(s, "_key", 0)}
    ready_at = {}
    try:
        seen = set()
        for pos, node in enumerate(tape._nodes):
            for k in node_keys(node):      # the node's input keys (0: not differentiated)
                if k in position and k not in seen:
                    seen.add(k)
                    ready_at.setdefault(pos, []).append(position[k])
    except (AttributeError, TypeError, IndexError):
        return None

    def hook(pos, grads):
        ready = ready_at.get(pos)
        if ready:
            for i in ready:
                g = grads.get(sources[i]._key)
                if g is not None:     # else left to finish(), from what gradient returns
                    reduction.ready(i, g)
        reduction.progress()

    return hook


def _finish(g, source, unconnected):
    if g is None and unconnected == "zero":
        from ..creation import zeros_like

        return zeros_like(source)
    return g
