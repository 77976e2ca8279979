"""The Tracer: runs a function eagerly once while recording every raw backend call it makes.

Three things are instrumented for the length of a trace, and restored after it:

- every Variable's raw array (on the traced backend) becomes a ``Traced`` stand-in, and so does
  each tensor argument (``trace_inputs.py``); operations on stand-ins are recorded
  (``traced.py``);
- the backend's ``xp`` namespace becomes a recording proxy, so calls such as ``xp.zeros(...)``
  that take no traced array are recorded too (a zeros buffer is made again on every replay;
  ``xp_proxy.py``);
- the backend's kernels become opaque steps: a kernel runs again, whole, on replay;
- ``Optimizer.apply_gradients`` becomes one host step: on replay it runs again with the
  replayed gradients, so learning-rate schedules, step counters and optimizer state stay right.

A step is ``Step(fn, args, kwargs, outs, kind)``: ``args``/``kwargs`` hold ``Ref(slot)`` where a
traced array went, ``outs`` the structure of the result with a ``Ref`` per array.

>>> import numpy as np, xpgrad as xg
>>> tracer = Tracer(xg.get_backend("numpy"))
>>> x = tracer.input(np.ones(2))
>>> y = tracer.xp.exp(x)
>>> tracer.steps[-1].fn is np.exp, tracer.steps[-1].args
(True, (Ref(0),))
"""
from __future__ import annotations

import functools
import threading
import weakref

from .errors import TraceError, tensor_read, user_line
from .dynamic_shapes import guard_shape_read, shape_origin
from .traced import Traced, check_not_leaked, leaked
from .program_steps import Ref, SlotInfo, Step
from .variable_layout import c_ordered, needs_c_order
from .trace_inputs import live_variables, traced_args  # noqa: F401  (imported from here before)
from .xp_proxy import _XpProxy


def _owner(a):
    """The object owning ``a``'s memory (views share their base's)."""
    base = getattr(a, "base", None)
    while base is not None and hasattr(base, "shape"):
        a, base = base, getattr(base, "base", None)
    return a


class VariableRead:
    """Replay: a Variable's current raw array (captured by reference, so updates persist)."""

    __slots__ = ("var",)

    def __init__(self, var):
        self.var = var

    def __call__(self):
        return self.var._data


#: functions of traced arrays whose Python answer depends on shapes and dtypes only
_STATIC_ANSWERS = frozenset(("iscomplexobj", "isrealobj", "isscalar", "ndim", "shape", "size",
                             "result_type", "isdtype", "can_cast", "may_share_memory",
                             "shares_memory", "isfortran"))


_PLAIN = (int, float, complex, bool, str, bytes)
_SCALARS = frozenset((int, float, bool, type(None)))


class Tracer:
    """Records the raw calls on one backend ``be`` (module docstring)."""

    def __init__(self, be):
        self.be = be
        self.steps: list = []
        self.slots: list = []
        self.active = True
        self.paused = False       # a host step runs eagerly, unrecorded
        self.attribute_guards = []   # (object, attribute, value) the program depends on
        self.attribute_writes = set()     # (id(object), attribute) the function set itself
        self.structures_guarded = set()   # ids of the modules whose structure is a guard
        self.function = None      # the traced function's name (errors name it)
        self.session = None       # capture's _Session while it traces (a bare Tracer: none)
        self.thread = threading.get_ident()     # the tracing thread (others' calls: not recorded)
        self._opaque, self._opaque_objects = {}, {}     # kernels' own objects, by slot
        self._shape_guarded = set()      # dynamic slots whose shape a ShapeGuard checks
        # a slot's root names the array owning its memory: a number given while that array
        # lives (a weak reference forgets it when the array is freed, so a later array reusing
        # its id() gets a new number); owners that take no weak reference stay alive instead,
        # until the trace ends. The tape frees what its backward pass no longer needs, as
        # eagerly: the tracing call peaks near the eager step's memory
        self.alive: list = []
        self._roots: dict = {}
        self._root_count = 0
        # roots joined into one (a kernel's output with its first input, an object a kernel
        # returns with the arrays it holds): a union-find forest; ``finish`` renames each
        # slot's root to its tree's, so that every pass sees one root per memory class
        self._joined: dict = {}
        self._variable_classes: set = set()      # roots of classes holding a Variable's array
        self.at_finish: list = []    # callables ``finish`` runs (solver steps let go of it)
        self.xp = _XpProxy(be.xp, self)
        probe = be.xp.zeros(1)
        self.array_types = (type(probe),)
        self._ndarray = type(probe)
        ufunc_module = None
        try:
            import numpy as np

            if isinstance(probe, np.ndarray):
                self.array_types = (np.ndarray, np.generic)
                ufunc_module = np
        except ImportError:    # pragma: no cover - NumPy is a core dependency
            pass
        self._ufuncs = ufunc_module

    def finish(self):
        """End the trace: later calls into this tracer raise (a leaked tensor); the namespace
        proxy, which refers back to the tracer, is dropped, and so are the roots' weak
        references, whose callbacks refer back to their table (no reference cycle is left)."""
        self.active = False
        self.xp = None
        for fn in self.at_finish:
            fn()
        self.at_finish.clear()
        self._roots.clear()
        self.alive.clear()
        if self._joined:
            for info in self.slots:
                info.root = self._find(info.root)
            self._joined.clear()
        self._variable_classes.clear()

    # -- slots -----------------------------------------------------------------------------------
    def ufunc(self, name):
        """NumPy's ufunc ``name`` on a NumPy-array backend (so a replay can pass ``out=``);
        ``matmul`` is the host backends' (MKL's where installed: ``backends.blas``)."""
        if self._ufuncs is None:
            return None
        if name == "matmul":
            from ..backends import blas

            return blas.matmul
        return getattr(self._ufuncs, name)

    def root(self, a) -> int:
        """The number naming the array that owns ``a``'s memory, the same for all its views."""
        owner = _owner(a) if getattr(a, "base", None) is not None else a
        key = id(owner)
        known = self._roots.get(key)
        if known is not None:
            return known[0]
        number = self._root_count
        self._root_count += 1
        try:
            ref = weakref.ref(owner, functools.partial(_forget, self._roots, key))
        except TypeError:            # NumPy scalars, some array types: kept alive instead
            self.alive.append(owner)
            ref = None
        self._roots[key] = (number, ref)
        return number

    def _find(self, root) -> int:
        """The root that ``root`` was joined into (itself where it was not)."""
        joined = self._joined
        while root in joined:
            root = joined[root]
        return root

    def _join(self, root, into) -> int:
        """Make ``root``'s memory class part of ``into``'s; returns the class's root. Two
        classes each holding a Variable's array stay apart (``root`` is returned): the passes
        map each Variable's root to that Variable, and its memory is never a reused buffer."""
        root, into = self._find(root), self._find(into)
        if root == into:
            return into
        if root in self._variable_classes:
            if into in self._variable_classes:
                return root
            self._variable_classes.add(into)
        self._joined[root] = into
        return into

    def _new_slot(self, real, step, root=None, dynamic=None) -> Traced:
        i = len(self.slots)
        if root is None:
            root = self.root(real)
        if type(real) is self._ndarray:      # most slots: what the eager op computed, as is
            info = SlotInfo(real.shape, real.dtype, step, root, True, dynamic,
                            real.flags.c_contiguous)
        else:
            flags = getattr(real, "flags", None)
            info = SlotInfo(tuple(getattr(real, "shape", ())), getattr(real, "dtype", None),
                            step, root, hasattr(real, "__setitem__"), dynamic,
                            getattr(flags, "c_contiguous", False))
        self.slots.append(info)
        return Traced(real, i, self)

    def read_shape(self, traced):
        """Python reads ``traced``'s shape (``dynamic_shapes.guard_shape_read``)."""
        if self.slots[traced._slot].dynamic is not None:
            guard_shape_read(self, traced._slot)

    def input(self, real) -> Traced:
        """A tensor argument's raw array."""
        step = len(self.steps)
        self.steps.append(Step(None, (), {}, None, "input"))
        t = self._new_slot(real, step)
        self.steps[-1].outs = Ref(t._slot)
        return t

    def read_variable(self, var) -> Traced:
        if needs_c_order(var._data):
            c_ordered(var)            # what every replay gives it (variable_layout.py)
        step = len(self.steps)
        self.steps.append(Step(VariableRead(var), (), {}, None, "read"))
        t = self._new_slot(var._data, step)
        self._variable_classes.add(self._find(self.slots[t._slot].root))
        self.steps[-1].outs = Ref(t._slot)
        return t

    def refuse(self, what):
        if not self.active:
            raise leaked(self)
        what = tensor_read() or what
        raise TraceError(
            f"{what} inside an xg.function reads a tensor's value in Python, which a replay "
            f"cannot repeat. Keep the computation in xpgrad ops (xg.where instead of if, "
            f"xg.cond(pred, true_fun, false_fun) and xg.while_loop(cond_fun, body_fun, "
            f"init_val) for what TensorFlow's AutoGraph makes tf.cond and tf.while_loop, "
            f"return the tensor instead of .item()), or call the function without xg.function",
            user_line())

    # -- recording ---------------------------------------------------------------------------
    def _unwrap(self, obj, found):
        t = type(obj)
        if t is Traced:
            if obj._tracer is not self:
                check_not_leaked(obj)
                raise TraceError("a tensor from another xg.function trace was used here",
                                 user_line())
            found.append(obj)
            return obj._real, Ref(obj._slot)
        if t is tuple or t is list:
            reals, refs = [], []
            for o in obj:
                to = type(o)
                if to in _SCALARS:          # most arguments: a traced array or a number
                    real = ref = o
                elif to is Traced and o._tracer is self:
                    found.append(o)
                    real, ref = o._real, Ref(o._slot)
                else:
                    real, ref = self._unwrap(o, found)
                reals.append(real)
                refs.append(ref)
            return t(reals), t(refs)
        if t is dict:
            if not obj:
                return {}, {}
            reals, refs = {}, {}
            for k, v in obj.items():
                reals[k], refs[k] = self._unwrap(v, found)
            return reals, refs
        if t is slice and any(type(v) is Traced for v in (obj.start, obj.stop, obj.step)):
            self.refuse("a slice bound given by a tensor")
        slot = self._opaque.get(id(obj))
        if slot is not None and self._opaque_objects[slot] is obj:
            return obj, Ref(slot)
        return obj, obj

    def _wrap(self, result, step, roots, kind="call", dynamic=None):
        t = type(result)
        if t is self._ndarray and not roots:       # most results: a new array of a call
            traced = self._new_slot(result, step, None, dynamic)
            return traced, Ref(traced._slot)
        if isinstance(result, self.array_types):
            root = self.root(result)
            if roots and self._find(root) not in roots:
                # a kernel's output may alias its first input on replay (a vjp written into
                # its output gradient, ``jit/in_place.py``): one memory class, views included
                root = self._join(root, roots[0])
            traced = self._new_slot(result, step, root, dynamic)
            return traced, Ref(traced._slot)
        if t is tuple or t is list or (isinstance(result, tuple) and hasattr(result, "_fields")):
            pairs = [self._wrap(o, step, roots, kind, dynamic) for o in result]
            wrapped = [p[0] for p in pairs]
            wrapped = t(*wrapped) if hasattr(result, "_fields") else t(wrapped)
            return wrapped, tuple(p[1] for p in pairs)
        if kind == "kernel" and result is not None and result is not NotImplemented \
                and not isinstance(result, _PLAIN):
            # a kernel's own object (e.g. saved buffers): a value of the program, made anew by
            # the kernel on every replay, never a constant
            i = len(self.slots)
            root = -1 - i
            for held in _held_arrays(result, self.array_types):
                root = self._join(root, self.root(held))    # its arrays live as long as it
            self.slots.append(SlotInfo((), None, step, root, False))
            self._opaque[id(result)] = i
            self._opaque_objects[i] = result
            return result, Ref(i)
        return result, result

    def call_unrecorded(self, fn):
        """Run ``fn()`` with the recording paused (what it does inside is not recorded) and
        record it as one step with no arguments: a replay runs ``fn()`` again."""
        if not self.active:
            raise leaked(self)
        self.paused = True
        try:
            result = fn()
        finally:
            self.paused = False
        wrapped, outs = self._wrap(result, len(self.steps), None)
        self.steps.append(Step(fn, (), {}, outs, "call"))
        return wrapped

    def call(self, fn, args, kwargs, kind="call"):
        """Run ``fn`` on the real arrays behind ``args``/``kwargs``; record it; wrap the result.
        While paused, or while ``fn`` runs (what it calls is part of its step), calls run
        unrecorded on real arrays."""
        if not self.active:
            raise leaked(self)
        found = []
        rargs, aargs = self._unwrap(args, found)
        if threading.get_ident() != self.thread:
            # another thread's eager work during the trace (the backend's namespace and
            # kernels, and the Variables' arrays, are the trace's for its length): run as is
            return fn(*rargs, **(self._unwrap(kwargs, found)[0] if kwargs else kwargs))
        if kwargs:
            rkw, akw = self._unwrap(kwargs, found)
        else:
            rkw, akw = kwargs, {}
        if self.paused:
            if found:
                raise TraceError(HIDDEN_VALUE, user_line())
            return fn(*args, **kwargs)
        self.paused = True
        try:
            result = fn(*rargs, **rkw)
        finally:
            self.paused = False
        if kind == "kernel" and result is None:
            return None         # the kernel declined: the generic rule that runs is recorded
        step = len(self.steps)
        roots = [self._find(self.slots[t._slot].root) for t in found] \
            if kind == "kernel" else None
        dynamic = shape_origin(self.slots, fn, args, kwargs, found) if found else None
        wrapped, outs = self._wrap(result, step, roots, kind, dynamic)
        if not found and outs is result and result is not None and kind == "call":
            return result           # a static answer (a dtype, a Python number): not recorded
        if found:
            name = getattr(fn, "__name__", "")
            if type(result) in (bool, float, complex) and kind == "call" \
                    and name not in _STATIC_ANSWERS:
                self.refuse(f"{name or fn}() answering a Python {type(result).__name__}")
            if name == "shape" or name == "size":       # np.shape(x)
                for t in found:
                    self.read_shape(t)
        self.steps.append(Step(fn, aargs, akw, outs, kind))
        return wrapped


def _held_arrays(obj, array_types, depth=2):
    """The arrays an object a kernel returned holds in its attributes, items or elements
    (``depth`` levels down): the program must keep their memory for as long as the object."""
    if isinstance(obj, array_types):
        return [obj]
    if depth == 0 or isinstance(obj, _PLAIN) or obj is None:
        return []
    if isinstance(obj, dict):
        children = list(obj.values())
    elif isinstance(obj, (tuple, list)):
        children = list(obj)
    else:
        children = list(getattr(obj, "__dict__", {}).values())
        children += [getattr(obj, name, None) for name in getattr(type(obj), "__slots__", ())
                     if isinstance(name, str)]
    return [a for child in children for a in _held_arrays(child, array_types, depth - 1)]


def _forget(roots, key, ref):
    """A root's owner was freed: its id() may be reused by another array from now on."""
    known = roots.get(key)
    if known is not None and known[1] is ref:
        del roots[key]


HIDDEN_VALUE = (
    "a tensor computed inside the traced function reached a step that a replay runs again as "
    "one piece of Python -- an optimizer update (a learning-rate schedule or a hook reading "
    "it), a random draw or a kernel -- other than through its arguments: on replay that step "
    "would not see this call's value. Pass it as an argument (a gradient) or compute it "
    "outside the function")
