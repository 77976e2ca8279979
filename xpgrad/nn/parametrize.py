"""Parametrized weights (PyTorch's ``torch.nn.utils.parametrize``), the machinery behind
``xg.nn.utils.weight_norm`` and ``spectral_norm``: a module's weight attribute stops holding a
Variable and becomes a value computed, in every forward, from trainable pieces.

Registering one moves the weight's pieces into ``module.parametrizations[name]`` (a
``ParametrizationList``: the Variables ``original`` or ``original0`` / ``original1``, and the
parametrization at index 0, whose buffers a spectral norm keeps there), so they are what
``named_variables`` / ``trainable_variables`` / ``state_dict`` list (paths
``"<module>/parametrizations/<name>/original0"``), and swaps the module's class for a subclass
``Parametrized<Class>`` (as PyTorch does: ``isinstance`` still holds) in which ``name`` is a
property: each ``forward`` computes the weight once (moving a spectral norm's power iteration in
training mode) and the layer's own forward reads it; read outside a forward it is computed
afresh without moving anything. ``Sequential`` and ``MLP`` call such a Linear rather than
fusing it, and under ``xg.function`` the computation is part of the program (the buffers'
updates are writes into Variables, replayed on every call); registering or removing one makes
the next call of a traced function trace anew. The ``Parametrized<Class>`` classes are
``parametrized_class.py``'s.

PyTorch keys: ``torch_state_dict`` gives ``parametrizations.<torch name>.original0`` ... in
PyTorch's layout (a Linear's ``w`` is torch's ``weight`` transposed, so are its pieces), where
torch's parametrized module has them, and ``load_torch_state_dict`` takes them.

>>> import xpgrad as xg
>>> layer = xg.nn.utils.weight_norm(xg.nn.Linear(3, 2, rng=0))
>>> type(layer).__name__, list(layer.named_variables())
('ParametrizedLinear', ['linear/b', 'linear/parametrizations/w/original0', \
'linear/parametrizations/w/original1'])
>>> list(layer.torch_state_dict())
['bias', 'parametrizations.weight.original0', 'parametrizations.weight.original1']
"""
from __future__ import annotations

from ..jit.capture import THREAD as _TRACES, note_write
from ..tensor import Variable
from .linear import _WEIGHTS, Linear
from .module import Module
from .module_cache import changed as structure_changed
from .module_containers import ModuleDict
from .parametrized_class import _converts_class, _rebuild, parametrized_class  # noqa: F401


#: per class, {attribute: (PyTorch's key, axes taking the attribute to PyTorch's layout)} where
#: they differ from (attribute, no permutation); "weight" on an untied Linear means its w
_TORCH_NAMES = {Linear: {"w": ("weight", (1, 0))}}
_ALIASES = {Linear: {"weight": "w"}}


def default_name(module) -> str:
    """The weight attribute of ``module``: a Linear's ``w``, else ``weight``."""
    return "w" if isinstance(module, Linear) else "weight"


def torch_layout(module, name):
    """(PyTorch's key, permutation to PyTorch's layout or None) of attribute ``name``."""
    for cls, names in _TORCH_NAMES.items():
        if isinstance(module, cls) and name in names:
            return names[name]
    return name, None


def resolve_name(module, name, who) -> str:
    """The attribute ``name`` names on ``module`` (None: ``default_name``), checked to hold a
    Variable that is not parametrized yet; TypeError / ValueError naming it otherwise."""
    if not isinstance(module, Module):
        raise TypeError(f"{who}: module must be an xg.nn.Module (a layer), got "
                        f"{type(module).__name__}")
    if name is None:
        name = default_name(module)
    if not isinstance(name, str):
        raise TypeError(f"{who}: name must be a str (the weight's attribute), got "
                        f"{type(name).__name__} {name!r}")
    for cls, aliases in _ALIASES.items():
        if isinstance(module, cls) and name in aliases and \
                vars(module).get(name) is None:
            name = aliases[name]
    if is_parametrized(module, name):
        raise ValueError(f"{who}: {type(module).__name__}.{name} is parametrized already "
                         f"({type(parametrization_of(module, name)).__name__}); remove it "
                         "first: xg.nn.utils.remove_parametrizations(module, name)")
    if isinstance(module, Linear) and name == "w" and vars(module).get("w") is None:
        raise ValueError(f"{who}: this Linear is tied (its weight is another module's "
                         "Variable, Linear.weight, and it has no w): name='weight' "
                         "parametrizes the tied Variable in this layer only, as PyTorch does")
    value = vars(module).get(name)
    if not isinstance(value, Variable):
        held = sorted(k for k, v in vars(module).items()
                      if isinstance(v, Variable) and not k.startswith("_"))
        raise ValueError(f"{who}: {type(module).__name__} has no Variable named {name!r} "
                         f"(its Variables: {held})")
    if not value.dtype.is_floating:
        raise TypeError(f"{who}: {type(module).__name__}.{name} is {value.dtype}; a "
                        "parametrization takes real floating-point weights")
    return name


def is_parametrized(module, name=None) -> bool:
    """Whether ``module`` has a parametrized attribute (``name``: that one), as PyTorch's
    ``torch.nn.utils.parametrize.is_parametrized``.

    >>> import xpgrad as xg
    >>> layer = xg.nn.Conv2d(1, 2, 3, rng=0)
    >>> is_parametrized(layer), is_parametrized(xg.nn.utils.spectral_norm(layer), "weight")
    (False, True)
    """
    names = getattr(type(module), "_parametrized_names", ())
    if name == "weight" and isinstance(module, Linear) and "w" in names:
        return True                                   # PyTorch's name of a Linear's w
    return bool(names) if name is None else name in names


def parametrization_of(module, name):
    """The parametrization (``WeightNorm``, ``SpectralNorm``) of ``module.name``."""
    return vars(module)["parametrizations"][name][0]


class ParametrizationList(Module):
    """``module.parametrizations[name]`` (PyTorch's ``ParametrizationList``): the pieces the
    weight is computed from, ``original`` (one) or ``original0``, ``original1`` (several), in the
    module's layout, and ``self[0]``, the parametrization (its buffers' paths and PyTorch keys
    are ``"0/_u"`` and ``"0._u"``). ``value(update)`` is the weight."""

    def __init__(self, parametrization, originals, attribute, torch_key, perm, restore_name):
        super().__init__(name="parametrization_list")
        self.keys = tuple(originals)
        for key, variable in originals.items():
            setattr(self, key, variable)
        self._parametrization = parametrization
        self.attribute, self.torch_key, self.perm = attribute, torch_key, perm
        self._restore_name = restore_name       # the name of the Variable a removal restores

    def __getitem__(self, i):
        if i not in (0, -1):
            raise IndexError(f"ParametrizationList: index {i!r} out of range (one "
                             "parametrization)")
        return self._parametrization

    def __len__(self):
        return 1

    def _items(self):
        own = vars(self)
        for key in own["keys"]:
            yield key, own[key]
        yield "0", own["_parametrization"]

    _torch_items = _items

    def originals(self) -> list:
        return [vars(self)[key] for key in self.keys]

    def value(self, update: bool):
        """The weight, from the originals (``update``: a forward in training mode may move the
        parametrization's state)."""
        return self._parametrization.compute(*self.originals(), update=update)

    def torch_entries(self) -> dict:
        """``{key under parametrizations.<torch name>.: NumPy array}`` in PyTorch's layout."""
        import numpy as np

        from ._torch import host

        out = {}
        for key, variable in self._torch_walk():
            value = host(variable)
            if self._permuted(variable):
                value = np.ascontiguousarray(value.transpose(self.perm))
            out[key] = value
        return out

    def _permuted(self, variable) -> bool:
        """Whether ``variable`` is an original to permute into PyTorch's layout (a scalar
        ``g`` of a whole-weight norm is not)."""
        return self.perm is not None and variable.ndim == len(self.perm) and \
            any(variable is o for o in self.originals())

    def _torch_walk(self):
        for key in self.keys:
            yield key, vars(self)[key]
        for key, buffer in self._parametrization._items():
            yield f"0.{key}", buffer

    def _extra_repr(self):
        return f", attribute={self.attribute!r}"

    def _repr_items(self):
        return iter([("0", self._parametrization)])


def _changed():
    """A traced ``xg.function`` calling any module traces anew (it guards on the version of
    the modules' hooks, which this takes), and the cached walks (module_cache.py) walk
    again: the module's attributes were written around ``__setattr__``."""
    from .module_hooks import _changed as hooks_changed

    hooks_changed()
    structure_changed()


def register(module, name, parametrization, originals, who):
    """Make ``module.name`` (a Variable, checked by ``resolve_name``) the value of
    ``parametrization`` computed from ``originals`` ({key: Variable}); returns ``module``."""
    own = vars(module)
    old = own[name]
    torch_key, perm = torch_layout(module, name)
    base = getattr(type(module), "_parametrized_base", None) or type(module)
    names = getattr(type(module), "_parametrized_names", ())
    if _converts_class(base) and perm is None and torch_key not in module.torch_state_dict():
        raise ValueError(f"{who}: {base.__name__}.{name} has no PyTorch key of its own (the "
                         f"layer converts its weights to {sorted(module.torch_state_dict())})"
                         ", so its parametrization could not be saved in torch's form")
    table = own.get("parametrizations")
    if table is None:
        table = ModuleDict(name="parametrizations")
    table[name] = ParametrizationList(parametrization, originals, name, torch_key, perm,
                                      old.name)
    del own[name]
    own["parametrizations"] = table
    module.__class__ = parametrized_class(base, names + (name,))
    # the pieces follow the module's mode
    table.train(module.training)
    _new_linear_weight(module)
    _changed()
    return module


def _new_linear_weight(module):
    """A Linear's guard under ``xg.function``: its weights changed."""
    if isinstance(module, Linear):
        if _TRACES.tracer is not None:
            note_write(module, "_weights")
        vars(module)["_weights"] = next(_WEIGHTS)


def remove_parametrizations(module, name=None, leave_parametrized: bool = True):
    """Undo ``weight_norm`` / ``spectral_norm`` on ``module.name`` (``name`` None: the only
    parametrized attribute, or the weight attribute), as PyTorch's
    ``torch.nn.utils.parametrize.remove_parametrizations``: ``leave_parametrized=True`` (the
    default) leaves a Variable holding the weight's current value (a spectral norm's
    ``original`` Variable itself, as PyTorch's, so an optimizer's slots for it carry on);
    ``False`` puts the original back unchanged (a spectral norm only: weight norm's weight is
    two Variables, a ValueError as in PyTorch). Returns ``module``, its class again its own once
    nothing is parametrized. ValueError when ``name`` is not parametrized.

    >>> import xpgrad as xg
    >>> layer = xg.nn.utils.weight_norm(xg.nn.Linear(3, 2, rng=0))
    >>> layer = remove_parametrizations(layer)
    >>> type(layer).__name__, list(layer.named_variables())
    ('Linear', ['linear/b', 'linear/w'])
    """
    from .._args import flag

    who = "remove_parametrizations"
    if not isinstance(module, Module):
        raise TypeError(f"{who}: module must be an xg.nn.Module (a layer), got "
                        f"{type(module).__name__}")
    leave_parametrized = flag(leave_parametrized, "leave_parametrized", who)
    names = getattr(type(module), "_parametrized_names", ())
    if name is None:
        name = names[0] if len(names) == 1 else default_name(module)
    if not isinstance(name, str):
        raise TypeError(f"{who}: name must be a str (the weight's attribute), got "
                        f"{type(name).__name__} {name!r}")
    if name == "weight" and isinstance(module, Linear) and "w" in names:
        name = "w"                                   # PyTorch's name of a Linear's w
    if name not in names:
        raise ValueError(f"{who}: {type(module).__name__} has no parametrized attribute "
                         f"{name!r} (parametrized: {list(names)})")
    return _remove(module, name, leave_parametrized, who)


def _remove(module, name, leave_parametrized, who):
    own = vars(module)
    table = own["parametrizations"]
    pl = table[name]
    originals = pl.originals()
    if leave_parametrized:
        value = pl.value(update=False)
        if len(originals) == 1:
            restored = originals[0].assign(value)
        else:
            restored = Variable(value, name=pl._restore_name)
    elif len(originals) == 1:
        restored = originals[0]
    else:
        raise ValueError(f"{who}: leave_parametrized=False needs one original Variable, but "
                         f"{type(module).__name__}.{name} is computed from {len(originals)} "
                         f"({', '.join(pl.keys)}; PyTorch refuses it too)")
    cls = type(module)
    names = tuple(n for n in cls._parametrized_names if n != name)
    del table[name]
    if not names:
        del own["parametrizations"]
    module.__class__ = parametrized_class(cls._parametrized_base, names) if names else \
        cls._parametrized_base
    own.pop(name, None)
    if isinstance(module, Linear) and name == "weight":     # a tied Linear's, w stays None
        own["weight"] = restored
        _new_linear_weight(module)
    else:
        setattr(module, name, restored)     # through the class's own checks (Linear.w)
    _changed()
    return module


__all__ = ["ParametrizationList", "is_parametrized", "remove_parametrizations"]
