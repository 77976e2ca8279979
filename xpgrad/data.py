"""Data sets for ``xpgrad train``: scikit-learn's bundled digits (default) and MNIST IDX files.

Every loader returns a :class:`Dataset` of NumPy arrays: float32 features in ``[0, 1]`` shaped
``(n, features)`` and int64 labels. Data stay NumPy here; the training loop moves each batch to
the chosen backend, so the same seed gives the same batches on every backend.

>>> from xpgrad.data import load_dataset
>>> ds = load_dataset("digits", seed=0)
>>> ds.x_train.shape[1], ds.n_classes, ds.image_shape
(64, 10, (8, 8))
"""
from __future__ import annotations

import gzip
import os
from dataclasses import dataclass

import numpy as np

DATASETS = ("digits", "mnist")


class DataError(ValueError):
    """A data set could not be read: a missing directory or file, or a malformed IDX file."""

# IDX type codes (http://yann.lecun.com/exdb/mnist/): code -> big-endian dtype
_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}

_MNIST_FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}


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


def _require_sklearn():
    try:
        import sklearn  # noqa: F401
    except ImportError:
        raise ImportError('the digits data set needs scikit-learn: pip install -e ".[train]"'
                          ) from None


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

    >>> import numpy as np
    >>> xtr, xte, ytr, yte = split(np.zeros((10, 2)), np.arange(10) % 2, 0.2, seed=0)
    >>> len(xtr), len(xte)
    (8, 2)
    """
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    check_seed(seed)
    _require_sklearn()
    from sklearn.model_selection import train_test_split

    return train_test_split(x, y, test_size=test_fraction, random_state=seed, stratify=y)


def load_digits(test_fraction=0.2, seed=0) -> Dataset:
    """scikit-learn's bundled 8x8 handwritten digits (1797 images, no download), scaled to [0, 1].

    >>> load_digits(seed=1).x_test.shape
    (360, 64)
    """
    _require_sklearn()
    from sklearn.datasets import load_digits as sk_load_digits

    raw = sk_load_digits()
    x = (raw.data / 16.0).astype(np.float32)
    y = raw.target.astype(np.int64)
    x_train, x_test, y_train, y_test = split(x, y, test_fraction, seed)
    return Dataset("digits", x_train, y_train, x_test, y_test, (8, 8), 10)


def read_idx(path) -> np.ndarray:
    """Read one IDX file (the MNIST format), gzipped or not, into a NumPy array.

    >>> import tempfile, os, numpy as np
    >>> p = os.path.join(tempfile.mkdtemp(), "a.idx")
    >>> write_idx(p, np.arange(6, dtype=np.uint8).reshape(2, 3))
    >>> read_idx(p).tolist()
    [[0, 1, 2], [3, 4, 5]]
    """
    with open(path, "rb") as f:
        head = f.read(2)
    opener = gzip.open if head == b"\x1f\x8b" else open
    with opener(path, "rb") as f:
        data = f.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise DataError(f"{path}: not an IDX file (the magic number must start with two zero "
                         f"bytes, got {data[:4]!r})")
    code, ndim = data[2], data[3]
    if code not in _IDX_DTYPES:
        raise DataError(f"{path}: unknown IDX element type 0x{code:02x}; "
                         f"known: {', '.join(f'0x{c:02x}' for c in _IDX_DTYPES)}")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataError(f"{path}: IDX header truncated ({len(data)} bytes for {ndim} dimensions)")
    shape = tuple(int(d) for d in np.frombuffer(data, ">u4", count=ndim, offset=4))
    dtype = np.dtype(_IDX_DTYPES[code])
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(data) - header != expected:
        raise DataError(f"{path}: IDX body has {len(data) - header} bytes, expected {expected} "
                         f"for shape {shape} of {dtype}")
    return np.frombuffer(data, dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def write_idx(path, array, compress=None) -> None:
    """Write ``array`` as an IDX file (gzipped when ``compress`` or the name ends in ``.gz``)."""
    array = np.asarray(array)
    codes = {np.dtype(v).newbyteorder("="): k for k, v in _IDX_DTYPES.items()}
    dt = array.dtype.newbyteorder("=")
    if dt not in codes:
        raise TypeError(f"IDX cannot store {array.dtype}; use one of {sorted(map(str, codes))}")
    header = bytes([0, 0, codes[dt], array.ndim]) + np.asarray(array.shape, ">u4").tobytes()
    body = header + array.astype(_IDX_DTYPES[codes[dt]]).tobytes()
    compress = str(path).endswith(".gz") if compress is None else compress
    with (gzip.open if compress else open)(path, "wb") as f:
        f.write(body)


def _find_idx(data_dir, stem):
    # the official names, and the dotted variant some mirrors use (train-images.idx3-ubyte)
    dotted = stem.replace("-idx", ".idx")
    for name in (stem, stem + ".gz", dotted, dotted + ".gz"):
        p = os.path.join(data_dir, name)
        if os.path.exists(p):
            return p
    raise DataError(
        f"MNIST file {stem}[.gz] not found in {data_dir!r}; expected the four standard IDX files "
        f"{', '.join(_MNIST_FILES.values())} (gzipped or not)")


def load_mnist(data_dir) -> Dataset:
    """MNIST from the four standard IDX files in ``data_dir``, pixels scaled to [0, 1].

    Uses the official 60k/10k train/test split; images are flattened to 784 features.
    """
    if data_dir is None:
        raise DataError("--dataset mnist needs --data-dir DIR holding the MNIST IDX files")
    if not os.path.isdir(data_dir):
        raise DataError(f"MNIST data directory {data_dir!r} does not exist")
    arrays = {k: read_idx(_find_idx(data_dir, stem)) for k, stem in _MNIST_FILES.items()}
    for split_name in ("train", "test"):
        xs, ys = arrays["x_" + split_name], arrays["y_" + split_name]
        if xs.ndim != 3 or ys.ndim != 1 or len(xs) != len(ys):
            raise DataError(f"MNIST {split_name} files disagree: images {xs.shape}, "
                             f"labels {ys.shape} (expected (n, rows, cols) and (n,))")
    image_shape = arrays["x_train"].shape[1:]

    def flat(x):
        return (x.reshape(len(x), -1) / 255.0).astype(np.float32)

    return Dataset("mnist", flat(arrays["x_train"]), arrays["y_train"].astype(np.int64),
                   flat(arrays["x_test"]), arrays["y_test"].astype(np.int64),
                   tuple(image_shape), 10)


def load_dataset(name="digits", data_dir=None, seed=0, test_fraction=0.2) -> Dataset:
    """Load a data set by name: ``"digits"`` (bundled) or ``"mnist"`` (needs ``data_dir``).

    ``seed`` and ``test_fraction`` pick the digits split; MNIST has its own.
    """
    if name == "digits":
        return load_digits(test_fraction, seed)
    if name == "mnist":
        return load_mnist(data_dir)
    raise DataError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")


def standardize(ds: Dataset) -> tuple[np.ndarray, np.ndarray]:
    """Per-feature mean and std of the training split (std of constant features set to 1)."""
    mean = ds.x_train.mean(axis=0, dtype=np.float64)
    std = ds.x_train.std(axis=0, dtype=np.float64)
    std[std < 1e-6] = 1.0
    return mean.astype(np.float32), std.astype(np.float32)


def normalized(ds: Dataset) -> Dataset:
    """A copy of ``ds`` with features standardized by the training split's statistics.

    >>> d = normalized(load_digits(seed=0))
    >>> abs(float(d.x_train.mean())) < 1e-5
    True
    """
    mean, std = standardize(ds)
    return Dataset(ds.name, (ds.x_train - mean) / std, ds.y_train, (ds.x_test - mean) / std,
                   ds.y_test, ds.image_shape, ds.n_classes)


def batches(n, batch_size, rng=None):
    """Index arrays covering ``range(n)`` in batches; shuffled when ``rng`` (a NumPy Generator).

    >>> [b.tolist() for b in batches(5, 2)]
    [[0, 1], [2, 3], [4]]
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) \
            or batch_size < 1:
        raise ValueError(f"batch_size must be >= 1 (an integer), got {batch_size!r}")
    order = np.arange(n) if rng is None else rng.permutation(n)
    return [order[i:i + batch_size] for i in range(0, n, batch_size)]
