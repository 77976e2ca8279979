"""How a layer draws its initial weights from an ``init=``-style argument (``init``,
``kernel_init``, ``recurrent_init``, ``bias_init``): the name or callable resolved
(``resolve``), drawn from the layer's generator and checked (``draw``), every error naming the
layer and the argument.

A bias initializer is an initializer like any other, called ``(rng, (n,), dtype)``; one that
takes a keyword ``fan_in`` (``xg.nn.init.torch_linear_default`` does) is also given the fan_in
of the weight the bias adds to, which a 1-D shape cannot tell (PyTorch reads it from
``self.weight`` in ``reset_parameters``).

>>> import xpgrad as xg
>>> gen = xg.random.default_rng(0)
>>> fn = resolve("torch_linear_default", "bias_init", "Linear")
>>> b = draw(fn, "torch_linear_default", "bias_init", gen, (3,), xg.float32, "Linear",
...          "(out_features,)", fan_in=16)
>>> b.shape, bool(abs(b).max().item() <= 0.25)
((3,), True)
"""
from __future__ import annotations

from ..creation import asarray
from ..keyword_checks import keywords_of
from ..ops.casting import astype
from ..tensor import Tensor
from . import init as _init
from ._torch import host


def resolve(init, arg, owner):
    """The initializer ``init`` names or is (``xg.nn.init.get``); its errors prefixed with
    ``owner`` and naming ``arg``."""
    try:
        return _init.get(init, arg)
    except ValueError as e:
        raise ValueError(f"{owner}: {e}") from None
    except TypeError as e:
        raise TypeError(f"{owner}: {e}") from None


def takes_fan_in(fn) -> bool:
    """Whether the initializer ``fn`` has a parameter named ``fan_in``."""
    names = keywords_of(fn)
    return names is not None and "fan_in" in names


def draw(fn, init, arg, gen, shape, dtype, owner, layout, *, fan_in=None):
    """``fn(gen, shape, dtype)`` (with ``fan_in=`` if given and ``fn`` takes it) as a Tensor
    of ``shape`` and ``dtype`` on ``gen``'s backend. A ValueError/TypeError while drawing (a
    fan-based initializer given a 1-D bias shape), a result of another shape or not of real
    floats is an error naming ``owner``, ``arg`` and ``init`` (what the user passed);
    ``layout`` says what the axes are."""
    kwargs = {"fan_in": fan_in} if fan_in is not None and takes_fan_in(fn) else {}
    try:
        w = fn(gen, shape, dtype, **kwargs)
    except (TypeError, ValueError) as e:
        kind = ValueError if isinstance(e, ValueError) else TypeError
        raise kind(f"{owner}: {arg} {_label(init)} cannot draw shape {shape} {layout}: "
                   f"{e}") from e
    return initial(w, shape, dtype, gen, init, owner, layout, arg)


def initial(w, shape, dtype, gen, init, owner, layout, arg="init"):
    """What an initializer returned, as a Tensor of ``shape`` and ``dtype`` on ``gen``'s backend
    (a custom one may return an array, nested lists, a torch tensor (even one requiring grad,
    or bfloat16), another float dtype or a Tensor on another backend, which is cast or
    moved); a wrong shape is a ValueError, values that are not real floats (integers,
    booleans, complex) or no array a TypeError, naming ``arg``, ``init``, ``owner`` (the
    layer) and ``layout`` (the axes)."""
    if not isinstance(w, Tensor) and hasattr(w, "detach"):     # a torch tensor
        w = host(w)
    got = _dtype_kind(w)
    if got is not None and got != "f":
        raise TypeError(f"{owner}: {arg} {_label(init)} returned {w.dtype} values, expected "
                        f"real floats ({dtype}) of shape {shape} {layout}")
    if not isinstance(w, Tensor):
        error = TypeError(f"{owner}: {arg} {_label(init)} returned {type(w).__name__}, "
                          f"expected a tensor of shape {shape} {layout}")
        if not (hasattr(w, "shape") or isinstance(w, (list, tuple))):   # None would be NaN
            raise error
        try:
            w = asarray(w, dtype=dtype, backend=gen.backend)
        except (TypeError, ValueError) as e:
            raise error from e
    if w.shape != shape:
        raise ValueError(f"{owner}: {arg} {_label(init)} returned shape {w.shape}, expected "
                         f"{shape} {layout}")
    if w.backend is not gen.backend:        # the layer's weights live on one backend
        w = w.to(gen.backend)
    return w if w.dtype == dtype else astype(w, dtype)


def _dtype_kind(w):
    """The NumPy kind letter of ``w``'s dtype ("f", "i", "b", "c", ...), None without one."""
    if isinstance(w, Tensor):
        return w.dtype.kind
    kind = getattr(getattr(w, "dtype", None), "kind", None)
    return kind if isinstance(kind, str) else None


def _label(init) -> str:
    """``init`` as an error message shows it: a name quoted, a callable by its name."""
    if isinstance(init, str):
        return repr(init)
    return getattr(init, "__name__", None) or repr(init)
