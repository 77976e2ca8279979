"""xg.nn.scaled_dot_product_attention against torch.nn.functional.scaled_dot_product_attention
(float64 values and the gradients of query, key, value and a float mask, on numpy and numba),
finite differences, fully masked rows, dropout, xg.function == eager, and bad input."""
from __future__ import annotations

import numpy as np
import pytest

import xpgrad as xg
from conftest import backend_report

torch = pytest.importorskip("torch")
F = torch.nn.functional
sdpa = xg.nn.scaled_dot_product_attention

BACKENDS = ["numpy", "numba"]


def _backend(name):
    row = backend_report().get(name, {"available": False, "reason": "not registered"})
    if not row["available"]:
        pytest.skip(f"{name}: {row['reason']}")
    return name


def _loss_weights(shape, seed=1):
    return np.random.default_rng(seed).standard_normal(shape)


def _xpgrad(arrays, backend, **kwargs):
    """Output and gradients (of every array) of ``sum(out * w)``."""
    xs = [xg.asarray(a, backend=backend) for a in arrays]
    mask = kwargs.pop("attn_mask", None)
    float_mask = mask is not None and mask.dtype == np.float64
    if float_mask:
        mask = xg.asarray(mask, backend=backend)
        xs.append(mask)
    elif mask is not None:
        mask = xg.asarray(mask, backend=backend)
    with xg.GradientTape() as tape:
        tape.watch(xs)
        out = sdpa(*xs[:3], attn_mask=mask, **kwargs)
        loss = xg.sum(out * xg.asarray(_loss_weights(out.shape), backend=backend))
    return out.numpy(), [g.numpy() for g in tape.gradient(loss, xs)]


def _torch(arrays, **kwargs):
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    mask = kwargs.pop("attn_mask", None)
    if mask is not None:
        mask = torch.tensor(mask, requires_grad=mask.dtype == np.float64)
        if mask.requires_grad:
            ts.append(mask)
    out = F.scaled_dot_product_attention(*ts[:3], attn_mask=mask, **kwargs)
    loss = (out * torch.tensor(_loss_weights(tuple(out.shape)))).sum()
    return out.detach().numpy(), [g.numpy() for g in torch.autograd.grad(loss, ts)]


def _qkv(rng, q_shape=(2, 3, 4, 5), k_shape=(2, 3, 6, 5), v_shape=(2, 3, 6, 7)):
    return [rng.standard_normal(s) for s in (q_shape, k_shape, v_shape)]


def _assert_as_torch(arrays, backend, **kwargs):
    got, got_grads = _xpgrad(arrays, backend, **dict(kwargs))
    want, want_grads = _torch(arrays, **dict(kwargs))
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
    assert len(got_grads) == len(want_grads)
    for g, w in zip(got_grads, want_grads):
        np.testing.assert_allclose(g, w, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("case", ["plain", "scale", "causal", "causal-wide", "bool", "float",
                                  "bool-batched", "float-with-inf", "broadcast-batch",
                                  "three-axes", "more-features-than-keys", "gqa"])
def test_values_and_gradients_match_torch(case, backend, rng):
    _backend(backend)
    q, k, v = _qkv(rng)
    kwargs = {}
    if case == "scale":
        kwargs["scale"] = 0.37
    elif case == "causal":
        q, k, v = _qkv(rng, (2, 3, 6, 5))
        kwargs["is_causal"] = True
    elif case == "causal-wide":                     # L != S: top-left aligned
        kwargs["is_causal"] = True
    elif case == "bool":
        kwargs["attn_mask"] = rng.random((4, 6)) < 0.6
        kwargs["attn_mask"][:, 0] = True
    elif case == "float":
        kwargs["attn_mask"] = rng.standard_normal((4, 6))
    elif case == "bool-batched":
        kwargs["attn_mask"] = rng.random((2, 1, 4, 6)) < 0.5
        kwargs["attn_mask"][..., 2] = True
    elif case == "float-with-inf":
        mask = rng.standard_normal((2, 3, 4, 6))
        mask[rng.random(mask.shape) < 0.3] = -np.inf
        mask[..., 1] = 0.0
        kwargs["attn_mask"] = mask
    elif case == "broadcast-batch":                 # key and value shared by every head
        q, k, v = _qkv(rng, (2, 3, 4, 5), (2, 1, 6, 5), (2, 1, 6, 7))
    elif case == "three-axes":
        q, k, v = _qkv(rng, (3, 4, 5), (3, 6, 5), (3, 6, 2))
    elif case == "more-features-than-keys":        # E > S: the scores are scaled, not q
        q, k, v = _qkv(rng, (2, 4, 9), (2, 3, 9), (2, 3, 2))
        kwargs["scale"] = 0.6
    elif case == "gqa":                             # 6 query heads share 2 key/value heads
        q, k, v = _qkv(rng, (2, 6, 4, 5), (2, 2, 6, 5), (2, 2, 6, 3))
        kwargs.update(enable_gqa=True, is_causal=True)
    _assert_as_torch([q, k, v], backend, **kwargs)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kind", ["bool", "float"])
def test_a_fully_masked_row_gives_zeros_as_torch(kind, backend, rng):
    """PyTorch 2.x's function gives zeros (and no gradient) for a query that may attend to no
    key; xpgrad does the same, and the other rows' gradients stay finite and equal torch's."""
    _backend(backend)
    q, k, v = _qkv(rng)
    mask = np.ones((4, 6), bool)
    mask[1] = False
    mask[3, :4] = False
    if kind == "float":
        mask = np.where(mask, 0.0, -np.inf)
    got, got_grads = _xpgrad([q, k, v], backend, attn_mask=mask)
    assert not got[..., 1, :].any() and np.isfinite(got).all()
    assert all(np.isfinite(g).all() for g in got_grads)
    assert not got_grads[0][..., 1, :].any()
    _assert_as_torch([q, k, v], backend, attn_mask=mask)


def test_gradients_match_finite_differences(rng):
    q, k, v = (xg.asarray(a) for a in _qkv(rng, (2, 3, 4), (2, 5, 4), (2, 5, 3)))
    mask = xg.asarray(rng.random((3, 5)) < 0.7)
    fmask = xg.asarray(rng.standard_normal((3, 5)))
    xg.testing.check_grads(lambda q, k, v: sdpa(q, k, v, attn_mask=mask), [q, k, v])
    xg.testing.check_grads(lambda q, k, v, m: sdpa(q, k, v, attn_mask=m), [q, k, v, fmask])
    xg.testing.check_grads(lambda q, k, v: sdpa(q, k, v, is_causal=True, scale=0.3), [q, k, v],
                           order=2)


def test_zero_features_average_the_values_as_torch(rng):
    """E = 0: every score is 0 (the default scale does not divide by zero), as PyTorch's."""
    v = rng.standard_normal((3, 4))
    got = sdpa(np.ones((2, 0)), np.ones((3, 0)), v).numpy()
    np.testing.assert_allclose(got, np.broadcast_to(v.mean(axis=0), (2, 4)), rtol=1e-14)


def test_float32_follows_float64(rng):
    arrays = _qkv(rng)
    got = sdpa(*(xg.asarray(a, dtype="float32") for a in arrays), is_causal=True)
    assert got.dtype == xg.float32
    np.testing.assert_allclose(got.numpy(), sdpa(*arrays, is_causal=True).numpy(), rtol=1e-4,
                               atol=1e-5)


def test_dropout_drops_weights_and_rescales_the_rest(rng):
    """With value the identity the output is the weights: each is dropped with probability p
    and the others scaled by 1 / (1 - p); dropout_p=0 is no dropout; one seed, one mask."""
    q, k = rng.standard_normal((4, 50, 8)), rng.standard_normal((4, 50, 8))
    eye = np.eye(50)
    plain = sdpa(q, k, eye).numpy()
    np.testing.assert_allclose(sdpa(q, k, eye, dropout_p=0.0, rng=3).numpy(), plain)
    p = 0.3
    dropped = sdpa(q, k, eye, dropout_p=p, rng=3).numpy()
    kept = dropped != 0
    assert abs(kept.mean() - (1 - p)) < 0.02          # 10000 draws: 4.7 standard deviations
    np.testing.assert_allclose(dropped[kept], plain[kept] / (1 - p), rtol=1e-12)
    np.testing.assert_array_equal(sdpa(q, k, eye, dropout_p=p, rng=3).numpy(), dropped)
    assert not np.array_equal(sdpa(q, k, eye, dropout_p=p, rng=4).numpy(), dropped)


def test_function_replays_as_eager(rng):
    q, k, v = (xg.asarray(a) for a in _qkv(rng))
    mask = xg.asarray(rng.random((4, 6)) < 0.5)

    def step(q, k, v, mask):
        with xg.GradientTape() as tape:
            tape.watch([q, k, v])
            out = sdpa(q, k, v, attn_mask=mask)
            loss = xg.sum(out ** 2)
        return (out, *tape.gradient(loss, [q, k, v]))

    compiled = xg.function(step)
    for _ in range(2):              # the trace, then a replay
        for got, want in zip(compiled(q, k, v, mask), step(q, k, v, mask)):
            np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-12, atol=1e-14)
    other = xg.asarray(rng.random((4, 6)) < 0.5)    # another mask: the replay reads it
    for got, want in zip(compiled(q, k, v, other), step(q, k, v, other)):
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("args, kwargs, error, words", [
    ((np.ones((2, 3)), np.ones((2, 4)), np.ones((2, 3))), {}, ValueError, "key's last axis"),
    ((np.ones((2, 3)), np.ones((2, 3)), np.ones((4, 3))), {}, ValueError, "value must have"),
    ((np.ones((2, 2, 3)), np.ones((3, 2, 3)), np.ones((3, 2, 3))), {}, ValueError,
     "do not broadcast"),
    ((np.ones(3), np.ones((2, 3)), np.ones((2, 3))), {}, ValueError, "query must have shape"),
    ((np.ones((2, 3)), np.ones((2, 3), np.float32), np.ones((2, 3))), {}, TypeError,
     "key is float32"),
    ((np.ones((2, 3), int), np.ones((2, 3)), np.ones((2, 3))), {}, TypeError, "query must"),
    ((np.ones((2, 3)),) * 3, {"attn_mask": np.ones((2, 2), int)}, TypeError, "attn_mask"),
    ((np.ones((2, 3), np.float32),) * 3, {"attn_mask": xg.asarray(np.ones((2, 2)))},
     TypeError, "attn_mask must be bool"),
    ((np.ones((2, 3)),) * 3, {"attn_mask": np.ones((3, 2), bool)}, ValueError, "attn_mask"),
    ((np.ones((2, 3)),) * 3, {"attn_mask": np.ones((2, 2), bool), "is_causal": True},
     ValueError, "not both"),
    ((np.ones((2, 3)),) * 3, {"is_causal": 1}, TypeError, "is_causal"),
    ((np.ones((2, 3)),) * 3, {"dropout_p": 1.5}, ValueError, "dropout_p"),
    ((np.ones((2, 3)),) * 3, {"scale": float("nan")}, ValueError, "scale"),
    ((np.ones((2, 3)),) * 3, {"rng": np.random.default_rng(0)}, TypeError, "rng"),
    ((np.ones((2, 3)),) * 3, {"enable_gqa": True}, ValueError, "enable_gqa"),
    ((None, np.ones((2, 3)), np.ones((2, 3))), {}, TypeError, "query must be an array, got None"),
    ((np.ones((2, 3)),) * 3, {"attn_mask": "abc"}, TypeError, "attn_mask must be an array"),
    ((np.ones((3, 2, 3)), np.ones((2, 2, 3)), np.ones((2, 2, 3))), {"enable_gqa": True},
     ValueError, "divides"),
    ((np.ones((4, 2, 3)), np.ones((2, 2, 3)), np.ones((1, 2, 3))), {"enable_gqa": True},
     ValueError, "one head count"),
])
def test_bad_input_names_the_argument(args, kwargs, error, words):
    with pytest.raises(error, match=words) as info:
        sdpa(*args, **kwargs)
    assert "scaled_dot_product_attention" in str(info.value)
