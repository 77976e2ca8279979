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

    The header is read first and the size it declares is checked against the file before the
    body is: a plain file must hold exactly that many bytes, a gzipped one cannot unpack to
    more than ``_GZIP_MAX_RATIO`` times its size; the body is then read in chunks, stopping at
    the first byte past the declared size, so a corrupt or hostile header never makes the
    reader unpack more than the file declares.

    >>> import tempfile, os, numpy as np
    >>> p = os.path.join(tempfile.mkdtemp(), "a.idx")
    >>> write_idx(p, np.arange(6, dtype=np.uint8).reshape(2, 3))
    >>> read_idx(p).tolist()
    [[0, 1, 2], [3, 4, 5]]
    """
    try:
        with open(path, "rb") as f:
            gzipped = f.read(2) == b"\x1f\x8b"
            stored = os.fstat(f.fileno()).st_size
        with (gzip.open if gzipped else open)(path, "rb") as f:
            shape, dtype, header = _read_header(path, f)
            expected = math.prod(shape) * dtype.itemsize    # Python ints: no int64 wrap-around
            _check_declared(path, shape, dtype, expected, header, stored, gzipped)
            body = _read_body(path, f, expected, shape, dtype)
    except (EOFError, gzip.BadGzipFile, OSError) as e:    # truncated, corrupt, a directory
        reason = f"{type(e).__name__}: {e}" if str(e) else type(e).__name__
        raise DataError(f"{path}: cannot be read as an IDX file ({reason})") from None
    return np.frombuffer(body, dtype).reshape(shape).astype(dtype.newbyteorder("="))


#: deflate's largest compression ratio (RFC 1951: a 258-byte match in about two bits) is
#: about 1032:1, so a gzipped file of ``n`` bytes unpacks to at most ~1032 n bytes
_GZIP_MAX_RATIO = 1032
#: the body is read this many bytes at a time
_CHUNK = 1 << 20


def _read_exactly(f, n) -> bytes:
    """Up to ``n`` bytes of ``f`` (fewer only at its end)."""
    parts, got = [], 0
    while got < n:
        part = f.read(n - got)
        if not part:
            break
        parts.append(part)
        got += len(part)
    return b"".join(parts)


def _read_header(path, f):
    """The shape, dtype and header length of the IDX stream ``f``, read from its header."""
    magic = _read_exactly(f, 4)
    if len(magic) < 4 or magic[0] != 0 or magic[1] != 0:
        raise DataError(f"{path}: not an IDX file (the magic number must start with two zero "
                        f"bytes, got {magic!r})")
    code, ndim = magic[2], magic[3]
    if code not in _IDX_DTYPES:
        raise DataError(f"{path}: unknown IDX element type 0x{code:02x}; "
                        f"known: {', '.join(f'0x{c:02x}' for c in _IDX_DTYPES)}")
    if ndim > 32:                    # NumPy's limit is 64; no data set has more than 4
        raise DataError(f"{path}: IDX header declares {ndim} dimensions; at most 32 are read")
    dims = _read_exactly(f, 4 * ndim)
    header = 4 + 4 * ndim
    if len(dims) < 4 * ndim:
        raise DataError(f"{path}: IDX header truncated ({4 + len(dims)} bytes for {ndim} "
                        f"dimensions)")
    shape = tuple(int(d) for d in np.frombuffer(dims, ">u4", count=ndim))
    return shape, np.dtype(_IDX_DTYPES[code]), header


def _check_declared(path, shape, dtype, expected, header, stored, gzipped) -> None:
    """Refuse a declared body size the file cannot hold, before any of the body is read."""
    if not gzipped:
        if stored - header != expected:
            raise DataError(f"{path}: IDX body has {stored - header} bytes, expected {expected} "
                            f"for shape {shape} of {dtype}")
        return
    most = _GZIP_MAX_RATIO * stored
    if expected > most:
        raise DataError(f"{path}: IDX header declares shape {shape} of {dtype} ({expected} "
                        f"bytes), more than its {stored} gzipped bytes can unpack to (at most "
                        f"{most}): the header is corrupt, or the file is truncated")


def _read_body(path, f, expected, shape, dtype) -> bytearray:
    """The ``expected`` bytes of the body, read in chunks; DataError where the stream holds
    fewer or more (the reading stops at the first byte too many)."""
    body = bytearray()
    while len(body) <= expected:            # one byte past ``expected`` tells a longer body
        part = f.read(min(_CHUNK, expected + 1 - len(body)))
        if not part:
            break
        body += part
    if len(body) != expected:
        got = (f"more than {expected}" if len(body) > expected else str(len(body)))
        raise DataError(f"{path}: IDX body has {got} bytes, expected {expected} for shape "
                        f"{shape} of {dtype}")
    return body


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
