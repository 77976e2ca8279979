"""A ``Program``'s Python source: ``ProgramSource``, the base of ``Program`` (``program.py``),
writes the recorded steps as one ``def replay(inputs)`` of raw backend calls (``_generate``),
each slot let go after its last read (``_dead_after``), constants inlined or bound by name
(``_const``), the result rebuilt in the traced call's structure (``_result_expr``); and, for
CUDA graphs, the same steps cut into device and host segments (``segments``, ``finish_source``).

>>> import xpgrad as xg
>>> f = xg.function(lambda x: xg.exp(x) + 1.0)
>>> for _ in range(2):
...     _ = f(xg.asarray([0.0]))
>>> print(f.programs()[0].source.splitlines()[0])
def replay(inputs):
"""
from __future__ import annotations

import functools

from .step_facts import _out_paths, _refs, reads
from ..pytree_nodes import user_kind
from .module_key import module_key
from .structure import is_namedtuple, refilled, value_module
from .program_steps import Ref
from .element_arrays import element_name, elements
from .python_floats import item_arguments, list_name
from .step_syntax import syntax

_INLINE = (int, bool, str, type(None))


class _LocalNames(dict):
    """A slot's local variable in a replay's source: ``s0``, ``s1``... in the order the source
    first names them. Two traces of one structure (a new batch size: other slot numbers, the
    same steps) write the same source, whose compiled code the second reuses
    (``program.compiled``)."""

    def __missing__(self, slot):
        name = self[slot] = f"s{len(self)}"
        return name


class ProgramSource:
    """The code generation of ``Program`` (module docstring)."""

    #: the steps written as ``a.item(i)``: element reads that give Python floats, and the
    #: arrays kept as one Python variable per element (``python_floats.py``,
    #: ``element_arrays.py``; only while ``Program`` writes its Python-floats source)
    float_reads = frozenset()
    element_plan = None
    listed = {"reads": {}, "sliced": set()}

    def _const(self, value):
        if type(value) in _INLINE or (type(value) is float and value == value
                                      and value not in (float("inf"), float("-inf"))):
            return repr(value)
        if value is Ellipsis:
            return "..."
        # one name per object (a ufunc called a thousand times is one global of the replay)
        name = self.constant_names.get(id(value))
        if name is None:
            name = self.constant_names[id(value)] = f"c{len(self.constants)}"
            self.constants[name] = value
        return name

    def _expr(self, obj):
        t = type(obj)
        if t is Ref:
            return self._slot(obj.i)
        if t is tuple:
            inner = ", ".join(self._expr(o) for o in obj)
            return f"({inner},)" if len(obj) == 1 else f"({inner})"
        if t is list:
            return "[" + ", ".join(self._expr(o) for o in obj) + "]"
        if t is dict and all(type(k) is str for k in obj):
            return "{" + ", ".join(f"{k!r}: {self._expr(v)}" for k, v in obj.items()) + "}"
        return self._const(obj)

    def _call(self, k, step):
        if step.kind == "read":        # a Variable's array, read inline rather than called
            return f"{self._const(step.fn.var)}._data"
        attribute = _array_attribute(step)
        if attribute is not None:      # x.mT, likewise
            return f"{self._expr(step.args[0])}.{attribute}"
        plan = self.element_plan
        if plan is not None and step.args and type(step.args[0]) is Ref \
                and k < plan.indexed_until.get(step.args[0].i, -1):       # a[i] or a[i] = v
            key = step.args[1]
            element = element_name(step.args[0].i, key[0] if type(key) is tuple else key)
            return element if len(step.args) == 2 else f"{element} = {self._expr(step.args[2])}"
        if k in self.listed["reads"]:
            a, index = self.listed["reads"][k]
            return f"{list_name(a)}[{index}]"
        if k in self.float_reads:
            return f"{self._expr(step.args[0])}.item({item_arguments(step)})"
        if k not in self.buffers and self.slots is not None:
            written = syntax(step, self.slots, self._expr)      # a[k], x.reshape(s), a * b
            if written is not None:
                return written
        fn = self._const(step.fn)
        args = [self._expr(a) for a in step.args]
        args += [f"{key}={self._expr(v)}" for key, v in step.kwargs.items()]
        if k in self.buffers:
            args.append(f"out={self.buffers[k]}")
        return f"{fn}({', '.join(args)})"

    def _step_lines(self, k, step, name):
        """The lines of one step; ``name(i)`` is how slot ``i`` is written."""
        self._slot = name
        if k in self.listed["sliced"]:         # a slice only read by element: left out
            return []
        plan = self.element_plan
        if plan is not None and k in plan.makers:          # an array kept by element
            return [self._kept(k, step)] + [self._made_whole(a) for a in plan.after.get(k, ())]
        lines = [self._made_whole(a) for a in plan.before.get(k, ())] if plan else []
        call = self._call(k, step)
        outs = step.outs
        if type(outs) is tuple and outs and all(type(o) is Ref for o in outs):
            # a flat result of arrays, unpacked in one line; a kernel's tuple is never empty,
            # so only a kernel that declined (None) takes the ``or``
            names = "".join(f"{name(o.i)}, " for o in outs)
            if step.kind != "kernel":
                return lines + [f"{names[:-1]} = {call}"]
            return lines + [f"{names[:-1]} = {call} or _declined({k})",
                            *self._declined_gradients(k, [o.i for o in outs], name)]
        if step.kind == "read":
            return lines + [f"{name(outs.i)} = {call}", *self._relaid(step, name)]
        if step.kind == "kernel":
            if type(outs) is Ref:
                return lines + [f"{name(outs.i)} = {call}",
                                f"if {name(outs.i)} is None: _declined({k})",
                                *self._declined_gradients(k, [outs.i], name)]
            lines.append(f"_r = {call}")
            lines.append(f"if _r is None: _declined({k})")
            call = "_r"
        outs = _out_paths(outs, (), [])
        if not outs:
            lines.append(call)
        elif len(outs) == 1 and outs[0][1] == ():
            lines.append(f"{name(outs[0][0])} = {call}")
        else:
            if call != "_r":
                lines.append(f"_r = {call}")
            for slot, path in outs:
                index = "".join(f"[{p}]" for p in path)
                lines.append(f"{name(slot)} = _r{index}")
            if step.kind == "kernel":
                lines += self._declined_gradients(k, [slot for slot, _ in outs], name)
        return lines

    def _declined_gradients(self, k, made, name):
        """The line that stops the replay where kernel step ``k`` gave NotImplemented (an
        input's gradient left to the generic rule, ``declines.py``) for an array of ``made``
        (none where no array)."""
        arrays = [name(s) for s in made if self.slots[s].dtype is not None]
        if not arrays:
            return []
        test = " or ".join(f"{a} is NotImplemented" for a in arrays)
        return [f"if {test}: _declined({k})"]

    def _relaid(self, step, name):
        """The line that gives a Variable's array the C order it had when traced, where a
        write since made it another layout (``variable_layout.py``)."""
        info = self.slots[step.outs.i]
        if not (info.ndarray and info.c_order and info.shape):
            return []
        s = name(step.outs.i)
        return [f"if not {s}.flags.c_contiguous: {s} = _c_ordered({self._const(step.fn.var)})"]

    def _kept(self, k, step):
        """The line of step ``k``, which makes an array kept by element: its variables."""
        plan, kind = self.element_plan, self.element_plan.makers[k]
        out = step.outs.i
        if kind in ("fresh", "constant"):
            values = f"{self._const(step.fn)}.value.tolist()"
        elif kind == "stack":
            values = "".join(f"{self._expr(v)}, " for v in step.args[0])
        else:
            sources = step.args[0] if kind == "concat" else [step.args[0]]
            sign = "-" if kind == "negative" else ""
            values = "".join(f"{sign}{element_name(s.i, i)}, " for s in sources
                             for i in range(plan.sizes[s.i]))
        return f"{elements(out, plan.sizes[out])} = {values.rstrip()}"

    def _made_whole(self, a):
        """The line that makes kept array ``a`` an array from its variables."""
        import numpy as np

        return (f"{self._slot(a)} = {self._const(np.array)}(({elements(a, self.slots[a].shape[0])}"
                f"), dtype={self._const(self.slots[a].dtype)})")

    def _dead_after(self):
        """{step index: the slots to let go after it}: each slot after the last step that reads
        it (or, never read, after the one that makes it); the result's and the Variables' slots
        live to the end. Without this a replay would hold every value of the step until it
        returns, where the eager tape frees each residual after its last use."""
        live_to_end = set(_refs(self.result_refs, [])) | {slot for _, slot in self.writes}
        last = {}
        for k, step in enumerate(self.steps):
            if step.kind == "input":
                continue
            for s, _ in _out_paths(step.outs, (), []):
                last[s] = k
            for s in reads(step):
                last[s] = k
        dead = {}
        for s, k in last.items():
            if s not in live_to_end:
                dead.setdefault(k, []).append(s)
        return dead

    def _c_ordered_inputs(self):
        """The input slots the replay reads that were C-ordered arrays when traced: a replay
        given another layout of the same shape (a transpose's copy, a negative step) copies
        them to C order first, since kernels decline layouts they do not take (a declined
        kernel cannot run the generic rule in a replay) and reshapes that were views may copy."""
        read = {s for step in self.steps for s in reads(step)}
        return [i for i in self.inputs if i in read and self.slots[i].ndarray
                and self.slots[i].c_order and self.slots[i].shape]

    def _generate(self):
        name = _LocalNames().__getitem__
        lines = ["def replay(inputs):"]
        if self.inputs:
            lines.append(f"    {', '.join(name(i) for i in self.inputs)}, = inputs")
        for i in self._c_ordered_inputs():
            lines.append(f"    if not {name(i)}.flags.c_contiguous: {name(i)} = "
                         f"{name(i)}.copy(order='C')")
        for a in sorted({a for a, _ in self.listed["reads"].values()}):
            lines.append(f"    {list_name(a)} = {name(a)}.tolist()")
        # a value written into a planned buffer needs no ``del``: the buffer outlives it
        left_out = {self.steps[k].outs.i for k in self.listed["sliced"]} | {
            self.steps[k].outs.i for k in self.buffers}
        dead = self._dead_after()
        for k, step in enumerate(self.steps):
            if step.kind != "input":
                step_lines = self._step_lines(k, step, name)
                gone_names = sorted([name(s) for s in dead.get(k, ()) if s not in left_out and (
                    self.element_plan is None or s not in self.element_plan.sizes)])
                if any(line.startswith("_r = ") for line in step_lines):
                    gone_names.append("_r")
                if gone_names:
                    step_lines.append(f"del {', '.join(gone_names)}")
                lines += ["    " + line for line in step_lines]
        for var, slot in self.writes:
            lines.append(f"    {self._const(var)}._data = {name(slot)}")
        if self.element_plan is not None:       # the Python-floats source: raw replays only
            lines.append(f"    return {self._result_expr(self.result_template, '{}')}")
        else:
            lines.append(f"    return {self._result_expr(self.result_template)}")
        return "\n".join(lines) + "\n"

    def segments(self):
        """The program cut where Python must run between device work: ``[(kind, source,
        reads)]`` with kind "device" (capturable in a CUDA graph) or "host" (guards, optimizer
        updates, prints); each source is ``def segment(S)`` over the slot list ``S``; ``reads`` are the
        ``(Variable, slot)`` the segment reads."""
        name = "S[{}]".format
        out, current, reads, kind = [], [], [], None
        for k, step in enumerate(self.steps):
            if step.kind == "input":
                continue
            draw = getattr(step.fn, "draws_random", False)
            step_kind = "host" if step.kind in ("host", "guard") or draw else "device"
            if step_kind != kind and current:
                out.append((kind, current, reads))
                current, reads = [], []
            kind = step_kind
            if draw:     # drawn on the host: into the array a graph captured, once there is one
                i = step.outs.i
                current += [f"_r = {self._call(k, step)}",
                            f"if S[{i}] is None: S[{i}] = _r",
                            f"else: S[{i}][...] = _r"]
                continue
            current += self._step_lines(k, step, name)
            if step.kind == "read":
                reads.append((step.fn.var, step.outs.i))
        if current:
            out.append((kind, current, reads))
        self._slot = "s{}".format
        return [(kind, "def segment(S):\n" + "".join(f"    {line}\n" for line in lines), reads)
                for kind, lines, reads in out]

    def finish_source(self):
        """``def finish(S)``: the writes to Variables and the result, its arrays copied (a CUDA
        graph's outputs are overwritten by its next launch)."""
        self._slot = "S[{}]".format
        lines = [f"    {self._const(var)}._data = S[{slot}]" for var, slot in self.writes]
        result = self._result_expr(self.result_template, "_wrap({}.copy(), _be)")
        lines.append(f"    return {result}")
        self._slot = "s{}".format
        return "def finish(S):\n" + "\n".join(lines) + "\n"

    def _result_expr(self, obj, wrap="_wrap({}, _be)"):
        t = type(obj)
        if t is Ref:
            if obj.i in getattr(self, "clipped_slots", ()) and wrap.startswith("_wrap"):
                return f"_clipped({wrap.format(self._slot(obj.i))})"
            return wrap.format(self._slot(obj.i))
        if t is tuple:
            inner = ", ".join(self._result_expr(o, wrap) for o in obj)
            return f"({inner},)" if len(obj) == 1 else f"({inner})"
        if t is list:
            return "[" + ", ".join(self._result_expr(o, wrap) for o in obj) + "]"
        if t is dict:
            return "{" + ", ".join(f"{self._const(k)}: {self._result_expr(v, wrap)}"
                                   for k, v in obj.items()) + "}"
        if is_namedtuple(obj):
            inner = ", ".join(self._result_expr(o, wrap) for o in obj)
            return f"{self._const(t)}({inner})"
        if isinstance(obj, (dict, list, tuple)):   # OrderedDict, defaultdict, a list subclass
            children = obj.values() if isinstance(obj, dict) else obj
            inner = ", ".join(self._result_expr(o, wrap) for o in children)
            return f"{self._const(refilled)}({self._const(obj)}, [{inner}])"
        kind = user_kind(obj)
        if kind is not None:                       # a class of the user's (pytree_nodes.py)
            children, aux = kind.subtrees(obj)
            inner = ", ".join(self._result_expr(c, wrap) for c in children)
            return f"{self._const(functools.partial(kind.made, aux))}([{inner}])"
        module = value_module(obj, (Ref,))
        if module is not None:                     # a Module holding the result's tensors
            kind, children = module
            module_key(obj, children)              # kept: each model replayed gets it at once
            inner = ", ".join(self._result_expr(c, wrap) for _, c in children)
            rebuilt = functools.partial(kind.rebuilt, obj, children)
            return f"{self._const(rebuilt)}([{inner}])"
        return self._const(obj)


def _array_attribute(step):
    """The name of the array attribute a step reads (``operator.attrgetter("mT")`` of one
    array), or None."""
    import operator

    if type(step.fn) is not operator.attrgetter or len(step.args) != 1 or step.kwargs \
            or type(step.args[0]) is not Ref:
        return None
    names = step.fn.__reduce__()[1]
    return names[0] if len(names) == 1 and names[0].isidentifier() else None
