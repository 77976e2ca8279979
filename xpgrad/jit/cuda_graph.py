"""CUDA-graph replay of a program (the cupy backend), as ``torch.cuda.graphs`` does it.

The program is cut into segments (``Program.segments``): device segments hold only device work
and are captured, each into one CUDA graph, by CuPy's stream capture; host segments (an
optimizer's update with its Python state -- learning-rate schedule, step count --, a print,
``xg.print``, and the guards) run as Python between the graphs' launches. A graph cannot call
the host, so a print splits the program there: its copy of the values to the host runs on the
graphs' stream after the graph before it, and waits for it. A graph replays the same kernels on the
same memory, so:

- the tensor arguments are copied into static input buffers before the launch;
- a Variable's array is baked into the graph: if the Variable holds another array now (an
  ``assign``), its value is copied into the baked one, which the Variable holds again;
- every array made while capturing comes from a memory pool private to this program, never
  handed to anything else, so a later allocation cannot take memory a graph writes;
- the results are copied out (the next launch overwrites the graph's outputs);
- the graphs run on a stream of their own, ordered with the caller's current stream by events
  both ways (``follow_caller`` before a replay, ``release_to_caller`` after it, a failed guard
  included): the input copies wait for what the caller queued, and whatever the caller does
  next (read a result, save the state for a guard, the next replay's copies) waits for the
  graphs.

The first replay after the trace runs plainly (CuPy compiles its kernels then); the second
captures the graphs (and runs them); later ones launch them. If capturing fails (a kernel that
synchronizes with the host, say), the program warns once and replays plainly from then on.

``graphs`` is the device API: ``CupyGraphs`` on a GPU; the tests use a NumPy stand-in with the
same semantics (``tests/test_function_cuda.py``).

>>> GraphReplay.__name__
'GraphReplay'
"""
from __future__ import annotations

import contextlib
import warnings

from ..optim.update_modes import in_program
from .errors import user_stacklevel


class CupyGraphs:
    """Stream capture on CuPy: one non-blocking stream, a private memory pool."""

    def __init__(self):
        import cupy

        self.cupy = cupy
        self.stream = cupy.cuda.Stream(non_blocking=True)
        self.pool = cupy.cuda.MemoryPool()

    @contextlib.contextmanager
    def device_scope(self):
        """Device segments: on the capture stream, allocating from the private pool."""
        with self.stream, self.cupy.cuda.using_allocator(self.pool.malloc):
            yield

    def host_scope(self):
        """Host segments: on the same stream (ordered with the graphs), default allocator."""
        return self.stream

    def capture(self, segment, S):
        relaxed = self.cupy.cuda.runtime.streamCaptureModeRelaxed
        self.stream.begin_capture(mode=relaxed)
        try:
            segment(S)
        finally:
            graph = self.stream.end_capture()
        return graph

    def launch(self, graph):
        graph.launch(self.stream)

    def copy_into(self, dst, src):
        dst[...] = src

    def synchronize(self):
        self.stream.synchronize()

    def follow_caller(self):
        """This stream waits for the work queued so far on the caller's current stream."""
        self.stream.wait_event(self.cupy.cuda.get_current_stream().record())

    def release_to_caller(self):
        """The caller's current stream waits for the work queued so far on this stream."""
        self.cupy.cuda.get_current_stream().wait_event(self.stream.record())


class GraphReplay:
    """Replays ``program`` as CUDA graphs through ``graphs`` (module docstring)."""

    def __init__(self, program, graphs, namespace):
        self.graphs = graphs
        self.inputs = list(program.inputs)
        self.n_slots = len(program.slots)
        self.sources = sources = program.segments()
        finish = program.finish_source()
        namespace = {**namespace, **program.constants}     # the segments' constants too
        self.segments = []
        for kind, source, reads in sources:
            ns = dict(namespace)
            exec(compile(source, "<xg.function segment>", "exec"), ns)
            # (popped: a function held by its own globals would be a reference cycle)
            self.segments.append((kind, ns.pop("segment"), reads))
        ns = dict(namespace)
        exec(compile(finish, "<xg.function finish>", "exec"), ns)
        self.finish = ns.pop("finish")
        self.plain = program._replay
        self.runs = 0
        self.failed = None
        self.S = None
        self.graph_list = None

    def run(self, raws):
        self.runs += 1
        if self.failed is not None or self.runs == 1:
            return self.plain(raws)            # the first: CuPy compiles its kernels
        g = self.graphs
        g.follow_caller()
        try:
            # the slot list holds every array for the whole run, so an optimizer step between
            # segments would find each Variable's array shared and copy it (optim/optimizer.py)
            # where the graphs bake it: it writes in place, as before copies on write (a
            # gradient the program takes after the update then sees the new weights, which a
            # plain replay does not)
            with in_program():
                S = self._capture(raws) if self.graph_list is None else self._launch(raws)
        finally:
            g.release_to_caller()
        return self.finish(S)

    def _capture(self, raws):
        """Capture the device segments (running each once after its capture); returns the
        slots to finish from."""
        g = self.graphs
        S = [None] * self.n_slots
        with g.device_scope():
            for slot, raw in zip(self.inputs, raws):
                S[slot] = raw.copy()          # the static input buffers
        graph_list = []
        for i, (kind, segment, reads) in enumerate(self.segments):
            if kind == "host":
                with g.host_scope():
                    segment(S)
                graph_list.append(None)
                continue
            try:
                with g.device_scope():
                    graph = g.capture(segment, S)
            except Exception as e:     # noqa: BLE001 - any failure: replay without graphs
                self.failed = e
                warnings.warn(f"xg.function: capturing a CUDA graph failed "
                              f"({type(e).__name__}: {e}); this program replays without CUDA "
                              f"graphs", RuntimeWarning, stacklevel=user_stacklevel())
                return self._run_plainly(i, S)
            baked = [(var, S[slot]) for var, slot in reads]
            graph_list.append((graph, baked))
            g.launch(graph)
        self.S, self.graph_list = S, graph_list
        return S

    def _run_plainly(self, first, S):
        """After a failed capture: segment ``first`` (which did not run: capturing runs
        nothing) and the rest, plainly, on this stream."""
        with self.graphs.host_scope():
            for kind, segment, _ in self.segments[first:]:
                segment(S)
        return S

    def _launch(self, raws):
        g, S = self.graphs, self.S
        with g.host_scope():
            for slot, raw in zip(self.inputs, raws):
                g.copy_into(S[slot], raw)
        for (kind, segment, _), entry in zip(self.segments, self.graph_list):
            if entry is None:
                with g.host_scope():
                    segment(S)
                continue
            graph, baked = entry
            with g.host_scope():
                for var, array in baked:
                    if var._data is not array:         # assigned since: back into baked memory
                        g.copy_into(array, var._data)
                        var._data = array
            g.launch(graph)
        return S
