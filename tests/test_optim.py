"""Optimizers: a few steps against the published formulas (NumPy, written out here) and against
torch.optim; None gradients, minimize, schedules, clipping, in-place updates, errors."""
import weakref

import numpy as np
import pytest

import xpgrad as xg
from xpgrad import optim

STEPS = 5


@pytest.fixture
def problem(rng):
    w0 = rng.standard_normal((3, 4))
    grads = [rng.standard_normal((3, 4)) for _ in range(STEPS)]
    return w0, grads


def _run(opt, w0, grads):
    v = xg.Variable(w0.copy(), name="w")
    for g in grads:
        opt.apply_gradients([(xg.asarray(g), v)])
    return v.numpy()


# -- the published update rules, written out in NumPy -----------------------------------------
def ref_sgd(w, grads, lr, momentum=0.0, nesterov=False, wd=0.0):
    v = np.zeros_like(w)
    for g in grads:
        g = g + wd * w
        if momentum:
            v = momentum * v + g
            g = g + momentum * v if nesterov else v
        w = w - lr * g
    return w


def ref_adagrad(w, grads, lr, eps=1e-10, init=0.0):
    a = np.full_like(w, init)
    for g in grads:
        a = a + g * g
        w = w - lr * g / (np.sqrt(a) + eps)
    return w


def ref_adadelta(w, grads, lr=1.0, rho=0.9, eps=1e-6):
    eg, edx = np.zeros_like(w), np.zeros_like(w)
    for g in grads:
        eg = rho * eg + (1 - rho) * g * g
        d = np.sqrt(edx + eps) / np.sqrt(eg + eps) * g
        edx = rho * edx + (1 - rho) * d * d
        w = w - lr * d
    return w


def ref_rmsprop(w, grads, lr, rho=0.99, momentum=0.0, eps=1e-8):
    s, b = np.zeros_like(w), np.zeros_like(w)
    for g in grads:
        s = rho * s + (1 - rho) * g * g
        if momentum:
            b = momentum * b + g / (np.sqrt(s) + eps)
            w = w - lr * b
        else:
            w = w - lr * g / (np.sqrt(s) + eps)
    return w


def ref_adam(w, grads, lr, b1=0.9, b2=0.999, eps=1e-8, wd=0.0, decoupled=False):
    m, v = np.zeros_like(w), np.zeros_like(w)
    for t, g in enumerate(grads, start=1):
        if decoupled:
            w = w * (1 - lr * wd)
        else:
            g = g + wd * w
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        mhat, vhat = m / (1 - b1**t), v / (1 - b2**t)
        w = w - lr * mhat / (np.sqrt(vhat) + eps)
    return w


CASES = [
    ("sgd", lambda: optim.SGD(0.1), lambda w, gs: ref_sgd(w, gs, 0.1)),
    ("sgd wd", lambda: optim.SGD(0.1, weight_decay=0.05),
     lambda w, gs: ref_sgd(w, gs, 0.1, wd=0.05)),
    ("momentum", lambda: optim.SGD(0.1, momentum=0.9),
     lambda w, gs: ref_sgd(w, gs, 0.1, 0.9)),
    ("nesterov", lambda: optim.SGD(0.1, momentum=0.9, nesterov=True),
     lambda w, gs: ref_sgd(w, gs, 0.1, 0.9, True)),
    ("adagrad", lambda: optim.Adagrad(0.1, initial_accumulator_value=0.1),
     lambda w, gs: ref_adagrad(w, gs, 0.1, init=0.1)),
    ("adadelta", lambda: optim.Adadelta(), lambda w, gs: ref_adadelta(w, gs)),
    ("rmsprop", lambda: optim.RMSprop(0.01), lambda w, gs: ref_rmsprop(w, gs, 0.01)),
    ("rmsprop momentum", lambda: optim.RMSprop(0.01, momentum=0.9),
     lambda w, gs: ref_rmsprop(w, gs, 0.01, momentum=0.9)),
    ("adam", lambda: optim.Adam(0.01), lambda w, gs: ref_adam(w, gs, 0.01)),
    ("adam l2", lambda: optim.Adam(0.01, weight_decay=0.1),
     lambda w, gs: ref_adam(w, gs, 0.01, wd=0.1)),
    ("adamw", lambda: optim.AdamW(0.01, weight_decay=0.1),
     lambda w, gs: ref_adam(w, gs, 0.01, wd=0.1, decoupled=True)),
]


@pytest.mark.parametrize("name, make, ref", CASES, ids=[c[0] for c in CASES])
def test_matches_published_formula(name, make, ref, problem):
    w0, grads = problem
    np.testing.assert_allclose(_run(make(), w0, grads), ref(w0, grads), rtol=1e-12, atol=1e-14)


TORCH_CASES = [
    ("SGD", {"learning_rate": 0.1}, {"lr": 0.1}),
    ("SGD", {"learning_rate": 0.1, "momentum": 0.9, "weight_decay": 0.01},
     {"lr": 0.1, "momentum": 0.9, "weight_decay": 0.01}),
    ("SGD", {"learning_rate": 0.1, "momentum": 0.8, "nesterov": True},
     {"lr": 0.1, "momentum": 0.8, "nesterov": True}),
    ("Adagrad", {"learning_rate": 0.1, "initial_accumulator_value": 0.1, "weight_decay": 0.01},
     {"lr": 0.1, "initial_accumulator_value": 0.1, "weight_decay": 0.01}),
    ("Adadelta", {"learning_rate": 0.5, "rho": 0.8, "epsilon": 1e-5},
     {"lr": 0.5, "rho": 0.8, "eps": 1e-5}),
    ("RMSprop", {"learning_rate": 0.01, "rho": 0.9}, {"lr": 0.01, "alpha": 0.9}),
    ("RMSprop", {"learning_rate": 0.01, "momentum": 0.9, "weight_decay": 0.01},
     {"lr": 0.01, "momentum": 0.9, "weight_decay": 0.01}),
    ("Adam", {"learning_rate": 0.01, "beta_1": 0.8, "beta_2": 0.99, "weight_decay": 0.01},
     {"lr": 0.01, "betas": (0.8, 0.99), "weight_decay": 0.01}),
    ("AdamW", {"learning_rate": 0.01, "weight_decay": 0.1}, {"lr": 0.01, "weight_decay": 0.1}),
]


@pytest.mark.parametrize("cls, ours, theirs", TORCH_CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(TORCH_CASES)])
def test_matches_torch_optim(cls, ours, theirs, problem):
    torch = pytest.importorskip("torch", reason="PyTorch not installed")
    w0, grads = problem
    p = torch.nn.Parameter(torch.tensor(w0.copy()))
    topt = getattr(torch.optim, cls)([p], **theirs)
    for g in grads:
        p.grad = torch.tensor(g)
        topt.step()
    np.testing.assert_allclose(_run(getattr(optim, cls)(**ours), w0, grads),
                               p.detach().numpy(), rtol=1e-12, atol=1e-14)


def test_float32_variables_stay_float32_and_update_in_place(problem):
    w0, grads = problem
    user = w0.astype(np.float32)
    v = xg.Variable(user, name="w")
    opt = optim.Adam(0.01)
    opt.apply_gradients([(xg.asarray(grads[0]), v)])     # float64 grad cast to the variable
    first = weakref.ref(v._data)                 # (holding the array would make a copy)
    opt.apply_gradients([(xg.asarray(grads[1].astype(np.float32)), v)])
    assert v._data is first()                     # updated in place after the first step
    assert v.dtype == xg.float32
    np.testing.assert_array_equal(user, w0.astype(np.float32))   # caller's array untouched
    np.testing.assert_allclose(v.numpy(), ref_adam(w0, grads[:2], 0.01), rtol=1e-5)


def test_none_gradient_is_skipped():
    a, b = xg.Variable([1.0], name="a"), xg.Variable([2.0], name="b")
    opt = optim.Adam(0.1)
    assert opt.apply_gradients([(xg.asarray([1.0]), a), (None, b)]) == 1
    assert b.tolist() == [2.0] and a.tolist() != [1.0]
    assert list(opt.state_dict([a, b])) == ["iterations", "learning_rate", "a/m", "a/v",
                                            "a/step"]


def test_minimize_records_its_own_tape():
    w = xg.Variable([3.0, -2.0], name="w")
    frozen = xg.Variable([1.0], name="f", trainable=False)
    opt = optim.SGD(0.25)
    loss = opt.minimize(lambda: xg.sum(w * w) + xg.sum(frozen))
    assert loss.item() == 14.0
    assert w.tolist() == [1.5, -1.0] and frozen.tolist() == [1.0]
    model = xg.nn.Linear(2, 1, rng=0)
    before = model.w.numpy().copy()
    optim.SGD(0.1).minimize(lambda: xg.sum(model(xg.ones((1, 2)))), model)
    np.testing.assert_allclose(model.w.numpy(), before - 0.1)


def test_every_optimizer_reduces_a_quadratic():
    target = np.array([1.0, -2.0, 3.0])
    for name in optim.OPTIMIZERS:
        w = xg.Variable(np.zeros(3), name="w")
        opt = optim.get(name, learning_rate=20.0 if name == "adadelta" else 0.1)
        first = opt.minimize(lambda: xg.sum((w - target) ** 2), [w]).item()
        for _ in range(50):
            last = opt.minimize(lambda: xg.sum((w - target) ** 2), [w]).item()
        assert last < 0.5 * first, name


def test_schedules():
    s = optim.ExponentialDecay(1.0, decay_steps=10, decay_rate=0.5, staircase=True)
    assert [s(i) for i in (0, 9, 10, 25)] == [1.0, 1.0, 0.5, 0.25]
    assert optim.StepDecay(1.0, step_size=3, gamma=0.5)(7) == 0.25
    c = optim.CosineDecay(2.0, decay_steps=4, alpha=0.5)
    assert [c(i) for i in (0, 2, 4, 100)] == pytest.approx([2.0, 1.5, 1.0, 1.0])
    w = xg.Variable([0.0])
    opt = optim.SGD(learning_rate=lambda step: 0.1 * (step + 1))
    for _ in range(3):
        assert opt.learning_rate == pytest.approx(0.1 * (opt.iterations + 1))
        opt.apply_gradients([(xg.asarray([1.0]), w)])
    assert w.item() == pytest.approx(-0.6)
    with pytest.raises(TypeError, match="learning_rate must be a float or a callable"):
        optim.SGD(learning_rate="fast")


def test_clip_global_norm(rng):
    gs = [rng.standard_normal((3, 2)), rng.standard_normal(4)]
    norm = np.sqrt(sum((g**2).sum() for g in gs))
    clipped, got = optim.clip_global_norm([xg.asarray(gs[0]), None, xg.asarray(gs[1])],
                                          norm / 2)
    assert got.item() == pytest.approx(norm) and clipped[1] is None
    np.testing.assert_allclose(clipped[0].numpy(), gs[0] / 2)
    np.testing.assert_allclose(clipped[2].numpy(), gs[1] / 2)
    same, _ = optim.clip_global_norm([xg.asarray(gs[0])], 1e9)
    np.testing.assert_allclose(same[0].numpy(), gs[0])
    v = xg.Variable(np.zeros(4))
    optim.SGD(1.0, global_clipnorm=1.0).apply_gradients([(xg.asarray(gs[1]), v)])
    np.testing.assert_allclose(v.numpy(), -gs[1] / np.linalg.norm(gs[1]))
    with pytest.raises(ValueError, match="max_norm must be a finite number > 0, got 0.0"):
        optim.clip_global_norm(clipped, 0.0)


def test_bad_calls_raise_clear_errors():
    w = xg.Variable([1.0, 2.0], name="w")
    opt = optim.SGD(0.1)
    with pytest.raises(TypeError, match="updates Variables in place"):
        opt.apply_gradients([(xg.asarray([1.0, 1.0]), xg.asarray([1.0, 2.0]))])
    with pytest.raises(ValueError, match=r"gradient for 'w' has shape \(3,\)"):
        opt.apply_gradients([(xg.asarray([1.0, 1.0, 1.0]), w)])
    with pytest.raises(ValueError, match="appears twice"):
        opt.apply_gradients([(xg.asarray([1.0, 1.0]), w)] * 2)
    with pytest.raises(ValueError, match="SGD: nesterov=True needs momentum > 0"):
        optim.SGD(0.1, nesterov=True)
    with pytest.raises(ValueError, match=r"beta_1 must be a finite number in \[0, 1\), got 1.0"):
        optim.Adam(beta_1=1.0)
    with pytest.raises(ValueError, match="unknown optimizer 'lamb'"):
        optim.get("lamb")



# -- hyperparameters at the boundary -----------------------------------------------------------
NAN, INF = float("nan"), float("inf")
BAD_HYPERPARAMETERS = [
    (optim.SGD, dict(learning_rate=NAN), "learning_rate", "nan"),
    (optim.SGD, dict(learning_rate=INF), "learning_rate", "inf"),
    (optim.SGD, dict(learning_rate=-0.1), "learning_rate", "-0.1"),
    (optim.Adam, dict(learning_rate=np.float32("nan")), "learning_rate", "nan"),
    (optim.SGD, dict(momentum=NAN), "momentum", "nan"),
    (optim.SGD, dict(momentum=-0.5), "momentum", "-0.5"),
    (optim.SGD, dict(momentum=1.0), "momentum", "1.0"),
    (optim.SGD, dict(weight_decay=NAN), "weight_decay", "nan"),
    (optim.SGD, dict(weight_decay=-1e-4), "weight_decay", "-0.0001"),
    (optim.AdamW, dict(weight_decay=INF), "weight_decay", "inf"),
    (optim.SGD, dict(global_clipnorm=NAN), "global_clipnorm", "nan"),
    (optim.SGD, dict(global_clipnorm=0.0), "global_clipnorm", "0.0"),
    (optim.Adam, dict(global_clipnorm=-1), "global_clipnorm", "-1.0"),
    (optim.Adam, dict(epsilon=-1e-8), "epsilon", "-1e-08"),
    (optim.Adam, dict(epsilon=0.0), "epsilon", "0.0"),
    (optim.Adam, dict(epsilon=NAN), "epsilon", "nan"),
    (optim.Adagrad, dict(epsilon=-1.0), "epsilon", "-1.0"),
    (optim.Adagrad, dict(initial_accumulator_value=-1.0), "initial_accumulator_value", "-1.0"),
    (optim.Adadelta, dict(rho=1.0), "rho", "1.0"),
    (optim.Adadelta, dict(rho=NAN), "rho", "nan"),
    (optim.Adadelta, dict(epsilon=0), "epsilon", "0.0"),
    (optim.RMSprop, dict(rho=-0.1), "rho", "-0.1"),
    (optim.RMSprop, dict(momentum=NAN), "momentum", "nan"),
    (optim.RMSprop, dict(momentum=1.5), "momentum", "1.5"),
    (optim.RMSprop, dict(epsilon=INF), "epsilon", "inf"),
    (optim.Adam, dict(beta_1=NAN), "beta_1", "nan"),
    (optim.Adam, dict(beta_2=1.0), "beta_2", "1.0"),
    (optim.AdamW, dict(beta_2=-0.1), "beta_2", "-0.1"),
    (optim.Adamax, dict(learning_rate=-0.1), "learning_rate", "-0.1"),
    (optim.Adamax, dict(beta_1=1.0), "beta_1", "1.0"),
    (optim.Adamax, dict(epsilon=0.0), "epsilon", "0.0"),
    (optim.NAdam, dict(learning_rate=-1e-3), "learning_rate", "-0.001"),
    (optim.NAdam, dict(beta_2=1.5), "beta_2", "1.5"),
    (optim.NAdam, dict(beta_1=-0.1), "beta_1", "-0.1"),
    (optim.NAdam, dict(epsilon=-1e-8), "epsilon", "-1e-08"),
    (optim.NAdam, dict(momentum_decay=-4e-3), "momentum_decay", "-0.004"),
    (optim.NAdam, dict(weight_decay=NAN), "weight_decay", "nan"),
    (optim.RAdam, dict(learning_rate=INF), "learning_rate", "inf"),
    (optim.RAdam, dict(beta_2=1.0), "beta_2", "1.0"),
    (optim.RAdam, dict(epsilon=0), "epsilon", "0.0"),
]


@pytest.mark.parametrize("cls, kwargs, name, value", BAD_HYPERPARAMETERS,
                         ids=[f"{c.__name__}-{n}={v}" for c, _, n, v in BAD_HYPERPARAMETERS])
def test_invalid_hyperparameters_raise_naming_argument_and_value(cls, kwargs, name, value):
    with pytest.raises(ValueError, match=rf"^{cls.__name__}: {name} must be a finite number "
                                         rf".*, got {value}$"):
        cls(**kwargs)


@pytest.mark.parametrize("value", ["0.1", True, 1j, [0.1], np.array([0.1, 0.2]), None])
def test_hyperparameters_of_the_wrong_type_raise_type_error(value):
    with pytest.raises(TypeError, match="learning_rate must be a"):
        optim.SGD(learning_rate=value)
    with pytest.raises(TypeError, match="momentum must be a real number"):
        optim.SGD(0.1, momentum=value if value is not None else "x")


@pytest.mark.parametrize("value", [np.float32(0.1), np.float64(0.1), np.int64(1), 1,
                                   np.array(0.1), xg.asarray(0.1)])
def test_numpy_scalars_and_0d_tensors_are_accepted(value):
    for cls in optim.OPTIMIZERS.values():
        opt = cls(learning_rate=value)
        assert isinstance(opt.learning_rate, float)
        assert opt.learning_rate == pytest.approx(float(value))
    opt = optim.Adam(value, beta_1=np.float32(0.5), epsilon=np.float64(1e-7),
                     weight_decay=np.int64(0), global_clipnorm=xg.asarray(1.0))
    w = xg.Variable([1.0], name="w")
    opt.apply_gradients([(xg.asarray([1.0]), w)])
    assert np.isfinite(w.numpy()).all() and w.tolist() != [1.0]


def test_schedules_check_their_arguments():
    with pytest.raises(ValueError, match="decay_steps must be a positive integer, got 0"):
        optim.ExponentialDecay(0.1, decay_steps=0, decay_rate=0.5)
    with pytest.raises(ValueError, match="decay_steps must be a positive integer, got 2.5"):
        optim.CosineDecay(0.1, decay_steps=2.5)
    with pytest.raises(ValueError, match="decay_rate must be a finite number > 0, got nan"):
        optim.ExponentialDecay(0.1, decay_steps=10, decay_rate=NAN)
    with pytest.raises(ValueError, match="initial_learning_rate must be a finite number >= 0"):
        optim.StepDecay(INF, step_size=2)
    with pytest.raises(ValueError, match="gamma must be a finite number >= 0, got -0.5"):
        optim.StepDecay(0.1, step_size=2, gamma=-0.5)
    with pytest.raises(ValueError, match=r"alpha must be a finite number in \[0, 1\], got 2.0"):
        optim.CosineDecay(0.1, decay_steps=10, alpha=2.0)
    assert optim.StepDecay(1.0, step_size=np.int64(2))(4) == pytest.approx(0.01)


@pytest.mark.parametrize("bad", [NAN, INF, -0.1, "fast"])
def test_a_schedule_returning_a_bad_value_raises_at_that_step(bad):
    w = xg.Variable([1.0, 2.0], name="w")
    opt = optim.SGD(learning_rate=lambda step: 0.1 if step < 2 else bad)
    for _ in range(2):
        opt.apply_gradients([(xg.asarray([1.0, 1.0]), w)])
    before = w.tolist()
    error = TypeError if isinstance(bad, str) else ValueError
    with pytest.raises(error, match="learning-rate schedule .* returned .* at step 2"):
        opt.apply_gradients([(xg.asarray([1.0, 1.0]), w)])
    assert w.tolist() == before and opt.iterations == 2     # nothing changed


def test_all_none_gradients_raise_listing_the_variables():
    a, b = xg.Variable([1.0], name="a"), xg.Variable([2.0], name="b")
    opt = optim.Adam(0.1)
    with pytest.raises(ValueError, match=r"No gradients provided for any variable: \['a', 'b'\]"):
        opt.apply_gradients([(None, a), (None, b)])
    assert opt.iterations == 0
    with pytest.raises(ValueError, match="got no \\(gradient, variable\\) pairs"):
        opt.apply_gradients([])
    c = xg.Variable([3.0], name="c")
    with pytest.raises(ValueError, match=r"No gradients provided for any variable: \['c'\]"):
        opt.minimize(lambda: xg.sum(a * a), [c])       # the loss does not touch c
    with pytest.raises(TypeError, match="takes \\(gradient, variable\\) pairs"):
        opt.apply_gradients([a, b])


def test_integer_variables_are_refused_by_name():
    w = xg.Variable(np.array([1, 2]), name="counts")
    for g in (None, xg.asarray([1, 1])):
        with pytest.raises(TypeError, match="variable 'counts' has dtype int64 and cannot be "
                                            "trained"):
            optim.SGD(0.1).apply_gradients([(g, w)])
    assert w.tolist() == [1, 2]


@pytest.mark.parametrize("make", [lambda: optim.SGD(0.1, momentum=0.5), lambda: optim.Adam(0.1)])
def test_complex_variables_train(make):
    """SGD updates a complex variable as it is; Adam as pairs of reals (as PyTorch): both
    descend |w|**2. PyTorch's updates step by step: tests/test_complex_gradients.py."""
    w = xg.Variable(np.array([1 + 1j, -2 + 0.5j]), name="z")
    opt = make()
    for _ in range(300):
        opt.minimize(lambda: xg.sum(xg.real(w * xg.conj(w))), [w])
    assert np.abs(w.numpy()).max() < 1e-3


def test_nesterov_must_be_a_bool():
    with pytest.raises(TypeError, match="nesterov must be True or False, got 'yes'"):
        optim.SGD(0.1, momentum=0.9, nesterov="yes")
    assert optim.SGD(0.1, momentum=0.9, nesterov=np.bool_(True)).nesterov is True


def test_optimizer_learning_rate_refuses_what_it_cannot_follow():
    with pytest.raises(TypeError, match="learning_rate is a Variable, whose later assign"):
        xg.optim.SGD(xg.Variable(0.1))
    with pytest.raises(TypeError, match="learning_rate is the class CosineDecay"):
        xg.optim.SGD(xg.optim.CosineDecay)
    opt = xg.optim.Adam(xg.optim.CosineDecay(0.1, 10))
    for bad, error in ((-3, ValueError), (2.5, ValueError), ("x", TypeError), (True, TypeError)):
        with pytest.raises(error, match="Adam: iterations must be"):
            opt.iterations = bad
    opt.iterations = 4
    assert opt.iterations == 4
