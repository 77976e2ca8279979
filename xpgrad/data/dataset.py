"""The ``Dataset`` every loader returns (NumPy arrays: float32 features, int64 labels), and what
a run does with one: features standardized by the training split (``normalized``), index
batches (``batches``).

>>> import numpy as np
>>> ds = Dataset("toy", np.zeros((4, 2), np.float32), np.arange(4), np.zeros((2, 2)),
...              np.arange(2), (1, 2), 4)
>>> ds
Dataset('toy', train=4, test=2, features=2, classes=4)
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Dataset:
    """Train and test splits as NumPy arrays, plus what a model needs to know about them."""

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    image_shape: tuple
    n_classes: int

    @property
    def n_features(self) -> int:
        return int(self.x_train.shape[1])

    def __repr__(self) -> str:
        return (f"Dataset({self.name!r}, train={len(self.x_train)}, test={len(self.x_test)}, "
                f"features={self.n_features}, classes={self.n_classes})")


def standardize(ds: Dataset) -> tuple[np.ndarray, np.ndarray]:
    """Per-feature mean and std of the training split (std of constant features set to 1)."""
    if not len(ds.x_train):
        raise ValueError(f"x_train is empty: data set {ds.name!r} has no training examples to "
                         "standardize by")
    mean = ds.x_train.mean(axis=0, dtype=np.float64)
    std = ds.x_train.std(axis=0, dtype=np.float64)
    std[std < 1e-6] = 1.0
    return mean.astype(np.float32), std.astype(np.float32)


def normalized(ds: Dataset) -> Dataset:
    """A copy of ``ds`` with features standardized by the training split's statistics.

    >>> from xpgrad.data import load_digits
    >>> d = normalized(load_digits(seed=0))
    >>> abs(float(d.x_train.mean())) < 1e-5
    True
    """
    mean, std = standardize(ds)
    return Dataset(ds.name, (ds.x_train - mean) / std, ds.y_train, (ds.x_test - mean) / std,
                   ds.y_test, ds.image_shape, ds.n_classes)


def batches(n, *batch_size_rng, batch_size=None, rng=None, drop_remainder=False,
            **unexpected):
    """Index arrays covering ``range(n)`` in batches of ``batch_size`` (positional or keyword,
    as is ``rng``, third); shuffled when ``rng`` (a NumPy Generator, or an
    ``xg.random.Generator``, which draws from one). ``drop_remainder=True`` leaves out a
    last batch shorter than ``batch_size`` (TensorFlow's ``batch(..., drop_remainder=True)``,
    PyTorch's ``drop_last=True``): every batch has one shape, so an ``xg.function`` step
    traces once. The arrays are indexed by the caller: ``batches(x, y, batch_size=64)`` is a
    TypeError showing ``batches(len(x), 64)`` and ``x[idx], y[idx]``.

    >>> [b.tolist() for b in batches(5, 2)]
    [[0, 1], [2, 3], [4]]
    >>> [b.tolist() for b in batches(5, batch_size=2, drop_remainder=True)]
    [[0, 1], [2, 3]]
    """
    from .._args import flag

    if unexpected:
        key = next(iter(unexpected))
        if key == "drop_last":
            raise TypeError("batches() got an unexpected keyword argument 'drop_last': "
                            "PyTorch's drop_last=True is drop_remainder=True here "
                            "(TensorFlow's name)")
        raise TypeError(f"batches() got an unexpected keyword argument {key!r}; it shuffles "
                        "when given rng (a generator: np.random.default_rng(seed), or "
                        "xg.random.default_rng(seed)), PyTorch's shuffle=True and a seed in one "
                        "argument, and yields index arrays: for idx in xg.data.batches(len(x), "
                        "32, rng): x[idx], y[idx]")
    if hasattr(n, "__len__") and batch_size_rng and hasattr(batch_size_rng[0], "__len__"):
        raise TypeError("batches() takes the number of examples, not the arrays, and yields "
                        "index arrays: batches(x, y, batch_size=64) is for idx in "
                        "xg.data.batches(len(x), 64, rng): xb, yb = x[idx], y[idx]")
    if len(batch_size_rng) > 2:
        raise TypeError(f"batches() takes n, batch_size and rng, got {1 + len(batch_size_rng)} "
                        "positional arguments")
    keywords = {"batch_size": batch_size, "rng": rng}
    for name, value in zip(keywords, batch_size_rng):
        if keywords[name] is not None:
            raise TypeError(f"batches() got multiple values for argument {name!r}")
        keywords[name] = value
    batch_size, rng = keywords["batch_size"], keywords["rng"]
    if hasattr(n, "__len__"):               # the data set itself (torch's DataLoader takes it)
        shape = getattr(n, "shape", None)
        raise TypeError(f"n is the number of examples: pass len(x), got a "
                        f"{type(n).__name__}" + (f" of shape {shape}" if shape else ""))
    if batch_size is None:
        raise TypeError("batches() needs batch_size: xg.data.batches(len(x), 32, rng)")
    drop_remainder = flag(drop_remainder, "drop_remainder", "batches")
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) \
            or batch_size < 1:
        raise ValueError(f"batch_size must be >= 1 (an integer), got {batch_size!r}")
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"n must be a count >= 0 (an integer), got {n!r}")
    from ..random import Generator

    if isinstance(rng, Generator):           # it draws with a NumPy generator: use that one
        rng = rng._rng
    if rng is not None and not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a NumPy Generator (np.random.default_rng(seed)) or None, "
                        f"got {type(rng).__name__}")
    order = np.arange(n) if rng is None else rng.permutation(n)
    stop = n - n % batch_size if drop_remainder else n
    from ..batch_passes import Batches       # a list; its passes are counted for xpgrad.distributed

    return Batches(order[i:i + batch_size] for i in range(0, stop, batch_size))
