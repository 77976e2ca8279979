"""``copy.deepcopy`` of a tensor a live GradientTape computed (PyTorch's non-leaf that requires
grad) is a RuntimeError, as torch's "Only Tensors created explicitly by the user (graph leaves)
support the deepcopy protocol": before, the copy was silently cut from the tape and a gradient
through it came back None. Leaves (Variables, watched tensors, anything no live tape
differentiates) copy as before, and a model deep-copied in the middle of a step (a target
network) still gets its own gradients; ``copy.copy`` and ``pickle`` give the value, as torch's."""
from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest

import xpgrad as xg
from conftest import backend_report

torch = pytest.importorskip("torch")

BACKENDS = ["numpy"] + (["numba"] if backend_report()["numba"]["available"] else [])
REFUSED = r"copy.deepcopy: only tensors created explicitly by the user \(graph leaves"


@pytest.mark.parametrize("backend", BACKENDS)
def test_deepcopy_of_an_intermediate_is_refused_as_torchs(backend):
    x = xg.asarray([1.0, 2.0], backend=backend)
    with xg.GradientTape() as tape:
        tape.watch(x)
        y = xg.sin(x) * 2.0
        loss = xg.sum(y)
        with pytest.raises(RuntimeError, match=REFUSED):
            copy.deepcopy(y)
        with pytest.raises(RuntimeError, match=REFUSED):
            copy.deepcopy({"cache": [y]})              # inside containers too
    with pytest.raises(RuntimeError, match=REFUSED):      # the tape lives: y is still on it
        copy.deepcopy(y)
    tx = torch.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="Only Tensors created explicitly by the user"):
        copy.deepcopy(torch.sin(tx) * 2.0)
    gx = tape.gradient(loss, x)
    np.testing.assert_allclose(gx.numpy(), 2 * np.cos([1.0, 2.0]), rtol=1e-6)
    y2 = copy.deepcopy(y)                # the tape has given its gradient: y is a plain value
    assert y2.tolist() == y.tolist() and y2._data is not y._data


def test_a_persistent_tape_keeps_refusing_until_it_is_gone():
    x = xg.asarray([3.0])
    tape = xg.GradientTape(persistent=True)
    with tape:
        tape.watch(x)
        y = x * x
    tape.gradient(y, x)
    with pytest.raises(RuntimeError, match=REFUSED):
        copy.deepcopy(y)
    tape.reset()
    assert copy.deepcopy(y).tolist() == [9.0]


def test_the_suggested_copies_work_on_and_off_the_tape():
    x = xg.asarray([1.0, -2.0], dtype=xg.float64)
    with xg.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = x ** 3
        on = xg.asarray(y, copy=True)                  # recorded: keeps the gradient
        off = copy.deepcopy(xg.stop_gradient(y))       # a value off the tape
        loss_on, loss_off = xg.sum(on * 2.0), xg.sum(off * 2.0 + x)
    np.testing.assert_allclose(tape.gradient(loss_on, x).numpy(), 6 * x.numpy() ** 2)
    np.testing.assert_allclose(tape.gradient(loss_off, x).numpy(), [1.0, 1.0])
    assert off.tolist() == y.tolist()


@pytest.mark.parametrize("backend", BACKENDS)
def test_leaves_copy_inside_a_tape_and_are_other_leaves(backend):
    v = xg.Variable([1.0, 2.0], name="v", backend=backend)
    x = xg.asarray([3.0, 4.0], backend=backend)
    with xg.GradientTape() as tape:
        tape.watch(x)
        y = v * x
        v2, x2 = copy.deepcopy(v), copy.deepcopy(x)   # torch copies leaves too
        loss = xg.sum(y + v2 * x2)
    gv, gx, gv2, gx2 = tape.gradient(loss, [v, x, v2, x2])
    assert gv.tolist() == [3.0, 4.0] and gx.tolist() == [1.0, 2.0]
    assert gv2.tolist() == [3.0, 4.0]                 # a Variable: watched on access
    assert gx2 is None                                # a copy of a watched tensor: not watched
    assert v2.name == "v" and v2._backend is v._backend and x2._backend is x._backend
    tv = torch.tensor([1.0, 2.0], requires_grad=True)
    tv2 = copy.deepcopy(tv)
    assert tv2.is_leaf and tv2.requires_grad and tv2 is not tv


def test_a_tensor_no_tape_differentiates_copies_under_a_tape():
    c = xg.asarray([1.0, 2.0])
    with xg.GradientTape() as tape:
        z = xg.exp(c)                       # nothing watched: not on the tape
        assert copy.deepcopy(z).tolist() == z.tolist()
        tape.watch(c)
    with pytest.warns(RuntimeWarning, match="depends on no tensor this tape watched"):
        assert tape.gradient(xg.sum(z), c) is None


def test_nested_tapes_an_outer_intermediate_watched_inside_is_refused():
    x = xg.asarray([0.5])
    with xg.GradientTape() as outer:
        outer.watch(x)
        y = x * 2.0
        with xg.GradientTape() as inner:
            inner.watch(y)                  # a leaf to the inner tape, not to the outer
            with pytest.raises(RuntimeError, match=REFUSED):
                copy.deepcopy(y)


def test_copy_copy_and_pickle_give_the_value_as_torchs():
    x = xg.asarray([1.0, 2.0])
    with xg.GradientTape() as tape:
        tape.watch(x)
        y = x * 2.0
        shallow, pickled = copy.copy(y), pickle.loads(pickle.dumps(y))
        loss = xg.sum(shallow + pickled)
    assert shallow.tolist() == pickled.tolist() == [2.0, 4.0]
    with pytest.warns(RuntimeWarning, match="depends on no tensor"):   # values, off the tape
        assert tape.gradient(loss, x) is None          # (torch's: detached)
    ty = torch.tensor([1.0, 2.0], requires_grad=True) * 2.0
    assert copy.copy(ty).grad_fn is None and pickle.loads(pickle.dumps(ty)).grad_fn is None


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_model_copied_mid_step_is_a_target_network_with_its_own_gradients(backend):
    model = xg.nn.MLP([3, 4, 2], rng=0, dtype=xg.float64, backend=backend)
    x = xg.asarray(np.random.default_rng(0).standard_normal((5, 3)), backend=backend)
    with xg.GradientTape() as tape:
        out = model(x)
        target = copy.deepcopy(model)       # its Variables are leaves: copied
        loss = xg.sum(out * xg.stop_gradient(target(x)))
    grads = tape.gradient(loss, model.trainable_variables + target.trainable_variables)
    n = len(model.trainable_variables)
    assert all(g is not None for g in grads[:n]) and all(g is None for g in grads[n:])
    ref = xg.nn.MLP([3, 4, 2], rng=0, dtype=xg.float64, backend=backend)
    with xg.GradientTape() as tape:
        out = ref(x)
        loss = xg.sum(out * xg.stop_gradient(out))
    for g, e in zip(grads, tape.gradient(loss, ref.trainable_variables)):
        np.testing.assert_allclose(g.numpy(), e.numpy(), rtol=1e-12)


def test_a_module_holding_an_intermediate_is_refused_as_torchs():
    class Caching(xg.nn.Module):
        def forward(self, x):
            self.cache = x * 2.0
            return self.cache

    class TorchCaching(torch.nn.Module):
        def forward(self, x):
            self.cache = x * 2.0
            return self.cache

    m, tm = Caching(), TorchCaching()
    x = xg.asarray([1.0])
    with xg.GradientTape() as tape:
        tape.watch(x)
        m(x)
        with pytest.raises(RuntimeError, match=REFUSED):
            copy.deepcopy(m)
    tm(torch.tensor([1.0], requires_grad=True))
    with pytest.raises(RuntimeError, match="Only Tensors created explicitly by the user"):
        copy.deepcopy(tm)
