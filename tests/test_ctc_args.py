"""xg.losses.ctc refuses bad arguments with an error naming the argument, before any work."""
from __future__ import annotations

import numpy as np
import pytest

import xpgrad as xg

T, N, C = 6, 2, 4


def _lp(shape=(T, N, C), dtype=np.float64):
    return xg.nn.log_softmax(xg.asarray(np.zeros(shape, dtype)), axis=-1)


def _call(log_probs=None, targets=None, input_lengths=None, target_lengths=None, **kw):
    return xg.losses.ctc(_lp() if log_probs is None else log_probs,
                         [[1, 2], [3, 1]] if targets is None else targets,
                         [T, T] if input_lengths is None else input_lengths,
                         [2, 2] if target_lengths is None else target_lengths, **kw)


def test_valid_call_runs():
    assert np.isfinite(_call().item())


@pytest.mark.parametrize("kw, error, words", [
    (dict(log_probs=xg.asarray(np.zeros((T, N, C, 1)))), ValueError, "log_probs must have shape"),
    (dict(log_probs=xg.asarray(np.zeros(T))), ValueError, "log_probs must have shape"),
    (dict(log_probs=xg.asarray(np.zeros((0, N, C)))), ValueError, "at least one time step"),
    (dict(log_probs=xg.asarray(np.zeros((T, N, C), np.int64))), TypeError, "log_probs"),
    (dict(targets=[[1.0, 2.0], [3.0, 1.0]]), TypeError, "targets must be integer"),
    (dict(targets=[[1, 2], [3, 1], [1, 1]]), ValueError, "N=2"),
    (dict(targets=np.ones((2, 2, 1), np.int64)), ValueError, "targets must be padded"),
    (dict(targets=[[1, 2], [3, C]]), ValueError, f"label {C}"),
    (dict(targets=[[1, 2], [3, -1]]), ValueError, "label -1"),
    (dict(targets=[[1, 0], [3, 1]]), ValueError, "blank label 0"),
    (dict(targets=[[1, 2], [3, 2]], blank=2), ValueError, "blank label 2"),
    (dict(input_lengths=[T, T + 1]), ValueError, "input_lengths must be at most 6"),
    (dict(input_lengths=[-1, T]), ValueError, "input_lengths must be >= 0"),
    (dict(input_lengths=[T]), ValueError, "input_lengths must have shape (2,)"),
    (dict(input_lengths=[6.0, 6.0]), TypeError, "input_lengths must be integers"),
    (dict(input_lengths="six"), TypeError, "input_lengths"),
    (dict(target_lengths=[2, 3]), ValueError, "target_lengths must be at most 2"),
    (dict(target_lengths=[2, -1]), ValueError, "target_lengths must be >= 0"),
    (dict(target_lengths=[[2, 2]]), ValueError, "target_lengths must have shape (2,)"),
    (dict(targets=[1, 2, 3], target_lengths=[2, 2]), ValueError, "sum(target_lengths)"),
    (dict(targets=[1, 2, 3], target_lengths=[4, 0]), ValueError, "target_lengths"),
    (dict(blank=C), ValueError, "blank must be in [0, 3]"),
    (dict(blank=-1), ValueError, "blank must be in [0, 3]"),
    (dict(blank=1.0), TypeError, "blank must be an int"),
    (dict(reduction="avg"), ValueError, "reduction"),
    (dict(zero_infinity=1), TypeError, "zero_infinity"),
])
def test_bad_argument_is_named(kw, error, words):
    with pytest.raises(error) as info:
        _call(**kw)
    assert words in str(info.value)


def test_padding_past_the_length_is_not_checked():
    """Like PyTorch, entries past a sample's target length are padding: any value passes."""
    assert np.isfinite(_call(targets=[[1, -5], [3, 99]], target_lengths=[1, 1]).item())


def test_unbatched_arguments():
    lp = _lp((T, C))
    assert xg.losses.ctc(lp, [1, 2], T, 2).shape == ()
    assert xg.losses.ctc(lp, [1, 2], xg.asarray(T), xg.asarray([2])).shape == ()
    with pytest.raises(ValueError, match="input_lengths must have shape"):
        xg.losses.ctc(lp, [1, 2], [T, T], 2)
    with pytest.raises(ValueError, match="targets must be padded"):
        xg.losses.ctc(lp, [[1, 2]], T, 2)


def test_unsigned_lengths_and_labels():
    """uint8 labels and lengths (as a dataset may store them) work as int64 ones."""
    want = _call().item()
    got = _call(targets=np.array([[1, 2], [3, 1]], np.uint8),
                input_lengths=np.array([T, T], np.uint8),
                target_lengths=np.array([2, 2], np.uint8)).item()
    assert got == want
