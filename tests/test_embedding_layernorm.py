"""Embedding and LayerNorm: values and gradients against PyTorch (float64, the same weights in
both), finite differences, numba == numpy, xg.function replay == eager, and bad input."""
import numpy as np
import pytest

import xpgrad as xg
from conftest import backend_report
from xpgrad import nn
from xpgrad.accumulate import Scatter
from xpgrad.primitive import PRIMITIVES


def _torch():
    return pytest.importorskip("torch", reason="PyTorch is not installed: no comparison")


def _need_numba():
    row = backend_report().get("numba", {"available": False, "reason": "not registered"})
    if not row["available"]:
        pytest.skip(f"numba: {row['reason']}")


# -- Embedding ------------------------------------------------------------------------------------
@pytest.mark.parametrize("padding_idx", [None, 2, -1])
def test_embedding_matches_torch(padding_idx, rng):
    torch = _torch()
    ref = torch.nn.Embedding(7, 4, padding_idx=padding_idx).double()
    ours = nn.Embedding(7, 4, padding_idx=padding_idx, rng=0, dtype="float64")
    ours.load_torch_state_dict(ref.state_dict())
    ids = np.array([[2, 0, 6, 2], [6, 6, 1, 3], [5, 2, 2, 0]])     # repeats, padding, both ends
    ct = rng.standard_normal((3, 4, 4))
    with xg.GradientTape() as tape:
        out = ours(xg.asarray(ids))
        loss = xg.sum(out * ct)
    grad = tape.gradient(loss, ours.weight)
    tout = ref(torch.tensor(ids))
    (tout * torch.tensor(ct)).sum().backward()
    np.testing.assert_array_equal(out.numpy(), tout.detach().numpy())
    np.testing.assert_allclose(grad.numpy(), ref.weight.grad.numpy(), rtol=1e-14, atol=1e-14)
    if padding_idx is not None:
        assert not grad.numpy()[padding_idx].any()


def test_embedding_init_as_torch():
    emb = nn.Embedding(2000, 16, padding_idx=3, rng=0)
    w = emb.weight.numpy()
    assert w.dtype == np.float32 and w.shape == (2000, 16)
    assert not w[3].any()
    rest = np.delete(w, 3, axis=0)
    assert abs(rest.mean()) < 0.02 and abs(rest.std() - 1.0) < 0.02     # N(0, 1)
    assert list(emb.named_variables()) == ["embedding/weight"]


def test_embedding_gradients_match_finite_differences(rng):
    """(With a padding_idx the gradient is not the derivative: compared with PyTorch above.)"""
    ids = xg.asarray([[1, 3, 1], [0, 1, 2]])
    xg.testing.check_grads(lambda w: nn.embedding(ids, w) ** 2,
                           [xg.asarray(rng.standard_normal((4, 3)))], order=2)


def test_embedding_higher_order_masks_the_padding_row(rng):
    """An outer tape differentiates the weight's gradient (the scatter primitive): the
    gradient of ``sum(dL/dw * v)`` with respect to the output's cotangent is ``v[ids]``, zero
    at the padding positions."""
    w = xg.asarray(rng.standard_normal((4, 3)))
    ids = xg.asarray([[1, 3, 1], [0, 1, 2]])
    ct = xg.asarray(rng.standard_normal((2, 3, 3)))
    v = rng.standard_normal((4, 3))
    with xg.GradientTape() as outer:
        outer.watch(ct)
        with xg.GradientTape() as inner:
            inner.watch([w, ct])     # (the rules' residuals are linked by the inner tape's keys)
            loss = xg.sum(nn.embedding(ids, w, padding_idx=1) * ct)
        gw = inner.gradient(loss, w)
        inner_product = xg.sum(gw * xg.asarray(v))
    want = v[ids.numpy()]
    want[ids.numpy() == 1] = 0.0
    np.testing.assert_allclose(outer.gradient(inner_product, ct).numpy(), want, rtol=1e-14)


def test_embedding_gradient_is_a_sparse_scatter(rng):
    """The rule hands the tape the rows to add at ``ids``, not a dense or one-hot product."""
    w = rng.standard_normal((1000, 3))
    ids = np.array([5, 7, 5])
    rows = rng.standard_normal((3, 3))
    be = xg.get_backend("numpy")
    g = PRIMITIVES["embedding"].vjp(be.xp, rows, None, (True,), (w,),
                                    {"ids": ids, "shape": (3,), "padding_idx": 7,
                                     "backend": be})[0]
    assert type(g) is Scatter and g.values.shape == (3, 3) and g.shape == (1000, 3)
    dense = g.dense(np)
    np.testing.assert_allclose(dense[5], rows[0] + rows[2])
    assert not dense[7].any() and np.count_nonzero(dense.any(axis=1)) == 1


def test_embedding_numba_agrees_with_numpy(rng):
    _need_numba()
    ids = rng.integers(0, 50, size=(8, 5))
    ct = rng.standard_normal((8, 5, 6)).astype(np.float32)
    results = []
    for be in ("numpy", "numba"):
        emb = nn.Embedding(50, 6, padding_idx=0, rng=xg.random.default_rng(0, backend=be),
                           backend=be)
        with xg.GradientTape() as tape:
            loss = xg.sum(emb(xg.asarray(ids, backend=be)) * xg.asarray(ct, backend=be))
        results.append((loss.numpy(), tape.gradient(loss, emb.weight).numpy()))
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("case", ["rows", "rows-ellipsis", "rows-slices", "int32-ids",
                                  "3-d", "negative-ids", "int-target", "column-key"])
def test_numba_index_add_equals_numpy_add_at(case, rng):
    """The numba backend adds whole rows in a compiled loop (the embedding's and take's
    gradients); what it does not take (negative ids, other dtypes or keys) goes to
    np.add.at: the same numbers either way, repeated ids accumulating."""
    _need_numba()
    from xpgrad.backends.numba._scatter import add_rows

    shape = (6, 2, 3) if case == "3-d" else (6, 4)
    dtype = np.int64 if case == "int-target" else np.float64
    ids = rng.integers(-6 if case == "negative-ids" else 0, 6, size=9)
    ids = ids.astype(np.int32 if case == "int32-ids" else np.int64)
    key = {"rows-ellipsis": (ids, Ellipsis), "rows-slices": (ids, slice(None)),
           "column-key": (slice(None), ids[:3] % 4)}.get(case, (ids,))
    values = rng.standard_normal(np.zeros(shape)[key].shape).round(2).astype(dtype)
    want = np.zeros(shape, dtype)
    np.add.at(want, key, values)
    got = np.zeros(shape, dtype)
    xg.get_backend("numba").index_add(got, key, values)
    np.testing.assert_allclose(got, want, rtol=1e-15)
    fast = case in ("rows", "rows-ellipsis", "rows-slices", "int32-ids", "3-d")
    assert add_rows(np.zeros(shape, dtype), key, values) is fast


def test_embedding_under_function_replays_as_eager(rng):
    emb = nn.Embedding(20, 4, padding_idx=0, rng=0, dtype="float64")
    head = nn.Linear(4, 3, rng=1, dtype="float64")
    variables = emb.trainable_variables + head.trainable_variables

    def step(ids, labels):
        with xg.GradientTape() as tape:
            logits = head(xg.mean(emb(ids), axis=1))
            loss = xg.losses.softmax_cross_entropy(logits, labels)
        return loss, tape.gradient(loss, variables)

    compiled = xg.function(step)
    for k in range(4):                                       # trace, then replays
        ids = xg.asarray(rng.integers(0, 20, size=(5, 6)))
        labels = xg.asarray(rng.integers(0, 3, size=5))
        got, want = compiled(ids, labels), step(ids, labels)
        np.testing.assert_allclose(got[0].numpy(), want[0].numpy(), rtol=1e-13)
        for a, b in zip(got[1], want[1]):
            np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-12, atol=1e-15)
    with pytest.raises(IndexError, match=r"ids must lie in \[0, num_embeddings\) = \[0, 20\), "
                                         r"got id 20"):
        compiled(xg.asarray(np.full((5, 6), 20)), labels)


def test_embedding_bad_input():
    emb = nn.Embedding(5, 2, rng=0)
    with pytest.raises(TypeError, match=r"Embedding: ids must be integers .* got float32"):
        emb(xg.asarray([1.0, 2.0]))
    with pytest.raises(TypeError, match="Embedding: ids must be integers .* got bool"):
        emb(xg.asarray([True]))
    with pytest.raises(IndexError, match=r"ids must lie in \[0, num_embeddings\) = \[0, 5\), "
                                         "got id 5"):
        emb(xg.asarray([[0, 5]]))
    with pytest.raises(IndexError, match="got id -1"):      # PyTorch refuses negative ids too
        emb(xg.asarray([-1]))
    with pytest.raises(IndexError, match="got id 7"):
        emb([1, 7])
    with pytest.raises(ValueError, match=r"padding_idx must be within num_embeddings \(5\): "
                                         r"in \[-5, 5\), got 5"):
        nn.Embedding(5, 2, padding_idx=5)
    with pytest.raises(TypeError, match="padding_idx must be an integer or None, got float"):
        nn.Embedding(5, 2, padding_idx=1.0)
    with pytest.raises(ValueError, match="Embedding: num_embeddings must be a non-negative integer"):
        nn.Embedding(-1, 2)
    with pytest.raises(TypeError, match="Embedding: embedding_dim must be a non-negative integer"):
        nn.Embedding(5, 2.5)
    with pytest.raises(TypeError, match="Embedding: dtype must be float32 or float64"):
        nn.Embedding(5, 2, dtype="int64")
    with pytest.raises(ValueError, match=r"embedding: weight must be 2-D"):
        nn.embedding(xg.asarray([0]), xg.ones(3))
    assert emb(xg.asarray(np.zeros((0, 3), dtype=np.int64))).shape == (0, 3, 2)


def test_embedding_torch_state_dict_round_trip():
    torch = _torch()
    ours = nn.Embedding(6, 3, rng=0)
    ref = torch.nn.Embedding(6, 3)
    ref.load_state_dict({k: torch.tensor(v) for k, v in ours.torch_state_dict().items()})
    ids = np.array([[0, 5, 3]])
    np.testing.assert_array_equal(ours(xg.asarray(ids)).numpy(),
                                  ref(torch.tensor(ids)).detach().numpy())
    with pytest.raises(ValueError, match=r"'weight' has shape \(6, 4\), this Embedding needs "
                                         r"\(6, 3\)"):
        ours.load_torch_state_dict({"weight": np.zeros((6, 4))})
    with pytest.raises(ValueError, match=r"missing keys \['weight'\]"):
        ours.load_torch_state_dict({})


# -- LayerNorm ------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape, normalized, affine, bias", [
    ((4, 6), 6, True, True), ((2, 3, 5), (3, 5), True, True), ((3, 7), (7,), True, False),
    ((2, 3, 4), 4, False, False), ((5,), 5, True, True)])
def test_layer_norm_matches_torch(shape, normalized, affine, bias, rng):
    torch = _torch()
    ref = torch.nn.LayerNorm(normalized, eps=1e-3, elementwise_affine=affine, bias=bias).double()
    with torch.no_grad():                     # weights away from their ones / zeros init
        for p in ref.parameters():
            p.copy_(torch.tensor(rng.standard_normal(tuple(p.shape))))
    ours = nn.LayerNorm(normalized, eps=1e-3, elementwise_affine=affine, bias=bias,
                        dtype="float64")
    ours.load_torch_state_dict(ref.state_dict())
    x = rng.standard_normal(shape) * 3 + 1
    ct = rng.standard_normal(shape)
    xt = xg.asarray(x)
    with xg.GradientTape() as tape:
        tape.watch(xt)
        out = ours(xt)
        loss = xg.sum(out * ct)
    grads = tape.gradient(loss, [xt] + ours.trainable_variables)
    tx = torch.tensor(x, requires_grad=True)
    tout = ref(tx)
    (tout * torch.tensor(ct)).sum().backward()
    np.testing.assert_allclose(out.numpy(), tout.detach().numpy(), rtol=1e-12, atol=1e-13)
    want = [tx.grad] + [p.grad for p in ref.parameters()]
    assert len(grads) == len(want)
    for a, b in zip(grads, want):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-10, atol=1e-12)


def test_layer_norm_function_matches_torch_functional(rng):
    torch = _torch()
    x, w, b = rng.standard_normal((3, 4, 5)), rng.standard_normal(5), rng.standard_normal(5)
    for weight, bias in ((None, None), (w, None), (None, b), (w, b)):
        ours = nn.layer_norm(xg.asarray(x), 5, None if weight is None else xg.asarray(weight),
                             None if bias is None else xg.asarray(bias), eps=1e-2)
        ref = torch.nn.functional.layer_norm(
            torch.tensor(x), (5,), None if weight is None else torch.tensor(weight),
            None if bias is None else torch.tensor(bias), eps=1e-2)
        np.testing.assert_allclose(ours.numpy(), ref.numpy(), rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("which", ["x", "x, weight", "x, bias", "x, weight, bias"])
def test_layer_norm_gradients_match_finite_differences(which, rng):
    names = which.split(", ")
    shapes = {"x": (3, 2, 4), "weight": (2, 4), "bias": (2, 4)}
    args = [xg.asarray(rng.standard_normal(shapes[n])) for n in names]

    def f(*values):
        given = dict(zip(names, values))
        return nn.layer_norm(given["x"], (2, 4), given.get("weight"), given.get("bias"),
                             eps=1e-3)

    xg.testing.check_grads(f, args, order=2)


def test_layer_norm_float32_and_numba_agree_with_numpy(rng):
    _need_numba()
    x = (rng.standard_normal((16, 32)) * 4 + 2).astype(np.float32)
    ct = rng.standard_normal((16, 32)).astype(np.float32)
    results = []
    for be in ("numpy", "numba"):
        norm = nn.LayerNorm(32, backend=be)
        norm.weight.assign(np.linspace(0.5, 1.5, 32))
        xt = xg.asarray(x, backend=be)
        with xg.GradientTape() as tape:
            tape.watch(xt)
            loss = xg.sum(norm(xt) * xg.asarray(ct, backend=be))
        results.append([g.numpy() for g in tape.gradient(loss, [xt] + norm.trainable_variables)])
    x64 = xg.asarray(x.astype(np.float64))
    ref = nn.layer_norm(x64, 32, xg.asarray(np.linspace(0.5, 1.5, 32)))
    with xg.GradientTape() as tape:
        tape.watch(x64)
        loss = xg.sum(nn.layer_norm(x64, 32, xg.asarray(np.linspace(0.5, 1.5, 32))) * ct)
    want = tape.gradient(loss, x64).numpy()
    assert ref.dtype == xg.float64
    for got in results:
        assert got[0].dtype == np.float32
        np.testing.assert_allclose(got[0], want, rtol=1e-4, atol=1e-4)
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("features", [300, 512])
def test_layer_norm_wider_than_the_tapes_small_arrays_differentiates_on_numba(features, rng):
    """A bias of more than 256 entries is not kept by the tape (the rule does not read it): the
    Numba rule got its (shape, dtype) stand-in and raised "inhomogeneous shape" (LayerNorm(512)
    could not train on numba)."""
    _need_numba()
    x = rng.standard_normal((6, features)).astype(np.float32)
    ct = rng.standard_normal((6, features)).astype(np.float32)
    results = []
    for be in ("numpy", "numba"):
        norm = nn.LayerNorm(features, backend=be)
        norm.weight.assign(np.linspace(0.5, 1.5, features))
        xt = xg.asarray(x, backend=be)
        with xg.GradientTape() as tape:
            tape.watch(xt)
            loss = xg.sum(norm(xt) * xg.asarray(ct, backend=be))
        results.append([g.numpy() for g in tape.gradient(loss, [xt] + norm.trainable_variables)])
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


def test_layer_norm_numba_kernel_matches_finite_differences_and_declines(rng):
    """The Numba backend's row kernel: gradients of x, weight and bias, a strided input, a
    broadcast gradient (sum of the output); other dtypes decline to the generic rule."""
    _need_numba()
    kernel = xg.get_backend("numba").kernels["layer_norm"]
    args = [xg.asarray(rng.standard_normal(s), backend="numba") for s in ((3, 2, 5), (2, 5),
                                                                           (2, 5))]
    xg.testing.check_grads(lambda x, w, b: nn.layer_norm(x, (2, 5), w, b), args)
    wide = xg.asarray(rng.standard_normal((4, 9)), backend="numba")
    xg.testing.check_grads(lambda x: nn.layer_norm(x[:, 2:7], 5, eps=0.1), [wide])
    x = args[0]
    with xg.GradientTape() as tape:
        tape.watch(x)
        loss = xg.sum(nn.layer_norm(x, 5, args[1][0]) ** 3)
    with xg.GradientTape() as tape_ref:
        tape_ref.watch(x)
        loss_ref = xg.sum(nn.layer_norm(x.to("numpy"), 5, args[1][0].to("numpy")) ** 3)
    np.testing.assert_allclose(tape.gradient(loss, x).numpy(),
                               tape_ref.gradient(loss_ref, x).numpy(), rtol=1e-12, atol=1e-13)
    assert kernel.forward(np.ones((2, 3), np.float16), k=1, eps=1e-5,
                          affine=(False, False)) is None
    assert kernel.forward(np.ones((2, 3)), np.ones(3, np.float32), k=1, eps=1e-5,
                          affine=(True, False)) is None


def test_layer_norm_under_function_replays_as_eager(rng):
    model = nn.Sequential([nn.Linear(6, 8, rng=0, dtype="float64"),
                           nn.LayerNorm(8, dtype="float64"), nn.Tanh(),
                           nn.Linear(8, 1, rng=1, dtype="float64")])
    variables = model.trainable_variables

    def step(x, y):
        with xg.GradientTape() as tape:
            loss = xg.losses.mse(model(x), y)
        return loss, tape.gradient(loss, variables)

    compiled = xg.function(step)
    for _ in range(3):
        x, y = xg.asarray(rng.standard_normal((5, 6))), xg.asarray(rng.standard_normal((5, 1)))
        got, want = compiled(x, y), step(x, y)
        np.testing.assert_allclose(got[0].numpy(), want[0].numpy(), rtol=1e-13)
        for a, b in zip(got[1], want[1]):
            np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-11, atol=1e-14)


def test_layer_norm_bad_input():
    with pytest.raises(ValueError, match=r"LayerNorm: normalized_shape must be a non-negative "
                                         r"integer or a non-empty tuple of them, got \(\)"):
        nn.LayerNorm(())
    with pytest.raises(ValueError, match="normalized_shape must be .* got -1"):
        nn.LayerNorm(-1)        # 0 is PyTorch's empty layer (tests/test_norm_empty_rows.py)
    with pytest.raises(ValueError, match=r"normalized_shape must be .* got \(3, -1\)"):
        nn.LayerNorm((3, -1))
    with pytest.raises(TypeError, match="normalized_shape must be .* got 2.0"):
        nn.LayerNorm(2.0)
    with pytest.raises(TypeError, match="normalized_shape must be .* got True"):
        nn.LayerNorm(True)
    for eps in (-1e-5, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="LayerNorm: eps must be a finite number >= 0"):
            nn.LayerNorm(3, eps=eps)
    with pytest.raises(TypeError, match="LayerNorm: eps"):
        nn.LayerNorm(3, eps="small")
    with pytest.raises(TypeError, match="LayerNorm: elementwise_affine"):
        nn.LayerNorm(3, elementwise_affine="yes")
    norm = nn.LayerNorm((2, 3))
    with pytest.raises(ValueError, match=r"LayerNorm: the input's last axes must be "
                                         r"normalized_shape = \(2, 3\), got an input of shape "
                                         r"\(4, 3\)"):
        norm(xg.ones((4, 3)))
    with pytest.raises(ValueError, match="got an input of shape \\(3,\\)"):
        norm(xg.ones(3))
    with pytest.raises(TypeError, match="LayerNorm has float32 weights but got a float64 input"):
        norm(xg.ones((2, 3), dtype="float64"))
    with pytest.raises(TypeError, match="LayerNorm needs a floating-point input, got int64"):
        nn.LayerNorm(3, elementwise_affine=False)(xg.asarray([[1, 2, 3]]))
    with pytest.raises(ValueError, match=r"layer_norm: weight must have shape normalized_shape "
                                         r"= \(3,\), got \(2,\)"):
        nn.layer_norm(xg.ones((2, 3)), 3, xg.ones(2))
    with pytest.raises(TypeError, match="layer_norm: bias is float64 but the input is float32"):
        nn.layer_norm(xg.ones((2, 3)), 3, None, xg.ones(3, dtype="float64"))
    with pytest.raises(ValueError, match=r"'bias' has shape \(2,\), this LayerNorm needs"):
        nn.LayerNorm(3).load_torch_state_dict({"weight": np.ones(3), "bias": np.ones(2)})


def test_layer_norm_constant_rows_and_torch_state_dict():
    """A constant row normalizes to 0 (to ``bias``), as in PyTorch; the state dict keys are
    torch's."""
    norm = nn.LayerNorm(4, elementwise_affine=True, bias=False)
    assert list(norm.torch_state_dict()) == ["weight"]
    np.testing.assert_array_equal(norm(xg.full((2, 4), 7.0)).numpy(), np.zeros((2, 4)))
    assert nn.LayerNorm(4, elementwise_affine=False).trainable_variables == []


def test_embedding_layer_norm_gru_step_on_numba_replays_as_eager(rng):
    """The three new layers in one step on the numba backend (its LayerNorm and GRU kernels,
    the embedding's scatter-add) under xg.function: the replays give eager's numbers."""
    _need_numba()
    gen = xg.random.default_rng(0, backend="numba")
    kw = dict(dtype="float64", backend="numba")
    emb = nn.Embedding(20, 6, padding_idx=0, rng=gen, **kw)
    norm = nn.LayerNorm(6, **kw)
    gru = nn.GRU(6, 5, rng=gen, **kw)
    head = nn.Linear(5, 3, rng=gen, **kw)
    variables = [v for m in (emb, norm, gru, head) for v in m.trainable_variables]

    def step(ids, labels):
        with xg.GradientTape() as tape:
            out, _ = gru(norm(emb(ids)))
            loss = xg.losses.softmax_cross_entropy(head(out[:, -1, :]), labels)
        return loss, tape.gradient(loss, variables)

    compiled = xg.function(step)
    for _ in range(3):
        ids = xg.asarray(rng.integers(0, 20, size=(4, 7)), backend="numba")
        labels = xg.asarray(rng.integers(0, 3, size=4), backend="numba")
        got, want = compiled(ids, labels), step(ids, labels)
        np.testing.assert_allclose(got[0].numpy(), want[0].numpy(), rtol=1e-12)
        for a, b in zip(got[1], want[1]):
            np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-11, atol=1e-14)
