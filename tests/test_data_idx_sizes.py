"""The IDX reader checks the size a header declares before it reads the body: a corrupt or
hostile ``.gz`` (a small header over a body that unpacks to gigabytes, or a header declaring
terabytes) is refused naming the file, having unpacked no more than the declared size."""
import gzip
import struct

import numpy as np
import pytest

from xpgrad.data import DataError, read_idx, write_idx


@pytest.fixture
def unpacked(monkeypatch):
    """Counts the bytes read out of every gzip stream the reader opens."""
    count = {"bytes": 0}
    real = gzip.open

    class Counting:
        def __init__(self, f):
            self._f = f

        def read(self, n=-1):
            out = self._f.read(n)
            count["bytes"] += len(out)
            return out

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self._f.close()

        def __getattr__(self, name):
            return getattr(self._f, name)

    monkeypatch.setattr(gzip, "open", lambda *a, **k: Counting(real(*a, **k)))
    return count


def _gz(path, header, body_bytes):
    with gzip.open(path, "wb") as f:
        f.write(header)
        zeros = bytes(1 << 20)
        for _ in range(body_bytes >> 20):
            f.write(zeros)


def test_a_gz_body_longer_than_declared_is_refused_without_unpacking_it(tmp_path, unpacked):
    path = tmp_path / "train-labels-idx1-ubyte.gz"
    _gz(path, bytes([0, 0, 8, 1]) + struct.pack(">I", 10), 64 << 20)   # 10 declared, 64 MiB
    assert path.stat().st_size < 1 << 20
    with pytest.raises(DataError, match=r"train-labels-idx1-ubyte\.gz: IDX body has more "
                                        r"than 10 bytes, expected 10"):
        read_idx(path)
    assert unpacked["bytes"] <= 8 + 11                  # header + the declared body + one byte


def test_a_gz_header_declaring_more_than_the_file_can_hold_is_refused_first(tmp_path,
                                                                            unpacked):
    path = tmp_path / "images.idx.gz"
    _gz(path, bytes([0, 0, 8, 3]) + struct.pack(">3I", 1 << 20, 1 << 10, 1 << 10), 1 << 20)
    with pytest.raises(DataError, match=r"images\.idx\.gz: IDX header declares shape "
                                        r"\(1048576, 1024, 1024\) of uint8 \(1099511627776 "
                                        r"bytes\), more than its \d+ gzipped bytes"):
        read_idx(path)
    assert unpacked["bytes"] == 16                      # the header only


def test_a_short_gz_body_names_its_size(tmp_path):
    path = tmp_path / "short.gz"
    _gz(path, bytes([0, 0, 8, 1]) + struct.pack(">I", 5) + b"\x01\x02", 0)
    with pytest.raises(DataError, match=r"short\.gz: IDX body has 2 bytes, expected 5"):
        read_idx(path)


def test_a_plain_file_longer_than_declared_is_refused(tmp_path):
    path = tmp_path / "long.idx"
    path.write_bytes(bytes([0, 0, 8, 1]) + struct.pack(">I", 2) + bytes(7))
    with pytest.raises(DataError, match=r"long\.idx: IDX body has 7 bytes, expected 2"):
        read_idx(path)


def test_a_truncated_header_is_refused(tmp_path):
    path = tmp_path / "head.gz"
    _gz(path, bytes([0, 0, 8, 3]) + struct.pack(">I", 5), 0)
    with pytest.raises(DataError, match=r"head\.gz: IDX header truncated \(8 bytes for 3 "):
        read_idx(path)


@pytest.mark.parametrize("gz", [False, True])
def test_bodies_longer_than_one_chunk_read_whole(tmp_path, gz):
    a = np.random.default_rng(0).integers(0, 2**31, (3, 700_001), dtype=np.int32)
    path = tmp_path / ("big.idx" + (".gz" if gz else ""))
    write_idx(path, a)                                   # 8.4 MB: several 1 MiB chunks
    np.testing.assert_array_equal(read_idx(path), a)
