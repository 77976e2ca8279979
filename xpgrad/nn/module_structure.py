"""What a model holding Variables is made of, as ``xg.function`` keys it: the model is one
object (keyed by identity), and a trace of it replays for as long as its submodules and
Variables are the ones it was traced with. ``structure(module)`` is a ``ModuleStructure`` of
them, cached with the module's walks (module_cache.py), so an unchanged model hands back the
same object at the cost of a check; a layer appended to a list, a layer or a Variable set in
another's place gives another (a new key: the call traces anew).

A model the function reads from elsewhere (its closure, a global, an object's attribute) is
no argument: ``guard_structure`` makes its structure a guard of the trace (``STRUCTURE``, the
attribute a replay reads, as it reads a Module's ``training`` flag), for each module the trace
calls or walks (``trainable_variables``), unless a module guarded already holds it or the
function made it itself (``Module.__init__`` notes that, as a write). Modules called rather
than closure cells looked into: a model reached through ``self``, a dict, a trainer object or
a helper function is found as well. A Variable read straight from an attribute of a module the
trace neither calls nor walks (``f = lambda x: x @ layer.w``) is guarded on its own, and the
closure variables, globals and attributes holding guarded models by identity
(jit/name_guards.py).

>>> import xpgrad as xg
>>> mlp = xg.nn.MLP([2, 3, 1], rng=0)
>>> before = structure(mlp)
>>> structure(mlp) == before
True
>>> mlp.layers.append(xg.nn.Linear(1, 1, rng=1))
>>> structure(mlp) == before, len(structure(mlp).parts)
(False, 9)
"""
from __future__ import annotations

from ..jit.held import SETTING_TYPES, ModuleStructure
from ..jit.trace_state import guard_value
from .module_cache import cached
from .module_tree import found_modules, found_variables

#: the attribute of a Module that reads its structure (``Module._structure_key``): the name of
#: ``guard_structure``'s guards
STRUCTURE = "_structure_key"


def structure(module) -> ModuleStructure:
    """``module``'s ``ModuleStructure`` (module docstring)."""
    return cached(module, "structure", _structure)


def _structure(module) -> ModuleStructure:
    modules = found_modules(module)
    return ModuleStructure((*modules, *found_variables(module)),
                           tuple(map(_settings, (module, *modules))))


def _settings(module) -> tuple:
    """``module``'s public attributes holding Python numbers, strings or None (``momentum``,
    ``eps``: what its forward reads as constants), as ``(name, value)`` pairs; not those an
    ``xg.function``'s own call has set (``self.calls += 1`` in a forward: ``note_own_write``),
    which a replay does not set again."""
    own = vars(module).get(OWN_WRITES, ())
    return tuple([(name, value) for name, value in vars(module).items()
                  if type(value) in SETTING_TYPES and name[0] != "_" and name != "name"
                  and name not in own])


def note_own_write(module, name) -> None:
    """``module.name``, a setting, was set while an ``xg.function`` ran its function as Python:
    no setting of the structure from then on (``_settings``)."""
    vars(module).setdefault(OWN_WRITES, set()).add(name)


#: the attribute holding the names ``note_own_write`` noted
OWN_WRITES = "_set_by_functions"


def guard_structure(module, tracer) -> None:
    """Under ``tracer``'s trace: its program holds for ``module``'s structure as it is now (a
    guard; a replay reads ``module._structure_key``), unless a module guarded already holds
    ``module`` or the traced function made it (module docstring)."""
    covered = tracer.structures_guarded
    if id(module) in covered or (id(module), STRUCTURE) in tracer.attribute_writes:
        return
    now = _structure(module)
    guard_value(module, STRUCTURE, now)
    covered.add(id(module))
    covered.update(map(id, now.parts))     # its modules (its Variables' ids are theirs alone)
