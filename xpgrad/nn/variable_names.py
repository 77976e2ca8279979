"""Variables named after their paths in the model that holds them, as the ``named_variables``
and ``state_dict`` keys: a layer names its Variables ``f"{name}/w"`` when it makes them (a
lone ``Linear``'s are ``linear/w`` and ``linear/b``), and a module that takes the layer in (an
attribute set in its ``__init__``, a ``Sequential``, a ``ModuleList`` or ``ModuleDict`` item)
renames them after their paths below it, so that the Variables of ``model.trainable_variables``
carry distinct names (``sequential/linear0/w``, ``sequential/linear2/w``) where several layers
would all have said ``linear/w``. An MLP's and a Transformer stack's already were their paths.
A name the user gave (one other than the layer's own ``f"{name}/{attribute}"``) is kept.

>>> import xpgrad as xg
>>> model = xg.nn.Sequential(xg.nn.Linear(2, 3, rng=0), xg.nn.ReLU(), xg.nn.Linear(3, 1, rng=1))
>>> [v.name for v in model.trainable_variables] == list(model.named_variables())
True
>>> [v.name for v in model.trainable_variables][::2]
['sequential/linear0/w', 'sequential/linear2/w']
"""
from __future__ import annotations

import functools
import weakref

from .module_tree import _join

_GIVEN: dict = {}           # id(variable) -> (a weak reference to it, the path it was given)
#: id(variable) -> (a weak reference to it, the name given), for each Variable ``name_unnamed``
#: named (it was
#: 'Variable' in what was saved before 2026-12-07: ``former_names.py``)
_UNNAMED: dict = {}


def _renamable(variable, holder, key) -> bool:
    """Whether ``variable``'s name is the library's: the layer's own ``f"{name}/{key}"``, or
    the path this module last gave it (not since renamed by the user)."""
    name = variable.name
    if name == f"{holder.name}/{key}":
        return True
    given = _GIVEN.get(id(variable))
    return given is not None and given[0]() is variable and given[1] == name


def _forget(ref, key):
    entry = _GIVEN.get(key)
    if entry is not None and entry[0] is ref:
        del _GIVEN[key]


def _walk(module, path, seen):
    from ..tensor import Tensor, Variable

    for key, item in module._items():
        if id(item) in seen or item is None:
            continue
        seen.add(id(item))
        here = _join(path, key)
        if not isinstance(item, Tensor):
            _walk(item, here, seen)
        elif isinstance(item, Variable) and item.name != here and \
                _renamable(item, module, key):
            item.name = here
            key_id = id(item)
            _GIVEN[key_id] = (weakref.ref(item, lambda r, k=key_id: _forget(r, k)), here)


def name_after_paths(module) -> None:
    """Rename the Variables below ``module`` after their ``named_variables`` paths (those
    named by their layer or by an earlier call; a shared Variable after its first path)."""
    if "name" in vars(module):              # (not while a subclass's __init__ starts)
        _walk(module, module.name, {id(module)})


def name_unnamed(module, key, variable) -> None:
    """Name a Variable made without a name (``xg.Variable(value)``, whose name is the default
    ``"Variable"``) that ``module`` takes in as its attribute ``key``: ``f"{module.name}/{key}"``,
    as a layer names its own, so walks from the modules above rename it after its path and a
    custom module's ``self.scale = xg.Variable(...)`` is ``"net/scale"`` in
    ``trainable_variables``, not one of several ``"Variable"`` (PyTorch's
    ``named_parameters()`` says ``scale``). A name given to the Variable is kept.

    >>> import xpgrad as xg
    >>> class Net(xg.nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.scale = xg.Variable([1.0, 1.0])
    ...         self.shift = xg.Variable([0.0, 0.0], name="my_shift")
    >>> [v.name for v in Net().trainable_variables]
    ['net/scale', 'my_shift']
    """
    if variable.name == "Variable" and "name" in vars(module):
        variable.name = name = f"{module.name}/{key}"
        key_id = id(variable)
        _UNNAMED[key_id] = (weakref.ref(variable, lambda r, k=key_id: _forget_unnamed(r, k)),
                            name)


def _forget_unnamed(ref, key):
    entry = _UNNAMED.get(key)
    if entry is not None and entry[0] is ref:
        del _UNNAMED[key]


def was_unnamed(variable) -> bool:
    """Whether ``name_unnamed`` named ``variable`` (made as ``xg.Variable(value)``, its name
    was 'Variable') and the user has not named it since.

    >>> import xpgrad as xg
    >>> class Net(xg.nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.scale = xg.Variable([1.0])
    >>> net = Net()
    >>> was_unnamed(net.scale), was_unnamed(xg.Variable([1.0], name="w"))
    (True, False)
    """
    entry = _UNNAMED.get(id(variable))
    if entry is None or entry[0]() is not variable:
        return False
    name = variable.name
    given = _GIVEN.get(id(variable))        # renamed after its path since (_walk)
    return name == entry[1] or (given is not None and given[0]() is variable
                                and given[1] == name)


def renames(method):
    """``method`` of a container of modules, followed by ``name_after_paths(self)``."""
    @functools.wraps(method)
    def changed(self, *args, **kwargs):
        result = method(self, *args, **kwargs)
        name_after_paths(self)
        return result
    return changed


__all__ = ["name_after_paths", "name_unnamed", "renames", "was_unnamed"]
