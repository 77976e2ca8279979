"""Downloading MNIST and Fashion-MNIST: where they are published (``SOURCES``, with each file's
SHA-256), where they are kept (``data_home()``), and ``download``, which renames a file into
place only once its checksum matches.

>>> sorted(SOURCES)
['fashion-mnist', 'mnist']
"""
from __future__ import annotations

import hashlib
import os
import socket
import sys
from dataclasses import dataclass

from . import DataError, DownloadError

#: the directory of downloaded data sets (``data_home()``); ``XDG_CACHE_HOME`` is the fallback
DATA_ENV = "XPGRAD_DATA_DIR"


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
    tmp = f"{dest}.part-{socket.gethostname()}-{os.getpid()}"     # machines may share dest
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
