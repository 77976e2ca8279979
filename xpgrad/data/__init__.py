"""Data sets for ``xpgrad train``: the 8x8 digits shipped with xpgrad (default), and MNIST and
Fashion-MNIST from their standard IDX files (downloaded on first use, or read from a directory).

Every loader returns a :class:`Dataset` of NumPy arrays: float32 features in ``[0, 1]`` shaped
``(n, features)`` and int64 labels. Data stay NumPy here; the training loop moves each batch to
the chosen backend, so the same seed gives the same batches on every backend. Nothing here
imports scikit-learn: the digits come from ``xpgrad/datasets/digits.npz`` (a copy of
scikit-learn's bundled ``digits.csv.gz``; provenance and licence in
``xpgrad/datasets/README.md``) and ``split`` is scikit-learn's stratified split, reimplemented
(the tests check that both give the same arrays).

>>> from xpgrad.data import load_dataset
>>> ds = load_dataset("digits", seed=0)
>>> ds.x_train.shape[1], ds.n_classes, ds.image_shape
(64, 10, (8, 8))
"""
from __future__ import annotations

from .._args import no_module_attribute

# the package's errors come first: its modules import them from here


class DataError(ValueError):
    """A data set could not be read: a missing directory or file, or a malformed IDX file."""


class DownloadError(DataError):
    """A data set could not be downloaded (no mirror answered, or a file's checksum is wrong)."""


from .dataset import Dataset, batches, normalized, standardize  # noqa: E402
from .downloads import DATA_ENV, SOURCES, Source, data_home, download, sha256_of  # noqa: E402
from .idx_format import read_idx, write_idx  # noqa: E402
from .loaders import (DATASETS, DIGITS_FILE, IDX_DATASETS, load_dataset,  # noqa: E402
                      load_digits, load_idx_dataset, load_mnist)
from .stratified_split import check_seed, split  # noqa: E402

__all__ = ["DATASETS", "DATA_ENV", "DIGITS_FILE", "DataError", "Dataset", "DownloadError",
           "IDX_DATASETS", "SOURCES", "Source", "batches", "check_seed", "data_home", "download",
           "load_dataset", "load_digits", "load_idx_dataset", "load_mnist", "normalized",
           "read_idx", "sha256_of", "split", "standardize", "write_idx"]

_BATCHES = ("xg.data.batches(len(x), batch_size, rng) gives the index arrays of the batches "
            "(shuffled with an rng): for idx in xg.data.batches(len(x), 32, rng): x[idx], y[idx]")
#: torch.utils.data's names that xg.data does without, and what to write instead
_PYTORCH_NAMES = {
    **dict.fromkeys(("DataLoader", "TensorDataset"), _BATCHES),
    "random_split": "xg.data.split(x, y, test_fraction, seed) (stratified, as scikit-learn's "
                    "train_test_split)",
}


def __getattr__(name):
    raise no_module_attribute(__name__, name, _PYTORCH_NAMES.get(name))
