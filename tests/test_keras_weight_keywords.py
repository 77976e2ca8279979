"""Keras' sample_weight= and class_weight= given to a classification loss, and tf.keras'
callbacks looked up on xg, say where xpgrad has them."""
import numpy as np
import pytest
import torch

import xpgrad as xg

pytestmark = pytest.mark.usefixtures("numpy_default")


@pytest.mark.parametrize("loss, first", [(xg.losses.softmax_cross_entropy, "logits"),
                                         (xg.losses.nll, "log_probs")])
@pytest.mark.parametrize("keyword, words", [
    ("sample_weight", "reduction='none'"), ("class_weight", "weight=")])
def test_keras_weight_keywords_name_xpgrads_way(loss, first, keyword, words):
    with pytest.raises(TypeError, match=rf"{loss.__name__}\(\) got an unexpected keyword "
                                        rf"argument '{keyword}'.*{words}"):
        loss(xg.zeros((2, 3)), [0, 1], **{keyword: [1.0, 2.0]})


def test_the_sample_weight_way_the_hint_writes_is_torch_s_weighted_mean():
    rng = np.random.default_rng(0)
    logits, labels, w = rng.normal(size=(6, 4)), rng.integers(0, 4, 6), rng.uniform(size=6)
    per_row = xg.losses.softmax_cross_entropy(logits, labels, reduction="none")
    ours = xg.sum(per_row * w) / xg.sum(w)
    torch_rows = torch.nn.functional.cross_entropy(torch.tensor(logits), torch.tensor(labels),
                                                   reduction="none")
    assert float(ours) == pytest.approx(float((torch_rows * torch.tensor(w)).sum() / w.sum()),
                                        rel=1e-12)


def test_keras_callbacks_name_xpgrads_objects():
    with pytest.raises(AttributeError, match=r"no attribute 'callbacks': .*"
                                             r"xg\.optim\.EarlyStopping.*ReduceLROnPlateau.*"
                                             r"CheckpointManager.*EventWriter"):
        xg.callbacks
