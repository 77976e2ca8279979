"""xg.losses.ctc on an empty batch (N=0). PyTorch's ctc_loss refuses it ("log_probs tensor
must not be empty"); its other losses (cross_entropy, nll_loss, mse_loss) and xpgrad's answer
as for any empty reduction -- "mean" NaN (0/0), "sum" 0, "none" an empty vector -- with an
empty, finite gradient. xpgrad's ctc answers as those losses do, because a data-parallel rank
with an empty share computes its loss on an empty batch and joins with weight=0
(docs/distributed.md): an error there would break that pattern for CTC models alone."""
import numpy as np
import pytest
import torch

import xpgrad as xg


@pytest.mark.parametrize("backend", ["numpy", "numba"])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("targets", [np.zeros((0, 3), np.int64), np.zeros(0, np.int64)])
def test_empty_batch_answers_as_torchs_other_losses(reduction, targets, backend):
    lp = xg.asarray(np.zeros((5, 0, 4)), backend=backend)
    with xg.GradientTape() as tape:
        tape.watch(lp)
        loss = xg.losses.ctc(lp, targets, [], [], reduction=reduction)
        total = xg.sum(loss)
    grad = tape.gradient(total, lp)
    expected = torch.nn.functional.cross_entropy(torch.zeros(0, 4, dtype=torch.float64),
                                                 torch.zeros(0, dtype=torch.long),
                                                 reduction=reduction).numpy()
    ours = xg.losses.softmax_cross_entropy(xg.zeros((0, 4), dtype=xg.float64),
                                           np.zeros(0, np.int64), reduction=reduction).numpy()
    for other in (expected, ours):
        np.testing.assert_array_equal(loss.numpy(), other)
        assert loss.shape == other.shape
    assert grad.shape == (5, 0, 4)


def test_an_empty_batch_with_steps_or_classes_missing_is_still_refused():
    with pytest.raises(ValueError, match="log_probs need at least one time step"):
        xg.losses.ctc(xg.asarray(np.zeros((0, 0, 4))), np.zeros((0, 3), np.int64), [], [])
