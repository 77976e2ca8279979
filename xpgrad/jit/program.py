"""A traced call as a flat program: dead steps dropped, buffers planned, Python source generated.

``Program(tracer, result, writes)`` turns the recorded steps into one generated Python function
of raw backend calls -- no tapes, no Tensors, no dispatch -- that ``run(args)`` calls. On NumPy
arrays every ufunc call (``+``, ``*``, ``exp``, ``@``...) whose result does not leave the
program writes into a buffer allocated once (``out=``), reused by later steps once every view of
the earlier value is dead (liveness over memory roots: the tracer gives a value, its views and
what kernels return from it one root). A value whose root leaves the program (returned, written
into a Variable, kept by an optimizer) gets no buffer, nor does one that was not C-ordered in
the trace (a reshape that copied it there would be a view of the buffer). ``source`` shows the
program, which ``program_source.py`` writes; ``step_facts.py`` says what each step reads, makes
and writes.

>>> import xpgrad as xg
>>> from xpgrad.jit.capture import capture
>>> w = xg.Variable([1.0, 2.0], name="w")
>>> t, res, writes = capture(lambda x: xg.sum(xg.exp(w * x)), (xg.asarray([0.0, 0.0]),), {},
...                          xg.get_backend("numpy"))
>>> prog = Program(t, res, writes)
>>> float(prog.run((xg.asarray([0.0, 0.0]),), {}))
2.0
"""
from __future__ import annotations

import heapq
import itertools
import weakref

from ..clip_marks import clipped_by_global_norm, mark_clipped
from ..tensor import Tensor, Variable, _wrap
from .arguments import gather, plain_arrays
from .collection import collection_paused
from .bias_gradients import bias_gradients_alone
from .common_steps import merge_common_steps
from .constants import fold_constants
from .direct_calls import direct_numpy_calls
from .errors import TraceError
from .fresh import own_generators
from .guards import StateSnapshot, hoist_guards
from .in_place import take_in_place_vjps
from .label_guards import fold_label_guards
from .output_views import OutputViews, argument_tensors
from .loss_gradient import fold_loss_gradient, fold_numpy_loss_gradient
from .replay_steps import GuardFailed
from .sgd_gemm import fold_sgd_into_gemm
from .program_source import ProgramSource
from .declines import DeclinePlan
from .variable_layout import c_ordered
from .element_arrays import element_plan
from .python_floats import listed_inputs, python_float_reads, safe_reads
from .small_products import small_products_to_numpy
from .small_stacks import small_stacks_to_array
from .step_facts import _mutates, _out_paths, _refs, arg_reads, reads
from .structure import leaves, map_leaves
from .program_steps import Ref
from .traced import Traced

_counter = itertools.count()
#: the longest program ``_python_floats_source`` writes again (the small ones gain)
_PYTHON_FLOATS_STEPS = 2000


#: each replay source compiled, while a program runs its code: a trace that writes the same
#: source (the same steps on other shapes, or another Function of the same step) takes it
_COMPILED = weakref.WeakValueDictionary()


def compiled(source):
    """``source``'s code object, compiled once for all the programs alive that have it.

    >>> source = "def replay(inputs): return inputs"
    >>> code = compiled(source)
    >>> compiled(source) is code, compiled(source + "  # another") is code
    (True, False)
    """
    code = _COMPILED.get(source)
    if code is None:
        code = compile(source, f"<xg.function program {next(_counter)}>", "exec")
        _COMPILED[source] = code
    return code


def _hides_traced(obj) -> bool:
    """Whether a result leaf may hold a traced tensor out of the structure's reach: a closure
    (``xg.vjp``'s ``vjp_fn``), or an object (a dataclass) with one among its attributes."""
    if getattr(obj, "__closure__", None):
        return True
    try:
        values = list(vars(obj).values())
    except TypeError:
        return False
    return any(isinstance(leaf, Tensor) and type(leaf._data) is Traced
               for value in values for leaf in leaves(value))


class Program(ProgramSource):
    """The replayable form of one trace (module docstring)."""

    def __init__(self, tracer, result, writes, plan_buffers=True, fuse=None, graphs=None):
        with collection_paused():     # no user code runs in the passes
            self._build(tracer, result, writes, plan_buffers, fuse, graphs)

    def _build(self, tracer, result, writes, plan_buffers, fuse, graphs):
        self.be = tracer.be
        self.steps = tracer.steps
        self.slots = tracer.slots
        self.inputs = [s.outs.i for s in self.steps if s.kind == "input"]
        self.writes = list(writes.values())
        self.constants = {}
        self.constant_names = {}      # id(value) -> its name among the constants (alive here)
        self.result_template = self._template(result)
        self.output_views = OutputViews.of(result, {s: k for k, s in enumerate(self.inputs)})
        escaping = set(_refs(self.result_refs, [])) | {slot for _, slot in self.writes}
        self._drop_dead(escaping)
        self.constants_folded, self.constants_copied = fold_constants(self, escaping)
        if self.constants_folded or self.constants_copied:
            self._drop_dead(escaping)
        self.common_steps = merge_common_steps(self, escaping)
        if self.common_steps:
            self._drop_dead(escaping)
        self.sgd_gemms = fold_sgd_into_gemm(self, escaping)
        self.fused = fuse(self, escaping) if fuse is not None else 0
        self.label_guards = fold_label_guards(self)
        self.loss_gradients = fold_loss_gradient(self, escaping)
        self.loss_gradients += fold_numpy_loss_gradient(self, escaping)
        self.bias_sums = bias_gradients_alone(self)
        self.numpy_products = small_products_to_numpy(self)
        self.scalar_stacks = small_stacks_to_array(self)
        self.direct_calls = direct_numpy_calls(self)
        self.in_place_vjps = take_in_place_vjps(self.steps, self.slots, escaping)
        self.buffers = self._plan(escaping) if plan_buffers else {}
        self.snapshot = StateSnapshot.of(self.steps, self.slots)
        self.declines = DeclinePlan(self.steps, self.slots, self.snapshot)
        self.decline_streak = 0      # calls in a row a kernel's decline ran eagerly
        self._slot = "s{}".format
        self.source = self._generate()
        try:
            self.python_floats_source = self._python_floats_source(escaping)
        except Exception:     # noqa: BLE001 -- an optional second replay: never the trace's end
            self.python_floats_source = None
        read = {s for step in self.steps for s in reads(step)} | escaping
        #: the positions among the inputs of those the program never reads (a raw replay's
        #: caller may pass anything there: odeint's t of an autonomous system)
        self.unread_inputs = frozenset(k for k, s in enumerate(self.inputs) if s not in read)
        namespace = dict(self.constants)
        namespace["_wrap"] = _wrap
        namespace["_be"] = self.be
        namespace["_declined"] = self.declines.handler(self)
        namespace["_c_ordered"] = c_ordered
        namespace["_clipped"] = marked_clipped
        code = compiled(self.source)
        exec(code, namespace)
        # (popped: the function's globals are the namespace, which would hold it in a cycle)
        self._replay = namespace.pop("replay")
        self._code, self._namespace = code, namespace
        self._free = [self._replay]       # replays not running now, each with its own buffers
        self._free_raw = {False: [], True: []}       # the same, returning raw arrays
        self._python_floats_code = None
        self.graph = None
        self.dynamic_shapes = sum(1 for info in self.slots if info.dynamic is not None)
        if graphs is not None and not self.dynamic_shapes:     # a graph bakes every shape
            import threading

            from .cuda_graph import GraphReplay

            self.graph = GraphReplay(self, graphs, namespace)
            self._graph_lock = threading.Lock()
        self.steps = None      # the trace's arrays are no longer needed
        self.slots = None

    # -- the result's structure --------------------------------------------------------------
    def _template(self, obj):
        """The result with each traced Tensor replaced by a Ref (a Variable stays itself)."""
        refs = []
        self.clipped_slots = set()

        def ref(o):
            if isinstance(o, Tensor) and not isinstance(o, Variable) and type(o._data) is Traced:
                r = Ref(o._data._slot)
                refs.append(r)
                if clipped_by_global_norm(o):     # the replays' results are marked as it was
                    self.clipped_slots.add(r.i)
                return r
            if _hides_traced(o):
                raise TraceError(
                    f"the result holds a {type(o).__name__} with tensors inside, which a "
                    "replay cannot rebuild: return the tensors in a tuple, list, dict or "
                    "named tuple")
            return o

        template = map_leaves(ref, obj)
        self.result_refs = refs
        return template

    # -- dead code ---------------------------------------------------------------------------
    def _drop_dead(self, escaping):
        """Drop reads and pure calls whose results nothing uses (backwards, one pass)."""
        used = set(escaping)
        keep = []
        for step in reversed(self.steps):
            kind, outs = step.kind, step.outs
            if (kind == "call" or kind == "read") and outs is not None and not _mutates(step):
                if type(outs) is Ref:
                    if outs.i not in used:
                        continue
                else:
                    made = _out_paths(outs, (), [])
                    if made and not any(s in used for s, _ in made):
                        continue
            if kind == "input":
                keep.append(step)
                continue
            used.update(reads(step))
            keep.append(step)
        keep.reverse()
        keep = hoist_guards(keep, self.slots)
        # a guard on an argument runs first, before anything changes
        inputs = set(self.inputs)
        first = [s for s in keep if s.kind == "input" or (s.kind == "guard" and
                                                          inputs.issuperset(arg_reads(s)))]
        chosen = set(map(id, first))
        self.steps = first + [s for s in keep if id(s) not in chosen]

    # -- buffers -----------------------------------------------------------------------------
    def _plan(self, escaping):
        """{step index: buffer name} for the ufunc calls that may write into a reused buffer."""
        import numpy as np

        from ..backends.numpy.memory import aligned_empty

        slots = self.slots
        if not isinstance(self.be.xp.zeros(1), np.ndarray):
            return {}
        last = {}
        escaping_roots = {slots[s].root for s in escaping}
        for step in self.steps:           # an optimizer may keep what it is given
            if step.kind == "host" and getattr(step.fn, "keeps_arguments", True):
                escaping_roots.update(slots[s].root for s in arg_reads(step))
        for k, step in enumerate(self.steps):
            for s in reads(step):
                last[slots[s].root] = k
            if step.kind == "kernel":     # a kernel may keep or return its inputs' memory
                for s, _ in _out_paths(step.outs, (), []):
                    last[slots[s].root] = max(last.get(slots[s].root, k), k)
        plan, free, owner_free_at = {}, {}, []     # owner_free_at: a heap by release step
        names, order = itertools.count(), itertools.count()
        for k, step in enumerate(self.steps):
            while owner_free_at and owner_free_at[0][0] < k:
                _, _, key, name = heapq.heappop(owner_free_at)
                free.setdefault(key, []).append(name)
            fn = step.fn
            if step.kind != "call" or type(fn) is not np.ufunc or fn.nout != 1 \
                    or "out" in step.kwargs or type(step.outs) is not Ref:
                continue
            info = slots[step.outs.i]
            if info.root in escaping_roots or not info.shape or not info.ndarray \
                    or info.dynamic is not None or not info.c_order \
                    or not isinstance(info.dtype, np.dtype):
                continue
            key = (info.shape, info.dtype)
            pool = free.get(key)
            if pool:
                name = pool.pop()
            else:
                name = f"B{next(names)}"
                self.constants[name] = aligned_empty(info.shape, info.dtype)
            plan[k] = name
            heapq.heappush(owner_free_at, (last.get(info.root, k), next(order), key, name))
        return plan

    # -- running ------------------------------------------------------------------------------
    def run(self, args, kwargs, tensors=None):
        """Replay on the raw arrays of ``args``/``kwargs`` (the signature already matched);
        ``tensors``: their plain tensors in order where the signature found them already."""
        raws = None if kwargs else plain_arrays(args)
        if raws is None:
            if tensors is not None:
                raws = [t._data for t in tensors]
            else:
                raws = []
                gather(args, raws)
                gather(kwargs, raws)
        if self.output_views is None:
            return self.run_arrays(raws)
        return self.output_views.rebuilt(self.run_arrays(raws), tensors if tensors is not None
                                         else argument_tensors(args, kwargs))

    def run_arrays(self, raws):
        """Replay on raw arrays: those of the call's plain tensor arguments (not Variables), in
        the order of their leaves (``arguments.gather``)."""
        if self.snapshot is None:
            if self.graph is None:                # _run's usual case, inline: a call less
                try:
                    replay = self._free.pop()
                except IndexError:
                    replay = self._another_replay()
                try:
                    return replay(raws)
                finally:
                    self._free.append(replay)
            return self._run(raws)
        restore = self.snapshot.take()
        try:
            return self._run(raws)
        except GuardFailed:
            restore()          # the caller runs the call eagerly, from the state it began in
            raise

    def _run(self, raws):
        if self.graph is not None:
            with self._graph_lock:          # one set of static buffers: one launch at a time
                return self.graph.run(raws)
        try:
            replay = self._free.pop()
        except IndexError:       # another thread is replaying: a copy with buffers of its own
            replay = self._another_replay()
        try:
            return replay(raws)
        finally:
            self._free.append(replay)

    def raw_replay(self, python_floats=False):
        """A replay function of its own (fresh buffers: one caller at a time) that returns the
        result's raw array instead of a Tensor, for a program whose result is one Tensor and
        that ``run_arrays`` would call directly (no CUDA graph, no snapshot to restore, no
        output views); else None. ``give_back_raw(replay, python_floats)`` keeps it for the
        next taker. An ODE solver calls its right-hand side thousands of times on small
        arrays: the Tensor made and unwrapped on each call cost more than some programs'
        arithmetic. ``python_floats``: the element reads ``python_floats.py`` picks give
        Python floats (the same values; overflows in what is computed from them do not warn).

        >>> import numpy as np
        >>> import xpgrad as xg
        >>> double = xg.function(lambda x: x * 2.0)
        >>> _ = [double(xg.asarray([1.0, 2.0])) for _ in range(2)]     # (a warm-up call)
        >>> program = double.programs()[0]
        >>> replay = program.raw_replay()
        >>> replay([np.array([3.0, 4.0])]).tolist()
        [6.0, 8.0]
        >>> program.give_back_raw(replay)
        """
        if type(self.result_template) is not Ref or self.graph is not None \
                or self.snapshot is not None or self.output_views is not None:
            return None
        python_floats = bool(python_floats and self.python_floats_source)   # (returns arrays)
        try:
            return self._free_raw[python_floats].pop()
        except IndexError:
            return self._another_replay(raw_result=True, python_floats=python_floats)

    def give_back_raw(self, replay, python_floats=False):
        """``replay`` (from ``raw_replay(python_floats)``) is free for the next taker."""
        self._free_raw[bool(python_floats and self.python_floats_source)].append(replay)

    def _python_floats_source(self, escaping):
        """The source again with the element reads ``python_floats.py`` picks written as
        ``a.item(i)`` (and ``element_arrays.py``'s arrays kept by element), returning the
        result's raw array (``raw_replay`` runs it); None where it picks nothing (or the
        program is not NumPy's, or long)."""
        import numpy as np

        if len(self.steps) > _PYTHON_FLOATS_STEPS or \
                not isinstance(self.be.xp.zeros(1), np.ndarray):
            return None
        reads = python_float_reads(self.steps, self.slots, escaping)
        plan = element_plan(self.steps, self.slots, escaping,
                            safe_reads(self.steps, self.slots, escaping))
        if not reads and not plan.sizes:
            return None
        self.float_reads, self.element_plan = reads, plan
        self.listed = listed_inputs(self.steps, self.slots, reads)
        try:
            return self._generate()
        finally:
            self.float_reads, self.element_plan = frozenset(), None
            del self.listed                 # (the class's: none)

    def _another_replay(self, raw_result=False, python_floats=False):
        """The program's replay function again, with fresh buffers (for concurrent calls);
        ``raw_result``: returning the result's raw array; ``python_floats``: from
        ``python_floats_source``."""
        namespace = dict(self._namespace)
        if raw_result:
            namespace["_wrap"] = _raw_array
        code = self._code
        if python_floats:
            if self._python_floats_code is None:
                self._python_floats_code = compile(
                    self.python_floats_source, f"<xg.function program {next(_counter)}, "
                    "Python floats>", "exec")
            code = self._python_floats_code
        for name in set(self.buffers.values()):
            namespace[name] = namespace[name].copy()
        own_generators(namespace)
        exec(code, namespace)
        return namespace.pop("replay")


def marked_clipped(result):
    """``result`` (a replay's result Tensor whose traced one ``clip_global_norm`` returned),
    marked as clipped as that one was, so ``DistributedOptimizer`` judges it as eager."""
    if isinstance(result, Tensor):        # not a raw replay's array
        mark_clipped(result)
    return result


def _raw_array(data, backend):
    """``_wrap``'s stand-in in a raw replay's namespace: the array itself."""
    return data
