"""Argument checks shared by the layers: a clear error naming the argument and its value.

>>> size("in_features", 3, "Linear")
3
>>> try:
...     size("in_features", 2.5, "Linear")
... except TypeError as e:
...     print(e)
Linear: in_features must be a positive integer, got 2.5
"""
from __future__ import annotations

import numbers

from ..keyword_checks import check_keywords
from ..optim._checks import hyperparameter
from ..tf_names import LAYER_KEYWORDS as _KERAS_KEYWORDS


def size(name: str, value, owner: str,
         message="{owner}: {name} must be a positive integer, got {value!r}") -> int:
    """A layer size: a positive int (NumPy integers too; bools, floats and strings refused).
    ``message`` is the error's text, formatted with ``owner``, ``name`` and ``value``."""
    return _at_least(1, name, value, owner, message)


def count(name: str, value, owner: str,
          message="{owner}: {name} must be a non-negative integer, got {value!r}") -> int:
    """A layer size that may be 0 (PyTorch's ``Linear(0, 3)``, ``GroupNorm(1, 0)``: empty
    weights), checked as ``size``.

    >>> count("in_features", 0, "Linear")
    0
    """
    return _at_least(0, name, value, owner, message)


def _at_least(least: int, name: str, value, owner: str, message: str) -> int:
    text = message.format(owner=owner, name=name, value=value)
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(text)
    if value < least:
        raise ValueError(text)
    return int(value)


def sizes(name: str, values, owner: str, least: int = 1) -> list:
    """A list of layer sizes, each an int of at least ``least`` (1 as ``size``, 0 as
    ``count``).

    >>> sizes("sizes", [4, 0, 2], "MLP", least=0)
    [4, 0, 2]
    """
    what = "positive" if least == 1 else "non-negative"
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        raise TypeError(f"{owner}: {name} must be a list of {what} integers, got "
                        f"{type(values).__name__} {values!r}")
    values = list(values)
    for v in values:
        if isinstance(v, bool) or not isinstance(v, numbers.Integral):
            raise TypeError(f"{owner}: {name} must be a list of {what} integers, got "
                            f"{values!r}")
        if v < least:
            raise ValueError(f"{owner}: {name} must be a list of {what} integers, got "
                             f"{values!r}")
    return [int(v) for v in values]


def floating_dtype(dtype, owner: str):
    """``dtype`` as an xpgrad DType of a real floating kind (weights are trained)."""
    from ..dtypes import as_dtype

    try:
        dt = as_dtype(dtype)
    except (TypeError, ValueError, KeyError):
        raise TypeError(f"{owner}: dtype must be float32 or float64, got {dtype!r}") from None
    if not dt.is_floating:
        raise TypeError(f"{owner}: dtype must be float32 or float64 (weights are trained), got "
                        f"{dt}")
    return dt


def input_dtype_error(x, dtype, who) -> TypeError:
    """The TypeError for an input ``x`` whose dtype is not the layer's weights' ``dtype`` (no
    silent promotion), naming the layer ``who``.

    >>> import xpgrad as xg
    >>> str(input_dtype_error(xg.ones(2, dtype=xg.float64), xg.float32, "LSTM"))
    'LSTM has float32 weights but got a float64 input; cast it with xg.astype'
    """
    return TypeError(f"{who} has {dtype} weights but got a {x.dtype} input; cast it with "
                     "xg.astype")


def probability(name: str, value, owner: str, *, high_open=True) -> float:
    """A rate in [0, 1) (or [0, 1])."""
    return hyperparameter(name, value, low=0.0, high=1.0, high_open=high_open, owner=owner)


def finite(name: str, value, owner: str) -> float:
    return hyperparameter(name, value, owner=owner)


def not_torch(fn, name: str, owner: str):
    """``fn`` unless it is one of PyTorch's callables (``torch.tanh``, ``F.gelu``,
    ``nn.GELU()``), which take torch tensors only: TypeError naming ``name`` and xpgrad's.

    >>> not_torch(abs, "activation", "MLP") is abs
    True
    """
    where = getattr(fn, "__module__", None) or type(fn).__module__ or ""
    if where == "torch" or where.startswith("torch."):
        label = getattr(fn, "__name__", type(fn).__name__)
        raise TypeError(f"{owner}: {name} is PyTorch's {label}, which takes torch tensors "
                        f"only; pass xpgrad's (a name such as 'gelu', or xg.nn.gelu, "
                        f"xg.nn.GELU())")
    return fn


#: PyTorch's keyword arguments of its layers, and what a PyTorch user is told here
_TORCH_KEYWORDS = {
    "dim": "; xpgrad calls it axis=",
    "start_dim": "; xpgrad calls it start_axis=",
    "end_dim": "; xpgrad calls it end_axis=",
    "p": "; xpgrad calls it rate=",
    "inplace": ": xpgrad's layers never change their input in place; leave it out",
    "device": "; xpgrad's layers take backend= ('numpy', 'numba', 'cupy')",
    "proj_size": ": only an LSTM has proj_size (PyTorch's too), and xpgrad's takes only 0",
    **dict.fromkeys(("size_average", "reduce"),
                    ": PyTorch's deprecated option; xpgrad's losses take reduction= ('mean', "
                    "'sum', 'none') only"),
}


#: what a PyTorch (first) or Keras user is told for a keyword a layer does not take
_LAYER_HINTS = {**_KERAS_KEYWORDS, **_TORCH_KEYWORDS}


def known_keywords(cls, kwargs) -> None:
    """TypeError naming the layer ``cls`` (not the class whose ``__init__`` it inherits) for a
    keyword argument it does not take, with xpgrad's name for PyTorch's (``dim`` -> ``axis``)
    and Keras' (``use_bias`` -> ``bias``).

    >>> class Layer:
    ...     def __init__(self, axis=-1): pass
    >>> try:
    ...     known_keywords(Layer, {"dim": 1})
    ... except TypeError as e:
    ...     print(e)
    Layer() got an unexpected keyword argument 'dim'; xpgrad calls it axis=
    """
    check_keywords(cls, kwargs, _LAYER_HINTS)
