"""Differential fuzzing against PyTorch: hypothesis draws a function of the namespace (the
tables in ``differential_cases.py``, ``differential_shapes.py`` and ``differential_losses.py``),
its shapes (0-d, size-0 and size-1 broadcasting axes), its parameters (axes, keepdims, keys,
reductions), a dtype (float32, float64) and how each argument lies in memory (C or Fortran
order, every other entry of a larger buffer, negative strides, read-only), and checks the value
and the vector-Jacobian product -- ``tape.gradient(y, xs, output_gradients=w)`` for a random
cotangent ``w`` -- against the same call in PyTorch, in float64 on the same (rounded) inputs;
the value again from a call no tape records (kernels have value-only paths).
The same cases run again for the second-order gradient, under ``xg.function`` (traced on
C-ordered arguments, replayed on the drawn layouts), on the Numba backend (a few examples: a
cold kernel cache compiles), and with float32 and float64 operands mixed. Bad arguments must
raise a TypeError or ValueError that names the argument.

The default run draws the same few examples each time (derandomized, no database);
``XPGRAD_FUZZ_EXAMPLES=2000`` searches deeper, ``XPGRAD_FUZZ_RANDOM=1`` draws new examples each
run (the names ``tests/test_function_fuzz.py`` reads).
"""
from __future__ import annotations

import os

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("hypothesis")

from hypothesis import HealthCheck, assume, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.extra import numpy as hnp  # noqa: E402

import differential_cases as cases  # noqa: E402
import differential_losses as losses  # noqa: E402
import differential_shapes as shapes  # noqa: E402
import xpgrad as xg  # noqa: E402
from conftest import backend_report  # noqa: E402

# floor, sign, ...: no gradient, as in PyTorch; kl_div's "mean" is PyTorch's, and warned of
pytestmark = [pytest.mark.filterwarnings("ignore:tape.gradient. the target depends on no tensor"),
              pytest.mark.filterwarnings("ignore:reduction. 'mean' divides the total loss")]
EXAMPLES = int(os.environ.get("XPGRAD_FUZZ_EXAMPLES", "10"))


def _settings(examples):
    return settings(max_examples=examples, deadline=None, database=None,
                    derandomize=not os.environ.get("XPGRAD_FUZZ_RANDOM"),
                    suppress_health_check=list(HealthCheck), print_blob=True)


FAMILIES = {
    "unary": cases.unary, "activation": cases.parametrized_activations,
    "binary": cases.binary, "where_clip": cases.where_and_clip,
    "reduction": cases.reductions, "cumulative_sum": cases.cumulative_sums,
    "norm": cases.norms, "scan_sort": cases.scans_and_sorts,
    "reshape": shapes.reshapes, "axes": shapes.axis_moves,
    "join": shapes.joins, "repeat": shapes.repetitions, "gather": shapes.gathers,
    "index": shapes.indexing, "view_write": shapes.view_writes, "product": shapes.products,
    "axis_activation": losses.axis_activations, "pointwise_loss": losses.pointwise_losses,
    "class_loss": losses.class_losses, "pair_loss": losses.pair_losses,
}
LAYOUTS = ["C", "F", "strided", "reversed", "readonly"]
# a case, its dtype, the layouts of its arguments and the seed of its cotangent
DRAWS = dict(data=st.data(), dtype=st.sampled_from([np.float64, np.float32]),
             layouts=st.lists(st.sampled_from(LAYOUTS), min_size=1, max_size=3),
             seed=st.integers(0, 2**31))
TOLERANCE = {np.float64: 1e-9, np.float32: 1e-4}
# one float32 operation per entry: a few ulps (tolerance relative to the largest |value|)
ELEMENTWISE = ("unary", "activation", "binary", "where_clip", "reshape", "axes", "join",
               "repeat", "gather", "index", "view_write")
ELEMENTWISE_FLOAT32 = 2e-6
# sinc's gradient (cos(pi x) - sinc(x)) / x takes pi x rounded to float32: 1e-5 off at |x| ~ 6
# (PyTorch's float32 one: 3e-4)
ILL_CONDITIONED = ("sinc",)
# PyTorch's float64 gradient of these multiplies by 1/6 rounded to float32 (2**-25 relative off)
FLOAT32_CONSTANTS = ("hardsigmoid", "hardswish")


def laid_out(a, layout):
    """``a``'s values in an array laid out as ``layout`` names."""
    if layout == "F" and a.ndim:           # np.asfortranarray makes a 0-d array 1-d
        return np.asfortranarray(a)
    if layout == "strided" and a.ndim:
        buffer = np.zeros(tuple(2 * s for s in a.shape), a.dtype)
        view = buffer[(slice(None, None, 2),) * a.ndim]
        view[...] = a
        return view
    if layout == "reversed" and a.ndim:
        backwards = (slice(None, None, -1),) * a.ndim
        return np.ascontiguousarray(a[backwards])[backwards]
    out = np.array(a)
    out.flags.writeable = layout != "readonly"
    return out


def ours(case, arrays, backend, cotangent_of):
    with xg.use_backend(backend):
        xs = [xg.asarray(a) for a in arrays]
        with xg.GradientTape() as tape:
            for x in xs:
                tape.watch(x)
            y = case.ours(xs)
        grads = tape.gradient(y, xs, output_gradients=cotangent_of(y))
    return y, grads


def ours_compiled(case, arrays, backend, cotangent_of):
    """``ours`` traced by ``xg.function``: called twice (eager, then traced) on C-ordered copies,
    then replayed on ``arrays`` as they lie."""
    @xg.function
    def step(xs, w):
        with xg.GradientTape() as tape:
            for x in xs:
                tape.watch(x)
            y = case.ours(xs)
        return y, tape.gradient(y, xs, output_gradients=w)

    with xg.use_backend(backend):
        y, _ = ours(case, arrays, backend, lambda y: None)
        w = xg.asarray(cotangent_of(y))
        for _ in range(2):
            step([xg.asarray(np.array(a)) for a in arrays], xg.asarray(np.array(w.numpy())))
        return step([xg.asarray(a) for a in arrays], w)


def theirs(case, arrays, w):
    ts = [torch.tensor(np.array(a, dtype=np.float64), requires_grad=True) for a in arrays]
    y = case.theirs(ts)
    grads = [None] * len(ts)
    if y.requires_grad:
        grads = torch.autograd.grad(y, ts, torch.tensor(w, dtype=torch.float64),
                                    allow_unused=True)
    return y.detach().numpy(), [np.zeros(t.shape) if g is None else g.numpy()
                                for t, g in zip(ts, grads)]


def assert_close(actual, expected, dtype, what, family=None):
    tol = TOLERANCE[dtype]
    if family in ELEMENTWISE and dtype is np.float32 and not what.startswith(ILL_CONDITIONED):
        tol = ELEMENTWISE_FLOAT32
    if what.startswith(FLOAT32_CONSTANTS) and "gradient" in what:
        tol = max(tol, 1e-7)
    scale = max(1.0, float(np.max(np.abs(expected), initial=0.0, where=np.isfinite(expected))))
    np.testing.assert_allclose(np.asarray(actual, dtype=np.float64), expected, rtol=tol,
                               atol=tol * scale, equal_nan=True, err_msg=what)


def check_against_torch(case, dtype, layouts, seed, backend, family=None, compiled=False):
    arrays = [laid_out(a.astype(dtype), layouts[i % len(layouts)])
              for i, a in enumerate(case.inputs)]
    rng = np.random.default_rng(seed)
    w = []

    def cotangent_of(y):
        w.append(np.asarray(rng.normal(size=y.shape), dtype=dtype))
        given = laid_out(w[0], layouts[-1])
        return xg.asarray(given) if seed % 2 else given

    y, grads = (ours_compiled if compiled else ours)(case, arrays, backend, cotangent_of)
    ty, tgrads = theirs(case, arrays, w[0])
    assert y.shape == ty.shape, f"{case.name}: shape {y.shape}, PyTorch's {ty.shape}"
    assert y.dtype == np.dtype(dtype), f"{case.name}: dtype {y.dtype} from {dtype.__name__}"
    assert_close(y.numpy(), ty, dtype, f"{case.name}: value", family)
    if not compiled:            # no tape: the kernels' value-only paths (GELU's, the losses')
        with xg.use_backend(backend):
            untaped = case.ours([xg.asarray(a) for a in arrays])
        assert_close(untaped.numpy(), ty, dtype, f"{case.name}: value without a tape", family)
    for i, (g, tg, a) in enumerate(zip(grads, tgrads, arrays)):
        g = np.zeros(a.shape, dtype) if g is None else g
        assert g.shape == a.shape, f"{case.name}: gradient {i} shape {g.shape} for {a.shape}"
        assert g.dtype == np.dtype(dtype), f"{case.name}: gradient {i} dtype {g.dtype}"
        summed = a.shape != ty.shape        # a broadcast argument's gradient is a sum
        assert_close(np.asarray(g), tg, dtype, f"{case.name}: gradient {i}",
                     None if summed else family)


def family_tests(families, fewer):
    """Each family of ``families`` against PyTorch: value and gradient (``EXAMPLES`` draws),
    under ``xg.function`` and to second order (``fewer`` draws), for a test file's names."""
    @pytest.mark.parametrize("family", sorted(families))
    @_settings(EXAMPLES)
    @given(**DRAWS)
    def value_and_gradient(family, data, dtype, layouts, seed):
        case = data.draw(families[family](), label="case")
        check_against_torch(case, dtype, layouts, seed, "numpy", family)

    @pytest.mark.parametrize("family", sorted(families))
    @_settings(fewer)
    @given(**DRAWS)
    def compiled_value_and_gradient(family, data, dtype, layouts, seed):
        """The same under ``xg.function``: traced on C-ordered inputs, replayed on these."""
        case = data.draw(families[family](), label="case")
        check_against_torch(case, dtype, layouts, seed, "numpy", family, compiled=True)

    @pytest.mark.parametrize("family", sorted(families))
    @_settings(fewer)
    @given(data=st.data(), layout=st.sampled_from(LAYOUTS), seed=st.integers(0, 2**31))
    def second_order_gradient(family, data, layout, seed):
        """The gradient of ``sum(v * gradient(y, xs, w))``, xs again, in float64: each rule's
        own rule."""
        case = data.draw(families[family](), label="case")
        check_second_order_against_torch(case, layout, seed)

    return value_and_gradient, compiled_value_and_gradient, second_order_gradient


(test_value_and_gradient_match_torch, test_compiled_value_and_gradient_match_torch,
 test_second_order_gradient_matches_torch) = family_tests(FAMILIES, max(2, EXAMPLES // 2))


needs_numba = pytest.mark.skipif(not backend_report().get("numba", {}).get("available"),
                                 reason="numba is not installed")


@needs_numba
@_settings(max(3, EXAMPLES // 3))
@given(data=st.data(), family=st.sampled_from(sorted(FAMILIES)),
       dtype=st.sampled_from([np.float64, np.float32]),
       layouts=st.lists(st.sampled_from(LAYOUTS), min_size=1, max_size=3),
       seed=st.integers(0, 2**31), compiled=st.booleans())
def test_value_and_gradient_match_torch_on_numba(data, family, dtype, layouts, seed, compiled):
    case = data.draw(FAMILIES[family](), label="case")
    check_against_torch(case, dtype, layouts, seed, "numba", family, compiled)


def second_order_ours(case, arrays, w, v):
    xs = [xg.asarray(a) for a in arrays]
    with xg.GradientTape() as outer:
        outer.watch(xs)
        with xg.GradientTape() as inner:
            inner.watch(xs)
            y = case.ours(xs)
        grads = inner.gradient(y, xs, output_gradients=w)
        linked = [i for i, g in enumerate(grads) if g is not None]
    if not linked:
        return [None] * len(xs)
    return outer.gradient([grads[i] for i in linked], xs,
                          output_gradients=[v[i] for i in linked])


def second_order_theirs(case, arrays, w, v):
    ts = [torch.tensor(np.array(a), requires_grad=True) for a in arrays]
    y = case.theirs(ts)
    if not y.requires_grad:
        return [np.zeros(a.shape) for a in arrays]
    grads = torch.autograd.grad(y, ts, torch.tensor(w), create_graph=True, allow_unused=True)
    linked = [i for i, g in enumerate(grads) if g is not None and g.requires_grad]
    second = [None] * len(ts)
    if linked:
        second = torch.autograd.grad([grads[i] for i in linked], ts,
                                     [torch.tensor(v[i]) for i in linked], allow_unused=True)
    # force: PyTorch's symbolic zeros (a ZeroTensor) come out as an array only on request
    return [np.zeros(a.shape) if g is None else g.numpy(force=True)
            for a, g in zip(arrays, second)]


def check_second_order_against_torch(case, layout, seed):
    """``case``'s second-order gradient (``second_order_ours``) is PyTorch's, in float64 on
    arrays laid out as ``layout`` names; a case PyTorch has no second derivative for is
    rejected."""
    arrays = [laid_out(a, layout) for a in case.inputs]
    rng = np.random.default_rng(seed)
    with torch.no_grad():
        shape = tuple(case.theirs([torch.tensor(np.array(a)) for a in arrays]).shape)
    w = rng.normal(size=shape)
    v = [rng.normal(size=a.shape) for a in arrays]
    try:
        theirs = second_order_theirs(case, arrays, w, v)
    except RuntimeError as error:       # hardsigmoid's, multilabel_margin's: PyTorch has none
        assume("is not implemented" not in str(error))
        raise
    ours = second_order_ours(case, arrays, w, v)
    for i, (g, tg) in enumerate(zip(ours, theirs)):
        g = np.zeros(tg.shape) if g is None else np.asarray(g)
        assert g.shape == tg.shape, f"{case.name}: second-order gradient {i} shape"
        if case.name.startswith("vector_norm"):
            # at a zero vector the norm has no second derivative: PyTorch's is NaN, ours 0
            # (the first derivative is 0 in both, compared with the values)
            g, tg = g[np.isfinite(tg)], tg[np.isfinite(tg)]
        assert_close(g, tg, np.float64, f"{case.name}: second-order gradient {i}")

# -- bad arguments ------------------------------------------------------------------------------
AXIS_FUNCTIONS = {
    "sum": lambda x, a: xg.sum(x, axis=a), "mean": lambda x, a: xg.mean(x, axis=a),
    "prod": lambda x, a: xg.prod(x, axis=a), "max": lambda x, a: xg.max(x, axis=a),
    "min": lambda x, a: xg.min(x, axis=a), "std": lambda x, a: xg.std(x, axis=a),
    "var": lambda x, a: xg.var(x, axis=a), "logsumexp": lambda x, a: xg.logsumexp(x, axis=a),
    "cumulative_sum": lambda x, a: xg.cumulative_sum(x, axis=a),
    "vector_norm": lambda x, a: xg.linalg.vector_norm(x, axis=a),
    "flip": lambda x, a: xg.flip(x, axis=a), "roll": lambda x, a: xg.roll(x, 1, axis=a),
    "squeeze": lambda x, a: xg.squeeze(x, axis=a),
    "expand_dims": lambda x, a: xg.expand_dims(x, axis=a + (1 if a > 0 else -1)),
    "softmax": lambda x, a: xg.nn.softmax(x, axis=a),
    "log_softmax": lambda x, a: xg.nn.log_softmax(x, axis=a),
    "take": lambda x, a: xg.take(x, xg.asarray([0]), axis=a),
    "concat": lambda x, a: xg.concat([x, x], axis=a),
    "stack": lambda x, a: xg.stack([x, x], axis=a + (1 if a > 0 else -1)),
    "moveaxis": lambda x, a: xg.moveaxis(x, a, 0),
}
NOT_ARRAYS = ["text", None, {"a": 1}, ["x", "y"], object()]


def _gradient(x, y_of, cotangent):
    with xg.GradientTape() as tape:
        tape.watch(x)
        y = y_of(x)
    return tape.gradient(y, x, output_gradients=cotangent)


@st.composite
def bad_calls(draw):
    """(what, call, the exceptions it may raise, words its message must contain)."""
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=2, max_side=4))
    ndim = len(shape)
    x = xg.asarray(np.ones(shape))
    kind = draw(st.sampled_from(["axis", "reshape", "broadcast", "matmul", "cotangent shape",
                                 "cotangent kind", "permutation", "negative count",
                                 "broadcast_to", "not an array"]))
    if kind == "axis":
        name = draw(st.sampled_from(sorted(AXIS_FUNCTIONS)))
        axis = draw(st.sampled_from([ndim, ndim + 2, -ndim - 1, -ndim - 3]))
        return name, lambda: AXIS_FUNCTIONS[name](x, axis), (ValueError,), ["axis"]
    if kind == "reshape":
        new = tuple(draw(st.lists(st.integers(1, 5), min_size=1, max_size=3)))
        if int(np.prod(new)) == x.size:
            new = new + (2,)
        return f"reshape{new}", lambda: xg.reshape(x, new), (ValueError,), [str(new)]
    if kind == "broadcast":
        other = list(shape)
        i = draw(st.integers(0, ndim - 1))
        other[i] = shape[i] + draw(st.integers(1, 2))
        other = tuple(other)
        name = draw(st.sampled_from(["add", "multiply", "maximum", "atan2", "hypot",
                                     "logaddexp"]))
    if kind == "matmul":
        other, name = (shape[-1] + draw(st.integers(1, 2)), draw(st.integers(1, 3))), "matmul"
    if kind in ("broadcast", "matmul"):
        y = xg.asarray(np.ones(other))
        return (f"{name}{shape}{other}", lambda: getattr(xg, name)(x, y), (ValueError,),
                [name, str(shape), str(other)])
    if kind == "cotangent shape":
        other = draw(st.sampled_from([shape[1:], (1,) * ndim, shape + (1,), (shape[0] + 1,)
                                      + shape[1:]]))
        return (f"output_gradients{other}", lambda: _gradient(x, xg.tanh, np.ones(other)),
                (ValueError,), ["output_gradients", str(other)])
    if kind == "cotangent kind":
        bad = draw(st.sampled_from([np.ones(shape, complex), np.ones(shape, bool),
                                    np.full(shape, "a")]))
        return (f"output_gradients {bad.dtype}", lambda: _gradient(x, xg.exp, bad),
                (TypeError,), ["output_gradients"])
    if kind == "permutation":
        axes = tuple(draw(st.lists(st.integers(0, ndim), min_size=ndim, max_size=ndim + 1)
                          .filter(lambda a: sorted(a) != list(range(ndim)))))
        return f"permute_dims{axes}", lambda: xg.permute_dims(x, axes), (ValueError,), ["ax"]
    if kind == "negative count":
        count = -draw(st.integers(1, 3))
        if draw(st.booleans()):
            return "tile", lambda: xg.tile(x, (count,) * ndim), (ValueError,), ["repetitions"]
        return "repeat", lambda: xg.repeat(x, count, axis=0), (ValueError,), ["repeats"]
    if kind == "broadcast_to":
        target = tuple(s + 1 for s in shape)
        return (f"broadcast_to{target}", lambda: xg.broadcast_to(x, target), (ValueError,),
                [str(target)])
    name = draw(st.sampled_from(["exp", "tanh", "negative", "sqrt", "sum", "mean", "max", "std",
                                 "logsumexp", "squeeze", "expand_dims"]))
    bad = draw(st.sampled_from(NOT_ARRAYS))
    return f"{name}({bad!r})", lambda: getattr(xg, name)(bad), (TypeError,), [name]


@_settings(EXAMPLES * 5)
@given(bad=bad_calls())
def test_bad_arguments_raise_an_error_that_names_them(bad):
    what, call, errors, words = bad
    with pytest.raises(errors) as caught:
        call()
    message = str(caught.value)
    missing = [w for w in words if w not in message]
    assert not missing, f"{what}: {type(caught.value).__name__}({message!r}) does not name " \
                        f"{missing}"


@_settings(EXAMPLES * 2)
@given(case=cases.binary(), first_single=st.booleans(), seed=st.integers(0, 2**31))
def test_mixed_precision_operands_promote_and_keep_their_gradients_dtype(case, first_single,
                                                                           seed):
    """float32 with float64: a float64 result (as PyTorch's and NumPy's), each gradient in its
    own argument's dtype, the values those of the float64 computation on the same inputs."""
    dtypes = (np.float32, np.float64) if first_single else (np.float64, np.float32)
    arrays = [a.astype(d) for a, d in zip(case.inputs, dtypes)]
    w = []

    def cotangent_of(y):
        w.append(np.random.default_rng(seed).normal(size=y.shape))
        return w[0]

    y, grads = ours(case, arrays, "numpy", cotangent_of)
    ty, tgrads = theirs(case, arrays, w[0])
    assert y.dtype == np.float64, f"{case.name}: {y.dtype} from float32 and float64"
    assert_close(y.numpy(), ty, np.float64, f"{case.name}: value")
    for i, (g, tg, d) in enumerate(zip(grads, tgrads, dtypes)):
        g = np.zeros(tg.shape, d) if g is None else g.numpy()
        assert g.dtype == d, f"{case.name}: gradient {i} is {g.dtype} for a {d.__name__} input"
        # the float32 argument's gradient is the float64 one rounded once
        assert_close(g, tg, np.float64 if d is np.float64 else np.float32,
                     f"{case.name}: gradient {i}")
