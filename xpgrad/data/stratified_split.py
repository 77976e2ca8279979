"""scikit-learn's stratified train/test split, reimplemented so that training needs no
scikit-learn (``split``: the same arrays as ``train_test_split(..., stratify=y)``), and the
seed check it shares with NumPy's generators.

>>> import numpy as np
>>> [len(a) for a in split(np.zeros((6, 1)), np.arange(6) % 2, 0.5, seed=1)]
[3, 3, 3, 3]
"""
from __future__ import annotations

import math

import numpy as np


def check_seed(seed) -> int:
    """``seed`` as an int in [0, 2**32 - 1] (what the split and NumPy's generators take).

    >>> check_seed(7)
    7
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be an integer in [0, 2**32 - 1], got {seed!r}")
    if not 0 <= seed < 2**32:
        raise ValueError(f"seed must be an integer in [0, 2**32 - 1], got {seed}")
    return int(seed)


def split(x, y, test_fraction=0.2, seed=0):
    """A stratified train/test split with a fixed seed: ``(x_train, x_test, y_train, y_test)``.

    The same arrays as scikit-learn's ``train_test_split(x, y, test_size=test_fraction,
    random_state=seed, stratify=y)`` (its ``StratifiedShuffleSplit``, reimplemented here so
    that training needs no scikit-learn; ``tests/test_data.py`` compares the two).

    >>> import numpy as np
    >>> xtr, xte, ytr, yte = split(np.zeros((10, 2)), np.arange(10) % 2, 0.2, seed=0)
    >>> len(xtr), len(xte), sorted(yte.tolist())
    (8, 2, [0, 1])
    """
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    check_seed(seed)
    x, y = np.asarray(x), np.asarray(y)
    if y.ndim != 1:
        hint = "; for one-hot labels pass y.argmax(axis=1)" if y.ndim == 2 else ""
        raise ValueError(f"y must be 1-d class labels (one per row of x), got shape "
                         f"{y.shape}{hint}")
    if len(x) != len(y):
        raise ValueError(f"x and y differ in length: {len(x)} and {len(y)}")
    if not len(y):
        raise ValueError("y is empty (and x): there is nothing to split")
    n = len(y)
    n_test = math.ceil(test_fraction * n)
    n_train = n - n_test
    classes, y_indices, counts = np.unique(y, return_inverse=True, return_counts=True)
    if counts.min() < 2:
        raise ValueError(f"every class needs at least 2 members for a stratified split; "
                         f"classes {classes[counts < 2].tolist()} have 1")
    if min(n_train, n_test) < len(classes):
        raise ValueError(f"a stratified split of {n} samples with test_fraction {test_fraction}"
                         f" gives {n_train} train and {n_test} test samples, fewer than the "
                         f"{len(classes)} classes")
    class_indices = np.split(np.argsort(y_indices.ravel(), kind="stable"),
                             np.cumsum(counts)[:-1])
    rng = np.random.RandomState(seed)
    n_i = _approximate_mode(counts, n_train, rng)
    t_i = _approximate_mode(counts - n_i, n_test, rng)
    train, test = [], []
    for i in range(len(classes)):
        members = class_indices[i].take(rng.permutation(counts[i]), mode="clip")
        train.extend(members[:n_i[i]])
        test.extend(members[n_i[i]:n_i[i] + t_i[i]])
    train, test = rng.permutation(train), rng.permutation(test)
    return x[train], x[test], y[train], y[test]


def _approximate_mode(class_counts, n_draws, rng):
    """How many of ``n_draws`` to take from each class: proportional shares rounded down, the
    rest to the largest remainders, ties broken by ``rng`` (scikit-learn's
    ``utils.extmath._approximate_mode``, whose draws ``split`` must repeat exactly)."""
    continuous = class_counts / class_counts.sum() * n_draws
    floored = np.floor(continuous)
    need_to_add = int(n_draws - floored.sum())
    if need_to_add > 0:
        remainder = continuous - floored
        for value in np.sort(np.unique(remainder))[::-1]:
            (inds,) = np.where(remainder == value)
            add_now = min(len(inds), need_to_add)
            floored[rng.choice(inds, size=add_now, replace=False)] += 1
            need_to_add -= add_now
            if need_to_add == 0:
                break
    return floored.astype(int)
