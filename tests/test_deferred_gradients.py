"""Plain SGD's eager fold of a dense layer's weight gradient into its update
(``xpgrad/deferred.py``): training equals the unfolded run to float rounding; a gradient that is
read, kept or handed to anything else is the ordinary one, computed from the values at
``tape.gradient`` time; every case the fold does not take gives ordinary gradients."""
import numpy as np
import pytest

import xpgrad as xg
from xpgrad import deferred
from xpgrad.deferred import DeferredGradient
from xpgrad.jit.capture import current_tracer
from xpgrad.jit.sgd_gemm import gemm_available

needs_gemm = pytest.mark.skipif(not gemm_available(), reason="no BLAS gemm for the fold")
BACKENDS = ["numpy", "numba"]
# a first layer whose weight gradient is deferred: 300 * 64 * 128 multiply-adds (over
# blas.MIN_WORK), factors (64 rows of 300 + 128) smaller than the 300x128 gradient
N_IN, N_HIDDEN, N_OUT, BATCH = 300, 128, 10, 64


def _data(batch=BATCH, dtype=np.float32, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(batch, N_IN)).astype(dtype), rng.integers(0, N_OUT, batch)


def _model(backend, dtype="float32"):
    return xg.nn.MLP([N_IN, N_HIDDEN, N_OUT], rng=3, backend=backend, dtype=dtype)


def _loss(model, x, y, backend):
    return xg.losses.softmax_cross_entropy(model(xg.asarray(x, backend=backend)),
                                           xg.asarray(y, backend=backend))


def _gradients(model, x, y, backend="numba"):
    """The gradients of ``_loss`` with respect to every trainable variable of ``model``."""
    with xg.GradientTape() as tape:
        loss = _loss(model, x, y, backend)
    return tape.gradient(loss, model.trainable_variables)


def _train(backend, fold, steps=4, make_opt=lambda: xg.optim.SGD(0.05), batch=BATCH,
           dtype=np.float32):
    """(final weights, per-step losses, per-step gradient types) of ``steps`` SGD steps; with
    ``fold`` False no weight is ever marked for the fold."""
    model = _model(backend, np.dtype(dtype).name)
    opt = make_opt()
    params = model.trainable_variables
    losses, kinds = [], []
    for step in range(steps):
        x, y = _data(batch, dtype, seed=step)
        if not fold:
            deferred.FOLDABLE.difference_update(p._key for p in params)
        with xg.GradientTape() as tape:
            loss = _loss(model, x, y, backend)
        grads = tape.gradient(loss, params)
        kinds.append([type(g) for g in grads])
        opt.apply_gradients(zip(grads, params))
        losses.append(float(loss))
    return [p.numpy() for p in params], losses, kinds


@needs_gemm
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("backend", BACKENDS)
def test_training_with_the_fold_equals_training_without(backend, dtype):
    folded, folded_losses, kinds = _train(backend, True, dtype=dtype)
    plain, plain_losses, plain_kinds = _train(backend, False, dtype=dtype)
    # the first step hints the weights; from the second on, the first layer's is deferred
    assert kinds[0][0] is not DeferredGradient
    assert all(k[0] is DeferredGradient for k in kinds[1:])
    assert all(k[2] is not DeferredGradient for k in kinds)   # 128x10: too small to pay
    assert all(k[0] is not DeferredGradient for k in plain_kinds)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(folded_losses, plain_losses, rtol=tol)
    for a, b in zip(folded, plain):
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


def _hinted(backend="numba"):
    """A model whose weights a plain SGD step has marked, and that optimizer."""
    model = _model(backend)
    opt = xg.optim.SGD(0.05)
    opt.apply_gradients(zip(_gradients(model, *_data(), backend), model.trainable_variables))
    return model, opt


def _reference_gradients(model, x, y, backend="numba"):
    params = model.trainable_variables
    saved = {p._key for p in params} & deferred.FOLDABLE
    deferred.FOLDABLE.difference_update(saved)
    try:
        return [g.numpy() for g in _gradients(model, x, y, backend)]
    finally:
        deferred.FOLDABLE.update(saved)


@needs_gemm
def test_a_read_gradient_is_the_product_and_is_not_folded_again():
    model, opt = _hinted()
    params = model.trainable_variables
    x, y = _data(seed=5)
    expected = _reference_gradients(model, x, y)
    grads = _gradients(model, x, y)
    assert type(grads[0]) is DeferredGradient and grads[0].pending() is not None
    assert grads[0].shape == (N_IN, N_HIDDEN)
    np.testing.assert_allclose(grads[0].numpy(), expected[0], rtol=1e-6, atol=1e-7)
    assert grads[0].pending() is None and params[0]._key not in deferred.FOLDABLE
    before = params[0].numpy()
    opt.apply_gradients(zip(grads, params))          # an ordinary update of the read value
    np.testing.assert_allclose(params[0].numpy(), before - 0.05 * expected[0], rtol=1e-5,
                               atol=1e-7)


@needs_gemm
def test_an_input_changed_in_place_after_the_gradient_does_not_reach_it():
    # gradient accumulation over micro-batches read into one buffer (a loader reusing it)
    model, opt = _hinted()
    params = model.trainable_variables
    buffer = np.empty((BATCH, N_IN), np.float32)
    batches = [_data(seed=s) for s in (7, 8)]
    expected = [_reference_gradients(model, x, y) for x, y in batches]
    kept = []
    for x, y in batches:
        buffer[...] = x
        with xg.GradientTape() as tape:
            loss = xg.losses.softmax_cross_entropy(model(xg.asarray(buffer, backend="numba")),
                                                   xg.asarray(y, backend="numba"))
        kept.append(tape.gradient(loss, params))
    assert type(kept[0][0]) is DeferredGradient and kept[0][0].pending() is not None
    total = kept[0][0] + kept[1][0]
    np.testing.assert_allclose(total.numpy(), expected[0][0] + expected[1][0], rtol=1e-5,
                               atol=1e-6)



@needs_gemm
@pytest.mark.parametrize("backend", BACKENDS)
def test_the_fold_runs_after_the_ordinary_updates(backend, monkeypatch):
    # the fold's gemm streams the whole weight through the caches: the small updates go first,
    # on the gradients the walk has just written
    model, opt = _hinted(backend)
    params = model.trainable_variables
    x, y = _data(seed=6)
    expected = _reference_gradients(model, x, y, backend)
    before = [p.numpy() for p in params]
    order = []
    fold, update = type(opt)._fold, type(opt)._update

    def recorded_fold(self, param, product, lr):
        order.append("fold")
        return fold(self, param, product, lr)

    def recorded_update(self, be, param, grad, state, lr):
        order.append("update")
        return update(self, be, param, grad, state, lr)

    monkeypatch.setattr(type(opt), "_fold", recorded_fold)
    monkeypatch.setattr(type(opt), "_update", recorded_update)
    grads = _gradients(model, x, y, backend)
    assert type(grads[0]) is DeferredGradient
    opt.apply_gradients(zip(grads, params))
    assert order == ["update"] * (len(params) - 1) + ["fold"]
    for p, b, g in zip(params, before, expected):
        np.testing.assert_allclose(p.numpy(), b - 0.05 * g, rtol=1e-5, atol=1e-6)

@needs_gemm
def test_the_same_source_twice_gets_two_arrays():
    model, _ = _hinted()
    w = model.trainable_variables[0]
    x, y = _data(seed=2)
    with xg.GradientTape() as tape:
        loss = _loss(model, x, y, "numba")
    first, second = tape.gradient(loss, [w, w])
    assert type(first) is DeferredGradient
    a, b = first.numpy(), second.numpy()
    np.testing.assert_array_equal(a, b)
    assert not np.shares_memory(a, b)


@needs_gemm
def test_a_weight_read_twice_sums_both_contributions():
    n = 256
    rng = np.random.default_rng(4)
    w = xg.Variable(rng.normal(size=(n, n)).astype(np.float32) / 16, name="w")
    b = xg.Variable(np.zeros(n, np.float32), name="b")
    x = xg.asarray(rng.normal(size=(32, n)).astype(np.float32))
    opt = xg.optim.SGD(0.01)

    def gradient():
        with xg.GradientTape() as tape:
            h = xg.nn.linear(x, w, b, activation="relu")
            loss = xg.sum(xg.nn.linear(h, w, b, activation="relu"))
        return tape.gradient(loss, [w, b])

    opt.apply_gradients(zip(gradient(), [w, b]))     # marks w
    deferred.FOLDABLE.discard(w._key)
    expected = gradient()[0].numpy()
    deferred.FOLDABLE.add(w._key)
    got = gradient()[0]
    assert type(got) is not DeferredGradient          # two products, added: computed
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("make_opt", [
    lambda: xg.optim.SGD(0.05, momentum=0.9),
    lambda: xg.optim.SGD(0.05, weight_decay=1e-3),
    lambda: xg.optim.SGD(0.05, clipnorm=1.0),
    lambda: xg.optim.Adam(1e-3),
], ids=["momentum", "weight_decay", "clipnorm", "adam"])
def test_other_updates_get_ordinary_gradients(make_opt):
    _, _, kinds = _train("numba", True, steps=3, make_opt=make_opt)
    assert not any(DeferredGradient in k for k in kinds)


def test_a_large_batch_gets_ordinary_gradients():
    # 512 rows of 300 + 128 entries outweigh the 300x128 gradient
    _, _, kinds = _train("numba", True, steps=3, batch=512)
    assert not any(DeferredGradient in k for k in kinds)


@needs_gemm
def test_nested_tapes_hooks_and_traces_get_ordinary_gradients():
    model, opt = _hinted()
    params = model.trainable_variables
    x, y = _data(seed=9)
    with xg.GradientTape() as outer:
        with xg.GradientTape() as inner:
            loss = _loss(model, x, y, "numba")
        grads = inner.gradient(loss, params)          # recorded by the outer tape
    assert type(grads[0]) is not DeferredGradient
    del outer
    with xg.GradientTape() as tape:
        loss = _loss(model, x, y, "numba")
    tape._walk_hook = lambda index, grads: None        # a distributed tape's
    assert type(tape.gradient(loss, params)[0]) is not DeferredGradient

    seen = []

    @xg.function
    def step(x, y):
        with xg.GradientTape() as tape:
            loss = xg.losses.softmax_cross_entropy(model(x), y)
        grads = tape.gradient(loss, params)
        seen.append((current_tracer() is not None, [type(g) for g in grads]))
        opt.apply_gradients(zip(grads, params))
        return loss

    for _ in range(3):      # a first call runs eagerly, the second traces, the third replays
        step(xg.asarray(x, backend="numba"), xg.asarray(y, backend="numba"))
    traced = [kinds for tracing, kinds in seen if tracing]
    assert traced and not any(DeferredGradient in k for k in traced)


@needs_gemm
def test_a_deferred_gradient_for_another_variable_is_refused_by_name():
    model, opt = _hinted()
    g = _gradients(model, *_data(seed=1))[0]
    assert type(g) is DeferredGradient
    other = xg.Variable(np.zeros((N_HIDDEN, N_IN), np.float32), name="other", backend="numba")
    with pytest.raises(ValueError, match="gradient for 'other' has shape"):
        opt.apply_gradients([(g, other)])


def test_a_kernel_that_defers_needs_needs():
    with pytest.raises(ValueError, match="defers"):
        xg.backend.Kernel(lambda x, w: None, lambda g, saved, x, w: (None, None), defers=(1,))


@needs_gemm
@pytest.mark.parametrize("backend", BACKENDS)
def test_a_product_written_with_the_operator_is_folded_too(backend):
    rng = np.random.default_rng(6)

    def train(fold):
        w = xg.Variable(rng_w.normal(size=(N_IN, N_HIDDEN)).astype(np.float32) / 20,
                        backend=backend)
        b = xg.Variable(np.zeros(N_HIDDEN, np.float32), backend=backend)
        opt = xg.optim.SGD(0.1)
        kinds = []
        for x, target in batches:
            if not fold:
                deferred.FOLDABLE.discard(w._key)
            with xg.GradientTape() as tape:
                h = xg.tanh(xg.asarray(x, backend=backend) @ w + b)
                loss = xg.mean((h - xg.asarray(target, backend=backend)) ** 2)
            grads = tape.gradient(loss, [w, b])
            kinds.append(type(grads[0]))
            opt.apply_gradients(zip(grads, [w, b]))
        return w.numpy(), kinds

    batches = [(rng.normal(size=(BATCH, N_IN)).astype(np.float32),
                rng.normal(size=(BATCH, N_HIDDEN)).astype(np.float32)) for _ in range(3)]
    rng_w = np.random.default_rng(1)
    folded, kinds = train(True)
    rng_w = np.random.default_rng(1)
    plain, plain_kinds = train(False)
    assert kinds[1:] == [DeferredGradient] * 2 and DeferredGradient not in plain_kinds
    np.testing.assert_allclose(folded, plain, rtol=1e-5, atol=1e-7)


@needs_gemm
def test_a_deferred_gradient_copies_and_pickles_as_its_value():
    import copy
    import pickle

    model, _ = _hinted()
    x, y = _data(seed=3)
    expected = _reference_gradients(model, x, y)[0]
    w = model.trainable_variables[0]
    for copied in (copy.deepcopy, lambda t: pickle.loads(pickle.dumps(t))):
        deferred.FOLDABLE.add(w._key)      # a read (the last round's) unmarks the weight
        g = _gradients(model, x, y)[0]
        assert type(g) is DeferredGradient and g.pending() is not None
        np.testing.assert_allclose(copied(g).numpy(), expected, rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(g.numpy(), expected, rtol=1e-6, atol=1e-7)
