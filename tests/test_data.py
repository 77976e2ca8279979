"""Data loading for `xpgrad train`: digits split, MNIST IDX reader, normalization, batches."""
import gzip

import numpy as np
import pytest

from xpgrad.data import (DataError, batches, load_dataset, load_digits, load_mnist, normalized,
                         read_idx, write_idx)

pytest.importorskip("sklearn", reason="the digits data set needs scikit-learn")


def test_digits_split_is_seeded_stratified_and_scaled():
    a, b, c = load_digits(seed=0), load_digits(seed=0), load_digits(seed=1)
    assert a.x_train.shape == (1437, 64) and a.x_test.shape == (360, 64)
    assert a.x_train.dtype == np.float32 and a.y_train.dtype == np.int64
    assert 0.0 <= a.x_train.min() and a.x_train.max() <= 1.0
    np.testing.assert_array_equal(a.x_test, b.x_test)
    assert not np.array_equal(a.y_test, c.y_test)
    # stratified: every class has its share (about 36) of the 360 test images
    counts = np.bincount(a.y_test, minlength=10)
    assert counts.min() >= 35 and counts.max() <= 37
    assert a.image_shape == (8, 8) and a.n_classes == 10


def test_normalized_uses_training_statistics():
    ds = load_digits(seed=0)
    nd = normalized(ds)
    assert np.allclose(nd.x_train.mean(axis=0), 0.0, atol=1e-5)
    std = nd.x_train.std(axis=0)
    assert np.allclose(std[std > 0], 1.0, atol=1e-4)
    # the test split is shifted by the *training* mean, so its mean is not exactly zero
    assert not np.allclose(nd.x_test.mean(axis=0), 0.0, atol=1e-5)
    assert np.isfinite(nd.x_test).all()


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
@pytest.mark.parametrize("gz", [False, True])
def test_idx_round_trip(tmp_path, dtype, gz):
    a = (np.arange(24).reshape(2, 3, 4) % 100).astype(dtype)
    p = tmp_path / ("a.idx" + (".gz" if gz else ""))
    write_idx(p, a)
    b = read_idx(p)
    assert b.dtype == np.dtype(dtype) and b.shape == a.shape
    np.testing.assert_array_equal(a, b)


def test_idx_reader_matches_the_published_layout(tmp_path):
    # written by hand: magic 0x00000801 (unsigned byte, 1 dim), count 3 big-endian, then bytes
    p = tmp_path / "labels-idx1-ubyte"
    p.write_bytes(bytes([0, 0, 8, 1, 0, 0, 0, 3, 7, 2, 1]))
    assert read_idx(p).tolist() == [7, 2, 1]
    p = tmp_path / "ints.idx"
    p.write_bytes(bytes([0, 0, 0x0C, 1, 0, 0, 0, 2]) + np.array([1, -2], ">i4").tobytes())
    assert read_idx(p).tolist() == [1, -2]


def test_idx_reader_rejects_bad_files(tmp_path):
    p = tmp_path / "bad"
    p.write_bytes(b"\x01\x02\x08\x01\x00\x00\x00\x01\x05")
    with pytest.raises(DataError, match="not an IDX file"):
        read_idx(p)
    p.write_bytes(bytes([0, 0, 0x42, 1, 0, 0, 0, 1, 5]))
    with pytest.raises(DataError, match="unknown IDX element type 0x42"):
        read_idx(p)
    p.write_bytes(bytes([0, 0, 8, 1, 0, 0, 0, 4, 5]))
    with pytest.raises(DataError, match="body has 1 bytes, expected 4"):
        read_idx(p)


def _fake_mnist(d, n_train=30, n_test=10, gz=True):
    rng = np.random.default_rng(0)
    suffix = ".gz" if gz else ""
    files = {"train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
             "train-labels-idx1-ubyte": rng.integers(0, 10, n_train, dtype=np.uint8),
             "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
             "t10k-labels-idx1-ubyte": rng.integers(0, 10, n_test, dtype=np.uint8)}
    for name, arr in files.items():
        write_idx(d / (name + suffix), arr)
    return files


@pytest.mark.parametrize("gz", [True, False])
def test_load_mnist_from_idx_files(tmp_path, gz):
    files = _fake_mnist(tmp_path, gz=gz)
    ds = load_dataset("mnist", data_dir=str(tmp_path))
    assert ds.x_train.shape == (30, 784) and ds.x_test.shape == (10, 784)
    assert ds.image_shape == (28, 28) and ds.x_train.dtype == np.float32
    np.testing.assert_allclose(ds.x_train[3], files["train-images-idx3-ubyte"][3].ravel() / 255.0,
                               rtol=1e-6)
    np.testing.assert_array_equal(ds.y_test, files["t10k-labels-idx1-ubyte"])
    if gz:  # really gzipped on disk
        with open(tmp_path / "train-labels-idx1-ubyte.gz", "rb") as f:
            assert f.read(2) == b"\x1f\x8b"
        assert gzip.decompress((tmp_path / "train-labels-idx1-ubyte.gz").read_bytes())[:4] \
            == bytes([0, 0, 8, 1])


def test_load_mnist_errors_name_the_problem(tmp_path):
    with pytest.raises(DataError, match="needs --data-dir"):
        load_mnist(None)
    with pytest.raises(DataError, match="does not exist"):
        load_mnist(str(tmp_path / "nope"))
    with pytest.raises(DataError, match="train-images-idx3-ubyte.*not found"):
        load_mnist(str(tmp_path))
    _fake_mnist(tmp_path)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.zeros(3, np.uint8))
    with pytest.raises(DataError, match="test files disagree"):
        load_mnist(str(tmp_path))
    with pytest.raises(DataError, match="unknown dataset 'cifar'"):
        load_dataset("cifar")


def test_batches_cover_every_index_once():
    rng = np.random.default_rng(0)
    parts = batches(10, 3, rng)
    assert [len(p) for p in parts] == [3, 3, 3, 1]
    assert sorted(np.concatenate(parts).tolist()) == list(range(10))
    again = batches(10, 3, np.random.default_rng(0))
    assert all(np.array_equal(a, b) for a, b in zip(parts, again))
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        batches(10, 0)
