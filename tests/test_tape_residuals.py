"""The tape's lean records: declared residuals (what each rule reads), freeing, GC behaviour."""
import gc
import weakref

import numpy as np
import pytest

import xpgrad as xg
from conftest import backend_report
from xpgrad.backend import Kernel
from xpgrad.primitive import Primitive, residual_mask

BIG = 1000        # above the size below which the tape keeps an array it does not need


def test_a_pre_activation_is_freed_once_relu_has_run():
    """ReLU's rule reads its output, so the input (an MLP's pre-activation) is not kept."""
    rng = np.random.default_rng(0)
    x = xg.asarray(rng.normal(size=(8, BIG)))
    w = xg.Variable(rng.normal(size=(BIG, BIG)) / 30)
    with xg.GradientTape() as tape:
        h = x @ w
        pre = weakref.ref(h._data)
        y = xg.nn.relu(h)
        del h
        assert pre() is None
        loss = xg.sum(y * y)
    g = tape.gradient(loss, w)
    y_np = np.maximum(x.numpy() @ w.numpy(), 0.0)
    # the products may be MKL's (summed in another order): an absolute bound for entries that
    # nearly cancel
    np.testing.assert_allclose(g.numpy(), x.numpy().T @ (2 * y_np * (y_np > 0)), rtol=1e-10,
                               atol=1e-13)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_relu_in_place_backward_leaves_a_shared_gradient_alone(backend):
    """add's rule hands the same g to both inputs: ReLU may not write into it."""
    if backend not in backend_report() or \
            not backend_report()[backend]["available"]:
        pytest.skip(f"{backend} not available")
    x = xg.asarray(np.linspace(-1.0, 1.0, BIG), backend=backend)
    x2 = xg.asarray(np.ones(BIG), backend=backend)
    with xg.GradientTape() as tape:
        tape.watch([x, x2])
        loss = xg.sum(xg.nn.relu(x) + x2)
    gx, gx2 = tape.gradient(loss, [x, x2])
    np.testing.assert_array_equal(gx2.numpy(), np.ones(BIG))
    np.testing.assert_array_equal(gx.numpy(), (np.linspace(-1.0, 1.0, BIG) > 0) * 1.0)


def test_relu_in_place_backward_matches_the_generic_rule():
    rng = np.random.default_rng(1)
    x = xg.asarray(rng.normal(size=(300, 700)))       # several row blocks
    w = xg.asarray(rng.normal(size=(700, 5)))
    with xg.GradientTape() as tape:
        tape.watch(x)
        loss = xg.sum(xg.nn.relu(x) @ w)                  # matmul's dx: a g nothing else holds
    got = tape.gradient(loss, x).numpy()
    want = (x.numpy() > 0) * (np.ones((300, 5)) @ w.numpy().T)
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_higher_order_through_rules_that_saved_only_shapes():
    """sum, reshape and getitem save no input; add nothing; exp its output. Under an outer tape
    their rules run on Tensors rebuilt from what was saved, with the same keys."""
    v = np.linspace(-1.0, 1.0, BIG)
    x = xg.asarray(v)
    with xg.GradientTape() as outer:
        outer.watch(x)
        with xg.GradientTape() as inner:
            inner.watch(x)
            y = xg.sum(xg.reshape(xg.exp(x * x) + 1.0, (10, 100))[2:5])
        g = inner.gradient(y, x)
        s = xg.sum(g)
    d2 = outer.gradient(s, x).numpy()
    mask = np.zeros(BIG)
    mask[200:500] = 1.0
    np.testing.assert_allclose(g.numpy(), mask * 2 * v * np.exp(v * v), rtol=1e-12)
    np.testing.assert_allclose(d2, mask * (2 + 4 * v * v) * np.exp(v * v), rtol=1e-12)


def test_nodes_hold_no_gc_tracked_objects():
    """After collections, no node of an elementwise chain is tracked by the cyclic GC, so a
    long tape adds nothing to its walks."""
    from gc_counts import only_new_objects

    x = xg.asarray(np.linspace(0.0, 1.0, 4))
    with only_new_objects():
        with xg.GradientTape() as tape:
            tape.watch(x)
            y = x
            for _ in range(200):
                y = xg.tanh(xg.sin(y) * 1.5 + 0.1)
            loss = xg.sum(y)
        for _ in range(3):  # a pass untracks a tuple only if it untracked its items before:
            gc.collect()    # the sum's node holds ((name, value), ...), three levels
    assert len(tape._nodes) == 801
    assert not [i for i, node in enumerate(tape._nodes) if gc.is_tracked(node)]
    assert tape.gradient(loss, x).shape == (4,)


def test_one_young_collection_untracks_a_chains_nodes():
    """Each node of an elementwise chain (one or two inputs: a Tensor, or a Tensor and a
    scalar or another Tensor) is untracked by the first young collection it meets, so none
    reaches the older generations, whose growth sets off full collections of the whole heap. With its
    keys and inputs in tuples of their own a node outlived that collection (the collector
    moves a young tuple held only by a young node after the node, so it met them tracked)."""
    x = xg.asarray(np.linspace(0.0, 1.0, 4))
    v = xg.asarray(np.full(4, 0.5))
    gc.collect()
    gc.disable()
    try:
        with xg.GradientTape() as tape:
            tape.watch([x, v])
            y = x
            for _ in range(100):
                y = xg.tanh(xg.sin(y) * 1.5 + 0.1) * v
            loss = xg.sum(y)
            gc.collect(0)
        # (the sum's node, last, holds its keywords as pairs in a tuple: a nested young tuple)
        tracked = [i for i, node in enumerate(tape._nodes[:-1]) if gc.is_tracked(node)]
    finally:
        gc.enable()
    assert len(tape._nodes) == 501 and tracked == []
    gx, gv = tape.gradient(loss, [x, v])
    torch = pytest.importorskip("torch")
    tx = torch.tensor(x.numpy(), requires_grad=True)
    tv = torch.tensor(v.numpy(), requires_grad=True)
    z = tx
    for _ in range(100):
        z = torch.tanh(torch.sin(z) * 1.5 + 0.1) * tv
    hx, hv = torch.autograd.grad(z.sum(), [tx, tv])
    np.testing.assert_allclose(loss.numpy(), z.sum().item(), rtol=1e-12)
    np.testing.assert_allclose(gx.numpy(), hx.numpy(), rtol=1e-10)
    np.testing.assert_allclose(gv.numpy(), hv.numpy(), rtol=1e-10)


def test_a_tape_makes_no_reference_cycles():
    """Everything a tape and its tensors hold is freed by reference counting alone."""
    gc.disable()
    try:
        x = xg.Variable(np.linspace(0.0, 1.0, BIG))
        with xg.GradientTape() as tape:
            h = xg.exp(x * 2.0)
            loss = xg.sum(h * h)
        refs = [weakref.ref(tape), weakref.ref(h._data), weakref.ref(loss)]
        tape.gradient(loss, x)
        del tape, h, loss
        assert [r() for r in refs] == [None, None, None]
    finally:
        gc.enable()


def test_saves_declarations_are_checked():
    assert residual_mask((2, "output"), "p") == ((False, False, True), True)
    assert residual_mask((), "p") == ((), False)
    with pytest.raises(ValueError, match="saves holds 'outputs'"):
        Primitive("doc_bad_saves", lambda xp, x: x, lambda xp, g, ans, x: g, saves="outputs")
    with pytest.raises(ValueError, match="saves holds -1"):
        Kernel(lambda x: None, saves=(-1,))
    with pytest.raises(TypeError, match="saves must be None or a tuple"):
        Primitive("doc_bad_saves2", lambda xp, x: x, lambda xp, g, ans, x: g, saves=1.5)


def test_a_rule_sees_a_stand_in_for_an_input_it_did_not_save():
    seen = []

    def rule(xp, g, ans, x):
        seen.append((type(x).__name__, x.shape, x.ndim, str(x.dtype), ans))
        return xp.reshape(g, x.shape)

    prim = Primitive("doc_flatten_saving_nothing", lambda xp, x: xp.reshape(x, (-1,)), rule,
                     saves=())
    x = xg.asarray(np.ones((20, 50)))
    with xg.GradientTape() as tape:
        tape.watch(x)
        y = xg.primitive.apply(prim, x)
    assert tape.gradient(y, x).shape == (20, 50)
    assert seen == [("Shaped", (20, 50), 2, "float64", None)]
