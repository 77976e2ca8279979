"""The names and keywords a PyTorch user reaches for porting a graph network, a DQN, a
contrastive loss or an MDN: the scatter and gather names (``index_add``, ``scatter_add``,
``scatter_reduce``, ``index_select``, ``rsqrt``, ``bincount``, ``repeat_interleave``),
``F.smooth_l1_loss`` on ``xg.nn``, the matrix methods (``t()``, ``diagonal``,
``fill_diagonal_``, ``triu(1)``, ...) and ``dim=`` on ``F.normalize`` and the like. Each
raises an error naming xpgrad's way (``hasattr`` stays False), and that way computes
PyTorch's value and gradient in float64."""
from __future__ import annotations

import re

import numpy as np
import pytest

import xpgrad as xg

torch = pytest.importorskip("torch")

R = np.random.default_rng(11)
X = R.standard_normal((5, 4))
SRC = R.standard_normal((7, 4))
IDS = np.array([0, 3, 3, 1, 4, 0, 2])              # every row 0-4 hit, some twice
COLUMN_IDS = np.array([2, 0, 2])


def _xg_value_and_grads(fn, arrays):
    xs = [xg.asarray(a) for a in arrays]
    with xg.GradientTape() as tape:
        tape.watch(xs)
        out = fn(*xs)
        w = np.cos(np.arange(out.size)).reshape(out.shape)
        loss = xg.sum(out * xg.asarray(w))
    return out.numpy(), [g.numpy() for g in tape.gradient(loss, xs)]


def _torch_value_and_grads(fn, arrays):
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    out = fn(*ts)
    w = np.cos(np.arange(out.numel())).reshape(tuple(out.shape))
    (out * torch.tensor(w)).sum().backward()
    return out.detach().numpy(), [t.grad.numpy() for t in ts]


def _ids(a):
    return torch.tensor(a) if isinstance(a, np.ndarray) else a


TI, TC = torch.tensor(IDS), torch.tensor(COLUMN_IDS)
ROWS = TI[:, None].expand(-1, 4)        # torch's scatter index: the row id across the columns

# name on xg (and on a Tensor) -> (what the hint says, ours, torch's, float arrays)
CASES = {
    "index_add": (r"x\.at\[index\]\.add\(source\)",
                  lambda x, s: x.at[xg.asarray(IDS)].add(s),
                  lambda x, s: torch.index_add(x, 0, TI, s), [X, SRC]),
    "index_add/axis 1": (r"x\.at\[:, index\]\.add\(source\)",
                         lambda x, s: x.at[:, xg.asarray(COLUMN_IDS)].add(s),
                         lambda x, s: torch.index_add(x, 1, TC, s), [X, SRC[:5, :3]]),
    "index_add/zeros": (r"xg\.unsorted_segment_sum\(source, index, num_segments\)",
                        lambda s: xg.unsorted_segment_sum(s, xg.asarray(IDS), 5),
                        lambda s: torch.zeros(5, 4, dtype=s.dtype).index_add(0, TI, s), [SRC]),
    "scatter_add": (r"x\.at\[ids\]\.add\(src\)",
                    lambda x, s: x.at[xg.asarray(IDS)].add(s),
                    lambda x, s: torch.scatter_add(x, 0, ROWS, s), [X, SRC]),
    "index_select": (r"xg\.take\(x, index, axis=k\)",
                     lambda x: xg.take(x, xg.asarray(COLUMN_IDS), axis=1),
                     lambda x: torch.index_select(x, 1, TC), [X]),
    "rsqrt": (r"1 / xg\.sqrt\(x\)", lambda x: 1 / xg.sqrt(x), torch.rsqrt, [np.abs(X) + 0.5]),
    "repeat_interleave": (r"xg\.repeat\(x, repeats, axis=k\)",
                          lambda x: xg.repeat(x, xg.asarray([1, 0, 2, 1, 3]), axis=0),
                          lambda x: torch.repeat_interleave(x, torch.tensor([1, 0, 2, 1, 3]),
                                                            dim=0), [X]),
    **{f"scatter_reduce/{reduce}": (
        rf"xg\.unsorted_segment_sum, _max, _min, _prod, _mean\(src, ids, num_segments\)",
        lambda s, ours=ours: getattr(xg, f"unsorted_segment_{ours}")(s, xg.asarray(IDS), 5),
        lambda s, reduce=reduce: torch.zeros(5, 4, dtype=s.dtype).scatter_reduce(
            0, ROWS, s, reduce, include_self=False), [SRC])
       for reduce, ours in (("sum", "sum"), ("amax", "max"), ("amin", "min"), ("prod", "prod"),
                            ("mean", "mean"))},
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_name_points_at_a_way_that_computes_torchs_value_and_gradient(case):
    hint, ours, theirs, arrays = CASES[case]
    name = case.split("/")[0]
    with pytest.raises(AttributeError, match=rf"no attribute '{name}': .*{hint}"):
        getattr(xg, name)
    assert not hasattr(xg, name) and name not in dir(xg)
    got, got_grads = _xg_value_and_grads(ours, arrays)
    want, want_grads = _torch_value_and_grads(theirs, arrays)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)
    for g, w in zip(got_grads, want_grads):
        np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-14)


def test_bincount_hint_counts_and_weighs_as_torch():
    with pytest.raises(AttributeError, match=r"xg\.unsorted_segment_sum\(xg\.ones_like\(ids\), "
                                             r"ids, n\)"):
        xg.bincount    # noqa: B018
    ids, weights = xg.asarray(IDS), R.random(len(IDS))
    np.testing.assert_array_equal(xg.unsorted_segment_sum(xg.ones_like(ids), ids, 6).numpy(),
                                  torch.bincount(TI, minlength=6).numpy())
    np.testing.assert_allclose(xg.unsorted_segment_sum(xg.asarray(weights), ids, 6).numpy(),
                               torch.bincount(TI, torch.tensor(weights), minlength=6).numpy(),
                               rtol=1e-15)


@pytest.mark.parametrize("name, hint", [
    ("index_add", r"t\.at\[index\]\.add\(source\)"), ("index_add_", r"t\.at\[index\]\.add"),
    ("scatter_add", r"t\.at\[ids\]\.add\(src\).*TensorFlow's v\.scatter_add"),
    ("scatter_add_", r"t\.at\[ids\]\.add\(src\)"), ("scatter_reduce", r"t\.at\[ids\]\.add"),
    ("index_select", r"xg\.take\(t, index, axis=k\)"), ("rsqrt", r"1 / xg\.sqrt\(t\)"),
    ("repeat_interleave", r"xg\.repeat\(t, repeats, axis=k\)")])
def test_tensor_methods_name_the_same_ways(name, hint):
    for obj in (xg.asarray(X), xg.Variable(X)):
        with pytest.raises(AttributeError, match=rf"object has no attribute '{name}': .*{hint}"):
            getattr(obj, name)
        assert not hasattr(obj, name) and name not in dir(obj)


FUNCTIONAL_LOSSES = ["l1_loss", "mse_loss", "smooth_l1_loss", "huber_loss", "cross_entropy",
                     "nll_loss", "binary_cross_entropy", "binary_cross_entropy_with_logits",
                     "kl_div", "ctc_loss", "gaussian_nll_loss", "poisson_nll_loss",
                     "margin_ranking_loss", "hinge_embedding_loss", "soft_margin_loss",
                     "multilabel_soft_margin_loss", "multi_margin_loss", "triplet_margin_loss",
                     "cosine_embedding_loss", "multilabel_margin_loss",
                     "triplet_margin_with_distance_loss"]


@pytest.mark.parametrize("name", FUNCTIONAL_LOSSES)
def test_torch_functional_losses_on_xg_nn_name_xg_losses(name):
    """``F = xg.nn`` as ``torch.nn.functional``: ``F.smooth_l1_loss`` names the xg.losses
    function, which exists (torch has each of these names)."""
    assert hasattr(torch.nn.functional, name)
    with pytest.raises(AttributeError, match=rf"'xpgrad\.nn' has no attribute '{name}': "
                                             rf"xg\.losses\.(\w+)") as info:
        getattr(xg.nn, name)
    ours = re.search(r"xg\.losses\.(\w+)", str(info.value)).group(1)
    assert callable(getattr(xg.losses, ours))
    assert not hasattr(xg.nn, name) and name not in dir(xg.nn)


def test_an_unknown_loss_like_name_gets_no_hint():
    with pytest.raises(AttributeError) as info:
        xg.nn.made_up_loss    # noqa: B018
    assert str(info.value) == "module 'xpgrad.nn' has no attribute 'made_up_loss'"


F = torch.nn.functional
V = R.standard_normal((3, 4))
W = R.standard_normal((3, 4))
# ours(**{axis or keepdims: value}), torch's, the keyword torch takes -> xpgrad's, its value
KEYWORD_CASES = {
    "normalize": (lambda **k: xg.nn.normalize(xg.asarray(V), **k),
                  lambda: F.normalize(torch.tensor(V), dim=0), "dim", ("axis", 0)),
    "cosine_similarity": (lambda **k: xg.nn.cosine_similarity(xg.asarray(V), xg.asarray(W), **k),
                          lambda: F.cosine_similarity(torch.tensor(V), torch.tensor(W), dim=0),
                          "dim", ("axis", 0)),
    "pairwise_distance": (lambda **k: xg.nn.pairwise_distance(xg.asarray(V), xg.asarray(W), **k),
                          lambda: F.pairwise_distance(torch.tensor(V), torch.tensor(W),
                                                      keepdim=True), "keepdim",
                          ("keepdims", True)),
    "glu": (lambda **k: xg.nn.glu(xg.asarray(V), **k),
            lambda: F.glu(torch.tensor(V), dim=1), "dim", ("axis", 1)),
    "vector_norm": (lambda **k: xg.linalg.vector_norm(xg.asarray(V), **k),
                    lambda: torch.linalg.vector_norm(torch.tensor(V), dim=1), "dim", ("axis", 1)),
    "norm": (lambda **k: xg.linalg.norm(xg.asarray(V), **k),
             lambda: torch.linalg.norm(torch.tensor(V), dim=1), "dim", ("axis", 1)),
    "cross": (lambda **k: xg.linalg.cross(xg.asarray(V[:, :3]), xg.asarray(W[:, :3]), **k),
              lambda: torch.linalg.cross(torch.tensor(V[:, :3]), torch.tensor(W[:, :3]), dim=-1),
              "dim", ("axis", -1)),
    "vecdot": (lambda **k: xg.vecdot(xg.asarray(V), xg.asarray(W), **k),
               lambda: torch.linalg.vecdot(torch.tensor(V), torch.tensor(W), dim=0), "dim",
               ("axis", 0)),
    "sort": (lambda **k: xg.sort(xg.asarray(V), **k),
             lambda: torch.sort(torch.tensor(V), dim=0).values, "dim", ("axis", 0)),
    "argsort": (lambda **k: xg.argsort(xg.asarray(V), **k),
                lambda: torch.argsort(torch.tensor(V), dim=0), "dim", ("axis", 0)),
    "topk": (lambda **k: xg.topk(xg.asarray(V), 2, **k)[0],
             lambda: torch.topk(torch.tensor(V), 2, dim=0).values, "dim", ("axis", 0)),
    "flip": (lambda **k: xg.flip(xg.asarray(V), **k),
             lambda: torch.flip(torch.tensor(V), dims=(0,)), "dims", ("axis", 0)),
    "roll": (lambda **k: xg.roll(xg.asarray(V), 1, **k),
             lambda: torch.roll(torch.tensor(V), 1, dims=1), "dims", ("axis", 1)),
    "squeeze": (lambda **k: xg.squeeze(xg.asarray(V[:1]), **k),
                lambda: torch.squeeze(torch.tensor(V[:1]), dim=0), "dim", ("axis", 0)),
    "take_along_axis": (lambda **k: xg.take_along_axis(xg.asarray(V), xg.asarray([[1], [0], [3]]),
                                                       **k),
                        lambda: torch.take_along_dim(torch.tensor(V), torch.tensor([[1], [0], [3]]),
                                                     dim=1), "dim", ("axis", 1)),
    "unstack": (lambda **k: xg.unstack(xg.asarray(V), **k)[1],
                lambda: torch.unbind(torch.tensor(V), dim=1)[1], "dim", ("axis", 1)),
    "count_nonzero": (lambda **k: xg.count_nonzero(xg.asarray(V > 0), **k),
                      lambda: torch.count_nonzero(torch.tensor(V > 0), dim=1), "dim", ("axis", 1)),
    "diff": (lambda **k: xg.diff(xg.asarray(V), **k),
             lambda: torch.diff(torch.tensor(V), dim=0), "dim", ("axis", 0)),
}


@pytest.mark.parametrize("name", sorted(KEYWORD_CASES))
def test_torchs_dim_keywords_name_axis_and_axis_gives_torchs_values(name):
    """``F.normalize(x, dim=0)`` written as is raises a TypeError naming ``axis=``, as the
    reductions' do; with ``axis=`` the value is torch's."""
    ours, theirs, torch_keyword, (keyword, value) = KEYWORD_CASES[name]
    with pytest.raises(TypeError, match=rf"^{name}\(\) got an unexpected keyword argument "
                                        rf"'{torch_keyword}'; xpgrad uses the array API's "
                                        rf"names: {keyword}= for {torch_keyword}=$"):
        ours(**{torch_keyword: value})
    np.testing.assert_allclose(ours(**{keyword: value}).numpy(), theirs().numpy(),
                               rtol=1e-14, atol=1e-15)


SQUARE = R.standard_normal((4, 4))
# name -> (where the hint is met, what it says, ours, torch's)
MATRIX_CASES = {
    "t": ("tensor", r"t\.T", lambda x: x.T, lambda t: t.t()),
    "diagonal": ("both", r"xg\.linalg\.diagonal\(., offset=k\)",
                 lambda x: xg.linalg.diagonal(x, offset=1), lambda t: t.diagonal(1)),
    "trace": ("tensor", r"xg\.linalg\.trace\(t, offset=k\)", lambda x: xg.linalg.trace(x),
              lambda t: t.trace()),
    "triu": ("tensor", r"xg\.triu\(t, k=diagonal\)", lambda x: xg.triu(x, k=1),
             lambda t: t.triu(1)),
    "tril": ("tensor", r"xg\.tril\(t, k=diagonal\)", lambda x: xg.tril(x, k=-1),
             lambda t: t.tril(-1)),
    "fill_diagonal": ("both", r"xg\.where\(xg\.eye\(n, dtype=xg\.bool\), value, .\)",
                      lambda x: xg.where(xg.eye(4, dtype=xg.bool), -2.5, x),
                      lambda t: t.clone().fill_diagonal_(-2.5)),
    "masked_select": ("tensor", r"t\[mask\]", lambda x: x[x > 0],
                      lambda t: t.masked_select(t > 0)),
    "nan_to_num": ("tensor", r"xg\.nan_to_num\(t\)", lambda x: xg.nan_to_num(x),
                   lambda t: t.nan_to_num()),
}


@pytest.mark.parametrize("name", sorted(MATRIX_CASES))
def test_matrix_names_point_at_a_way_that_computes_torchs_value_and_gradient(name):
    where, hint, ours, theirs = MATRIX_CASES[name]
    square = SQUARE.copy()
    if name == "nan_to_num":
        square[0, 0] = np.nan
    if where in ("tensor", "both"):
        method = "fill_diagonal_" if name == "fill_diagonal" else name
        with pytest.raises(AttributeError, match=rf"no attribute '{method}': {hint}"):
            getattr(xg.asarray(square), method)
    if where == "both":
        with pytest.raises(AttributeError, match=rf"no attribute '{name}': {hint}"):
            getattr(xg, name)
    got, got_grads = _xg_value_and_grads(ours, [square])
    want, want_grads = _torch_value_and_grads(theirs, [square])
    np.testing.assert_allclose(got, want, rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(got_grads[0], want_grads[0], rtol=1e-14, atol=1e-15)


def test_triangles_take_k_by_keyword_and_say_so():
    x = xg.asarray(SQUARE)
    with pytest.raises(TypeError, match=r"^triu\(\) takes at most 1 positional argument \(x\) "
                                        r"but 2 were given; k= is keyword-only$"):
        xg.triu(x, 1)
    with pytest.raises(TypeError, match=r"^tril\(\) got an unexpected keyword argument "
                                        r"'diagonal'; xpgrad uses the array API's names: k= for "
                                        r"diagonal=$"):
        xg.tril(x, diagonal=-1)


@pytest.mark.parametrize("name", ["sparse", "sparse_coo_tensor"])
def test_sparse_names_point_at_a_segment_sum_that_gives_torch_sparse_mm(name):
    with pytest.raises(AttributeError, match=r"no sparse tensors: .*xg\.unsorted_segment_sum\("
                                             r"values\[:, None\] \* h\[cols\], rows, n\)"):
        getattr(xg, name)
    rows, cols = IDS, np.array([1, 0, 4, 2, 3, 3, 0])            # 7 entries of a 5x5 matrix
    values, h = R.random(7), R.standard_normal((5, 4))
    got, got_grads = _xg_value_and_grads(
        lambda v, m: xg.unsorted_segment_sum(v[:, None] * m[xg.asarray(cols)], xg.asarray(rows),
                                             5), [values, h])
    want, want_grads = _torch_value_and_grads(
        lambda v, m: torch.sparse.mm(torch.sparse_coo_tensor(np.stack([rows, cols]), v, (5, 5),
                                                             check_invariants=True),
                                     m), [values, h])
    np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-14)
    for g, w in zip(got_grads, want_grads):
        np.testing.assert_allclose(g, w, rtol=1e-13, atol=1e-14)
