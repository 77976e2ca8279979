"""``xg.random`` samplers beyond normal/uniform/integers, as NumPy's ``Generator`` has them:
``choice``, ``permutation`` of an array, ``spawn``, ``exponential``, ``standard_normal`` and
``integers(..., endpoint=True)``. Each gives NumPy's numbers for the same seed on every CPU
backend, takes the rows of a tensor differentiably, draws anew on every ``xg.function``
replay, and refuses bad arguments by name."""
import numpy as np
import pytest

import xpgrad as xg

BACKENDS = ["numpy", "numba"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_samplers_give_numpys_numbers(backend):
    ours, theirs = xg.random.default_rng(3, backend=backend), np.random.default_rng(3)
    draws = [
        (ours.choice(10, size=(2, 3)), theirs.choice(10, size=(2, 3))),
        (ours.choice(10, size=4, replace=False), theirs.choice(10, size=4, replace=False)),
        (ours.choice(4, size=6, p=[0.1, 0.2, 0.3, 0.4]),
         theirs.choice(4, size=6, p=[0.1, 0.2, 0.3, 0.4])),
        (ours.choice(5), theirs.choice(5)),
        (ours.integers(1, 3, size=20, endpoint=True), theirs.integers(1, 3, size=20,
                                                                       endpoint=True)),
        (ours.exponential(2.0, size=5, dtype=xg.float64), 2.0 * theirs.standard_exponential(5)),
        (ours.standard_normal((2, 2), dtype=xg.float64), theirs.standard_normal((2, 2))),
    ]
    for got, expected in draws:
        np.testing.assert_allclose(np.asarray(got), expected, rtol=1e-15)
        assert np.shape(np.asarray(got)) == np.shape(expected)
    assert np.asarray(draws[0][0]).dtype == np.int64


@pytest.mark.parametrize("backend", BACKENDS)
def test_float32_draws_are_numpys_float32_draws_not_its_float64_ones(backend):
    """What docs/training.md tells a user comparing ``xg.random.default_rng(0).normal()`` with
    ``np.random.default_rng(0).normal()``: the default float32 draws are NumPy's float32
    stream (another sequence than its float64 one), ``dtype=xg.float64`` gives the latter."""
    def ours():
        return xg.random.default_rng(0, backend=backend)

    theirs = np.random.default_rng
    assert ours().normal(size=3).numpy().tolist() == \
        theirs(0).standard_normal(3, dtype=np.float32).tolist()
    assert ours().uniform(size=3).numpy().tolist() == \
        theirs(0).random(3, dtype=np.float32).tolist()
    assert ours().normal(size=3, dtype=xg.float64).numpy().tolist() == \
        theirs(0).normal(size=3).tolist()
    assert ours().normal(size=3).numpy().tolist() != \
        theirs(0).normal(size=3).astype(np.float32).tolist()


@pytest.mark.parametrize("backend", BACKENDS)
def test_choice_and_permutation_of_rows_carry_gradients(backend):
    x = xg.Variable(np.arange(12.0).reshape(4, 3), backend=backend)
    rng, reference = xg.random.default_rng(5, backend=backend), np.random.default_rng(5)
    with xg.GradientTape() as tape:
        shuffled = rng.permutation(x)
        picked = rng.choice(x, size=(2, 3))       # with replacement: rows may repeat
        loss = xg.sum(shuffled * 2.0) + xg.sum(picked)
    rows = reference.permutation(4)
    chosen = reference.choice(4, size=(2, 3))
    np.testing.assert_array_equal(shuffled.numpy(), x.numpy()[rows])
    assert picked.shape == (2, 3, 3)
    np.testing.assert_array_equal(picked.numpy(), x.numpy()[chosen])
    expected = np.full((4, 3), 2.0)
    np.add.at(expected, chosen.ravel(), 1.0)      # each row once per time it was chosen
    np.testing.assert_array_equal(tape.gradient(loss, x).numpy(), expected)
    np.testing.assert_array_equal(                # a plain array: a shuffled copy of it
        xg.random.default_rng(1).permutation(np.arange(5)).numpy(),
        np.random.default_rng(1).permutation(np.arange(5)))


def test_spawned_generators_are_numpys_children():
    children = xg.random.default_rng(0, backend="numba").spawn(2)
    expected = np.random.default_rng(0).spawn(2)
    for child, reference in zip(children, expected):
        assert child.backend.name == "numba"
        np.testing.assert_array_equal(child.normal(size=3, dtype=xg.float64).numpy(),
                                      reference.standard_normal(3))
    assert xg.random.default_rng(0).spawn(0) == []


@pytest.mark.parametrize("backend", BACKENDS)
def test_choice_draws_anew_on_every_replay(backend):
    def sample(x):
        return rng.choice(x, size=3) * 1.0, rng.choice(7, size=2, replace=False)

    rng = xg.random.default_rng(11, backend=backend)
    x = xg.asarray(np.arange(8.0).reshape(4, 2), backend=backend)
    eager = [sample(x) for _ in range(4)]
    rng = xg.random.default_rng(11, backend=backend)
    compiled = xg.function(sample)
    replayed = [compiled(x) for _ in range(4)]
    assert compiled.trace_count == 1
    for (a, b), (c, d) in zip(eager, replayed):
        np.testing.assert_array_equal(a.numpy(), c.numpy())
        np.testing.assert_array_equal(b.numpy(), d.numpy())
    assert len({tuple(b.numpy().tolist()) for _, b in replayed}) > 1


@pytest.mark.parametrize("call, error, message", [
    (lambda r: r.choice(3, size=4, replace=False), ValueError, "choice: Cannot take a larger"),
    (lambda r: r.choice(3, p=[0.5, 0.5]), ValueError, r"p must have one probability per "
                                                      r"choice \(3\), got shape \(2,\)"),
    (lambda r: r.choice(2, p=[0.7, 0.7]), ValueError,
     r"choice: p must be probabilities \(finite, >= 0, summing to 1\), got \[0.7, 0.7\]"),
    (lambda r: r.choice(2, p=[1.5, -0.5]), ValueError, "choice: p must be probabilities"),
    (lambda r: r.choice(-1), ValueError, "choice: a must be >= 0, got -1"),
    (lambda r: r.choice(2.5), TypeError, "choice: a must be an integer, got float 2.5"),
    (lambda r: r.choice(np.float64(3.0)), TypeError, "choice: a must be an integer"),
    (lambda r: r.choice(np.array(3.0)), TypeError, "choice: a must be an integer"),
    (lambda r: r.permutation(np.zeros(())), TypeError, "permutation: n must be an integer"),
    (lambda r: r.permutation(True), TypeError, "permutation: n must be an integer"),
    (lambda r: r.spawn(-2), ValueError, "spawn: n must be >= 0, got -2"),
    (lambda r: r.exponential(-1.0), ValueError, "exponential: scale must be >= 0"),
    (lambda r: r.exponential(size=3, dtype=xg.int32), TypeError, "dtype must be floating"),
    (lambda r: r.integers(0, 2**63 - 1, endpoint=True, dtype=xg.int32), ValueError,
     "high=9223372036854775807 is out of bounds for int32"),
])
def test_bad_arguments_are_refused_by_name(call, error, message):
    rng = xg.random.default_rng(0)
    state = rng.get_state()
    with pytest.raises(error, match=message):
        call(rng)
    assert rng.get_state() == state                # nothing was drawn


def test_endpoint_reaches_the_dtype_maximum():
    top = np.iinfo(np.int8).max
    draws = xg.random.default_rng(0).integers(top - 1, top, size=64, dtype=xg.int8,
                                              endpoint=True).numpy()
    assert set(draws.tolist()) == {top - 1, top}


@pytest.mark.parametrize("call, error, message", [
    (lambda r: r.uniform(0.0, float("inf"), size=3), ValueError, "uniform: high must be finite"),
    (lambda r: r.uniform(float("nan"), 1.0), ValueError, "uniform: low must be finite"),
    (lambda r: r.uniform(np.array([0.0, np.inf])), ValueError, "uniform: low must be finite"),
    (lambda r: r.integers(5, 2, size=3), ValueError, "integers: low=5 and high=2 leave no"),
    (lambda r: r.normal(size=(-1, 2)), ValueError, "normal: size: shape must not have neg"),
    (lambda r: r.set_state({**r.get_state(), "state": {"state": -1, "inc": 1}}), ValueError,
     "set_state: state is not a state of this generator"),
])
def test_more_bad_arguments_are_refused_by_name(call, error, message):
    rng = xg.random.default_rng(0)
    state = rng.get_state()
    with pytest.raises(error, match=message):
        call(rng)
    assert rng.get_state() == state


def test_a_range_that_overflows_float32_still_draws_inside_it():
    draws = xg.random.default_rng(0).uniform(-3e38, 3e38, size=1000).numpy()
    assert np.isfinite(draws).all() and draws.min() < -1e38 and draws.max() > 1e38


def test_choice_takes_a_float32_softmax_as_numpy_does():
    """NumPy's tolerance on p's sum is sqrt(eps) of p's own dtype: a float32 softmax (off 1 by
    ~1e-7) is accepted, with NumPy's picks for the same seed."""
    for seed in range(20):
        logits = np.random.default_rng(seed).normal(size=100).astype(np.float32)
        p = xg.nn.softmax(xg.asarray(logits), axis=-1)
        got = xg.random.default_rng(0).choice(100, 20, p=p)
        assert got.tolist() == np.random.default_rng(0).choice(100, 20, p=p.numpy()).tolist()
    with pytest.raises(ValueError, match="p must be probabilities"):
        xg.random.default_rng(0).choice(3, p=np.array([0.5, 0.5, 0.1], np.float32))


@pytest.mark.parametrize("call, match", [
    (lambda g: g.exponential(xg.asarray([-2.0]), size=(3,)), "exponential: scale must be >= 0"),
    (lambda g: g.normal(0.0, xg.asarray([-1.0, np.nan])), "normal: scale must be >= 0"),
    (lambda g: g.normal(0.0, float("nan"), size=3), "normal: scale must be >= 0"),
    (lambda g: g.exponential(float("nan")), "exponential: scale must be >= 0"),
    (lambda g: g.uniform(xg.asarray(np.nan), 1.0, size=(2,)), "uniform: low must be finite"),
    (lambda g: g.uniform(xg.asarray(5.0), xg.asarray(1.0), size=3), "low must be <= high"),
    (lambda g: g.uniform(2.0, 1.0, size=3), "uniform: low must be <= high, got low=2.0"),
    (lambda g: g.uniform([0.0, 3.0], [1.0, 2.0]), "uniform: low must be <= high")])
def test_bad_parameters_are_refused_as_numpy_refuses_them(call, match):
    with pytest.raises(ValueError, match=match):
        call(xg.random.default_rng(0))


def test_array_like_bounds_and_every_integer_dtype_draw_numpys_numbers():
    g = xg.random.default_rng(0)
    got = g.uniform([0.0, 5.0], [1.0, 6.0])
    assert got.shape == (2,) and 0 <= got.tolist()[0] < 1 and 5 <= got.tolist()[1] < 6
    for dtype in ("int8", "int16", "uint8", "int32", "int64", "uint64"):
        drawn = xg.random.default_rng(1).integers(0, 100, size=500, dtype=getattr(xg, dtype))
        assert drawn.numpy().tolist() == np.random.default_rng(1).integers(
            0, 100, 500, dtype=dtype).tolist()
    top = xg.random.default_rng(1).integers(0, 2 ** 64 - 1, size=3, dtype=xg.uint64)
    assert top.tolist() == np.random.default_rng(1).integers(0, 2 ** 64 - 1, 3,
                                                             dtype=np.uint64).tolist()
