"""``einsum``: Einstein summation, differentiable with respect to every operand.

The subscripts follow NumPy's: explicit (``"ij,jk->ik"``) or implicit (``"ij,jk"``: the labels
seen once, sorted), with ``...`` for broadcast leading axes. The public function broadcasts the
``...`` axes of all operands to one shape and rewrites them as letters, so the primitive only
ever sees explicit labels; its gradient for operand ``i`` is itself an einsum of the output
gradient with the other operands (conjugated when complex), broadcast over the labels only
operand ``i`` has. A label repeated within one operand (a diagonal, ``"ii->"``) is taken out
first with ``xg.linalg.diagonal``, whose gradient writes back onto the diagonal.

>>> import xpgrad as xg
>>> a, b = xg.ones((2, 3)), xg.ones((3, 4))
>>> xg.einsum("ij,jk->ik", a, b).shape, xg.einsum("ij,ij", a, a).item()
((2, 4), 6.0)
"""
from __future__ import annotations

import math
import string

from ..primitive import Each, Primitive, apply
from ..tensor import Tensor
from ._define import as_tensor
from .linalg import diagonal
from .linalg_helpers import conj
from .shape import broadcast_to, permute_dims, reshape


#: above this many multiply-adds of the naive loop, einsum first finds a contraction order
#: (and BLAS products): ``optimize=True`` costs ~10 us, and saves 6-10x on a 256x512 @ 512x256
#: product and ~1000x on a chain of three 128x128 matrices (NumPy's default loops over every
#: label at once). A spec that sums no label (an outer or elementwise product) has no order
#: to find: it skips the search (``"i,j->ij"`` of 256 each: 20 -> 12 us, the same values)
OPTIMIZE_ABOVE = 1 << 14


def _einsum_forward(xp, *operands, spec):
    native = getattr(xp, "einsum", None)
    if native is None:
        return _by_broadcasting(xp, spec, operands)
    if len(operands) > 1 and _sums_a_label(spec) and \
            _naive_size(spec, operands) > OPTIMIZE_ABOVE:
        try:
            return native(spec, *operands, optimize=True)
        except TypeError:                 # a namespace whose einsum takes no optimize=
            pass
    return native(spec, *operands)


def _sums_a_label(spec) -> bool:
    """Whether an explicit ``spec`` sums over some label (one missing from its output)."""
    inputs, out = spec.split("->")
    return bool(set(inputs) - set(out) - {","})


def _naive_size(spec, operands) -> int:
    """The iterations of the loop over every label of ``spec`` at once."""
    sizes = {}
    for labels, a in zip(spec.split("->")[0].split(","), operands):
        sizes.update(zip(labels, a.shape))
    return math.prod(sizes.values())


def _by_broadcasting(xp, spec, operands):
    """``einsum`` from permute, reshape, multiply and sum: for namespaces without one."""
    inputs, out = spec.split("->")
    specs = inputs.split(",")
    if any(len(set(s)) != len(s) for s in specs):
        raise ValueError(f"einsum: a label repeated within one operand ({spec!r}) needs a "
                         "backend with its own einsum")
    labels = sorted(set("".join(specs)), key=lambda c: (c not in out, out.find(c), c))
    product = None
    for s, a in zip(specs, operands):
        order = sorted(range(len(s)), key=lambda i: labels.index(s[i]))
        a = xp.permute_dims(a, tuple(order))
        shape, it = [], iter(a.shape)
        for c in labels:
            shape.append(next(it) if c in s else 1)
        a = xp.reshape(a, tuple(shape))
        product = a if product is None else product * a
    summed = tuple(range(len(out), len(labels)))
    return xp.sum(product, axis=summed) if summed else product


def _einsum_vjp(i, xp, g, ans, *operands, spec):
    inputs, out = spec.split("->")
    specs = inputs.split(",")
    mine = specs[i]
    if len(set(mine)) != len(mine):
        raise NotImplementedError(f"einsum: no gradient through the repeated label of operand "
                                  f"{i} in {spec!r} (a diagonal); take it with xg.linalg."
                                  "diagonal first")
    others = [conj(xp, a) for k, a in enumerate(operands) if k != i]
    other_specs = [s for k, s in enumerate(specs) if k != i]
    seen = set(out).union(*other_specs)
    kept = "".join(c for c in mine if c in seen)
    grad = _einsum_call(xp, ",".join([out, *other_specs]) + "->" + kept, g, *others)
    if kept != mine:     # labels only this operand has: their sum's gradient is a broadcast
        sizes = dict(zip(kept, grad.shape))
        grad = xp.reshape(grad, tuple(sizes.get(c, 1) for c in mine))
        grad = xp.broadcast_to(grad, tuple(operands[i].shape))
    return grad


def _einsum_call(xp, spec, *arrays):
    """``einsum`` on raw arrays (first order) or through the xpgrad namespace (higher)."""
    if any(isinstance(a, Tensor) for a in arrays):
        return apply(_einsum, *arrays, spec=spec)
    return _einsum_forward(xp, *arrays, spec=spec)


_einsum = Primitive("einsum", _einsum_forward, Each(_einsum_vjp))


def _broadcast_size(sizes):
    """The size that ``sizes`` broadcast to (1 stretches, also to 0), None if they do not."""
    other = {n for n in sizes if n != 1}
    if len(other) > 1:
        return None
    return other.pop() if other else 1


#: ``_explicit``'s spec by (subscripts, operand shapes) where it left the operands as they
#: were (no ``...`` to broadcast): its parse and checks cost ~6 us a call
_SPECS: dict = {}


def _explicit_cached(subscripts, operands):
    """``_explicit``, its spec looked up for subscripts and shapes seen before."""
    if subscripts.__class__ is not str:
        return _explicit(subscripts, operands)
    key = (subscripts, *(a.shape for a in operands))
    spec = _SPECS.get(key)
    if spec is not None:
        return spec, operands
    spec, new = _explicit(subscripts, operands)
    if all(a is b for a, b in zip(new, operands)):
        if len(_SPECS) >= 1024:
            _SPECS.clear()
        _SPECS[key] = spec
    return spec, new


def _explicit(subscripts, operands):
    """``(spec, operands)`` with ``...`` replaced by letters, operands broadcast to match."""
    if not isinstance(subscripts, str):
        raise TypeError(f"einsum: subscripts must be a string, got {type(subscripts).__name__}")
    spec = subscripts.replace(" ", "")
    inputs, arrow, out = spec.partition("->")
    specs = inputs.split(",")
    if len(specs) != len(operands):
        raise ValueError(f"einsum: {subscripts!r} names {len(specs)} operands but "
                         f"{len(operands)} were given")
    for part in specs + ([out] if arrow else []):
        if "-" in part or ">" in part:
            raise ValueError(f"einsum: {subscripts!r} has a stray '-' or '>' (one '->' "
                             "separates the output subscripts)")
        if "." in part.replace("...", "", 1):
            raise ValueError(f"einsum: subscripts {part!r} of {subscripts!r} hold a '.' that "
                             "is not part of one '...'")
    used = set(spec) - set(".,->")
    bad = [c for c in used if c not in string.ascii_letters]
    if bad:
        raise ValueError(f"einsum: labels must be letters, got {bad[0]!r} in {subscripts!r}")
    free = [c for c in string.ascii_letters if c not in used]
    widths = []
    for s, a in zip(specs, operands):
        n = len(s.replace("...", ""))
        if "..." not in s and n != a.ndim or "..." in s and n > a.ndim:
            raise ValueError(f"einsum: operand of shape {a.shape} does not fit subscripts "
                             f"{s!r}")
        widths.append(a.ndim - n if "..." in s else 0)
    width = max(widths, default=0)
    ell = "".join(free[:width])
    if width:
        shapes = []
        for s, a, w in zip(specs, operands, widths):
            start = s.index("...") if "..." in s else 0
            shapes.append((1,) * (width - w) + tuple(a.shape[start:start + w]))
        target = tuple(_broadcast_size(dims) for dims in zip(*shapes))
        if None in target:
            raise ValueError(f"einsum: the '...' axes of shapes "
                             f"{[a.shape for a in operands]} do not broadcast")
        new = []
        for s, a, w, sh in zip(specs, operands, widths, shapes):
            if "..." in s:
                start = s.index("...")
                a = reshape(a, a.shape[:start] + sh + a.shape[start + w:])
                a = broadcast_to(a, a.shape[:start] + target + a.shape[start + width:])
            new.append(a)
        operands = new
    specs = [s.replace("...", ell) for s in specs]
    if not arrow:
        counts = {c: "".join(specs).count(c) for c in set("".join(specs))}
        out = ell + "".join(sorted(c for c, n in counts.items() if n == 1 and c not in ell))
    else:
        out = out.replace("...", ell)
        missing = set(out) - set("".join(specs))
        if missing or len(set(out)) != len(out):
            raise ValueError(f"einsum: output subscripts {out!r} must be distinct labels of "
                             "the inputs")
    sizes = {}
    for s, a in zip(specs, operands):
        for c, n in zip(s, a.shape):
            size = _broadcast_size((sizes.get(c, 1), n))
            if size is None:
                raise ValueError(f"einsum: label {c!r} has sizes {sizes[c]} and {n} in "
                                 f"{subscripts!r}")
            sizes[c] = size
    operands = [a if all(n == sizes[c] for c, n in zip(s, a.shape))       # size-1 axes of a
                else broadcast_to(a, tuple(sizes[c] for c in s))           # label broadcast
                for s, a in zip(specs, operands)]
    return ",".join(specs) + "->" + out, operands


def einsum(subscripts, /, *operands):
    """Einstein summation over ``operands`` as ``subscripts`` say (NumPy's notation),
    differentiable in every operand.

    >>> import xpgrad as xg
    >>> x = xg.reshape(xg.arange(6.0), (2, 3))
    >>> xg.einsum("ij->ji", x).shape, xg.einsum("...j,j->...", x, xg.ones(3)).tolist()
    ((3, 2), [3.0, 12.0])
    """
    if not operands:
        raise ValueError("einsum needs at least one operand")
    operands = [as_tensor(a, "einsum", f"operand {i}") for i, a in enumerate(operands)]
    spec, operands = _explicit_cached(subscripts, operands)
    inputs, out = spec.split("->")
    pairs = [_without_repeated_labels(s, a) for s, a in zip(inputs.split(","), operands)]
    spec = ",".join(s for s, _ in pairs) + "->" + out
    return apply(_einsum, *[a for _, a in pairs], spec=spec)


def _without_repeated_labels(labels, x):
    """``(labels, x)`` with each label repeated in ``labels`` taken down to one axis, its
    diagonal (``"iij"`` of ``x`` becomes ``"ji"`` of ``diagonal(x)``): differentiable."""
    while len(set(labels)) != len(labels):
        label = next(c for c in labels if labels.count(c) > 1)
        first = labels.index(label)
        second = labels.index(label, first + 1)
        rest = [k for k in range(len(labels)) if k not in (first, second)]
        order = tuple(rest + [first, second])
        x = diagonal(x if order == tuple(range(len(order))) else permute_dims(x, order))
        labels = "".join(labels[k] for k in rest) + label
    return labels, x


__all__ = ["einsum"]
