"""Modules as pytree nodes, as equinox's and flax.nnx's models are in JAX: the leaves of a
Module are the tensors it holds (its Variables, trainable or not, in ``named_variables()``
order, the order ``functional_call`` names them; a tensor held in several places, tied
weights, once), and the rest (its class, its other attributes, its submodules) is the
structure. So ``xg.tree_map``, ``xg.tree_leaves``, ``xg.ravel_pytree``, ``xg.grad`` and
``xg.vmap`` take a model as they take a dict of arrays.

Rebuilding a module from new leaves (``tree_map``'s result, a gradient) copies it with the new
leaves in place of the old (module_rebuild.py: what ``copy.deepcopy`` makes, without its cost):
a new module of the same class, sharing no module, container or other mutable attribute with
the original (random generators aside: a stream both draw on from), which stays as it was. The walk that finds the leaves is cached and checked
(module_walks.py), and a copy gets its walk from the original's. The new leaves are held as
given (plain Tensors, where the original held Variables), so the new module is a value, as an
equinox model is, and its gradient flows to whatever made those tensors. A value that is no
tensor put in a leaf's place (None, a shape) is kept there but is no leaf of the result (None
is none in JAX either; JAX would see a shape's numbers).

>>> import xpgrad as xg
>>> model = xg.nn.Linear(2, 1, init="ones", rng=0)
>>> [leaf.shape for leaf in xg.tree_leaves(model)]
[(2, 1), (1,)]
>>> half = xg.tree_map(lambda p: p * 0.5, model)
>>> type(half).__name__, half(xg.ones((1, 2))).tolist(), model(xg.ones((1, 2))).tolist()
('Linear', [[1.0]], [[2.0]])
"""
from __future__ import annotations

from itertools import repeat

from ..pytree import MISSING, REBUILT_FLAG, Placeholder, register_node
from ..tensor import Tensor, Variable
from ..jit.capture import THREAD as _TRACES
from .module import Module
from .module_copy_plan import plan_of
from .module_rebuild import copied
from .module_structure import structure
from .module_walks import entry_of_copy, frozen_below, walked

#: the attribute ``ModuleKind.rebuilt`` sets on the modules it makes (``holds_tensors``)
_HOLDS_TENSORS = REBUILT_FLAG


class ModuleKind:
    """How ``xpgrad.pytree`` walks a Module (``register_node``'s protocol).

    >>> import xpgrad as xg
    >>> [suffix for suffix, _ in ModuleKind.children(xg.nn.MLP([2, 3, 1], rng=0), None)]
    ['.layers[0].w', '.layers[0].b', '.layers[1].w', '.layers[1].b']
    """

    @staticmethod
    def children(module, is_leaf, leaf_types=(Tensor, Placeholder)):
        """``[(path suffix, child)]``: the tensors below ``module`` (and the submodules for
        which ``is_leaf`` answers true), each once, in ``named_variables()`` order; the suffix
        names the child as Python reaches it (``".layers[0].w"``). ``leaf_types``: what else
        stands for a tensor (an ``xg.function`` result's placeholders). module_walks.py walks
        (and caches the walk)."""
        return walked(module, is_leaf, (Module, *leaf_types))

    @staticmethod
    def like(module, children, other):
        """What ``other`` (a module of ``module``'s class) holds at the places of
        ``children``, ``MISSING`` where it holds nothing there."""
        return [_at(other, steps) for steps in children.steps]

    @staticmethod
    def rebuilt(module, children, new, cache_walk=True):
        """A deep copy of ``module`` with ``new`` in place of ``children`` (wherever each is
        held: tied weights stay tied); module_rebuild.py copies it. ``cache_walk=False``: the
        copy gets no cached walk (``xg.grad``'s aliased copy, which it walks no more)."""
        memo = {id(child): value for (_, child), value in zip(children, new)}
        made = []
        plan = plan_of(module, children)
        rebuilt = plan(memo, made) if plan is not None else copied(module, memo, made)
        holds_tensors = not all(map(isinstance, new, repeat(Variable)))
        for copy_made in made:
            vars(copy_made)[_HOLDS_TENSORS] = holds_tensors
        if cache_walk:
            entry_of_copy(children, new, memo)
        return rebuilt

    @staticmethod
    def untrained(module, children) -> set:
        """The ids of the Variables among ``children`` (``children(module, None)``'s) outside
        ``module.trainable_variables``: buffers, frozen weights. From the cached walk where
        there is one and nothing traces (a trace reads the flags through
        ``trainable_variables``, each read a guard of the program)."""
        if _TRACES.tracer is not None or children.ref is None:
            trainable = {id(v) for v in module.trainable_variables}
            return {id(t) for _, t in children
                    if isinstance(t, Variable) and id(t) not in trainable}
        frozen = frozen_below(children)
        return {id(t) for _, t in children
                if isinstance(t, Variable) and (not t._trainable or id(t) in frozen)}

    @staticmethod
    def holds_tensors(module) -> bool:
        """Whether ``module`` was rebuilt with other than Variables in its leaves' places
        (plain Tensors: a value, which ``xg.function`` keys by structure): one flag read, not a
        walk."""
        return vars(module).get(_HOLDS_TENSORS, False)

    #: its submodules and Variables, as ``xg.function`` keys a model holding Variables
    structure = staticmethod(structure)

    @staticmethod
    def described(module):
        return f"a {type(module).__name__} module"


def _at(node, steps):
    """What ``node`` holds at ``steps`` (``_held_by``'s), ``MISSING`` where it holds
    nothing."""
    for kind, key in steps:
        if kind == "attr":
            node = vars(node).get(key, MISSING) if isinstance(node, Module) else MISSING
        elif kind == "index":
            if isinstance(node, dict):
                node = node.get(key, MISSING)
            elif isinstance(node, (list, tuple)) and key < len(node):
                node = node[key]
            else:
                node = MISSING
        else:
            node = (dict(node._items()).get(key, MISSING) if isinstance(node, Module)
                    else MISSING)
        if node is MISSING:
            return MISSING
    return node


def refuse_plain_tensors(module, who) -> None:
    """TypeError where ``module`` holds a plain Tensor where its Variables are looked for (it
    was rebuilt from a pytree's leaves), which ``who`` (a state dict, a checkpoint) would
    leave out without a word: it names the first place and how to get Variables back.

    >>> import xpgrad as xg
    >>> lin = xg.nn.Linear(2, 1, rng=0)
    >>> refuse_plain_tensors(xg.tree_map(lambda p: p * 2.0, lin), "state_dict")
    Traceback (most recent call last):
    ...
    TypeError: state_dict: this Linear holds a plain Tensor at .w (a module rebuilt ...
    """
    if not ModuleKind.holds_tensors(module):     # a module of the user's own: a plain Tensor
        return                                   # it holds is a constant (a positional code)
    for suffix, child in ModuleKind.children(module, None):
        if isinstance(child, Tensor) and not isinstance(child, Variable):
            raise TypeError(
                f"{who}: this {type(module).__name__} holds a plain Tensor at {suffix} (a "
                "module rebuilt from a pytree's leaves by xg.tree_map, xg.grad or "
                "apply_updates), which named_variables(), state dicts and checkpoints do not "
                "see; copy its values into a model's Variables first: "
                "xg.tree_map(lambda v, t: v.assign(t), model, new)")


register_node(Module, ModuleKind())
