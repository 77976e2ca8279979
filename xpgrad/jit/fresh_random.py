"""Generators a trace makes itself: ``rng = xg.random.default_rng(7)`` inside the function.

An eager call makes such a generator afresh every time, so every call draws the same numbers
(as ``jax.random.PRNGKey(7)`` or ``torch.Generator().manual_seed(7)`` under ``jit`` /
``compile``); a replay must not keep drawing from the one the trace made. Unless the call kept
it (a layer that makes its generator on its first call and stores it, as ``Dropout`` does):
then the next eager call would draw on from it, and so does the replay. Which of the two it is
shows when the call has returned, as for Variables the trace makes: until then the recorded
draws hold the generator weakly.
"""
from __future__ import annotations

import copy
import gc
import weakref

from .guards import restored_rng, rng_state


class FreshGenerators:
    """The generators one trace made, and its recorded draws from them."""

    def __init__(self):
        self.made = {}       # id -> weak reference, per generator made by the trace
        self.first = {}      # id -> (weak reference, its clone, its state before any draw)
        self.draws = []      # (RandomDraw, first entry) per recorded draw from one of them

    def watch(self, cls, tracing):
        """Note each ``cls`` made while ``tracing()``; ``cls.__init__`` as it was."""
        original = cls.__init__
        made = self.made

        def __init__(gen, *args, **kwargs):
            original(gen, *args, **kwargs)
            if tracing():
                made[id(gen)] = weakref.ref(gen)

        cls.__init__ = __init__
        return original

    def recorded_draw(self, tracer, draw, gen):
        """``tracer.call_unrecorded(draw)``, ``draw`` a RandomDraw from ``gen``; while the
        trace runs, it holds a generator the trace made weakly."""
        entry = self._first_draw(gen)
        result = tracer.call_unrecorded(draw)
        if entry is not None:
            draw.generator = None
            self.draws.append((draw, entry))
        return result

    def _first_draw(self, gen):
        """``gen``'s entry if the trace made it (its clone and first state), else None."""
        ref = self.made.get(id(gen))
        if ref is None or ref() is not gen:
            return None
        entry = self.first.get(id(gen))
        if entry is None or entry[0]() is not gen:
            clone = copy.copy(gen)
            clone._rng = copy.deepcopy(gen._rng)
            entry = self.first[id(gen)] = (ref, clone, copy.deepcopy(gen._rng))
        return entry

    def settle(self):
        """After the call: each draw from a generator the call kept draws from it; from one
        it dropped, from its clone, put back in its first state by the replay's first draw."""
        if any(entry[0]() is not None for _, entry in self.draws):
            gc.collect()         # one only held in a reference cycle is not kept
        reset = set()
        for draw, (ref, clone, pristine) in self.draws:
            gen = ref()
            if gen is not None:
                draw.generator = gen
            else:
                draw.generator, draw.fresh = clone, True
                if id(clone) not in reset:
                    reset.add(id(clone))
                    draw.reset_to = pristine
        self.draws = []


def own_generators(namespace):
    """Give the draws in ``namespace`` (a copy of a program's, for a concurrent replay) clones
    of their fresh generators: replays in two threads must not reset each other's."""
    clones = {}
    for name, value in namespace.items():
        if getattr(value, "fresh", False):
            gen = value.generator
            if id(gen) not in clones:
                clones[id(gen)] = copy.copy(gen)
                clones[id(gen)]._rng = copy.deepcopy(gen._rng)
            namespace[name] = copy.copy(value)
            namespace[name].generator = clones[id(gen)]


def reset_generator(gen, pristine):
    """``gen``'s native generator put back in the state of ``pristine`` (left unchanged)."""
    gen._rng = restored_rng(gen._rng, rng_state(pristine))
