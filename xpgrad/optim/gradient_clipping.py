"""Gradient clipping by global norm (TensorFlow's ``clip_by_global_norm``).

>>> import xpgrad as xg
>>> clipped, norm = clip_global_norm([xg.asarray([3.0]), None, xg.asarray([4.0])], 1.0)
>>> norm.item(), [c.tolist() if c is not None else None for c in clipped]
(5.0, [[0.6000000238418579], None, [0.800000011920929]])
"""
from __future__ import annotations

import math
import sys

from ..clip_marks import clipped_by_global_norm, mark_clipped  # noqa: F401 (re-exported)
from ..jit.whole import run_quietly
from ..pytree import is_node, leaves, leaves_with_paths, rebuild
from ..tensor import Tensor, _wrap
from ._checks import hyperparameter

#: torch.nn.utils' clipping functions, looked up on xg.optim or xg.nn.utils, and xpgrad's way
TORCH_CLIPPING_NAMES = dict.fromkeys(
    ("clip_grad_norm_", "clip_grad_norm", "clip_grad_value_"),
    "torch.nn.utils.clip_grad_norm_ is xg.optim.clip_global_norm(grads, max_norm, eps=1e-6), "
    "which returns (clipped grads, norm); clip_grad_value_ is an optimizer's clipvalue=")

def _global_norm_raw(raws, xp):
    total = None
    for g in raws:
        flat = xp.reshape(g, (-1,))
        sq = xp.vecdot(flat, flat) if flat.shape[0] else xp.sum(flat)
        if xp.isdtype(sq.dtype, "complex floating"):
            sq = xp.real(sq)       # vecdot conjugates its first argument: sum |g|**2, real
        sq = xp.astype(sq, xp.float64) if sq.dtype != xp.float64 else sq
        total = sq if total is None else total + sq
    return xp.sqrt(total)


def _p_norm_raw(raws, xp, norm_type):
    """The ``norm_type``-norm of all entries of ``raws`` together, in float64: the max of
    ``|g|`` for ``inf``, else ``(sum |g| ** p) ** (1 / p)`` (torch's ``vector_norm`` of the
    per-tensor norms, which is the same number)."""
    if norm_type == 2.0:
        return _global_norm_raw(raws, xp)
    total = None
    for g in raws:
        a = xp.abs(xp.reshape(g, (-1,)))
        a = xp.astype(a, xp.float64) if a.dtype != xp.float64 else a
        if norm_type == math.inf:
            part = xp.max(a) if a.shape[0] else xp.asarray(0.0, dtype=xp.float64)
            total = part if total is None else xp.maximum(total, part)
        else:
            part = xp.sum(a ** norm_type)
            total = part if total is None else total + part
    return total if norm_type == math.inf else total ** (1.0 / norm_type)


def _norm_type(norm_type, owner) -> float:
    """``norm_type`` as a float: a positive number or ``inf`` (torch's ``float(norm_type)``
    takes ``"inf"`` too), else ValueError naming it."""
    try:
        p = float(norm_type)
    except (TypeError, ValueError):
        raise TypeError(f"{owner}: norm_type must be a number > 0 or inf, got "
                        f"{norm_type!r}") from None
    if isinstance(norm_type, bool) or not p > 0:       # NaN fails here too
        raise ValueError(f"{owner}: norm_type must be a number > 0 or inf, got {norm_type!r}")
    return p


def _present(grads, who) -> tuple:
    """``(grads as a list, the Tensors in it)``, checked: a list of Tensors (or None) on one
    backend. A bare Tensor is refused (iterating it would clip its rows as separate tensors)."""
    if isinstance(grads, Tensor) or not hasattr(grads, "__iter__"):
        raise TypeError(f"{who} takes a list of Tensors (or None), got a "
                        f"{type(grads).__name__}; wrap one tensor in a list")
    grads = list(grads)                 # a generator is read once
    present = [g for g in grads if g is not None]
    for g in present:
        if not isinstance(g, Tensor):
            raise TypeError(f"{who} takes Tensors (or None), got {type(g).__name__}")
    for g in present[1:]:
        if g._backend is not present[0]._backend:
            from ..primitive import _mixed

            raise _mixed(present[0]._backend, g._backend)
    return grads, present


def clip_global_norm(grads, max_norm, *, eps=0.0, norm_type=2.0, error_if_nonfinite=False):
    """Scale all gradients by ``max_norm / max(global_norm + eps, max_norm)``.

    ``grads`` is a list (or any iterable) of Tensors, None entries pass through, or a pytree
    of them (a dict, a nested list or tuple, a named tuple, a Module: what ``xg.grad``
    returns for such params, as ``optax.clip_by_global_norm`` takes). Returns ``(clipped,
    norm)``: a list (for a pytree, its structure) and the global norm before clipping (a
    float64 0-d Tensor).
    The norm stays on the device: nothing is synchronized. ``eps=0`` (the default) is
    TensorFlow's ``clip_by_global_norm``; ``eps=1e-6`` is ``torch.nn.utils.clip_grad_norm_``
    (``max_norm / (norm + 1e-6)``, at most 1), which a clipped update scales by about
    ``1e-6 / norm`` less.

    ``norm_type`` and ``error_if_nonfinite`` are ``clip_grad_norm_``'s: the global norm is the
    ``norm_type``-norm of all entries together (``float("inf")``: the largest ``|g|``), and
    ``error_if_nonfinite=True`` raises RuntimeError when it is NaN or infinite (which reads the
    norm back from the device; under ``xg.function`` a guard of the replay, where a non-finite norm
    runs the call eagerly) instead of returning NaN gradients.

    >>> import xpgrad as xg
    >>> grads = [xg.asarray([3.0, 4.0], dtype=xg.float64)]
    >>> [round(g, 9) for g in xg.optim.clip_global_norm(grads, 1.0, eps=1e-6)[0][0].tolist()]
    [0.59999988, 0.79999984]
    >>> clipped, norm = xg.optim.clip_global_norm(grads, 2.0, norm_type=float("inf"))
    >>> norm.item(), clipped[0].tolist()
    (4.0, [1.5, 2.0])
    >>> tree = {"w": xg.asarray([3.0]), "b": [xg.asarray([4.0])]}
    >>> clipped, norm = xg.optim.clip_global_norm(tree, 0.5)
    >>> norm.item(), clipped["w"].tolist(), clipped["b"][0].tolist()
    (5.0, [0.30000001192092896], [0.4000000059604645])
    """
    if _is_pytree(grads):
        _refuse_other_leaves(grads, "clip_global_norm")
        flat, norm = clip_global_norm(leaves(grads), max_norm, eps=eps, norm_type=norm_type,
                                      error_if_nonfinite=error_if_nonfinite)
        return rebuild(grads, flat), norm
    max_norm = hyperparameter("max_norm", max_norm, low=0.0, low_open=True,
                              owner="clip_global_norm")
    eps = hyperparameter("eps", eps, low=0.0, owner="clip_global_norm")
    norm_type = _norm_type(norm_type, "clip_global_norm")
    grads, present = _present(grads, "clip_global_norm")
    for g in present:                   # a scale below 1 would round integers to 0
        if g.dtype.kind not in "fc":
            raise TypeError(f"clip_global_norm: gradients are floating-point (or complex) "
                            f"tensors, got one of {g.dtype}")
    if not present:
        return grads, None
    be = present[0]._backend
    xp = be.xp
    norm = _p_norm_raw([g._data for g in present], xp, norm_type)
    if error_if_nonfinite:
        # value_range, not float(norm): under xg.function the check is a guard of the replay
        # (a non-finite norm runs that call eagerly, which raises here)
        value = be.value_range(norm, accepted=(0.0, sys.float_info.max))[0]
        if not math.isfinite(value):
            raise RuntimeError(f"clip_global_norm: the total norm of order {norm_type} of "
                               f"the gradients is {value}, so they cannot be clipped "
                               "(error_if_nonfinite=True)")
    scale = max_norm / xp.maximum(norm + eps, max_norm)
    out = [None if g is None else
           _wrap(run_quietly(xp, _scaled, g._data, scale, invalid="ignore"), be) for g in grads]
    for g in out:
        if g is not None:
            mark_clipped(g)
    return out, _wrap(norm, be)


def _scaled(xp, g, scale):
    """``g * scale`` in ``g``'s dtype. An infinite norm scales by 0, as torch's: finite
    entries become 0, infinite ones NaN (IEEE's inf * 0, which NumPy would warn of)."""
    return g * xp.astype(scale, g.dtype)


def _is_pytree(grads) -> bool:
    """Whether ``grads`` is a pytree to clip as one (a dict, a Module, a named tuple, or a list
    or tuple holding containers), not a flat list or tuple of Tensors (which gives a list)."""
    if isinstance(grads, (list, tuple)) and not hasattr(grads, "_fields"):
        return any(is_node(g) for g in grads)
    return is_node(grads)


def _refuse_other_leaves(grads, who):
    """TypeError naming the first leaf of pytree ``grads`` that is not a Tensor, and where."""
    for path, leaf in leaves_with_paths(grads):
        if leaf is not None and not isinstance(leaf, Tensor):
            raise TypeError(f"{who} takes Tensors (or None), got {type(leaf).__name__} at "
                            f"grads{path} (in a {type(grads).__name__} of gradients)")


def global_norm(grads):
    """The square root of the sum of squares of all entries of ``grads`` (None skipped): a
    list of Tensors or a pytree of them (``optax.global_norm``).

    >>> import xpgrad as xg
    >>> global_norm({"w": xg.asarray([3.0]), "b": [xg.asarray([4.0])]}).item()
    5.0
    """
    if _is_pytree(grads):
        _refuse_other_leaves(grads, "global_norm")
        grads = leaves(grads)
    _, present = _present(grads, "global_norm")
    if not present:
        return None
    be = present[0]._backend
    return _wrap(_global_norm_raw([g._data for g in present], be.xp), be)


def clip_value(g, limit, name="the gradient"):
    """``g`` with each entry clipped to ``[-limit, limit]`` (a real Tensor, as Keras'
    ``clipvalue``; a complex one is a TypeError naming ``name``: clipping would drop its
    imaginary part)."""
    if g.dtype.kind == "c":
        raise TypeError(f"clipvalue clips real numbers, but {name} is {g.dtype} (clipping "
                        "would drop its imaginary part); use clipnorm or global_clipnorm")
    xp = g._backend.xp
    raw = g._data
    return _wrap(xp.clip(raw, -limit, limit), g._backend)
