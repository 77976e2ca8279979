"""The arguments and results of ``GradientTape.gradient``: the sources checked, the seed the
backward walk starts from, and each source's gradient as returned (a Tensor, or None/zeros for
an unconnected source).
"""
from __future__ import annotations

import numpy as np

from .backend import MixedBackendError
from .creation import asarray
from .pytree import is_node, is_registered, leaves, map_leaves
from .tensor import Tensor, _wrap


def check_sources(sources, unconnected_gradients):
    """``(single, list of sources, structure)`` of a ``gradient`` call, after checking its
    arguments. ``structure`` is None for one Tensor or a flat list/tuple of them (the result is
    then a Tensor, a list or a tuple, as ``sources``), else the nested lists, tuples (named
    too) and dicts the result is rebuilt in, as TensorFlow's ``tf.nest``; a Module among them
    stands for its trainable Variables, its gradient a module shaped like it, as
    ``xg.grad(loss)(model)``'s (module_sources.py).

    >>> import xpgrad as xg
    >>> check_sources(xg.asarray(1.0), "none")[0]
    True
    >>> check_sources({"w": [xg.asarray(1.0)]}, "none")[2].keys()
    dict_keys(['w'])
    """
    if unconnected_gradients not in ("none", "zero"):
        raise ValueError("unconnected_gradients must be 'none' or 'zero', got "
                         f"{unconnected_gradients!r}")
    if isinstance(sources, Tensor):
        return True, [sources], None
    if isinstance(sources, (list, tuple)):
        for s in sources:               # the hot path: a flat list of Variables
            if not isinstance(s, Tensor):
                break
        else:
            if type(sources) in (list, tuple):
                return False, list(sources), None
        # a named tuple (or another subclass) keeps its type, as nested ones do
        return False, *_sources_and_structure(sources)
    if isinstance(sources, dict) or is_node(sources):    # a Module, a registered class's node
        return False, *_sources_and_structure(sources)
    hint = ": a set has no order, pass a list or tuple" if isinstance(
        sources, (set, frozenset)) else ""
    try:
        if hint or isinstance(sources, (str, bytes)):
            raise TypeError
        src = list(sources)             # a generator or a dict's values: taken as a list
    except TypeError:
        raise TypeError("sources must be a Tensor or a list of Tensors, got "
                        f"{type(sources).__name__}{hint} (nested lists, tuples and dicts of "
                        "Tensors are taken too, as TensorFlow's, Modules and nodes of classes registered "
                        "as pytree nodes)") from None
    return check_sources(src, unconnected_gradients)


def _sources_and_structure(sources) -> tuple:
    """``(tensors, structure)`` of nested ``sources``; a Module among them stands for the
    tensors ``xg.grad`` differentiates in it, its gradient shaped like it (module_sources.py).
    """
    if is_registered(sources):          # one model: tape.gradient(loss, model)
        from .module_sources import SourceModule

        node = SourceModule(sources, "", "sources")
        return node.tensors(), node
    if not holds_module(sources):
        return tensor_leaves(sources, "sources"), sources
    from .module_sources import with_source_modules

    structure, found = with_source_modules(sources)
    return found, structure


def watched_tensors(tree) -> list:
    """The tensors ``tape.watch(tree)`` watches: the leaves of nested lists, tuples and dicts,
    each checked to be a Tensor, and of each Module in it the tensors ``xg.grad`` would
    differentiate (its trainable Variables: not its buffers or integer counters).

    >>> import xpgrad as xg
    >>> len(watched_tensors([xg.nn.BatchNorm1d(2), xg.ones(1)]))
    3
    """
    if tree.__class__ is list and all([t.__class__ is Tensor for t in tree]):
        return tree                     # xg.grad's sources
    if not holds_module(tree):
        return tensor_leaves(tree, "tensor", "watch() takes Tensors")
    from .module_sources import with_source_modules

    return with_source_modules(tree, "tensor")[1]


def holds_module(tree) -> bool:
    """Whether ``tree`` (a Module, or lists, tuples and dicts nesting anything) holds a
    registered pytree node (an ``xg.nn.Module``).

    >>> import xpgrad as xg
    >>> holds_module({"w": xg.ones(2)}), holds_module([{"m": xg.nn.ReLU()}])
    (False, True)
    """
    return any(map(is_registered, leaves(tree, is_leaf=is_registered)))


def tensor_leaves(tree, name, must=None) -> list:
    """The leaves of ``tree`` (nested lists, tuples, dicts), each checked to be a Tensor; a
    None in it is a leaf, as in TensorFlow's ``tf.nest``, so it is refused too. The TypeError
    says ``must`` (default: "``name`` must be Tensors") and the leaf's path (``sources['w'][1]``).

    >>> import xpgrad as xg
    >>> tensor_leaves({"w": [xg.asarray(1.0), "b"]}, "sources")
    Traceback (most recent call last):
    ...
    TypeError: sources must be Tensors, got str at sources['w'][1]
    """
    found = []

    def take(leaf, path):
        if not isinstance(leaf, Tensor):
            raise TypeError(f"{must or name + ' must be Tensors'}, got {type(leaf).__name__} at "
                            f"{name}{path}{_leaf_hint(leaf)}")
        found.append(leaf)

    map_leaves(take, tree, none_is_leaf=True)
    return found


def _leaf_hint(leaf) -> str:
    """What to do about a leaf that is not a Tensor, for the error message."""
    if leaf is None:
        return " (TensorFlow refuses a None there too: leave the entry out)"
    if isinstance(leaf, (set, frozenset)):
        return " (a set has no order: use a list or tuple)"
    if isinstance(leaf, (int, float, complex, np.generic, np.ndarray)):
        return " (wrap arrays with xg.asarray, or use the Variables themselves)"
    return ""


def check_target(target, where="target"):
    """Raise TypeError unless ``target`` is a Tensor; a number or NumPy array has left the tape
    (``float()``, ``.item()``, ``.numpy()``, or a library that returns Python floats, as
    scikit-learn's metrics do), and the message says so.

    >>> check_target(0.5)
    Traceback (most recent call last):
    ...
    TypeError: target must be a Tensor, got float: ...
    """
    if isinstance(target, Tensor):
        return
    message = f"{where} must be a Tensor, got {type(target).__name__}"
    if isinstance(target, (int, float, complex, np.generic, np.ndarray)):
        message += (": the value has left the tape (float(), .item(), .numpy(), or a library "
                    "that returns Python or NumPy numbers, as scikit-learn's metrics do), so "
                    "it has no gradient; compute it with xpgrad functions on Tensors")
    raise TypeError(message)


def nest_leaves(tree, path="") -> list:
    """``[(path, leaf)]`` in ``tf.nest.flatten``'s order: a dict's keys sorted, None a leaf.

    >>> nest_leaves({"b": 1, "a": [2, None]})
    [("['a'][0]", 2), ("['a'][1]", None), ("['b']", 1)]
    """
    if isinstance(tree, dict):
        try:
            keys = sorted(tree)
        except TypeError:               # keys of several types: in their own order
            keys = list(tree)
        return [pair for k in keys for pair in nest_leaves(tree[k], f"{path}[{k!r}]")]
    if isinstance(tree, (tuple, list)):
        return [pair for i, v in enumerate(tree) for pair in nest_leaves(v, f"{path}[{i}]")]
    return [(path, tree)]


def targets_and_seeds(target, output_gradients):
    """``(Tensors, seeds)`` of a nested ``target`` (TensorFlow differentiates the sum of its
    Tensors), each checked as ``check_target`` does, in ``tf.nest.flatten``'s order;
    ``output_gradients`` is flattened the same way, one entry per target Tensor (None: ones),
    so one in the target's structure lines up key by key.

    >>> import xpgrad as xg
    >>> ts, seeds = targets_and_seeds({"b": xg.asarray([1.0]), "a": xg.asarray(2.0)},
    ...                               {"a": 3.0, "b": None})
    >>> [t.tolist() for t in ts], [s.tolist() for s in seeds]
    ([2.0, [1.0]], [3.0, [1.0]])
    """
    if not is_node(target):
        check_target(target)
    targets = nest_leaves(target)
    for path, t in targets:
        check_target(t, f"target{path}")
    given = ([("", None)] * len(targets) if output_gradients is None else
             nest_leaves(output_gradients) if is_node(output_gradients) else
             [("", output_gradients)])
    if len(given) != len(targets):
        raise ValueError(f"output_gradients has {len(given)} entries for the {len(targets)} "
                         "Tensors of target; give one per target Tensor, in the target's "
                         "structure or flattened as tf.nest.flatten (None for ones)")
    seeds = [seed_of(t, g, f"output_gradients{g_path}", f"target{t_path}")
             for (t_path, t), (g_path, g) in zip(targets, given)]
    return [t for _, t in targets], seeds


def seed_of(target, output_gradients, og_label="output_gradients", target_label="the target"):
    """The gradient ``gradient()`` starts from: ones of ``target``'s shape, or
    ``output_gradients`` checked against it (a Tensor: another recording tape differentiates
    through it).

    >>> import xpgrad as xg
    >>> seed_of(xg.asarray([1.0, 2.0]), None).tolist()
    [1.0, 1.0]
    """
    be = target._backend
    if output_gradients is None:
        raw = target._data
        # np.ones_like is Python-level: 10x slower (a NumPy scalar, e.g. a sum's value, gets
        # the 0-d array it would give)
        if raw.__class__ is np.ndarray or isinstance(raw, np.generic):
            seed = np.empty(raw.shape, raw.dtype)
            seed.fill(1)
            return seed
        raw = be.xp.ones_like(raw)
    elif (output_gradients.__class__ is Tensor and output_gradients._backend is be
          and output_gradients._data.dtype == target._data.dtype
          and output_gradients._data.shape == target._data.shape
          and target.dtype.kind in "fc"):
        return output_gradients       # already what the checks and the cast below would give
    else:
        _check_cotangent(output_gradients, target, og_label, target_label)
        og = asarray(output_gradients, dtype=target.dtype, backend=be)
        if og.shape != target.shape:
            raise ValueError(f"{og_label} has shape {og.shape} but {target_label} has shape "
                             f"{target.shape}; they must match")
        return og        # a Tensor: another tape recording differentiates through it
    return raw


def _check_cotangent(og, target, og_label, target_label):
    """TypeError for an ``output_gradients`` that a cast to ``target``'s dtype would spoil: a
    complex one for a real target (its imaginary part dropped: a silently wrong gradient), a
    boolean or non-numeric one; MixedBackendError for a tensor on another backend."""
    if isinstance(og, Tensor):
        if og._backend is not target._backend:
            raise MixedBackendError(f"{og_label} is on backend {og._backend.name!r} but "
                                    f"{target_label} on {target._backend.name!r}; move it "
                                    f"with .to({target._backend.name!r})")
        kind = og.dtype.kind
    elif isinstance(og, (str, bytes)):
        kind = "U"
    else:                       # a backend array has its dtype; a list or a number, NumPy's
        kind = getattr(getattr(og, "dtype", None), "kind", None) or np.asarray(og).dtype.kind
    if kind == "c" and target.dtype.kind != "c":
        raise TypeError(f"{og_label} is complex but {target_label} is {target.dtype}: the "
                        f"imaginary part would be dropped")
    if kind not in "iufc":
        what = "booleans" if kind == "b" else "strings or objects"
        raise TypeError(f"{og_label} must hold numbers like {target_label} ({target.dtype}), "
                        f"got {what}")


def finish(g, source, unconnected):
    """The gradient of ``source`` as ``gradient()`` returns it: a Tensor, or for none
    None or zeros (``unconnected_gradients``).

    >>> import xpgrad as xg
    >>> finish(None, xg.asarray([1.0, 2.0]), "zero").tolist()
    [0.0, 0.0]
    """
    if g is None:
        if unconnected == "zero":
            from .creation import zeros_like

            return zeros_like(source)
        return None
    return g if isinstance(g, Tensor) else _wrap(g, source._backend)


def walk_seed(seed, target, higher):
    """The seed as the backward walk takes it: a Tensor when another tape records (it
    differentiates through the walk), else a raw array."""
    if higher:
        return seed if isinstance(seed, Tensor) else _wrap(seed, target._backend)
    return seed._data if isinstance(seed, Tensor) else seed


def walk_seeds(targets, seeds, higher, new_key):
    """{key: seed} of several targets (a target without a key gets ``new_key()``); a target
    given twice gets the sum of its seeds."""
    out = {}
    for t, s in zip(targets, seeds):
        if not t._key:
            t._key = new_key()
        key, s = t._key, walk_seed(s, t, higher)
        out[key] = out[key] + s if key in out else s
    return out
