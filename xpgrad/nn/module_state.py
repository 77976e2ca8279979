"""A Module's state: its Variables' values by path, in xpgrad's form and in PyTorch's
(``state_dict``, ``load_state_dict``, ``torch_state_dict``, ``load_torch_state_dict``).

>>> import xpgrad as xg
>>> sorted(xg.nn.Linear(2, 1, rng=0).state_dict())
['linear/b', 'linear/w']
"""
from __future__ import annotations

from ._torch_strict import strict_option


class ModuleState:
    """The state methods of ``Module`` (a mixin: they read ``named_variables``)."""

    # -- state ---------------------------------------------------------------------------------
    def state_dict(self) -> dict:
        """``{path: NumPy array}``: a copy of every variable's value (as ``named_variables``),
        so later training does not change it (PyTorch's ``state_dict`` would share memory).

        >>> import xpgrad as xg
        >>> {k: v.shape for k, v in xg.nn.Linear(2, 3, rng=0).state_dict().items()}
        {'linear/w': (2, 3), 'linear/b': (3,)}
        """
        _refuse_plain_tensors(self, f"{type(self).__name__}.state_dict")
        return {name: v.numpy() for name, v in self.named_variables().items()}

    def load_state_dict(self, state_dict, strict: bool = True) -> tuple:
        """Assign ``state_dict``'s values (arrays, Tensors or torch tensors, by path; any
        mapping) to the variables, cast to their dtypes; returns ``(missing keys, unexpected
        keys)``. With ``strict``, any missing or unexpected key is a ValueError; a shape that
        differs, or values that are not numbers (complex ones for a real variable: the
        imaginary part would be lost), always are. Nothing is assigned unless everything
        checks.

        >>> import xpgrad as xg
        >>> model = xg.nn.Linear(2, 3, rng=0)
        >>> model.load_state_dict(xg.nn.Linear(2, 3, rng=1).state_dict())
        ([], [])
        """
        return (_staged_module or _import_staged()).load_state(self, state_dict, strict)

    def torch_state_dict(self) -> dict:
        """``{PyTorch key: NumPy array}`` for the torch model with the same attribute names:
        each key is the attribute path joined with ``"."`` (list, ModuleList, dict and
        ModuleDict items by index or key), ending in a layer's own PyTorch keys where it
        converts its weights (``Linear``'s ``weight`` is ``w`` transposed) or in the name of a
        Variable the module holds directly (a custom module's ``nn.Parameter``).

        >>> import xpgrad as xg
        >>> class Net(xg.nn.Module):
        ...     def __init__(self):
        ...         super().__init__()
        ...         self.blocks = xg.nn.ModuleList([xg.nn.Linear(2, 2, rng=0)])
        >>> list(Net().torch_state_dict())
        ['blocks.0.weight', 'blocks.0.bias']
        """
        from ._torch_tree import torch_state_dict

        return torch_state_dict(self)

    @strict_option
    def load_torch_state_dict(self, state_dict):
        """Copy a torch model's ``state_dict()`` into this module, matched by the keys of
        ``torch_state_dict``: a key missing, unexpected, of another shape or not holding
        real numbers is a ValueError naming it, and nothing is changed."""
        from ._torch_tree import load_torch_state_dict

        load_torch_state_dict(self, state_dict)

    def _torch_items(self):
        """(PyTorch key component, Module or Variable) pairs held by this module."""
        from ._torch_tree import torch_path

        from .module import held_items

        for key, value in vars(self).items():
            if not key.startswith("_"):
                yield from held_items(value, key, torch_path)


# Imported on first call and then called directly (an import statement per call cost about a
# microsecond): module_pytree imports the Module this mixin is part of.
def _refuse_plain_tensors(module, who):
    global _refuse_plain_tensors
    from .module_pytree import refuse_plain_tensors

    _refuse_plain_tensors = refuse_plain_tensors
    return refuse_plain_tensors(module, who)


#: _staged.py once imported (its load_state warns with a stacklevel: called directly, no frame
#: between it and the caller)
_staged_module = None


def _import_staged():
    global _staged_module
    from . import _staged as staged

    _staged_module = staged
    return staged
