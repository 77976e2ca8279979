"""The classes ``Parametrized<Class>`` that registering a parametrization swaps a module's class
for (``parametrize.py``, which re-exports ``parametrized_class``): the parametrized names are
properties computed from ``module.parametrizations``, ``forward`` computes each once per call,
pickling and copying rebuild the class, and a layer that converts its own weights to PyTorch's
keys converts its pieces too (``parametrizations.<torch name>.original0`` ...).

>>> import xpgrad as xg
>>> cls = parametrized_class(xg.nn.Linear, ("w",))
>>> cls.__name__, issubclass(cls, xg.nn.Linear), cls is parametrized_class(xg.nn.Linear, ("w",))
('ParametrizedLinear', True, True)
"""
from __future__ import annotations

from contextlib import contextmanager

from ..creation import zeros
from ..tensor import Variable
from ._torch_strict import strict_option
from .module import Module


def _property(name):
    def get(self):
        own = vars(self)
        cached = own.get(name)            # a forward's value, computed once per call
        if cached is not None:
            return cached
        return own["parametrizations"][name].value(update=False)

    def set(self, value):
        from .parametrize import parametrization_of

        kind = type(parametrization_of(self, name)).__name__
        raise TypeError(f"{type(self).__name__}.{name} is parametrized ({kind}): its value is "
                        f"computed from parametrizations[{name!r}] (assign those Variables), "
                        f"or remove it first: xg.nn.utils.remove_parametrizations(module, "
                        f"{name!r})")

    return property(get, set, doc=f"``{name}``, computed from ``parametrizations[{name!r}]``")


class _Parametrized:
    """The mixin of ``Parametrized<Class>``: ``forward`` computes each parametrized weight once
    and runs the class's own ``forward`` with it; pickling and copying rebuild the class."""

    _parametrized_base = None
    _parametrized_names = ()

    def forward(self, *args, **kwargs):
        own = vars(self)
        table = own["parametrizations"]
        names = type(self)._parametrized_names
        for name in names:
            own[name] = table[name].value(update=True)
        try:
            return super().forward(*args, **kwargs)
        finally:
            for name in names:
                own.pop(name, None)

    def __reduce_ex__(self, protocol):
        cls = type(self)
        return _rebuild, (cls._parametrized_base, cls._parametrized_names), dict(vars(self))


class _ParametrizedTorch(_Parametrized):
    """``torch_state_dict`` / ``load_torch_state_dict`` of a parametrized layer that converts
    its own weights (Linear, Conv2d, ...): its keys but the parametrized weight's, then
    ``parametrizations.<torch name>.*`` (PyTorch's order)."""

    def torch_state_dict(self) -> dict:
        base = type(self)._parametrized_base
        with _as_base(self):
            out = base.torch_state_dict(self)
        lists = [vars(self)["parametrizations"][n] for n in type(self)._parametrized_names]
        for pl in lists:
            out.pop(pl.torch_key, None)
        for pl in lists:
            out.update((f"parametrizations.{pl.torch_key}.{k}", v)
                       for k, v in pl.torch_entries().items())
        return out

    @strict_option
    def load_torch_state_dict(self, state_dict) -> None:
        """Copy the PyTorch state dict of the same layer, parametrized the same way: its keys
        ``parametrizations.<torch name>.original0`` ... (in PyTorch's layout) into the pieces,
        the others (``bias``) as the layer's own; a missing, unexpected or misshapen key is a
        ValueError naming it, and nothing changes."""
        from collections.abc import Mapping

        import numpy as np

        from ..creation import asarray
        from ._torch import real_values
        from ._torch_tree import expected_state, keyed, torch_order

        who = f"{type(self).__name__}.load_torch_state_dict"
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"{who}: state_dict must be a dict (torch_model.state_dict()), got "
                            f"{type(state_dict).__name__}")
        given = keyed(state_dict)
        lists = [vars(self)["parametrizations"][n] for n in type(self)._parametrized_names]
        targets = {}
        for pl in lists:
            for key, variable in pl._torch_walk():
                targets[f"parametrizations.{pl.torch_key}.{key}"] = (pl, variable)
        # the layer's own keys (bias) and the pieces': any other key is unexpected
        required, optional = expected_state(self, given)
        missing = [k for k in required if k not in given]
        unexpected = torch_order(required, [k for k in given
                                            if k not in required and k not in optional])
        if missing or unexpected:
            raise ValueError(f"{who}: missing keys {missing}, unexpected keys {unexpected} "
                             f"(a parametrized weight's keys are parametrizations.<name>."
                             f"original*, as PyTorch's parametrized layer's)")
        staged = []
        for key, (pl, variable) in targets.items():
            value = np.asarray(real_values(given[key], key, who), order="C")
            permuted = pl._permuted(variable)
            shape = tuple(variable.shape[a] for a in pl.perm) if permuted else variable.shape
            if value.shape != shape:
                raise ValueError(f"{who}: {key!r} has shape {value.shape}, this layer needs "
                                 f"{shape}")
            if permuted:
                value = np.ascontiguousarray(value.transpose(_inverse(pl.perm)))
            staged.append((variable, value))
        rest = {k: v for k, v in given.items() if not k.startswith("parametrizations.")}
        base = type(self)._parametrized_base
        with _as_base(self):
            here = base.torch_state_dict(self)
            for pl in lists:
                rest[pl.torch_key] = here[pl.torch_key]          # stands in, discarded
            base.load_torch_state_dict(self, rest)
        for variable, value in staged:
            variable.assign(asarray(value, dtype=variable.dtype).to(variable.backend))


def _inverse(perm):
    out = [0] * len(perm)
    for i, a in enumerate(perm):
        out[a] = i
    return tuple(out)


@contextmanager
def _as_base(module):
    """``module`` as its own class for a moment, each parametrized attribute holding a scratch
    Variable of zeros (what the class's converters read and write, then dropped)."""
    cls, own = type(module), vars(module)
    names = cls._parametrized_names
    saved = {name: own.get(name) for name in names}
    for name in names:
        like = own["parametrizations"][name].originals()[-1]   # the weight's shape and dtype
        own[name] = Variable(zeros(like.shape, dtype=like.dtype, backend=like.backend),
                             name=f"{name} (scratch)", trainable=False)
    module.__class__ = cls._parametrized_base
    try:
        yield
    finally:
        module.__class__ = cls
        for name, value in saved.items():
            if value is None:
                own.pop(name, None)
            else:
                own[name] = value


#: (class, parametrized names) -> Parametrized<class>
_CLASSES = {}


def parametrized_class(base, names):
    """``Parametrized<base>`` with ``names`` as properties (one class per pair, as
    ``torch.nn.utils.parametrize`` makes one per module)."""
    key = (base, tuple(names))
    cls = _CLASSES.get(key)
    if cls is None:
        mixin = _ParametrizedTorch if _converts_class(base) else _Parametrized
        namespace = {name: _property(name) for name in names}
        namespace.update(_parametrized_base=base, _parametrized_names=tuple(names),
                         __module__=base.__module__,
                         __qualname__=f"Parametrized{base.__qualname__}")
        cls = _CLASSES[key] = type(f"Parametrized{base.__name__}", (mixin, base), namespace)
    return cls


def _converts_class(base) -> bool:
    return base.load_torch_state_dict is not Module.load_torch_state_dict


def _rebuild(base, names):
    """An empty ``Parametrized<base>`` (pickle and ``copy`` fill in its attributes)."""
    return object.__new__(parametrized_class(base, names))
