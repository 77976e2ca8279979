"""TensorBoard event files, written with the standard library and NumPy only.

An event file is a sequence of TFRecords (length, masked CRC-32C of the length, data, masked
CRC-32C of the data) whose data are serialized ``Event`` protocol buffers
(``tensorflow/core/util/event.proto``). The few messages a training run needs -- scalars, a
grayscale image, text, histograms -- are encoded here by hand, so writing logs costs no import of
tensorboardX (which imports PyTorch whenever it is installed) nor of protobuf. The layout is
the one tensorboardX writes; ``tests/test_events.py`` parses these files with tensorboardX's
generated protobuf classes and checks every CRC.

>>> import tempfile
>>> with EventWriter(tempfile.mkdtemp()) as w:
...     w.add_scalar("loss/train", 0.25, step=1)
...     w.add_text("config", "lr: 0.001")
>>> crc32c(b"123456789") == 0xE3069283       # the standard check value
True
"""
from __future__ import annotations

import os
import socket
import struct
import time
import zlib

import numpy as np

__all__ = ["EventWriter", "crc32c", "png_grayscale"]


# -- CRC-32C (Castagnoli), as TFRecord frames use it ---------------------------------------------
def _crc_table():
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return tuple(table)


_CRC_TABLE = _crc_table()


def crc32c(data: bytes) -> int:
    """The CRC-32C of ``data`` (polynomial 0x1EDC6F41, reflected).

    >>> hex(crc32c(b""))
    '0x0'
    """
    crc, table = 0xFFFFFFFF, _CRC_TABLE
    for byte in data:
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def _masked_crc(data: bytes) -> int:
    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def _record(data: bytes) -> bytes:
    header = struct.pack("<Q", len(data))
    return (header + struct.pack("<I", _masked_crc(header)) + data
            + struct.pack("<I", _masked_crc(data)))


# -- protocol buffer wire format -----------------------------------------------------------------
def _varint(n: int) -> bytes:
    if n < 0:
        n += 1 << 64                 # int32/int64 fields: two's complement, ten bytes
    out = bytearray()
    while True:
        bits = n & 0x7F
        n >>= 7
        if n:
            out.append(bits | 0x80)
        else:
            out.append(bits)
            return bytes(out)


def _int(field: int, value: int) -> bytes:
    return _varint(field << 3) + _varint(value)


def _bytes(field: int, value: bytes) -> bytes:
    return _varint(field << 3 | 2) + _varint(len(value)) + value


def _double(field: int, value: float) -> bytes:
    return _varint(field << 3 | 1) + struct.pack("<d", value)


def _float(field: int, value: float) -> bytes:
    return _varint(field << 3 | 5) + struct.pack("<f", value)


def _event(wall_time: float, step: int, *, file_version: str | None = None,
           values: tuple = ()) -> bytes:
    """An ``Event``: wall_time = 1, step = 2, file_version = 3, summary = 5 (whose
    ``Summary.value`` = 1 holds the encoded ``Summary.Value`` messages ``values``)."""
    data = _double(1, wall_time) + _int(2, step)
    if file_version is not None:
        data += _bytes(3, file_version.encode())
    if values:
        data += _bytes(5, b"".join(_bytes(1, v) for v in values))
    return data


def png_grayscale(image) -> bytes:
    """A 2-D uint8 array as an 8-bit grayscale PNG.

    >>> png_grayscale(np.zeros((2, 3), np.uint8))[:8]
    b'\\x89PNG\\r\\n\\x1a\\n'
    """
    image = np.ascontiguousarray(image, dtype=np.uint8)
    if image.ndim != 2:
        raise ValueError(f"png_grayscale needs a 2-D array, got shape {image.shape}")
    h, w = image.shape
    rows = np.zeros((h, w + 1), np.uint8)        # each row starts with filter type 0 (none)
    rows[:, 1:] = image

    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows.tobytes(), 9)) + chunk(b"IEND", b""))


def _is_tensorflow(bins) -> bool:
    return isinstance(bins, str) and bins == "tensorflow"


def _tensorflow_bins() -> list:
    """TensorBoard's default bucket edges, as tensorboardX's ``SummaryWriter.default_bins``."""
    edge, positive = 1e-12, []
    while edge < 1e20:
        positive.append(edge)
        edge *= 1.1
    return [-e for e in reversed(positive)] + [0] + positive


# -- the writer -----------------------------------------------------------------------------------
class EventWriter:
    """Appends scalars, histograms, images and text to one new event file in ``logdir``, named as
    TensorBoard expects (``events.out.tfevents.<time>.<host>.<pid>``). Records are buffered
    and reach the disk on ``flush()`` and ``close()`` (also as a context manager).
    """

    def __init__(self, logdir):
        self.logdir = os.fspath(logdir)
        os.makedirs(self.logdir, exist_ok=True)
        now = time.time()
        name = f"events.out.tfevents.{int(now):010d}.{socket.gethostname()}.{os.getpid()}"
        path = os.path.join(self.logdir, name)
        n = 0
        while os.path.exists(path):                  # two writers in one second
            n += 1
            path = os.path.join(self.logdir, f"{name}.{n}")
        self.path = path
        self._file = open(path, "wb")
        self._write(_event(now, 0, file_version="brain.Event:2"))
        self.flush()

    def _write(self, event: bytes) -> None:
        if self._file is None:
            raise ValueError(f"the event file {self.path!r} is closed")
        self._file.write(_record(event))

    def add_scalar(self, tag: str, value, step: int, wall_time: float | None = None) -> None:
        """``Summary.Value`` tag = 1, simple_value = 2 (a float32, as TensorBoard stores it)."""
        self._write(_event(time.time() if wall_time is None else wall_time, int(step),
                           values=(_bytes(1, tag.encode()) + _float(2, float(value)),)))

    def add_image(self, tag: str, image, step: int = 0) -> None:
        """A 2-D uint8 array as a grayscale PNG: ``Summary.Value`` image = 4 holding
        ``Summary.Image`` height = 1, width = 2, colorspace = 3 (1: grayscale), PNG bytes = 4."""
        image = np.asarray(image)
        h, w = image.shape
        img = _int(1, h) + _int(2, w) + _int(3, 1) + _bytes(4, png_grayscale(image))
        self._write(_event(time.time(), int(step),
                           values=(_bytes(1, tag.encode()) + _bytes(4, img),)))

    def add_histogram(self, tag: str, values, step: int, bins="tensorflow",
                      wall_time: float | None = None) -> None:
        """The histogram of ``values`` (a Tensor or array of any shape, e.g. a weight or its
        gradient), as tensorboardX's ``add_histogram`` writes it: ``bins="tensorflow"`` its
        default buckets (TensorBoard's: 0 and +-1e-12 * 1.1**k up to 1e20), or anything
        ``np.histogram`` takes (a count, edges, ``"auto"``). ``Summary.Value`` histo = 5
        holding ``HistogramProto`` min = 1, max = 2, num = 3, sum = 4, sum_squares = 5,
        bucket_limit = 6 and bucket = 7 (packed doubles): the buckets from the one before the
        first non-empty one to the last non-empty one, each by its right edge.

        >>> import tempfile
        >>> with EventWriter(tempfile.mkdtemp()) as w:
        ...     w.add_histogram("dense/w", np.random.default_rng(0).normal(size=100), step=1)
        """
        values = np.asarray(values, dtype=np.float64).reshape(-1)
        if values.size == 0:
            raise ValueError(f"add_histogram: values of {tag!r} have no element")
        if not np.isfinite(values).all():
            raise ValueError(f"add_histogram: values of {tag!r} are not finite (NaN or "
                             f"infinity), which TensorBoard cannot draw")
        counts, limits = np.histogram(
            values, bins=_tensorflow_bins() if _is_tensorflow(bins) else bins)
        filled = np.flatnonzero(counts)
        start, end = int(filled[0]), int(filled[-1]) + 1
        # TensorBoard reads right edges only: one empty bucket on the left keeps the left edge
        counts = counts[start - 1:end] if start > 0 else np.concatenate([[0], counts[:end]])
        limits = limits[start:end + 1]
        histo = (_double(1, values.min()) + _double(2, values.max()) + _double(3, values.size)
                 + _double(4, values.sum()) + _double(5, values.dot(values))
                 + _bytes(6, limits.astype("<f8").tobytes())
                 + _bytes(7, counts.astype("<f8").tobytes()))
        self._write(_event(time.time() if wall_time is None else wall_time, int(step),
                           values=(_bytes(1, tag.encode()) + _bytes(5, histo),)))

    def add_text(self, tag: str, text: str, step: int = 0) -> None:
        """Text as TensorBoard's text plugin reads it (as tensorboardX writes it): tag
        ``<tag>/text_summary``, metadata = 9 naming the plugin "text", tensor = 8 a DT_STRING
        (7) tensor of shape [1] holding the UTF-8 text."""
        metadata = _bytes(1, _bytes(1, b"text"))
        tensor = _int(1, 7) + _bytes(2, _bytes(2, _int(1, 1))) + _bytes(8, text.encode("utf-8"))
        value = (_bytes(1, f"{tag}/text_summary".encode()) + _bytes(8, tensor)
                 + _bytes(9, metadata))
        self._write(_event(time.time(), int(step), values=(value,)))

    def flush(self) -> None:
        if self._file is not None:
            self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
