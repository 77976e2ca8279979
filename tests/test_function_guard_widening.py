"""xg.function's range guards widen only where the traced program did not take the range's
values themselves. A bounds check (``Backend.check_index_range``: labels, ids, offsets,
indices) takes only pass or fail, so after a failed guard whose eager call passed the check the
guard widens and such calls replay. A value read (``Backend.index_range``) may have become a
shape or a Python branch: its guard holds the program to exactly the range traced and never
widens. Before, every ``index_range`` guard widened, and a program that had taken the largest
value as a length replayed, after one call with a larger value ran eagerly, with the traced
length: counts silently dropped (the regression test below), and a smaller value, inside the
traced range, replayed the traced length too.

Each random program runs a sequence of inputs eagerly and compiled, call for call, with ranges
that grow past the traced one (a guard fails and widens) and shrink back."""
import contextlib

import numpy as np
import pytest

import xpgrad as xg
from xpgrad.jit.program import Program
from xpgrad.jit.replay_steps import GuardFailed, RangeGuard

BACKENDS = ["numpy", "numba"]


@contextlib.contextmanager
def _counting(cls, name):
    """A list that gets one entry per call of ``cls.name`` while the context runs."""
    original, calls = getattr(cls, name), []

    def counted(*args, **kwargs):
        calls.append(args[1:])
        return original(*args, **kwargs)

    setattr(cls, name, counted)
    try:
        yield calls
    finally:
        setattr(cls, name, original)


def _numpy(result):
    items = result if isinstance(result, (tuple, list)) else (result,)
    return [np.asarray(r.numpy()) for r in items]


def _compare(fn, calls, **options):
    """``fn`` run eagerly and through ``xg.function(fn, **options)`` on each argument tuple of
    ``calls``: equal results (shapes included) call for call; returns (guard failures,
    replays) of the compiled calls."""
    compiled = xg.function(fn, **options)
    with _counting(RangeGuard, "widen") as failures, _counting(Program, "run_arrays") as replays:
        for k, args in enumerate(calls):
            got = _numpy(compiled(*args))
            want = _numpy(fn(*args))
            assert len(got) == len(want)
            for a, b in zip(want, got):
                assert a.shape == b.shape, f"call {k}: shape {b.shape}, eager {a.shape}"
                np.testing.assert_allclose(b, a, rtol=1e-12, atol=1e-12, err_msg=f"call {k}")
    return failures, replays


def _histogram(x):
    """Counts of 0..max(x): the largest value, read back, decides the length."""
    hi = x.backend.index_range(x._data)[1]
    return xg.sum(xg.one_hot(x, hi + 1, dtype=xg.int64), axis=0)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_length_read_from_a_checked_value_is_not_replayed_after_a_wider_call(backend):
    """The regression: traced with max 2 (3 counts); a call with max 3 fails the guard and
    runs eagerly (4 counts). Before, the guards then widened to max 3, and the fifth call
    replayed the traced program: 3 counts, the two 3s dropped. And a call with max 1 (inside
    the traced range) replayed 3 counts where eager gives 2."""
    rows = ([0, 1, 1, 2], [0, 1, 1, 2], [0, 1, 3, 3], [0, 1, 3, 3], [0, 1, 3, 3], [0, 0, 1, 1],
            [2, 1, 0, 1])
    calls = [(xg.asarray(r, backend=backend),) for r in rows]
    failures, replays = _compare(_histogram, calls)
    assert failures                        # the wider calls failed a guard
    # calls 3 to 7 tried the program; only the last (max 2 again, as traced) replays it
    assert len(replays) == 5


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_python_branch_on_a_read_value_is_not_replayed_after_a_wider_call(backend):
    """A branch on the smallest value: traced with all non-negative values (no shift)."""
    def shifted(x):
        lo, _ = x.backend.index_range(x._data)
        return x - lo if lo < 0 else x * 2

    rows = ([1, 2], [1, 2], [-1, 2], [-1, 2], [-1, 2], [0, 1])
    failures, _ = _compare(shifted, [(xg.asarray(r, backend=backend),) for r in rows])
    assert failures


def test_a_value_read_replays_while_its_range_is_the_traced_one():
    compiled = xg.function(_histogram)
    x = xg.asarray([0, 1, 1, 2])
    with _counting(Program, "run_arrays") as replays, _counting(RangeGuard, "widen") as failures:
        for row in ([0, 1, 1, 2], [0, 1, 1, 2], [2, 2, 1, 0], [1, 0, 2, 0]):
            compiled(xg.asarray(row))
    assert compiled.trace_count == 1 and len(replays) == 2 and not failures
    assert compiled(x).tolist() == [1, 2, 1]


# -- the guards themselves -------------------------------------------------------------------

def _range(a):
    return int(np.min(a)), int(np.max(a))


def test_an_exact_guard_fails_for_any_other_range_and_never_widens():
    guard = RangeGuard(_range, 0, 3, exact=True)
    guard(np.array([3, 0, 1]))
    for bad in ([0, 2], [1, 3], [0, 4], [-1, 3]):          # narrower ones fail too
        with pytest.raises(GuardFailed) as failed:
            guard(np.array(bad))
        guard.widen(failed.value.lo, failed.value.hi)
        assert (guard.lo, guard.hi) == (0, 3)
    assert not guard.widens


def test_a_check_guard_widens_to_the_ranges_accepted():
    guard = RangeGuard(_range, 1, 3)
    guard(np.array([2, 3]))                              # inside: replays
    with pytest.raises(GuardFailed) as failed:
        guard(np.array([0, 5]))
    guard.widen(failed.value.lo, failed.value.hi)
    assert (guard.lo, guard.hi) == (0, 5)
    guard(np.array([0, 5]))


def test_a_check_guard_never_widens_past_within():
    """``take`` wraps negative indices only where it saw one: traced without, its guard stays
    at or above 0, however many eager calls with negative indices there were."""
    def within(lo, hi):
        return (0 if lo >= 0 else -5, 4)

    guard = RangeGuard(_range, 0, 2, within=within)
    guard.widen(-1, 2)                                 # across 0: the program lacks the wrap
    assert (guard.lo, guard.hi) == (0, 2)
    guard.widen(0, 4)                                  # inside: widens
    assert (guard.lo, guard.hi) == (0, 4)
    traced_negative = RangeGuard(_range, -2, 1, within=within)
    traced_negative.widen(-5, 4)
    assert (traced_negative.lo, traced_negative.hi) == (-5, 4)


def test_check_index_range_eagerly_is_index_range():
    for name in BACKENDS:
        be = xg.get_backend(name)
        a = xg.asarray([4, -2, 7], backend=name)._data
        assert be.check_index_range(a) == be.index_range(a) == (-2, 7)
        assert be.check_index_range(a, within=lambda lo, hi: (lo, hi)) == (-2, 7)


@pytest.mark.parametrize("backend", BACKENDS)
def test_take_after_a_negative_index_ran_eagerly_still_fails_its_guard(backend):
    """Traced with non-negative indices (no wrap in the program): calls with a negative index
    keep failing the guard (and run eagerly), where before the first widened it across 0."""
    x = xg.asarray(np.arange(5.0) * 10, backend=backend)

    def pick(i):
        return xg.take(x, i)

    rows = ([0, 1], [0, 1], [-1, 2], [-1, 2], [-1, 2], [3, 4], [3, 4])
    failures, replays = _compare(pick, [(xg.asarray(r, backend=backend),) for r in rows])
    # calls 3-5 fail the guard (each, never widened across 0); call 6 too (4 > 1: widens),
    # call 7 replays
    assert len(failures) == 4 and len(replays) == 5


# -- random programs: compiled == eager over sequences that widen guards -----------------------

def _schedule(rng, calls, widest):
    """A (lo, hi) bound per call: the first two (warm-up, trace) narrow, then wider and
    narrower ones in random order, so guards fail, widen, and replay inside and outside."""
    narrow = widest // 2
    out = [narrow, narrow]
    out += [int(rng.integers(1, widest + 1)) for _ in range(calls - 2)]
    out[2] = widest                      # at least one call fails the traced range
    return out


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("backend", BACKENDS)
def test_random_take_and_gradient_programs(backend, seed):
    rng = np.random.default_rng(seed)
    n = 7
    w = xg.Variable(rng.standard_normal((n, 3)), backend=backend)

    def step(i, j):
        with xg.GradientTape() as tape:
            rows = xg.take(w, i, axis=0)
            cols = xg.take_along_axis(rows, j, axis=1)
            loss = xg.sum(xg.tanh(cols) * xg.sum(rows, axis=1, keepdims=True))
        return loss, rows, tape.gradient(loss, w)

    calls = []
    for bound in _schedule(rng, 10, n - 1):
        lo = -bound if rng.random() < 0.4 else 0
        i = rng.integers(lo, bound + 1, size=5)
        j = rng.integers(-3 if rng.random() < 0.3 else 0, 3, size=(5, 2))
        calls.append((xg.asarray(i, backend=backend), xg.asarray(j, backend=backend)))
    failures, _ = _compare(step, calls)
    assert failures


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("backend", BACKENDS)
def test_random_embedding_bag_programs(backend, seed, mode):
    """Bags cut at random offsets (their longest bag grows and shrinks) of random ids."""
    rng = np.random.default_rng(seed)
    num, size, bags = 9, 12, 4
    weight = xg.Variable(rng.standard_normal((num, 3)), backend=backend)

    def step(ids, offsets):
        with xg.GradientTape() as tape:
            out = xg.nn.embedding_bag(ids, weight, offsets, mode=mode)
            loss = xg.sum(out * out)
        return out, tape.gradient(loss, weight)

    calls = []
    for bound in _schedule(rng, 10, num - 1):
        ids = rng.integers(0, bound + 1, size=size)
        cuts = np.sort(rng.integers(0, size + 1, size=bags - 1))
        offsets = np.concatenate([[0], cuts])
        calls.append((xg.asarray(ids, backend=backend), xg.asarray(offsets, backend=backend)))
    failures, _ = _compare(step, calls)
    assert failures


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("backend", BACKENDS)
def test_random_loss_and_read_programs(backend, seed):
    """Labels checked by a loss and one_hot (checks), and a count read back from them (a
    read whose value is a shape), in one function."""
    rng = np.random.default_rng(seed)
    classes = 6
    w = xg.Variable(rng.standard_normal((4, classes)), backend=backend)

    def step(x, y):
        with xg.GradientTape() as tape:
            loss = xg.losses.softmax_cross_entropy(x @ w, y)
        hi = y.backend.index_range(y._data)[1]
        seen = xg.sum(xg.one_hot(y, hi + 1), axis=0)
        return loss, seen, tape.gradient(loss, w)

    calls = []
    for bound in _schedule(rng, 10, classes - 1):
        x = rng.standard_normal((8, 4))
        y = rng.integers(0, bound + 1, size=8)
        calls.append((xg.asarray(x, backend=backend), xg.asarray(y, backend=backend)))
    failures, _ = _compare(step, calls)
    assert failures


@pytest.mark.parametrize("backend", BACKENDS)
def test_embedding_bag_max_replays_bags_longer_than_the_traced_ones(backend):
    """``embedding_bag``'s max reads no bag length back (segment reductions over the rows):
    calls whose longest bag grows past the traced one (2, then 4, then 3) replay the one
    program and equal the eager call. Its earlier version read the longest bag back as the
    length of a window of rows, the case these guards hold to the traced range."""
    weight = xg.Variable(np.arange(10.0).reshape(5, 2), backend=backend)   # rising rows

    def step(ids, offsets):
        with xg.GradientTape() as tape:
            out = xg.nn.embedding_bag(ids, weight, offsets, mode="max")
            loss = xg.sum(out)
        return out, tape.gradient(loss, weight)

    ids = xg.asarray([4, 0, 1, 2, 3, 4], backend=backend)     # a long bag's maximum last
    cuts = ([0, 2, 4], [0, 2, 4], [0, 1, 2], [0, 1, 2], [0, 1, 2], [0, 3, 4])
    calls = [(ids, xg.asarray(c, backend=backend)) for c in cuts]   # longest 2, then 4, 3
    _, replays = _compare(step, calls)
    assert len(replays) == len(calls) - 2     # the first runs eagerly, the second traces
