"""``one_hot`` on the backend's own arrays is zeros with a 1 written at each label's class
(``ops/gathering.py``); traced or vmapped labels compare with every class. Both against
PyTorch's ``one_hot`` and NumPy's comparison, for ranks 0 to 2, empty labels, every output
dtype, narrow label dtypes, ``axis``, and bad labels."""
import numpy as np
import pytest

import xpgrad as xg

torch = pytest.importorskip("torch", reason="PyTorch is not installed: no comparison")


def _want(labels, classes, dtype, axis=-1):
    hot = (labels[..., None] == np.arange(classes)).astype(dtype)
    return np.moveaxis(hot, -1, axis)


@pytest.mark.parametrize("dtype", [None, xg.float64, xg.int32, xg.bool, xg.complex64])
@pytest.mark.parametrize("shape", [(), (7,), (3, 5), (0,), (2, 0)])
def test_equals_the_comparison_and_torch(shape, dtype):
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 6, shape)
    got = xg.one_hot(xg.asarray(labels), 6, dtype=dtype)
    want = _want(labels, 6, np.float32 if dtype is None else np.dtype(dtype.name))
    assert got.dtype == (xg.float32 if dtype is None else dtype)
    np.testing.assert_array_equal(got.numpy(), want)
    if labels.size:
        np.testing.assert_array_equal(
            got.numpy().real.astype(np.int64),
            torch.nn.functional.one_hot(torch.tensor(labels), 6).numpy())


def test_axis_and_narrow_labels_with_many_classes():
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 255, (4, 3)).astype(np.uint8)
    labels[0, 0] = 254
    got = xg.one_hot(xg.asarray(labels), 300, axis=1)
    np.testing.assert_array_equal(got.numpy(), _want(labels.astype(np.int64), 300, np.float32,
                                                     axis=1))
    noncontiguous = rng.integers(0, 4, (6, 5))[::2, ::-2]
    np.testing.assert_array_equal(xg.one_hot(xg.asarray(noncontiguous), 4).numpy(),
                                  _want(noncontiguous, 4, np.float32))


def test_traced_and_vmapped_labels_give_the_same_vectors():
    rng = np.random.default_rng(2)
    labels = rng.integers(0, 5, (3, 4))
    want = _want(labels, 5, np.float32)
    traced = xg.function(lambda y: xg.one_hot(y, 5))
    for _ in range(2):
        np.testing.assert_array_equal(traced(xg.asarray(labels)).numpy(), want)
    np.testing.assert_array_equal(xg.vmap(lambda y: xg.one_hot(y, 5))(xg.asarray(labels))
                                  .numpy(), want)


@pytest.mark.parametrize("labels, classes, error, match", [
    ([0, 3], 3, IndexError, "index 3 is out of range"),
    ([-1, 0], 3, IndexError, "index -1 is out of range"),
    ([0.0, 1.0], 3, TypeError, "indices must be integers"),
    ([0, 1], 0, ValueError, "num_classes must be a positive int"),
])
def test_bad_labels_and_class_counts_are_refused(labels, classes, error, match):
    with pytest.raises(error, match=match):
        xg.one_hot(xg.asarray(labels), classes)
