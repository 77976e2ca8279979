"""EmbeddingBag / embedding_bag: values and gradients (weight and per_sample_weights) against
torch.nn.functional.embedding_bag in float64 and float32 (2-D input; 1-D input with offsets,
include_last_offset, empty bags, padding_idx; modes sum / mean / max), finite differences,
numba == numpy, the weight's gradient a sparse scatter-add, xg.function replay == eager, the
state dict and parameters, and bad input."""
import numpy as np
import pytest

import xpgrad as xg
from conftest import backend_report
from xpgrad import nn
from xpgrad.accumulate import Scatter

torch = pytest.importorskip("torch", reason="PyTorch is not installed: no comparison")
F = torch.nn.functional


def _need_numba():
    row = backend_report().get("numba", {"available": False, "reason": "not registered"})
    if not row["available"]:
        pytest.skip(f"numba: {row['reason']}")


TOL = {"float64": dict(rtol=1e-12, atol=1e-12), "float32": dict(rtol=1e-5, atol=1e-5)}

# (input, offsets, include_last_offset): repeats in a bag, empty bags (first, middle, last),
# a bag that is only padding (id 2 below)
CASES = {
    "2-d": (np.array([[1, 4, 4, 0], [2, 2, 7, 3], [5, 6, 1, 1]]), None, False),
    "1-d": (np.array([3, 1, 1, 2, 7, 0, 4, 4, 6]), np.array([0, 3, 3, 4, 8]), False),
    "1-d-empty-first": (np.array([3, 5, 1, 2]), np.array([0, 0, 2]), False),
    "1-d-empty-last": (np.array([3, 5, 1, 2]), np.array([0, 2, 4]), False),
    "last-offset": (np.array([3, 1, 1, 2, 7, 0, 4]), np.array([0, 2, 2, 7]), True),
    "last-offset-empty-last": (np.array([3, 1, 1, 2, 7, 0, 4]), np.array([0, 2, 7, 7]), True),
    "one-bag": (np.array([6, 6, 6]), np.array([0]), False),
}


def _run_ours(ids, weight, offsets, mode, psw, pad, last, backend="numpy"):
    w = xg.asarray(weight, backend=backend)
    p = None if psw is None else xg.asarray(psw, backend=backend)
    with xg.GradientTape() as tape:
        tape.watch([w] + ([] if p is None else [p]))
        out = nn.embedding_bag(xg.asarray(ids, backend=backend), w,
                               None if offsets is None else xg.asarray(offsets, backend=backend),
                               mode=mode, per_sample_weights=p, padding_idx=pad,
                               include_last_offset=last)
        ct = np.cos(np.arange(out.size)).reshape(out.shape).astype(weight.dtype)
        loss = xg.sum(out * xg.asarray(ct, backend=backend))
    grads = tape.gradient(loss, [w] + ([] if p is None else [p]))
    return [out.numpy()] + [g.numpy() for g in grads]


def _run_torch(ids, weight, offsets, mode, psw, pad, last):
    w = torch.tensor(weight, requires_grad=True)
    p = None if psw is None else torch.tensor(psw, requires_grad=True)
    out = F.embedding_bag(torch.tensor(ids), w, None if offsets is None else
                          torch.tensor(offsets), mode=mode, per_sample_weights=p,
                          padding_idx=pad, include_last_offset=last)
    ct = np.cos(np.arange(out.numel())).reshape(tuple(out.shape)).astype(weight.dtype)
    (out * torch.tensor(ct)).sum().backward()
    return [out.detach().numpy(), w.grad.numpy()] + ([] if p is None else [p.grad.numpy()])


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("pad", [None, 2])
@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
@pytest.mark.parametrize("case", list(CASES))
def test_embedding_bag_matches_torch(case, mode, pad, dtype, rng):
    ids, offsets, last = CASES[case]
    weight = rng.standard_normal((8, 5)).astype(dtype)
    got = _run_ours(ids, weight, offsets, mode, None, pad, last)
    want = _run_torch(ids, weight, offsets, mode, None, pad, last)
    assert got[0].dtype == dtype and got[0].shape == want[0].shape
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, **TOL[dtype])
    if pad is not None:
        assert not got[1][pad].any()          # the padding row gets no gradient


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("case", ["2-d", "1-d", "last-offset"])
def test_embedding_bag_per_sample_weights_match_torch(case, dtype, rng):
    ids, offsets, last = CASES[case]
    weight = rng.standard_normal((8, 5)).astype(dtype)
    psw = rng.standard_normal(ids.shape).astype(dtype)
    for pad in (None, 1):
        got = _run_ours(ids, weight, offsets, "sum", psw, pad, last)
        want = _run_torch(ids, weight, offsets, "sum", psw, pad, last)
        assert len(got) == len(want) == 3
        for a, b in zip(got, want):
            np.testing.assert_allclose(a, b, **TOL[dtype])


def test_embedding_bag_max_ties_go_to_the_first_row_as_torch():
    """Two different rows tie in a column: PyTorch (CPU) gives the gradient to the first."""
    weight = np.array([[1.0, 5.0], [1.0, 2.0], [0.0, 5.0]])
    ids, offsets = np.array([1, 0, 2]), np.array([0])
    got = _run_ours(ids, weight, offsets, "max", None, None, False)
    want = _run_torch(ids, weight, offsets, "max", None, None, False)
    for a, b in zip(got, want):
        np.testing.assert_array_equal(a, b)
    assert got[1][1, 0] != 0 and got[1][0, 0] == 0 and got[1][0, 1] != 0


def test_embedding_bag_max_takes_the_first_nan_and_its_row_gets_the_gradient():
    """A NaN in a column is that bag's maximum there (as ``max``); the first row holding one
    is picked, so only it gets the column's gradient."""
    weight = np.arange(12.0).reshape(6, 2)
    weight[2, 0] = weight[4, 0] = np.nan
    ids, offsets = np.array([0, 4, 1, 2, 5] + [3] * 27), np.array([0, 4, 5])
    out, grad = _run_ours(ids, weight, offsets, "max", None, None, False)
    assert np.isnan(out[0, 0]) and out[0, 1] == 9.0 and out[1, 0] == 10.0
    assert out[2, 0] == 6.0 and out[2, 1] == 7.0                # 27 tied rows: the first
    np.testing.assert_array_equal(grad[:, 0] != 0, [False, False, False, True, True, True])
    np.testing.assert_array_equal(grad[:, 1] != 0, [False, False, False, True, True, True])


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
def test_embedding_bag_gradients_match_finite_differences(mode, rng):
    ids, offsets = xg.asarray(np.array([3, 1, 1, 2, 0, 0, 4])), xg.asarray(np.array([0, 3, 3, 5]))
    weight = xg.asarray(rng.standard_normal((5, 3)))
    xg.testing.check_grads(lambda w: nn.embedding_bag(ids, w, offsets, mode=mode) ** 2,
                           [weight], order=2)
    rows = xg.asarray(np.array([[0, 1, 1], [2, 4, 3]]))
    xg.testing.check_grads(lambda w: nn.embedding_bag(rows, w, mode=mode) ** 2, [weight],
                           order=2)


def test_embedding_bag_per_sample_weights_finite_differences(rng):
    ids, offsets = xg.asarray(np.array([3, 1, 1, 2, 0])), xg.asarray(np.array([0, 2]))
    args = [xg.asarray(rng.standard_normal((5, 3))), xg.asarray(rng.standard_normal(5))]
    xg.testing.check_grads(lambda w, p: nn.embedding_bag(ids, w, offsets, mode="sum",
                                                         per_sample_weights=p) ** 2,
                           args, order=2)


def test_embedding_bag_weight_gradient_is_a_sparse_scatter(rng, monkeypatch):
    """The tape adds the weight's gradient as the embedding primitive's Scatter of the rows
    read (one row per id, never a (num_embeddings, ...) one-hot product)."""
    added = []
    add_into = Scatter.add_into

    def spy(self, acc):
        added.append((self.shape, tuple(self.values.shape)))
        add_into(self, acc)
    monkeypatch.setattr(Scatter, "add_into", spy)
    for mode in ("sum", "mean", "max"):
        added.clear()
        w = xg.asarray(rng.standard_normal((1000, 4)))
        with xg.GradientTape() as tape:
            tape.watch(w)
            loss = xg.sum(nn.embedding_bag(xg.asarray([5, 7, 5, 9]), w, xg.asarray([0, 2]),
                                           mode=mode) ** 2)
        grad = tape.gradient(loss, w).numpy()
        assert ((1000, 4), (4, 4)) in added, (mode, added)
        assert set(np.flatnonzero(grad.any(axis=1))) == {5, 7, 9}


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
def test_embedding_bag_numba_agrees_with_numpy(mode, rng):
    _need_numba()
    ids = rng.integers(0, 40, size=60)
    offsets = np.sort(rng.integers(0, 60, size=9))
    offsets[0] = 0
    weight = rng.standard_normal((40, 6)).astype(np.float32)
    psw = rng.standard_normal(60).astype(np.float32) if mode == "sum" else None
    got = _run_ours(ids, weight, offsets, mode, psw, 3, False, backend="numba")
    want = _run_ours(ids, weight, offsets, mode, psw, 3, False, backend="numpy")
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("pad", [0, None])      # (None: the mean's counts from the offsets)
@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
def test_embedding_bag_under_function_replays_as_eager(mode, pad, rng):
    """The same shapes with bags of other lengths on each call (an empty one, the longest
    growing): the replays compute them anew, as the eager call."""
    bag = nn.EmbeddingBag(20, 4, mode=mode, padding_idx=pad, rng=0, dtype="float64")
    head = nn.Linear(4, 3, rng=1, dtype="float64")
    variables = bag.trainable_variables + head.trainable_variables

    def step(ids, offsets, labels):
        with xg.GradientTape() as tape:
            loss = xg.losses.softmax_cross_entropy(head(bag(ids, offsets)), labels)
        return loss, tape.gradient(loss, variables)

    runs = []
    compiled = xg.function(lambda *args: runs.append(1) or step(*args))
    labels = xg.asarray([0, 2, 1, 1])
    seen = []
    for cuts in ([0, 4, 8, 12], [0, 1, 2, 3], [0, 13, 13, 15], [0, 0, 2, 6], [0, 0, 0, 0]):
        seen.append((xg.asarray(rng.integers(0, 20, size=16)), xg.asarray(cuts)))
    for rounds in range(3):      # a warm-up call, a trace; the bound checks' guards widen
        before = len(runs)
        for ids, offsets in seen:
            got, want = compiled(ids, offsets, labels), step(ids, offsets, labels)
            np.testing.assert_allclose(got[0].numpy(), want[0].numpy(), rtol=1e-13)
            for a, b in zip(got[1], want[1]):
                np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-12, atol=1e-15)
    assert len(runs) == before, "the third round replays every call"
    with pytest.raises(ValueError, match="offsets must be non-decreasing"):
        compiled(ids, xg.asarray([0, 5, 3, 9]), labels)


def test_embedding_bag_module_state_dict_parameters_and_torch():
    bag = nn.EmbeddingBag(6, 3, mode="sum", padding_idx=1, rng=0, name="bag")
    assert [v.name for v in bag.trainable_variables] == ["bag/weight"]
    assert list(bag.named_variables()) == ["bag/weight"]
    assert bag.weight.shape == (6, 3) and bag.weight.dtype == xg.float32
    assert not bag.weight.numpy()[1].any()
    ref = torch.nn.EmbeddingBag(6, 3, mode="sum", padding_idx=1)
    ref.load_state_dict({k: torch.tensor(v) for k, v in bag.torch_state_dict().items()})
    ids, offsets = np.array([0, 5, 1, 3, 3]), np.array([0, 2])
    np.testing.assert_allclose(bag(xg.asarray(ids), xg.asarray(offsets)).numpy(),
                               ref(torch.tensor(ids), torch.tensor(offsets)).detach().numpy(),
                               rtol=1e-6)
    back = nn.EmbeddingBag(6, 3, mode="sum", padding_idx=1, rng=5, name="bag")
    back.load_torch_state_dict(ref.state_dict())
    np.testing.assert_array_equal(back.weight.numpy(), bag.weight.numpy())
    fresh = nn.EmbeddingBag(6, 3, mode="sum", rng=7, name="bag")
    fresh.load_state_dict(bag.state_dict())
    np.testing.assert_array_equal(fresh.weight.numpy(), bag.weight.numpy())
    assert "mode='sum', padding_idx=1" in repr(bag)
    assert nn.EmbeddingBag(4, 2, rng=0).mode == "mean"             # PyTorch's default
    with pytest.raises(ValueError, match=r"'weight' has shape \(6, 4\), this EmbeddingBag "
                                         r"needs \(6, 3\)"):
        bag.load_torch_state_dict({"weight": np.zeros((6, 4))})
    # a (bags, n) batch through the module, with per-sample weights
    psw = xg.asarray([[1.0, 0.5], [2.0, -1.0]])
    out = bag(xg.asarray([[0, 2], [3, 3]]), per_sample_weights=psw)
    want = ref(torch.tensor([[0, 2], [3, 3]]), per_sample_weights=torch.tensor(psw.numpy()))
    np.testing.assert_allclose(out.numpy(), want.detach().numpy(), rtol=1e-6)


def test_embedding_bag_bad_input():
    w = xg.ones((5, 2))
    ids = xg.asarray([0, 1, 2, 3])
    with pytest.raises(IndexError, match=r"embedding_bag: input must lie in \[0, "
                                         r"num_embeddings\) = \[0, 5\), got id 5"):
        nn.embedding_bag(xg.asarray([0, 5]), w, xg.asarray([0]))
    with pytest.raises(IndexError, match="got id -1"):
        nn.embedding_bag(xg.asarray([[0, -1]]), w)
    with pytest.raises(TypeError, match="embedding_bag: input must be integers"):
        nn.embedding_bag(xg.asarray([0.0, 1.0]), w, xg.asarray([0]))
    with pytest.raises(ValueError, match="embedding_bag: offsets must start at 0 .* got "
                                         r"offsets\[0\] = 1"):
        nn.embedding_bag(ids, w, xg.asarray([1, 2]))
    with pytest.raises(ValueError, match="embedding_bag: offsets must be non-decreasing"):
        nn.embedding_bag(ids, w, xg.asarray([0, 3, 2]))
    with pytest.raises(ValueError, match=r"embedding_bag: offsets must be at most len\(input\) "
                                         "= 4, got 7"):
        nn.embedding_bag(ids, w, xg.asarray([0, 7]))
    with pytest.raises(ValueError, match=r"embedding_bag: with include_last_offset, "
                                         r"offsets\[-1\] must be len\(input\) = 4 .* got 3"):
        nn.embedding_bag(ids, w, xg.asarray([0, 2, 3]), include_last_offset=True)
    with pytest.raises(TypeError, match="embedding_bag: offsets must be integers"):
        nn.embedding_bag(ids, w, xg.asarray([0.0, 2.0]))
    with pytest.raises(ValueError, match="embedding_bag: offsets must be 1-D and non-empty"):
        nn.embedding_bag(ids, w, xg.asarray(np.zeros(0, np.int64)))
    with pytest.raises(ValueError, match="embedding_bag: a 1-D input needs offsets"):
        nn.embedding_bag(ids, w)
    with pytest.raises(ValueError, match="embedding_bag: offsets must be None for a 2-D input"):
        nn.embedding_bag(xg.asarray([[0, 1]]), w, xg.asarray([0]))
    with pytest.raises(ValueError, match="embedding_bag: input must be 1-D .* or 2-D"):
        nn.embedding_bag(xg.asarray([[[0]]]), w)
    with pytest.raises(ValueError, match="per_sample_weights are only supported with "
                                         "mode='sum', got mode='mean'"):
        nn.embedding_bag(ids, w, xg.asarray([0]), per_sample_weights=xg.ones(4))
    with pytest.raises(ValueError, match=r"per_sample_weights must have the input's shape "
                                         r"\(4,\), got \(3,\)"):
        nn.embedding_bag(ids, w, xg.asarray([0]), mode="sum", per_sample_weights=xg.ones(3))
    with pytest.raises(TypeError, match="per_sample_weights are float64 but the weight is "
                                        "float32"):
        nn.embedding_bag(ids, w, xg.asarray([0]), mode="sum",
                         per_sample_weights=xg.ones(4, dtype="float64"))
    with pytest.raises(ValueError, match="embedding_bag: mode must be 'sum', 'mean' or 'max', "
                                         "got 'min'"):
        nn.embedding_bag(ids, w, xg.asarray([0]), mode="min")
    with pytest.raises(ValueError, match="EmbeddingBag: mode must be 'sum', 'mean' or 'max'"):
        nn.EmbeddingBag(5, 2, mode="avg")
    with pytest.raises(ValueError, match=r"embedding_bag: padding_idx must be within "
                                         r"num_embeddings \(5\)"):
        nn.embedding_bag(ids, w, xg.asarray([0]), padding_idx=5)
    with pytest.raises(ValueError, match="embedding_bag: weight must be 2-D"):
        nn.embedding_bag(ids, xg.ones(3), xg.asarray([0]))
    with pytest.raises(TypeError, match="include_last_offset must be True or False"):
        nn.embedding_bag(ids, w, xg.asarray([0]), include_last_offset="yes")
    with pytest.raises(ValueError, match="EmbeddingBag: num_embeddings must be a non-negative"):
        nn.EmbeddingBag(-1, 2)
    # the empty cases: no ids, no bags
    assert nn.embedding_bag(xg.asarray(np.zeros(0, np.int64)), w,
                            xg.asarray([0, 0])).numpy().tolist() == [[0.0, 0.0], [0.0, 0.0]]
    assert nn.embedding_bag(xg.asarray(np.zeros(0, np.int64)), w, xg.asarray([0]),
                            include_last_offset=True).shape == (0, 2)


@pytest.mark.parametrize("pad", [None, 3])
@pytest.mark.parametrize("mode", ["sum", "mean"])
def test_2d_bags_sum_along_their_axis_as_the_1d_scatter_does(mode, pad):
    """A 2-D input's sums and means (summed along the bag axis) equal those of the same bags
    given 1-D with offsets (the scatter-add), values and gradients; a bag of padding alone
    gives zeros."""
    rng = np.random.default_rng(7)
    ids = rng.integers(0, 12, size=(40, 9))
    ids[5] = 3                                           # only padding where pad=3
    weight = rng.standard_normal((12, 6)).astype(np.float32)
    psw = rng.standard_normal(ids.shape).astype(np.float32) if mode == "sum" else None
    two_d = _run_ours(ids, weight, None, mode, psw, pad, False)
    one_d = _run_ours(ids.reshape(-1), weight, np.arange(40) * 9, mode,
                      None if psw is None else psw.reshape(-1), pad, False)
    for a, b in zip(two_d, one_d):
        np.testing.assert_allclose(a, b.reshape(a.shape), rtol=1e-6, atol=1e-6)
    if pad is not None:
        assert not two_d[0][5].any()
    for a, b in zip(two_d, _run_torch(ids, weight, None, mode, psw, pad, False)):
        np.testing.assert_allclose(a, b, **TOL["float32"])


def test_max_of_uneven_bags_with_ties_infinities_and_nan():
    """Bags of 0 to 60 rows (the maxima by segment, not bags padded to the longest): against
    torch with ties and -inf (the gradient to the first row holding the maximum), and a NaN,
    which is each column's maximum there, its gradient to the first NaN (NumPy's argmax)."""
    rng = np.random.default_rng(8)
    weight = rng.integers(-3, 3, size=(20, 5)).astype(np.float64)
    weight[4, 2] = -np.inf
    ids = rng.integers(0, 20, size=200)
    offsets = np.array([0, 0, 60, 61, 61, 130, 190])
    got = _run_ours(ids, weight, offsets, "max", None, 7, False)
    for a, b in zip(got, _run_torch(ids, weight, offsets, "max", None, 7, False)):
        np.testing.assert_array_equal(a, b)
    weight = np.concatenate([weight, np.full((2, 5), -1.0)])
    weight[20:, 1] = np.nan
    ids[[70, 75]] = [21, 20]                             # in the bag of rows 61..129 only
    values, dw = _run_ours(ids, weight, offsets, "max", None, None, False)
    assert np.isnan(values[4, 1]) and not np.isnan(np.delete(values[:, 1], 4)).any()
    ct = np.cos(np.arange(values.size)).reshape(values.shape)
    assert dw[21, 1] == ct[4, 1] and dw[20, 1] == 0
