"""Models among the sources of ``tape.gradient`` (and of ``tape.jacobian`` and a
``DistributedGradientTape``'s ``gradient``) and among the variables of ``Optimizer.apply``. A
Module stands there for the tensors ``xg.grad(loss)(model)`` differentiates in it: its
trainable floating-point Variables (a model rebuilt from a pytree's leaves: its plain tensors),
not its buffers (BatchNorm's running statistics), frozen weights or integer tensors. Its
gradient comes back as ``xg.grad``'s does, shaped like the model: a module of its class holding
the gradients, None in the other places.

A ``SourceModule`` takes the module's place in the sources' structure; it is a pytree node
whose leaves are those tensors, so ``pytree.rebuild`` of the structure with the gradients
makes the result.

>>> import xpgrad as xg
>>> bn = xg.nn.BatchNorm1d(2)
>>> structure, sources = with_source_modules({"bn": bn})
>>> [s is v for s, v in zip(sources, [bn.weight, bn.bias])], len(sources)
([True, True], 2)
>>> grads = xg.pytree.rebuild(structure, [xg.ones(2), xg.zeros(2)])
>>> type(grads["bn"]).__name__, grads["bn"].weight.tolist(), grads["bn"].running_mean
('BatchNorm1d', [1.0, 1.0], None)
"""
from __future__ import annotations

from .differentiated_arguments import _kept
from .pytree import (MISSING, _kind, is_registered, leaves, leaves_like, map_leaves,
                     register_node)
from .tensor import Tensor, Variable


class SourceModule:
    """A Module in a sources structure: ``module``, its pytree ``kind`` and ``children`` (all
    its tensors), ``sources``: the ``(path suffix, tensor)`` of those differentiated, and
    ``kept``: the ids of the others.

    >>> import xpgrad as xg
    >>> [suffix for suffix, _ in SourceModule(xg.nn.BatchNorm1d(2), "", "sources").sources]
    ['.weight', '.bias']
    """

    __slots__ = ("module", "kind", "children", "sources", "where", "kept")

    def __init__(self, module, where, who):
        kind = _kind(module)
        children = kind.children(module, None)
        for suffix, child in children:
            if not isinstance(child, Tensor):
                raise TypeError(f"{who}{where}{suffix} is a {type(child).__name__}, not a "
                                f"tensor: this {type(module).__name__} is a skeleton (an "
                                "unravel's structure), which has nothing to differentiate")
        kept = _kept(module, kind, children)
        self.module, self.kind, self.children, self.where = module, kind, children, where
        self.sources = [(suffix, t) for suffix, t in children if id(t) not in kept]
        self.kept = kept
        if not self.sources:
            raise ValueError(f"{who}{where}: this {type(module).__name__} has nothing to "
                             f"differentiate: {_why_none(module, children)}")

    def tensors(self) -> list:
        """The differentiated tensors, in order."""
        return [t for _, t in self.sources]

    def gradients_in(self, grads, path, who="grads", against="variables") -> list:
        """What ``grads`` (a module of this one's class: a gradient shaped like it) holds at
        the places of ``sources``; ValueError naming the place where it holds nothing."""
        module = self.module
        if type(grads) is not type(module):
            got = ("None" if grads is None else
                   f"a {type(grads).__name__}" + (" module" if is_registered(grads) else ""))
            raise ValueError(f"{who}{path} is {got} where {against}{path} is a "
                             f"{type(module).__name__} module; pass the gradient shaped like "
                             "it (tape.gradient(loss, model) or xg.grad(loss)(model) gives it)")
        wanted = {id(t) for _, t in self.sources}
        out = []
        for (suffix, child), value in zip(self.children,
                                          self.kind.like(module, self.children, grads)):
            if id(child) not in wanted:
                continue
            if value is MISSING:
                raise ValueError(f"{who}{path}{suffix} is missing where {against}{path}"
                                 f"{suffix} is a tensor; they must have the same structure")
            out.append(value)
        return out


def _why_none(module, children) -> str:
    """Why ``module`` has no tensor to differentiate, for the error message."""
    if not children:
        return "it holds no tensors (a layer without weights, such as an activation)"
    if not module.trainable:
        return ("it is frozen (trainable = False); set trainable = True, or take the "
                "gradients of the input instead")
    return ("its tensors are buffers, frozen weights or integers (trainable_variables is "
            "empty); unfreeze a weight (v.trainable = True) to differentiate it")


class _SourceModuleKind:
    """How ``xpgrad.pytree`` walks a SourceModule (``register_node``'s protocol): its children
    are the differentiated tensors; rebuilt, it is the module holding the new values there and
    None elsewhere."""

    @staticmethod
    def children(node, is_leaf):
        return node.sources

    @staticmethod
    def like(node, children, other):
        return node.gradients_in(other, "", "other", "the sources")

    @staticmethod
    def rebuilt(node, children, new):
        kind, module, kept = node.kind, node.module, node.kept
        walk = kind.children(module, None)          # as it is now (the walk is checked)
        if walk is node.children and children is node.sources:
            # no walk kept for the gradient: what takes it (opt.apply, tree_map) pairs it
            # with the model by the model's walk
            it = iter(new)
            return kind.rebuilt(module, walk, [None if id(t) in kept else next(it)
                                               for _, t in walk], cache_walk=False)
        values = dict(zip([id(t) for _, t in children], new))
        return kind.rebuilt(module, walk, [values.get(id(t)) for _, t in walk])

    @staticmethod
    def described(node):
        return node.kind.described(node.module)


register_node(SourceModule, _SourceModuleKind())


def with_source_modules(tree, who="sources"):
    """``(structure, tensors)``: ``tree`` with each Module replaced by its ``SourceModule``,
    and the leaves of that (each Module's differentiated tensors, in its place). A leaf that
    is no Tensor is a TypeError naming it (``tape.gradient``'s rule; None too, as
    TensorFlow's); a Module with nothing to differentiate is a ValueError.

    >>> import xpgrad as xg
    >>> with_source_modules([xg.nn.ReLU()])
    Traceback (most recent call last):
    ...
    ValueError: sources[0]: this ReLU has nothing to differentiate: it holds no tensors (a \
layer without weights, such as an activation)
    """
    from .gradient_call import _leaf_hint

    found = []

    def take(leaf, path):
        if is_registered(leaf):
            node = SourceModule(leaf, path, who)
            found.extend(node.tensors())
            return node
        if not isinstance(leaf, Tensor):
            raise TypeError(f"{who} must be Tensors or Modules, got {type(leaf).__name__} at "
                            f"{who}{path}{_leaf_hint(leaf)}")
        found.append(leaf)
        return leaf

    return map_leaves(take, tree, none_is_leaf=True, is_leaf=is_registered), found


def gradient_pairs(grads, variables) -> list:
    """``Optimizer.apply``'s ``[(gradient, variable)]``: ``grads`` in the structure of
    ``variables`` (a Module: what ``tape.gradient(loss, model)`` gives; lists, tuples and
    dicts of Variables and Modules), each Module's trainable Variables paired with the
    gradients at their places.

    >>> import xpgrad as xg
    >>> lin = xg.nn.Linear(2, 1, rng=0)
    >>> grads = xg.tree_map(xg.ones_like, lin)
    >>> [(g.shape, v is lin.w or v is lin.b) for g, v in gradient_pairs(grads, lin)]
    [((2, 1), True), ((1,), True)]
    """
    if isinstance(variables, Tensor):
        return [(grads, variables)]
    if is_registered(variables):        # the usual call: one model
        node = SourceModule(variables, "", "variables")
        _refuse_values(node)
        return list(zip(node.gradients_in(grads, ""), node.tensors()))
    structure, _ = with_source_modules(variables, "variables")
    places = leaves_like(variables, grads, "grads", "variables", is_leaf=is_registered)
    tops = leaves(structure, is_leaf=lambda t: type(t) is SourceModule)
    pairs = []
    for (path, g), top in zip(places, tops):
        if type(top) is not SourceModule:
            pairs.append((g, top))
            continue
        _refuse_values(top)
        pairs.extend(zip(top.gradients_in(g, path), top.tensors()))
    return pairs


def _refuse_values(node) -> None:
    """TypeError where a Module among an optimizer's variables holds a plain Tensor (a model
    rebuilt from a pytree's leaves: a value, with no Variables to update in place)."""
    for suffix, t in node.sources:
        if not isinstance(t, Variable):
            raise TypeError(
                f"variables{node.where}{suffix} is a plain Tensor: this "
                f"{type(node.module).__name__} was rebuilt from a pytree's leaves "
                "(xg.tree_map, xg.grad, apply_updates), a value with no Variables to update in "
                "place; update it functionally (updates, state = opt.update(grads, state, "
                "model); model = xg.optim.apply_updates(model, updates)), or apply the "
                "gradients to the model holding the Variables")
