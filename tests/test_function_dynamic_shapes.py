"""``xg.function`` with values whose shape depends on values (xpgrad/jit/dynamic_shapes.py):
boolean-mask reads and writes, ``x.at[mask]`` updates, ``nonzero``, ``unique_*``, ``repeat``
with tensor counts, masks in loops and ``xg.scan``. Each is traced with its gradient taken
inside (a training step's shape) and called over counts that go up, down, to zero and to the
full size: every call must give the eager call's values and gradients, replays must happen, and
nothing planned from the traced shape (a buffer, a folded constant, a CUDA graph) may be reused
for another shape."""
import warnings

import numpy as np
import pytest
import torch

import xpgrad as xg
from xpgrad.jit import RetracingWarning, TraceError

from test_function_cuda import FakeGraphs
from side_effects_on_purpose import ON_PURPOSE

N = 6
#: counts of positive entries, call by call: up, down, to zero, to the full size, repeated
COUNTS = [3, 1, 3, 4, 0, 6, 0, 6, 3, 1, 4, 1, 0]


def _vector(count, seed):
    """A float64 vector of N entries, ``count`` of them positive, all at least 0.5 from 0 (so
    a finite-difference step never moves an entry across a mask's threshold)."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.7, 2.0, N) * np.where(np.arange(N) < count, 1.0, -1.0)
    return rng.permutation(x)


def _scan_mask(x):
    rows = xg.reshape(x, (3, 2))

    def body(total, row):
        return total + xg.sum(row[row > 0] ** 2), xg.sum(row[row > 0])

    total, sums = xg.scan(body, xg.asarray(0.0, dtype=xg.float64), rows)
    return total + xg.sum(sums)


def _loop_masks(x):
    for i in range(3):
        x = x.at[x > 0.5 * i].add(x[x > 0.5 * i] * 0.5)
    return xg.sum(x ** 2)


def _setitem(x):
    y = x * 1.0
    y[y > 0] = y[y > 0] * 5.0
    return xg.sum(y ** 2)


def _counts_of(x):
    return xg.astype(x > 0, xg.int64) + 1


#: name -> (xpgrad loss, the same loss in PyTorch or None)
CASES = {
    "mask_read": (lambda x: xg.sum(x[x > 0] ** 2), lambda x: torch.sum(x[x > 0] ** 2)),
    "mask_read_exp": (lambda x: xg.sum(xg.exp(x[x > 0] * 0.5)),
                      lambda x: torch.sum(torch.exp(x[x > 0] * 0.5))),
    "mask_2d": (lambda x: xg.sum(xg.reshape(x, (2, 3))[xg.reshape(x, (2, 3)) > 0] ** 3),
                lambda x: torch.sum(x.reshape(2, 3)[x.reshape(2, 3) > 0] ** 3)),
    "mask_rows_matmul": (
        lambda x: xg.sum((xg.reshape(x, (3, 2))[x[:3] > 0] @ xg.full((2, 4), 0.5,
                                                                    dtype=xg.float64)) ** 2),
        lambda x: torch.sum((x.reshape(3, 2)[x[:3] > 0]
                             @ torch.full((2, 4), 0.5, dtype=torch.float64)) ** 2)),
    "at_add_from_masked": (lambda x: xg.sum(x.at[x > 0].add(x[x > 0] * 3.0) ** 2),
                           lambda x: torch.sum(x.index_put((x > 0,), x[x > 0] * 3.0,
                                                           accumulate=True) ** 2)),
    "at_add_scalar": (lambda x: xg.sum(x.at[x > 0].add(1.0) ** 2),
                      lambda x: torch.sum(torch.where(x > 0, x + 1.0, x) ** 2)),
    "at_set": (lambda x: xg.sum(x.at[x > 0].set(x[x > 0] ** 2) * x),
               lambda x: torch.sum(x.index_put((x > 0,), x[x > 0] ** 2) * x)),
    "at_multiply": (lambda x: xg.sum(x.at[x > 0].multiply(x[x > 0] + 1.0) * x),
                    lambda x: torch.sum(x.index_put((x > 0,), x[x > 0] * (x[x > 0] + 1.0))
                                        * x)),
    "at_min": (lambda x: xg.sum(x.at[x > 0].min(x[x > 0] * 0.5 + 0.3) * x),
               lambda x: torch.sum(x.index_put((x > 0,), torch.minimum(
                   x[x > 0], x[x > 0] * 0.5 + 0.3)) * x)),
    "at_max": (lambda x: xg.sum(x.at[x > 0].max(x[x > 0] * 0.5 + 0.3) * x),
               lambda x: torch.sum(x.index_put((x > 0,), torch.maximum(
                   x[x > 0], x[x > 0] * 0.5 + 0.3)) * x)),
    "nonzero_take": (lambda x: xg.sum(xg.take(x, xg.nonzero(x > 0)[0]) ** 3),
                     lambda x: torch.sum(x[torch.nonzero(x > 0)[:, 0]] ** 3)),
    "repeat_tensor_counts": (lambda x: xg.sum(xg.repeat(x, _counts_of(x)) ** 2),
                             lambda x: torch.sum(torch.repeat_interleave(
                                 x, (x > 0).long() + 1) ** 2)),
    "unique_counts": (
        lambda x: xg.sum(x) * xg.sum(xg.astype(
            xg.unique_counts(xg.astype(x > 0, xg.int64))[1], xg.float64) ** 2),
        lambda x: torch.sum(x) * torch.sum(torch.unique(
            (x > 0).long(), return_counts=True)[1].double() ** 2)),
    "setitem_on_a_tensor": (_setitem, None),
    "masks_in_a_loop": (_loop_masks, None),
    "mask_in_scan": (_scan_mask, None),
}


def _with_gradient(loss_fn):
    def step(x):
        with xg.GradientTape() as tape:
            tape.watch(x)
            loss = loss_fn(x)
        return loss, tape.gradient(loss, x)
    return step


def _counted(fn):
    """``fn`` under ``xg.function``, and a list that grows on each call run as Python (the
    warm-up and the trace; a replay runs no Python)."""
    runs = []

    def counted(x):
        runs.append(1)
        return fn(x)
    return xg.function(counted), runs


@ON_PURPOSE
@pytest.mark.parametrize("name", list(CASES))
def test_replays_equal_eager_as_the_count_changes(name):
    step = _with_gradient(CASES[name][0])
    compiled, runs = _counted(step)
    for k, count in enumerate(COUNTS):
        x = xg.asarray(_vector(count, k))
        (got_loss, got_grad), (loss, grad) = compiled(x), step(x)
        np.testing.assert_allclose(got_loss.numpy(), loss.numpy(), rtol=1e-13, atol=1e-13)
        np.testing.assert_allclose(got_grad.numpy(), grad.numpy(), rtol=1e-13, atol=1e-13)
    # five counts, each run as Python at most twice (warm-up, trace); the rest replayed (take's
    # index guard, which widens, runs a few more eagerly)
    assert len(runs) <= 2 * len(set(COUNTS)) + 2 * (name == "nonzero_take") < len(COUNTS)


def _finite_differences(loss_fn, x, eps=1e-6):
    out = np.empty_like(x)
    for i in range(x.size):
        up, down = x.copy(), x.copy()
        up[i] += eps
        down[i] -= eps
        out[i] = (loss_fn(xg.asarray(up)).item() - loss_fn(xg.asarray(down)).item()) / (2 * eps)
    return out


@ON_PURPOSE
@pytest.mark.parametrize("name", [n for n, (_, ref) in CASES.items() if ref is not None])
def test_replayed_gradients_equal_pytorch_and_finite_differences(name):
    loss_fn, torch_fn = CASES[name]
    compiled, runs = _counted(_with_gradient(loss_fn))
    calls = [(1, 1), (4, 2)] * 4          # two shapes, each warmed up, traced, then replayed
    for count, seed in calls[:-2]:
        compiled(xg.asarray(_vector(count, seed)))
    before = len(runs)
    assert before <= 4
    for count, seed in calls[-2:]:
        x = _vector(count, seed)
        loss, grad = compiled(xg.asarray(x))
        t = torch.tensor(x, requires_grad=True)
        want = torch_fn(t)
        want.backward()
        np.testing.assert_allclose(loss.item(), want.item(), rtol=1e-12)
        np.testing.assert_allclose(grad.numpy(), t.grad.numpy(), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(grad.numpy(), _finite_differences(loss_fn, x),
                                   rtol=1e-6, atol=1e-6)
    assert len(runs) == before          # the checked calls were replays


def test_at_add_of_masked_values_over_the_reported_sequence():
    # the report: replay raised "operands could not be broadcast together with shapes (0,) ()
    # (2,)" at the third call, "(4,) () (2,)" at the fourth
    compiled = xg.function(lambda x: x.at[x > 0].add(x[x > 0] * 3.0))
    for values in ([1, -1, 2, 5], [1, -2, -2, 3], [-1, -2, -2, -3], [1, 2, 3, 4],
                   [1, -1, 2, 5], [-1, -2, -2, -3], [1, 2, 3, 4]):
        x = np.array(values, dtype=np.float64)
        np.testing.assert_array_equal(compiled(xg.asarray(x)).numpy(), np.where(x > 0, 4 * x, x))


@ON_PURPOSE
def test_a_masked_value_whose_shape_python_never_reads_replays_with_any_count():
    compiled, runs = _counted(lambda x: x[x > 0] * 2.0)
    for k, count in enumerate(COUNTS):
        x = _vector(count, k)
        np.testing.assert_array_equal(compiled(xg.asarray(x)).numpy(), x[x > 0] * 2.0)
    assert len(runs) == 2                     # one program for every count
    program, = compiled.programs()
    assert program.dynamic_shapes > 0
    product, = [line for line in program.source.splitlines() if "2.0" in line]
    assert "out=" not in product              # no buffer of the traced count's size


@pytest.mark.parametrize("values", [[1, 1, 2, 3], [1, 1, 1, 1], [1, 2, 3, 4], [5, 5, 5, 6],
                                    [2, 2, 3, 3], [1, 2, 3, 4]])
def test_unique_results_follow_the_number_of_distinct_values(values):
    def f(x):
        r = xg.unique_all(xg.round(x))
        u, inverse = xg.unique_inverse(xg.round(x))
        return r.values * 2, r.counts, r.indices, r.inverse_indices, xg.take(u, inverse) * x

    compiled = xg.function(f)
    for x in ([3.0, 3, 3, 3], [1.0, 2, 2, 9], np.array(values, dtype=np.float64)):
        x = np.asarray(x, dtype=np.float64)
        got = compiled(xg.asarray(x))
        u, index, inverse, counts = np.unique(x, return_index=True, return_inverse=True,
                                              return_counts=True)
        for g, want in zip(got, (u * 2, counts, index, inverse, u[inverse] * x)):
            np.testing.assert_array_equal(g.numpy(), want)


def test_a_variable_updated_through_a_mask_matches_eager():
    def make():
        w = xg.Variable(np.linspace(-1.0, 1.5, 6))
        opt = xg.optim.SGD(0.1)

        def step(x):
            with xg.GradientTape() as tape:
                loss = xg.sum((w[w > 0] * x) ** 2)
            grad = tape.gradient(loss, w)
            opt.apply_gradients([(grad, w)])
            w[w > 0.3] = w[w > 0.3] * 0.5          # fewer entries pass as w shrinks
            return loss, grad
        return step, w

    (eager, w_eager), (step, w) = make(), make()
    compiled = xg.function(step)
    for k in range(8):
        x = xg.asarray(1.0 + 0.1 * k, dtype=xg.float64)
        for got, want in zip(compiled(x), eager(x)):
            np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-13)
        np.testing.assert_allclose(w.numpy(), w_eager.numpy(), rtol=1e-13)


def test_shape_variants_stay_within_max_traces():
    step = _with_gradient(CASES["at_add_from_masked"][0])
    compiled = xg.function(step, max_traces=2, retrace_warning=None)
    for k, count in enumerate([1, 2, 3, 4, 5, 1, 2, 3, 4, 5, 0, 6]):
        x = xg.asarray(_vector(count, k))
        for got, want in zip(compiled(x), step(x)):
            np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-13)
        assert len(compiled.programs()) <= 2


def test_retracing_warning_names_the_operation_whose_shape_changed():
    compiled = xg.function(_with_gradient(lambda x: xg.sum(x[x > 0] ** 2)), retrace_warning=1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for k, count in enumerate([2, 2, 3, 3]):
            compiled(xg.asarray(_vector(count, k)))
    messages = [str(w.message) for w in caught if issubclass(w.category, RetracingWarning)]
    assert messages and "boolean mask" in messages[0] and __file__.split("/")[-1] in messages[0]


def test_replays_plan_no_cuda_graph_around_a_dynamic_shape():
    graphs = FakeGraphs()
    step = _with_gradient(CASES["mask_read_exp"][0])
    compiled = xg.function(step, cuda_graph=graphs)
    for k, count in enumerate(COUNTS):
        x = xg.asarray(_vector(count, k))
        for got, want in zip(compiled(x), step(x)):
            np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-13)
    assert graphs.captures == 0 and all(p.graph is None for p in compiled.programs())


def test_repeat_with_a_negative_count_raises_on_replay_too():
    compiled = xg.function(lambda x, counts: xg.repeat(x, counts))
    x = xg.asarray([1.0, 2.0, 3.0])
    for _ in range(3):
        assert compiled(x, xg.asarray([2, 0, 1])).tolist() == [1.0, 1.0, 3.0]
    assert compiled(x, xg.asarray([0, 3, 1])).tolist() == [2.0, 2.0, 2.0, 3.0]
    with pytest.raises(ValueError, match="repeats must not be negative"):
        compiled(x, xg.asarray([1, -1, 1]))


def test_a_slice_bound_read_from_a_tensor_raises_naming_the_line():
    edges = xg.asarray([0.0, 1.0, 2.0, 3.0])

    @xg.function
    def head_sum(x):
        return xg.sum(x[:xg.searchsorted(edges, x[0])])

    with pytest.raises(TraceError, match=r"Python index.*test_function_dynamic_shapes\.py:\d+"):
        for _ in range(2):
            head_sum(xg.asarray([1.5, 2.0, 3.0, 4.0]))


NUMPY_FUNCTIONS = {
    "where_one_argument": lambda x: xg.sum(xg.take(x, np.where(x > 0)[0]) ** 2),
    "nonzero": lambda x: xg.sum(xg.take(x, np.nonzero(x > 0)[0]) ** 2),
    "unique": lambda x: xg.sum(np.unique(xg.round(x)) ** 2),
    "repeat": lambda x: xg.sum(np.repeat(x, xg.astype(x > 0, xg.int64) + 1) ** 2),
    "compress": lambda x: xg.sum(np.compress(x > 0, x) ** 2),
    "extract": lambda x: xg.sum(np.extract(x > 0, x) ** 2),
    "argwhere": lambda x: xg.sum(xg.take(x, np.argwhere(x > 0)[:, 0]) ** 2),
    "flatnonzero": lambda x: xg.sum(xg.take(x, np.flatnonzero(x > 0)) ** 2),
}


@pytest.mark.parametrize("name", list(NUMPY_FUNCTIONS))
def test_numpy_functions_of_tensors_replay_as_the_count_changes(name):
    fn = NUMPY_FUNCTIONS[name]
    compiled = xg.function(fn)
    for k, count in enumerate(COUNTS):
        x = xg.asarray(_vector(count, k))
        np.testing.assert_allclose(compiled(x).numpy(), fn(x).numpy(), rtol=1e-13)


@pytest.mark.parametrize("fn", [lambda x: xg.sum(np.trim_zeros(x)),
                                lambda x: xg.sum(np.setdiff1d(x, xg.asarray([1.0])))])
def test_numpy_functions_without_a_counterpart_raise_naming_the_line(fn):
    compiled = xg.function(fn)
    with pytest.raises(TraceError, match=r"test_function_dynamic_shapes\.py:\d+"):
        for _ in range(2):
            compiled(xg.asarray([1.0, -2.0, 3.0]))
