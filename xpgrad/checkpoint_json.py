"""A checkpoint's ``metadata``, made plain JSON before it is written: the numbers a training
loop has at hand -- NumPy scalars (``np.float32`` from a float32 mean, ``np.int64``) and 0-d
arrays or Tensors (a validation loss) -- become the Python numbers they equal; a float that
is not finite (an ``EarlyStopping(baseline=float("inf"))``, a NaN loss) is written as
``{"__float__": "inf"}`` (``"-inf"``, ``"nan"``), strict JSON, which ``restored_metadata``
reads back as the float; anything else JSON cannot hold (a Tensor of several values, an
object) is a TypeError naming the key that holds it.

>>> import numpy as np
>>> plain_metadata({"val_loss": np.float32(0.5), "epochs": [np.int64(3)], "best": -np.inf})
{'val_loss': 0.5, 'epochs': [3], 'best': {'__float__': '-inf'}}
>>> restored_metadata(plain_metadata({"best": float("inf")}))
{'best': inf}
"""
from __future__ import annotations

import math

import numpy as np

_WHAT = "metadata must be JSON-serializable (numbers, str, lists, dicts)"
#: the key of the one-item dict a non-finite float is written as
_FLOAT_KEY = "__float__"
_NON_FINITE = {"inf": math.inf, "-inf": -math.inf, "nan": math.nan}


def plain_metadata(metadata: dict) -> dict:
    """``metadata`` with its NumPy scalars and 0-d arrays and Tensors as Python numbers, and
    its non-finite floats as ``{"__float__": "inf"}`` (module docstring).

    >>> plain_metadata({"wait": 2, "baseline": float("nan")})
    {'wait': 2, 'baseline': {'__float__': 'nan'}}
    """
    return _plain(metadata, "metadata")


def restored_metadata(metadata):
    """``metadata`` as read from a checkpoint, its ``{"__float__": "inf"}`` items the floats
    they stand for (the inverse of ``plain_metadata``).

    >>> restored_metadata({"best": {"__float__": "-inf"}, "runs": [{"__float__": "nan"}]})
    {'best': -inf, 'runs': [nan]}
    """
    if isinstance(metadata, dict):
        if len(metadata) == 1 and metadata.get(_FLOAT_KEY) in _NON_FINITE:
            return _NON_FINITE[metadata[_FLOAT_KEY]]
        return {key: restored_metadata(item) for key, item in metadata.items()}
    if isinstance(metadata, list):
        return [restored_metadata(item) for item in metadata]
    return metadata


def _float(number: float):
    if math.isfinite(number):
        return number
    return {_FLOAT_KEY: "nan" if math.isnan(number) else "inf" if number > 0 else "-inf"}


def _plain(value, where):
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        return _float(value)
    if isinstance(value, dict):
        if len(value) == 1 and value.get(_FLOAT_KEY) in _NON_FINITE:
            raise TypeError(f"{_WHAT}, and {where} is {value!r}, the form a non-finite float "
                            f"is written in, which would load back as that float: rename "
                            f"its key {_FLOAT_KEY!r}")
        return {key: _plain(item, f"{where}[{key!r}]") for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item, f"{where}[{i}]") for i, item in enumerate(value)]
    shape = getattr(value, "shape", None)
    if (isinstance(value, np.generic) or shape == ()) and hasattr(value, "item"):
        number = value.item()
        if isinstance(number, (bool, int)):
            return number
        if isinstance(number, float):
            return _float(number)
        raise TypeError(f"{_WHAT}: {where} is {value!r}")
    described = (f"a {type(value).__name__} of shape {tuple(shape)}" if shape is not None
                 else f"a {type(value).__name__} object")
    raise TypeError(f"{_WHAT}: {where} is {described}")
