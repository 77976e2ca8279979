"""In-place backward steps in a program. Eagerly, the tape calls a kernel's ``vjp_in_place``
(ReLU's backward writing into its output gradient) when nothing else holds that gradient; a
trace cannot tell (the gradient is a stand-in), so it records the plain ``vjp``, which
allocates a new array the size of the gradient while the old one is still alive: a replay of
a 784-4096-10 MLP step at batch 4096 peaked 64 MiB above the eager step. Here the program
takes the in-place form back where no step after it reads the gradient's memory.

>>> from xpgrad.jit.program_steps import SlotInfo, Step
>>> slots = [SlotInfo((2,), None, 0, 0, True), SlotInfo((2,), None, 1, 0, True)]
>>> made = Step(abs, (), {}, Ref(0), "call")
>>> vjp = Step("vjp", (Ref(0),), {}, (Ref(1),), "kernel")
>>> vjp.in_place = "vjp_in_place"
>>> take_in_place_vjps([made, vjp], slots, escaping=set()), vjp.fn
(1, 'vjp_in_place')
"""
from __future__ import annotations

from .program_steps import Ref


def take_in_place_vjps(steps, slots, escaping) -> int:
    """Give each kernel vjp step with an ``in_place`` form that form where its output gradient
    (its first argument) shares its memory with no slot made before it that is read after it,
    escapes the program, or is an input's or a Variable's; returns how many were changed."""
    from .step_facts import _out_paths, reads

    made_at, last_read, fixed = {}, {}, set()
    for k, step in enumerate(steps):
        for s in reads(step):
            last_read[s] = k
        for s, _ in _out_paths(step.outs, (), []):
            made_at[s] = k
            if step.kind in ("input", "read"):
                fixed.add(slots[s].root)
    fixed.update(slots[s].root for s in escaping)
    by_root = {}
    for s in made_at:
        by_root.setdefault(slots[s].root, []).append(s)
    changed = 0
    for k, step in enumerate(steps):
        if step.kind != "kernel" or step.in_place is None or not step.args \
                or type(step.args[0]) is not Ref:
            continue
        g = step.args[0].i
        root = slots[g].root
        if root in fixed or reads(step).count(g) != 1:
            continue
        if any(last_read.get(s, -1) > k for s in by_root.get(root, ()) if made_at[s] < k):
            continue
        step.fn = step.in_place
        changed += 1
    return changed
