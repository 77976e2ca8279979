"""Differential fuzzing against PyTorch: hypothesis draws a function of the namespace (the
tables in ``differential_cases.py``, ``differential_shapes.py`` and ``differential_losses.py``),
its shapes (0-d, size-0 and size-1 broadcasting axes), its parameters (axes, keepdims, keys,
reductions), a dtype (float32, float64) and how each argument lies in memory (C or Fortran
order, every other entry of a larger buffer, negative strides, read-only), and checks the value
and the vector-Jacobian product -- ``tape.gradient(y, xs, output_gradients=w)`` for a random
cotangent ``w`` -- against the same call in PyTorch, in float64 on the same (rounded) inputs.
Bad arguments must raise a TypeError or ValueError that names the argument.

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

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import differential_cases as cases  # noqa: E402
import differential_losses as losses  # noqa: E402
import differential_shapes as shapes  # noqa: E402
import xpgrad as xg  # noqa: E402
from conftest import backend_report  # noqa: E402

EXAMPLES = int(os.environ.get("XPGRAD_FUZZ_EXAMPLES", "10"))


def _settings(examples):
    return settings(max_examples=examples, deadline=None, database=None,
                    derandomize=not os.environ.get("XPGRAD_FUZZ_RANDOM"),
                    suppress_health_check=list(HealthCheck), print_blob=True)


FAMILIES = {
    "unary": cases.unary, "activation": cases.parametrized_activations,
    "binary": cases.binary, "where_clip": cases.where_and_clip,
    "reduction": cases.reductions, "cumulative_sum": cases.cumulative_sums,
    "norm": cases.norms, "reshape": shapes.reshapes, "axes": shapes.axis_moves,
    "join": shapes.joins, "repeat": shapes.repetitions, "gather": shapes.gathers,
    "index": shapes.indexing, "product": shapes.products,
    "axis_activation": losses.axis_activations, "pointwise_loss": losses.pointwise_losses,
    "class_loss": losses.class_losses, "pair_loss": losses.pair_losses,
}
LAYOUTS = ["C", "F", "strided", "reversed", "readonly"]
TOLERANCE = {np.float64: 1e-9, np.float32: 1e-4}


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


def theirs(case, arrays, w):
    ts = [torch.tensor(np.array(a, dtype=np.float64), requires_grad=True) for a in arrays]
    y = case.theirs(ts)
    grads = [None] * len(ts)
    if y.requires_grad:
        grads = torch.autograd.grad(y, ts, torch.tensor(w, dtype=torch.float64),
                                    allow_unused=True)
    return y.detach().numpy(), [np.zeros(t.shape) if g is None else g.numpy()
                                for t, g in zip(ts, grads)]


def assert_close(actual, expected, dtype, what):
    tol = TOLERANCE[dtype]
    scale = max(1.0, float(np.max(np.abs(expected), initial=0.0, where=np.isfinite(expected))))
    np.testing.assert_allclose(np.asarray(actual, dtype=np.float64), expected, rtol=tol,
                               atol=tol * scale, equal_nan=True, err_msg=what)


def check_against_torch(case, dtype, layouts, seed, backend):
    arrays = [laid_out(a.astype(dtype), layouts[i % len(layouts)])
              for i, a in enumerate(case.inputs)]
    rng = np.random.default_rng(seed)
    w = []

    def cotangent_of(y):
        w.append(np.asarray(rng.normal(size=y.shape), dtype=dtype))
        given = laid_out(w[0], layouts[-1])
        return xg.asarray(given) if seed % 2 else given

    y, grads = ours(case, arrays, backend, cotangent_of)
    ty, tgrads = theirs(case, arrays, w[0])
    assert y.shape == ty.shape, f"{case.name}: shape {y.shape}, PyTorch's {ty.shape}"
    assert y.dtype == np.dtype(dtype), f"{case.name}: dtype {y.dtype} from {dtype.__name__}"
    assert_close(y.numpy(), ty, dtype, f"{case.name}: value")
    for i, (g, tg, a) in enumerate(zip(grads, tgrads, arrays)):
        g = np.zeros(a.shape, dtype) if g is None else g
        assert g.shape == a.shape, f"{case.name}: gradient {i} shape {g.shape} for {a.shape}"
        assert g.dtype == np.dtype(dtype), f"{case.name}: gradient {i} dtype {g.dtype}"
        assert_close(np.asarray(g), tg, dtype, f"{case.name}: gradient {i}")


@pytest.mark.parametrize("family", sorted(FAMILIES))
@_settings(EXAMPLES)
@given(data=st.data(), dtype=st.sampled_from([np.float64, np.float32]),
       layouts=st.lists(st.sampled_from(LAYOUTS), min_size=1, max_size=3),
       seed=st.integers(0, 2**31))
def test_value_and_gradient_match_torch(family, data, dtype, layouts, seed):
    case = data.draw(FAMILIES[family](), label="case")
    check_against_torch(case, dtype, layouts, seed, "numpy")


needs_numba = pytest.mark.skipif(not backend_report().get("numba", {}).get("available"),
                                 reason="numba is not installed")


@needs_numba
@_settings(max(3, EXAMPLES // 3))
@given(data=st.data(), family=st.sampled_from(sorted(FAMILIES)),
       dtype=st.sampled_from([np.float64, np.float32]),
       layouts=st.lists(st.sampled_from(LAYOUTS), min_size=1, max_size=3),
       seed=st.integers(0, 2**31))
def test_value_and_gradient_match_torch_on_numba(data, family, dtype, layouts, seed):
    case = data.draw(FAMILIES[family](), label="case")
    check_against_torch(case, dtype, layouts, seed, "numba")
