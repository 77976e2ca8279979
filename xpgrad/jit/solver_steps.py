"""Solvers with a data-dependent number of iterations (``xg.odeint``, ``xg.custom_root``,
``xg.fixed_point``, ``xg.while_loop``) inside ``xg.function``: each call is ONE opaque step of
the program, as ``jax.pure_callback`` with a ``custom_vjp``, made automatically.

A trace cannot unroll such a solver (how many steps it takes is read from values), but it
is a function of its inputs with a known gradient. So under a trace the solver's call is
recorded as one ``"kernel"`` step, ``SolverStep``: the trace runs it eagerly on the real arrays
(nothing of it is recorded), and every replay runs it eagerly again on that replay's arrays,
outside any trace: ``odeint`` keeps replaying its own captured right-hand sides
(``ode_captures.py``). Where a tape inside the traced function may differentiate it, the step
runs the solver under persistent tapes of its own and hands them out as an opaque value of the
program; the outer tape holds one node (``SOLVER_PRIMITIVE``) whose gradient is a second
opaque step, ``SolverGradient``, which asks the kept tape (the solver's own rule: the adjoint
solve, the implicit function theorem, the unrolled loop) on each replay; higher orders ask the
further kept tapes (``solver_gradients.py``).

The step's inputs are the solver's tensor arguments, the tensors computed in the traced
function that its callables close over (found in their closures, as ``ode_captures`` walks
them; their arrays are swapped in for each run), and, in the recorded step only, the
Variables it read. A tensor computed in the trace that the walk does not find (one in an
object's attribute) is a ``TraceError`` saying to pass it as an argument.

>>> import xpgrad as xg
>>> @xg.function
... def settle(b):              # z = tanh(0.5 z + b), iterated until it stops moving
...     return xg.value_and_grad(lambda b: xg.sum(xg.fixed_point(
...         lambda z, b: xg.tanh(0.5 * z + b), xg.zeros_like(b), b)))(b)
>>> b = xg.asarray([0.1, -0.2], dtype=xg.float64)
>>> calls = [settle(b) for _ in range(3)]          # eager, traced, replayed
>>> len({(float(v), tuple(g.tolist())) for v, g in calls}), settle.trace_count
(1, 1)
"""
from __future__ import annotations

import contextlib
import functools
import threading
import types

from ..outer_tapes import unpack_outputs
from ..primitive import apply, tape_state
from ..pytree import leaves, rebuild
from ..tensor import Tensor, Variable, _wrap
from .errors import TraceError, user_line
from .program_steps import Ref, Step
from .solver_gradients import (SOLVER_PRIMITIVE, _Kept, _Node, kept_tapes, plain_context,
                               raveled, recording_on, swapped, watching_reads)
from .trace_state import THREAD
from .traced import Traced

#: how deep the walk for closed-over tensors goes (functions reached through closures)
_DEPTH = 3


def tracing_now():
    """The tracer of this thread's ``xg.function`` trace when it records now, outside any
    ``xg.vmap`` (whose batched arrays a step cannot take), else None."""
    tracer = THREAD.tracer
    if tracer is None or tracer.paused:
        return None
    from ..batching.session import _DEPTH

    return tracer if _DEPTH.depth == 0 else None


def one_step(name, call, inputs, callables=()):
    """``call(*inputs)`` (``inputs``: Tensors; the result: a pytree of Tensors and Python
    numbers) as one step of the program the running trace records (module docstring);
    ``callables``: the user's functions the solver calls, searched for tensors they close
    over. Returns the result's structure with Tensors of the trace."""
    tracer = tracing_now()
    be = tracer.be
    inputs = list(inputs)
    given = {id(t) for t in inputs}
    closure = [t for t in closed_over(callables, tracer) if id(t) not in given]
    # a tape may differentiate it: keep the solver's tapes, one per tape recording around it
    levels = len(tape_state.recording)
    _write_rebound_variables(tracer)
    step = SolverStep(name, call, be, len(inputs), closure, levels)
    step.upper_watch = upper_watch(inputs + closure)
    if closure:
        tracer.at_finish.append(functools.partial(_let_go, closure, tracer))
    args = [t._data for t in inputs + closure]
    try:
        packed, others, saved = tracer.call(step, tuple(args), {}, kind="kernel")
    except TraceError as e:
        from .tracer import HIDDEN_VALUE

        if e.message == HIDDEN_VALUE:
            raise TraceError(_hidden(name), user_line()) from None
        raise
    recorded = tracer.steps[-1]
    variables = step.variables
    reads = [v._data for v in variables if type(v._data) is Traced]
    if reads:       # what the step reads, for the passes that move steps (guards.py)
        recorded.args = recorded.args + tuple(Ref(r._slot) for r in reads)
    if levels and step.floats:
        node_call = _Node(tracer, step, packed, saved)
        flat = apply(SOLVER_PRIMITIVE, *inputs, *closure, *variables, call=node_call)
    else:
        flat = _wrap(packed, be)
    pieces = iter(unpack_outputs(flat, step.floats) if step.floats else [])
    rest = iter(others)
    return rebuild(step.structure, [next(pieces) if is_float else _wrap(next(rest), be)
                                    for is_float in step.kinds])


def tensors_and_refill(tree):
    """``(the Tensor leaves of tree, refill)``: ``refill(tensors)`` is ``tree`` with those
    tensors in their places (the other leaves, Python numbers, kept as they are)."""
    found = leaves(tree)
    tensors = [leaf for leaf in found if isinstance(leaf, Tensor)]
    # (no Tensor of the trace kept: its stand-in refers to the tracer, which holds this step)
    places = [_PLACE if isinstance(leaf, Tensor) else leaf for leaf in found]
    template = rebuild(tree, places)

    def refill(new):
        it = iter(new)
        return rebuild(template, [next(it) if leaf is _PLACE else leaf for leaf in places])

    return tensors, refill


class _Place:
    """Where a Tensor goes in a template (``tensors_and_refill``)."""


_PLACE = _Place()


def _hidden(name):
    return (f"{name} inside an xg.function runs as one step of the program, and a function it "
            "calls reads a tensor computed inside the traced function that the step could not "
            "find in its closure (an object's attribute, a global): pass that tensor as an "
            "argument (odeint's args, fixed_point's params) or close over it directly")


class SolverStep:
    """The recorded step: runs the solver eagerly on its input arrays (module docstring) and
    returns ``(packed, others, saved)``: its floating-point results raveled into one vector,
    its other results, and (where a tape may differentiate it: ``levels`` tapes recorded
    around it in the trace) the ``_Kept`` tapes, else None. The first run (the trace's) fixes
    the result's structure and the Variables it differentiates; a replay whose result differs
    raises ValueError."""

    def __init__(self, name, call, be, n_inputs, closure, levels):
        self.name, self.call, self.be = name, call, be
        self.__name__ = f"{name} (one step)"
        self.n_inputs, self.closure, self.levels = n_inputs, closure, levels
        self.structure = self.kinds = self.floats = self.specs = None
        self.variables = []
        self.upper_watch = []       # per kept tape past the first: which sources it watches
        # how many orders of gradient the trace took through it (its nodes' gradients raise
        # it), each asking one kept tape: a replay keeps no more
        self.orders = 1
        # runs swap arrays into the closed-over tensors, which every replay shares: one at a
        # time; without such tensors the runs write nothing shared (each has its own tapes)
        self.lock = threading.RLock() if closure else contextlib.nullcontext()

    def __call__(self, *raws):
        n, c = self.n_inputs, len(self.closure)
        with self.lock, plain_context(), swapped(self.closure, raws[n:n + c]):
            inputs = [_wrap(r, self.be) for r in raws[:n]]
            if self.levels:
                return self._kept(inputs, raws[:n + c])
            saved, tape_state.recording = tape_state.recording, []
            try:
                out = self.call(*inputs)
            finally:
                tape_state.recording = saved
            packed, others = self._packed(out)
            return packed._data, others, None

    def _kept(self, inputs, arrays):
        """The solver run under its kept tapes, which watch its inputs, the closed-over
        tensors and (on a replay) the Variables the first run differentiated."""
        first = self.structure is None
        tapes = kept_tapes(self.levels if first else min(self.levels, self.orders))
        sources = inputs + self.closure
        reads = watching_reads(tapes) if first else None
        with recording_on(tapes):
            if reads is not None:
                tape_state.recording.insert(0, reads)
            for tape, watch in zip(tapes, [None] + self.upper_watch):
                for t, outside in zip(sources, watch or [True] * len(sources)):
                    if outside and t.dtype.is_inexact:
                        tape.watch(t)
                for v in self.variables:
                    tape.watch(v)
            out = self.call(*inputs)
            packed, others = self._packed(out)     # recorded: the tapes' target
            if reads is not None:
                tape_state.recording.remove(reads)
        if first:
            given = {id(t) for t in sources}
            self.variables = [v for v in tapes[0].watched_variables() if id(v) not in given]
        return packed._data, others, _Kept(tapes, sources + self.variables, packed, arrays,
                                           arrays[self.n_inputs:])

    def _packed(self, out):
        """``out``'s floating-point leaves raveled into one Tensor (recorded on the step's
        tapes), and its other leaves' arrays."""
        from ..conversion import asarray

        found = [leaf if isinstance(leaf, Tensor) else asarray(leaf, backend=self.be)
                 for leaf in leaves(out)]
        floats = [leaf for leaf in found if leaf.dtype.is_inexact]
        specs = [(leaf.shape, leaf.dtype) for leaf in found]
        if self.structure is None:
            self.structure = rebuild(out, list(range(len(found))))
            self.kinds = [leaf.dtype.is_inexact for leaf in found]
            self.floats = [(leaf.shape, leaf.dtype) for leaf in floats]
            self.specs = specs
        elif specs != self.specs:
            raise ValueError(f"{self.name} inside an xg.function returned "
                             f"{_described(specs)} where the traced call returned "
                             f"{_described(self.specs)}; its results must keep their shapes "
                             "and dtypes from one call to the next")
        others = tuple(leaf._data for leaf in found if not leaf.dtype.is_inexact)
        return raveled(floats, self.be), others

    def __repr__(self):
        return f"<{self.__name__}>"


def upper_watch(sources):
    """For each tape recording now but the innermost, from the innermost out: which of
    ``sources`` it differentiates, what the kept tape for its order watches (a source no tape
    takes a higher derivative for is not one: odeint refuses one for its times)."""
    from ..outer_tapes import OuterTapes

    return [[OuterTapes([tape]).differentiate(t) for t in sources]
            for tape in reversed(tape_state.recording[:-1])]


def _described(specs):
    return "[" + ", ".join(f"{dtype}{list(shape)}" for shape, dtype in specs) + "]"


def _let_go(closure, tracer):
    """At the trace's end: each closed-over tensor's array stops referring to ``tracer``, whose
    steps hold the solver step, which holds the tensor (a reference cycle); used now, the
    tensor raises as any tensor leaked from the trace does."""
    ended = EndedTrace(tracer.function)
    for t in closure:
        data = t._data
        if type(data) is Traced and data._tracer is tracer:
            t._data = Traced(data._real, data._slot, ended)


class EndedTrace:
    """What a closed-over tensor's array names in place of its ended trace (``_let_go``): it
    answers as an ended ``Tracer`` does, raising the leaked-tensor ``TraceError`` on use.

    >>> from xpgrad.jit.traced import Traced
    >>> import numpy as np
    >>> stale = Traced(np.zeros(2), 0, EndedTrace("step"))
    >>> stale.shape, type(stale + 1).__name__
    Traceback (most recent call last):
    ...
    xpgrad.jit.errors.TraceError: a tensor made while tracing an xg.function ('step') was used after the trace ended...
    """

    active = paused = False

    def __init__(self, function):
        self.function = function

    def refuse(self, what):
        from .traced import leaked

        raise leaked(self)

    def call(self, *args, **kwargs):
        self.refuse("a call")

    call_unrecorded = call

    def ufunc(self, name):
        return None

    def read_shape(self, traced):
        """A shape read after the trace records nothing (as an ended ``Tracer``'s)."""


def _write_rebound_variables(tracer):
    """A Variable the function rebound so far gets its value before the step, in the replay
    too: the solver reads every Variable anew (as an optimizer update does)."""
    from .replay_steps import VariableWrite

    for v, slot in tracer.session._written().values():
        tracer.steps.append(Step(VariableWrite(v), (Ref(slot),), {}, None, "host"))


def closed_over(callables, tracer):
    """The Tensors computed in ``tracer``'s trace (not Variables) that ``callables`` reach
    through closure cells, defaults, ``functools.partial`` arguments and the containers in
    them (``_DEPTH`` functions deep), each once."""
    found, seen = {}, set()
    todo = [(fn, 0) for fn in reversed(callables)]
    while todo:
        value, depth = todo.pop()
        if id(value) in seen:
            continue
        seen.add(id(value))
        if isinstance(value, Tensor):
            data = value._data
            if not isinstance(value, Variable) and type(data) is Traced \
                    and data._tracer is tracer:
                found.setdefault(id(value), value)
            continue
        inside = _inside(value, depth)
        todo.extend(reversed(inside))
    return list(found.values())


def _inside(value, depth):
    """``(value, depth)`` pairs ``closed_over`` looks at next from ``value``."""
    if isinstance(value, (tuple, list)):
        return [(item, depth) for item in value]
    if isinstance(value, dict):
        return [(item, depth) for item in value.values()]
    if depth >= _DEPTH:
        return []
    if isinstance(value, types.FunctionType):
        cells = []
        for cell in value.__closure__ or ():
            try:
                cells.append(cell.cell_contents)
            except ValueError:          # a cell not filled yet
                pass
        return [(v, depth + 1) for v in (*cells, value.__defaults__ or (),
                                         value.__kwdefaults__ or {})]
    if isinstance(value, functools.partial):
        return [(v, depth + 1) for v in (value.func, value.args, value.keywords)]
    if isinstance(value, types.MethodType):
        return [(value.__func__, depth + 1)]
    return []
