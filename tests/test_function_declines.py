"""xg.function replays whose backend kernel declines for values the trace did not see (ties in
a row's maximum, a weight sum of 0), and replays reading a Variable whose array a write since
the trace gave another memory layout: each call must give the eager call's values and leave
the same state, never an internal error. (xpgrad/jit/declines.py, variable_layout.py)"""
import numpy as np
import pytest

import xpgrad as xg
from xpgrad.jit import declines
from xpgrad.jit.declines import KernelDeclinedAfterUpdate

torch = pytest.importorskip("torch")


@pytest.fixture
def declined(monkeypatch):
    """The kernel names whose declines replays met (the test checks that one declined)."""
    seen = []
    real = declines.DeclinePlan.declined

    def counting(plan, program, k):
        seen.append(plan.names.get(k))
        return real(plan, program, k)

    monkeypatch.setattr(declines.DeclinePlan, "declined", counting)
    return seen


def _max_gradient(x):
    with xg.GradientTape() as tape:
        tape.watch(x)
        y = xg.sum(xg.max(x, axis=-1) ** 2)
    return tape.gradient(y, x)


def _torch_max_gradient(x):
    t = torch.tensor(x, requires_grad=True)
    (torch.amax(t, dim=-1) ** 2).sum().backward()
    return t.grad.numpy()


def test_gradient_of_tied_maximum_matches_eager_and_torch(declined):
    rng = np.random.default_rng(0)
    step = xg.function(_max_gradient)
    untied = rng.standard_normal((5, 4))
    for _ in range(3):
        step(xg.asarray(untied))
    tied = untied.copy()
    tied[:, 1] = tied[:, 2] = 3.0              # each row's maximum twice: the kernel declines
    got = step(xg.asarray(tied)).numpy()
    assert declined, "the kernel ran: the test checks nothing"
    np.testing.assert_allclose(got, _max_gradient(xg.asarray(tied)).numpy(), rtol=1e-15)
    np.testing.assert_allclose(got, _torch_max_gradient(tied), rtol=1e-12)
    assert got[0, 1] == got[0, 2] == 3.0       # 2 * 3 shared by the two maxima
    assert step.trace_count == 1               # no retrace, and later calls still replay
    again = rng.standard_normal((5, 4))
    np.testing.assert_allclose(step(xg.asarray(again)).numpy(), _torch_max_gradient(again),
                               rtol=1e-12)
    assert len(declined) == 1


def test_replayed_maximum_gradient_matches_finite_differences():
    step = xg.function(_max_gradient)
    x = np.random.default_rng(1).standard_normal((3, 4))
    for _ in range(3):
        got = step(xg.asarray(x)).numpy()

    def f(a):
        return float(np.sum(np.max(a, axis=-1) ** 2))

    fd = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[i] = 1e-6
        fd[i] = (f(x + e) - f(x - e)) / 2e-6
    np.testing.assert_allclose(got, fd, rtol=1e-6, atol=1e-8)


def test_zero_weight_sum_declines_the_loss_kernel_and_gives_the_eager_nan(declined):
    log_probs = xg.asarray(np.log(np.full((4, 3), 1 / 3)))
    labels = xg.asarray(np.array([0, 1, 2, 0]))
    loss = xg.function(lambda lp, y, w: xg.losses.nll(lp, y, weight=w))
    for _ in range(3):
        assert loss(log_probs, labels, xg.asarray(np.array([1.0, 2.0, 3.0]))).item() \
            == pytest.approx(np.log(3))
    zero = xg.asarray(np.zeros(3))
    got = loss(log_probs, labels, zero).item()
    assert declined == ["_nll_forward"]
    eager = xg.losses.nll(log_probs, labels, weight=zero).item()
    assert np.isnan(got) and np.isnan(eager)
    assert loss(log_probs, labels, xg.asarray(np.array([1.0, 1.0, 1.0]))).item() \
        == pytest.approx(np.log(3))


def _update_then_max_gradient():
    """A step that updates ``w`` and then takes a gradient through a maximum of ``x``."""
    w = xg.Variable(np.array([1.0, -2.0, 0.5]))
    opt = xg.optim.SGD(0.1, momentum=0.9)

    def step(x):
        with xg.GradientTape() as tape:
            loss = xg.sum(w * w * xg.sum(x))
        opt.apply_gradients([(tape.gradient(loss, w), w)])
        return _max_gradient(x + w[0])

    return step, w, opt


def test_decline_after_an_update_raises_once_then_runs_eagerly(declined):
    rng = np.random.default_rng(2)
    untied = rng.standard_normal((2, 3))
    tied = np.array([[1.0, 1.0, 0.0], [-2.0, 3.0, 3.0]])
    calls = [untied] * 3 + [tied, tied, untied, tied]
    eager, w_eager, _ = _update_then_max_gradient()
    expected = [(eager(xg.asarray(x)).numpy(), w_eager.numpy()) for x in calls]
    step, w, _ = _update_then_max_gradient()
    step = xg.function(step)
    for k, x in enumerate(calls):
        if k == 3:       # the update was made: running the call again would make it twice
            with pytest.raises(KernelDeclinedAfterUpdate, match="apply that update twice"):
                step(xg.asarray(x))
            np.testing.assert_allclose(w.numpy(), expected[3][1], rtol=1e-15)
            continue
        got = step(xg.asarray(x)).numpy()
        np.testing.assert_allclose(got, expected[k][0], rtol=1e-14, err_msg=f"call {k}")
        np.testing.assert_allclose(w.numpy(), expected[k][1], rtol=1e-15, err_msg=f"call {k}")
    assert len(declined) == 3 and step.trace_count == 1


def test_decline_after_a_random_draw_runs_eagerly(declined):
    rng = xg.random.default_rng(3)

    def step(x):
        noise = rng.normal(size=(4,), dtype=xg.float64)
        return _max_gradient(x), noise

    step = xg.function(step)
    x = np.random.default_rng(4).standard_normal((2, 4))
    for _ in range(3):
        step(xg.asarray(x))
    tied = np.array([[2.0, 2.0, 0.0, 1.0], [0.0, 5.0, 5.0, 5.0]])
    got, noise = step(xg.asarray(tied))
    assert declined
    np.testing.assert_allclose(got.numpy(), _torch_max_gradient(tied), rtol=1e-12)
    assert noise.shape == (4,) and np.isfinite(noise.numpy()).all()


def test_a_program_without_kernels_after_updates_takes_no_snapshot():
    step, _, _ = _update_then_max_gradient()
    w = xg.Variable(np.ones(3))

    def update_last(x):
        g = _max_gradient(x)
        w.assign_add(xg.sum(g, axis=0))
        return g

    for fn, widened in ((update_last, False), (step, True)):
        f = xg.function(fn)
        for _ in range(3):
            f(xg.asarray(np.random.default_rng(5).standard_normal((2, 3))))
        program = f.programs()[0]
        assert program.snapshot is None          # nothing saved on a replay that never declined
        assert (program.declines.widened is not None) == widened


# -- Variables whose array changes layout after the trace ------------------------------------
def _rebind(v, array):
    """``v`` holding ``array`` as it is, as a library's own write does (``Variable._replace``,
    the in-place operators): no copy, so no C order."""
    v._data = array


@pytest.mark.parametrize("layout", ["fortran", "strided"])
def test_variable_rebound_to_another_layout_replays_its_values(layout, declined):
    a = np.random.default_rng(6).standard_normal((4, 6))
    w = xg.Variable(a)
    row_max = xg.function(lambda: xg.max(w, axis=-1))    # its kernel takes C order only
    for _ in range(3):
        row_max()
    new = 2 * a
    fresh = np.asfortranarray(new) if layout == "fortran" else \
        np.repeat(new, 2, axis=1)[:, ::2]
    assert not fresh.flags.c_contiguous
    _rebind(w, fresh)
    np.testing.assert_array_equal(row_max().numpy(), new.max(axis=-1))
    assert w._data.flags.c_contiguous and not declined
    np.testing.assert_array_equal(w.numpy(), new)


def test_training_step_after_a_transposed_rebind_matches_eager():
    rng = np.random.default_rng(7)
    x, y = rng.standard_normal((8, 3)), rng.standard_normal((8, 2))
    transposed = rng.standard_normal((2, 3)).T

    def make():
        w = xg.Variable(np.zeros((3, 2)))
        opt = xg.optim.Adam(0.05)

        def step(x, y):
            with xg.GradientTape() as tape:
                flat = xg.reshape(w, (6,))
                loss = xg.mean((x @ w - y) ** 2) + 0.1 * xg.sum(flat * flat)
            opt.apply_gradients([(tape.gradient(loss, w), w)])
            return loss

        return step, w

    results = []
    for compiled in (False, True):
        step, w = make()
        step = xg.function(step) if compiled else step
        losses = []
        for k in range(6):
            if k == 3:
                _rebind(w, transposed.copy(order="K"))
            losses.append(step(xg.asarray(x), xg.asarray(y)).item())
        results.append((losses, w.numpy()))
    (eager_losses, eager_w), (got_losses, got_w) = results
    np.testing.assert_allclose(got_losses, eager_losses, rtol=1e-13)
    np.testing.assert_allclose(got_w, eager_w, rtol=1e-13)
    assert not np.allclose(got_w, transposed)       # the updates reached the Variable


def test_variable_traced_in_fortran_order_is_traced_in_c_order():
    a = np.random.default_rng(8).standard_normal((3, 5))
    w = xg.Variable(a)
    _rebind(w, np.asfortranarray(a))
    row_max = xg.function(lambda: xg.max(w, axis=-1))
    for _ in range(2):
        np.testing.assert_array_equal(row_max().numpy(), a.max(axis=-1))
    assert w._data.flags.c_contiguous
    assert "flags.c_contiguous" in row_max.programs()[0].source
