"""The gradients of a solver step inside ``xg.function`` (``solver_steps.py``), to any order
the tapes in the traced function ask for.

A solver step that a tape may differentiate runs the solver under as many persistent tapes of
its own as there are tapes recording around it in the trace, nested as those are (``_Kept``
holds them, innermost first, and is handed out as an opaque value of the program). The outer
tape's node for the step (``SOLVER_PRIMITIVE``, ``_Node``) has as its gradient a second step,
``SolverGradient``, which walks the innermost kept tape back (the solver's own rule: the
adjoint solve, the implicit function theorem, the unrolled loop). Where a tape outside
records that gradient (a second derivative: ``xg.hessian``, ``xg.grad`` of ``xg.grad``,
``xg.hvp``), the gradient step walks the innermost tape while the next ones record it, and
hands those on as the next ``_Kept``; the outer tape's node for the gradient step is again a
``_Node``, whose gradient asks the next kept tape, and so on, one kept tape per order. A tape
that began recording after the solver ran (none kept for it) gets a fresh one recording the
walk alone, which sees what such a tape sees eagerly: the walk's reads of the sources. A kept
tape past the first watches only the sources its tape in the trace differentiates (odeint
refuses a second derivative in its times). The trace keeps every tape it may need; a replay
keeps only as many as the orders of gradient the trace went on to take (a first-order
gradient under a tape that records its walk but never differentiates it: one tape, the walk
unrecorded).

A Variable that a tape outside watches but that is not trainable is watched by the kept tapes
when the solver reads it (``_WatchedReads``), so it gets its gradient through the step as it
does eagerly.

>>> import xpgrad as xg
>>> @xg.function
... def curvature(b):            # z = tanh(0.5 z + b); d2 sum(z) / db2, on each replay
...     return xg.hessian(lambda b: xg.sum(xg.fixed_point(
...         lambda z, b: xg.tanh(0.5 * z + b), xg.zeros_like(b), b)))(b)
>>> b = xg.asarray([0.1, -0.2], dtype=xg.float64)
>>> eager, traced, replayed = [curvature(b) for _ in range(3)]
>>> [bool(xg.all(xg.abs(h - eager) < 1e-12)) for h in (traced, replayed)], curvature.trace_count
([True, True], 1)
"""
from __future__ import annotations

import contextlib

from ..outer_tapes import OuterTapes, _handed_over, unpack_outputs
from ..primitive import Primitive, apply, tape_state
from ..recompute import _Reads
from ..tensor import Tensor, Variable, _wrap
from .trace_state import THREAD


def _node_gradients(xp, g, ans, needs, *inputs, call):
    return call.gradients(g, needs, inputs)


#: the node standing for one solver step (or one of its gradient steps) on the tapes of the
#: traced function; it keeps its inputs (values of the trace), which a higher order reads
SOLVER_PRIMITIVE = Primitive("solver_step", _handed_over, joint=_node_gradients)


class _Kept:
    """A solver step's kept tapes (innermost first), handed to its gradient step as a value of
    the program: ``tapes[0]`` recorded ``packed`` from ``sources`` (the next ones recorded the
    same, for the orders above). ``arrays`` holds the step's input arrays (the program keeps
    their memory while this lives); ``closure_arrays`` those of the closed-over tensors, which
    a rule that runs the solver's callables again (odeint's adjoint) reads."""

    def __init__(self, tapes, sources, packed, arrays, closure_arrays):
        self.tapes, self.sources, self.packed = tapes, sources, packed
        self.arrays, self.closure_arrays = list(arrays), list(closure_arrays)


def kept_tapes(levels):
    """``levels`` persistent tapes, innermost first, for one run of a solver step."""
    from ..tape import GradientTape

    return [GradientTape(persistent=True) for _ in range(levels)]


@contextlib.contextmanager
def recording_on(tapes):
    """``tapes`` (innermost first) recording for the block, nested as they were made, and no
    other tape: the step's work belongs to the kept tapes alone."""
    saved, tape_state.recording = tape_state.recording, []
    entered = []
    try:
        for tape in reversed(tapes):
            tape.__enter__()
            entered.append(tape)
        yield
    finally:
        for tape in reversed(entered):
            tape.__exit__(None, None, None)
        tape_state.recording = saved


class _WatchedReads(_Reads):
    """Put first among the recording tapes while a solver step runs in the trace: a Variable
    the tapes outside differentiate (one they watch though it is not trainable) that an
    operation reads is watched by the kept tapes before they record that operation."""

    def __init__(self, outer, tapes):
        super().__init__(outer)
        self.tapes = tapes

    def _record(self, prim, args, raws, out, params, saved, kern, nested):
        differentiate = self._keys.differentiate
        for a in args:
            if isinstance(a, Variable) and a.dtype.is_inexact and differentiate(a):
                for tape in self.tapes:
                    if a._key not in tape._keys:
                        tape.watch(a)


def watching_reads(tapes):
    """A ``_WatchedReads`` for the tapes recording now, or None where none of them watches a
    Variable that is not trainable (a trainable one the kept tapes watch on access)."""
    outer = OuterTapes(tape_state.recording)
    for tape in outer.tapes:
        for v in getattr(tape, "_variables", {}).values():
            if not v._trainable:
                return _WatchedReads(tape_state.recording, tapes)
    return None


@contextlib.contextmanager
def plain_context():
    """Inside a trace: the trace suspended for the block (no tracer for this thread, the
    backend's own namespace and kernels, the Variables' real arrays), so that a solver runs
    as it does eagerly; outside one (a replay), nothing."""
    from .capture import _ABSENT
    from .traced import Traced

    tracer = THREAD.tracer
    session = getattr(tracer, "session", None)
    if session is None:        # outside a trace (a replay), or a bare Tracer's
        yield
        return
    be = tracer.be
    proxies = []
    for obj, name, before in session.replaced:
        if obj is be and name in ("xp", "kernels"):
            proxies.append((name, getattr(be, name)))
            if before is _ABSENT:
                vars(be).pop(name, None)
            else:
                setattr(be, name, before)
    datas = [(v, v._data) for v, _ in session.variables.values()]
    for v, data in datas:
        if type(data) is Traced:
            v._data = data._real
    THREAD.tracer = None
    try:
        yield
    finally:
        THREAD.tracer = tracer
        for v, data in datas:
            v._data = data
        for name, proxy in proxies:
            setattr(be, name, proxy)


@contextlib.contextmanager
def swapped(tensors, arrays):
    """Each of ``tensors`` holding the array of ``arrays`` for the block."""
    before = [t._data for t in tensors]
    for t, a in zip(tensors, arrays):
        t._data = a
    try:
        yield
    finally:
        for t, data in zip(tensors, before):
            t._data = data


def raveled(tensors, be):
    """``tensors`` raveled into one vector of their common dtype, recorded on the tapes
    recording now (a lone 1-d Tensor as it is; an empty vector for none)."""
    from ..creation import zeros
    from ..dtype_functions import result_type
    from ..ops import concat, reshape

    if len(tensors) == 1 and tensors[0].ndim == 1:
        return tensors[0]
    if not tensors:
        return zeros((0,), backend=be)
    dtype = result_type(*tensors)
    return concat([reshape(t, (-1,)).astype(dtype) for t in tensors])


class SolverGradient:
    """The recorded gradient step: the innermost kept tape's gradient of the packed result,
    weighted by its cotangent ``g``, for the sources ``wanted`` (their positions). First order
    (``higher`` false): raw arrays, None for the others. Where a tape outside records it
    (``higher``): ``(the wanted gradients raveled, the next _Kept)``, the next kept tapes
    having recorded the walk with ``g`` watched; where none is left, ``late`` says which
    sources the fresh one watches."""

    def __init__(self, step, wanted, higher=False, late=None, order=1):
        self.step, self.wanted, self.higher, self.late = step, wanted, higher, late
        self.order = order              # the order of the node whose gradient this is
        kind = "gradient" if not higher else "gradient, recorded"
        self.__name__ = f"{step.name} {kind} (one step)"

    def __call__(self, kept, g):
        step = self.step
        # the trace records each walk a tape outside records; a replay only those whose
        # gradient the trace went on to take (step.orders)
        record = THREAD.tracer is not None or step.orders > self.order
        with step.lock, plain_context(), swapped(step.closure, kept.closure_arrays):
            sources = [kept.sources[i] for i in self.wanted]
            if self.higher:
                return self._recorded(kept, g, sources, record)
            saved, tape_state.recording = tape_state.recording, []
            try:
                grads = kept.tapes[0].gradient(kept.packed, sources,
                                               output_gradients=_wrap(g, step.be))
            finally:
                tape_state.recording = saved
        out = [None] * len(kept.sources)
        for i, grad in zip(self.wanted, grads):
            out[i] = None if grad is None else grad._data
        return tuple(out)

    def _recorded(self, kept, g, sources, record):
        upper = kept.tapes[1:]
        if not (record and (upper or self.late is not None)):
            saved, tape_state.recording = tape_state.recording, []
            try:
                grads = kept.tapes[0].gradient(kept.packed, sources,
                                               output_gradients=_wrap(g, self.step.be),
                                               unconnected_gradients="zero")
                return raveled(grads, self.step.be)._data, None
            finally:
                tape_state.recording = saved
        if not upper:           # a tape that began recording after the solver ran: it sees
            upper = kept_tapes(1)       # the walk's reads of the sources it watches, as eagerly
            for t, watch in zip(kept.sources, self.late):
                if watch:
                    upper[0].watch(t)
        cotangent = _wrap(g, self.step.be)
        with recording_on(upper):
            for tape in upper:
                tape.watch(cotangent)
            grads = kept.tapes[0].gradient(kept.packed, sources, output_gradients=cotangent,
                                           unconnected_gradients="zero")
            packed = raveled(grads, self.step.be)
        nxt = _Kept(upper, [cotangent] + kept.sources, packed, kept.arrays, kept.closure_arrays)
        return packed._data, nxt

    def __repr__(self):
        return f"<{self.__name__}>"


class _Node:
    """The outer tape's node for one solver step or one of its gradient steps (``value``: the
    packed result, ``kept``: its ``_Kept``, both values of the trace)."""

    __slots__ = ("tracer", "step", "value", "kept", "order")

    def __init__(self, tracer, step, value, kept, order=1):
        self.tracer, self.step, self.value, self.kept = tracer, step, value, kept
        self.order = order          # 1: the solver step's node; 2: its gradient step's; ...

    def gradients(self, g, needs, inputs):
        wanted = tuple(i for i, need in enumerate(needs) if need)
        if not wanted:
            return [None] * len(needs)
        self.step.orders = max(self.step.orders, self.order)
        if not isinstance(g, Tensor):
            return list(self.tracer.call(SolverGradient(self.step, wanted, order=self.order),
                                         (self.kept, g), {}, kind="kernel"))
        return self._recorded(g, needs, inputs, wanted)

    def _recorded(self, g, needs, inputs, wanted):
        """The gradients as Tensors of the trace that the tapes recording now differentiate:
        one more ``_Node`` (of the cotangent and of every input) on them."""
        late = None
        if len(self.kept.tapes) < 2:
            outside = OuterTapes(tape_state.recording)
            late = tuple(outside.differentiate(t) for t in inputs)
        packed, kept = self.tracer.call(SolverGradient(self.step, wanted, higher=True,
                                                       late=late, order=self.order),
                                        (self.kept, g._data), {}, kind="kernel")
        node = _Node(self.tracer, self.step, packed, kept, self.order + 1)
        flat = apply(SOLVER_PRIMITIVE, g, *inputs, call=node)
        pieces = iter(unpack_outputs(flat, [(inputs[i].shape, inputs[i].dtype)
                                            for i in wanted]))
        return [next(pieces) if need else None for need in needs]
