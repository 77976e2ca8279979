"""The fused Numba kernels of Adam's ``amsgrad=True`` (``amsgrad_update``) and RMSprop's
``centered=True`` (``rmsprop_centered_update``): equal to the generic rules over several steps
(both dtypes, sizes from 1 to past the threading threshold, weight decay both ways), declining
what they do not take, and through ``xg.optim``: training parity with numpy and PyTorch's
``torch.optim.Adam(amsgrad=True)`` / ``AdamW`` / ``RMSprop(centered=True)``.

The CUDA versions of both are tested in tests/test_cuda_emulated.py (cases in
tests/cuda_emu/reference.py) and tests/test_kernel_protocol.py."""
import numpy as np
import pytest

pytest.importorskip("numba", reason="the numba backend needs Numba (pip install 'xpgrad[numba]')")

import xpgrad as xg  # noqa: E402
from cuda_emu.reference import assert_close, mlp_run, optim_states  # noqa: E402
from xpgrad.backends.numba import _config  # noqa: E402
from xpgrad.primitive import PRIMITIVES  # noqa: E402

NB = xg.get_backend("numba")
ADAM = dict(lr=1e-2, beta1=0.9, beta2=0.99, eps=1e-8)
CASES = {   # (update, number of state arrays, keywords; Adam's also get ``step``)
    "amsgrad": ("amsgrad_update", 3, dict(ADAM, weight_decay=0.0, decoupled=False)),
    "amsgrad l2": ("amsgrad_update", 3, dict(ADAM, weight_decay=0.1, decoupled=False)),
    "amsgrad decoupled": ("amsgrad_update", 3, dict(ADAM, weight_decay=0.1, decoupled=True)),
    "centered": ("rmsprop_centered_update", 2, dict(lr=0.01, rho=0.9, momentum=0.0, eps=1e-8)),
    "centered momentum": ("rmsprop_centered_update", 3,
                          dict(lr=0.01, rho=0.9, momentum=0.9, eps=1e-8)),
}
SIZES = [1, 7, 257, 1003]
BIG = _config.PAR_MIN + 3        # threaded without any patching


def _grad(step, n, dt):
    """Gradients that shrink after a large one at step 2: AMSGrad's v_max then exceeds v."""
    scale = 3.0 if step == 2 else 0.2
    return (np.random.default_rng(step).normal(size=n) * scale).astype(dt)


def _steps(update, kw, arrays, n_states, dt, fused, steps=6):
    """``steps`` updates of ``arrays`` (param, then the states) in place, by the Numba kernel
    (asserting it ran) or by the generic rule."""
    param, states = arrays[0], arrays[1:] + [None] * (3 - n_states)
    for step in range(1, steps + 1):
        params = dict(kw, step=step) if update == "amsgrad_update" else kw
        grad = _grad(step, param.size, dt)
        if fused:
            assert NB.kernels[update].forward(param, grad, *states, **params) is not None
        else:
            PRIMITIVES[update].forward(np, param, grad, *states, **params)


def _compare(case, n, dt, rng):
    update, n_states, kw = CASES[case]
    start = [rng.normal(size=n).astype(dt), *optim_states(rng, update, n_states, n, dt)]
    fused, generic = ([a.copy() for a in start] for _ in range(2))
    _steps(update, kw, fused, n_states, dt, fused=True)
    _steps(update, kw, generic, n_states, dt, fused=False)
    for i, (a, b) in enumerate(zip(fused, generic)):
        assert_close(a, b, dt, f"{case}: array {i}")
    if update == "amsgrad_update":    # the maximum took v at some step, and kept v_max at others
        v, v_max = generic[2], generic[3]
        assert (v_max != start[3]).any() and (v_max > v).any()


@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("case", sorted(CASES))
def test_kernel_equals_generic_rule(case, n, dt, rng):
    _compare(case, n, dt, rng)


@pytest.mark.parametrize("case", sorted(CASES))
def test_threaded_kernel_equals_generic_rule(case, rng, monkeypatch):
    monkeypatch.setattr(_config, "PAR_MIN", 0)
    monkeypatch.setattr(_config, "BLOCK", 100)
    for dt in (np.float32, np.float64):
        _compare(case, 1003, dt, rng)            # 10 blocks, the last one short


@pytest.mark.parametrize("case", ["amsgrad l2", "centered momentum"])
def test_kernel_past_the_threading_threshold_equals_generic_rule(case, rng):
    _compare(case, BIG, np.float32, rng)


def test_nan_gradient_propagates_into_v_max_as_numpy_maximum():
    g = np.array([np.nan, 1.0, -2.0], np.float32)
    kw = dict(ADAM, weight_decay=0.0, decoupled=False, step=1)
    runs = []
    for fused in (True, False):
        p, m, v = (np.zeros(3, np.float32) for _ in range(3))
        v_max = np.array([0.0, np.nan, 0.0], np.float32)      # NaN already there: it stays
        with np.errstate(invalid="ignore"):
            if fused:
                assert NB.kernels["amsgrad_update"].forward(p, g, m, v, v_max, **kw) is not None
            else:
                PRIMITIVES["amsgrad_update"].forward(np, p, g, m, v, v_max, **kw)
        runs.append((p, v_max))
    for a, b in zip(*runs):
        np.testing.assert_array_equal(a, b)
    assert np.isnan(runs[0][1][:2]).all() and runs[0][1][2] > 0


@pytest.mark.parametrize("update,n_states,kw", [
    ("amsgrad_update", 3, dict(ADAM, weight_decay=0.0, decoupled=False, step=1)),
    ("rmsprop_centered_update", 3, dict(lr=0.01, rho=0.9, momentum=0.9, eps=1e-8))])
def test_kernels_decline_what_they_do_not_take(update, n_states, kw):
    kernel = NB.kernels[update]

    def arrays(dt=np.float32, shape=(4, 6)):
        return [np.zeros(shape, dt) for _ in range(n_states + 2)]

    assert kernel.forward(*arrays(np.int64), **kw) is None                 # dtype
    assert kernel.forward(*arrays(np.float16), **kw) is None
    p, g, *states = arrays()
    assert kernel.forward(p[:, ::2], g[:, ::2], *(s[:, ::2] for s in states), **kw) is None
    assert kernel.forward(p, g, *states[:-1], states[-1].astype(np.float64), **kw) is None
    assert kernel.forward(p, g, *states[:-1], np.zeros((6, 4), np.float32), **kw) is None
    p.flags.writeable = False
    assert kernel.forward(p, g, *states, **kw) is None


def test_without_the_option_state_they_are_the_plain_kernels(rng):
    """``v_max`` / ``grad_avg`` None: plain Adam / RMSprop, as the generic rules."""
    p0, g = rng.normal(size=(2, 50)).astype(np.float32)
    adam = dict(ADAM, weight_decay=0.01, decoupled=False, step=2)
    rms = dict(lr=0.01, rho=0.9, momentum=0.9, eps=1e-8)
    for name, plain, call in (
            ("amsgrad_update", "adam_update", lambda k, p, s: k(p, g, s[0], s[1], None, **adam)),
            ("rmsprop_centered_update", "rmsprop_update",
             lambda k, p, s: k(p, g, s[0], None, s[1], **rms))):
        got, want = p0.copy(), p0.copy()
        states, want_states = ([np.full(50, 0.1, np.float32) for _ in range(2)] for _ in "ab")
        assert call(NB.kernels[name].forward, got, states) is not None
        PRIMITIVES[plain].forward(np, want, g, *want_states,
                                  **(adam if plain == "adam_update" else rms))
        assert_close(got, want, np.float32, name)


# -- through xg.optim ---------------------------------------------------------------------------
OPTIONS = {   # xg.optim class and keywords; torch.optim class and keywords
    "adam amsgrad": ("Adam", dict(learning_rate=0.05, beta_2=0.9, amsgrad=True),
                     "Adam", dict(lr=0.05, betas=(0.9, 0.9), amsgrad=True)),
    "adam amsgrad l2": ("Adam", dict(learning_rate=0.05, amsgrad=True, weight_decay=0.1),
                        "Adam", dict(lr=0.05, amsgrad=True, weight_decay=0.1)),
    "adamw amsgrad": ("AdamW", dict(learning_rate=0.05, beta_2=0.9, amsgrad=True),
                      "AdamW", dict(lr=0.05, betas=(0.9, 0.9), amsgrad=True)),
    "rmsprop centered": ("RMSprop", dict(learning_rate=0.01, rho=0.9, centered=True),
                         "RMSprop", dict(lr=0.01, alpha=0.9, centered=True)),
    "rmsprop centered momentum l2": (
        "RMSprop", dict(learning_rate=0.01, momentum=0.8, centered=True, weight_decay=0.1),
        "RMSprop", dict(lr=0.01, momentum=0.8, centered=True, weight_decay=0.1)),
}


def _grads(steps=8, shape=(5, 3)):
    rng = np.random.default_rng(3)
    return [rng.normal(size=shape) * (4.0 if k == 1 else 1.0) for k in range(steps)]


def _xpgrad_run(backend, cls, kw, w0, grads):
    w = xg.Variable(xg.asarray(w0, backend=backend))
    opt = getattr(xg.optim, cls)(**kw)
    for g in grads:
        opt.apply_gradients([(xg.asarray(g, backend=backend), w)])
    return w.numpy()


@pytest.mark.parametrize("name", sorted(OPTIONS))
def test_matches_torch_optim_over_several_steps(name):
    torch = pytest.importorskip("torch")
    cls, kw, tcls, tkw = OPTIONS[name]
    grads = _grads()
    w0 = np.random.default_rng(4).normal(size=grads[0].shape)
    t = torch.tensor(w0, requires_grad=True)
    topt = getattr(torch.optim, tcls)([t], **tkw)
    for g in grads:
        t.grad = torch.tensor(g)
        topt.step()
    want = t.detach().numpy()
    for backend in ("numba", "numpy"):
        np.testing.assert_allclose(_xpgrad_run(backend, cls, kw, w0, grads), want, rtol=1e-12,
                                   atol=1e-14, err_msg=backend)


@pytest.mark.parametrize("optimizer,options", [
    ("adam", {"amsgrad": True}), ("adamw", {"amsgrad": True, "weight_decay": 0.05}),
    ("rmsprop", {"centered": True}),
    ("rmsprop", {"centered": True, "momentum": 0.9, "weight_decay": 0.01})])
def test_mlp_training_on_numba_equals_numpy(optimizer, options, monkeypatch):
    used = []
    for name in ("amsgrad_update", "rmsprop_centered_update"):
        kernel = NB.kernels[name]
        monkeypatch.setitem(NB.kernels, name, type(kernel)(
            lambda *a, _k=kernel, _n=name, **kw: used.append(_n) or _k.forward(*a, **kw)))
    got, got_w = mlp_run("numba", optimizer, steps=8, lr=0.01, options=options)
    want, want_w = mlp_run("numpy", optimizer, steps=8, lr=0.01, options=options)
    assert used, "the fused update did not run"
    np.testing.assert_allclose(got, want, rtol=1e-5)
    assert got[-1] < got[0]
    for a, b in zip(got_w, want_w):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
