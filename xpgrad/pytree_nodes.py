"""The user's own classes as pytree nodes, as ``jax.tree_util`` registers them:
``register_pytree_node(nodetype, flatten_func, unflatten_func)``,
``register_pytree_node_class`` and ``register_dataclass``. ``flatten_func(node)`` returns
``(children, aux_data)``: the children are subtrees (walked further), the aux data is static,
part of the structure (two nodes with different aux data are different structures; under
``xg.function`` a new aux data traces anew), so it must be hashable. A class is a node for
its instances of that exact class (a subclass is a leaf until registered), once: registering
twice is a ValueError, and there is no unregistering (JAX has none either).

>>> import dataclasses, xpgrad as xg
>>> @xg.register_dataclass
... @dataclasses.dataclass
... class Affine:
...     w: object
...     b: object
...     act: str = dataclasses.field(default="tanh", metadata=dict(static=True))
>>> leaves, treedef = xg.tree_flatten(Affine(1.0, [2.0, 3.0]))
>>> leaves, xg.tree_unflatten(treedef, [10.0, 20.0, 30.0])
([1.0, 2.0, 3.0], Affine(w=10.0, b=[20.0, 30.0], act='tanh'))
"""
from __future__ import annotations

import dataclasses

from .pytree import MISSING, _collect, _kind, _refilled, _walk_like, register_node


class _Children(list):
    """``UserNodeKind.children``'s answer: ``[(path suffix, leaf)]`` of every leaf below the
    node, with the node's subtrees, aux data and ``is_leaf`` kept to rebuild it."""

    __slots__ = ("subtrees", "suffixes", "aux", "is_leaf")


class UserNodeKind:
    """How ``xpgrad.pytree`` walks a class of the user's (``register_node``'s protocol): its
    children are the leaves below its subtrees, so every walk (grad, vmap, tree_map,
    optimizers) takes it as it takes a tuple.

    >>> kind = UserNodeKind(complex, lambda z: ((z.real, z.imag), None),
    ...                     lambda aux, parts: complex(*parts), "register_pytree_node")
    >>> kind.children(1 + 2j, None), kind.rebuilt(1 + 2j, kind.children(1 + 2j, None), [3, 4])
    ([('[<flat index 0>]', 1.0), ('[<flat index 1>]', 2.0)], (3+4j))
    """

    def __init__(self, nodetype, flatten_func, unflatten_func, who, field_names=None):
        self.nodetype, self.flatten_func, self.unflatten_func = (
            nodetype, flatten_func, unflatten_func)
        self.who, self.field_names = who, field_names

    def subtrees(self, node) -> tuple:
        """``(children, aux_data)`` of ``node``, checked: TypeError naming ``flatten_func``
        where it returns anything else."""
        got = self.flatten_func(node)
        if not isinstance(got, tuple) or len(got) != 2:
            raise TypeError(
                f"{self.who}: flatten_func of {self.nodetype.__name__} must return a pair "
                f"(children, aux_data), got {type(got).__name__} {got!r:.80}")
        children, aux = got
        if isinstance(children, (str, bytes, dict)) or not hasattr(children, "__iter__"):
            raise TypeError(
                f"{self.who}: flatten_func of {self.nodetype.__name__} must return "
                f"(children, aux_data) with children a tuple or list of subtrees, got "
                f"{type(children).__name__} {children!r:.80}")
        return list(children), aux

    def made(self, aux, children):
        """The node ``unflatten_func`` makes of ``aux`` and ``children``, given as a tuple (as
        JAX gives them: a node that keeps them as they come holds a tuple)."""
        return self.unflatten_func(aux, tuple(children))

    def suffix(self, i) -> str:
        """How a path names child ``i``: ``.name`` for a dataclass's field, JAX's
        ``[<flat index i>]`` otherwise."""
        return f".{self.field_names[i]}" if self.field_names else f"[<flat index {i}>]"

    def children(self, node, is_leaf, leaf_types=None):
        subtrees, aux = self.subtrees(node)
        found = _Children()
        found.subtrees, found.aux, found.is_leaf = subtrees, aux, is_leaf
        found.suffixes = [self.suffix(i) for i in range(len(subtrees))]
        for suffix, subtree in zip(found.suffixes, subtrees):
            _collect(subtree, suffix, found, is_leaf, True)
        return found

    def like(self, node, children, other):
        """What ``other`` (of ``node``'s class) holds at the places of ``children``; all
        ``MISSING`` itself where its aux data or subtrees differ (another structure, as in
        JAX)."""
        subtrees, aux = self.subtrees(other)
        found = []
        try:
            if aux != children.aux or len(subtrees) != len(children.subtrees):
                raise ValueError
            for suffix, mine, theirs in zip(children.suffixes, children.subtrees, subtrees):
                _walk_like(mine, theirs, suffix, found, "", "", children.is_leaf)
        except ValueError:
            return MISSING
        return [value for _, value in found]

    def rebuilt(self, node, children, new, cache_walk=True):
        it = iter(new)
        return self.made(children.aux, [_refilled(subtree, it, False, children.is_leaf)
                                        for subtree in children.subtrees])

    def described(self, node):
        return f"a {type(node).__name__} node with aux data {self.subtrees(node)[1]!r:.60}"


def user_kind(value):
    """The ``UserNodeKind`` of ``value`` where its class is registered by the user, else
    None."""
    kind = _kind(value)
    return kind if isinstance(kind, UserNodeKind) else None


def _checked_class(nodetype, who):
    if not isinstance(nodetype, type):
        raise TypeError(f"{who}: nodetype must be a class, got {type(nodetype).__name__} "
                        f"{nodetype!r:.60}")
    if issubclass(nodetype, (tuple, list, dict)) or _kind_of_class(nodetype) is not None:
        raise ValueError(f"{who}: {nodetype.__name__} is a pytree node already (registered "
                         "before, or a tuple, list, dict or xg.nn.Module); a class registers "
                         "once, as in JAX")
    return nodetype


def _kind_of_class(nodetype):
    from .pytree import _KINDS
    return next((kind for cls, (kind, exact) in _KINDS.items()
                 if (nodetype is cls if exact else issubclass(nodetype, cls))), None)


#: the classes registered here, in order (``nn/module_user_nodes.py`` checks nothing while it
#: is empty)
REGISTERED_CLASSES: list = []


def _register(nodetype, flatten_func, unflatten_func, who, field_names=None):
    for name, fn in (("flatten_func", flatten_func), ("unflatten_func", unflatten_func)):
        if not callable(fn):
            raise TypeError(f"{who}: {name} must be a callable, got {type(fn).__name__} "
                            f"{fn!r:.60}")
    register_node(nodetype, UserNodeKind(nodetype, flatten_func, unflatten_func, who,
                                         field_names), exact=True)
    REGISTERED_CLASSES.append(nodetype)


def register_pytree_node(nodetype, flatten_func, unflatten_func):
    """Make ``nodetype``'s instances pytree nodes, as ``jax.tree_util.register_pytree_node``:
    ``flatten_func(node)`` returns ``(children, aux_data)`` (children: a tuple or list of
    subtrees; aux_data: hashable, static), ``unflatten_func(aux_data, children)`` makes the
    node back. Returns None, as JAX's.

    >>> import xpgrad as xg
    >>> class Pair:
    ...     def __init__(self, a, b, name):
    ...         self.a, self.b, self.name = a, b, name
    >>> xg.register_pytree_node(Pair, lambda p: ((p.a, p.b), p.name),
    ...                         lambda name, ab: Pair(*ab, name))
    >>> doubled = xg.tree_map(lambda x: 2 * x, Pair(1.0, {"c": 2.0}, "p"))
    >>> doubled.a, doubled.b, doubled.name
    (2.0, {'c': 4.0}, 'p')
    """
    _register(_checked_class(nodetype, "register_pytree_node"), flatten_func, unflatten_func,
              "register_pytree_node")


def register_pytree_node_class(cls):
    """Register ``cls`` by its own ``tree_flatten()`` method and ``tree_unflatten(aux_data,
    children)`` classmethod, as ``jax.tree_util.register_pytree_node_class``; returns ``cls``
    (a decorator).

    >>> import xpgrad as xg
    >>> @xg.register_pytree_node_class
    ... class Scaled:
    ...     def __init__(self, x, scale):
    ...         self.x, self.scale = x, scale
    ...     def tree_flatten(self):
    ...         return (self.x,), self.scale
    ...     @classmethod
    ...     def tree_unflatten(cls, scale, children):
    ...         return cls(*children, scale)
    >>> xg.tree_leaves(Scaled([1.0, 2.0], 3)), xg.tree_structure(Scaled(0.0, 3)).num_leaves
    ([1.0, 2.0], 1)
    """
    who = "register_pytree_node_class"
    _checked_class(cls, who)
    for name in ("tree_flatten", "tree_unflatten"):
        if not callable(getattr(cls, name, None)):
            raise TypeError(f"{who}: cls must have a {name} method (JAX's protocol), "
                            f"{cls.__name__} has none")
    _register(cls, lambda node: node.tree_flatten(), cls.tree_unflatten, who)
    return cls


def register_dataclass(nodetype, data_fields=None, meta_fields=None, drop_fields=()):
    """Register a class whose state is its fields, as ``jax.tree_util.register_dataclass``:
    ``data_fields`` are its children, ``meta_fields`` its static aux data, and
    ``nodetype(**fields)`` makes it back; returns ``nodetype`` (a decorator). For a
    ``@dataclass`` both may be left out: its ``init`` fields are data, but those made with
    ``field(metadata=dict(static=True))``, which are meta (JAX's defaults); ``drop_fields``:
    ``init`` fields left out.

    >>> import dataclasses, xpgrad as xg
    >>> @xg.register_dataclass
    ... @dataclasses.dataclass
    ... class Params:
    ...     w: object
    ...     scale: float = dataclasses.field(default=1.0, metadata=dict(static=True))
    >>> xg.tree_leaves(Params(w=[1.0, 2.0], scale=0.5))
    [1.0, 2.0]
    """
    who = "register_dataclass"
    _checked_class(nodetype, who)
    if data_fields is None or meta_fields is None:
        if (data_fields is None) != (meta_fields is None):
            raise TypeError(f"{who}: data_fields and meta_fields are given together or not at "
                            f"all, got data_fields={data_fields!r} meta_fields={meta_fields!r}")
        if not dataclasses.is_dataclass(nodetype):
            raise TypeError(f"{who}: data_fields and meta_fields are needed where nodetype "
                            f"is no dataclass ({nodetype.__name__})")
        fields = dataclasses.fields(nodetype)
        data_fields = [f.name for f in fields if not f.metadata.get("static", False)]
        meta_fields = [f.name for f in fields if f.metadata.get("static", False)]
    for name, value in (("data_fields", data_fields), ("meta_fields", meta_fields),
                        ("drop_fields", drop_fields)):
        if isinstance(value, str) or not all(isinstance(v, str) for v in value):
            raise TypeError(f"{who}: {name} must be a list of field names, got {value!r:.80}")
    data_fields, meta_fields = tuple(data_fields), tuple(meta_fields)
    if dataclasses.is_dataclass(nodetype):
        wanted = {f.name for f in dataclasses.fields(nodetype) if f.init} - set(drop_fields)
        if {*data_fields, *meta_fields} != wanted:
            raise ValueError(
                f"{who}: data_fields and meta_fields must name the init fields of "
                f"{nodetype.__name__} (less drop_fields), each once: missing "
                f"{sorted(wanted - {*data_fields, *meta_fields})}, not fields "
                f"{sorted({*data_fields, *meta_fields} - wanted)}")
    if overlap := set(data_fields) & set(meta_fields):
        raise ValueError(f"{who}: data_fields and meta_fields share {sorted(overlap)}")

    def flatten_func(node):
        return (tuple(getattr(node, name) for name in data_fields),
                tuple(getattr(node, name) for name in meta_fields))

    def unflatten_func(meta, data):
        return nodetype(**dict(zip(meta_fields, meta)), **dict(zip(data_fields, data)))

    _register(nodetype, flatten_func, unflatten_func, who, data_fields)
    return nodetype
