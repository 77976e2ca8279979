"""``xg.function``'s buffer planner against views: random programs that mix producers (a dense
layer's kernel, matrix products, ufuncs, reductions, activation, softmax and layer-norm
kernels) with views of their results (reshape, transposes, slices, broadcasts, diagonals,
real/imag, unstack/split pieces), returned or still read by the gradient, replayed on changing
inputs and compared with eager on every call, and once more after the last call (a result of
call N must keep its value after call N+1)."""
from __future__ import annotations

import numpy as np
import pytest

import xpgrad as xg

CALLS = 7             # call 1 eager (warm-up), call 2 traced, calls 3-7 replayed
ROWS, COLS = 3, 4


# -- ops: each returns (apply(v, earlier) -> tensor, the result's shape) -------------------
def _view_ops(rng, shape):
    r, c = shape
    ops = {
        "T": (lambda v, e: v.T, (c, r)),
        "mT": (lambda v, e: v.mT, (c, r)),
        "permute_dims": (lambda v, e: xg.permute_dims(v, (1, 0)), (c, r)),
        "swapaxes": (lambda v, e: v.swapaxes(0, 1), (c, r)),
        "moveaxis": (lambda v, e: xg.moveaxis(v, 0, 1), (c, r)),
        "matrix_transpose": (lambda v, e: xg.matrix_transpose(v), (c, r)),
        "reshape": (lambda v, e: v.reshape((c, r)), (c, r)),
        "ravel": (lambda v, e: v.ravel().reshape((r * c, 1)), (r * c, 1)),
        "flatten": (lambda v, e: v.flatten()[None, :], (1, r * c)),
        "expand_squeeze": (lambda v, e: xg.squeeze(xg.expand_dims(v, axis=0), axis=0), (r, c)),
        "broadcast_to": (lambda v, e: xg.broadcast_to(v, (2, r, c))[1], (r, c)),
        "reversed": (lambda v, e: v[::-1], (r, c)),
        "diagonal": (lambda v, e: xg.linalg.diagonal(v)[:, None], (min(r, c), 1)),
        "real": (lambda v, e: xg.real(v * complex(1.0, 2.0)), (r, c)),
        "imag": (lambda v, e: xg.imag(v * complex(1.0, 2.0)), (r, c)),
        "unstack": (lambda v, e: xg.unstack(v, axis=1)[-1][:, None], (r, 1)),
    }
    if r > 1:
        ops["rows"] = (lambda v, e: v[1:], (r - 1, c))
        ops["split"] = (lambda v, e: np.split(v, [1], axis=0)[1], (r - 1, c))
    if c > 1:
        ops["every_other"] = (lambda v, e: v[:, ::2], (r, (c + 1) // 2))
    return ops


def _producer_ops(rng, shape, backend, variables):
    r, c = shape
    k = int(rng.choice([c, r, 2, 4]))      # often a shape seen before: its buffer is reused
    layer = xg.nn.Linear(c, k, rng=int(rng.integers(1 << 30)), dtype=xg.float64,
                         backend=backend, name=f"layer{len(variables)}")
    w = xg.Variable(rng.normal(size=(c, k)), backend=backend, name=f"w{len(variables)}")
    variables.extend([*layer.trainable_variables, w])
    return {
        "linear": (lambda v, e: layer(v), (r, k)),
        "linear_relu": (lambda v, e: xg.relu(layer(v)), (r, k)),
        "matmul": (lambda v, e: v @ w, (r, k)),
        "gram": (lambda v, e: v.T @ v, (c, c)),
        "tanh": (lambda v, e: xg.tanh(v), (r, c)),
        "mul_add": (lambda v, e: v * v + 1.0, (r, c)),
        "exp": (lambda v, e: xg.exp(-v * v), (r, c)),
        "softmax": (lambda v, e: xg.softmax(v, axis=-1), (r, c)),
        "center": (lambda v, e: v - xg.mean(v, axis=1, keepdims=True), (r, c)),
        "sum_rows": (lambda v, e: xg.sum(v, axis=0, keepdims=True), (1, c)),
        "concat": (lambda v, e: xg.concat([v, xg.sin(v)], axis=1), (r, 2 * c)),
        "layer_norm": (lambda v, e: xg.nn.layer_norm(v, (c,)), (r, c)),
        "mix_earlier": (lambda v, e: v + xg.sum(e * e), (r, c)),
    }


def random_program(seed, backend):
    """A random function of ``x`` (ROWS x COLS) returning some of its values (views among
    them) and the gradients of a loss of them; and the Variables it reads."""
    rng = np.random.default_rng(seed)
    variables, shape, plan, names = [], (ROWS, COLS), [], []
    for _ in range(int(rng.integers(2, 5))):          # a producer, then up to two views of it
        for views in [False] + [True] * int(rng.integers(0, 3)):
            ops = _view_ops(rng, shape) if views else _producer_ops(rng, shape, backend,
                                                                      variables)
            # a dense layer thrice as often: its kernel forward, split into a product and an
            # add writing into a planned buffer, is where views and buffers met
            weights = np.array([1.0 if views or op != "linear" else 3.0 for op in sorted(ops)])
            name = str(rng.choice(sorted(ops), p=weights / weights.sum()))
            fn, shape = ops[name]
            plan.append((fn, int(rng.integers(0, len(plan) + 1))))
            names.append(name)
    # values read late: returned ones (views among them), and those the loss reads
    returned = sorted({i for i in range(len(plan) - 1) if rng.random() < 0.3} | {len(plan) - 1})
    read_late = [i for i in range(len(plan)) if rng.random() < 0.3]
    differentiated = rng.random() < 0.6

    def program(x):
        with xg.GradientTape() as tape:
            tape.watch(x)
            values = [x]
            for fn, earlier in plan:
                values.append(fn(values[-1], values[earlier]))
            results = [values[i + 1] for i in returned]
            late = sum(xg.sum(xg.cos(values[i + 1])) for i in read_late)
            if read_late:
                results.append(late)
            if not differentiated:
                return results, []
            loss = sum(xg.sum(xg.sin(values[i + 1]) * (i + 1.0)) for i in returned) + late
        grads = tape.gradient(loss, [x, *variables])
        return results, grads

    return program, variables, names


def _flat(result):
    values, grads = result
    return [t.numpy().copy() for t in values] + [np.zeros(1) if g is None else g.numpy().copy()
                                                 for g in grads]


def _compare(got, want, seed, names, call):
    assert len(got) == len(want)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-12,
                                   err_msg=f"seed {seed}, ops {names}, call {call}")


def _check(seed, backend):
    program, _, names = random_program(seed, backend)
    compiled = xg.function(program)
    rng = np.random.default_rng(1000 + seed)
    kept = []
    for call in range(CALLS):
        x = xg.asarray(rng.normal(size=(ROWS, COLS)), backend=backend)
        got = compiled(x)
        want = _flat(program(x))
        _compare(_flat(got), want, seed, names, call + 1)
        kept.append((got, want))
    for call, (got, want) in enumerate(kept):      # no later call wrote into earlier results
        _compare(_flat(got), want, seed, names, call + 1)
    arrays = [[t._data for t in got[0]] for got, _ in kept]
    for before, after in zip(arrays, arrays[1:]):
        assert not any(np.shares_memory(a, b) for a in before for b in after), (seed, names)
    assert compiled.trace_count == 1


@pytest.mark.parametrize("seed", range(80))
def test_random_programs_with_views_replay_as_eager_numpy(seed):
    _check(seed, "numpy")


@pytest.mark.parametrize("seed", range(12))
def test_random_programs_with_views_replay_as_eager_numba(seed):
    _check(seed, "numba")


def test_the_random_programs_cover_every_view_and_producer():
    seen = set()
    for seed in range(80):
        seen.update(random_program(seed, "numpy")[2])
    every = set(_view_ops(None, (2, 2))) | set(_producer_ops(np.random.default_rng(0), (2, 2),
                                                             "numpy", []))
    assert every <= seen, every - seen


@pytest.mark.usefixtures("numpy_default")      # the program's layers are built on numpy
def test_a_random_programs_eager_gradient_matches_finite_differences():
    """The eager call is the reference above: its gradient checked once against central
    differences (float64), through views and kernels alike."""
    for seed in (3, 17):
        program, _, names = random_program(seed, "numpy")
        x0 = np.random.default_rng(seed).normal(size=(ROWS, COLS))

        def loss(x):
            values, _ = program(xg.asarray(x))
            return sum(float(xg.sum(v * v)) for v in values)

        with xg.GradientTape() as tape:
            x = xg.asarray(x0)
            tape.watch(x)
            values, _ = program(x)
            total = sum(xg.sum(v * v) for v in values)
        (grad,) = tape.gradient(total, [x])
        numeric = np.zeros_like(x0)
        for i in np.ndindex(x0.shape):
            step = np.zeros_like(x0)
            step[i] = 1e-6
            numeric[i] = (loss(x0 + step) - loss(x0 - step)) / 2e-6
        np.testing.assert_allclose(grad.numpy(), numeric, rtol=1e-5, atol=1e-7,
                                   err_msg=f"seed {seed}, ops {names}")


# -- the defects the random programs were written for -----------------------------------------
def _calls(fn, inputs):
    """``xg.function(fn)`` called on each of ``inputs`` in turn, then compared with eager: the
    results as they are after the last call."""
    compiled = xg.function(fn)
    results = [compiled(*args) for args in inputs]
    return [(got.numpy(), fn(*args).numpy()) for got, args in zip(results, inputs)]


def test_a_reshaped_dense_layer_output_keeps_its_value_after_the_next_call():
    layer = xg.nn.Linear(2, 2, rng=0, dtype=xg.float64)
    inputs = [(xg.asarray(np.full((1, 2), v)),) for v in (0.1, 0.2, 0.3, 0.4, 0.5)]
    for got, want in _calls(lambda y: layer(y).reshape((-1,)), inputs):
        np.testing.assert_allclose(got, want, rtol=1e-14)


def test_a_reshape_of_a_transposed_ufunc_result_keeps_its_value():
    """exp(x.T) keeps x.T's layout eagerly, and the reshape copies it; a C-ordered out= buffer
    would make the reshape a view of memory the next call writes."""
    rng = np.random.default_rng(0)
    inputs = [(xg.asarray(rng.normal(size=(2, 3))),) for _ in range(5)]
    for got, want in _calls(lambda x: xg.exp(x.T).reshape((-1,)), inputs):
        np.testing.assert_allclose(got, want, rtol=1e-14)


def _two_layers(y, a, layer1, layer2):
    with xg.GradientTape() as tape:
        tape.watch(y)
        out = layer2(xg.tanh(layer1(y.reshape((1, 2))))).reshape((2,))
    (gy,) = tape.gradient(out, [y], output_gradients=a)
    return xg.concat([-out, gy])


def test_a_reshape_the_gradient_reads_after_a_later_product_matches_torch():
    torch = pytest.importorskip("torch")
    layer1 = xg.nn.Linear(2, 6, rng=5, dtype=xg.float64)
    layer2 = xg.nn.Linear(6, 2, rng=6, dtype=xg.float64)
    rng = np.random.default_rng(0)
    inputs = [(xg.asarray(rng.normal(size=2)), xg.asarray(rng.normal(size=2)))
              for _ in range(6)]
    results = _calls(lambda y, a: _two_layers(y, a, layer1, layer2), inputs)
    w1, b1, w2, b2 = (torch.tensor(v.numpy()) for v in
                      (layer1.w, layer1.b, layer2.w, layer2.b))
    for (got, want), (y, a) in zip(results, inputs):
        ty = torch.tensor(y.numpy(), requires_grad=True)
        out = (torch.tanh(ty.reshape(1, 2) @ w1 + b1) @ w2 + b2).reshape(2)
        (gy,) = torch.autograd.grad(out, ty, grad_outputs=torch.tensor(a.numpy()))
        np.testing.assert_allclose(got, want, rtol=1e-13)
        np.testing.assert_allclose(got, np.concatenate([-out.detach().numpy(), gy.numpy()]),
                                   rtol=1e-12)


# -- the tracer's memory classes ----------------------------------------------------------------
class _Saved:
    """A kernel's saved state as an object of its own (as numba's CTC and loss kernels make)."""

    def __init__(self, *arrays):
        self.arrays = arrays


def _kernel(x, w, v):
    return x * 2.0, _Saved(x, w, v)


def _traced_kernel_call():
    from xpgrad.jit.tracer import Tracer

    w = xg.Variable([1.0, 2.0], name="w")
    v = xg.Variable([3.0, 4.0], name="v")
    tracer = Tracer(xg.get_backend("numpy"))
    x, rw, rv = tracer.input(np.ones(2)), tracer.read_variable(w), tracer.read_variable(v)
    out, saved = tracer.call(_kernel, (x, rw, rv), {}, kind="kernel")
    view = out.reshape((2, 1))
    tracer.finish()
    return {name: tracer.slots[t._slot].root
            for name, t in (("x", x), ("w", rw), ("v", rv), ("out", out), ("view", view))}, \
        tracer.slots[tracer.steps[-2].outs[1].i].root


def test_a_kernels_output_and_its_views_share_its_first_inputs_memory_class():
    roots, _ = _traced_kernel_call()
    assert roots["out"] == roots["view"] == roots["x"]


def test_saved_state_joins_the_arrays_it_holds_but_never_makes_two_variables_one():
    roots, saved = _traced_kernel_call()
    assert saved == roots["x"]                        # x's memory lives as long as the state
    assert roots["w"] != roots["v"]                   # each Variable keeps a root of its own


@pytest.mark.parametrize("layout", ["strided", "reversed", "fortran"])
def test_a_replay_takes_an_argument_laid_out_unlike_the_traced_one(layout):
    # the 2-norm kernel takes C-ordered arrays only: traced on one, it declined on replay and
    # the replay raised "a kernel declined on replay" (found by tests/test_differential_fuzz.py)
    rng = np.random.default_rng(3)
    a = rng.normal(size=(3, 4))
    laid = {"strided": np.zeros((6, 8))[::2, ::2], "reversed": np.zeros((3, 4))[::-1, ::-1],
            "fortran": np.zeros((3, 4), order="F")}[layout]
    laid[...] = a

    @xg.function
    def norm_and_gradient(x):
        with xg.GradientTape() as tape:
            tape.watch(x)
            y = xg.linalg.matrix_norm(x) * xg.sum(xg.reshape(x, (12,)) ** 2)
        return y, tape.gradient(y, x)

    for _ in range(2):                      # eager, then traced: C-ordered
        norm_and_gradient(xg.asarray(a))
    y, g = norm_and_gradient(xg.asarray(laid))
    norm = np.linalg.norm(a)
    np.testing.assert_allclose(y.numpy(), norm ** 3, rtol=1e-12)
    np.testing.assert_allclose(g.numpy(), 3 * norm * a, rtol=1e-12)
