"""Primitive and apply(): the one place where a backend, a tape and a primitive meet (apply
hands each call to ``appliers.py``, which runs it and records it).

A primitive has a name, a ``forward(xp, *arrays, **params)`` and its vjp rules, written against
the array-API namespace ``xp``: the backend's raw namespace on a first-order pass, ``xpgrad``
itself when an outer tape records (so higher orders need no extra rules). The rules come in one
of two forms:

- one rule per positional argument, ``rule(xp, g, ans, *arrays, **params) -> gradient`` (None:
  that argument has no gradient; ``Each(rule)`` for a variadic primitive);
- one joint rule for all of them, ``joint(xp, g, ans, needs, *arrays, **params) -> tuple`` with
  one entry per argument, where ``needs[i]`` says whether argument ``i`` wants its gradient (the
  others may be None). A joint rule shares the work of several gradients (HIPS autograd's
  ``defvjp_argnums``), e.g. one backward recursion of a scan for all its inputs.

A primitive with no rule has no gradient and is never recorded (comparisons, optimizer updates).
Names are unique: backends register their faster kernels under them (``xpgrad.backend``).

``saves`` declares the residuals, what the rules read besides ``g``: input positions and/or
``"output"`` (None, the default: every input and the output). A tape keeps only those, so an
input that nothing else holds is freed after the forward pass. An array input not saved
reaches the rules as a stand-in with its shape and dtype (``tape.Shaped``), an output not saved
as None. ``add`` saves nothing, ``multiply`` its
two inputs, ``exp`` its output, ``sum`` nothing (its rule reads only ``x.shape``).

``scalar_arrays=True`` says forward and rules compute the same when a Python scalar operand
beside a Tensor arrives as a 0-d array of the Tensor's dtype; a backend that keeps such arrays
(``Backend.scalar_arrays``: NumPy's, where a Python scalar costs ~0.3 us per operation) then
passes them (``add``, ``subtract``, ``multiply``, ``divide``).

``elementwise=True`` says the output has the inputs' broadcast shape and each rule, given ``g``
of the output's shape and dtype and an input of that shape and dtype, returns its gradient in
that shape and dtype (the namespace's elementwise functions, ``ops/_define.py``'s ``unary`` and
``binary``). The backward walk then adds the gradient of a Tensor that had the output's dtype,
alone or beside a Python scalar, without the check for a broadcast or cast to undo
(``gradient_fit.fit_gradient``: ~0.1 us a node).

``default_keywords`` (a dict) names keyword values that every rule and kernel ``vjp`` of the
primitive takes as its defaults (``sum``'s and ``mean``'s ``axis=None, keepdims=False``): a
tape records a call with exactly these keywords without them, so the node of ``xg.sum(h)``
takes the backward walk's lean path (``backward.py``) as a call without keywords would.

>>> import xpgrad as xg
>>> cube = Primitive("doc_cube", lambda xp, x: x * x * x,
...                  lambda xp, g, ans, x: 3 * g * x * x)
>>> x = xg.asarray(2.0)
>>> with xg.GradientTape() as tape:
...     tape.watch(x)
...     y = apply(cube, x)
>>> float(tape.gradient(y, x))
12.0
"""
from __future__ import annotations

from .appliers import _mixed, apply_general, binary_applier, tape_state, unary_applier  # noqa: F401
from .tensor import Tensor, _wrap

#: every primitive by name: the one table that kernels are registered against
PRIMITIVES: dict = {}
#: ``Primitive.lean`` (and a tape node's lean flag) of an elementwise primitive (module docstring);
#: ``GradientTape._record`` keeps it for a node of one Tensor, maybe with a Python scalar after
#: it, of the output's dtype, and makes it True for any other
LEAN_ELEMENTWISE = 3
#: every primitive by ``index``: tape nodes name their primitive by this int (an int keeps a
#: node free of GC-tracked objects, so Python's cyclic GC stops visiting it)
BY_INDEX: list = []


class Each:
    """Per-argument vjp rules for a variadic primitive: ``rule(i, xp, g, ans, *args, **p)``."""

    __slots__ = ("rule",)

    def __init__(self, rule):
        self.rule = rule

    def __getitem__(self, i):
        rule = self.rule
        return lambda *a, **k: rule(i, *a, **k)

    def __bool__(self):
        return True


class Primitive:
    """An operation of the table: its name, its forward and its vjp rules (module docstring)."""

    __slots__ = ("name", "forward", "vjps", "joint", "differentiable", "saves", "keep_inputs",
                 "keep_output", "keep_upto", "index", "lean", "scalar_arrays", "residuals",
                 "unary", "binary", "elementwise", "default_keywords")

    def __init__(self, name: str, forward, *vjps, joint=None, saves=None, scalar_arrays=False,
                 elementwise=False, default_keywords=None):
        if not isinstance(name, str) or not name:
            raise TypeError(f"a primitive's name must be a non-empty string, got {name!r}")
        if joint is not None and vjps:
            raise TypeError(f"primitive {name!r}: give per-argument vjp rules or one joint "
                            "rule, not both")
        if name in PRIMITIVES:
            raise ValueError(f"a primitive named {name!r} exists already "
                             f"({PRIMITIVES[name]!r}); primitive names are unique because "
                             "backends register kernels under them")
        self.name = name
        self.forward = forward
        self.vjps = vjps[0] if len(vjps) == 1 and isinstance(vjps[0], Each) else vjps
        self.joint = joint
        self.differentiable = bool(self.vjps) or joint is not None
        # per-argument rules, called one at a time: the backward walk's lean path may run them
        self.lean = joint is None and self.vjps.__class__ is tuple and bool(self.vjps)
        self.elementwise = bool(elementwise)
        if self.lean and self.elementwise:
            self.lean = LEAN_ELEMENTWISE
        self.saves = saves
        # a tape records a call with exactly these keywords as one without (module docstring)
        self.default_keywords = default_keywords
        # a Python scalar operand may reach forward and rules as a 0-d array of the other
        # operand's dtype (Backend.scalar_arrays): they compute the same either way
        self.scalar_arrays = bool(scalar_arrays)
        self.keep_inputs, self.keep_output = residual_mask(saves, f"primitive {name!r}")
        self.keep_upto = keep_upto(self.keep_inputs)
        # what GradientTape._record reads, in one load
        self.residuals = (self.keep_inputs, self.keep_output, self.keep_upto, self.lean)
        # apply(self, x) and apply(self, x, y) without keywords (appliers.py)
        self.unary = unary_applier(self)
        self.binary = binary_applier(self)
        self.index = len(BY_INDEX)
        PRIMITIVES[name] = self
        BY_INDEX.append(self)

    def vjp(self, xp, g, ans, needs, inputs, params) -> list:
        """The generic rules' gradients, one entry per input: None where ``needs[i]`` is
        false or the input has no gradient."""
        if self.joint is not None:
            gs = self.joint(xp, g, ans, tuple(needs), *inputs, **params)
            return [gi if need else None for gi, need in zip(gs, needs)]
        vjps = self.vjps
        return [vjps[i](xp, g, ans, *inputs, **params) if need and vjps[i] is not None
                else None for i, need in enumerate(needs)]

    def __repr__(self):
        return f"<primitive {self.name}>"


def residual_mask(saves, owner):
    """``(keep_inputs, keep_output)`` for a ``saves`` declaration: None (keep every input), or
    a tuple of booleans by input position; and whether the output is kept.

    >>> residual_mask((1, "output"), "doc")
    ((False, True), True)
    >>> residual_mask(None, "doc")
    (None, True)
    """
    if saves is None:
        return None, True
    if isinstance(saves, (str, int)):
        saves = (saves,)
    try:
        items = tuple(saves)
    except TypeError:
        raise TypeError(f"{owner}: saves must be None or a tuple of input positions and/or "
                        f"'output', got {saves!r}") from None
    positions = []
    output = False
    for item in items:
        if item == "output" and isinstance(item, str):
            output = True
        elif isinstance(item, int) and not isinstance(item, bool) and item >= 0:
            positions.append(item)
        else:
            raise ValueError(f"{owner}: saves holds {item!r}; expected input positions "
                             "(ints >= 0) and/or 'output'")
    n = max(positions) + 1 if positions else 0
    return tuple(i in positions for i in range(n)), output


def keep_upto(keep_inputs) -> int:
    """How many leading inputs a mask keeps with none dropped before them: a call with at most
    that many inputs keeps them all (the tape then skips its per-input pass).

    >>> keep_upto((True, True)), keep_upto((True, False)), keep_upto(None)
    (2, -1, -1)
    """
    if keep_inputs is None or not all(keep_inputs):
        return -1
    return len(keep_inputs)


def run(prim: Primitive, be, *raws, **params):
    """``prim`` on raw arrays of backend ``be``, untaped: the backend's kernel when it has one
    that accepts the inputs, else the generic forward. Returns the raw output.

    >>> import numpy as np, xpgrad as xg
    >>> run(PRIMITIVES["multiply"], xg.get_backend("numpy"), np.ones(2), np.ones(2)).tolist()
    [1.0, 1.0]
    """
    kern = be.kernels.get(prim.name) if be.kernels else None
    if kern is not None:
        res = kern.forward(*raws, **params)
        if res is not None:
            return res[0]
    return prim.forward(be.xp, *raws, **params)


def apply(prim: Primitive, *args, **params) -> Tensor:
    """Run ``prim`` on ``args`` (Tensors, Python scalars or array-likes) and record it
    (``appliers.py``: the primitive's own appliers take the calls of one or two operands
    without keywords)."""
    if not params:
        n = len(args)
        if n == 1:
            return prim.unary(args[0])
        if n == 2:
            return prim.binary(args[0], args[1])
    return apply_general(prim, args, params)


# -- moving a tensor between backends (recorded, so gradients flow back across the move) -----
def _move(raw, source, target):
    return target.from_numpy(source.to_numpy(raw))


def _moved(x, target):
    """``x``'s array on backend ``target``. An ``xg.function`` trace replaces this and
    ``_move`` while it runs, to record the move (``jit/transfers.py``)."""
    return _move(x._data, x._backend, target)


def _transfer_vjp(xp, g, ans, x, source, target):
    if isinstance(g, Tensor):
        return transfer(g, source)
    return _move(g, target, source)


_transfer = Primitive("transfer", None, _transfer_vjp)


def transfer(x: Tensor, target) -> Tensor:
    """``x``'s value on backend ``target`` (what ``Tensor.to`` does), recorded on the tapes so
    the gradient comes back to ``x``'s backend. Not an ``apply``: its output lives on another
    backend than its input."""
    out = _wrap(_moved(x, target), target)
    recording = tape_state.recording
    if recording:
        params = {"source": x._backend, "target": target}
        for tape in recording:
            tape._record(_transfer, (x,), (x._data,), out, params, None, None,
                         len(recording) > 1)
    return out
