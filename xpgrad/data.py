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

import gzip
import hashlib
import math
import os
import sys
from dataclasses import dataclass

import numpy as np

DATASETS = ("digits", "mnist", "fashion-mnist")
#: the data sets read from the four standard IDX files (downloaded, or from ``data_dir``)
IDX_DATASETS = ("mnist", "fashion-mnist")
DIGITS_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "datasets", "digits.npz")
#: the directory of downloaded data sets (``data_home()``); ``XDG_CACHE_HOME`` is the fallback
DATA_ENV = "XPGRAD_DATA_DIR"


class DataError(ValueError):
    """A data set could not be read: a missing directory or file, or a malformed IDX file."""


class DownloadError(DataError):
    """A data set could not be downloaded (no mirror answered, or a file's checksum is wrong)."""

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
    if len(x) != len(y):
        raise ValueError(f"x and y differ in length: {len(x)} and {len(y)}")
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


def _find_idx(data_dir, stem, what="MNIST"):
    # the official names, and the dotted variant some mirrors use (train-images.idx3-ubyte)
    dotted = stem.replace("-idx", ".idx")
    for name in (stem, stem + ".gz", dotted, dotted + ".gz"):
        p = os.path.join(data_dir, name)
        if os.path.exists(p):
            return p
    raise DataError(
        f"{what} file {stem}[.gz] not found in {data_dir!r}; expected the four standard IDX "
        f"files {', '.join(_MNIST_FILES.values())} (gzipped or not)")


# -- downloads ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Source:
    """Where a data set's four IDX files are published: mirrors (base URLs, tried in order)
    and each file's SHA-256 (``{file name: hex digest}``)."""

    title: str
    mirrors: tuple
    sha256: dict


#: the standard files of each downloadable data set. The checksums are those of the files the
#: projects published (MNIST: LeCun, Cortes and Burges, mirrored by PyTorch and Google;
#: Fashion-MNIST: Zalando Research, MIT licence), as TensorFlow Datasets and torchvision check
#: them. Tests replace the mirrors and checksums with a local server's.
SOURCES = {
    "mnist": Source("MNIST", (
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/"), {
        "train-images-idx3-ubyte.gz":
            "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
        "train-labels-idx1-ubyte.gz":
            "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
        "t10k-images-idx3-ubyte.gz":
            "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
        "t10k-labels-idx1-ubyte.gz":
            "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"}),
    "fashion-mnist": Source("Fashion-MNIST", (
        "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"), {
        "train-images-idx3-ubyte.gz":
            "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
        "train-labels-idx1-ubyte.gz":
            "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
        "t10k-images-idx3-ubyte.gz":
            "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
        "t10k-labels-idx1-ubyte.gz":
            "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5"}),
}


def data_home() -> str:
    """Where downloaded data sets live: ``$XPGRAD_DATA_DIR``, else ``$XDG_CACHE_HOME/xpgrad``,
    else ``~/.cache/xpgrad`` (one subdirectory per data set).

    >>> import os
    >>> data_home() == os.path.abspath(os.environ.get("XPGRAD_DATA_DIR") or data_home())
    True
    >>> os.path.basename(data_home()) if "XPGRAD_DATA_DIR" not in os.environ else "xpgrad"
    'xpgrad'
    """
    path = os.environ.get(DATA_ENV)
    if not path:
        cache = os.environ.get("XDG_CACHE_HOME") or os.path.join("~", ".cache")
        path = os.path.join(cache, "xpgrad")
    return os.path.abspath(os.path.expanduser(path))


def sha256_of(path) -> str:
    """The SHA-256 hex digest of the file at ``path``.

    >>> import tempfile
    >>> p = tempfile.mktemp()
    >>> open(p, "wb").close()
    >>> sha256_of(p)[:16]
    'e3b0c44298fc1c14'
    """
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _urlopen(url, timeout):
    """``urllib.request.urlopen`` (a seam for the tests, which refuse every non-local host)."""
    import urllib.request

    return urllib.request.urlopen(url, timeout=timeout)


def _fetch(url, dest, sha256, progress, timeout):
    """Download ``url`` to ``dest`` through a temporary file in the same directory, checking
    its SHA-256 before renaming it into place. Raises OSError or DownloadError."""
    tmp = f"{dest}.part-{os.getpid()}"
    h = hashlib.sha256()
    try:
        with _urlopen(url, timeout) as response, open(tmp, "wb") as out:
            total = response.headers.get("Content-Length")
            bar = None
            if progress:
                from tqdm import tqdm

                bar = tqdm(total=int(total) if total else None, unit="B", unit_scale=True,
                           unit_divisor=1024, desc=os.path.basename(dest), leave=False,
                           dynamic_ncols=True, file=sys.stderr)
            try:
                for block in iter(lambda: response.read(1 << 16), b""):
                    out.write(block)
                    h.update(block)
                    if bar is not None:
                        bar.update(len(block))
            finally:
                if bar is not None:
                    bar.close()
        if h.hexdigest() != sha256:
            raise DownloadError(f"{url}: SHA-256 {h.hexdigest()} differs from the published "
                                f"{sha256}")
        os.replace(tmp, dest)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def download(name, directory=None, *, progress=False, echo=None, timeout=60.0) -> str:
    """Make sure the four IDX files of data set ``name`` (``"mnist"`` or ``"fashion-mnist"``)
    are in ``directory`` (default: ``data_home()/name``), downloading the missing ones from
    the mirrors in ``SOURCES[name]`` with their SHA-256 checked; returns the directory.

    A file is renamed into place only once its checksum matches, so the directory never holds
    a partial or corrupt file that a later run would trust; a file already there is checked
    again, and downloaded anew if it differs. ``progress`` shows a tqdm bar per file (tqdm
    must be installed); ``echo`` gets one line per file downloaded. Raises DownloadError
    naming every URL tried when no mirror gives a file.

    >>> download("cifar")
    Traceback (most recent call last):
    ...
    xpgrad.data.DataError: cannot download 'cifar'; downloadable: mnist, fashion-mnist
    """
    if name not in SOURCES:
        raise DataError(f"cannot download {name!r}; downloadable: {', '.join(SOURCES)}")
    source = SOURCES[name]
    directory = os.path.join(data_home(), name) if directory is None else os.fspath(directory)
    try:
        os.makedirs(directory, exist_ok=True)
    except OSError as e:
        raise DownloadError(f"cannot make the data directory {directory!r} ({e.strerror or e}); "
                            f"set ${DATA_ENV} to a writable directory") from None
    for filename, digest in source.sha256.items():
        dest = os.path.join(directory, filename)
        if os.path.exists(dest):
            if sha256_of(dest) == digest:
                continue
            os.unlink(dest)            # corrupt or of another release: fetch it again
        errors = []
        for mirror in source.mirrors:
            url = mirror + filename
            if echo is not None:
                echo(f"downloading {url}")
            try:
                _fetch(url, dest, digest, progress, timeout)
                break
            except (OSError, DownloadError) as e:
                errors.append(f"{url}: {e}")
        else:
            raise DownloadError(
                f"could not download {source.title} file {filename} into {directory!r}: "
                + "; ".join(errors) + f". Fetch the four files by hand and pass "
                f"--data-dir DIR, or retry later")
    return directory


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
    elif not os.path.isdir(data_dir):
        raise DataError(f"{title} data directory {data_dir!r} does not exist")
    arrays = {k: read_idx(_find_idx(data_dir, stem, title)) for k, stem in _MNIST_FILES.items()}
    for split_name in ("train", "test"):
        xs, ys = arrays["x_" + split_name], arrays["y_" + split_name]
        if xs.ndim != 3 or ys.ndim != 1 or len(xs) != len(ys):
            raise DataError(f"{title} {split_name} files disagree: images {xs.shape}, "
                            f"labels {ys.shape} (expected (n, rows, cols) and (n,))")
    image_shape = arrays["x_train"].shape[1:]

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
