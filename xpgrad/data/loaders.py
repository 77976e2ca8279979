"""The data sets by name (``load_dataset``): the 8x8 digits shipped with xpgrad
(``load_digits``, split by ``split``), and MNIST and Fashion-MNIST from their IDX files
(``load_idx_dataset``; downloaded on first use).

>>> DATASETS
('digits', 'mnist', 'fashion-mnist')
"""
from __future__ import annotations

import os

import numpy as np

from . import DataError
from .dataset import Dataset
from .downloads import SOURCES, download
from .idx_format import _MNIST_FILES, _find_idx, read_idx
from .stratified_split import split

DATASETS = ("digits", "mnist", "fashion-mnist")
#: the data sets read from the four standard IDX files (downloaded, or from ``data_dir``)
IDX_DATASETS = ("mnist", "fashion-mnist")
DIGITS_FILE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                           "datasets", "digits.npz")


def load_digits(test_fraction=0.2, seed=0) -> Dataset:
    """The 8x8 handwritten digits (1797 images, shipped with xpgrad), scaled to [0, 1]: the
    data of scikit-learn's ``load_digits()``, split by ``split``.

    >>> load_digits(seed=1).x_test.shape
    (360, 64)
    """
    with np.load(DIGITS_FILE) as z:
        images, target = z["images"], z["target"]
    x = (images.reshape(len(images), -1).astype(np.float64) / 16.0).astype(np.float32)
    y = target.astype(np.int64)
    x_train, x_test, y_train, y_test = split(x, y, test_fraction, seed)
    return Dataset("digits", x_train, y_train, x_test, y_test, (8, 8), 10)


def load_idx_dataset(name="mnist", data_dir=None, *, progress=False, echo=None) -> Dataset:
    """MNIST or Fashion-MNIST (``name``) from the four standard IDX files in ``data_dir``
    (gzipped or not), pixels scaled to [0, 1]; with ``data_dir`` None they are downloaded
    into ``data_home()`` first (see ``download``).

    Uses the official 60k/10k train/test split; images are flattened to 784 features.
    """
    if name not in IDX_DATASETS:
        raise DataError(f"{name!r} is not an IDX data set; choose one of "
                        f"{', '.join(IDX_DATASETS)}")
    title = SOURCES[name].title
    if data_dir is None:
        data_dir = download(name, progress=progress, echo=echo)
    elif os.path.exists(data_dir) and not os.path.isdir(data_dir):
        raise DataError(f"{title} data directory {data_dir!r} is a file, not a directory; give "
                        f"the directory holding the four IDX files")
    elif not os.path.isdir(data_dir):
        raise DataError(f"{title} data directory {data_dir!r} does not exist")
    arrays = {k: read_idx(_find_idx(data_dir, stem, title)) for k, stem in _MNIST_FILES.items()}
    for split_name in ("train", "test"):
        xs, ys = arrays["x_" + split_name], arrays["y_" + split_name]
        if xs.ndim != 3 or ys.ndim != 1 or len(xs) != len(ys):
            raise DataError(f"{title} {split_name} files disagree: images {xs.shape}, "
                            f"labels {ys.shape} (expected (n, rows, cols) and (n,))")
        if xs.dtype != np.uint8:        # bytes 0..255, which flat() scales to [0, 1]
            raise DataError(f"{title} {split_name} images must be unsigned bytes (IDX type "
                            f"0x08), got {xs.dtype} ({_MNIST_FILES['x_' + split_name]})")
        if not len(xs) or not xs[0].size:
            raise DataError(f"{title} {split_name} images file holds no image (shape "
                            f"{xs.shape}; {_MNIST_FILES['x_' + split_name]})")
        if ys.dtype.kind not in "iu":   # NaN or 2.9 would pass the range check below
            raise DataError(f"{title} {split_name} labels must be integers, got {ys.dtype} "
                            f"({_MNIST_FILES['y_' + split_name]})")
        if ys.size and (ys.min() < 0 or ys.max() > 9):
            raise DataError(f"{title} {split_name} labels must be classes 0 to 9, got "
                            f"{int(ys.min())} to {int(ys.max())} "
                            f"({_MNIST_FILES['y_' + split_name]})")
    image_shape = arrays["x_train"].shape[1:]
    if arrays["x_test"].shape[1:] != image_shape:
        raise DataError(f"{title} train and test images differ in shape: "
                        f"{image_shape} and {arrays['x_test'].shape[1:]}")

    def flat(x):
        return (x.reshape(len(x), -1) / 255.0).astype(np.float32)

    return Dataset(name, flat(arrays["x_train"]), arrays["y_train"].astype(np.int64),
                   flat(arrays["x_test"]), arrays["y_test"].astype(np.int64),
                   tuple(image_shape), 10)


def load_mnist(data_dir=None, *, progress=False, echo=None) -> Dataset:
    """MNIST from the IDX files in ``data_dir`` (None: downloaded on first use); see
    ``load_idx_dataset``."""
    return load_idx_dataset("mnist", data_dir, progress=progress, echo=echo)


def load_dataset(name="digits", data_dir=None, seed=0, test_fraction=0.2, *, progress=False,
                 echo=None) -> Dataset:
    """Load a data set by name: ``"digits"`` (shipped), ``"mnist"`` or ``"fashion-mnist"``
    (from ``data_dir``, or downloaded on first use into ``data_home()``).

    ``seed`` and ``test_fraction`` pick the digits split; MNIST and Fashion-MNIST have their
    own. ``progress`` and ``echo`` report downloads (see ``download``).
    """
    if name == "digits":
        return load_digits(test_fraction, seed)
    if name in IDX_DATASETS:
        return load_idx_dataset(name, data_dir, progress=progress, echo=echo)
    raise DataError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
