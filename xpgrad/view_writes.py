"""A warning where ``x[key] = value`` would have changed another array in NumPy or PyTorch.

xpgrad tensors have no views: ``block = c[1, :, :]`` is a tensor of its own, and writing into
``block`` leaves ``c`` as it was. NumPy, PyTorch, CuPy and array-api-strict return a view there
and the write reaches ``c``; the array API standard leaves it unspecified, but array-API code
that relies on it (scikit-learn's ``GaussianMixture`` adds its ``reg_covar`` through
``covariances[k, :, :]``) would compute something else here without a word. So a tensor taken
by basic indexing (integers, slices, ``...``, ``None``; what NumPy makes a view) remembers the
tensor it came from, and a write into it warns while that tensor is alive.
"""
from __future__ import annotations

import warnings
import weakref


class ViewWriteWarning(UserWarning):
    """``x[key] = value`` into a tensor NumPy would have made a view: the other tensor keeps
    its value."""


#: id(view tensor) -> (weakref to it, weakref to the tensor it was indexed from); entries of dead
#: views are pruned in bulk when the table doubles (cheaper than a callback per view)
_BASES: dict = {}
_prune_at = 1024


def _is_view_key(raw_key) -> bool:
    """Whether NumPy returns a view for ``x[raw_key]`` (a completed key: a trailing ``...``
    where it indexes fewer axes): basic indexing with a slice, ``...`` or ``None`` in it."""
    view = False
    for k in raw_key:
        if k is None or k is Ellipsis or k.__class__ is slice:
            view = True
        elif k.__class__ is not int:
            return False             # boolean scalars, masks and integer arrays copy
    return view


def remember(view, base, raw_key) -> None:
    """Note that ``view`` is ``base[raw_key]``, if NumPy would have made it a view."""
    if view is base or not _is_view_key(raw_key):
        return
    global _prune_at
    _BASES[id(view)] = (weakref.ref(view), weakref.ref(base))
    if len(_BASES) > _prune_at:
        # list() copies in one step (other threads may add entries meanwhile)
        for key, (view_ref, base_ref) in list(_BASES.items()):
            if view_ref() is None or base_ref() is None:
                _BASES.pop(key, None)
        _prune_at = max(1024, 2 * len(_BASES))


def warn_on_write(x) -> None:
    """Warn if ``x`` was indexed from a tensor that is still alive (called by the write)."""
    refs = _BASES.get(id(x))
    if refs is None or refs[0]() is not x or refs[1]() is None:
        return
    warnings.warn(
        "x[key] = value writes into a tensor taken from another one by indexing (x = c[1, :]); "
        "xpgrad tensors have no views, so the other tensor keeps its value, where NumPy and "
        "PyTorch would change it. Write into the original (c[1, key] = value) if that was "
        "meant", ViewWriteWarning, stacklevel=4)
