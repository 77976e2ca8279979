"""The NumPy backend's optimizer updates by blocks (``backends/numpy/optim.py``): Adam's kernel
(``adam_update`` and ``amsgrad_update``, which AdamW uses) bit for bit the generic rule over
several steps, in many blocks, with weight decay both ways and AMSGrad's maximum; the kernels
declining what they do not update in place; and through ``xg.optim``, the same training as the
generic rules. (Every update's kernel against its rule, bit for bit: test_kernel_protocol.)"""
import numpy as np
import pytest

import xpgrad as xg
from xpgrad.backends.numpy import blocks
from xpgrad.kernels import Kernel
from xpgrad.ops.optim import UPDATES
from xpgrad.primitive import PRIMITIVES

NP = xg.get_backend("numpy")
ADAM = dict(lr=1e-2, beta1=0.9, beta2=0.99, eps=1e-8)
CASES = {
    "adam": ("adam_update", dict(ADAM, weight_decay=0.0, decoupled=False)),
    "adam l2": ("adam_update", dict(ADAM, weight_decay=0.1, decoupled=False)),
    "adamw": ("adam_update", dict(ADAM, weight_decay=0.1, decoupled=True)),
    "amsgrad": ("amsgrad_update", dict(ADAM, weight_decay=0.0, decoupled=False)),
    "amsgrad l2": ("amsgrad_update", dict(ADAM, weight_decay=0.1, decoupled=False)),
    "amsgrad decoupled": ("amsgrad_update", dict(ADAM, weight_decay=0.1, decoupled=True)),
}


def _grad(step, shape, dt):
    """A large gradient at step 2, small ones after: AMSGrad's v_max then exceeds v."""
    scale = 3.0 if step == 2 else 0.2
    return np.array(np.random.default_rng(step).normal(size=shape) * scale, dtype=dt)


def _train(update, kw, arrays, fused, steps=5, grad_layout=None):
    param, states = arrays[0], arrays[1:]
    for step in range(1, steps + 1):
        grad = _grad(step, param.shape, param.dtype)
        if grad_layout is not None:
            grad = grad_layout(grad)
        if fused:
            assert NP.kernels[update].forward(param, grad, *states, step=step, **kw) is not None
        else:
            PRIMITIVES[update].forward(np, param, grad, *states, step=step, **kw)


def _start(update, shape, dt, rng):
    n_states = 3 if update == "amsgrad_update" else 2
    return [np.array(rng.normal(size=shape), dtype=dt),
            *(np.array(np.abs(rng.normal(size=shape)) * 0.1, dtype=dt) for _ in range(n_states))]


@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("shape,block_bytes", [((11,), 40), ((33, 5), 40), ((2, 3, 7), 64),
                                               ((300, 257), None)])
@pytest.mark.parametrize("case", sorted(CASES))
def test_kernel_is_the_generic_rule_bit_for_bit(case, shape, block_bytes, dt, rng, monkeypatch):
    if block_bytes is not None:
        monkeypatch.setattr(blocks, "BLOCK_BYTES", block_bytes)   # the last block short
    update, kw = CASES[case]
    start = _start(update, shape, dt, rng)
    fused, generic = ([a.copy() for a in start] for _ in range(2))
    _train(update, kw, fused, fused=True)
    _train(update, kw, generic, fused=False)
    for i, (a, b) in enumerate(zip(fused, generic)):
        np.testing.assert_array_equal(a, b, err_msg=f"{case}: array {i}")
        assert not np.array_equal(a, start[i]), f"{case}: array {i} was not updated"
    if update == "amsgrad_update":      # the maximum kept v_max above v somewhere
        assert (generic[3] > generic[2]).any()


def test_a_strided_gradient_is_read_as_it_is(rng, monkeypatch):
    monkeypatch.setattr(blocks, "BLOCK_BYTES", 64)
    update, kw = CASES["amsgrad l2"]
    start = _start(update, (6, 9), np.float32, rng)
    fused, generic = ([a.copy() for a in start] for _ in range(2))
    transposed = lambda g: np.ascontiguousarray(g.T).T      # noqa: E731 (Fortran order)
    _train(update, kw, fused, fused=True, grad_layout=transposed)
    _train(update, kw, generic, fused=False)
    for a, b in zip(fused, generic):
        np.testing.assert_array_equal(a, b)


def test_nan_and_inf_gradients_give_the_generic_rule(rng, monkeypatch):
    monkeypatch.setattr(blocks, "BLOCK_BYTES", 8)
    update, kw = CASES["amsgrad"]
    start = _start(update, (5,), np.float32, rng)
    grad = np.array([np.nan, np.inf, -np.inf, 0.0, 1e30], np.float32)
    fused, generic = ([a.copy() for a in start] for _ in range(2))
    with np.errstate(all="ignore"):
        assert NP.kernels[update].forward(fused[0], grad, *fused[1:], step=1, **kw) is not None
        PRIMITIVES[update].forward(np, generic[0], grad, *generic[1:], step=1, **kw)
    for a, b in zip(fused, generic):
        np.testing.assert_array_equal(a, b)


def _declines(param, grad, m, v):
    return NP.kernels["adam_update"].forward(param, grad, m, v, step=1,
                                             **CASES["adam"][1]) is None


def test_kernel_declines_what_it_cannot_update_in_place(monkeypatch):
    monkeypatch.setattr(blocks, "BLOCK_BYTES", 16)       # 12 elements: three blocks or more

    def arrays(dt=np.float32, shape=(4, 3)):
        return [np.ones(shape, dt) for _ in range(4)]

    p, g, m, v = arrays(np.float16)
    assert _declines(p, g, m, v)                               # not float32 or float64
    p, g, m, v = arrays()
    assert _declines(p, g.astype(np.float64), m, v)            # mixed dtypes
    assert _declines(p, g[:2], m, v)                           # another shape
    assert _declines(np.ones((3, 4), np.float32).T, g, m, v)   # parameter not C-ordered
    assert _declines(p, g, m, np.ones((3, 4), np.float32).T)   # a state not C-ordered
    m.flags.writeable = False
    assert _declines(p, g, m, v)                               # a state read-only
    p, g, m, v = arrays()
    before = p.copy()
    assert not _declines(p, g, m, v) and not np.array_equal(p, before)
    monkeypatch.setattr(blocks, "BLOCK_BYTES", 48)
    assert _declines(*arrays())                                # one block: in cache anyway


def test_a_rule_by_blocks_declines_what_it_cannot_update_in_place(monkeypatch):
    monkeypatch.setattr(blocks, "BLOCK_BYTES", 16)
    rmsprop = NP.kernels["rmsprop_update"].forward

    def declines(param, grad, square, momentum=None):
        return rmsprop(param, grad, square, momentum, lr=0.01, rho=0.9, momentum=0.9,
                       eps=1e-8) is None

    p, g, sq, mom = (np.ones((4, 3), np.float32) for _ in range(4))
    assert declines(p, g[:2], sq, mom)                         # another shape
    assert declines(np.ones((3, 4), np.float32).T, g, sq, mom)  # parameter not C-ordered
    assert declines(p, g, sq, np.ones((3, 4), np.float32).T)   # a state not C-ordered
    sq.flags.writeable = False
    assert declines(p, g, sq, mom)                             # a state read-only
    assert not declines(p, g, np.ones_like(p))                 # no momentum buffer: taken
    monkeypatch.setattr(blocks, "BLOCK_BYTES", 48)
    assert declines(p, g, np.ones_like(p))                     # one block: the rule itself


OPTIMIZERS = {
    "Adam": lambda: xg.optim.Adam(learning_rate=0.01),
    "Adam amsgrad": lambda: xg.optim.Adam(learning_rate=0.01, amsgrad=True),
    "AdamW": lambda: xg.optim.AdamW(learning_rate=0.01),
    "SGD nesterov": lambda: xg.optim.SGD(learning_rate=0.1, momentum=0.9, nesterov=True),
    "RMSprop centered": lambda: xg.optim.RMSprop(learning_rate=0.01, centered=True),
    "NAdam": lambda: xg.optim.NAdam(learning_rate=0.01),
    "Lion": lambda: xg.optim.Lion(learning_rate=0.001, weight_decay=0.1),
}


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_training_equals_the_generic_rule(name, monkeypatch):
    """An MLP trained through ``xg.optim`` with the kernels (blocks of 8 bytes, so that they
    take every weight), and with them removed: the same weights."""
    make = OPTIMIZERS[name]
    monkeypatch.setattr(blocks, "BLOCK_BYTES", 8)
    rng = np.random.default_rng(3)
    x = rng.normal(size=(16, 5)).astype(np.float32)
    y = rng.integers(0, 3, 16)

    def train():
        model = xg.nn.MLP([5, 8, 3], backend="numpy", rng=xg.random.default_rng(1))
        opt = make()
        for _ in range(4):
            with xg.GradientTape() as tape:
                loss = xg.losses.softmax_cross_entropy(model(xg.asarray(x, backend="numpy")),
                                                       xg.asarray(y, backend="numpy"))
            params = model.trainable_variables
            opt.apply_gradients(zip(tape.gradient(loss, params), params))
        return [v.numpy() for v in model.trainable_variables]

    ran = []

    def counted(forward):
        def call(*args, **kwargs):
            out = forward(*args, **kwargs)
            ran.append(out is not None)
            return out
        return Kernel(call)

    for update in UPDATES:
        monkeypatch.setitem(NP.kernels, update.name, counted(NP.kernels[update.name].forward))
    with_kernel = train()
    assert len(ran) == 4 * 4 and all(ran), "the kernels did not take every update"
    for update in UPDATES:
        monkeypatch.delitem(NP.kernels, update.name)
    for a, b in zip(with_kernel, train()):
        np.testing.assert_array_equal(a, b)
