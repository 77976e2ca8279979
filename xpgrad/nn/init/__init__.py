"""Weight initializers drawn from an explicit ``xg.random`` Generator: ``xg.nn.init``.

An initializer is a callable ``(rng, shape, dtype=float32) -> Tensor``; ``rng`` is an
``xg.random.Generator`` (or an int seed, or None for fresh entropy) and picks the backend.
Layers take one as ``init=``: a callable, or a name of ``INITIALIZERS`` (``get``).

- fans: ``compute_fans(shape)``; a dense kernel is ``(fan_in, fan_out)`` (``Linear.w``), a
  kernel with more axes ``(*receptive_field, in, out)`` (Keras' and JAX's layout; PyTorch's
  ``(out, in, *receptive_field)`` transposed);
- ``variance_scaling(scale, mode, distribution)`` and the schemes on it: ``glorot_uniform``,
  ``glorot_normal`` (``xavier_*``), ``he_uniform``, ``he_normal`` (``kaiming_*``),
  ``lecun_uniform``, ``lecun_normal``, ``torch_linear_default`` (PyTorch's Linear weights);
- ``orthogonal(gain)``, ``uniform(low, high)``, ``normal(mean, stddev)``,
  ``truncated_normal(mean, stddev, lower, upper)``, ``constant(value)``, ``zeros``, ``ones``;
- ``blockwise(init, blocks)``: ``init`` drawn on each of ``blocks`` column blocks (gates).

>>> import xpgrad as xg
>>> rng = xg.random.default_rng(0)
>>> glorot_uniform(rng, (4, 3)).shape, orthogonal(gain=2.0)(rng, (4, 3)).shape
((4, 3), (4, 3))
>>> xg.nn.Linear(4, 3, init="orthogonal", rng=0).w.shape
(4, 3)
"""
from __future__ import annotations

import functools

from ...random import Generator  # noqa: F401 (layers check rng against it)
from ._common import as_rng, check_rng, compute_fans  # noqa: F401 (check_rng: layers)
from .blockwise import blockwise
from .distributions import constant, normal, ones, truncated_normal, uniform, zeros
from .orthogonal import orthogonal
from .variance import (DISTRIBUTIONS, MODES, TRUNCATED_STDDEV, glorot_normal, glorot_uniform,
                       he_normal, he_uniform, kaiming_normal, kaiming_uniform, lecun_normal,
                       lecun_uniform, torch_linear_default, variance_scaling, xavier_normal,
                       xavier_uniform)

#: the initializers a layer's ``init=`` takes by name ("glorot"/"xavier" are glorot_uniform,
#: "he"/"kaiming" he_normal, as before; "orthogonal" is orthogonal(gain=1.0))
INITIALIZERS = {
    "glorot": glorot_uniform, "glorot_uniform": glorot_uniform, "glorot_normal": glorot_normal,
    "xavier": glorot_uniform, "xavier_uniform": glorot_uniform, "xavier_normal": glorot_normal,
    "he": he_normal, "he_normal": he_normal, "he_uniform": he_uniform,
    "kaiming": he_normal, "kaiming_normal": he_normal, "kaiming_uniform": he_uniform,
    "lecun_uniform": lecun_uniform, "lecun_normal": lecun_normal,
    "torch_linear_default": torch_linear_default, "orthogonal": orthogonal(),
    "zeros": zeros, "ones": ones,
}
# names of factories whose parameters have no default all frameworks agree on
_FACTORIES = {"uniform": "uniform(low, high)", "normal": "normal(mean, stddev)",
              "truncated_normal": "truncated_normal(mean, stddev)", "constant": "constant(value)",
              "variance_scaling": "variance_scaling(scale, mode, distribution)"}


def get(init, arg="init"):
    """An initializer from a name in ``INITIALIZERS`` or a callable ``(rng, shape, dtype)``
    (returned as it is); anything else is a ValueError (an unknown name) or TypeError, naming
    the argument ``arg`` (the layer's ``init``, ``kernel_init``, ``bias_init``, ...). A
    factory passed uncalled, as PyTorch's ``init.orthogonal_`` is passed, is read
    as its name is: ``orthogonal`` as ``orthogonal()``, the ones taking parameters
    (``normal``, ``uniform``, ...) a TypeError saying to call them.

    >>> get("xavier") is glorot_uniform
    True
    >>> get("normal")
    Traceback (most recent call last):
    ...
    ValueError: init 'normal' takes parameters: pass xg.nn.init.normal(mean, stddev)
    >>> get(normal)
    Traceback (most recent call last):
    ...
    TypeError: init=xg.nn.init.normal is a factory: pass xg.nn.init.normal(mean, stddev)
    """
    _refuse_torch(init, arg)
    factory = _factory_name(init)
    if factory is not None:          # the factory itself, not an initializer it made
        if factory in INITIALIZERS:  # "orthogonal": its defaults are everyone's
            return INITIALIZERS[factory]
        raise TypeError(f"{arg}=xg.nn.init.{factory} is a factory: pass "
                        f"xg.nn.init.{_FACTORIES[factory]}")
    if callable(init):
        return init
    if not isinstance(init, str):
        raise TypeError(f"{arg} must be a name in xg.nn.init.INITIALIZERS or a callable "
                        f"(rng, shape, dtype) -> Tensor, got {type(init).__name__} {init!r}")
    if init in _FACTORIES:
        raise ValueError(f"{arg} {init!r} takes parameters: pass "
                         f"xg.nn.init.{_FACTORIES[init]}")
    try:
        return INITIALIZERS[init]
    except KeyError:
        raise ValueError(f"unknown {arg} {init!r}; expected one of {sorted(INITIALIZERS)} "
                         "or a callable (rng, shape, dtype) -> Tensor") from None


def _refuse_torch(init, arg):
    """A TypeError naming ``arg`` for one of PyTorch's in-place ``torch.nn.init`` functions
    (``orthogonal_(tensor)``, which an xpgrad layer would call with a generator), saying which
    xpgrad initializer draws the same."""
    while isinstance(init, functools.partial):      # partial(torch.nn.init.normal_, std=0.02)
        init = init.func
    if not callable(init) or getattr(init, "__module__", None) != "torch.nn.init":
        return
    name = getattr(init, "__name__", "")
    base = name[:-1] if name.endswith("_") else name
    base = {"trunc_normal": "truncated_normal"}.get(base, base)
    if base in INITIALIZERS:
        instead = f"{base!r} (or xg.nn.init.{base}{'()' if base == 'orthogonal' else ''})"
    elif base in _FACTORIES:
        instead = f"xg.nn.init.{_FACTORIES[base]}"
    else:
        instead = "a name of xg.nn.init.INITIALIZERS or a callable (rng, shape, dtype)"
    raise TypeError(f"{arg}=torch.nn.init.{name} fills a PyTorch tensor in place; xpgrad's "
                    f"initializers draw from an xg.random generator: pass {instead}")


def _factory_name(init):
    """The name of ``init`` if it is one of the factories (``orthogonal``, ``normal``, ...)
    passed where an initializer they make belongs (PyTorch's ``init.orthogonal_`` is applied
    as it is), else None."""
    for name in ("orthogonal", *_FACTORIES):
        if init is globals()[name]:
            return name
    return None


def __getattr__(name):
    """PyTorch's in-place ``torch.nn.init`` names (``xavier_uniform_``): an AttributeError
    saying which xpgrad initializer draws the same, and how a layer takes it."""
    base = name[:-1] if name.endswith("_") and not name.endswith("__") else None
    base = {"trunc_normal": "truncated_normal"}.get(base, base)
    message = f"module {__name__!r} has no attribute {name!r}"
    if base in INITIALIZERS or base in _FACTORIES:
        made = f"xg.nn.init.{_FACTORIES[base]}" if base in _FACTORIES else repr(base)
        message += (f": PyTorch's {name} fills a tensor in place; xpgrad's initializers draw "
                    f"new values from a generator: give the layer init={made} (it draws in "
                    f"its own layout, with PyTorch's fans), or v.assign(initializer(rng, "
                    f"v.shape)) for a Variable of shape (fan_in, fan_out)")
    raise AttributeError(message)


__all__ = ["INITIALIZERS", "get", "as_rng", "compute_fans", "variance_scaling",
           "glorot_uniform", "glorot_normal", "xavier_uniform", "xavier_normal", "he_uniform",
           "he_normal", "kaiming_uniform", "kaiming_normal", "lecun_uniform", "lecun_normal",
           "torch_linear_default", "orthogonal", "uniform", "normal", "truncated_normal",
           "constant", "zeros", "ones", "blockwise", "MODES", "DISTRIBUTIONS",
           "TRUNCATED_STDDEV"]
