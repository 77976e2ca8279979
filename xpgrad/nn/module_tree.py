"""Walks of a module tree behind ``Module.named_modules`` / ``named_children`` / ``apply`` /
``count_params`` / ``summary``: PyTorch's order (a module before what it holds, attributes in
the order they were set), each module once, paths as ``named_variables`` builds them.

>>> import xpgrad as xg
>>> [path for path, _ in named_modules(xg.nn.MLP([2, 3, 1], rng=0), None)]
['mlp', 'mlp/linear0', 'mlp/linear1']
"""
from __future__ import annotations

from ..tensor import Tensor, Variable

#: what a container class's own ``_items`` may list that is no module: a Variable, or in a
#: module rebuilt from a pytree's leaves (module_pytree.py) a plain Tensor or None
_NOT_MODULES = (Tensor, type(None))


def named_children(module):
    """``(path component, Module)`` for the modules ``module`` holds directly (in attributes,
    or in lists, tuples and dicts in them), each once, ``module`` itself left out."""
    seen = {id(module)}
    for key, item in module._items():               # Modules and Variables
        if not isinstance(item, _NOT_MODULES) and id(item) not in seen:
            seen.add(id(item))
            yield key, item


def named_modules(module, prefix):
    """``(path, Module)`` for ``module`` (path ``prefix``, default its name) and every module
    below it, depth first, parents before children, each once where it is first reached
    (the path ``named_variables`` gives its variables)."""
    out = []
    _preorder(module, module.name if prefix is None else prefix, {id(module)}, out)
    return out


def apply(module, fn):
    """``fn(m)`` for every module below ``module`` and then ``module``, children before their
    parent (PyTorch's post-order), each module once."""
    if not callable(fn):
        raise TypeError(f"{type(module).__name__}.apply: fn must be a callable taking a module, "
                        f"got {type(fn).__name__} {fn!r}")
    _postorder(module, fn, {id(module)})
    return module


def _join(path, key):
    """``path/key``; ``key`` alone under the empty prefix (PyTorch's ``prefix=""``)."""
    return f"{path}/{key}" if path else key


# module-level recursion, not closures calling themselves (see _visit_modules)
def _preorder(m, path, seen, out):
    out.append((path, m))
    for key, child in named_children(m):
        if id(child) not in seen:
            seen.add(id(child))
            _preorder(child, _join(path, key), seen, out)


def _postorder(m, fn, seen):
    for _, child in named_children(m):
        if id(child) not in seen:
            seen.add(id(child))
            _postorder(child, fn, seen)
    fn(m)


def count(variables) -> int:
    """The number of values in ``variables`` (each Variable once)."""
    return sum(v.size for v in {id(v): v for v in variables}.values())


def summary(module) -> str:
    """The table ``Module.summary`` prints: one row per module (path, type, values held below
    it, of which trainable), then the totals."""
    trainable = {id(v) for v in module.trainable_variables}
    rows = [("Layer (path)", "Type", "Params", "Trainable")]
    for path, m in named_modules(module, None):
        variables = m.variables
        rows.append((path, type(m).__name__, f"{count(variables):,}",
                     f"{count(v for v in variables if id(v) in trainable):,}"))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    line = "  ".join("{:<%d}" % w if i < 2 else "{:>%d}" % w for i, w in enumerate(widths))
    rule = "-" * (sum(widths) + 6)
    total, n_trainable = count(module.variables), count(module.trainable_variables)
    return "\n".join([f"Model: {module.name!r} ({type(module).__name__})", rule,
                      line.format(*rows[0]), rule,
                      *(line.format(*row) for row in rows[1:]), rule,
                      f"Total params: {total:,}", f"Trainable params: {n_trainable:,}",
                      f"Non-trainable params: {total - n_trainable:,}"])


# The walks are module-level functions, not closures calling themselves: a nested function that
# refers to itself is a reference cycle (function -> cell -> function), so every call of
# ``trainable_variables`` in a training step would leave garbage only the cyclic GC frees.
def _visit_modules(m, seen, out):
    for _, item in m._items():
        if not isinstance(item, _NOT_MODULES) and id(item) not in seen:
            seen.add(id(item))
            out.append(item)
            _visit_modules(item, seen, out)


def found_modules(module) -> tuple:
    """Every Module below ``module`` (``submodules``')."""
    out = []
    _visit_modules(module, {id(module)}, out)
    return tuple(out)


def named_found(module, prefix=None) -> dict:
    """``named_variables``' dict (``prefix`` None: the module's name)."""
    out = {}
    _visit_variables(module, module.name if prefix is None else prefix, {id(module)}, out)
    return out


def found_variables(module) -> tuple:
    """``variables``' Variables, ``named_variables``' values."""
    return tuple(named_found(module).values())


def found_trainable(module, read=None) -> tuple:
    """``trainable_variables``' Variables; ``read(module or Variable, "trainable")`` reads the
    flags (under ``xg.function``, as guards)."""
    read = _trainable if read is None else read
    out, frozen = [], set()
    if read(module, "trainable"):
        _visit_trainable(module, read, {id(module)}, out, frozen)
    return tuple([v for v in out if id(v) not in frozen] if frozen else out)


def _trainable(m, _):
    return m.__dict__.get("_trainable", True)


def _visit_trainable(m, read, seen, out, frozen):
    """The trainable Variables below ``m`` into ``out``, in ``named_variables``' order; the
    subtree of a frozen module is left out (Keras: a frozen layer has no trainable weights),
    and the ids of its Variables go into ``frozen``: one tied into a trainable module too is
    frozen there as well (PyTorch's ``requires_grad`` belongs to the shared weight)."""
    for _, item in m._items():
        if id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, Variable):
            # under a trace (``read`` guards) part of what the program assumes
            if (item._trainable if read is _trainable else read(item, "trainable")):
                out.append(item)
        elif isinstance(item, _NOT_MODULES):
            continue
        elif read(item, "trainable"):
            _visit_trainable(item, read, seen, out, frozen)
        else:
            _variables_below(item, frozen, {id(item)})


def _variables_below(m, ids, seen):
    """The ids of every Variable below ``m`` into ``ids``."""
    for _, item in m._items():
        if id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, Variable):
            ids.add(id(item))
        elif not isinstance(item, _NOT_MODULES):
            _variables_below(item, ids, seen)


def _visit_variables(m, path, seen, out):
    """Variables below ``m`` into ``out``; ``seen`` holds the ids of the Variables and Modules
    visited, so a module shared twice or a back-reference (a child holding its parent) is
    walked once."""
    for key, item in m._items():
        p = _join(path, key)
        if id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, Variable):
            if p in out:
                raise ValueError(f"two variables have the path {p!r}; give "
                                 "the modules distinct names or attributes")
            out[p] = item
        elif not isinstance(item, _NOT_MODULES):
            _visit_variables(item, p, seen, out)
