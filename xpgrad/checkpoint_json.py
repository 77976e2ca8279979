"""A checkpoint's ``metadata``, made plain JSON before it is written: the numbers a training
loop has at hand -- NumPy scalars (``np.float32`` from a float32 mean, ``np.int64``) and 0-d
arrays or Tensors (a validation loss) -- become the Python numbers they equal; anything else
JSON cannot hold (a Tensor of several values, a NaN, an object) is a TypeError naming the key
that holds it.

>>> import numpy as np
>>> plain_metadata({"val_loss": np.float32(0.5), "epochs": [np.int64(3)]})
{'val_loss': 0.5, 'epochs': [3]}
"""
from __future__ import annotations

import math

import numpy as np

_WHAT = "metadata must be JSON-serializable (finite numbers, str, lists, dicts)"


def plain_metadata(metadata: dict) -> dict:
    """``metadata`` with its NumPy scalars and 0-d arrays and Tensors as Python numbers."""
    return _plain(metadata, "metadata")


def _plain(value, where):
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise TypeError(f"{_WHAT}: {where} is {value!r}")
        return value
    if isinstance(value, dict):
        return {key: _plain(item, f"{where}[{key!r}]") for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item, f"{where}[{i}]") for i, item in enumerate(value)]
    shape = getattr(value, "shape", None)
    if (isinstance(value, np.generic) or shape == ()) and hasattr(value, "item"):
        number = value.item()
        if isinstance(number, (bool, int)) or (isinstance(number, float)
                                               and math.isfinite(number)):
            return number
        raise TypeError(f"{_WHAT}: {where} is {value!r}")
    described = (f"a {type(value).__name__} of shape {tuple(shape)}" if shape is not None
                 else f"a {type(value).__name__} object")
    raise TypeError(f"{_WHAT}: {where} is {described}")
