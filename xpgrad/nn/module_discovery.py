"""The discovery methods of ``Module``: the modules below one (``submodules``,
``named_modules``, ``modules``, ``named_children``, ``children``, ``apply``), its Variables
(``named_variables``, ``variables``, ``trainable_variables``; ``trainable`` freezes), and their
sizes (``count_params``, ``summary``), walked as ``module_tree.py`` walks them.

>>> import xpgrad as xg
>>> model = xg.nn.MLP([2, 3, 1], rng=0)
>>> len(model.submodules()), model.count_params(), len(model.trainable_variables)
(2, 13, 4)
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from .._args import flag
from ..jit.capture import THREAD as _TRACES, guarded_attribute
from .module_cache import cached
from .module_structure import guard_structure
from .module_hints import not_initialized
from .module_tree import found_modules, found_trainable, found_variables, named_found

if TYPE_CHECKING:
    from .module import Module


def _walked(module, kind, compute):
    """``cached(module, kind, compute)``; under ``xg.function``, which walks anew, the
    module's structure is a guard of the trace (module_structure.guard_structure)."""
    tracer = _TRACES.tracer
    if tracer is not None:
        guard_structure(module, tracer)
    return cached(module, kind, compute)


class ModuleDiscovery:
    """The discovery methods of ``Module`` (a mixin: they walk what ``Module._items`` yields)."""

    def submodules(self) -> list:
        """Every Module below this one (depth first, each once): a new list at each call, the
        walk kept with the module until its tree changes (module_cache.py)."""
        return list(_walked(self, "submodules", found_modules))

    def named_modules(self, prefix: str | None = None):
        """``(path, module)`` for this module and every one below it, in PyTorch's order
        (depth first, a module before those it holds, each once); a path is the prefix of
        its variables' ``named_variables`` paths (``prefix`` defaults to ``self.name``;
        PyTorch's default is ``""`` and its separator ``"."``).

        >>> import xpgrad as xg
        >>> [(p, type(m).__name__) for p, m in xg.nn.MLP([2, 3, 1], rng=0).named_modules()]
        [('mlp', 'MLP'), ('mlp/linear0', 'Linear'), ('mlp/linear1', 'Linear')]
        """
        from .module_tree import named_modules

        return iter(named_modules(self, prefix))

    def modules(self):
        """This module and every one below it (``named_modules``' order), as PyTorch's."""
        return (m for _, m in self.named_modules())

    def named_children(self):
        """``(path component, module)`` for the modules this one holds directly (``layers``'
        items too), each once, as PyTorch's.

        >>> import xpgrad as xg
        >>> [k for k, _ in xg.nn.MLP([2, 3, 1], rng=0).named_children()]
        ['linear0', 'linear1']
        """
        from .module_tree import named_children

        return named_children(self)

    def children(self):
        """The modules this one holds directly (``named_children``), as PyTorch's."""
        return (m for _, m in self.named_children())

    def apply(self, fn) -> "Module":
        """Call ``fn(module)`` on every module below this one, then on this one (PyTorch's
        order: children before their parent; a shared module once); returns self.

        >>> import xpgrad as xg
        >>> seen = []
        >>> _ = xg.nn.MLP([2, 3, 1], rng=0).apply(lambda m: seen.append(type(m).__name__))
        >>> seen
        ['Linear', 'Linear', 'MLP']
        """
        from .module_tree import apply

        return apply(self, fn)

    def count_params(self, trainable_only: bool = False) -> int:
        """The number of values in this module's Variables (Keras' ``count_params``: the
        non-trainable ones such as running statistics too), each shared Variable once;
        ``trainable_only=True`` counts ``trainable_variables`` only. Against PyTorch's
        ``sum(p.numel() for p in model.parameters())``: the same, but for the recurrent
        layers, which hold one bias where torch holds ``bias_ih`` and ``bias_hh``: per layer
        and direction an LSTM counts ``4 * hidden_size`` fewer, a GRU ``2 * hidden_size``
        and an RNN ``hidden_size``.

        >>> import xpgrad as xg
        >>> xg.nn.Linear(3, 2, rng=0).count_params()
        8
        """
        from .module_tree import count

        trainable_only = flag(trainable_only, "trainable_only",
                              f"{type(self).__name__}.count_params")
        return count(self.trainable_variables if trainable_only else self.variables)

    def summary(self, print_fn=print) -> None:
        """Print a table (Keras' ``model.summary()``): a row per module, with its path, type,
        the number of values in the Variables below it and how many of them train, then the
        totals. ``print_fn`` gets the table as one string.

        >>> import xpgrad as xg
        >>> xg.nn.MLP([2, 3, 1], rng=0).summary()          # doctest: +NORMALIZE_WHITESPACE
        Model: 'mlp' (MLP)
        ---------------------------------------
        Layer (path)  Type    Params  Trainable
        ---------------------------------------
        mlp           MLP         13         13
        mlp/linear0   Linear       9          9
        mlp/linear1   Linear       4          4
        ---------------------------------------
        Total params: 13
        Trainable params: 13
        Non-trainable params: 0
        """
        from .module_tree import summary

        if not callable(print_fn):
            raise TypeError(f"{type(self).__name__}.summary: print_fn must be a callable "
                            f"(print), got {type(print_fn).__name__}")
        print_fn(summary(self))

    def named_variables(self, prefix: str | None = None) -> dict:
        """``{path: Variable}`` for every Variable below this module; a shared one appears once.

        >>> import xpgrad as xg
        >>> list(xg.nn.MLP([2, 3, 1], rng=0).named_variables())
        ['mlp/linear0/w', 'mlp/linear0/b', 'mlp/linear1/w', 'mlp/linear1/b']
        """
        if prefix is None:
            return dict(_walked(self, "named_variables", named_found))
        return named_found(self, prefix)

    @property
    def variables(self) -> list:
        """All Variables (trainable or not), in a stable order (``named_variables``')."""
        return list(_walked(self, "variables", found_variables))

    @property
    def trainable_variables(self) -> list:
        """The Variables an optimizer should update: the trainable ones, less those of a
        frozen module (``trainable = False``).

        >>> import xpgrad as xg
        >>> model = xg.nn.MLP([2, 3, 1], rng=0)
        >>> model.layers[0].trainable = False               # fine-tune the last layer only
        >>> [v.name for v in model.trainable_variables]
        ['mlp/linear1/w', 'mlp/linear1/b']

        Each read returns a new list (Keras' too), so changing it changes nothing else; the
        walk behind it is kept with the module and walked again only after the tree changed
        (docs/nn.md; module_cache.py says what a change is).
        """
        if "name" not in vars(self):
            raise not_initialized(self, "trainable_variables")
        if _TRACES.tracer is None:
            return list(cached(self, "trainable_variables", found_trainable))
        # under xg.function each flag read is a guard: a replay checks it, a change retraces
        guard_structure(self, _TRACES.tracer)
        return list(found_trainable(self, guarded_attribute))

    @property
    def non_trainable_variables(self) -> list:
        """The Variables outside ``trainable_variables`` (Keras'): buffers such as BatchNorm's
        running statistics, the weights of a frozen module, Variables made with
        ``trainable=False``; in ``variables``' order.

        >>> import xpgrad as xg
        >>> [v.name for v in xg.nn.BatchNorm1d(3).non_trainable_variables]
        ['batch_norm/running_mean', 'batch_norm/running_var', 'batch_norm/num_batches_tracked']
        """
        if "name" not in vars(self):
            raise not_initialized(self, "non_trainable_variables")
        trainable = {id(v) for v in self.trainable_variables}
        return [v for v in self.variables if id(v) not in trainable]

    @property
    def trainable(self) -> bool:
        """False freezes this module and every module below it (Keras' ``layer.trainable``;
        PyTorch's ``requires_grad_(False)`` on its parameters): their Variables leave
        ``trainable_variables``, so optimizers and ``xpgrad train`` skip them, while tapes
        still differentiate through them. Setting it sets it on every submodule."""
        return self.__dict__.get("_trainable", True)

    @trainable.setter
    def trainable(self, value):
        value = flag(value, "trainable", type(self).__name__)
        for m in (self, *self.submodules()):
            m._trainable = value
