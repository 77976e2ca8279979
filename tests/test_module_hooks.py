"""``Module.register_forward_pre_hook`` / ``register_forward_hook`` as PyTorch's: what a hook
gets and may replace, the order (``prepend``), ``with_kwargs``, handles that remove; hooks run
inside ``Sequential`` / ``MLP`` (which then call the layer instead of fusing it with the
activation after it), on the tape (gradients against finite differences and torch), and under
``xg.function`` (registering or removing a hook traces anew, a removed hook no longer runs)."""
from __future__ import annotations

import copy
import gc

import numpy as np
import pytest

import xpgrad as xg
from conftest import backend_report
from xpgrad.testing import check_grads

torch = pytest.importorskip("torch")

BACKENDS = ["numpy"] + (["numba"] if backend_report()["numba"]["available"] else [])
F64 = xg.float64


def _linear(backend="numpy", rng=0, n_in=3, n_out=2):
    return xg.nn.Linear(n_in, n_out, rng=rng, dtype=F64, backend=backend)


def _x(shape=(4, 3), seed=1, backend="numpy"):
    return xg.asarray(np.random.default_rng(seed).standard_normal(shape), backend=backend)


def _torch_linear(lin):
    t = torch.nn.Linear(lin.in_features, lin.out_features, dtype=torch.float64)
    t.load_state_dict({k: torch.from_numpy(v) for k, v in lin.torch_state_dict().items()})
    return t


# -- what hooks get and return, against torch ---------------------------------------------------
@pytest.mark.parametrize("backend", BACKENDS)
def test_pre_and_forward_hooks_replace_inputs_and_outputs_as_torch(backend):
    lin = _linear(backend)
    tlin = _torch_linear(lin)
    x = _x(backend=backend)
    for m, ns in ((lin, xg), (tlin, torch)):
        m.register_forward_pre_hook(lambda mod, args: args[0] * 2.0)          # not a tuple
        m.register_forward_hook(lambda mod, args, out, ns=ns: ns.tanh(out) + args[0][..., :2])
    tx = torch.from_numpy(x.numpy())
    got, want = lin(x), tlin(tx).detach().numpy()
    assert got.backend.name == backend
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-12)
    np.testing.assert_allclose(got.numpy(),
                               np.tanh(2 * x.numpy() @ lin.w.numpy() + lin.b.numpy())
                               + 2 * x.numpy()[:, :2], rtol=1e-12)
    if backend != "numpy":     # every backend against NumPy
        ref = _linear("numpy")
        ref.register_forward_pre_hook(lambda mod, args: args[0] * 2.0)
        ref.register_forward_hook(lambda mod, args, out: xg.tanh(out) + args[0][..., :2])
        np.testing.assert_allclose(got.numpy(), ref(_x()).numpy(), rtol=1e-12)


def test_hooks_get_the_module_and_the_arguments_and_none_keeps_them():
    seen = []
    lin = _linear()
    x = _x()
    lin.register_forward_pre_hook(lambda mod, args: seen.append(("pre", mod, args)))
    lin.register_forward_hook(lambda mod, args, out: seen.append(("post", mod, args, out)))
    out = lin(x)
    (k1, m1, a1), (k2, m2, a2, o2) = seen
    assert (k1, k2) == ("pre", "post") and m1 is lin and m2 is lin
    assert a1 == (x,) and a2 == (x,) and type(a1) is tuple and o2 is out
    np.testing.assert_array_equal(out.numpy(), x.numpy() @ lin.w.numpy() + lin.b.numpy())


def test_hooks_run_in_registration_order_and_prepend_puts_one_first():
    for ns, relu in ((xg, xg.nn.ReLU()), (torch, torch.nn.ReLU())):
        order = []
        for k in range(3):
            relu.register_forward_pre_hook(lambda m, a, k=k: order.append(f"pre{k}"))
            relu.register_forward_hook(lambda m, a, o, k=k: order.append(f"post{k}"))
        relu.register_forward_pre_hook(lambda m, a: order.append("pre_first"), prepend=True)
        relu.register_forward_hook(lambda m, a, o: order.append("post_first"), prepend=True)
        relu(ns.ones(2))
        if ns is xg:
            ours = order
    assert ours == order == ["pre_first", "pre0", "pre1", "pre2",
                             "post_first", "post0", "post1", "post2"]


def test_chained_hooks_each_see_the_previous_ones_result():
    relu = xg.nn.ReLU()
    relu.register_forward_pre_hook(lambda m, a: (a[0] + 1.0,))
    relu.register_forward_pre_hook(lambda m, a: (a[0] * 10.0,))
    relu.register_forward_hook(lambda m, a, o: o - 1.0)
    relu.register_forward_hook(lambda m, a, o: o * 2.0)
    assert relu(xg.asarray([-3.0, 1.0])).tolist() == [-2.0, 38.0]   # relu(10(x+1)): 0, 20


def test_with_kwargs_hooks_get_and_replace_keyword_arguments_as_torch():
    class Scale(xg.nn.Module):
        def forward(self, x, scale=1.0):
            return x * scale

    class TorchScale(torch.nn.Module):
        def forward(self, x, scale=1.0):
            return x * scale

    results = []
    for m, ns in ((Scale(), xg), (TorchScale(), torch)):
        seen = []
        m.register_forward_pre_hook(
            lambda mod, args, kwargs: (args, {**kwargs, "scale": kwargs["scale"] * 3}),
            with_kwargs=True)
        m.register_forward_hook(
            lambda mod, args, kwargs, out: seen.append(kwargs["scale"]) or out + 1,
            with_kwargs=True)
        results.append((m(ns.ones(2, dtype=ns.float64), scale=2.0).tolist(), seen))
    assert results[0] == results[1] == ([7.0, 7.0], [6.0])


def test_a_with_kwargs_pre_hook_returning_something_else_is_refused():
    relu = xg.nn.ReLU()
    relu.register_forward_pre_hook(lambda m, a, k: a, with_kwargs=True)
    with pytest.raises(RuntimeError, match=r"must return None or a tuple \(new_args, "):
        relu(xg.asarray([1.0]))


# -- handles ------------------------------------------------------------------------------------
def test_a_removed_hook_no_longer_runs_and_removing_twice_is_harmless():
    calls = []
    lin = _linear()
    x = _x()
    plain = lin(x).numpy()
    h_pre = lin.register_forward_pre_hook(lambda m, a: calls.append("pre"))
    h_post = lin.register_forward_hook(lambda m, a, o: calls.append("post") or o * 0.0)
    hooks = id(vars(lin)["_hooks"])
    assert hooks in xg.nn.module_hooks.ACTIVE
    np.testing.assert_array_equal(lin(x).numpy(), 0.0 * plain)
    h_post.remove()
    np.testing.assert_array_equal(lin(x).numpy(), plain)
    assert calls == ["pre", "post", "pre"]
    h_pre.remove()
    h_pre.remove()
    h_post.remove()
    lin(x)
    assert calls == ["pre", "post", "pre"]
    assert "_hooks" not in vars(lin)            # Sequential may fuse it again
    assert hooks not in xg.nn.module_hooks.ACTIVE   # none left: the plain call again, once


def test_handle_as_a_context_manager_and_a_hook_removing_itself():
    relu = xg.nn.ReLU()
    with relu.register_forward_hook(lambda m, a, o: o + 1.0):
        assert relu(xg.asarray([-1.0])).tolist() == [1.0]
    assert relu(xg.asarray([-1.0])).tolist() == [0.0]
    calls = []

    def once(m, a, o):
        calls.append(1)
        handle.remove()

    handle = relu.register_forward_hook(once)
    relu(xg.ones(1))
    relu(xg.ones(1))
    assert calls == [1]


def test_hooks_of_one_module_leave_another_alone_and_deepcopy_copies_them():
    a, b = xg.nn.ReLU(), xg.nn.ReLU()
    handle = a.register_forward_hook(lambda m, args, o: o + 5.0)
    c = copy.deepcopy(a)
    assert b(xg.zeros(1)).tolist() == [0.0]
    assert a(xg.zeros(1)).tolist() == c(xg.zeros(1)).tolist() == [5.0]
    handle.remove()                   # the original's hook, as torch's handle
    assert a(xg.zeros(1)).tolist() == [0.0] and c(xg.zeros(1)).tolist() == [5.0]


@pytest.mark.parametrize("call, error, words", [
    (lambda m: m.register_forward_hook(3), TypeError,
     "ReLU.register_forward_hook: hook must be callable, got int 3"),
    (lambda m: m.register_forward_pre_hook(None), TypeError,
     "ReLU.register_forward_pre_hook: hook must be callable, got NoneType"),
    (lambda m: m.register_forward_hook(print, prepend=1), TypeError, "prepend"),
    (lambda m: m.register_forward_pre_hook(print, with_kwargs="yes"), TypeError, "with_kwargs"),
    (lambda m: m.register_forward_hook(print, always_call=True), TypeError, "always_call"),
])
def test_bad_registrations_are_refused_naming_the_argument(call, error, words):
    relu = xg.nn.ReLU()
    with pytest.raises(error, match=words):
        call(relu)
    assert "_hooks" not in vars(relu)


# -- gradients through hooks ----------------------------------------------------------------------
@pytest.mark.parametrize("backend", BACKENDS)
def test_gradients_flow_through_hooks_against_finite_differences_and_torch(backend):
    lin = _linear(backend)
    tlin = _torch_linear(lin)
    for m, ns in ((lin, xg), (tlin, torch)):
        m.register_forward_pre_hook(lambda mod, args, ns=ns: (ns.sin(args[0]),))
        m.register_forward_hook(lambda mod, args, out: out * out)

    x = _x(backend=backend)
    check_grads(lambda x: xg.sum(lin(x)), (x,))
    with xg.GradientTape() as tape:
        tape.watch(x)
        loss_value = xg.sum(lin(x))
    gx, gw, gb = tape.gradient(loss_value, [x, lin.w, lin.b])
    tx = torch.from_numpy(x.numpy()).requires_grad_()
    tlin(tx).sum().backward()
    np.testing.assert_allclose(gx.numpy(), tx.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(gw.numpy(), tlin.weight.grad.numpy().T, rtol=1e-10)
    np.testing.assert_allclose(gb.numpy(), tlin.bias.grad.numpy(), rtol=1e-10)


# -- Sequential and MLP: a hooked layer is called, never fused ------------------------------------
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("hooked", [0, 1])
def test_sequential_calls_a_hooked_layer_instead_of_fusing_it(backend, hooked):
    """Linear then ReLU is one fused primitive; a hook on either must run, and see the same
    values as torch's hook on the same layer."""
    lin, lin2 = _linear(backend), _linear(backend, rng=3, n_in=2, n_out=2)
    model = xg.nn.Sequential(lin, xg.nn.ReLU(), lin2)
    tmodel = torch.nn.Sequential(_torch_linear(lin), torch.nn.ReLU(), _torch_linear(lin2))
    seen = {}

    def keep(name):
        def hook(mod, args, out):
            seen[name] = np.array(out.tolist())
        return hook

    for name, m in (("xg", model), ("torch", tmodel)):
        m[hooked].register_forward_hook(keep(name))
        m[hooked].register_forward_pre_hook(lambda mod, args: (args[0] + 0.25,))
    x = _x(backend=backend)
    got = model(x).numpy()
    want = tmodel(torch.from_numpy(x.numpy())).detach().numpy()
    np.testing.assert_allclose(got, want, rtol=1e-12)
    np.testing.assert_allclose(seen["xg"], seen["torch"], rtol=1e-12)


@pytest.mark.usefixtures("numpy_default")
def test_mlp_calls_a_hooked_layer_and_a_hooked_activation():
    model = xg.nn.MLP([3, 4, 2], activation=xg.nn.ReLU(), rng=0, dtype=F64)
    x = _x()
    plain = model(x).numpy()
    outs = []
    h1 = model.layers[0].register_forward_hook(lambda m, a, o: outs.append(o.numpy()))
    h2 = model.activation.register_forward_hook(lambda m, a, o: o * 2.0)
    got = model(x).numpy()
    w0, b0 = model.layers[0].w.numpy(), model.layers[0].b.numpy()
    w1, b1 = model.layers[1].w.numpy(), model.layers[1].b.numpy()
    hidden = x.numpy() @ w0 + b0
    np.testing.assert_allclose(outs[0], hidden, rtol=1e-12)
    np.testing.assert_allclose(got, 2 * np.maximum(hidden, 0) @ w1 + b1, rtol=1e-12)
    h1.remove()
    h2.remove()
    np.testing.assert_array_equal(model(x).numpy(), plain)


# -- under xg.function ------------------------------------------------------------------------------
@pytest.mark.parametrize("backend", BACKENDS)
def test_hooks_under_function_are_traced_and_changes_trace_anew(backend):
    lin, lin2 = _linear(backend), _linear(backend, rng=3, n_in=2, n_out=2)
    model = xg.nn.Sequential(lin, xg.nn.ReLU(), lin2)
    x = _x(backend=backend)
    step = xg.function(lambda x: model(x))
    gc.collect()                                # hooked modules of earlier tests in cycles
    active = set(xg.nn.module_hooks.ACTIVE)

    def eager():
        return model(x).numpy()

    plain = eager()
    for _ in range(2):
        np.testing.assert_allclose(step(x).numpy(), plain, rtol=1e-12)
    traces = step.trace_count
    handle = lin.register_forward_hook(lambda m, a, o: o * -1.0)   # registered after tracing
    hooked = eager()
    assert not np.allclose(hooked, plain)
    for _ in range(2):
        np.testing.assert_allclose(step(x).numpy(), hooked, rtol=1e-12)
    assert step.trace_count == traces + 1
    handle.remove()                                              # removed: replays without it
    for _ in range(2):
        np.testing.assert_allclose(step(x).numpy(), plain, rtol=1e-12)
    pre = model.register_forward_pre_hook(lambda m, a: (a[0] * 0.0,))   # on the Sequential
    for _ in range(2):
        np.testing.assert_allclose(step(x).numpy(), eager(), rtol=1e-12)
    pre.remove()
    np.testing.assert_allclose(step(x).numpy(), plain, rtol=1e-12)
    assert xg.nn.module_hooks.ACTIVE == active  # traces over, hooks gone: the plain call


def test_a_pickled_module_keeps_its_hooks():
    import pickle

    relu = xg.nn.ReLU()
    handle = relu.register_forward_hook(_plus_five)
    twin = pickle.loads(pickle.dumps(relu))
    handle.remove()
    assert relu(xg.zeros(1)).tolist() == [0.0] and twin(xg.zeros(1)).tolist() == [5.0]


def _plus_five(module, args, out):
    return out + 5.0


@pytest.mark.usefixtures("numpy_default")
def test_a_training_step_with_a_hook_compiled_matches_eager():
    def run(compiled):
        model = xg.nn.MLP([3, 5, 2], rng=0, dtype=F64)
        model.layers[0].register_forward_hook(lambda m, a, o: xg.tanh(o))
        opt = xg.optim.SGD(0.1)
        x, y = _x(), xg.asarray([0, 1, 1, 0])

        def step(x, y):
            with xg.GradientTape() as tape:
                loss = xg.losses.softmax_cross_entropy(model(x), y)
            variables = model.trainable_variables
            opt.apply_gradients(zip(tape.gradient(loss, variables), variables))
            return loss

        f = xg.function(step) if compiled else step
        return [float(f(x, y)) for _ in range(4)], [v.numpy() for v in model.variables]

    (l1, v1), (l2, v2) = run(False), run(True)
    np.testing.assert_allclose(l2, l1, rtol=1e-12)
    for a, b in zip(v1, v2):
        np.testing.assert_allclose(b, a, rtol=1e-12)


def test_a_hooks_python_side_effect_happens_once_per_trace_as_documented():
    relu = xg.nn.ReLU()
    seen = []
    relu.register_forward_hook(lambda m, a, o: seen.append(o.shape) or o * 3.0)
    f = xg.function(lambda x: relu(x))
    x = xg.asarray([-1.0, 2.0])
    assert [f(x).tolist() for _ in range(3)] == [[0.0, 6.0]] * 3
    calls = len(seen)                                    # the warm-up and the trace
    assert [f(x).tolist() for _ in range(3)] == [[0.0, 6.0]] * 3    # replays: the output...
    assert len(seen) == calls and f.trace_count == 1     # ... without the append


def test_a_hook_registered_inside_a_traced_call_does_not_break_the_trace():
    relu = xg.nn.ReLU()

    @xg.function
    def f(x):
        with relu.register_forward_hook(lambda m, a, o: o + 1.0):
            return relu(x)

    x = xg.asarray([-1.0, 2.0])
    assert [f(x).tolist() for _ in range(3)] == [[1.0, 3.0]] * 3
    assert relu(x).tolist() == [0.0, 2.0]


class _HoldsItsHandle(xg.nn.Module):
    """A module keeping the handle of its layer's hook, as PyTorch code often does."""

    def __init__(self):
        super().__init__()
        self.layer = xg.nn.ReLU()
        self.handle = self.layer.register_forward_hook(_plus_five)

    def forward(self, x):
        return self.layer(x)


@pytest.mark.parametrize("clone", ["deepcopy", "pickle"])
def test_a_copied_handle_removes_the_copys_hook_and_the_plain_call_returns(clone):
    # a deep copy's handle once removed the original's hook; the copy kept its own, and every
    # module call the hooked path, until the copy was collected
    import pickle

    gc.collect()                                # hooked modules of earlier tests in cycles
    active = set(xg.nn.module_hooks.ACTIVE)
    net = _HoldsItsHandle()
    twin = copy.deepcopy(net) if clone == "deepcopy" else pickle.loads(pickle.dumps(net))
    twin.handle.remove()
    assert twin(xg.zeros(1)).tolist() == [0.0] and net(xg.zeros(1)).tolist() == [5.0]
    assert "_hooks" not in vars(twin.layer)
    net.handle.remove()
    assert net(xg.zeros(1)).tolist() == [0.0]
    assert xg.nn.module_hooks.ACTIVE == active      # no hook left: the plain call again
    torch = pytest.importorskip("torch")

    class TorchNet(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.layer = torch.nn.ReLU()
            self.handle = self.layer.register_forward_hook(_plus_five)

    tnet = TorchNet()
    ttwin = copy.deepcopy(tnet)
    ttwin.handle.remove()                       # the same in PyTorch: the copy's hook goes
    assert ttwin.layer(torch.zeros(1)).tolist() == [0.0]
    assert tnet.layer(torch.zeros(1)).tolist() == [5.0]


def test_a_copied_handle_alone_is_harmless():
    relu = xg.nn.ReLU()
    handle = relu.register_forward_hook(_plus_five)
    copy.deepcopy(handle).remove()              # its module copy is gone: nothing to remove
    assert relu(xg.zeros(1)).tolist() == [5.0]
    handle.remove()
