"""Generators and optimizers a trace makes itself: ``rng = xg.random.default_rng(7)`` or
``opt = xg.optim.Adam(0.1)`` inside the function.

An eager call makes such an object afresh every time, so every call draws the same numbers from
a seeded generator (as ``jax.random.PRNGKey(7)`` or ``torch.Generator().manual_seed(7)`` under
``jit`` / ``compile``) and takes an optimizer's first step (no momentum yet, step 1 of its
schedule); a replay must not go on with the one the trace made. Unless the call kept it (a layer
that makes its generator on its first call and stores it, as ``Dropout`` does; a trainer that
makes its optimizer so), or it is a generator without a seed (fresh entropy every eager call):
then the replay goes on with it, as the next eager call would. Which of the two it is shows
when the call has returned, as for Variables the trace makes: until then the recorded steps
hold the object weakly. A dropped one is replaced by a clone made before its first use, put
back in that first state by the first step of each replay that uses it.
"""
from __future__ import annotations

import copy
import gc
import weakref

from .guards import StateSnapshot, restored_rng, rng_state


class MadeByTrace:
    """The generators and optimizers one trace made, and its recorded steps using them."""

    def __init__(self):
        self.made = {}       # id -> weak reference, per object made by the trace
        self.first = {}      # id -> (weak reference, its clone) from before its first use
        self.uses = []       # (recorded step's callable, first entry) per use of one

    def watch(self, cls, tracing, repeatable=lambda args, kwargs: True):
        """Note each ``cls`` made while ``tracing()`` whose making ``repeatable(args, kwargs)``
        says each call repeats; ``cls.__init__`` as it was."""
        original = cls.__init__
        made = self.made

        def __init__(obj, *args, **kwargs):
            original(obj, *args, **kwargs)
            if tracing() and repeatable(args, kwargs):
                made[id(obj)] = weakref.ref(obj)

        cls.__init__ = __init__
        return original

    def made_now(self, obj):
        """Note ``obj`` (an optimizer) as made by the traced call (its ``__init__`` calls
        this while its thread traces)."""
        self.made[id(obj)] = weakref.ref(obj)

    def recorded_draw(self, tracer, draw, gen, arrays=()):
        """``draw`` (a RandomDraw from ``gen``) recorded as a step: with no argument
        (``tracer.call_unrecorded``), or with ``arrays`` as its inputs."""
        entry = self._first_use(gen, _generator_clone)
        result = tracer.call(draw, arrays, {}) if arrays else tracer.call_unrecorded(draw)
        self._used(draw, "generator", entry)
        return result

    def recorded_update(self, update, step):
        """``update()`` (an optimizer's ``apply_gradients``), ``step`` its HostOptimizerStep."""
        entry = self._first_use(step.optimizer, _optimizer_clone)
        result = update()
        self._used(step, "optimizer", entry)
        return result

    def _first_use(self, obj, clone):
        """``obj``'s entry if the trace made it (with its clone from before its first use)."""
        ref = self.made.get(id(obj))
        if ref is None or ref() is not obj:
            return None
        entry = self.first.get(id(obj))
        if entry is None or entry[0]() is not obj:
            entry = self.first[id(obj)] = (ref, clone(obj))
        return entry

    def _used(self, step, attribute, entry):
        if entry is not None:           # held weakly until settle()
            setattr(step, attribute, None)
            self.uses.append((step, attribute, entry))

    def settle(self):
        """After the call: each step using an object the call kept uses it; one using an
        object it dropped, the clone, put back in its first state by the replay's first use."""
        if any(entry[0]() is not None for _, _, entry in self.uses):
            gc.collect()         # one only held in a reference cycle is not kept
        reset = set()
        for step, attribute, (ref, clone) in self.uses:
            obj = ref()
            setattr(step, attribute, clone if obj is None else obj)
            if obj is None:
                step.fresh = True
                if id(clone) not in reset:
                    reset.add(id(clone))
                    step.reset = _resetter(clone)
        self.uses = []


def seeded(args, kwargs):
    """Whether ``Generator(*args, **kwargs)`` has a seed: made afresh without one, each eager
    call draws new numbers (fresh entropy), and a replay draws on from the trace's generator."""
    return (args[0] if args else kwargs.get("seed")) is not None


def _generator_clone(gen):
    clone = copy.copy(gen)
    clone._rng = copy.deepcopy(gen._rng)
    return clone


def _optimizer_clone(opt):
    """A copy of ``opt`` with containers of its own (its slots, none yet, and step count);
    its settings and schedule shared."""
    clone = copy.copy(opt)
    for name, value in vars(clone).items():
        if type(value) in (dict, list):
            vars(clone)[name] = copy.deepcopy(value)
    return clone


class GeneratorReset:
    """Puts ``gen`` back in the state of ``pristine`` (a native generator left unchanged)."""

    def __init__(self, gen, pristine):
        self.gen, self.pristine = gen, pristine

    def __call__(self):
        self.gen._rng = restored_rng(self.gen._rng, rng_state(self.pristine))


def _resetter(clone):
    """A function putting ``clone`` back in the state it has now."""
    if hasattr(clone, "_rng"):
        return GeneratorReset(clone, copy.deepcopy(clone._rng))
    return StateSnapshot([clone], [], []).take()


def own_generators(namespace):
    """Give the draws in ``namespace`` (a copy of a program's, for a concurrent replay) clones
    of their fresh generators: replays in two threads must not reset each other's. (A fresh
    optimizer is not copied: its updates write into Variables all threads share anyway.)"""
    clones = {}
    for name, value in namespace.items():
        if getattr(value, "fresh", False) and hasattr(value, "generator"):
            gen = value.generator
            if id(gen) not in clones:
                clones[id(gen)] = _generator_clone(gen)
            namespace[name] = copy.copy(value)
            namespace[name].generator = clones[id(gen)]
            if value.reset is not None:
                namespace[name].reset = GeneratorReset(clones[id(gen)], value.reset.pristine)
