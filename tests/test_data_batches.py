"""xg.data.batches: the index arrays of a data set's batches, shuffled by an rng, with
TensorFlow's drop_remainder= (PyTorch's drop_last=)."""
import numpy as np
import pytest

from xpgrad.data import batches


def test_batches_cover_every_index_once():
    rng = np.random.default_rng(0)
    parts = batches(10, 3, rng)
    assert [len(p) for p in parts] == [3, 3, 3, 1]
    assert sorted(np.concatenate(parts).tolist()) == list(range(10))
    again = batches(10, 3, np.random.default_rng(0))
    assert all(np.array_equal(a, b) for a, b in zip(parts, again))
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        batches(10, 0)



@pytest.mark.parametrize("n, size, lengths", [(10, 3, [3, 3, 3]), (9, 3, [3, 3, 3]),
                                              (2, 3, []), (0, 3, [])])
def test_drop_remainder_leaves_out_the_short_last_batch(n, size, lengths):
    parts = batches(n, size, np.random.default_rng(1), drop_remainder=True)
    assert [len(p) for p in parts] == lengths
    kept = np.concatenate(parts).tolist() if parts else []
    assert len(set(kept)) == len(kept) and set(kept) <= set(range(n))
    # the same shuffle as without it: only the tail is dropped
    full = batches(n, size, np.random.default_rng(1))
    assert all(np.array_equal(a, b) for a, b in zip(parts, full))


def test_drop_remainder_must_be_a_bool():
    with pytest.raises(TypeError, match="batches: drop_remainder must be True or False"):
        batches(10, 3, drop_remainder="yes")
