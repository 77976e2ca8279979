"""Checks of public arguments that every layer of xpgrad shares (no imports: usable anywhere).

>>> flag(True, "keepdims", "sum")
True
>>> try:
...     flag("no", "keepdims", "sum")
... except TypeError as e:
...     print(e)
sum: keepdims must be True or False, got 'no'
"""
from __future__ import annotations


def flag(value, name: str, owner: str | None = None) -> bool:
    """``value`` as a Python bool: ``True``/``False`` or a NumPy bool scalar, nothing else.

    Truthiness would take ``"no"`` or ``"False"`` as True, and 0/1 hide a swapped positional
    argument, so these are refused (as PyTorch refuses them) with a TypeError naming ``name``.
    """
    if value is True or value is False:
        return value
    dtype = getattr(value, "dtype", None)
    if getattr(dtype, "name", None) == "bool" and getattr(value, "shape", None) == () \
            and not hasattr(value, "_backend"):          # a NumPy bool, not a Tensor
        return bool(value)
    where = f"{owner}: " if owner else ""
    raise TypeError(f"{where}{name} must be True or False, got {value!r}")


def no_attribute(obj, name: str, hint: str | None = None) -> AttributeError:
    """The AttributeError for ``obj.name``; ``hint`` says where xpgrad has what another library
    (PyTorch, older Keras) calls ``name``."""
    message = f"{type(obj).__name__!r} object has no attribute {name!r}"
    return AttributeError(message if hint is None else f"{message}: {hint}")


def pointer(name: str, hint: str) -> property:
    """A class attribute standing for another library's ``name``: reading or assigning it
    raises ``no_attribute`` with ``hint`` (so ``hasattr`` stays False, and an assignment is not
    kept where it would change nothing)."""
    def missing(self, *value):
        raise no_attribute(self, name, hint)
    return property(missing, missing)
