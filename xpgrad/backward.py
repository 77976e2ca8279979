"""The backward walk of a GradientTape: vjp rules in reverse over the recorded nodes.

A node is the flat tuple ``GradientTape._record`` appends (``tape.py``): primitive and kernel by
index, whether the node is lean (below), output key (a tuple of keys for a node of several
outputs, ``unstack``'s: its joint rule gets their gradients as a list), input keys (0: no
gradient wanted),
residuals (the raw inputs the rule reads, Python scalars and small arrays; None for a larger
array it does not read), output (or None), the kernel's saved value, backend (None: the
tape's first), params as items, ``(shape, dtype code)`` of the array inputs not saved, and the
trainable Variables among the inputs. ``_walk`` returns ``{key: gradient}``; broadcasting is
summed back in one place (``gradient_fit.py``), slice gradients are added into one owned buffer
(``Scatter``); a 0-d gradient of an input that is not 0-d is that value everywhere (a full
sum's: ``fit_gradient`` broadcasts it, the lean path adds it to a dense gradient as a scalar).

A lean node (one or two inputs of which one wants a gradient, a per-argument rule or a kernel
without ``needs``, no keywords (a full reduction's recorded without them:
``Primitive.default_keywords``) or Variables, the tape's first backend) takes a short path on
a first-order walk: its rule is called plainly (a kernel's ``vjp_in_place`` as the general
path calls it; an input it does not read as its ``Shaped`` stand-in, as the general path
passes it) and the gradient added; everything else (and a slice gradient reaching
a lean node) takes the general path. A lean node of an elementwise primitive whose input had the
output's dtype (``LEAN_ELEMENTWISE``, ``Primitive``'s ``elementwise``) adds its gradient without
the check for a broadcast or cast to undo. tests/test_tape_lean_path.py runs random programs
both ways.
"""
from __future__ import annotations

import sys

from . import tensor_methods
from .accumulate import Scatter, is_basic
from .backend import KERNELS_BY_INDEX
from .deferred import DEFER, FOLDABLE
from .gradient_fit import fit_gradient
from .gradient_hooks import hooked_take, run_on_sources, walk_starts
from .kernels import LEAN_IN_PLACE
from .primitive import BY_INDEX as PRIMITIVES_BY_INDEX, LEAN_ELEMENTWISE
from .residuals import _stand_ins, _tensors
from .tape_recording import NODE_HEAD as _HEAD
from .tensor import _keyed


def _walk(nodes, home, seeds, skeys, consume, higher, after=None, defer=False):
    """{key: gradient} of the walk back from the targets' keys in ``seeds`` ({key: seed}, the
    dict the walk fills). ``after(i, grads)``, when given, is
    called once the node at index ``i`` has added its gradients (xpgrad.distributed starts a
    bucket's reduction there as soon as its sources' gradients are final). ``defer``: a
    source's gradient may be a ``deferred.Product`` (``tape.gradient`` asks, see there)."""
    grads = seeds
    get, take = grads.get, grads.pop
    hooked = walk_starts(higher)    # tensor hooks (gradient_hooks.py): once, not per node
    if hooked is not None:
        take = hooked_take(take, higher, hooked)
    # keys whose accumulator this walk allocated and nothing else has seen: added into in place
    owned = set()
    prims, kernels, refcount = PRIMITIVES_BY_INDEX, KERNELS_BY_INDEX, sys.getrefcount
    pop = nodes.pop
    lean = not higher                   # lean nodes take the short path on first-order walks
    home_xp = None if home is None else home.xp
    # walked inside xg.vmap (which empties the kernel table): a kernel recorded outside it
    # computes on one example's arrays, so it runs once per example
    per_example = home is not None and not home.kernels
    n = walked = len(nodes)
    while n:
        if after is not None and n < walked:
            after(n, grads)
        n -= 1
        # a non-persistent tape drops each node as it goes: its residuals are freed once no
        # node still to come holds them
        node = pop() if consume else nodes[n]
        g = take(node[3], None)
        if g is None:
            if node[3].__class__ is not tuple:
                continue
            g = _outputs_gradients(node[3], take, grads, skeys, owned)
            if g is None:
                continue
            if per_example and node[1] is not None:     # the kernel's loop takes one array
                g = _stacked(g, home_xp)
        # the inputs' keys and arrays follow the node's first _HEAD fields (tape_recording)
        n_in = node[4]
        if n_in == 1:
            prim, kern, plain, okey, _, ans, saved, be, params, fits, variables, k0, r0 = node
            k1 = r1 = None
        elif n_in == 2:
            prim, kern, plain, okey, _, ans, saved, be, params, fits, variables, k0, k1, r0, \
                r1 = node
        else:
            prim, kern, plain, okey, _, ans, saved, be, params, fits, variables = node[:_HEAD]
        if owned:
            owned.discard(okey)        # the rules below may return g itself, or views of it
        if okey in skeys:               # a source's own gradient stays for the caller
            grads[okey] = g
        if plain and lean and g.__class__ is not Scatter:
            # a lean node (GradientTape._record): one or two inputs, the one at i wanting a
            # gradient, its rule (or the kernel) called plainly on the home backend; the
            # gradient is added as the general path adds it (which takes the rarer cases)
            if fits is not None:    # an input the rule does not read: its shape and dtype
                if n_in == 1:
                    r0, = _stand_ins((r0,), fits, None)
                else:
                    r0, r1 = _stand_ins((r0, r1), fits, None)
            if k0:
                i, k, x = 0, k0, r0
            else:
                i, k, x = 1, k1, r1
            xp = home_xp
            if kern is None:
                rule = prims[prim].vjps[i]
                gi = None if rule is None else rule(xp, g, ans, r0) if n_in == 1 \
                    else rule(xp, g, ans, r0, r1)
            else:
                kern = kernels[kern]
                vjp = kern.vjp
                if per_example:
                    vjp = _per_example(vjp, prims[prim].name)
                # a g nothing else holds (not a source's, not a view) may be written over
                elif plain is LEAN_IN_PLACE and okey not in skeys and refcount(g) <= _SOLE and \
                        getattr(g, "base", 0) is None:
                    vjp = kern.vjp_in_place
                gs = vjp(g, saved, r0) if n_in == 1 else vjp(g, saved, r0, r1)
                gi = gs[i]
                if gi is NotImplemented:  # the kernel leaves this input to the generic rule
                    gi = _fill_in(prims[prim], gs, node[_HEAD:_HEAD + n_in], xp, g, ans,
                                  (r0,) if n_in == 1 else (r0, r1), _NO_PARAMS)[i]
            g = r0 = r1 = None          # grads now holds each gradient alone (see vjp_in_place)
            if gi is None:
                continue
            prev = get(k)
            if gi.__class__ is not Scatter and (prev is None or prev.__class__ is not Scatter):
                if gi.ndim == 0 and prev is not None and prev.__class__ is gi.__class__ and \
                        prev.dtype == gi.dtype and x.shape and prev.shape == x.shape:
                    # a full sum's gradient, g everywhere (the NumPy kernel's 0-d g): added to
                    # the dense gradient there as one scalar, never written out
                    if k in owned:
                        prev += gi
                    else:
                        prev = prev + gi
                        owned.add(k)
                    grads[k] = prev
                    gs = gi = prev = x = None
                    continue
                # an elementwise rule's gradient has x's shape and dtype (Primitive.elementwise)
                if plain is not LEAN_ELEMENTWISE:
                    dt = gi.dtype
                    if gi.shape != x.shape or (dt is not x.dtype and dt != x.dtype):
                        gi = fit_gradient(xp, gi, x.shape, x.dtype)
                if prev is None:
                    grads[k] = gi
                elif k in owned:
                    prev += gi
                    grads[k] = prev
                else:
                    grads[k] = prev + gi
                    owned.add(k)
                gs = gi = prev = x = None
                continue
            gs, ks, inputs, prev = (gi,), (k,), (x,), None   # a Scatter: the loop below
        else:
            prim = prims[prim]
            ks, res = node[_HEAD:_HEAD + n_in], node[_HEAD + n_in:]
            params = dict(params) if params else _NO_PARAMS
            if be is None:
                be = home
            if higher:
                if kern is not None and not _kept_for(prim, res, ans):
                    raise RuntimeError(_NOT_NESTED.format(prim.name))
                xp = tensor_methods._ns      # the xpgrad namespace: the outer tape records
                inputs = _tensors(res, ks, be, variables)
                if ans is not None:
                    ans = _keyed(ans, be, okey)
            else:
                xp = be.xp
                inputs = res
            if fits is not None:
                inputs = _stand_ins(inputs, fits, be if higher else None)
            if kern is not None:
                kern = None if higher else kernels[kern]
            gs = None
            if g.__class__ is Scatter:        # one slice's gradient, kept unmade (below)
                if kern is not None and kern.vjp_sliced is not None and not per_example:
                    gs = _vjp_sliced(kern, g, saved, ks, inputs, params)
                if gs is None:
                    g = g.dense(xp)
            if gs is not None:
                pass
            elif kern is not None:
                vjp = kern.vjp
                if per_example:
                    vjp = _per_example(vjp, prim.name)
                # a g nothing else holds (not a source's, not a view) may be written over
                elif kern.vjp_in_place is not None and okey not in skeys and \
                        refcount(g) <= _SOLE and getattr(g, "base", 0) is None:
                    vjp = kern.vjp_in_place
                if kern.needs:
                    # two inputs (a product's): the list without a comprehension's frame
                    needs = [ks[0] != 0, ks[1] != 0] if len(ks) == 2 else [k != 0 for k in ks]
                    if defer and kern.defers and variables is not None:
                        for i in kern.defers:         # a weight plain SGD updates: its factors
                            if ks[i] in FOLDABLE and ks[i] in skeys:
                                needs[i] = DEFER
                    gs = vjp(g, saved, needs, *inputs, **params)
                else:
                    gs = vjp(g, saved, inputs[0]) if len(inputs) == 1 and not params else \
                        vjp(g, saved, *inputs, **params)
                for gi in gs:
                    if gi is NotImplemented:  # the kernel leaves some inputs to the generic rule
                        gs = _fill_in(prim, gs, ks, xp, g, ans, inputs, params)
                        break
            elif prim.joint is None:          # per-argument rules (inline: the hot path)
                # one- and two-input rules without keywords: plain calls (see primitive.apply)
                vjps = prim.vjps
                n_in = -1 if params else len(ks)
                if n_in == 1:
                    rule = vjps[0]
                    gs = (None if rule is None else rule(xp, g, ans, inputs[0]),)
                elif n_in == 2:
                    x0, x1 = inputs
                    k, rule = ks[0], vjps[0]
                    gi = rule(xp, g, ans, x0, x1) if k and rule is not None else None
                    k, rule = ks[1], vjps[1]
                    gs = (gi, rule(xp, g, ans, x0, x1) if k and rule is not None else None)
                    x0 = x1 = None
                elif len(ks) == 1:
                    rule = vjps[0]
                    gs = (None if rule is None else rule(xp, g, ans, *inputs, **params),)
                else:
                    gs = [vjps[i](xp, g, ans, *inputs, **params) if k and vjps[i] is not None
                          else None for i, k in enumerate(ks)]
            else:
                gs = prim.vjp(xp, g, ans, [k != 0 for k in ks], inputs, params)
            g = None                        # grads now holds each gradient alone (see vjp_in_place)
            if len(ks) == 1:                # one input: the loop below, unrolled (the hot path)
                k = ks[0]
                gi = gs[0]
                if k and gi is not None and gi.__class__ is not Scatter:
                    prev = get(k)
                    if prev is None or prev.__class__ is not Scatter:
                        x = inputs[0]
                        dt = gi.dtype
                        if gi.shape != x.shape or (dt is not x.dtype and dt != x.dtype):
                            gi = fit_gradient(xp, gi, x.shape, x.dtype)
                        if prev is None:
                            grads[k] = gi
                        elif k in owned:
                            prev += gi
                            grads[k] = prev
                        else:
                            grads[k] = prev + gi
                            owned.add(k)
                        gs = gi = prev = x = None
                        continue
        for k, gi, x in zip(ks, gs, inputs):
            if not k or gi is None:
                continue
            prev = get(k)
            if prev is not None and prev.__class__ is Scatter:   # kept unmade, a second came
                prev = grads[k] = prev.dense(xp)
                owned.add(k)
            if gi.__class__ is Scatter:   # a slice's gradient: add it into an owned buffer
                if prev is None:
                    if k not in skeys and gi.values.dtype == x.dtype and is_basic(gi.key):
                        # kept as it is: if it stays the only gradient, the kernel of the node
                        # that made x may take it without the zeros (Kernel.vjp_sliced)
                        grads[k] = gi
                        continue
                    prev = gi.dense(xp, x.dtype)
                else:
                    if k not in owned or not hasattr(prev, "__setitem__"):   # NumPy scalar
                        prev = xp.asarray(prev, copy=True)
                    gi.add_into(prev)
                grads[k] = prev
                owned.add(k)
                continue
            dt = gi.dtype
            if gi.shape != x.shape or (dt is not x.dtype and dt != x.dtype):
                gi = fit_gradient(xp, gi, x.shape, x.dtype)
            if prev is None:
                grads[k] = gi
            elif k in owned:
                prev += gi                # in place for arrays; a NumPy scalar rebinds
                grads[k] = prev
            else:
                grads[k] = prev + gi
                owned.add(k)
        gs = gi = prev = None
    if hooked is not None:      # the hooks of sources no node made (leaves)
        run_on_sources(grads, skeys, hooked, higher)
    if after is not None and walked:
        after(0, grads)
    return grads


def _outputs_gradients(okeys, take, grads, skeys, owned):
    """The gradients of a node of several outputs (``GradientTape._record_outputs``), None
    where an output has none, taken out of ``grads`` (a source's stays there for the caller);
    None where no output has one."""
    gs = [take(k, None) for k in okeys]
    found = False
    for k, g in zip(okeys, gs):
        if g is not None:
            found = True
            owned.discard(k)        # the rule may return it, or a view of it
            if k in skeys:
                grads[k] = g
    return gs if found else None


def _stacked(gs, xp):
    """The gradient of a kernel's output from those of its pieces ``out[0]``, ``out[1]``, ...
    (``GradientTape._record_pieces``; None where one has none: zeros)."""
    made = [g.dense(xp) if g.__class__ is Scatter else g for g in gs]
    first = next(g for g in made if g is not None)
    return xp.stack([xp.zeros_like(first) if g is None else g for g in made])


def _per_example(vjp, name):
    """A kernel's ``vjp`` for a walk inside ``xg.vmap``: once per example where an argument is
    batched (the batching's loop, counted in the vmap's ``fallbacks``), else as it is."""
    from .batching.batched import BatchedArray
    from .batching.namespace import loop

    def run(*args, **kwargs):
        for a in args:
            if a.__class__ is BatchedArray:
                return loop(a._level, vjp, f"{name} (kernel vjp)", args, kwargs)
        return vjp(*args, **kwargs)
    return run


def _kept_for(prim, res, ans):
    """Whether a node recorded with a kernel holds what ``prim``'s generic rules read (it does
    when another tape recorded too: then every input and the output are kept)."""
    if prim.keep_output and ans is None:
        return False
    keep = prim.keep_inputs
    for i, r in enumerate(res):
        if r is None and (keep is None or (i < len(keep) and keep[i])):
            return False
    return True


_NOT_NESTED = (
    "this tape's gradient is being differentiated by another tape that was not recording when "
    "this one recorded its forward pass, so this tape kept only what its first-order rules "
    "need ({!r} ran a fused kernel); open the outer tape before the forward pass (nested "
    "tapes, as for higher-order gradients)")


_NO_PARAMS: dict = {}


# -- the aliasing policy ------------------------------------------------------------------------
# A first-order gradient handed to the user is an array nothing else refers to: not the seed or
# output_gradients, not another source's gradient, not a residual a persistent tape keeps, and not
# a view of any of these. Most rules return fresh arrays, so instead of copying every gradient the
# tape copies only those that something else still holds, judged by reference counts (as NumPy
# judges temporaries it may reuse). The bars are the counts of a probe held by one local
# variable, measured with the same expressions as in ``gradient``.
class _Probe:
    __slots__ = ("base",)


def _probe_counts():
    g = _Probe()
    g.base = _Probe()
    own = sys.getrefcount(g)
    base = getattr(g, "base", None)
    return own, sys.getrefcount(base)


_SOLE, _SOLE_BASE = _probe_counts()


def _vjp_sliced(kern, g, saved, ks, inputs, params):
    """``kern.vjp_sliced`` for the unmade slice gradient ``g`` (a ``Scatter``): the gradients,
    or None where it declines. A NotImplemented among them (an input left to the generic
    rule) declines too: the generic rules read the whole gradient."""
    if kern.needs:
        gs = kern.vjp_sliced(g.key, g.values, saved, [k != 0 for k in ks], *inputs, **params)
    else:
        gs = kern.vjp_sliced(g.key, g.values, saved, *inputs, **params)
    if gs is None or any(gi is NotImplemented for gi in gs):
        return None
    return gs


def _fill_in(prim, gs, ks, xp, g, ans, inputs, params):
    """A kernel's gradients with its NotImplemented entries computed by the generic rules."""
    out = list(gs)
    if prim.joint is not None:
        rest = [k != 0 and gi is NotImplemented for gi, k in zip(gs, ks)]
        generic = prim.vjp(xp, g, ans, rest, inputs, params)
        return [generic[i] if r else gi for i, (gi, r) in enumerate(zip(gs, rest))]
    vjps = prim.vjps
    for i, gi in enumerate(gs):
        if gi is NotImplemented:
            rule = vjps[i]
            out[i] = rule(xp, g, ans, *inputs, **params) if ks[i] and rule is not None \
                else None
    return out
