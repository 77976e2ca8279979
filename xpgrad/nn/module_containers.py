"""``ModuleList`` and ``ModuleDict``: PyTorch's containers of modules. A plain list or dict
attribute holds modules too (``self.blocks = [...]``); these give PyTorch's paths
(``model/blocks/0/w``, torch's ``blocks.0.weight``) and its checks, so ported code runs as is.

>>> import xpgrad as xg
>>> blocks = xg.nn.ModuleList([xg.nn.Linear(2, 2, rng=0) for _ in range(2)])
>>> len(blocks), list(blocks.named_variables())[:1]
(2, ['module_list/0/w'])
"""
from __future__ import annotations

import itertools
import numbers
from collections.abc import Mapping

from ..jit.capture import THREAD as _TRACES, guard_value, note_write
from .module import Module
from .variable_names import renames


def _module(value, what, owner):
    if not isinstance(value, Module):
        kind = f"the class {value.__name__}" if isinstance(value, type) else \
            type(value).__name__
        raise TypeError(f"{owner}: {what} must be a Module (a layer), got {kind}"
                        + (f"; make one: {value.__name__}()" if isinstance(value, type) and
                           issubclass(value, Module) else ""))
    return value


#: structure versions: each change of a container's items takes the next, never reused
_VERSIONS = itertools.count(1)


class _Container(Module):
    """Items in ``_store``, read through ``_read()`` and changed through ``_write()``: under
    ``xg.function`` a read is a guard on the container's version (as ``torch.compile`` guards
    on a ModuleList's modules), so a call after an item is set, added or removed traces anew
    rather than replaying the program of the old items."""

    def _read(self):
        if _TRACES.tracer is not None:
            guard_value(self, "_version", self._version)
        return self._store

    def _write(self):
        if _TRACES.tracer is not None:
            note_write(self, "_version")
        self._version = next(_VERSIONS)
        return self._store

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} holds modules and has no forward: "
                                  "call them in the owner's forward (for layer in self.layers: "
                                  "x = layer(x)), or use Sequential")

    def _torch_items(self):
        return self._items()


class ModuleList(_Container):
    """A list of modules, as ``torch.nn.ModuleList``: indexing (a slice is a ModuleList of
    the same modules), ``len``, iteration, ``append`` / ``extend`` / ``insert`` / ``pop``,
    ``+=`` and ``+`` (a new ModuleList). Item ``i``'s variables are under
    ``"<path>/i/..."`` (torch's ``"<path>.i..."``).

    >>> import xpgrad as xg
    >>> layers = xg.nn.ModuleList([xg.nn.Linear(3, 3, rng=0)])
    >>> layers.append(xg.nn.ReLU()).extend([xg.nn.Linear(3, 1, rng=1)])[-1].out_features
    1
    """

    def __init__(self, modules=None, name: str = "module_list"):
        super().__init__(name)
        self._store = []
        self._write()                  # made inside a trace: not a guard
        if modules is not None:
            self.extend(modules)

    def _items(self):
        return ((str(i), m) for i, m in enumerate(self._read()))

    def _index(self, i, length=None):
        if isinstance(i, bool) or not isinstance(i, numbers.Integral):
            raise TypeError(f"ModuleList indices must be integers or slices, got "
                            f"{type(i).__name__} {i!r}")
        n = len(self._read()) if length is None else length
        if not -n <= i < n:
            raise IndexError(f"ModuleList index {i} is out of range ({n} modules)")
        return int(i) % n

    def __getitem__(self, i):
        if isinstance(i, slice):
            return ModuleList(self._read()[i], name=self.name)
        return self._read()[self._index(i)]

    @renames
    def __setitem__(self, i, module):
        self._write()[self._index(i)] = _module(module, "the module set", "ModuleList")

    @renames
    def __delitem__(self, i):
        if isinstance(i, slice):
            del self._write()[i]
        else:
            del self._write()[self._index(i)]

    def __len__(self):
        return len(self._read())

    def __iter__(self):
        return iter(self._read())

    def __iadd__(self, modules):
        return self.extend(modules)

    def __add__(self, modules) -> "ModuleList":
        """A new ModuleList of this one's modules, then ``modules``' (PyTorch's ``+``)."""
        return ModuleList(self._read(), name=self.name).extend(modules)

    def __setattr__(self, key, value):
        if isinstance(value, Module) and not key.startswith("_"):
            raise TypeError(f"ModuleList: a module set as the attribute {key!r} would not be "
                            f"one of the list's (its variables would go untrained and "
                            f"unsaved): add it with append or insert")
        super().__setattr__(key, value)

    @renames
    def append(self, module) -> "ModuleList":
        """Add ``module`` at the end; returns self (as PyTorch's)."""
        self._write().append(_module(module, "the module appended", "ModuleList"))
        return self

    @renames
    def extend(self, modules) -> "ModuleList":
        """Add each of ``modules`` (an iterable of Modules) at the end; returns self."""
        if isinstance(modules, (str, bytes)) or not hasattr(modules, "__iter__"):
            raise TypeError(f"ModuleList: modules must be an iterable of Modules, got "
                            f"{type(modules).__name__}")
        modules = list(modules)
        for i, m in enumerate(modules):
            _module(m, f"modules[{i}]", "ModuleList")
        self._write().extend(modules)
        return self

    @renames
    def insert(self, index, module) -> None:
        """Insert ``module`` before ``index`` (as ``list.insert``, any int)."""
        if isinstance(index, bool) or not isinstance(index, numbers.Integral):
            raise TypeError(f"ModuleList.insert: index must be an int, got {index!r}")
        self._write().insert(int(index), _module(module, "the module inserted", "ModuleList"))

    @renames
    def pop(self, index=-1):
        """Remove and return the module at ``index`` (the last by default; a slice gives a
        ModuleList of the modules removed, as PyTorch's)."""
        if isinstance(index, slice):
            removed = self[index]
            del self[index]
            return removed
        return self._write().pop(self._index(index))


class ModuleDict(_Container):
    """An ordered dict of modules by name, as ``torch.nn.ModuleDict``: ``d[key]`` (or
    ``d.key``), ``d[key] = m`` (or ``d.key = m``), ``del``, ``in``, ``len``, iteration over
    the keys, ``keys`` / ``values`` / ``items`` / ``update`` / ``pop`` / ``clear``. Entry
    ``k``'s variables are under ``"<path>/k/..."`` (torch's ``"<path>.k..."``), so a key is a
    non-empty string without ``"."`` or ``"/"``.

    >>> import xpgrad as xg
    >>> heads = xg.nn.ModuleDict({"cls": xg.nn.Linear(4, 3, rng=0)})
    >>> list(heads.named_variables())
    ['module_dict/cls/w', 'module_dict/cls/b']
    """

    def __init__(self, modules=None, name: str = "module_dict"):
        super().__init__(name)
        self._store = {}
        self._write()                  # made inside a trace: not a guard
        if modules is not None:
            self.update(modules)

    def _items(self):
        return iter(self._read().items())

    def __getattr__(self, key):
        # PyTorch's heads.cls for heads["cls"] (only for names that are no attribute)
        entries = vars(self).get("_store")
        if entries is not None and key in entries:
            return self._read()[key]
        return super().__getattr__(key)

    def __setattr__(self, key, value):
        # PyTorch's heads.cls = layer adds the entry "cls"
        if isinstance(value, Module) and not key.startswith("_"):
            self[key] = value
        else:
            super().__setattr__(key, value)

    def __getitem__(self, key):
        try:
            return self._read()[key]
        except (KeyError, TypeError):
            raise KeyError(f"ModuleDict has no key {key!r} (its keys: "
                           f"{list(self._read())})") from None

    @renames
    def __setitem__(self, key, module):
        self._write()[_key(key)] = _module(module, f"the module for {key!r}", "ModuleDict")

    @renames
    def __delitem__(self, key):
        self[key]                                # the KeyError naming the keys
        del self._write()[key]

    def __len__(self):
        return len(self._read())

    def __iter__(self):
        return iter(self._read())

    def __contains__(self, key):
        return key in self._read()

    def keys(self):
        return self._read().keys()

    def values(self):
        return self._read().values()

    def items(self):
        return self._read().items()

    @renames
    def update(self, modules) -> None:
        """Add the entries of a mapping or of an iterable of ``(key, module)`` pairs, every
        one checked before any is added."""
        if isinstance(modules, (Mapping, ModuleDict)):
            pairs = list(modules.items())
        elif isinstance(modules, (Module, str, bytes)) or not hasattr(modules, "__iter__"):
            raise TypeError(f"ModuleDict: modules must be a dict or an iterable of (key, "
                            f"module) pairs, got {type(modules).__name__}")
        else:
            pairs = [tuple(p) if isinstance(p, (list, tuple)) else p for p in modules]
            for p in pairs:
                if not isinstance(p, tuple) or len(p) != 2:
                    raise TypeError(f"ModuleDict: modules must hold (key, module) pairs, got "
                                    f"{p!r}")
        pairs = [(_key(k), _module(m, f"the module for {k!r}", "ModuleDict")) for k, m in pairs]
        self._write().update(pairs)

    @renames
    def pop(self, key) -> Module:
        """Remove and return the module under ``key``."""
        module = self[key]
        del self._write()[key]
        return module

    @renames
    def clear(self) -> None:
        self._write().clear()


def _key(key):
    if not isinstance(key, str):
        raise TypeError(f"ModuleDict: keys must be strings (PyTorch's too), got "
                        f"{type(key).__name__} {key!r}")
    if not key or "." in key or "/" in key:
        raise ValueError(f"ModuleDict: key {key!r} must be a non-empty string without '.' "
                         "or '/' (they separate the parts of a variable's path)")
    return key
