"""Fusion on the numba backend: runs of elementwise steps of a program become one Numba loop.

``fuse_program(program, escaping)`` scans the program for consecutive elementwise steps (NumPy
ufunc calls such as ``+``, ``*``, ``exp``, ``tanh``, comparisons, and ``where``) whose results
all have one shape and whose array operands each broadcast to it in one of the ways a flat loop
can index (the same shape, one element, a trailing block such as a bias row, or a leading
block such as a column). Each such run becomes one step calling a generated kernel: one pass
over the elements computing every op of the run in registers, writing only the values used
after the run. Every op rounds to its NumPy dtype as NumPy does (a Python number is converted to
the op's dtype first, as NEP 50 says), so results equal eager ones to float rounding (libm's
``exp``/``tanh`` may differ from NumPy's in the last bit).

Which steps a run takes, and their Numba source lines, is ``fusion_runs.py``; which
transcendentals a run of many elements leaves to NumPy's SIMD ufunc (the run split around
them) is ``fusion_costs.py``; kernel sources are generated, compiled and cached by
``fused_kernels``.

>>> row_sums(np.ones((3, 2))).tolist()
[3.0, 3.0]
"""
from __future__ import annotations

import numpy as np

from ..backends.axis_sums import sum_rows
from .fused_kernels import _compiled, fused_call, kernel_source
from .fusion_costs import left_to_numpy
from .fusion_runs import _Run, _op_of, _try_add, _try_reduction, op_name
from .program_steps import Ref, Step
from .step_facts import arg_reads, reads

# a flat loop's index of an operand broadcast in each mode (``_index_mode``)
_INDEX = {1: "i", 0: "0", -1: "i % {d}", -2: "i // {d}"}

#: primitives whose numba kernels a fusing trace leaves out, so their generic (ufunc) forward
#: and vjp are recorded and fused with their neighbours
ELEMENTWISE_KERNELS = frozenset(("tanh", "sigmoid", "relu", "leaky_relu", "softplus"))


def fuse_program(program, escaping) -> int:
    """Replace runs of elementwise steps in ``program.steps`` by fused kernels; return how many
    runs were fused. A run's values used later go into one 2-D array per dtype (a "pack", one
    row each): a later fused run reads the pack directly, other steps get row views."""
    _bias_adds_as_calls(program, escaping)
    sums = _bias_sums_as_calls(program)
    steps, slots = program.steps, program.slots
    runs, k = [], 0                       # (first, last, run) of each run worth a kernel
    while k < len(steps):
        run = None
        if _fusible(steps[k], slots):
            run = _Run(slots[steps[k].outs.i].shape)
            j = k
            while j < len(steps) and _fusible(steps[j], slots) and _try_add(run, steps[j], slots):
                j += 1
            if j < len(steps) and len(run.steps) >= 2:
                _try_reduction(run, steps[j], slots)
        if run is not None and _worth_a_kernel(run):
            runs.append((k, k + len(run.steps) - 1, run))
            k += len(run.steps)
        else:
            k += 1
    for k, original in sums.items():     # a sum no run took: the kernel's g.sum(0), called
        if not any(first <= k <= last for first, last, _ in runs):      # without the kernel
            steps[k] = Step(row_sums, (original.args[0],), {}, original.outs[2], "call")
    if not runs:
        return 0
    in_run = {}
    for n, (first, last, _) in enumerate(runs):
        for i in range(first, last + 1):
            in_run[i] = n
    plain_uses, last_use = set(escaping), {}
    for i, step in enumerate(steps):
        for s in reads(step):
            last_use[s] = i
            if i not in in_run:
                plain_uses.add(s)
    packed = {}                           # slot -> (pack slot, row)
    out, k = [], 0
    for first, last, run in runs:
        out.extend(steps[k:first])
        needed = [s for s in run.made if s in escaping or last_use.get(s, -1) > last]
        out.append(_fused_step(run, needed, plain_uses, packed, slots))
        k = last + 1
    out.extend(steps[k:])
    program.steps = out
    return len(runs)


#: ops a Numba loop runs several times faster than NumPy (whose maximum and minimum test each
#: element for NaN: 3.8 against 0.9 us on a 32x256 float32 ReLU), fused even alone
_ALONE = frozenset(("maximum", "minimum"))


def _worth_a_kernel(run):
    """Whether ``run`` gains from a kernel: two steps or more, or one NumPy does slowly."""
    return len(run.steps) >= 2 or (len(run.steps) == 1 and op_name(run.steps[0].fn) in _ALONE)


#: exponents a loop computes without the C library's ``pow`` (a square root, a product, ...)
_CHEAP_POWERS = (0.5, 0, 1, 2, -1)


def _fusible(step, slots):
    """Whether ``step`` is an elementwise op a run may take: one the loop writes, and not a
    transcendental that NumPy's SIMD ufunc computes faster than the loop's scalar calls by more
    than splitting the run costs (``fusion_costs``)."""
    if _op_of(step) is None:
        return False
    name = op_name(step.fn)
    exponent = step.args[-1]
    if name == "power" and isinstance(exponent, (int, float, np.number)) \
            and exponent in _CHEAP_POWERS:
        return True
    out = slots[step.outs.i]
    return out.dynamic is not None or not left_to_numpy(name, out.dtype, _size(out.shape))


def _size(shape):
    n = 1
    for d in shape:
        n *= d
    return n


def row_sums(g):
    """The bias gradient as the dense layer's kernel vjp computes it (``axis_sums.sum_rows``,
    imported with this module: an import statement per replay cost ~1 us of a 32x10 sum's 4)."""
    return sum_rows(g)


def _bias_sums_as_calls(program):
    """Record each dense-layer kernel vjp that only sums its gradient over rows (the bias
    gradient; a trace leaves the other gradients to the generic rules: ``traced_generic``) as
    that ``np.sum`` call, which a run just before it then takes into its loop
    (``_try_reduction``); ``{index: the kernel step}`` of those rewritten."""
    from ..backends.numpy.kernels import _linear_vjp

    originals = {}
    for k, step in enumerate(program.steps):
        if step.kind != "kernel" or step.fn is not _linear_vjp or step.kwargs \
                or type(step.outs) is not tuple or len(step.outs) != 3:
            continue
        dx, dw, db = step.outs
        if dx in (None, NotImplemented) and dw in (None, NotImplemented) and type(db) is Ref \
                and type(step.args[0]) is Ref:
            program.steps[k] = Step(np.sum, (step.args[0],), {"axis": 0}, db, "call")
            originals[k] = step
    return originals


def _bias_adds_as_calls(program, escaping) -> int:
    """Split each dense-layer kernel forward whose result only the next step reads, an
    elementwise op that a run takes with the bias add (a ReLU), into its product
    (``blas.matmul``) and the add as an ``np.add`` call: the bias is then added in that
    run's loop, not in a pass of its own (``out += b``). Returns how many were split."""
    from ..backends import blas
    from ..backends.numpy.kernels import _linear_forward
    from .program_steps import SlotInfo, slot_uses

    steps, slots = program.steps, program.slots
    uses = slot_uses(steps)
    count, k = 0, 0
    while k < len(steps) - 1:
        step, after = steps[k], steps[k + 1]
        k += 1
        if step.kind != "kernel" or step.fn is not _linear_forward or step.kwargs \
                or type(step.outs) is not tuple or len(step.outs) != 2 \
                or type(step.outs[0]) is not Ref or step.outs[1] is not None \
                or not all(type(a) is Ref for a in step.args):
            continue
        y = step.outs[0]
        if y.i in escaping or uses.get(y.i) != 1 or y.i not in arg_reads(after):
            continue
        info = slots[y.i]
        t = len(slots)          # the product: a new array of the layer's output
        slots.append(SlotInfo(info.shape, info.dtype, info.step, t, True, info.dynamic))
        x, w, b = step.args
        add = Step(np.add, (Ref(t), b), {}, y, "call")
        trial = _Run(info.shape)
        if _try_add(trial, add, slots) and _fusible(after, slots) \
                and _try_add(trial, after, slots):
            steps[k - 1:k] = [Step(blas.matmul, (x, w), {}, Ref(t), "call"), add]
            count += 1
        else:
            slots.pop()
    return count


def _fused_step(run, needed, plain_uses, packed, slots):
    from .program_steps import SlotInfo

    n = int(np.prod(run.shape))
    # a loop over rows of a loop over columns (``j``) where the run sums columns or reads a
    # row-long operand (a bias): ``b[j]`` vectorizes, ``b[i % columns]`` did not (a 32x256
    # bias add and ReLU: 3.9 us a call, 2.4 as rows of columns)
    columns = 0 if run.reduction is None else run.reduction[2]
    if run.reduction is None and len(run.shape) == 2 and any(
            mode == -1 and d == run.shape[1] for _, (mode, d) in run.inputs.values()):
        columns = run.shape[1]
    # the kernel's array arguments: each input's own array, or the pack holding it
    arg_slots, loads, flatten = [], [], []
    for slot, (name, (mode, d)) in run.inputs.items():
        index = "j" if columns and mode == -1 and d == columns else _INDEX[mode].format(d=d)
        if slot in packed:
            source, row = packed[slot]
        else:
            source, row = slot, None
        if source not in arg_slots:
            arg_slots.append(source)
            flatten.append(row is None and len(slots[source].shape) != 1)
        a = f"a{arg_slots.index(source)}"
        loads.append(f"{name} = {a}[{index}]" if row is None else f"{name} = {a}[{row}, {index}]")
    by_dtype = {}
    for s in needed:
        by_dtype.setdefault(slots[s].dtype, []).append(s)
    pack_slots, stores, views, view_slots = [], [], [], []
    for p, (dtype, members) in enumerate(by_dtype.items()):
        pack = len(slots)
        slots.append(SlotInfo((len(members), n), dtype, None, -1 - pack, True))
        pack_slots.append(pack)
        for row, s in enumerate(members):
            stores.append(f"p{p}[{row}, i] = {run.made[s]}")
            packed[s] = (pack, row)
            slots[s].root = -1 - pack
            if s in plain_uses:
                views.append((p, row, None if len(run.shape) == 1 else run.shape))
                view_slots.append(s)
    reduction = None
    if run.reduction is not None:
        out_slot, value, _ = run.reduction
        stores.append(f"acc[{'0' if columns == 0 else 'j'}] += {value}")
        info = slots[out_slot]
        reduction = (max(columns, 1), info.dtype, info.shape)
        view_slots.append(out_slot)
    source = kernel_source(len(arg_slots), len(pack_slots), loads + run.lines, stores,
                           reduction is not None, columns)
    kernel = _compiled(source)
    call = fused_call(kernel, flatten, n, [(len(m), d) for d, m in by_dtype.items()], views,
                      "\n".join(run.lines), reduction)
    return Step(call, tuple(Ref(s) for s in arg_slots), {},
                tuple(Ref(s) for s in pack_slots + view_slots), "call")
