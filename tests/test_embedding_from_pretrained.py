"""``Embedding.from_pretrained`` / ``EmbeddingBag.from_pretrained`` as PyTorch's: the weight a
copy of the given table (the ``padding_idx`` row kept), frozen by default, and lookups and the
weight's gradient (``freeze=False``) equal torch's in float64, on numpy and numba."""
import numpy as np
import pytest

import xpgrad as xg

torch = pytest.importorskip("torch", reason="PyTorch is not installed: no comparison")


@pytest.fixture
def backend(host_backend):
    return host_backend


TABLE = np.random.default_rng(0).standard_normal((6, 3))
IDS = np.array([[1, 2, 0], [5, 2, 2]])


@pytest.mark.parametrize("freeze", [True, False])
def test_embedding_from_pretrained_matches_torch(freeze, backend):
    ref = torch.nn.Embedding.from_pretrained(torch.tensor(TABLE), freeze=freeze, padding_idx=2)
    ours = xg.nn.Embedding.from_pretrained(xg.asarray(TABLE, backend=backend), freeze=freeze,
                                           padding_idx=2)
    assert ours.weight.backend == xg.asarray(TABLE, backend=backend).backend
    assert ours.weight.dtype == xg.float64 and ours.padding_idx == 2
    np.testing.assert_array_equal(ours.weight.numpy(), TABLE)     # the padding row kept
    assert len(ours.trainable_variables) == (0 if freeze else 1)
    assert ref.weight.requires_grad is not freeze
    weights = np.random.default_rng(1).standard_normal(IDS.shape + (3,))
    out = ref(torch.tensor(IDS))
    with xg.GradientTape() as tape:
        got = ours(xg.asarray(IDS, backend=backend))
        loss = xg.sum(got * xg.asarray(weights, backend=backend))
    np.testing.assert_array_equal(got.numpy(), out.detach().numpy())
    if not freeze:
        (out * torch.tensor(weights)).sum().backward()
        grad = tape.gradient(loss, ours.weight)
        np.testing.assert_allclose(grad.numpy(), ref.weight.grad.numpy(), rtol=1e-12, atol=0)
        assert not grad.numpy()[2].any()


def test_embedding_bag_from_pretrained_matches_torch():
    table = torch.tensor(TABLE, dtype=torch.float32)
    ref = torch.nn.EmbeddingBag.from_pretrained(table, mode="sum")
    ours = xg.nn.EmbeddingBag.from_pretrained(table, mode="sum")
    assert ours.weight.dtype == xg.float32 and ours.mode == "sum"
    np.testing.assert_allclose(ours(xg.asarray(IDS)).numpy(),
                               ref(torch.tensor(IDS)).numpy(), rtol=1e-6)


def test_from_pretrained_copies_and_takes_constructor_keywords():
    table = TABLE.copy()
    emb = xg.nn.Embedding.from_pretrained(table, freeze=False, dtype=xg.float32, name="glove")
    table[0] = 0.0
    assert emb.weight.name == "glove/weight" and emb.weight.dtype == xg.float32
    np.testing.assert_allclose(emb.weight.numpy(), TABLE, rtol=1e-6)
