"""xg.vmap's interface: in_axes/out_axes as JAX reads them, random draws as torch.func's
randomness=, the errors, gradients through a vmap, xg.function, and the backend put back."""
from __future__ import annotations

import re
import threading

import numpy as np
import pytest

import xpgrad as xg
from docs_text import text_from

RNG = np.random.default_rng(3)
X = xg.asarray(RNG.normal(size=(4, 3)))


def test_in_axes_pytrees_and_none_leaves():
    params = {"w": xg.asarray(RNG.normal(size=(3, 2))), "scale": 2.0}
    batch = {"x": X, "extra": [X.T]}
    f = xg.vmap(lambda p, b: (b["x"] @ p["w"]) * p["scale"] + b["extra"][0][0],
                in_axes=({"w": None, "scale": None}, {"x": 0, "extra": [1]}))
    got = f(params, batch).numpy()
    want = (X.numpy() @ params["w"].numpy()) * 2.0 + X.numpy()[:, :1]
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_axes_dicts_in_another_key_order_than_the_trees():
    f = xg.vmap(lambda p: {"a": p["x"], "b": 2 * p["y"]}, in_axes=({"y": 1, "x": 0},),
                out_axes={"b": 0, "a": 1})
    out = f({"x": X, "y": X.T})
    np.testing.assert_allclose(out["a"].numpy(), X.numpy().T)
    np.testing.assert_allclose(out["b"].numpy(), 2 * X.numpy())


def test_a_prefix_int_maps_every_leaf_below_it_and_keywords_map_over_axis_0():
    f = xg.vmap(lambda pair, *, k: pair[0] + pair[1] * k, in_axes=(1,))
    got = f((X.T, X.T), k=X).numpy()
    np.testing.assert_allclose(got, X.numpy() + X.numpy() ** 2, rtol=1e-12)


def test_out_axes_place_the_batch_axis_and_broadcast_unbatched_outputs():
    f = xg.vmap(lambda a: {"s": xg.sum(a), "pair": [a, xg.ones(2)], "none": None},
                out_axes={"s": 0, "pair": [1, -1], "none": 0})
    out = f(X)
    np.testing.assert_allclose(out["s"].numpy(), X.numpy().sum(axis=1))
    np.testing.assert_allclose(out["pair"][0].numpy(), X.numpy().T)
    assert out["pair"][1].shape == (2, 4) and np.all(out["pair"][1].numpy() == 1)
    assert out["none"] is None
    same = xg.vmap(lambda a: (a, xg.ones(2) * 3), out_axes=(0, None))(X)[1]
    assert same.shape == (2,) and same.tolist() == [3.0, 3.0]


@pytest.mark.parametrize("call, message", [
    (lambda: xg.vmap(lambda a, b: a + b)(X, xg.ones((5, 3))),
     r"argument \[0\] has size 4 along axis 0, argument \[1\] has size 5"),
    (lambda: xg.vmap(lambda a, b: a + b, in_axes=(0,))(X, X),
     "in_axes has 1 entries but the function got 2 positional arguments"),
    (lambda: xg.vmap(lambda d: d["a"], in_axes=({"b": 0},))({"a": X}),
     r"in_axes\[0\] is a dict with keys \['b'\] but the arguments\[0\] is a dict with keys "
     r"\['a'\]"),
    (lambda: xg.vmap(lambda a: a, in_axes=2)(X),
     r"in_axes=2 is out of range for argument \[0\], which has 2 dimensions"),
    (lambda: xg.vmap(lambda a: a, in_axes=-3)(X), "in_axes=-3 is out of range"),
    (lambda: xg.vmap(lambda a, s: a * s)(X, 2.0),
     r"maps argument \[1\] over axis 0, but it is a float"),
    (lambda: xg.vmap(lambda a: a, in_axes=None)(X), "at least one mapped argument.*axis_size"),
    (lambda: xg.vmap(lambda a: a, axis_size=5)(X),
     r"axis_size=5 but argument \[0\] has size 4 along axis 0"),
    (lambda: xg.vmap(lambda a, b: a + b, in_axes=(0, None), axis_size=3, chunk_size=2)(X, X),
     r"axis_size=3 but argument \[0\] has size 4"),
    (lambda: xg.vmap(lambda a: a, out_axes=None)(X),
     "out_axes is None but the output differs between examples"),
    (lambda: xg.vmap(lambda a: a, out_axes=(0, 0))(X), "out_axes is a tuple of 2 but"),
    (lambda: xg.vmap(lambda a: a, out_axes=3)(X), "out_axes=3 is out of range"),
    (lambda: xg.vmap(lambda a: a.sum().item())(X), r"cannot become one Python.*\.item\(\)"),
    (lambda: xg.vmap(lambda a: 1 if a[0] > 0 else 0)(X), "cannot become one Python"),
    (lambda: xg.vmap(lambda a: a.numpy())(X), "cannot become one Python"),
])
def test_bad_calls_raise_value_errors_that_say_what_is_wrong(call, message):
    with pytest.raises(ValueError, match=message):
        call()


@pytest.mark.parametrize("kwargs, error, message", [
    ({"in_axes": "0"}, TypeError, "in_axes must be an int or None"),
    ({"in_axes": (0, 1.5)}, TypeError, r"in_axes\[1\] must be an int or None"),
    ({"in_axes": {"a": 0}}, TypeError, "one entry per positional argument"),
    ({"out_axes": True}, TypeError, "out_axes must be an int or None"),
    ({"randomness": "sometimes"}, ValueError, "randomness must be one of"),
    ({"axis_size": -1}, ValueError, "axis_size must be at least 0, got -1"),
    ({"axis_size": 2.0}, TypeError, "axis_size must be an int or None, got float"),
    ({"axis_size": True}, TypeError, "axis_size must be an int or None, got bool"),
    ({"chunk_size": 0}, ValueError, "chunk_size must be at least 1, got 0"),
    ({"chunk_size": "4"}, TypeError, "chunk_size must be an int or None, got str"),
    ({"axis_name": "batch"}, NotImplementedError, "axis_name='batch' is not supported.*psum"),
    ({"spmd_axis_name": "data"}, NotImplementedError, "spmd_axis_name='data' is not supp"),
])
def test_bad_arguments_to_vmap_itself(kwargs, error, message):
    with pytest.raises(error, match=message):
        xg.vmap(lambda a: a, **kwargs)
    with pytest.raises(TypeError, match="fn must be callable"):
        xg.vmap(3)


def test_an_empty_batch_and_unmapped_python_outputs():
    empty = xg.ones((0, 3))
    assert xg.vmap(lambda r: xg.sum(r * 2))(empty).shape == (0,)
    assert xg.vmap(xg.grad(lambda r: xg.sum(r @ xg.ones((3, 2)))))(empty).shape == (0, 3)
    assert xg.vmap(lambda r: 1.5)(X).tolist() == [1.5] * 4
    assert xg.vmap(lambda r: r[::-1], in_axes=[0])(np.arange(6.0).reshape(2, 3)).tolist() == \
        [[2.0, 1.0, 0.0], [5.0, 4.0, 3.0]]


def test_random_draws_follow_randomness():
    def noisy(a):
        return a * 0 + xg.random.default_rng(0).normal(size=3, dtype=xg.float64)

    with pytest.raises(RuntimeError, match="randomness='error'"):
        xg.vmap(noisy)(X)
    same = xg.vmap(noisy, randomness="same")(X).numpy()
    assert np.all(same == same[0])
    different = xg.vmap(noisy, randomness="different")(X).numpy()
    assert len({tuple(row) for row in different}) == 4
    dropped = xg.vmap(lambda a: xg.nn.Dropout(0.5, rng=1)(a), randomness="different")(
        xg.ones((64, 8))).numpy()
    assert set(np.unique(dropped)) == {0.0, 2.0}
    assert len({tuple(row) for row in dropped}) > 1


def test_axis_size_broadcasts_a_call_that_maps_nothing_as_jax(jax):
    jnp = pytest.importorskip("jax.numpy")
    w0 = RNG.normal(size=3)
    for out_axes in (0, 1):
        got = xg.vmap(lambda w: xg.sin(w) * w, in_axes=None, axis_size=4,
                      out_axes=out_axes)(xg.asarray(w0))
        want = jax.vmap(lambda w: jnp.sin(w) * w, in_axes=None, axis_size=4,
                        out_axes=out_axes)(w0)
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-12)

    def f(w, ns=xg, vmap=xg.vmap):
        return ns.sum(vmap(lambda w: ns.sin(w) * w, in_axes=None, axis_size=4)(w) ** 2)

    jf = lambda w: f(w, jnp, jax.vmap)
    np.testing.assert_allclose(xg.grad(f)(xg.asarray(w0)).numpy(), jax.grad(jf)(w0),
                               rtol=1e-12)
    np.testing.assert_allclose(xg.hessian(f)(xg.asarray(w0)).numpy(), jax.hessian(jf)(w0),
                               rtol=1e-10)
    xg.testing.check_grads(f, (xg.asarray(w0),), order=2)
    # a function of no arguments: its draws are per example (or one for all)
    rng = xg.random.default_rng(0)
    draws = xg.vmap(lambda: rng.normal(size=2), in_axes=(), axis_size=5,
                    randomness="different")().numpy()
    assert draws.shape == (5, 2) and len({tuple(row) for row in draws}) == 5
    assert xg.vmap(lambda x: x * 2, axis_size=4)(X).shape == (4, 3)    # agreeing: no error


def _chunked_pair(x, w, *, k):
    return {"h": xg.tanh(x * w + k), "total": xg.sum(w) * 2}


@pytest.mark.parametrize("chunk_size", [1, 2, 3, 7, 10])
def test_chunk_size_gives_the_values_and_gradients_of_one_call(chunk_size):
    x, w, k = RNG.normal(size=(7, 3)), RNG.normal(size=3), RNG.normal(size=(7, 3))

    def f(x, w, k, chunks=chunk_size):
        out = xg.vmap(_chunked_pair, in_axes=(0, None), out_axes={"h": 1, "total": None},
                      chunk_size=chunks)(x, w, k=k)
        assert out["h"].shape == (3, 7) and out["total"].shape == ()
        return xg.sum(out["h"] ** 2) + out["total"]

    args = tuple(xg.asarray(a) for a in (x, w, k))
    np.testing.assert_allclose(f(*args).numpy(), f(*args, chunks=None).numpy(), rtol=1e-12)
    for g, want in zip(xg.grad(f, argnums=(0, 1, 2))(*args),
                       xg.grad(lambda *a: f(*a, chunks=None), argnums=(0, 1, 2))(*args)):
        np.testing.assert_allclose(g.numpy(), want.numpy(), rtol=1e-12)
    xg.testing.check_grads(f, args, order=2)


def test_chunk_size_matches_torch_func_and_traces():
    torch = pytest.importorskip("torch")
    x, w = RNG.normal(size=(9, 3)), RNG.normal(size=3)
    loss = lambda w: xg.sum(xg.vmap(lambda r, w: xg.sum(xg.tanh(r * w)) ** 2, in_axes=(0, None),
                                    chunk_size=4)(xg.asarray(x), w))
    tloss = lambda w: torch.sum(torch.func.vmap(
        lambda r, w: torch.sum(torch.tanh(r * w)) ** 2, in_dims=(0, None), chunk_size=4)(
        torch.tensor(x), w))
    want = torch.func.grad(tloss)(torch.tensor(w)).numpy()
    np.testing.assert_allclose(xg.grad(loss)(xg.asarray(w)).numpy(), want, rtol=1e-12)
    step = xg.function(xg.grad(loss))
    for _ in range(2):
        np.testing.assert_allclose(step(xg.asarray(w)).numpy(), want, rtol=1e-12)


def test_chunks_draw_as_one_call_does_and_keep_one_chunk_alive():
    rng = xg.random.default_rng(0)
    noisy = lambda a: a + rng.normal(size=(), dtype=xg.float64)
    same = xg.vmap(noisy, randomness="same", chunk_size=3)(xg.zeros(7)).numpy()
    assert np.all(same == same[0])
    different = xg.vmap(noisy, randomness="different", chunk_size=3)(xg.zeros(7)).numpy()
    assert len(set(different)) == 7
    with pytest.raises(RuntimeError, match="randomness='error'"):
        xg.vmap(noisy, chunk_size=3)(xg.zeros(7))

    import tracemalloc

    x = xg.asarray(RNG.normal(size=(64, 100)))
    outer = lambda r: xg.sum(xg.tanh(r[:, None] * r[None, :]))      # 80 kB per example
    peaks = {}
    for chunk_size in (None, 4):
        f = xg.vmap(outer, chunk_size=chunk_size)
        want = f(x).numpy()
        tracemalloc.start()
        try:
            got = f(x).numpy()
            peaks[chunk_size] = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        np.testing.assert_allclose(got, want)
    assert peaks[4] < peaks[None] / 4, peaks


def test_under_a_tape_chunks_keep_their_residuals_unless_recomputed():
    """A recording tape keeps every chunk's intermediate values for its gradient, so chunks
    lower only the forward's temporaries; recompute_grad inside keeps none, and the peak
    over forward and backward is then about one chunk's."""
    import tracemalloc

    w = xg.Variable(RNG.normal(size=(20, 500)) * 0.1, name="w")
    x = xg.asarray(RNG.normal(size=(512, 20)))
    fn = lambda r: xg.sum(xg.sin(xg.tanh(r @ w)))             # 4 kB per residual per example

    def measure(mapped):
        tracemalloc.start()
        try:
            with xg.GradientTape() as tape:
                y = xg.sum(mapped(x))
            held = tracemalloc.get_traced_memory()[0]
            grad = tape.gradient(y, w)
            return held, tracemalloc.get_traced_memory()[1], grad.numpy()
        finally:
            tracemalloc.stop()

    whole_held, whole_peak, want = measure(xg.vmap(fn))
    chunk_held, chunk_peak, chunked = measure(xg.vmap(fn, chunk_size=16))
    re_held, re_peak, recomputed = measure(xg.vmap(xg.recompute_grad(fn), chunk_size=16))
    assert chunk_held > whole_held / 2 and chunk_peak < whole_peak, (chunk_held, whole_held)
    assert re_held < whole_held / 8 and re_peak < whole_peak / 8, (re_held, re_peak, whole_peak)
    scale = 1e-13 * np.abs(want).max()                   # (sums over chunks in another order)
    np.testing.assert_allclose(chunked, want, rtol=1e-12, atol=scale)
    np.testing.assert_allclose(recomputed, want, rtol=1e-12, atol=scale)
    small = lambda w: xg.sum(xg.vmap(xg.recompute_grad(lambda r: xg.sum(xg.sin(xg.tanh(r @ w)))),
                                     chunk_size=3)(x[:7, :5]))
    xg.testing.check_grads(small, (xg.asarray(RNG.normal(size=(5, 4))),), order=1)


def test_a_tape_outside_differentiates_through_vmap():
    def f(x):
        return xg.vmap(lambda r, s: xg.sum(xg.sin(r) * r[0]) * s, in_axes=(1, None))(x.T, 2.0)

    xg.testing.check_grads(f, (xg.asarray(X.numpy()),), order=2)
    with xg.GradientTape() as tape:
        tape.watch(X)
        loss = xg.sum(f(X) ** 2)
    got = tape.gradient(loss, X).numpy()
    with xg.GradientTape() as tape:
        tape.watch(X)
        loss = xg.sum((2 * xg.sum(xg.sin(X) * X[:, :1], axis=1)) ** 2)
    np.testing.assert_allclose(got, tape.gradient(loss, X).numpy(), rtol=1e-12)


def test_per_sample_gradients_inside_xg_function_replay_right():
    rng = np.random.default_rng(0)
    w = xg.Variable(rng.normal(size=(5, 3)))

    def loss(w, x, y):
        return xg.losses.softmax_cross_entropy(xg.nn.relu(x @ w)[None], y[None])

    per = xg.vmap(xg.grad(loss), in_axes=(None, 0, 0))
    step = xg.function(lambda x, y: xg.sum(per(w, x, y) ** 2, axis=(1, 2)))
    for _ in range(3):
        x, y = xg.asarray(rng.normal(size=(4, 5))), xg.asarray(rng.integers(0, 3, 4))
        want = [np.sum(xg.grad(loss)(w, x[j], y[j]).numpy() ** 2) for j in range(4)]
        np.testing.assert_allclose(step(x, y).numpy(), want, rtol=1e-10)
    assert len(step.programs()) == 1 and dict(per.fallbacks) == {}


def test_a_vmap_under_xg_function_maps_only_the_arguments_it_is_given():
    # xg.function fills a plain function's defaults in (one trace for f(x) and f(x, 0.1)); a
    # vmap's must stay out: in_axes=0 maps every argument given, and JAX's vmap never sees a
    # default (before the fix: "maps argument [2] over axis 0, but it is a float")
    def leapfrog_step(x, p, eps=0.1):
        p = p - 0.5 * eps * x
        return x + eps * p, p

    x, p = xg.asarray(RNG.normal(size=(4, 2))), xg.asarray(RNG.normal(size=(4, 2)))
    want = np.stack([np.concatenate([t.numpy() for t in leapfrog_step(x[j], p[j])])
                     for j in range(4)])
    for mapped in (xg.vmap(leapfrog_step), xg.vmap(leapfrog_step, in_axes=(0, 0))):
        step = xg.function(mapped)
        for _ in range(2):
            got = np.concatenate([t.numpy() for t in step(x, p)], axis=1)
            np.testing.assert_allclose(got, want, rtol=1e-12)
    scaled = xg.function(xg.vmap(leapfrog_step, in_axes=(0, 0, None)))
    got = np.concatenate([t.numpy() for t in scaled(x, p, 0.1)], axis=1)
    np.testing.assert_allclose(got, want, rtol=1e-12)
    with pytest.raises(ValueError, match=r"argument \[2\] over axis 0, but it is a float"):
        xg.function(xg.vmap(leapfrog_step))(x, p, 0.1)       # given, so mapped: JAX's error too


def test_the_backend_is_put_back_also_when_the_function_raises():
    be = xg.get_backend("numpy")
    xp, kernels = be.xp, be.kernels

    def fails(a):
        assert type(be.xp).__name__ == "BatchingNamespace" and not be.kernels
        raise KeyError("inside")

    with pytest.raises(KeyError, match="inside"):        # X on numpy, whatever the default
        xg.vmap(fails)(xg.asarray(X.numpy(), backend="numpy"))
    assert be.xp is xp and be.kernels is kernels and "xp" not in vars(be)
    assert xg.nn.relu(xg.asarray([-1.0, 1.0], backend="numpy")).tolist() == [0.0, 1.0]


_ESCAPED = r"shape \(3,\) and dtype float64 per example \(4 examples\).*escaped.*Return values"


def test_a_value_that_escapes_the_call_is_refused_when_used_after_it():
    # JAX: UnexpectedTracerError; a value stored from inside the mapped function has no value
    # outside the call, so using it (also printing it) names what escaped and the way out
    kept = []

    def f(row):
        y = xg.sin(row) * 2.0
        kept.append(y)
        return xg.sum(y)

    np.testing.assert_allclose(xg.vmap(f)(X).numpy(), np.sum(np.sin(X.numpy()) * 2.0, 1),
                               rtol=1e-12)
    escaped = kept[0]
    uses = {"multiply": lambda: escaped * 2.0, "add a tensor": lambda: escaped + X[0],
            "sin": lambda: xg.sin(escaped), "sum": lambda: xg.sum(escaped),
            "matmul": lambda: escaped @ xg.ones((3, 2), dtype=xg.float64),
            "reshape": lambda: xg.reshape(escaped, (3, 1)), "index": lambda: escaped[0],
            "repr": lambda: repr(escaped), "numpy": lambda: escaped.numpy(),
            "np.asarray": lambda: np.asarray(escaped),
            "gradient": lambda: xg.grad(lambda a: xg.sum(a * escaped))(X[0]),
            "another vmap": lambda: xg.vmap(lambda r: r * escaped)(X)}
    for what, use in uses.items():
        with pytest.raises(RuntimeError, match=_ESCAPED):
            use()
    inner = []
    outer = xg.vmap(lambda row: xg.vmap(lambda a: inner.append(a * 1.0) or a)(row) + 1.0)
    outer(xg.reshape(X, (4, 3, 1)))
    with pytest.raises(RuntimeError, match="escaped"):
        xg.vmap(lambda row: row * inner[0])(X)


def test_a_gradient_taken_after_the_call_still_enters_its_level():
    # the kept tape's walk enters the call's level again: its values are live there
    w = xg.asarray(RNG.normal(size=(3, 3)))
    with xg.GradientTape() as tape:
        tape.watch(w)
        y = xg.sum(xg.vmap(lambda row: xg.tanh(row @ w))(X) ** 2)
    got = tape.gradient(y, w).numpy()
    t = np.tanh(X.numpy() @ w.numpy())
    np.testing.assert_allclose(got, X.numpy().T @ (2 * t * (1 - t ** 2)), rtol=1e-12)


def test_another_threads_work_during_a_vmap_is_unbatched():
    started, release = threading.Event(), threading.Event()
    seen = {}

    def slow(a):
        started.set()
        release.wait(5)
        return a * 2

    def other():
        started.wait(5)
        seen["value"] = (xg.zeros(2) + xg.ones(2)).tolist()
        release.set()

    thread = threading.Thread(target=other)
    thread.start()
    out = xg.vmap(slow)(X)
    thread.join()
    assert seen["value"] == [1.0, 1.0]
    np.testing.assert_allclose(out.numpy(), 2 * X.numpy())


def test_numba_backend_batches_by_the_same_path():
    try:
        be = xg.get_backend("numba")
    except xg.BackendUnavailableError as e:
        pytest.skip(str(e))
    w = xg.asarray(RNG.normal(size=(3, 2)), backend=be)
    x = xg.asarray(X.numpy(), backend=be)
    per = xg.vmap(xg.grad(lambda w, x: xg.sum(xg.tanh(x @ w) ** 2)), in_axes=(None, 0))
    got = per(w, x)
    assert got.backend is be and dict(per.fallbacks) == {}
    want = [xg.grad(lambda w, x: xg.sum(xg.tanh(x @ w) ** 2))(w, x[i]).numpy()
            for i in range(4)]
    # the loop's gradients run numba's tanh kernel, vmap the generic rule: equal to rounding
    # (absolute, for the entries near 0 where the sum cancels)
    np.testing.assert_allclose(got.numpy(), np.stack(want), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("name", ["numpy", "numba"])
def test_a_vjp_recorded_outside_vmap_with_kernels_runs_per_example_inside(name):
    # jacobian rows by vmap of a vjp made outside: the tape recorded the backend's fused
    # kernels (tanh, softmax cross-entropy), which compute on one
    # example's arrays; inside vmap they run once per example and say so in fallbacks
    try:
        be = xg.get_backend(name)
    except xg.BackendUnavailableError as e:
        pytest.skip(str(e))
    w = xg.asarray(RNG.normal(size=(4, 3)), backend=be)
    x = xg.asarray(RNG.normal(size=4), backend=be)
    labels = xg.asarray([2], backend=be)
    f = lambda x: xg.tanh(x @ w) * x[:3] + xg.losses.softmax_cross_entropy(    # noqa: E731
        (x @ w)[None], labels)
    _, vjp_fn = xg.vjp(f, x)
    rows = xg.vmap(lambda c: vjp_fn(c)[0])
    got = rows(xg.eye(3, dtype=xg.float64, backend=be))
    np.testing.assert_allclose(got.numpy(), xg.jacobian(f)(x).numpy(), rtol=1e-12)
    torch = pytest.importorskip("torch")
    tw = torch.tensor(w.numpy())
    want = torch.func.jacrev(lambda t: torch.tanh(t @ tw) * t[:3] + torch.nn.functional.cross_entropy(
        (t @ tw)[None], torch.tensor([2])))(torch.tensor(x.numpy()))
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-12)
    assert dict(rows.fallbacks) == {"tanh (kernel vjp)": 1,
                                    "softmax_cross_entropy (kernel vjp)": 1}


def test_the_readme_example_runs():
    code = re.search(r"```python\n(.*?)```", text_from("`xg.vmap(fn, in_axes=0, out_axes=0"),
                     re.S).group(1)
    namespace = {"xg": xg}
    exec(code, namespace)
    assert namespace["grads"]["b"].shape == (64, 10)
