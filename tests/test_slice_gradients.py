"""Gradients of indexing accumulate into one buffer per input (xpgrad/accumulate.py).

A loop over ``unstack(x)`` or ``x[:, t]`` must cost O(slices), not O(slices x size): the tape
adds each slice's gradient in place into a buffer it owns. These tests check the values (finite
differences, PyTorch), that no buffer anyone else holds is written to, and the allocation count.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import xpgrad as xg
from xpgrad.testing import check_grads

SHAPE = (4, 5)

# (description, key builder from a NumPy rng): every kind of key getitem takes
KEYS = {
    "row": lambda r: (int(r.integers(-4, 4)),),
    "column slice": lambda r: (slice(None), slice(int(r.integers(0, 3)), None,
                                                  int(r.integers(1, 3)))),
    "reversed": lambda r: (slice(None, None, -1), slice(1, 4)),
    "ellipsis": lambda r: (Ellipsis, int(r.integers(0, 5))),
    "new axis": lambda r: (None, slice(1, 3)),
    "repeated rows": lambda r: (r.integers(0, 4, size=6),),
    "pairs": lambda r: (r.integers(0, 4, size=5), r.integers(0, 5, size=5)),
    "mask": lambda r: (r.random(SHAPE) > 0.5,),
}
USES = [*KEYS, "dense"]


def _key(kind, r, to_tensor):
    key = KEYS[kind](r)
    return tuple(to_tensor(k) if isinstance(k, np.ndarray) else k for k in key)


def _uses_function(uses, seed, to_tensor, weights_like):
    """f(x) = sum over uses of <weight, use(x)>, a use being x[key] or a dense function of x."""
    r = np.random.default_rng(seed)
    plan = []
    for kind in uses:
        key = None if kind == "dense" else _key(kind, r, to_tensor)
        shape = SHAPE if kind == "dense" else np.empty(SHAPE)[
            tuple(np.asarray(k) if hasattr(k, "shape") else k for k in key)].shape
        plan.append((key, weights_like(r.normal(size=shape))))
    return plan


def _xg_loss(x, plan):
    total = 0.0
    for key, w in plan:
        part = xg.sin(x) if key is None else x[key]
        total = total + xg.sum(part * w)
    return total


@settings(max_examples=40, deadline=None)
@given(uses=st.lists(st.sampled_from(USES), min_size=1, max_size=6), seed=st.integers(0, 999))
def test_mixed_slices_and_dense_uses_match_finite_differences(uses, seed):
    plan = _uses_function(uses, seed, lambda k: xg.asarray(k),
                          lambda a: xg.asarray(a, dtype=xg.float64))
    x0 = np.random.default_rng(seed + 1).normal(size=SHAPE)
    check_grads(lambda x: _xg_loss(x, plan), [x0])


@settings(max_examples=25, deadline=None)
@given(uses=st.lists(st.sampled_from(USES), min_size=1, max_size=6), seed=st.integers(0, 999))
def test_mixed_slices_and_dense_uses_match_pytorch(uses, seed):
    torch = pytest.importorskip("torch")
    x0 = np.random.default_rng(seed + 1).normal(size=SHAPE)
    plan = _uses_function(uses, seed, lambda k: k, lambda a: a)

    def torch_key(key):       # torch has no negative steps: the reversed slice as indices
        return tuple(torch.from_numpy(k) if isinstance(k, np.ndarray) else
                     torch.arange(*k.indices(SHAPE[i])) if isinstance(k, slice) and
                     k.step is not None and k.step < 0 else k for i, k in enumerate(key))

    xt = torch.tensor(x0, requires_grad=True)
    ref = sum(torch.sum((torch.sin(xt) if key is None else xt[torch_key(key)])
                        * torch.from_numpy(np.asarray(w))) for key, w in plan)
    ref.backward()

    xg_plan = [(None if key is None else
                tuple(xg.asarray(k) if isinstance(k, np.ndarray) else k for k in key),
                xg.asarray(w, dtype=xg.float64)) for key, w in plan]
    x = xg.asarray(x0)
    with xg.GradientTape() as tape:
        tape.watch(x)
        loss = _xg_loss(x, xg_plan)
    np.testing.assert_allclose(tape.gradient(loss, x).numpy(), xt.grad.numpy(), rtol=1e-12,
                               atol=1e-12)


def test_unstack_loop_matches_a_whole_array_computation(rng):
    """sum_t <w_t, x[:, t]> through unstack has the gradient of the same sum done at once."""
    x = xg.asarray(rng.normal(size=(3, 7, 2)))
    w = xg.asarray(rng.normal(size=(3, 7, 2)))
    with xg.GradientTape(persistent=True) as tape:
        tape.watch(x)
        looped = sum(xg.sum(xt * wt) for xt, wt in zip(xg.unstack(x, axis=1),
                                                         xg.unstack(w, axis=1)))
        whole = xg.sum(x * w)
    np.testing.assert_allclose(looped.numpy(), whole.numpy(), rtol=1e-12)
    np.testing.assert_allclose(tape.gradient(looped, x).numpy(),
                               tape.gradient(whole, x).numpy(), rtol=1e-12)


def test_output_gradients_and_saved_arrays_are_never_written(rng):
    """The tape adds in place only into buffers it allocated: a seed that reaches an input
    unchanged (y = x + x hands it to both arguments) stays as the caller passed it."""
    x = xg.asarray(rng.normal(size=(4, 3)))
    seed = rng.normal(size=(4, 3))
    seed_copy = seed.copy()
    with xg.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = x + x
        z = y[1:] * 2.0 + y[:1].sum()
        r = x + x[::-1]
    g1 = tape.gradient(y, x, output_gradients=xg.asarray(seed))
    np.testing.assert_array_equal(seed, seed_copy)
    np.testing.assert_allclose(g1.numpy(), 2 * seed_copy)
    # the seed reaches x whole (add passes it on), then x[::-1]'s slice adds to it
    g2 = tape.gradient(r, x, output_gradients=xg.asarray(seed))
    np.testing.assert_array_equal(seed, seed_copy)
    np.testing.assert_allclose(g2.numpy(), seed_copy + seed_copy[::-1])
    first = tape.gradient(z, x).numpy().copy()
    again = tape.gradient(z, x)                 # a persistent tape: a second walk, same answer
    np.testing.assert_array_equal(again.numpy(), first)
    np.testing.assert_allclose(g1.numpy(), 2 * seed_copy)    # the first result untouched


def test_gradient_of_a_slice_loop_allocates_one_full_buffer(rng, monkeypatch):
    """T slices of x: one zeros(x.shape) in the backward walk, not one per slice."""
    T = 50
    x = xg.asarray(rng.normal(size=(2, T, 3)))
    with xg.GradientTape() as tape:
        tape.watch(x)
        loss = sum(xg.sum(xt * xt) for xt in xg.unstack(x, axis=1))
    calls = []
    xnp = x._backend.xp                 # the backend's namespace, whose zeros the walk calls
    zeros, empty, stack = xnp.zeros, xnp.empty, xnp.stack
    monkeypatch.setattr(xnp, "zeros", lambda shape, **k: calls.append(shape) or zeros(shape, **k))
    # (unstack's one node copies its slices' gradients into one empty array, or stacks them:
    # that is its full-size allocation)
    monkeypatch.setattr(xnp, "empty", lambda shape, **k: calls.append(shape) or empty(shape, **k))
    monkeypatch.setattr(xnp, "stack", lambda arrays, **k: calls.append(stack(arrays, **k).shape)
                        or stack(arrays, **k))
    g = tape.gradient(loss, x)
    assert calls.count(x.shape) == 1, calls
    np.testing.assert_allclose(g.numpy(), 2 * x.numpy())


def test_zero_d_input_used_densely_then_through_a_slice():
    """Dense contributions to a 0-d input sum to a NumPy scalar; a slice's gradient arriving
    after them must still add to it."""
    x = xg.asarray(2.0, dtype=xg.float64)
    with xg.GradientTape() as tape:
        tape.watch(x)
        s = x[None]                                  # recorded first, so reached last
        y = x * x + x * 3.0 + xg.sum(s * 5.0)
    assert tape.gradient(y, x).item() == pytest.approx(2 * 2.0 + 3.0 + 5.0)


def test_second_order_through_slices_still_works(rng):
    """With an outer tape recording, slice gradients are dense primitives again."""
    x = xg.asarray(rng.normal(size=(5,)))
    with xg.GradientTape() as outer:
        outer.watch(x)
        with xg.GradientTape() as inner:
            inner.watch(x)
            y = xg.sum(x[1:] ** 3) + xg.sum(x[:2] ** 2)
        g = inner.gradient(y, x)
    h = outer.gradient(g, x).numpy()
    expected = np.zeros(5)
    expected[1:] += 6 * x.numpy()[1:]
    expected[:2] += 2
    np.testing.assert_allclose(h, expected, rtol=1e-12)


@pytest.mark.parametrize("backend", ["numba"])
def test_slice_loop_on_other_cpu_backends_matches_numpy(backend, rng):
    pytest.importorskip(backend)
    x0 = rng.normal(size=(3, 6, 2)).astype(np.float32)
    grads = {}
    for name in ("numpy", backend):
        x = xg.asarray(x0, backend=name)
        with xg.GradientTape() as tape:
            tape.watch(x)
            loss = sum(xg.sum(xg.tanh(xt) * (i + 1)) for i, xt in
                       enumerate(xg.unstack(x, axis=1)))
            loss = loss + xg.sum(x[:, xg.asarray([0, 0, 5], backend=name)])
        grads[name] = tape.gradient(loss, x).numpy()
    np.testing.assert_allclose(grads[backend], grads["numpy"], rtol=1e-6)
