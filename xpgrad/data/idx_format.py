"""The IDX file format of MNIST and Fashion-MNIST: ``read_idx`` (gzipped or not), ``write_idx``,
and finding the four standard files in a directory.

>>> import numpy as np, os, tempfile
>>> p = os.path.join(tempfile.mkdtemp(), "t.idx.gz")
>>> write_idx(p, np.array([1.5, 2.5], dtype=np.float32))
>>> read_idx(p).tolist()
[1.5, 2.5]
"""
from __future__ import annotations

import gzip
import math
import os

import numpy as np

from . import DataError

# IDX type codes (http://yann.lecun.com/exdb/mnist/): code -> big-endian dtype
_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}

_MNIST_FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}


def read_idx(path) -> np.ndarray:
    """Read one IDX file (the MNIST format), gzipped or not, into a NumPy array.

    >>> import tempfile, os, numpy as np
    >>> p = os.path.join(tempfile.mkdtemp(), "a.idx")
    >>> write_idx(p, np.arange(6, dtype=np.uint8).reshape(2, 3))
    >>> read_idx(p).tolist()
    [[0, 1, 2], [3, 4, 5]]
    """
    try:
        with open(path, "rb") as f:
            head = f.read(2)
        opener = gzip.open if head == b"\x1f\x8b" else open
        with opener(path, "rb") as f:
            data = f.read()
    except (EOFError, gzip.BadGzipFile, OSError) as e:    # truncated, corrupt, a directory
        reason = f"{type(e).__name__}: {e}" if str(e) else type(e).__name__
        raise DataError(f"{path}: cannot be read as an IDX file ({reason})") from None
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
    if ndim > 32:                    # NumPy's limit is 64; no data set has more than 4
        raise DataError(f"{path}: IDX header declares {ndim} dimensions; at most 32 are read")
    shape = tuple(int(d) for d in np.frombuffer(data, ">u4", count=ndim, offset=4))
    dtype = np.dtype(_IDX_DTYPES[code])
    expected = math.prod(shape) * dtype.itemsize        # Python ints: no int64 wrap-around
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
    # the gzipped file first: it is what a download verified (a plain one beside it may be
    # stale, e.g. left by gunzip -k)
    dotted = stem.replace("-idx", ".idx")
    for name in (stem + ".gz", stem, dotted + ".gz", dotted):
        p = os.path.join(data_dir, name)
        if os.path.exists(p):
            return p
    raise DataError(
        f"{what} file {stem}[.gz] not found in {data_dir!r}; expected the four standard IDX "
        f"files {', '.join(_MNIST_FILES.values())} (gzipped or not)")
