"""``atanh``, ``log`` and ``pow`` for the transforms' inverses, which reach the edge of their
domain: ``atanh(+-1)``, ``log(0)`` and ``0 ** p`` (p < 0) are +-inf, and the gradients there
inf, as PyTorch's, without NumPy's divide-by-zero RuntimeWarning. ``xg.atanh`` and the others
keep NumPy's warnings (there such an input is usually a mistake; here it is a boundary of the
codomain that a float32 sample reaches). The same rules as theirs, run with the warning off.

>>> import warnings, xpgrad as xg
>>> with warnings.catch_warnings():
...     warnings.simplefilter("error")
...     atanh(xg.asarray([1.0, -1.0])).tolist(), log(xg.asarray(0.0)).item()
([inf, -inf], -inf)
"""
from __future__ import annotations

import numpy as np

from ..ops import atanh as _atanh
from ..ops import log as _log
from ..ops import pow as _pow
from ..primitive import Primitive, apply


def _quiet(rule):
    def quiet(*args, **kwargs):
        with np.errstate(divide="ignore"):
            return rule(*args, **kwargs)
    return quiet


def _quiet_twin(public):
    """A primitive with ``public``'s rules, run without the divide-by-zero warning."""
    prim = public.primitive
    twin = Primitive(f"{prim.name}_at_boundary", _quiet(prim.forward),
                     *(_quiet(rule) for rule in prim.vjps), saves=prim.saves,
                     scalar_arrays=prim.scalar_arrays)

    def fn(*args):
        return apply(twin, *args)
    fn.__name__ = prim.name
    fn.__doc__ = f"``xg.{prim.name}`` without NumPy's divide-by-zero warning (module docstring)."
    return fn


atanh = _quiet_twin(_atanh)
log = _quiet_twin(_log)
pow = _quiet_twin(_pow)

__all__: list = []
