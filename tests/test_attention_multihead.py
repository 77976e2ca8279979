"""xg.nn.MultiheadAttention against torch.nn.MultiheadAttention(batch_first=True): float64
values, attention weights and the gradients of the inputs and every weight, on numpy and numba,
for the masks, kdim/vdim, bias, add_bias_kv, add_zero_attn, unbatched input; the torch state
dicts both ways; dropout in train and eval; xg.function == eager; a tiny model trains; bad
input names the argument."""
from __future__ import annotations

import math

import numpy as np
import pytest

import xpgrad as xg
from conftest import backend_report
from docs_text import text_from

torch = pytest.importorskip("torch")
MHA = xg.nn.MultiheadAttention


def _backend(name):
    row = backend_report().get(name, {"available": False, "reason": "not registered"})
    if not row["available"]:
        pytest.skip(f"{name}: {row['reason']}")
    return name


def _pair(E=8, H=2, backend="numpy", **kwargs):
    """A torch layer and an xpgrad one holding its weights (float64)."""
    torch.manual_seed(0)
    theirs = torch.nn.MultiheadAttention(E, H, batch_first=True, dtype=torch.float64, **kwargs)
    ours = MHA(E, H, batch_first=True, dtype="float64", backend=backend, rng=1, **kwargs)
    ours.load_torch_state_dict(theirs.state_dict())
    return theirs, ours


def _inputs(rng, N=2, L=3, S=5, E=8, kdim=None, vdim=None):
    return [rng.standard_normal(s) for s in ((N, L, E), (N, S, kdim or E), (N, S, vdim or E))]


def _as_torch(value):
    return torch.tensor(value) if isinstance(value, np.ndarray) else value


def _grads_in_torch_layout(layer, grads):
    """The weights' gradients under torch's keys: a copy of ``layer`` holding them."""
    copy = MHA(layer.embed_dim, layer.num_heads, kdim=layer.kdim, vdim=layer.vdim,
               bias=layer.q_proj.b is not None, add_bias_kv=layer.bias_k is not None,
               dtype="float64", rng=0)
    for variable, grad in zip(copy.variables, grads):
        variable.assign(grad.to("numpy"))
    return copy.torch_state_dict()


def _compare(theirs, ours, arrays, backend="numpy", **kwargs):
    weights_seed = np.random.default_rng(7)
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    out_t, w_t = theirs(*ts, **{k: _as_torch(v) for k, v in kwargs.items()})
    cot_out = weights_seed.standard_normal(tuple(out_t.shape))
    cot_w = None if w_t is None else weights_seed.standard_normal(tuple(w_t.shape))
    loss_t = (out_t * torch.tensor(cot_out)).sum()
    if w_t is not None:
        loss_t = loss_t + (w_t * torch.tensor(cot_w)).sum()
    params = list(theirs.state_dict(keep_vars=True).items())
    grads_t = torch.autograd.grad(loss_t, ts + [p for _, p in params])

    xs = [xg.asarray(a, backend=backend) for a in arrays]
    masks = {k: xg.asarray(v, backend=backend) if isinstance(v, np.ndarray) else v
             for k, v in kwargs.items()}
    with xg.GradientTape() as tape:
        tape.watch(xs)
        out, w = ours(*xs, **masks)
        loss = xg.sum(out * xg.asarray(cot_out, backend=backend))
        if w is not None:
            loss = loss + xg.sum(w * xg.asarray(cot_w, backend=backend))
    grads = tape.gradient(loss, xs + ours.variables)

    np.testing.assert_allclose(out.numpy(), out_t.detach().numpy(), rtol=1e-10, atol=1e-12)
    assert (w is None) == (w_t is None)
    if w is not None:
        np.testing.assert_allclose(w.numpy(), w_t.detach().numpy(), rtol=1e-10, atol=1e-12)
    for g, g_t in zip(grads[:3], grads_t[:3]):
        np.testing.assert_allclose(g.numpy(), g_t.numpy(), rtol=1e-9, atol=1e-12)
    mine = _grads_in_torch_layout(ours, grads[3:])
    assert list(mine) == [k for k, _ in params]
    for (key, _), g_t in zip(params, grads_t[3:]):
        np.testing.assert_allclose(mine[key], g_t.numpy(), rtol=1e-9, atol=1e-12, err_msg=key)


CONFIGS = {"plain": {}, "no-bias": {"bias": False}, "kdim-vdim": {"kdim": 3, "vdim": 5},
           "bias-kv": {"add_bias_kv": True}, "zero-attn": {"add_zero_attn": True},
           "all": {"add_bias_kv": True, "add_zero_attn": True, "kdim": 3, "vdim": 5}}


@pytest.mark.parametrize("backend", ["numpy", "numba"])
@pytest.mark.parametrize("config", list(CONFIGS))
def test_values_and_every_gradient_match_torch(config, backend, rng):
    _backend(backend)
    kwargs = CONFIGS[config]
    theirs, ours = _pair(backend=backend, **kwargs)
    arrays = _inputs(rng, kdim=kwargs.get("kdim"), vdim=kwargs.get("vdim"))
    kpm = np.zeros((2, 5), bool)
    kpm[1, 3:] = True
    causal = np.triu(np.ones((3, 5), bool), 1)
    _compare(theirs, ours, arrays, backend)
    _compare(theirs, ours, arrays, backend, key_padding_mask=kpm, attn_mask=causal)
    _compare(theirs, ours, arrays, backend, key_padding_mask=kpm, need_weights=False)


@pytest.mark.parametrize("masks", ["padding-bool", "padding-float", "attn-bool", "attn-float",
                                   "attn-per-head", "both-bool", "mixed", "no-average"])
def test_masks_match_torch(masks, rng):
    theirs, ours = _pair()
    arrays = _inputs(rng)
    kpm = rng.random((2, 5)) < 0.4
    kpm[:, 0] = False
    am = rng.random((3, 5)) < 0.4
    am[:, 1] = False
    kwargs = {
        "padding-bool": dict(key_padding_mask=kpm),
        "padding-float": dict(key_padding_mask=rng.standard_normal((2, 5))),
        "attn-bool": dict(attn_mask=am),
        "attn-float": dict(attn_mask=np.where(am, -np.inf, rng.standard_normal((3, 5)))),
        "attn-per-head": dict(attn_mask=rng.standard_normal((4, 3, 5))),
        "both-bool": dict(attn_mask=am, key_padding_mask=kpm),
        "mixed": dict(attn_mask=rng.standard_normal((3, 5)), key_padding_mask=kpm),
        "no-average": dict(attn_mask=am, average_attn_weights=False),
    }[masks]
    with pytest.warns(UserWarning) if masks == "mixed" else _nothing():
        _compare(theirs, ours, arrays, **kwargs)


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


@pytest.mark.usefixtures("numpy_default")
def test_gradients_match_finite_differences(rng):
    """The inputs' gradients through the output and the weights (the weights' own gradients
    are checked against torch's above)."""
    _, ours = _pair(kdim=3, vdim=5, add_bias_kv=True, add_zero_attn=True)
    kpm = xg.asarray(np.array([[0, 0, 0, 1, 1], [0, 0, 0, 0, 0]], bool))
    arrays = [xg.asarray(a) for a in _inputs(rng, kdim=3, vdim=5)]
    xg.testing.check_grads(lambda q, k, v: ours(q, k, v, key_padding_mask=kpm)[0], arrays)
    xg.testing.check_grads(lambda q, k, v: ours(q, k, v, is_causal=True)[1], arrays)


def test_unbatched_input_matches_torch(rng):
    theirs, ours = _pair(kdim=3, vdim=5)
    arrays = [a[0] for a in _inputs(rng, kdim=3, vdim=5)]
    _compare(theirs, ours, arrays, key_padding_mask=np.array([0, 0, 0, 1, 1], bool),
             attn_mask=np.triu(np.ones((3, 5), bool), 1), average_attn_weights=False)
    out, w = ours(*arrays)
    assert out.shape == (3, 8) and w.shape == (3, 5)


def test_is_causal_applies_the_causal_mask(rng):
    """torch takes is_causal as a hint and needs the mask with it; here it applies one."""
    theirs, ours = _pair()
    arrays = _inputs(rng, L=5)
    causal = np.triu(np.ones((5, 5), bool), 1)
    out, w = ours(*arrays, is_causal=True)
    want, want_w = theirs(*map(torch.tensor, arrays), attn_mask=torch.tensor(causal),
                          is_causal=True)
    np.testing.assert_allclose(out.numpy(), want.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(w.numpy(), want_w.detach().numpy(), rtol=1e-10, atol=1e-12)
    assert not np.triu(w.numpy()[0], 1).any()


@pytest.mark.usefixtures("numpy_default")
def test_a_query_with_no_key_gives_zeros(rng):
    _, ours = _pair()
    arrays = _inputs(rng)
    kpm = np.zeros((2, 5), bool)
    kpm[1] = True
    with xg.GradientTape() as tape:
        xs = [xg.asarray(a) for a in arrays]
        tape.watch(xs)
        out, w = ours(*xs, key_padding_mask=kpm)
        grads = tape.gradient(xg.sum(out ** 2), xs + ours.variables)
    assert not w.numpy()[1].any() and np.isfinite(out.numpy()).all()
    # the attention output is zero, so the row is out_proj's bias (zero here)
    np.testing.assert_allclose(out.numpy()[1], np.broadcast_to(ours.out_proj.b.numpy(), (3, 8)))
    assert all(np.isfinite(g.numpy()).all() for g in grads)


def test_state_dicts_both_ways_and_init_as_torch():
    for kwargs in CONFIGS.values():
        theirs = torch.nn.MultiheadAttention(16, 4, batch_first=True, **kwargs)
        ours = MHA(16, 4, rng=0, **kwargs)
        mine = ours.torch_state_dict()
        assert {k: v.shape for k, v in mine.items()} == \
            {k: tuple(v.shape) for k, v in theirs.state_dict().items()}
        theirs.load_state_dict({k: torch.tensor(v) for k, v in mine.items()})
        again = MHA(16, 4, batch_first=True, rng=5, **kwargs)
        again.load_torch_state_dict(theirs.state_dict())
        for a, b in zip(again.variables, ours.variables):
            np.testing.assert_array_equal(a.numpy(), b.numpy())
    ours = MHA(64, 4, rng=0)
    bound = math.sqrt(6 / (4 * 64))                 # xavier_uniform_ of (3E, E)
    w = np.concatenate([ours.q_proj.w.numpy(), ours.k_proj.w.numpy(), ours.v_proj.w.numpy()])
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.95 * bound
    assert np.abs(ours.out_proj.w.numpy()).max() <= 1 / 8
    assert not ours.q_proj.b.numpy().any() and not ours.out_proj.b.numpy().any()


@pytest.mark.parametrize("change, words", [
    (lambda sd: sd.pop("in_proj_bias"), "missing keys"),
    (lambda sd: sd.update(bias_k=np.zeros((1, 1, 8))), "unexpected keys"),
    (lambda sd: sd.update(in_proj_weight=np.zeros((24, 7))), "in_proj_weight"),
])
def test_load_torch_state_dict_refuses_what_does_not_fit(change, words):
    ours = MHA(8, 2, rng=0)
    before = [v.numpy().copy() for v in ours.variables]
    sd = MHA(8, 2, rng=1).torch_state_dict()
    change(sd)
    with pytest.raises(ValueError, match=words):
        ours.load_torch_state_dict(sd)
    for v, b in zip(ours.variables, before):
        np.testing.assert_array_equal(v.numpy(), b)


def test_dropout_in_training_only(rng):
    theirs, ours = _pair(dropout=0.4)
    arrays = _inputs(rng, L=40, S=50)
    ours.eval()
    theirs.eval()
    _compare(theirs, ours, arrays)                  # eval: no dropout, torch's values
    ours.train()
    _, w = ours(*arrays, average_attn_weights=False)
    plain = ours.eval()(*arrays, average_attn_weights=False)[1].numpy()
    kept = w.numpy() != 0
    assert abs(kept.mean() - 0.6) < 0.02            # 8000 weights: 3.7 standard deviations
    np.testing.assert_allclose(w.numpy()[kept], plain[kept] / 0.6, rtol=1e-12)


@pytest.mark.usefixtures("numpy_default")
def test_function_replays_as_eager(rng):
    _, ours = _pair()
    xs = [xg.asarray(a) for a in _inputs(rng)]
    kpm = xg.asarray(rng.random((2, 5)) < 0.3)

    def step(q, k, v, kpm):
        with xg.GradientTape() as tape:
            tape.watch([q, k, v])
            out, w = ours(q, k, v, key_padding_mask=kpm, is_causal=True)
            loss = xg.sum(out ** 2) + xg.sum(w)
        return (out, w, *tape.gradient(loss, [q, k, v] + ours.variables))

    compiled = xg.function(step)
    for _ in range(2):
        for got, want in zip(compiled(*xs, kpm), step(*xs, kpm)):
            np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-12, atol=1e-14)


def test_function_draws_dropout_as_eager_and_follows_train_eval(rng):
    """Two layers from one seed, one called eagerly, one through xg.function: the same draws
    call after call in training mode, and eval() (after a replay) switches dropout off."""
    eager, compiled_layer = (MHA(8, 2, dropout=0.5, dtype="float64", rng=3) for _ in range(2))
    x = xg.asarray(rng.standard_normal((2, 4, 8)))
    compiled = xg.function(lambda x: compiled_layer(x, x, x))
    for _ in range(3):
        for got, want in zip(compiled(x), eager(x, x, x)):
            np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-12, atol=1e-14)
    assert (eager(x, x, x)[1].numpy() == 0).any()
    eager.eval()
    compiled_layer.eval()
    for got, want in zip(compiled(x), eager(x, x, x)):
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-12, atol=1e-14)
    assert not (want.numpy() == 0).any()


def test_a_tiny_model_trains():
    """Embedding -> self-attention -> Linear learns to copy each sequence's first token."""
    rng = xg.random.default_rng(0)
    emb = xg.nn.Embedding(6, 16, rng=rng)
    att = MHA(16, 2, rng=rng)
    head = xg.nn.Linear(16, 6, rng=rng)
    data = np.random.default_rng(0).integers(0, 6, size=(64, 5))
    ids, target = xg.asarray(data), xg.asarray(data[:, 0])
    variables = emb.variables + att.variables + head.variables
    opt = xg.optim.Adam(0.02)
    losses = []
    for _ in range(60):
        with xg.GradientTape() as tape:
            x = emb(ids)
            h, _ = att(x, x, x, need_weights=False)
            logits = head(h[:, -1])
            loss = xg.losses.softmax_cross_entropy(logits, target)
        opt.apply_gradients(zip(tape.gradient(loss, variables), variables))
        losses.append(loss.item())
    assert losses[-1] < 0.2 * losses[0], losses[::10]


@pytest.mark.parametrize("make, error, words", [
    (lambda: MHA(10, 3), ValueError, "embed_dim \\(10\\) must be divisible by num_heads"),
    (lambda: MHA(0, 1), ValueError, "embed_dim"),
    (lambda: MHA(8, 2.0), TypeError, "num_heads"),
    (lambda: MHA(8, 2, dropout=1.5), ValueError, "dropout"),
    (lambda: MHA(8, 2, kdim=0), ValueError, "kdim"),
    (lambda: MHA(8, 2, device="cpu"), TypeError, "device"),
])
def test_bad_construction_names_the_argument(make, error, words):
    with pytest.raises(error, match=words):
        make()


@pytest.mark.parametrize("call, error, words", [
    (lambda m, q, k, v: m(q, k[..., :4], v), ValueError, "key must have shape"),
    (lambda m, q, k, v: m(q[0], k, v), ValueError, "key must have shape"),
    (lambda m, q, k, v: m(q[None], k, v), ValueError, "query must have shape"),
    (lambda m, q, k, v: m(q, k, v[:, :4]), ValueError, "one sequence length"),
    (lambda m, q, k, v: m(q[:1], k, v), ValueError, "one batch size"),
    (lambda m, q, k, v: m(xg.asarray(q, dtype="float32"), k, v), TypeError, "query is float32"),
    (lambda m, q, k, v: m(q, k, v, key_padding_mask=np.zeros((2, 4), bool)), ValueError,
     "key_padding_mask"),
    (lambda m, q, k, v: m(q, k, v, key_padding_mask=np.zeros((2, 5), int)), TypeError,
     r"key_padding_mask must be bool \(True: do not attend\)"),
    (lambda m, q, k, v: m(q, k, v, attn_mask=np.zeros((2, 3, 5), bool)), ValueError,
     "attn_mask"),
    (lambda m, q, k, v: m(q, k, v, attn_mask=np.zeros((1, 3, 5), bool)), ValueError,
     r"attn_mask must have shape \(3, 5\) \(L, S\) or \(4, 3, 5\) \(N \* num_heads"),
    (lambda m, q, k, v: m(q, k, v, key_padding_mask=np.zeros((2, 4), bool)), ValueError,
     r"key_padding_mask must have shape \(2, 5\) \(N, S\), got \(2, 4\)"),
    (lambda m, q, k, v: m(q, k, v, attn_mask=np.zeros((3, 5), complex)), TypeError,
     "attn_mask"),
    (lambda m, q, k, v: m(q, k, v, need_weights=1), TypeError, "need_weights"),
    (lambda m, q, k, v: m(None, k, v), TypeError, "query must be an array, got None"),
    (lambda m, q, k, v: m(q, k, "v"), TypeError, "value must be an array of numbers"),
    (lambda m, q, k, v: m(q[0], k[0], v), ValueError,
     r"value must have shape \(sequence, 8\), unbatched as query"),
    (lambda m, q, k, v: m(q[:, 0, :4], k, v), ValueError,
     r"query must have shape \(batch, sequence, 8\), or \(sequence, 8\) unbatched"),
])
def test_bad_input_names_the_argument(call, error, words, rng):
    _, ours = _pair()
    with pytest.raises(error, match=words) as info:
        call(ours, *_inputs(rng))
    assert "MultiheadAttention" in str(info.value)


def test_readme_example_runs():
    """docs/convolution.md's attention example runs and prints the shapes its comment states."""
    import re
    import subprocess
    import sys

    code = re.search(r"```python\n(.*?)```", text_from("**Attention.**"), re.S).group(1)
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 0, res.stderr[-3000:]
    assert res.stdout.strip() == re.search(r"print\(.*# (.*)\n", code).group(1)
