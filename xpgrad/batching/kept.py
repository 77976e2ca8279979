"""What a ``vmap`` call under recording tapes keeps for its first-order gradient
(``through_tapes``): a tape of its batched operations (``KeptTape``), which watches the
argument leaves the tapes outside differentiate and, as the function first reads them, the
other tensors they differentiate (closures, trainable Variables); the level and the inner
outputs; and the walk back through that tape in the level entered again (``KeptCall.walk``),
whose per-example gradients of what every example read are summed over the examples.

>>> import xpgrad as xg
>>> xs = xg.asarray([[1.0, 2.0], [3.0, 4.0]])
>>> with xg.GradientTape() as tape:
...     tape.watch(xs)
...     total = xg.sum(xg.vmap(lambda row: xg.sum(row ** 2))(xs))
>>> tape.gradient(total, xs).tolist()
[[2.0, 4.0], [6.0, 8.0]]
"""
from __future__ import annotations

from ..outer_tapes import OuterTapes, is_float_tensor, value_identity, walk_back
from ..tape import GradientTape
from ..tensor import Tensor
from .axes import spec_leaves
from .batched import BatchedArray
from .outer_products import sum_examples
from .session import batching


class KeptTape(GradientTape):
    """The tape a call keeps: its batched operations, each tensor the tapes ``outside``
    differentiate watched as the function first reads it (then noted in ``found``, in that
    order, as ``recompute_grad``'s ``_Reads`` notes them). ``OuterTapes`` and
    ``inplace.on_tape`` ask ``outside`` too: for a vmap nested inside, or a write or NumPy
    read of such a tensor, this tape stands for those outside.

    >>> import xpgrad as xg
    >>> x = xg.asarray([1.0, 2.0])
    >>> with xg.GradientTape() as outer:
    ...     outer.watch(x)
    >>> kept = KeptTape(OuterTapes([outer]))
    >>> with kept:
    ...     y = x * 3.0
    >>> list(kept.found.values()) == [x], kept.gradient(y, x).tolist()
    (True, [3.0, 3.0])
    """

    def __init__(self, outside):
        super().__init__(persistent=True, watch_accessed_variables=outside.auto)
        self.outside = outside
        self.found = {}                 # identity -> Tensor

    def _adopt_read(self, t):
        """Watch and note the Tensor ``t`` if the tapes outside differentiate it and this tape
        does not know it yet."""
        k = t._key
        if k and k not in self._keys and k in self.outside:
            self.watch(t)
            self.found.setdefault(value_identity(t), t)

    def _record(self, prim, args, raws, out, params, saved, kern, nested):
        for a in args:
            if isinstance(a, Tensor):
                self._adopt_read(a)
        _TAPE_RECORD(self, prim, args, raws, out, params, saved, kern, nested)

    def _record_one(self, prim, x, raws, out, saved, kern, scalar=None, params=None):
        if x._key not in self._keys and x._key:
            self._adopt_read(x)
        _TAPE_RECORD_ONE(self, prim, x, raws, out, saved, kern, scalar, params)

    def _record_two(self, prim, a, b, raws, out, saved, kern):
        keys = self._keys
        if (a._key not in keys and a._key) or (b._key not in keys and b._key):
            self._adopt_read(a)
            self._adopt_read(b)
        _TAPE_RECORD_TWO(self, prim, a, b, raws, out, saved, kern)

    def _record_outputs(self, prim, x, raw, outs, params, nested):
        if x._key not in self._keys and x._key:
            self._adopt_read(x)
        _TAPE_RECORD_OUTPUTS(self, prim, x, raw, outs, params, nested)

    def _access(self, variable):
        key = super()._access(variable)         # (trainable Variables, when one outside would)
        if key:
            self.found.setdefault(value_identity(variable), variable)
        return key


#: (called plainly: ``super()`` costs a lookup per recorded operation)
_TAPE_RECORD = GradientTape._record
_TAPE_RECORD_ONE = GradientTape._record_one
_TAPE_RECORD_TWO = GradientTape._record_two
_TAPE_RECORD_OUTPUTS = GradientTape._record_outputs
_NOBODY = OuterTapes(())


class KeptCall:
    """What the first run keeps for a first-order gradient: its level and batch size, a tape of
    its batched operations that watches what the tapes outside differentiate (the argument
    leaves, and what the function reads as it first reads it), and its outputs before they
    left the level. ``around`` runs the call (``api``'s ``run`` hands it over), ``finish``
    names the node's operands, ``walk`` is the first-order gradient.

    >>> call = KeptCall(OuterTapes([]))
    >>> call.size, call.sources, call.operands
    (0, [], [])
    """

    level = tape = inner_out = backend = None
    size = 0
    unmapped = ()                       # identities of the unmapped leaves watched
    outputs = ()                        # (inner output or None, whether it is a Tensor)

    def __init__(self, outside):
        self.outside = outside
        self.operands = []              # the node's inputs
        # (argument leaf number or None for a closure, its batch axis or None, operand number)
        self.sources = []
        self.watched = []               # per ``sources`` entry: the tensor watched

    def around(self, level, mapped, entered, call):
        leaves, _, self.size, self.backend = mapped
        self.level = level
        outside = self.outside
        auto = outside.auto
        tape = self.tape = KeptTape(outside)
        tape._home = self.backend       # (its nodes' backend: each takes the short record path)
        with tape:
            for k, ((axis, leaf), inside) in enumerate(zip(leaves, entered)):
                if leaf.__class__ is Tensor:        # (most leaves: no key, or not outside's)
                    if not leaf._key or leaf._key not in outside:
                        continue
                elif not isinstance(leaf, Tensor) or not (
                        (leaf._key and leaf._key in outside) or (auto and leaf._trainable)):
                    continue
                if not is_float_tensor(leaf):
                    continue
                if axis is None:            # (one tensor given twice unmapped: once)
                    if value_identity(leaf) in self.unmapped:
                        continue
                    self.unmapped = {*self.unmapped, value_identity(leaf)}
                tape.watch(inside)
                self.sources.append((k, axis, self._operand(leaf)))
                self.watched.append(inside)
            out = self.inner_out = call()
        return out

    def _operand(self, t):
        """``t``'s number among the node's inputs (added when new)."""
        operands = self.operands
        key = value_identity(t)
        for i, o in enumerate(operands):
            if value_identity(o) == key:
                return i
        operands.append(t)
        return len(operands) - 1

    def finish(self, spec, outputs, alone):
        """The node's operands: the argument leaves the tapes outside differentiate, then
        what the function read that they do, each once (a mapped leaf read whole is read too;
        an unmapped one read is its argument's source). Notes the inner outputs at the places
        of ``outputs`` (the call's float ones; ``alone``: the call's output is one Tensor)."""
        found = self.tape.found
        if found:
            unmapped = self.unmapped
            for t in found.values():
                if value_identity(t) not in unmapped:
                    self.sources.append((None, None, self._operand(t)))
                    self.watched.append(t)
        inner = self.inner_out
        if alone:
            self.outputs = [(inner, isinstance(inner, Tensor))] if outputs else []
        else:
            inner = spec_leaves(spec.out_axes, inner, "out_axes", "outputs")
            self.outputs = [(inner[k][2], isinstance(inner[k][2], Tensor))
                            for k, _, _ in outputs]
        # (``outside`` holds the tapes outside: a cycle through the node otherwise)
        self.inner_out = self.outside = self.unmapped = None
        self.tape.outside = _NOBODY
        return self.operands

    def walk(self, seeds, needs, axes, n_operands, spec):
        """First order: the walk back through the kept tape, in the call's level entered
        again, from its outputs weighted by ``seeds`` (raw; ``axes``: ``(output number, batch
        axis or None)`` of each); the ``n_operands`` node inputs' gradients, raw (None where
        not ``needs``). ``spec``: the vmap's (its ``randomness`` and ``fallbacks``)."""
        level, size = self.level, self.size
        totals = [None] * n_operands
        wanted = [(s, t) for s, t in zip(self.sources, self.watched) if needs[s[2]]]
        with batching(self.backend, size, spec.randomness, spec.fallbacks, level=level):
            inner = level.inner
            targets, batched = [], []
            for (t, ok), seed, (_, axis) in zip(self.outputs, seeds, axes):
                if not ok:
                    continue
                if axis is None:            # an output every example shares: counted once
                    rest = inner.zeros((size - 1,) + tuple(seed.shape), dtype=seed.dtype)
                    seed = inner.concat([inner.expand_dims(seed, axis=0), rest], axis=0)
                elif axis:
                    seed = inner.moveaxis(seed, axis, 0)
                targets.append(t)
                batched.append(BatchedArray(seed, level))
            if not targets or not wanted:
                return totals
            found = walk_back(self.tape, targets, batched, [t for _, t in wanted], False,
                              consume=False)
        for (_, axis, i), t in wanted:
            grad = found.get(t._key)
            if grad is not None:
                grad = _out_of_level(grad, axis, level)
                totals[i] = grad if totals[i] is None else totals[i] + grad
        return totals


def _out_of_level(grad, axis, level):
    """A gradient from the kept tape's walk, out of ``level`` (raw): a mapped operand's with
    its batch axis at ``axis``; for ``axis`` None, the sum over the examples (what every
    example read)."""
    inner = level.inner
    batched = grad.__class__ is BatchedArray and grad._level is level
    if axis is None:
        if not batched:                     # every example's the same
            return grad * level.size
        return grad.example() * level.size if grad._shared else sum_examples(level, grad)
    if batched:
        data = grad._data                   # (a shared one's batched view, made here)
    else:                                   # every example's the same
        data = inner.broadcast_to(inner.expand_dims(grad, axis=0),
                                  (level.size,) + tuple(grad.shape))
    return inner.moveaxis(data, 0, axis) if axis else data
