"""``Module.register_full_backward_hook`` / ``register_full_backward_pre_hook`` as PyTorch's,
each case against ``torch.nn`` computed here in float64: what the hooks get (``grad_input``,
``grad_output``), a hook replacing ``grad_input``, a pre-hook replacing ``grad_output``,
removal, a module called twice, an input on no tape, ``xg.function`` (traced then replayed),
second order, and a non-callable hook refused naming the argument."""
from __future__ import annotations

import copy

import numpy as np
import pytest

import xpgrad as xg
from conftest import backend_report
from xpgrad.testing import check_grads

torch = pytest.importorskip("torch")
#: the tests make their modules and inputs on numpy (one test takes each backend by name): the
#: suite run with XPGRAD_BACKEND=numba would otherwise mix backends in checks and references
pytestmark = pytest.mark.usefixtures("numpy_default")

F64 = xg.float64
BACKENDS = ["numpy"] + (["numba"] if backend_report()["numba"]["available"] else [])


def _pair(kind="linear", backend="numpy"):
    """An xpgrad module and torch's with the same weights."""
    if kind == "linear":
        ours = xg.nn.Linear(3, 2, rng=0, dtype=F64, backend=backend)
        return ours, _torch_linear(ours)
    ours = xg.nn.Sequential(xg.nn.Linear(3, 4, rng=1, dtype=F64, backend=backend), xg.nn.Tanh(),
                            xg.nn.Linear(4, 2, rng=2, dtype=F64, backend=backend))
    theirs = torch.nn.Sequential(_torch_linear(ours.layers[0]), torch.nn.Tanh(),
                                 _torch_linear(ours.layers[2]))
    return ours, theirs


def _torch_linear(lin):
    t = torch.nn.Linear(lin.in_features, lin.out_features, dtype=torch.float64)
    t.load_state_dict({k: torch.from_numpy(v) for k, v in lin.torch_state_dict().items()})
    return t


def _x(seed=1, shape=(4, 3)):
    return np.random.default_rng(seed).standard_normal(shape)


def _ours_grad(module, x, loss=lambda y: xg.sum(xg.sin(y)), backend="numpy"):
    """``d loss(module(x)) / dx`` and the module's first weight gradient."""
    x = xg.asarray(x, backend=backend)
    with xg.GradientTape() as tape:
        tape.watch(x)
        value = loss(module(x))
    gx, gw = tape.gradient(value, [x, module.trainable_variables[0]])
    return gx.numpy(), gw.numpy()


def _torch_grad(module, x):
    tx = torch.from_numpy(x).requires_grad_()
    module.zero_grad()
    torch.sin(module(tx)).sum().backward()
    return tx.grad.numpy(), next(module.parameters()).grad.numpy().T


def _recorder(seen):
    def hook(module, grad_input, grad_output):
        seen.append((module, [None if g is None else np.array(g.numpy() if isinstance(
            g, xg.Tensor) else g.detach().numpy()) for g in grad_input],
            [np.array(g.numpy() if isinstance(g, xg.Tensor) else g.detach().numpy())
             for g in grad_output]))
    return hook


def _assert_seen_equal(ours, theirs):
    assert len(ours) == len(theirs)
    for (_, gin, gout), (_, tin, tout) in zip(ours, theirs):
        assert len(gin) == len(tin) and len(gout) == len(tout)
        for a, b in zip(gin + gout, tin + tout):
            assert (a is None) == (b is None)
            if a is not None:
                np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


# -- what a hook gets, and what it may replace ----------------------------------------------------
@pytest.mark.parametrize("kind", ["linear", "sequential"])
def test_a_hook_sees_torchs_grad_input_and_grad_output(kind):
    ours, theirs = _pair(kind)
    seen, tseen = [], []
    ours.register_full_backward_hook(_recorder(seen))
    theirs.register_full_backward_hook(_recorder(tseen))
    inner, tinner = [], []
    if kind == "sequential":           # an inner layer's hook too, inside the outer one's
        ours.layers[2].register_full_backward_hook(_recorder(inner))
        theirs[2].register_full_backward_hook(_recorder(tinner))
    x = _x()
    gx, gw = _ours_grad(ours, x)
    tgx, tgw = _torch_grad(theirs, x)
    _assert_seen_equal(seen, tseen)
    _assert_seen_equal(inner, tinner)
    assert seen[0][0] is ours and len(seen) == 1
    np.testing.assert_allclose(gx, tgx, rtol=1e-12)
    np.testing.assert_allclose(gw, tgw, rtol=1e-12)


def test_an_observing_hook_leaves_the_gradient_finite_differences_agree():
    ours, _ = _pair("sequential")
    calls = []
    ours.register_full_backward_pre_hook(lambda m, gout: calls.append("pre"))
    ours.register_full_backward_hook(lambda m, gin, gout: calls.append("hook"))
    check_grads(lambda x: xg.sum(xg.sin(ours(x))), (xg.asarray(_x()),))
    assert calls[:2] == ["pre", "hook"]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kind", ["linear", "sequential"])
def test_a_hook_scaling_grad_input_and_a_pre_hook_replacing_grad_output_as_torch(kind, backend):
    ours, theirs = _pair(kind, backend)
    for m, ns in ((ours, xg), (theirs, torch)):
        m.register_full_backward_hook(lambda mod, gin, gout: (gin[0] * 3.0,))
        m.register_full_backward_pre_hook(lambda mod, gout, ns=ns: (ns.cos(gout[0]) + 1.0,))
    x = _x()
    plain_gx = _ours_grad(_pair(kind, backend)[0], x, backend=backend)[0]
    gx, gw = _ours_grad(ours, x, backend=backend)
    tgx, tgw = _torch_grad(theirs, x)
    np.testing.assert_allclose(gx, tgx, rtol=1e-12)
    np.testing.assert_allclose(gw, tgw, rtol=1e-12)
    assert not np.allclose(gx, plain_gx)


def test_hooks_run_in_order_prepend_first_each_on_the_previous_result():
    ours, theirs = _pair()
    for m in (ours, theirs):
        m.register_full_backward_hook(lambda mod, gin, gout: (gin[0] + 1.0,))
        m.register_full_backward_hook(lambda mod, gin, gout: (gin[0] * 2.0,), prepend=True)
    x = _x()
    np.testing.assert_allclose(_ours_grad(ours, x)[0], _torch_grad(theirs, x)[0], rtol=1e-12)


def test_removal_and_a_module_called_twice_runs_its_hook_per_call():
    ours, theirs = _pair()
    seen, tseen = [], []
    handle = ours.register_full_backward_hook(_recorder(seen))
    theirs.register_full_backward_hook(_recorder(tseen))
    for m in (ours, theirs):
        m.register_full_backward_hook(lambda mod, gin, gout: (gin[0] * -2.0,))
    def twice(m, v):                 # Linear(3, 2) again on its output and x's first column
        if isinstance(v, xg.Tensor):
            return m(xg.concat([m(v), v[:, :1]], axis=1))
        return m(torch.cat([m(v), v[:, :1]], dim=1))

    x = _x()
    xt = xg.asarray(x)
    with xg.GradientTape() as tape:
        tape.watch(xt)
        value = xg.sum(xg.sin(twice(ours, xt)))
    gx = tape.gradient(value, xt).numpy()
    tx = torch.from_numpy(x).requires_grad_()
    torch.sin(twice(theirs, tx)).sum().backward()
    assert len(seen) == len(tseen) == 2
    _assert_seen_equal(seen, tseen)
    np.testing.assert_allclose(gx, tx.grad.numpy(), rtol=1e-12)

    handle.remove()
    handle.remove()                                   # twice: harmless
    seen.clear()
    _ours_grad(ours, x)
    assert seen == []
    fresh, _ = _pair()
    np.testing.assert_allclose(_ours_grad(ours, x)[0], -2.0 * _ours_grad(fresh, x)[0],
                               rtol=1e-12)


def test_an_input_on_no_tape_gives_grad_input_none_as_torch():
    ours, theirs = _pair()
    seen, tseen = [], []
    ours.register_full_backward_hook(_recorder(seen))
    theirs.register_full_backward_hook(_recorder(tseen))
    x = _x()
    with xg.GradientTape() as tape:
        value = xg.sum(xg.sin(ours(xg.asarray(x))))
    tape.gradient(value, ours.w)
    torch.sin(theirs(torch.from_numpy(x))).sum().backward()
    assert seen[0][1] == [None]
    _assert_seen_equal(seen, tseen)

    ours.register_full_backward_hook(lambda mod, gin, gout: (xg.ones((4, 3), dtype=F64),))
    with xg.GradientTape() as tape:
        value = xg.sum(ours(xg.asarray(x)))
    with pytest.raises(RuntimeError, match="no input of this call is on a tape"):
        tape.gradient(value, ours.w)


def test_a_wrong_number_of_gradients_is_refused():
    ours, _ = _pair()
    handle = ours.register_full_backward_hook(lambda mod, gin, gout: (gin[0], gin[0]))
    with pytest.raises(RuntimeError, match="tuple of 1 entries.*got 2 entries"):
        _ours_grad(ours, _x())
    handle.remove()
    ours.register_full_backward_pre_hook(lambda mod, gout: gout[0])
    with pytest.raises(RuntimeError, match="pre-hook .* got Tensor"):
        _ours_grad(ours, _x())


def test_a_copied_module_keeps_its_backward_hooks_and_its_handle_removes_the_copys():
    ours, _ = _pair()
    handle = ours.register_full_backward_hook(lambda mod, gin, gout: (gin[0] * 2.0,))
    copy_of, copied_handle = copy.deepcopy((ours, handle))
    x = _x()
    np.testing.assert_allclose(_ours_grad(copy_of, x)[0], _ours_grad(ours, x)[0], rtol=1e-12)
    copied_handle.remove()
    np.testing.assert_allclose(_ours_grad(copy_of, x)[0], _ours_grad(_pair()[0], x)[0],
                               rtol=1e-12)
    assert not np.allclose(_ours_grad(ours, x)[0], _ours_grad(copy_of, x)[0])


@pytest.mark.parametrize("method", ["register_full_backward_hook",
                                    "register_full_backward_pre_hook"])
def test_a_non_callable_hook_is_refused_naming_the_argument(method):
    with pytest.raises(TypeError, match=f"Linear.{method}: hook must be callable, got int 3"):
        getattr(_pair()[0], method)(3)


# -- xg.function and second order ----------------------------------------------------------------
def test_hooks_under_function_are_traced_then_replayed():
    ours, theirs = _pair("sequential")
    for m, first, ns in ((ours, ours.layers[0], xg), (theirs, theirs[0], torch)):
        first.register_full_backward_hook(lambda mod, gin, gout, ns=ns: (ns.tanh(gin[0]) * 2.0,))
        m.register_full_backward_pre_hook(lambda mod, gout: (gout[0] * 0.5,))

    def grads(x):
        with xg.GradientTape() as tape:
            tape.watch(x)
            value = xg.sum(xg.sin(ours(x)))
        return tape.gradient(value, [x, ours.layers[0].w])

    step = xg.function(grads)
    for seed in range(4):                 # warm-up, trace, then replays on new values
        x = _x(seed)
        gx, gw = step(xg.asarray(x))
        tgx, tgw = _torch_grad(theirs, x)
        np.testing.assert_allclose(gx.numpy(), tgx, rtol=1e-12)
        np.testing.assert_allclose(gw.numpy(), tgw, rtol=1e-12)
    assert step.trace_count == 1


def test_second_order_through_a_scaling_hook_as_torch():
    ours, theirs = _pair("sequential")
    for m, ns in ((ours, xg), (theirs, torch)):
        m.register_full_backward_hook(lambda mod, gin, gout, ns=ns: (ns.sin(gin[0]),))
    x = _x()
    xt = xg.asarray(x)
    with xg.GradientTape() as outer:
        outer.watch(xt)
        with xg.GradientTape() as inner:
            inner.watch(xt)
            value = xg.sum(xg.tanh(ours(xt)))
        g = inner.gradient(value, xt)
        gg = xg.sum(g * g)
    second = outer.gradient(gg, xt).numpy()
    tx = torch.from_numpy(x).requires_grad_()
    (tg,) = torch.autograd.grad(torch.tanh(theirs(tx)).sum(), tx, create_graph=True)
    (tsecond,) = torch.autograd.grad((tg * tg).sum(), tx)
    np.testing.assert_allclose(g.numpy(), tg.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(second, tsecond.numpy(), rtol=1e-10)


def test_a_hooked_module_inside_recompute_grad_as_torchs_checkpoint():
    """``recompute_grad``'s forward records under a stand-in tape whose keys are an
    ``OuterTapes`` (membership only, no iteration): the hooks run once, in the backward's
    recomputation, as under torch's non-reentrant ``checkpoint``."""
    from torch.utils.checkpoint import checkpoint

    ours, theirs = _pair("sequential")
    seen, tseen = [], []
    for m, record in ((ours, seen), (theirs, tseen)):
        m.register_full_backward_hook(_recorder(record))
        m.register_full_backward_hook(lambda mod, gin, gout: (gin[0] * 3.0,))
    x = _x()
    block = xg.recompute_grad(lambda v: ours(v))
    xt = xg.asarray(x)
    with xg.GradientTape() as tape:
        tape.watch(xt)
        value = xg.sum(xg.sin(block(xt)))
    gx, gw = (g.numpy() for g in tape.gradient(value, [xt, ours.layers[0].w]))
    tx = torch.from_numpy(x).requires_grad_()
    torch.sin(checkpoint(theirs, tx, use_reentrant=False)).sum().backward()
    _assert_seen_equal(seen, tseen)
    assert len(seen) == 1
    np.testing.assert_allclose(gx, tx.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(gw, theirs[0].weight.grad.numpy().T, rtol=1e-12)
