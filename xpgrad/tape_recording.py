"""How a GradientTape records: the methods that append a node for each operation on a watched
tensor (``_record`` and the appliers' fast forms ``_record_one`` and ``_record_two``), a mixin of
``GradientTape``.

The lean path: a tape knows tensors by their key (``Tensor._key``: 0 until a tape watches or
records the tensor, then unique in the process, ``next_key``), never by holding them. A node is
one flat tuple of the primitive, the keys of its inputs and output, and the residuals its rule
declares (``Primitive.saves``: the raw inputs and/or output the vjp reads): ``NODE_HEAD`` fields
(primitive, kernel, lean, output key, the number of inputs ``n``, output, saved, backend,
keywords, stand-ins, Variables), then the ``n`` input keys, then the ``n`` raw inputs
(``node_keys`` and ``node_inputs`` slice them out), so

- a value no later rule reads is freed as soon as the user drops it (an MLP's pre-activation,
  once ReLU has run), and a non-persistent tape frees each residual when the backward walk has
  popped the last node that holds it;
- nodes make no reference cycles and hold no GC-tracked objects (the primitive and kernel by
  index, the backend only where it is not the tape's first, keys as ints, residuals as raw
  arrays), so Python's cyclic GC untracks each node at its first young collection: a long
  tape does not make the collector's full walks longer or more frequent. The keys and inputs
  are inline, not tuples of their own: the collector orders a young tuple held only by a young
  node after that node, so the node met its keys' tuple still tracked, outlived the collection
  and reached the older generations (about one node in ten the oldest), whose growth set off
  full collections of the whole heap (a 10,000-op chain: 1.1 us an op more than a 1,000-op one
  with PyTorch and JAX imported).

Tracing primitive calls for replay belongs in ``primitive.apply`` around the kernel/forward call,
or in ``_record`` for the taped ones (issue 18).

>>> import xpgrad as xg
>>> x = xg.asarray([1.0, 2.0])
>>> with xg.GradientTape() as tape:
...     tape.watch(x)
...     y = xg.exp(x) * 2.0
>>> len(tape._nodes)
2
"""
from __future__ import annotations

import itertools

from .primitive import LEAN_ELEMENTWISE
from .residuals import _SMALL, _exact_scalars, _stand_in
from .tensor import Tensor

#: a fresh tensor key; keys are never reused, so a key a tape saw always means one value
next_key = itertools.count(1).__next__

#: the fields of a node before its input keys (field 4 is their number)
NODE_HEAD = 11


def node_keys(node) -> tuple:
    """The keys of a node's inputs (0 where no gradient is wanted).

    >>> node_keys((0, None, True, 9, 2, None, None, None, None, None, None, 7, 0, "a", 1.5))
    (7, 0)
    """
    return node[NODE_HEAD:NODE_HEAD + node[4]]


def node_inputs(node) -> tuple:
    """The raw inputs a node keeps (None where the rule reads only a stand-in).

    >>> node_inputs((0, None, True, 9, 2, None, None, None, None, None, None, 7, 0, "a", 1.5))
    ('a', 1.5)
    """
    return node[NODE_HEAD + node[4]:]


class TapeRecording:
    """The recording methods of ``GradientTape`` (a mixin: they fill its ``_nodes``, ``_keys``,
    ``_watched`` and ``_variables``)."""

    def _record(self, prim, args, raws, out, params, saved, kern, nested):
        """Append a node for ``out = prim(*args)`` if an input is on this tape (``nested``:
        other tapes record too)."""
        keys = self._keys
        n = len(args)
        a = args[0] if n else None
        # the hot path: one plain Tensor, or one with a Python scalar, on one tape
        if not nested and a.__class__ is Tensor and (
                n == 1 or (n == 2 and args[1].__class__ in _exact_scalars)):
            k = a._key
            if k not in keys:
                return
            ks = (k,) if n == 1 else (k, 0)
            variables = None
            one = True          # one input wants a gradient (the lean node's first condition)
            first_only = True   # the other input, if any, is a Python scalar
        else:
            ks, hit, variables = self._input_keys(args, nested)
            if not hit:
                return
            first_only = False
            one = variables is None and (len(ks) == 1 or (len(ks) == 2 and not (ks[0] and
                                                                                   ks[1])))
        okey = out._key
        if not okey:
            okey = out._key = next_key()
        keys.add(okey)
        if params and params == prim.default_keywords:
            params = None       # a full reduction's keywords: its rules' defaults (Primitive)
        if kern is None:
            keep, keep_out, upto, lean = prim.residuals
        elif nested:    # an outer tape may differentiate the generic rules, which read anything
            keep, keep_out, upto, lean = None, True, 0, kern.lean
        else:
            keep, keep_out, upto, lean = kern.residuals
        fits = None
        res = raws if raws.__class__ is tuple else tuple(raws)
        if keep is not None and n > upto and not (first_only and raws[0].size <= _SMALL):
            # inputs the rule does not read: an array over _SMALL elements is dropped (its shape
            # and dtype kept); Python scalars and small arrays stay (nothing to free)
            n_keep = len(keep)
            i = 0
            for r in raws:
                if r.__class__ not in _exact_scalars and r.size > _SMALL and \
                        (i >= n_keep or not keep[i]):
                    if fits is None:
                        res, fits = list(res), [None] * len(raws)
                    res[i] = None
                    fits[i] = _stand_in(r)
                i += 1
            if fits is not None:
                res, fits = tuple(res), tuple(fits)
        be = out._backend
        home = self._home
        if be is home:
            be = None
        elif home is None:
            self._home, be = be, None
        # a lean node (backward._walk's short path) needs nothing past its keys, residuals
        # (an input's stand-in made there as the general path makes it) and output: the tape's
        # first backend, no keywords, no Variables to name, one of at most two inputs wanting a
        # gradient, and a per-argument rule or a plain kernel (``lean`` last: a kernel's
        # LEAN_IN_PLACE is kept)
        lean = one and be is None and not params and lean
        if lean is LEAN_ELEMENTWISE and not (first_only and raws[0].dtype is out._data.dtype):
            lean = True
        # ints, tuples and raw arrays: nothing the cyclic GC keeps visiting (a dict, even an
        # empty one, would keep the node tracked)
        self._nodes.append((prim.index, None if kern is None else kern.index, lean, okey,
                            len(ks), out._data if keep_out else None, saved, be,
                            tuple(params.items()) if params else None, fits, variables, *ks,
                            *res))

    def _record_one(self, prim, x, raws, out, saved, kern, scalar=None, params=None):
        """``_record`` for the appliers' hot path (``appliers.py``): one plain Tensor ``x``,
        maybe with a Python scalar ``scalar`` after it (``raws``: their arrays, the scalar as
        given or as a 0-d array), or alone with keywords ``params`` (a reduction's), on the one
        tape recording. Its usual node is appended here (a backend other than the tape's first
        takes ``_record``)."""
        k = x._key
        keys = self._keys
        if k not in keys:
            return
        if out._backend is not self._home:
            if self._home is None:          # the tape's first node: its backend is home
                self._home = out._backend
            else:
                self._record(prim, (x,) if scalar is None else (x, scalar), raws, out,
                             params or {}, saved, kern, False)
                return
        keep, keep_out, upto, lean = prim.residuals if kern is None else kern.residuals
        fits = None
        r = raws[0]
        if keep is not None and upto <= 0 and r.size > _SMALL and not (keep and keep[0]):
            # the rule does not read the input (see _record): its shape and dtype stay, and
            # the lean path hands the rule their ``Shaped`` as the general path does
            fit = _stand_in(r)
            if len(raws) == 1:
                raws, fits = (None,), (fit,)
            else:
                raws, fits = (None, raws[1]), (fit, None)
        if lean is LEAN_ELEMENTWISE and r.dtype is not out._data.dtype:
            lean = True     # (see _record)
        okey = out._key = next_key()       # a fresh output: apply's
        keys.add(okey)
        if params and params != prim.default_keywords:
            # keywords: never lean (see _record); a full reduction's (``sum(x)``: its
            # keywords at the defaults its rules and kernels take) is recorded without them
            self._nodes.append((prim.index, None if kern is None else kern.index, False, okey,
                                1, out._data if keep_out else None, saved, None,
                                tuple(params.items()), fits, None, k, raws[0]))
        elif len(raws) == 1:
            self._nodes.append((prim.index, None if kern is None else kern.index, lean, okey, 1,
                                out._data if keep_out else None, saved, None, None, fits, None,
                                k, raws[0]))
        else:
            self._nodes.append((prim.index, None if kern is None else kern.index, lean, okey, 2,
                                out._data if keep_out else None, saved, None, None, fits, None,
                                k, 0, raws[0], raws[1]))

    def _record_two(self, prim, a, b, raws, out, saved, kern):
        """``_record`` for a two-operand applier's other path (``appliers.py``): a plain Tensor
        ``a``, then a Tensor or Variable ``b`` of its backend, no keywords, on the one tape
        recording (a backend other than the tape's first takes ``_record``)."""
        if out._backend is not self._home:
            if self._home is None:          # the tape's first node: its backend is home
                self._home = out._backend
            else:
                self._record(prim, (a, b), raws, out, {}, saved, kern, False)
                return
        keys = self._keys
        ka = a._key
        if ka not in keys:
            ka = 0
        variables = None
        kb = b._key
        if kb not in keys:
            kb = 0 if b.__class__ is Tensor or not b._trainable else self._access(b)
            if kb:
                variables = (None, b)
        elif b.__class__ is not Tensor and b._trainable:
            variables = (None, b)
        if not (ka or kb):
            return
        keep, keep_out, upto, lean = prim.residuals if kern is None else kern.residuals
        fits = None
        if keep is not None and upto < 2:
            n_keep = len(keep)
            r0, r1 = raws
            drop0 = r0.size > _SMALL and (n_keep == 0 or not keep[0])
            drop1 = r1.size > _SMALL and (n_keep < 2 or not keep[1])
            if drop0 or drop1:
                fits = (_stand_in(r0) if drop0 else None, _stand_in(r1) if drop1 else None)
                raws = (None if drop0 else r0, None if drop1 else r1)
        # a lean node: one input wanting a gradient, no Variables to name (see _record)
        lean = lean and variables is None and not (ka and kb)
        if lean is LEAN_ELEMENTWISE:    # two Tensors may broadcast (see _record)
            lean = True
        okey = out._key = next_key()       # a fresh output: apply's
        keys.add(okey)
        self._nodes.append((prim.index, None if kern is None else kern.index, lean, okey, 2,
                            out._data if keep_out else None, saved, None, None, fits, variables,
                            ka, kb, raws[0], raws[1]))

    def _record_outputs(self, prim, x, raw, outs, params, nested):
        """Append one node for ``outs``, the several outputs of ``prim(x)`` (``unstack``'s
        slices), if ``x`` is on this tape: its output key is the tuple of theirs, and its joint
        rule gets the list of their gradients, None where one has none (``backward._walk``).
        The rule reads ``x``'s shape and dtype only."""
        ks, hit, variables = self._input_keys((x,), nested)
        if not hit:
            return
        keys = self._keys
        okeys = []
        for out in outs:
            k = out._key
            if not k:
                k = out._key = next_key()
            keys.add(k)
            okeys.append(k)
        be = x._backend
        if self._home is None:
            self._home = be
        self._nodes.append((prim.index, None, False, tuple(okeys), len(ks), None, None,
                            None if be is self._home else be, tuple(params.items()),
                            (_stand_in(raw),), variables, *ks, None))

    def _record_pieces(self, prim, args, raws, out, pieces, saved, kern):
        """``_record`` of a kernel's ``out``, handed to the caller as the views ``pieces``
        (``out[0]``, ``out[1]``, ...; ``lstm_cell``'s h and c) with no getitem nodes: one node
        whose output key is the tuple of theirs, its kernel's ``vjp`` given the list of their
        gradients (None where one has none) in place of ``out``'s (``backward._walk``).
        This tape alone records (``nested`` False)."""
        nodes = self._nodes
        n = len(nodes)
        self._record(prim, args, raws, out, {}, saved, kern, False)
        if len(nodes) == n:
            return
        node = nodes[n]
        keys = self._keys
        keys.discard(node[3])
        okeys = []
        for piece in pieces:
            k = piece._key = next_key()
            keys.add(k)
            okeys.append(k)
        nodes[n] = (node[0], node[1], False, tuple(okeys), *node[4:])

    def _input_keys(self, args, nested):
        """``(keys, hit, variables)`` of a node's inputs: each input's key on this tape (0: no
        gradient wanted), whether any is on it, and by position the trainable Variables among
        them and, when other tapes record, the keys of the inputs this tape does not
        differentiate (their rules, run again for an outer tape, must name them: _tensors)."""
        keys = self._keys
        ks = []
        hit = False
        variables = None
        for a in args:
            if a.__class__ is Tensor:
                k = a._key
                if k in keys:
                    hit = True
                    ks.append(k)
                else:
                    if nested and k:
                        if variables is None:
                            variables = [None] * len(args)
                        variables[len(ks)] = k
                    ks.append(0)
            elif a.__class__ in _exact_scalars:
                ks.append(0)
            elif isinstance(a, Tensor) and a._trainable:
                k = a._key
                if k not in keys:
                    k = self._access(a)
                if k:
                    hit = True
                    if variables is None:
                        variables = [None] * len(args)
                    variables[len(ks)] = a
                ks.append(k)
            elif isinstance(a, Tensor) and a._key in keys:  # a subclass, not trainable
                hit = True
                ks.append(a._key)
            else:
                if nested and isinstance(a, Tensor) and a._key:
                    if variables is None:
                        variables = [None] * len(args)
                    variables[len(ks)] = a._key
                ks.append(0)
        return tuple(ks), hit, variables and tuple(variables)

    def _access(self, variable):
        """Watch a trainable Variable read on this tape (``watch_accessed_variables``); its
        key, or 0 when this tape does not watch on access."""
        if not self._auto:
            return 0
        key = variable._key
        if not key:
            key = variable._key = next_key()
        self._keys.add(key)
        self._watched.add(key)
        self._variables[key] = variable
        return key
