"""Guards that fail safely: a failing guard makes the call run eagerly instead, which is right
only if the replay changed nothing before the guard.

A guard (``RangeGuard``: an index's or labels' range) runs where the trace met its check. A
step that changes state -- an optimizer update, a random draw, an in-place write into a
Variable's array -- may come before it; the eager call after a failed guard would then do it a
second time. So:

- ``hoist_guards`` moves each guard, with the pure steps computing its input (and the reads of
  Variables nothing changes), before the first step that changes state, where its input does
  not depend on that state (an index computed from an argument; labels computed from the batch);
- a guard that cannot move (labels computed from the weights the update just changed, an index
  drawn at random) makes the program save what the steps before it change (``StateSnapshot``)
  at the start of every replay, and put it back when a guard fails.

>>> import xpgrad as xg
>>> w = xg.Variable([1.0, 2.0, 3.0])
>>> opt = xg.optim.SGD(0.1)
>>> @xg.function
... def step(i):
...     with xg.GradientTape() as tape:
...         loss = xg.sum(w * w)
...     opt.apply_gradients([(tape.gradient(loss, w), w)])
...     return xg.take(w, i + 1)
>>> [round(step(xg.asarray([0])).item(), 4) for _ in range(3)]     # w[1]: 2.0 * 0.8 ** k
[1.6, 1.28, 1.024]
>>> round(step(xg.asarray([1])).item(), 4)     # guard fails: eager, w updated once: 3 * 0.8 ** 4
1.2288
>>> step.programs()[0].snapshot is None      # the guard on i + 1 runs before the update
True
"""
from __future__ import annotations

import copy

from .structure import leaves
from .program_steps import Ref
from .step_facts import _mutates, reads as _ref_slots


def _draws(step):
    return getattr(step.fn, "draws_random", False)


def _variable_roots(steps, slots):
    """{memory root: Variable} of the Variables' arrays the program reads."""
    return {slots[s.outs.i].root: s.fn.var for s in steps if s.kind == "read"}


def changes_state(step, slots, persistent) -> bool:
    """Whether ``step`` changes what outlives the call: an optimizer update, a random draw, or
    a write into memory in ``persistent`` (the roots of Variables' arrays and arguments) or
    into a constant array."""
    if step.kind == "host" or _draws(step):
        return True
    if step.kind != "call" or not _mutates(step):
        return False
    constants = any(hasattr(o, "shape") for o in leaves((step.args, step.kwargs))
                    if type(o) is not Ref)
    return constants or any(slots[i].root in persistent for i in _ref_slots(step))


def _written_roots(steps, slots, by_variable):
    """The memory roots that ``steps`` may write: a mutating call's arrays, an optimizer
    update's gradients and the arrays of the Variables it updates (``by_variable``: {id of a
    Variable: roots of its arrays the program reads})."""
    written = set()
    for step in steps:
        if step.kind == "host" or _mutates(step):
            written.update(slots[i].root for i in _ref_slots(step))
        if step.kind == "host":
            for v in getattr(step.fn, "variables", ()):
                written.update(by_variable.get(id(v), ()))
    return written


def _persistent_roots(steps, slots):
    return {slots[s.outs.i].root for s in steps if s.kind in ("read", "input")}


def hoist_guards(steps, slots):
    """``steps`` with every guard that can (module docstring), and the pure steps computing
    its input, moved before the first step that changes state."""
    if not any(s.kind == "guard" for s in steps):
        return steps
    persistent = _persistent_roots(steps, slots)
    first = next((k for k, s in enumerate(steps) if changes_state(s, slots, persistent)), None)
    if first is None:
        return steps
    late = steps[first:]
    by_variable = {}
    for root, v in _variable_roots(steps, slots).items():
        by_variable.setdefault(id(v), set()).add(root)
    written = _written_roots(late, slots, by_variable)
    available = {o.i for s in steps[:first] for o in leaves(s.outs) if type(o) is Ref}
    producer, movable = {}, set()
    for step in late:
        if step.kind == "read":       # a Variable's array that no later step changes
            pure = slots[step.outs.i].root not in written
        else:
            pure = step.kind in ("call", "kernel", "guard") and not _mutates(step)
        inputs = _ref_slots(step)
        if pure and all(i in available and slots[i].root not in written for i in inputs):
            movable.add(id(step))
            for o in leaves(step.outs):
                if type(o) is Ref:
                    available.add(o.i)
                    producer[o.i] = step
    hoisted = set()
    for step in late:
        if step.kind == "guard" and id(step) in movable:
            _add_cone(step, producer, hoisted)
    if not hoisted:
        return steps
    return (steps[:first] + [s for s in late if id(s) in hoisted]
            + [s for s in late if id(s) not in hoisted])


def _add_cone(step, producer, cone):
    """``step`` and the (moved) steps computing its inputs, into ``cone`` (ids)."""
    todo = [step]
    while todo:
        s = todo.pop()
        if id(s) in cone:
            continue
        cone.add(id(s))
        todo.extend(producer[i] for i in _ref_slots(s) if i in producer)


class StateSnapshot:
    """What the steps before a program's last guard change, saved by ``take()`` at the start
    of a replay; ``take()``'s answer, called, puts it back (the guard failed: the call runs
    eagerly from the state it started with)."""

    def __init__(self, optimizers, variables, generators):
        self.optimizers, self.variables, self.generators = optimizers, variables, generators

    @classmethod
    def of(cls, steps, slots, through=-1):
        """The snapshot a program of ``steps`` needs, or None: no guard comes after a step
        that changes state. ``through``: a step index that counts as a guard too (a kernel
        that may decline, ``declines.py``)."""
        persistent = _persistent_roots(steps, slots)
        last = max((k for k, s in enumerate(steps) if s.kind == "guard"), default=-1)
        last = max(last, through)
        # (no guard: nothing to save; steps[:-1] would be every step but the last)
        changing = [s for s in steps[:last] if changes_state(s, slots, persistent)] \
            if last > 0 else []
        if not changing:
            return None
        owners = _variable_roots(steps, slots)
        optimizers, variables, generators = {}, {}, {}
        for step in changing:
            fn = step.fn
            if step.kind == "host":
                opt = getattr(fn, "optimizer", None)      # None: a Variable's write
                if opt is not None:
                    optimizers[id(opt)] = opt
                variables.update((id(v), v) for v in fn.variables)
            elif _draws(step):
                generators[id(fn.generator)] = fn.generator
            for i in _ref_slots(step):
                v = owners.get(slots[i].root)
                if v is not None:
                    variables[id(v)] = v
        return cls(list(optimizers.values()), list(variables.values()),
                   list(generators.values()))

    def take(self):
        """Save the state now; returns the function that puts it back."""
        containers, arrays = [], []
        for opt in self.optimizers:
            _save(vars(opt), containers, arrays, set())
        for v in self.variables:
            arrays.append((v, v._data, v._data.copy()))
        rngs = [(g, g._rng, rng_state(g._rng)) for g in self.generators]

        def restore():
            for container, items in containers:
                if type(container) is dict:
                    container.clear()
                    container.update(items)
                else:
                    container[:] = items
            for owner, array, saved in arrays:
                if owner is not None:
                    if not hasattr(array, "__setitem__"):    # a NumPy scalar: rebind it
                        owner._data = saved
                        continue
                    owner._data = array
                array[...] = saved
            for g, rng, state in rngs:
                g._rng = restored_rng(rng, state)

        return restore


def _save(obj, containers, arrays, seen):
    """Record the dicts and lists reachable from ``obj`` (as they are now) and copies of the
    arrays in them; other objects (a schedule, a Variable) are kept as they are."""
    from ..tensor import Tensor

    if id(obj) in seen:
        return
    seen.add(id(obj))
    t = type(obj)
    if t is dict or t is list:
        containers.append((obj, dict(obj) if t is dict else list(obj)))
        for o in (obj.values() if t is dict else obj):
            _save(o, containers, arrays, seen)
    elif t is tuple:
        for o in obj:
            _save(o, containers, arrays, seen)
    elif hasattr(obj, "shape") and hasattr(obj, "__setitem__") and hasattr(obj, "copy") \
            and not isinstance(obj, Tensor):
        arrays.append((None, obj, obj.copy()))


def rng_state(rng):
    """A native generator's state (a copy of the generator where it has no ``bit_generator``)."""
    bits = getattr(rng, "bit_generator", None)
    return bits.state if bits is not None else copy.deepcopy(rng)


def restored_rng(rng, state):
    """``rng`` put back in ``state`` (``rng_state``'s); the generator to use from now on."""
    bits = getattr(rng, "bit_generator", None)
    if bits is None:
        return state               # a copy of the generator as it was
    bits.state = state
    return rng
