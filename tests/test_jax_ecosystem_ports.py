"""JAX-ecosystem training programs (optax optimizers over params pytrees, flax/equinox-style
models) ported to xpgrad as a JAX user writes them: ``opt.init`` / ``opt.update`` /
``xg.optim.apply_updates``, ``xg.value_and_grad``, ``xg.scan``, ``xg.vmap(xg.grad(...))``.

optax, flax and equinox are not project dependencies, so each port is checked against
something independent of them: PyTorch's optimizers on the same model, finite differences, or
a closed form (optax's documented schedule formulas among them). The full-size programs, run
against optax/flax/equinox themselves, agreed to 1e-15 in float64 (see docs/porting.md, "Coming from
optax / flax / equinox").
"""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import xpgrad as xg
from xpgrad.testing import check_grads

R = np.random.default_rng(31)


def _xg_tree(tree):
    return xg.tree_map(lambda a: xg.asarray(a, dtype=xg.float64), tree)


def _torch_tree(tree):
    return {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in tree.items()}


def _assert_close(xg_tree, torch_tree, rtol=1e-12, atol=1e-13):
    for k, t in torch_tree.items():
        np.testing.assert_allclose(xg_tree[k].numpy(), t.detach().numpy(), rtol=rtol, atol=atol,
                                   err_msg=k)


def _train(opt, loss, params, steps, *data):
    """The optax loop, written with xpgrad's names."""
    state = opt.init(params)
    for _ in range(steps):
        value, grads = xg.value_and_grad(loss)(params, *data)
        updates, state = opt.update(grads, state, params)
        params = xg.optim.apply_updates(params, updates)
    return params, value


# -- a. an MLP classifier over a dict of params, optax.adam --------------------------------------

MLP = {"w0": R.normal(size=(6, 10)) / 2.5, "b0": np.zeros(10), "w1": R.normal(size=(10, 3)) / 3,
       "b1": np.zeros(3)}
X_MLP = R.normal(size=(20, 6))
Y_MLP = R.integers(0, 3, size=20)


def mlp_loss(ns, log_softmax, relu, take_along_axis):
    def loss(p, x, y):
        logp = log_softmax(relu(x @ p["w0"] + p["b0"]) @ p["w1"] + p["b1"])
        return -ns.mean(take_along_axis(logp, y[:, None], axis=1))
    return loss


def test_mlp_loss_gradient_matches_finite_differences():
    loss = mlp_loss(xg, xg.nn.log_softmax, xg.nn.relu, xg.take_along_axis)
    x, y = xg.asarray(X_MLP), xg.asarray(Y_MLP)
    names = list(MLP)
    check_grads(lambda *leaves: loss(dict(zip(names, leaves)), x, y), [MLP[k] for k in names])


def test_mlp_trained_with_functional_adam_matches_torch_adam():
    loss = mlp_loss(xg, xg.nn.log_softmax, xg.nn.relu, xg.take_along_axis)
    got, _ = _train(xg.optim.Adam(1e-2), loss, _xg_tree(MLP), 8, xg.asarray(X_MLP),
                    xg.asarray(Y_MLP))
    params = _torch_tree(MLP)
    opt = torch.optim.Adam(params.values(), lr=1e-2)
    torch_loss = mlp_loss(torch, lambda z: torch.log_softmax(z, -1), torch.relu,
                          lambda a, i, axis: torch.take_along_dim(a, i, dim=axis))
    x, y = torch.tensor(X_MLP), torch.tensor(Y_MLP)
    for _ in range(8):
        opt.zero_grad()
        torch_loss(params, x, y).backward()
        opt.step()
    _assert_close(got, params)


# -- b. optax.chain(clip_by_global_norm(1.0), adamw(warmup_cosine_decay_schedule)) --------------

def optax_warmup_cosine(step, init, peak, warmup, decay_steps, end):
    """optax's documented warmup_cosine_decay_schedule: linear from init to peak over warmup
    steps, then a cosine from peak to end over the remaining decay_steps - warmup."""
    if step < warmup:
        return init + (peak - init) * step / warmup
    t = min(step - warmup, decay_steps - warmup) / (decay_steps - warmup)
    return end + (peak - end) * 0.5 * (1 + math.cos(math.pi * t))


def _warmup_cosine():
    """The hint's translation of optax.warmup_cosine_decay_schedule(0.0, 0.05, 3, 12, 1e-3)."""
    return xg.optim.CosineDecay(0.0, 12 - 3, alpha=1e-3 / 0.05, warmup_target=0.05,
                                warmup_steps=3)


def test_warmup_cosine_translation_has_optaxs_values():
    schedule = _warmup_cosine()
    for step in range(20):
        assert schedule(step) == pytest.approx(optax_warmup_cosine(step, 0.0, 0.05, 3, 12, 1e-3),
                                               rel=1e-13, abs=1e-16)


REG = {"w1": R.normal(size=(5, 8)) / 2, "b1": np.zeros(8), "w2": R.normal(size=(8, 1)) / 3,
       "b2": np.zeros(1)}
X_REG = R.normal(size=(30, 5))
Y_REG = 3.0 * np.sin(X_REG[:, :1])


def reg_loss(ns):
    def loss(p, x, y):
        return ns.mean((ns.tanh(x @ p["w1"] + p["b1"]) @ p["w2"] + p["b2"] - y) ** 2)
    return loss


def test_clipped_adamw_with_warmup_cosine_matches_torch():
    """torch.optim.AdamW with the global norm clipped as optax does (g * c / max(norm, c),
    no epsilon) and the rate set from optax's formula before each step."""
    opt = xg.optim.AdamW(_warmup_cosine(), weight_decay=1e-4, global_clipnorm=1.0)
    got, _ = _train(opt, reg_loss(xg), _xg_tree(REG), 15, xg.asarray(X_REG), xg.asarray(Y_REG))
    params = _torch_tree(REG)
    topt = torch.optim.AdamW(params.values(), lr=0.0, weight_decay=1e-4)
    x, y = torch.tensor(X_REG), torch.tensor(Y_REG)
    clipped = 0
    for step in range(15):
        topt.zero_grad()
        reg_loss(torch)(params, x, y).backward()
        norm = math.sqrt(sum(float((p.grad ** 2).sum()) for p in params.values()))
        clipped += norm > 1.0
        for p in params.values():
            p.grad *= 1.0 / max(norm, 1.0)
        topt.param_groups[0]["lr"] = optax_warmup_cosine(step, 0.0, 0.05, 3, 12, 1e-3)
        topt.step()
    assert clipped >= 3                      # the clipping was exercised
    _assert_close(got, params)


# -- e. an RNN over xg.scan with a carry, functional Adam, compiled --------------------------------

T, B, D, H = 7, 4, 3, 5
RNN = {"wx": R.normal(size=(D, H)) / 2, "wh": R.normal(size=(H, H)) / 2.5, "b": np.zeros(H),
       "wo": R.normal(size=(H, 1)) / 2}
XS = R.normal(size=(T, B, D))
Y_RNN = XS[:, :, :1].sum(0)


def rnn_loss(p, xs, y):
    def cell(h, x):
        h = xg.tanh(x @ p["wx"] + h @ p["wh"] + p["b"])
        return h, xg.sum(h)
    h_last, per_step = xg.scan(cell, xg.zeros((xs.shape[1], H), dtype=xs.dtype), xs)
    return xg.mean((h_last @ p["wo"] - y) ** 2) + 1e-2 * xg.mean(per_step)


def torch_rnn_loss(p, xs, y):
    h, outs = torch.zeros(xs.shape[1], H, dtype=xs.dtype), []
    for x in xs:
        h = torch.tanh(x @ p["wx"] + h @ p["wh"] + p["b"])
        outs.append(h.sum())
    return ((h @ p["wo"] - y) ** 2).mean() + 1e-2 * torch.stack(outs).mean()


def test_scan_rnn_gradient_matches_finite_differences():
    xs, y = xg.asarray(XS), xg.asarray(Y_RNN)
    names = list(RNN)
    check_grads(lambda *leaves: rnn_loss(dict(zip(names, leaves)), xs, y),
                [RNN[k] for k in names])


def test_compiled_scan_rnn_with_functional_adam_matches_torch():
    opt = xg.optim.Adam(3e-2)

    @xg.function
    def step(params, state, xs, y):
        value, grads = xg.value_and_grad(rnn_loss)(params, xs, y)
        updates, state = opt.update(grads, state, params)
        return xg.optim.apply_updates(params, updates), state, value

    params = _xg_tree(RNN)
    state = opt.init(params)
    xs, y = xg.asarray(XS), xg.asarray(Y_RNN)
    for _ in range(6):
        params, state, _ = step(params, state, xs, y)
    assert step.trace_count == 1
    tparams = _torch_tree(RNN)
    topt = torch.optim.Adam(tparams.values(), lr=3e-2)
    for _ in range(6):
        topt.zero_grad()
        torch_rnn_loss(tparams, torch.tensor(XS), torch.tensor(Y_RNN)).backward()
        topt.step()
    _assert_close(params, tparams)


# -- f. per-example gradients, clipped and averaged, then SGD --------------------------------------

SOFTMAX = {"w": R.normal(size=(4, 3)) / 2, "b": np.zeros(3)}
X_PE = R.normal(size=(9, 4))
Y_PE = R.integers(0, 3, size=9)
CLIP = 2.0


def private_grad(p, x, y):
    def example_loss(p, x, y):
        return -xg.nn.log_softmax(x @ p["w"] + p["b"])[y]
    per = xg.vmap(xg.grad(example_loss), in_axes=(None, 0, 0))(p, x, y)
    norms = xg.sqrt(xg.sum(per["w"].reshape(per["w"].shape[0], -1) ** 2, axis=1)
                    + xg.sum(per["b"] ** 2, axis=1))
    scale = xg.minimum(1.0, CLIP / norms)
    return {"w": xg.mean(per["w"] * scale[:, None, None], axis=0),
            "b": xg.mean(per["b"] * scale[:, None], axis=0)}


def closed_form_private_grad(w, b, x, y):
    """Softmax regression: example i's gradient is x_i (softmax_i - onehot_i)^T, and b's
    softmax_i - onehot_i."""
    z = x @ w + b
    s = np.exp(z - z.max(1, keepdims=True))
    s /= s.sum(1, keepdims=True)
    s[np.arange(len(y)), y] -= 1.0
    gw = x[:, :, None] * s[:, None, :]
    norms = np.sqrt((gw ** 2).sum((1, 2)) + (s ** 2).sum(1))
    scale = np.minimum(1.0, CLIP / norms)
    return (gw * scale[:, None, None]).mean(0), (s * scale[:, None]).mean(0), scale


def test_clipped_per_example_sgd_matches_the_closed_form():
    opt = xg.optim.SGD(0.3, momentum=0.5)
    params = _xg_tree(SOFTMAX)
    state = opt.init(params)
    x, y = xg.asarray(X_PE), xg.asarray(Y_PE)
    w, b = SOFTMAX["w"].copy(), SOFTMAX["b"].copy()
    vw, vb = np.zeros_like(w), np.zeros_like(b)
    clipped = 0
    for _ in range(4):
        updates, state = opt.update(private_grad(params, x, y), state, params)
        params = xg.optim.apply_updates(params, updates)
        gw, gb, scale = closed_form_private_grad(w, b, X_PE, Y_PE)
        clipped += np.sum(scale < 1)
        vw, vb = 0.5 * vw + gw, 0.5 * vb + gb
        w, b = w - 0.3 * vw, b - 0.3 * vb
    assert 0 < clipped < 4 * len(Y_PE)          # some examples clipped, some not
    np.testing.assert_allclose(params["w"].numpy(), w, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(params["b"].numpy(), b, rtol=1e-12, atol=1e-14)


# -- optax's names on xg.optim ---------------------------------------------------------------------

@pytest.mark.parametrize("name, says", [
    ("chain", "AdamW(lr, global_clipnorm=c)"), ("clip_by_global_norm", "global_clipnorm="),
    ("adamw", "weight_decay defaults to 1e-4"), ("OptState", "OptimizerState"),
    ("warmup_cosine_decay_schedule", "CosineDecay(init_value, decay_steps - warmup_steps"),
    ("sgd", "xg.optim.SGD(learning_rate, ...)"), ("clip", "clipvalue=max_delta")])
def test_optax_names_point_at_xpgrads(name, says):
    assert not hasattr(xg.optim, name)
    with pytest.raises(AttributeError, match=r"no attribute '%s': .*" % name) as info:
        getattr(xg.optim, name)
    assert says in str(info.value)


def test_optax_schedule_hints_give_optaxs_documented_values():
    """Each translation the hints give, against optax's documented formula."""
    linear = xg.optim.PolynomialDecay(0.1, 10, end_learning_rate=0.01, power=1.0)
    poly = xg.optim.PolynomialDecay(0.1, 10, end_learning_rate=0.01, power=2.0)
    expo = xg.optim.ExponentialDecay(0.1, 4, 0.5)
    cosine = xg.optim.CosineDecay(0.1, 10, alpha=0.2)
    # optax.piecewise_constant_schedule(0.1, {3: 0.5, 6: 0.1}): the scale applies from the
    # boundary step on
    piecewise = xg.optim.PiecewiseConstant([3 - 1, 6 - 1], [0.1, 0.05, 0.005])
    for t in range(14):
        frac = min(t, 10) / 10
        assert linear(t) == pytest.approx(0.1 + (0.01 - 0.1) * frac, rel=1e-13)
        assert poly(t) == pytest.approx((0.1 - 0.01) * (1 - frac) ** 2 + 0.01, rel=1e-13)
        assert expo(t) == pytest.approx(0.1 * 0.5 ** (t / 4), rel=1e-13)
        assert cosine(t) == pytest.approx(
            0.1 * ((1 - 0.2) * 0.5 * (1 + math.cos(math.pi * frac)) + 0.2), rel=1e-13)
        assert piecewise(t) == pytest.approx(0.1 * (0.5 if t >= 3 else 1) * (0.1 if t >= 6
                                                                              else 1))
