"""A print that every replay of an ``xg.function`` program runs again (``xg.print``,
``xg.debug.print``): ``emit`` prints the values now and, while a trace records, adds a
``HostPrint`` host step to the program, which prints the replay's values at the same point among
the program's other host steps (optimizer updates, random draws).

The values print as NumPy arrays (``print(t.numpy())``). On a device backend (cupy) the step
copies them to the host where it runs, which waits for the device work queued before it; under
CUDA graphs (``cuda_graph.py``) a print is a host segment between two graphs' launches.

>>> import io
>>> import xpgrad as xg
>>> out = io.StringIO()
>>> emit(lambda values, kwargs: f"{values[0]}\\n", (xg.asarray([1.0, 2.0]),), {}, out)
>>> out.getvalue()
'[1. 2.]\\n'
"""
from __future__ import annotations

import builtins
import sys

import numpy as np

from ..batching.batched import BatchedArray
from ..tensor import Tensor
from ..trace_thread import RUNNING, THREAD
from .program_steps import Ref, Step
from .structure import map_leaves
from .traced import Traced


class HostPrint:
    """The host step of one print: ``render(values, kwargs)`` (the text) of ``template`` (the
    print's arguments with each traced array a ``Ref`` in the order of the step's arguments)
    filled with the replay's arrays, as NumPy arrays (``backends``: each one's backend)."""

    prints = True             # not a change of state: a failed trace may run the call again
    keeps_arguments = False   # it formats them at once (jit/program.py's buffers)
    variables = ()            # it updates no Variable (jit/guards.py)
    optimizer = None

    def __init__(self, render, template, backends, file, flush):
        self.render, self.template, self.backends = render, template, backends
        self.file, self.flush = file, flush

    def __call__(self, *arrays):
        host = [_host_array(a, be) for a, be in zip(arrays, self.backends)]
        _write(self.render(*_filled(self.template, host)), self.file, self.flush)

    def __repr__(self):
        return "<print>"


def emit(render, args, kwargs, file, flush=False):
    """Print ``render(args, kwargs)`` with each tensor in ``args``/``kwargs`` as its NumPy
    value; inside a trace, also record the print as a step every replay runs (module
    docstring)."""
    tracer = THREAD.tracer if RUNNING[0] else None
    if tracer is not None and tracer.paused:      # inside a host step: it replays whole
        tracer = None
    refs, backends, now = [], [], []

    def kept(leaf):
        """The leaf as the program keeps it: a Ref where the trace computed it."""
        if not isinstance(leaf, Tensor):
            return leaf
        data = leaf._data
        while type(data) is BatchedArray:     # under vmap: the whole batch, batch axis first
            data = data._data
        if type(data) is not Traced:
            return _host_array(data, leaf._backend)
        if tracer is None or data._tracer is not tracer:
            return _host_array(data._real, leaf._backend)
        refs.append(Ref(data._slot))
        backends.append(leaf._backend)
        now.append(_host_array(data._real, leaf._backend))
        return refs[-1]

    template = map_leaves(kept, (args, kwargs))
    _write(render(*_filled(template, now)), file, flush)
    if tracer is not None:
        step = HostPrint(render, template, backends, file, flush)
        tracer.steps.append(Step(step, tuple(refs), {}, None, "host"))


def _filled(template, arrays):
    """``template`` with its Refs replaced by ``arrays``, in order."""
    values = iter(arrays)
    return map_leaves(lambda o: next(values) if type(o) is Ref else o, template)


def _host_array(array, backend):
    """``array`` (a backend's, or a Python number a replay computed) as a NumPy array."""
    if isinstance(array, np.ndarray):
        return array
    if hasattr(array, "shape"):
        return backend.to_numpy(array)       # cupy: copied to the host, after the work before
    return np.asarray(array)


def _write(text, file, flush):
    builtins.print(text, end="", file=sys.stdout if file is None else file, flush=flush)


__all__ = ["HostPrint", "emit"]
