"""``Tensor.register_hook`` against PyTorch's, computed here in float64: a hook's gradient
flows on (xpgrad/gradient_hooks.py)."""
import numpy as np
import pytest

import xpgrad as xg

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.usefixtures("numpy_default")

RNG = np.random.default_rng(0)
W0, X0 = RNG.normal(size=(4, 3)), RNG.normal(size=(6, 4))


def _torch_grads(hook_on, hooks, twice=False):
    """torch's gradients of sum(tanh(h)) (+ sum(h * h) when ``twice``) with respect to w and
    x, h = x @ w, ``hooks`` registered on ``hook_on`` ("h" or "w")."""
    w = torch.tensor(W0, requires_grad=True)
    x = torch.tensor(X0, requires_grad=True)
    h = x @ w
    for hook in hooks:
        (h if hook_on == "h" else w).register_hook(hook)
    loss = torch.tanh(h).sum() + ((h * h).sum() if twice else 0)
    return [g.numpy() for g in torch.autograd.grad(loss, [w, x])]


def _xpgrad_grads(hook_on, hooks, twice=False, remove=()):
    w = xg.Variable(W0)
    x = xg.asarray(X0)
    with xg.GradientTape() as tape:
        tape.watch(x)
        h = x @ w
        handles = [(h if hook_on == "h" else w).register_hook(hook) for hook in hooks]
        loss = xg.sum(xg.tanh(h)) + (xg.sum(h * h) if twice else 0)
    for i in remove:
        handles[i].remove()
    grads = [g.numpy() for g in tape.gradient(loss, [w, x])]
    for handle in handles:
        handle.remove()
    return grads


def _close(ours, theirs):
    for a, b in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("hook_on", ["h", "w"])
def test_a_doubling_hook_gives_torchs_gradients(hook_on):
    ours = _xpgrad_grads(hook_on, [lambda g: g * 2])
    _close(ours, _torch_grads(hook_on, [lambda g: g * 2]))
    assert not np.allclose(ours[0], _xpgrad_grads(hook_on, [])[0])   # the hook mattered


@pytest.mark.parametrize("hook_on", ["h", "w"])
def test_a_clipping_hook_gives_torchs_gradients(hook_on):
    _close(_xpgrad_grads(hook_on, [lambda g: xg.clip(g, -0.3, 0.3)], twice=True),
           _torch_grads(hook_on, [lambda g: g.clamp(-0.3, 0.3)], twice=True))


def test_a_tensor_used_twice_runs_its_hook_once_on_the_summed_gradient():
    seen, seen_torch = [], []

    def hook(g):
        seen.append(g.numpy().copy())
        return g * 3 + 1

    def torch_hook(g):
        seen_torch.append(g.numpy().copy())
        return g * 3 + 1

    _close(_xpgrad_grads("h", [hook], twice=True),
           _torch_grads("h", [torch_hook], twice=True))
    assert len(seen) == len(seen_torch) == 1
    np.testing.assert_allclose(seen[0], seen_torch[0], rtol=1e-12)


def test_two_hooks_run_in_registration_order_each_on_the_last_ones_result():
    hooks = [lambda g: g + 1, lambda g: g * 2]
    ours = _xpgrad_grads("h", hooks)
    _close(ours, _torch_grads("h", hooks))
    _close(ours, _torch_grads("h", [lambda g: (g + 1) * 2]))
    assert not np.allclose(ours[0], _torch_grads("h", [lambda g: g * 2 + 1])[0])


def test_a_removed_hook_no_longer_runs():
    _close(_xpgrad_grads("h", [lambda g: g * 5, lambda g: g + 1], remove=[0]),
           _torch_grads("h", [lambda g: g + 1]))
    _close(_xpgrad_grads("w", [lambda g: g * 5], remove=[0]), _torch_grads("w", []))


@pytest.mark.parametrize("hook_on", ["h", "w"])
def test_a_hook_returning_none_observes_torchs_gradient(hook_on):
    seen, seen_torch = [], []
    ours = _xpgrad_grads(hook_on, [lambda g: seen.append(g.numpy().copy())])
    _close(ours, _xpgrad_grads(hook_on, []))
    _torch_grads(hook_on, [lambda g: seen_torch.append(g.numpy().copy())])
    assert len(seen) == 1
    np.testing.assert_allclose(seen[0], seen_torch[0], rtol=1e-12)


def test_a_hooked_intermediate_asked_for_returns_the_hooked_gradient():
    """As torch's ``h.grad`` (``retain_grad``) and ``autograd.grad(loss, [h])``; torch's
    ``autograd.grad(loss, [h, w])`` returns h's gradient before the hook (docs/porting.md)."""
    w = torch.tensor(W0, requires_grad=True)
    h = torch.tensor(X0) @ w
    h.register_hook(lambda g: g * 2)
    h.retain_grad()
    torch.tanh(h).sum().backward()
    expected = [h.grad.numpy(), w.grad.numpy()]
    v = xg.Variable(W0)
    with xg.GradientTape(persistent=True) as tape:
        h = xg.asarray(X0) @ v
        h.register_hook(lambda g: g * 2)
        loss = xg.sum(xg.tanh(h))
    _close([g.numpy() for g in tape.gradient(loss, [h, v])], expected)
    _close([tape.gradient(loss, h).numpy()], expected[:1])


def test_second_order_differentiates_the_hook():
    """The hook runs on the recorded gradient: an outer tape sees ``g * g``."""
    x = torch.tensor(X0[0], requires_grad=True)
    h = torch.sin(x)
    h.register_hook(lambda g: g * g)
    (gx,) = torch.autograd.grad(h.pow(3).sum(), [x], create_graph=True)
    (expected,) = torch.autograd.grad(gx.sum(), [x])
    x = xg.asarray(X0[0])
    with xg.GradientTape() as outer:
        outer.watch(x)
        with xg.GradientTape() as inner:
            inner.watch(x)
            h = xg.sin(x)
            h.register_hook(lambda g: g * g)
            y = xg.sum(h ** 3)
        gx = inner.gradient(y, x)
        total = xg.sum(gx)
    np.testing.assert_allclose(outer.gradient(total, x).numpy(), expected.numpy(), rtol=1e-12)


def _hooked_loss(x, w):
    h = x @ w
    h.register_hook(lambda g: g * 2)
    return xg.sum(xg.tanh(h))


def test_xg_grad_and_xg_function_replay_the_hook():
    calls = []

    def loss(x, w):
        calls.append(1)     # a Python side effect: on the warm-up and the trace, not replays
        return _hooked_loss(x, w)

    step = xg.function(xg.grad(loss, argnums=1))
    for scale in (1.0, 0.5, -0.7, 2.0):     # warm-up, trace, two replays
        ours = step(xg.asarray(X0 * scale), xg.asarray(W0)).numpy()
        w = torch.tensor(W0, requires_grad=True)
        h = torch.tensor(X0 * scale) @ w
        h.register_hook(lambda g: g * 2)
        torch.tanh(h).sum().backward()
        np.testing.assert_allclose(ours, w.grad.numpy(), rtol=1e-12)
    assert len(calls) == 2


def test_xg_vmap_runs_the_hook_per_example():
    ours = xg.vmap(xg.grad(_hooked_loss, argnums=1), in_axes=(0, None))(
        xg.asarray(X0[:, None, :]), xg.asarray(W0)).numpy()
    for i in range(len(X0)):
        w = torch.tensor(W0, requires_grad=True)
        h = torch.tensor(X0[i:i + 1]) @ w
        h.register_hook(lambda g: g * 2)
        torch.tanh(h).sum().backward()
        np.testing.assert_allclose(ours[i], w.grad.numpy(), rtol=1e-12)


def test_a_hook_must_be_callable_and_return_a_tensor_of_its_shape():
    x = xg.asarray([1.0, 2.0])
    with pytest.raises(TypeError, match="hook must be callable"):
        x.register_hook(2.0)
    with pytest.raises(RuntimeError, match="register_hook.*int64"):
        xg.asarray([1, 2], dtype=xg.int64).register_hook(print)
    for bad, error, words in ((lambda g: g.numpy(), TypeError, "return a Tensor or None"),
                              (lambda g: g[:1], ValueError, r"shape \(2,\), got \(1,\)")):
        with xg.GradientTape() as tape:
            tape.watch(x)
            y = x * 2.0
            with y.register_hook(bad):
                total = xg.sum(y)
                with pytest.raises(error, match=words):
                    tape.gradient(total, x)


def test_a_collected_tensors_hooks_leave_the_registry():
    from xpgrad.gradient_hooks import HOOKS

    y = xg.asarray([1.0]) * 2.0
    y.register_hook(print)
    key = y._key
    assert key in HOOKS
    del y
    assert key not in HOOKS


def test_a_hook_holding_its_own_tensor_is_collected_with_it():
    """As torch's reference cycle (tensor -> hook -> tensor) is: a hook that reads its tensor,
    or a model's method hooked on the model's Variables, went with the registry's strong
    reference into every later walk (the tensor, the model and its weights never freed)."""
    import gc
    import weakref

    from xpgrad.gradient_hooks import HOOKS

    class Scaled:
        def __init__(self):
            self.w = xg.Variable(W0)
            self.w.register_hook(self.halve)

        def halve(self, g):
            return g * 0.5

    def hooked_tensor_and_model():
        x = xg.asarray(X0)
        with xg.GradientTape() as tape:
            tape.watch(x)
            h = x @ W0
            h.register_hook(lambda g: g * h)
            loss = xg.sum(h)
        np.testing.assert_allclose(tape.gradient(loss, x).numpy(), (X0 @ W0) @ W0.T,
                                   rtol=1e-12)
        model = Scaled()
        with xg.GradientTape() as tape:
            loss = xg.sum(model.w * 3.0)
        np.testing.assert_allclose(tape.gradient(loss, model.w).numpy(), 1.5)
        return weakref.ref(h), weakref.ref(model), (h._key, model.w._key)

    h, model, keys = hooked_tensor_and_model()
    gc.collect()
    assert h() is None and model() is None
    assert not set(keys) & set(HOOKS)


def test_hooks_live_while_a_tape_knows_the_tensor():
    """A loss function's hooked intermediate is collected when it returns; its tape still
    runs the hook (PyTorch's graph keeps it), and the hook goes with the tape."""
    from xpgrad.gradient_hooks import HOOKS

    w = xg.Variable(W0)
    with xg.GradientTape() as tape:
        loss = _hooked_loss(xg.asarray(X0), w)
    assert len(HOOKS) == 1
    twice = tape.gradient(loss, w).numpy()
    with xg.GradientTape() as tape:
        loss = xg.sum(xg.tanh(xg.asarray(X0) @ w))
    np.testing.assert_allclose(twice, 2 * tape.gradient(loss, w).numpy(), rtol=1e-12)
    del tape
    assert not HOOKS


def test_a_hook_registered_after_a_step_traced_makes_it_trace_anew():
    w = xg.Variable(W0)

    def step(x):
        with xg.GradientTape() as tape:
            loss = xg.sum(xg.tanh(x @ w))
        return tape.gradient(loss, w)

    traced, x = xg.function(step), xg.asarray(X0)
    plain = [traced(x).numpy() for _ in range(3)][-1]       # warm-up, trace, replay
    handle = w.register_hook(lambda g: g * 2)
    np.testing.assert_allclose(traced(x).numpy(), 2 * plain, rtol=1e-12)
    np.testing.assert_allclose(traced(x).numpy(), 2 * plain, rtol=1e-12)
    handle.remove()
    np.testing.assert_allclose(traced(x).numpy(), plain, rtol=1e-12)


def test_a_hook_registered_before_an_in_place_write_gets_the_old_values_gradient():
    """As torch's: the hook stays with the value it was registered on."""
    x = torch.tensor(X0[0], requires_grad=True)
    y = x * 2
    y.register_hook(lambda g: g * 10)
    y.mul_(3)
    (y * y).sum().backward()
    x_ = xg.asarray(X0[0])
    with xg.GradientTape() as tape:
        tape.watch(x_)
        y = x_ * 2
        y.register_hook(lambda g: g * 10)
        y *= 3
        loss = xg.sum(y * y)
    np.testing.assert_allclose(tape.gradient(loss, x_).numpy(), x.grad.numpy(), rtol=1e-12)
