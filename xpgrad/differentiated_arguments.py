"""The differentiated arguments of the function transformations (``grad``, ``jacobian``,
``hessian`` in functional.py; ``vjp``, ``jvp``, ``hvp`` in products.py; ``jacfwd``, ``jacrev``):
``argnums`` checked, each differentiated argument (a pytree too: a dict, tuple, list or Module)
made floating-point Tensors and aliased (``_prepare``), its leaves that are sources
(``_sources``), and gradients put back in the arguments' structure (``_per_argument``).

>>> import xpgrad as xg
>>> single, nums, args = _prepare((xg.asarray([1.0, 2.0]), 3.0), 0)
>>> single, nums, [type(leaf).__name__ for leaf in _sources(args, nums)[1]]
(True, (0,), ['Tensor'])
"""
from __future__ import annotations

import numbers
from itertools import compress

import numpy as np

from .creation import asarray
from .pytree_nodes import user_kind
from .pytree import _kind as _node_kind, is_registered as _is_module, leaves, map_leaves, rebuild
from .appliers import tape_state
from .jit.capture import THREAD as _TRACES
from .tensor import Tensor, Variable, _wrap

_new = object.__new__

#: ``_prepare``'s ``argnums`` of a transform that differentiates all its ``primals`` (``vjp``)
PRIMALS = "primals"


def _prepare(args, argnums, keywords=(), who=None):
    """``(single, nums, args)``: whether ``argnums`` is one int, it as a tuple, and ``args``
    with the differentiated ones made floating-point Tensors and aliased (``_distinct``). The
    errors start with ``who``, the transform; ``argnums=PRIMALS`` differentiates every
    argument, a transform's ``primals`` (``vjp``), which its errors name so."""
    prefix = "" if who is None else who + ": "
    if argnums is PRIMALS:
        nums = tuple(range(len(args)))
        return False, nums, _distinct(
            [_differentiated_argument(a, f"{prefix}primals[{i}]", PRIMALS)
             for i, a in enumerate(args)], nums, PRIMALS, lambda i: f"{prefix}primals[{i}]")
    single = isinstance(argnums, numbers.Integral) and not isinstance(argnums, bool)
    nums = (argnums,) if single else (tuple(argnums) if isinstance(argnums, (tuple, list))
                                      else None)
    if nums is None or any(isinstance(i, bool) or not isinstance(i, numbers.Integral)
                           for i in nums):
        raise TypeError(f"{prefix}argnums must be an int or a tuple of ints, got {argnums!r}")
    nums = tuple(int(i) for i in nums)
    args = list(args)
    for i in nums:
        if not -len(args) <= i < len(args):
            hint = (f"; the differentiated arguments are positional, f got {sorted(keywords)} "
                    "by keyword" if keywords else "")
            raise ValueError(f"{prefix}argnums {i} is out of range for {len(args)} "
                             f"positional arguments{hint}")
        args[i] = _differentiated_argument(args[i], f"{prefix}argument {i % len(args)}",
                                           argnums)
    return single, nums, _distinct(args, nums, argnums, lambda i: f"{prefix}argument {i}")


def _is_tree(value) -> bool:
    """Whether a differentiated argument is a pytree: a dict, a Module, a class registered by
    ``xg.register_pytree_node`` (pytree_nodes.py), or a tuple or list
    holding a Tensor, a NumPy array, a dict or a Module (a nested list of numbers is one
    array, as xg.asarray reads it)."""
    if isinstance(value, dict) or _is_module(value) or user_kind(value) is not None:
        return True
    return isinstance(value, (tuple, list)) and any(
        isinstance(v, (Tensor, np.ndarray)) or _is_tree(v) for v in value)


def _differentiated_argument(value, where, argnums):
    """The argument at ``where`` (``"grad: argument 0"``) with every array in it a floating-point Tensor: a pytree keeps its
    structure. In a Module, a tensor that is not floating-point (BatchNorm's batch counter)
    stays as it is, and its gradient is None (equinox's ``filter_grad``)."""
    if _is_module(value):       # its tensors are checked as they are aliased (_aliased)
        return value
    if not _is_tree(value):
        return _differentiable(value, where, argnums)
    return map_leaves(lambda leaf, path: _converted(leaf, f"{where}{path}", argnums), value,
                      is_leaf=_is_module)


def _converted(leaf, where, argnums):
    """A leaf of a differentiated pytree as ``_differentiable`` makes it; a Module as it is
    (its leaves are tensors, those that are not floating-point get no gradient; ``_aliased``
    refuses one holding something else where a tensor was, a ``ravel_pytree`` placeholder)."""
    if not _is_module(leaf):
        return _differentiable(leaf, where, argnums)
    return leaf


def _is_float(leaf) -> bool:
    return isinstance(leaf, Tensor) and leaf.dtype.is_inexact


def _differentiable(value, where, argnums):
    """The argument at ``where`` (``"grad: argument 0"``) as a floating-point Tensor;
    TypeError naming it otherwise (an integer or boolean has no gradient: JAX refuses it too).
    ``argnums`` PRIMALS: a transform's primals, all differentiated."""
    chosen = "" if argnums is PRIMALS else f" (argnums={argnums!r})"
    if not isinstance(value, Tensor):
        try:
            value = asarray(value)
        except (TypeError, ValueError) as e:
            why = "" if argnums is PRIMALS else f"differentiated{chosen} but is "
            raise TypeError(f"{where} ({type(value).__name__} {value!r:.40}) is {why}not a "
                            f"tensor or numbers: {e}") from None
    if not value.dtype.is_inexact:
        raise TypeError(f"{where} has dtype {value.dtype} and is differentiated{chosen}: "
                        "only floating-point (real or complex) arguments have gradients; "
                        "pass it as floats (xg.asarray(..., dtype=xg.float64))"
                        f"{'' if argnums is PRIMALS else ' or leave it out of argnums'}")
    return value


def _distinct(args, nums, argnums, label):
    """``args`` where each differentiated argument (or leaf of a pytree) is replaced by its own
    alias, so its gradient is the partial derivative, as in JAX and PyTorch, not the total one
    through the other ways the same tensor reaches ``f`` (``f(x, x)``, inside an argument not
    differentiated, a keyword, a closure); tapes outside still see each alias come from the
    tensor. In a Module, the tensors that are no sources (``_kept``) stay as they are: a
    training-mode forward updates its buffers in place, as through ``functional_call``.
    ``label(i)``: how the errors name argument ``i``."""
    prepared = _Prepared(args)
    prepared.before, prepared.groups, prepared.walks = list(args), {}, {}
    for i in {n % len(args) for n in nums}:
        group = prepared.groups[i] = _Group()
        if _is_module(args[i]):         # walked once: _per_argument rebuilds from this walk
            prepared[i] = _aliased(args[i], group, label(i), argnums, prepared.walks, i)
            continue
        prepared[i] = map_leaves(
            lambda leaf, path, i=i: _aliased(leaf, group, f"{label(i)}{path}", argnums),
            args[i],
            is_leaf=_is_module)
    return prepared


class _Group(list):
    """The leaves of a differentiated argument after aliasing, with ``sources``: whether each
    is differentiated (``_is_source``), known as each is made."""

    def __init__(self):
        super().__init__()
        self.sources = []


class _Prepared(list):
    """``_prepare``'s arguments, the differentiated ones aliased (``_distinct``), with
    ``groups``: ``{i: the leaves of argument i after aliasing}``, and ``before``: the arguments
    before, whose structure ``_per_argument`` rebuilds (a Module the caller passed, whose walk
    is cached, not its aliased copy)."""

    before: list
    groups: dict
    #: ``{i: (kind, children)}``: the walk of argument i where it is a Module
    walks: dict


def _aliased(leaf, group, where, argnums, walks=None, i=None):
    """``leaf`` (at argument ``where``)'s alias (a Module: its copy holding its tensors'
    aliases), the new leaves appended to ``group`` in ``leaves`` order (and whether each is a
    source to ``group.sources``); TypeError naming the place where a Module holds no tensor in
    a leaf's place. ``walks``: where to keep a Module's walk, as ``walks[i]``."""
    if not _is_module(leaf):
        alias = _alias(leaf)
        group.append(alias)
        group.sources.append(_is_source(alias))
        return alias
    kind = _node_kind(leaf)
    children = kind.children(leaf, None)
    sources = _module_sources(leaf, kind, children, where, argnums)
    new = _module_aliases(children, sources)
    group.extend(new)
    group.sources.extend(sources)
    if walks is not None:
        walks[i] = kind, children
    return kind.rebuilt(leaf, children, new, cache_walk=False)


def _module_aliases(children, sources) -> list:
    """The leaves of a Module's aliased copy: each source's alias, the other tensors as they
    are."""
    if tape_state.recording:
        return [_alias(t) if source else t for (_, t), source in zip(children, sources)]
    return [(_wrap(t._data, t._backend) if t.__class__ is Variable or t.__class__ is Tensor
             else _alias(t)) if source else t            # (_alias's untaped case, inline)
            for (_, t), source in zip(children, sources)]


def prepare_module(args, i, argnums, who):
    """``_prepare`` and ``_sources`` where argument ``i`` (``argnums``, an int) is a Module, in
    one pass: ``(args with the module's aliased copy at i, the sources, the walk)``, the walk
    being what ``module_gradient`` makes the gradient from. Where no tape records, the
    gradient's module is copied here too, from the same walk just checked (and its code still
    warm), holding empty Tensors that ``module_gradient`` fills: a walk after ``f`` ran, and a
    check of it, spared.

    >>> import xpgrad as xg
    >>> lin = xg.nn.Linear(2, 1, rng=0)
    >>> args, sources, walk = prepare_module((lin, 1.0), 0, 0, "grad")
    >>> type(args[0]).__name__, args[0] is lin, len(sources), args[1]
    ('Linear', False, 2, 1.0)
    """
    module = args[i]
    kind = _node_kind(module)
    children = kind.children(module, None)
    mask = _module_sources(module, kind, children, f"{who}: argument {i}", argnums)
    new = _module_aliases(children, mask)
    args = list(args)
    args[i] = kind.rebuilt(module, children, new, cache_walk=False)
    sources = list(compress(new, mask))
    if tape_state.recording:        # (the gradients are recorded Tensors: rebuilt after f)
        return args, sources, (module, kind, children, mask, None, None)
    shells = [_new(Tensor) if source else None for source in mask]
    # no walk kept for it (entry_of_copy costs a fifth of the overhead here): the loops that
    # use it read it in the model's walk (tree_map(f, model, grads), opt.apply(grads, model));
    # the first walk of its own keeps one
    made = kind.rebuilt(module, children, shells, cache_walk=False)
    return args, sources, (module, kind, children, mask, made, list(compress(shells, mask)))


def module_gradient(flat, walk):
    """``flat`` (one gradient per source of ``prepare_module``) in the structure of the module
    that ``walk`` (``prepare_module``'s) walked: a module of its class, None at the tensors
    that are no sources."""
    module, kind, children, mask, made, shells = walk
    if made is not None and all([g.__class__ is Tensor for g in flat]):
        for shell, g in zip(shells, flat):         # each empty Tensor takes its gradient
            shell._data = g._data
            shell._backend = g._backend
            shell._key = g._key
        return made
    entries = iter(flat)
    values = [next(entries) if source else None for source in mask]
    if kind.children(module, None) is children:        # unchanged since f ran
        return kind.rebuilt(module, children, values)
    return rebuild(module, values)


def _module_sources(module, kind, children, where, argnums) -> list:
    """Whether each of ``module``'s ``children`` is differentiated (not ``_kept``); TypeError
    naming the place where the module holds no tensor in a leaf's place. Kept with a cached
    walk (whose checks cover the modules' flags and what each child is) beside the
    ``trainable`` flags of its Variables, the one thing they do not cover; not under a trace
    (``untrained`` reads the flags there as the program's guards)."""
    cached = children.__dict__.get("grad_sources") if children.ref is not None else None
    if cached is not None and _TRACES.tracer is None:
        variables, flags, sources = cached
        if [v._trainable for v in variables] == flags:
            return sources
    for suffix, t in children:
        if not isinstance(t, Tensor):
            _differentiable(t, f"{where}{suffix}", argnums)
    kept = _kept(module, kind, children)
    sources = [id(t) not in kept for _, t in children]
    if children.ref is not None and _TRACES.tracer is None:
        variables = [t for _, t in children if isinstance(t, Variable)]
        children.grad_sources = (variables, [v._trainable for v in variables], sources)
    return sources


def _alias(t):
    """A new Tensor standing for ``t``: the same array in a Tensor of its own where no tape
    records (nothing would see the copy's node: tapes, forward mode and ``xg.vmap``'s
    gradients all record on tapes), else ``positive(t)``, which outer tapes see come from
    ``t``."""
    if not tape_state.recording and (t.__class__ is Variable or t.__class__ is Tensor):
        return _wrap(t._data, t._backend)
    return _positive(t)


def _kept(module, kind, children) -> set:
    """The ids of the tensors of ``module`` (its ``children``, its pytree ``kind``'s) that are
    not differentiated: those that are not floating-point, and its Variables outside
    ``trainable_variables`` (buffers such as running statistics, frozen weights), as PyTorch
    differentiates parameters only."""
    untrained = kind.untrained(module, children)
    return untrained.union(_not_float(children))


def _not_float(children) -> set:
    """The ids of the tensors among ``children`` that are not floating-point; kept with a
    cached walk (a tensor's dtype does not change: a Variable's assignments keep it, and
    another tensor in its place is another walk)."""
    found = getattr(children, "not_float", None)
    if found is None:
        found = {id(t) for _, t in children if not _is_float(t)}
        if getattr(children, "ref", None) is not None:
            children.not_float = found
    return found


def without_buffers(tree):
    """``tree`` with None in place of each Module's tensors that ``xg.grad`` does not
    differentiate (``_kept``: buffers, integer tensors), what an optimizer's ``init`` keeps
    state for (equinox's ``eqx.filter(model, eqx.is_inexact_array)``).

    >>> import xpgrad as xg
    >>> bn = xg.nn.BatchNorm1d(2)
    >>> len(xg.tree_leaves(bn)), len(xg.tree_leaves(without_buffers(bn)))
    (5, 2)
    """
    return map_leaves(_trainable_part, tree, is_leaf=_is_module)


def _trainable_part(leaf, path):
    if not _is_module(leaf):
        return leaf
    kind = _node_kind(leaf)
    children = kind.children(leaf, None)
    kept = _kept(leaf, kind, children)
    return kind.rebuilt(leaf, children, [None if id(t) in kept else t for _, t in children])


def _is_source(leaf) -> bool:
    """Whether a leaf of a differentiated argument (after ``_distinct``) is differentiated:
    what stays a Variable there is a Module's buffer."""
    return _is_float(leaf) and not isinstance(leaf, Variable)


def _sources(args, nums):
    """``(groups, sources)``: the leaves of each differentiated argument, and all of them
    that are differentiated (not a Module's buffers and integer tensors)."""
    if isinstance(args, _Prepared):
        groups = [args.groups[i % len(args)] for i in nums]
        return groups, [leaf for group in groups
                        for leaf, source in zip(group, group.sources) if source]
    groups = [leaves(args[i]) for i in nums]
    return groups, [leaf for group in groups for leaf in group if _is_source(leaf)]


def _per_argument(flat, args, nums, groups, single):
    """``flat`` (one entry per source) in the differentiated arguments' structure: one tree,
    or a tuple of them; None for a leaf that is no source."""
    entries = iter(flat)
    if not isinstance(args, _Prepared):
        trees = [rebuild(args[i], [next(entries) if _is_source(leaf) else None
                                   for leaf in group])
                 for i, group in zip(nums, groups)]
        return trees[0] if single else tuple(trees)
    trees = []
    for i, group in zip(nums, groups):
        values = [next(entries) if source else None for source in group.sources]
        walk = args.walks.get(i % len(args))
        module = args.before[i]
        if walk is not None and walk[0].children(module, None) is walk[1]:
            trees.append(walk[0].rebuilt(module, walk[1], values))   # unchanged since f ran
        else:
            trees.append(rebuild(module, values))
    return trees[0] if single else tuple(trees)


def _positive(t):
    """``xg.positive``, imported on first call (this module is imported while the ops are)
    and then called directly: an import statement per call cost a microsecond."""
    global _positive
    from .ops import positive

    _positive = positive
    return positive(t)
