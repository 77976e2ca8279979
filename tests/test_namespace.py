"""The namespace as a whole: array-API names, array-API-generic code, values and gradients
against PyTorch as an independent reference, and property tests over random shapes and axes."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

import xpgrad as xg
from xpgrad.testing import check_grads

# -- names ------------------------------------------------------------------------------------

STANDARD_NAMES = [
    "add", "subtract", "multiply", "divide", "negative", "pow", "square", "sqrt", "exp", "expm1",
    "log", "log1p", "abs", "sign", "sin", "cos", "tanh", "maximum", "minimum", "clip", "where",
    "logaddexp", "floor", "ceil", "round", "trunc", "equal", "not_equal", "less", "less_equal",
    "greater", "greater_equal", "logical_and", "logical_or", "logical_not", "logical_xor",
    "isnan", "isinf", "isfinite", "sum", "mean", "prod", "max", "min", "var", "std",
    "cumulative_sum", "argmax", "argmin", "any", "all", "matmul", "tensordot", "vecdot",
    "matrix_transpose", "reshape", "permute_dims", "expand_dims", "squeeze", "broadcast_to",
    "concat", "stack", "unstack", "flip", "take", "astype", "moveaxis", "asarray", "zeros",
    "ones", "full", "empty", "arange", "linspace", "eye", "zeros_like", "ones_like",
    "full_like", "empty_like", "isdtype", "float32", "float64", "int32", "int64", "bool",
]


def test_array_api_names_exist_and_match_the_standard():
    std = pytest.importorskip("array_api_strict")

    for name in STANDARD_NAMES:
        assert hasattr(xg, name), name
        assert hasattr(std, name), f"{name} is not an array-API name"
    for name in ["sigmoid", "relu", "leaky_relu", "softplus", "softmax", "log_softmax", "tanh"]:
        assert callable(getattr(xg.nn, name)), name
    assert xg.nn.leaky_relu(xg.asarray([-1.0])).item() == pytest.approx(-0.01)


def test_isdtype():
    assert xg.isdtype(xg.float32, "real floating")
    assert xg.isdtype(xg.int32, ("integral", "bool"))
    assert not xg.isdtype(xg.bool, "numeric")
    assert xg.isdtype(xg.float64, xg.float64)


# -- array-API-generic code differentiates ----------------------------------------------------

def generic_layer_norm(x):
    """Written for any array-API namespace: knows nothing about xpgrad."""
    xp = x.__array_namespace__()
    mu = xp.mean(x, axis=-1, keepdims=True)
    var = xp.mean(xp.square(x - mu), axis=-1, keepdims=True)
    return xp.sum(xp.tanh((x - mu) / xp.sqrt(var + 1e-5)) * xp.exp(-x))


def test_array_namespace_generic_code_differentiates(rng):
    x = xg.asarray(rng.standard_normal((3, 4)), dtype=xg.float64)
    assert x.__array_namespace__() is xg
    check_grads(generic_layer_norm, [x], order=2)
    ref = generic_layer_norm(x.numpy())      # the same code on NumPy's own namespace
    assert generic_layer_norm(x).item() == pytest.approx(float(ref), rel=1e-12)


def test_array_api_compat_recognizes_tensors():
    from array_api_compat import array_namespace

    assert array_namespace(xg.ones(2)) is xg


# -- against PyTorch --------------------------------------------------------------------------

try:
    import torch
except ImportError:      # only the comparisons below need it
    torch = None
needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is the independent reference")

TORCH_CASES = {
    # id: (xpgrad function, torch function, argument shapes)
    "mul_broadcast": (lambda a, b: a * b, lambda a, b: a * b, [(2, 3), (3,)]),
    "div_pow": (lambda a, b: (a / (b * b + 1.0)) ** 2, lambda a, b: (a / (b * b + 1.0)) ** 2,
                [(2, 3), (2, 1)]),
    "exp_log": (lambda a: xg.log(xg.exp(a) + 1.0) * xg.sin(a),
                lambda a: torch.log(torch.exp(a) + 1.0) * torch.sin(a), [(4,)]),
    "logaddexp": (xg.logaddexp, lambda a, b: torch.logaddexp(a, b), [(3, 2), (2,)]),
    "sigmoid_tanh": (lambda a: xg.nn.sigmoid(a) * xg.tanh(a),
                     lambda a: torch.sigmoid(a) * torch.tanh(a), [(5,)]),
    "softplus": (xg.nn.softplus, lambda a: torch.nn.functional.softplus(a), [(5,)]),
    "leaky_relu": (lambda a: xg.nn.leaky_relu(a, negative_slope=0.2),
                   lambda a: torch.nn.functional.leaky_relu(a, 0.2), [(6,)]),
    "softmax_axis0": (lambda a: xg.nn.softmax(a, axis=0), lambda a: torch.softmax(a, 0),
                      [(3, 4)]),
    "log_softmax": (xg.nn.log_softmax, lambda a: torch.log_softmax(a, -1), [(3, 4)]),
    "logsumexp": (lambda a: xg.logsumexp(a, axis=(0, 2)),
                  lambda a: torch.logsumexp(a, (0, 2)), [(2, 3, 4)]),
    "sum_keepdims": (lambda a: xg.sum(a, axis=-1, keepdims=True),
                     lambda a: a.sum(-1, keepdim=True), [(2, 3)]),
    "mean": (lambda a: xg.mean(a, axis=0), lambda a: a.mean(0), [(3, 2)]),
    "prod": (lambda a: xg.prod(a, axis=1), lambda a: a.prod(1), [(2, 4)]),
    "amax": (lambda a: xg.max(a, axis=(0, 1)), lambda a: torch.amax(a, (0, 1)), [(2, 3, 2)]),
    "var": (lambda a: xg.var(a, axis=1, correction=1.0),
            lambda a: torch.var(a, 1, correction=1), [(3, 4)]),
    "std": (lambda a: xg.std(a), lambda a: torch.std(a, correction=0), [(3, 4)]),
    "cumsum": (lambda a: xg.cumulative_sum(a, axis=1), lambda a: torch.cumsum(a, 1), [(2, 4)]),
    "matmul_batched": (xg.matmul, lambda a, b: a @ b, [(2, 3, 4), (4, 5)]),
    "matmul_1d": (xg.matmul, lambda a, b: a @ b, [(4,), (2, 4, 3)]),
    "tensordot": (lambda a, b: xg.tensordot(a, b, axes=([1, 0], [0, 2])),
                  lambda a, b: torch.tensordot(a, b, dims=([1, 0], [0, 2])),
                  [(3, 2, 4), (2, 5, 3)]),
    "vecdot": (xg.vecdot, lambda a, b: (a * b).sum(-1), [(3, 4), (4,)]),
    "getitem_mixed": (lambda a: a[xg.asarray([2, 0, 2]), 1:, None],
                      lambda a: a[torch.tensor([2, 0, 2]), 1:, None], [(3, 4)]),
    "getitem_mask": (lambda a: a[a > 0.0], lambda a: a[a > 0.0], [(3, 4)]),
    "take_concat_stack": (
        lambda a, b: xg.stack([xg.concat([a, b]), xg.take(a, xg.asarray([1, 1, 0, 1]), axis=0)],
                              axis=-1),
        lambda a, b: torch.stack([torch.cat([a, b]), a[[1, 1, 0, 1]]], -1), [(2, 3), (2, 3)]),
    "flip_permute": (lambda a: xg.permute_dims(xg.flip(a, axis=1), (2, 0, 1)),
                     lambda a: torch.flip(a, (1,)).permute(2, 0, 1), [(2, 3, 4)]),
    "clip_maximum": (lambda a, b: xg.clip(xg.maximum(a, b), -0.5, 0.5),
                     lambda a, b: torch.clamp(torch.maximum(a, b), -0.5, 0.5), [(8,), (8,)]),
    "where": (lambda a, b: xg.where(a > b, a * b, a - b),
              lambda a, b: torch.where(a > b, a * b, a - b), [(3, 3), (3,)]),
}


@needs_torch
@pytest.mark.parametrize("case", sorted(TORCH_CASES))
def test_values_and_gradients_match_pytorch(case, rng):
    xfn, tfn, shapes = TORCH_CASES[case]
    arrays = [rng.standard_normal(s) for s in shapes]
    xs = [xg.asarray(a, dtype=xg.float64) for a in arrays]
    ts = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in arrays]
    with xg.GradientTape() as tape:
        tape.watch(xs)
        out = xfn(*xs)
    tout = tfn(*ts)
    np.testing.assert_allclose(out.numpy(), tout.detach().numpy(), rtol=1e-12, atol=1e-12)
    ct = rng.standard_normal(tout.shape)
    grads = tape.gradient(out, xs, output_gradients=xg.asarray(ct, dtype=xg.float64))
    tgrads = torch.autograd.grad(tout, ts, grad_outputs=torch.tensor(ct))
    for g, tg in zip(grads, tgrads):
        np.testing.assert_allclose(g.numpy(), tg.numpy(), rtol=1e-10, atol=1e-12)


@needs_torch
def test_hessian_vector_product_matches_pytorch(rng):
    a = rng.standard_normal((3, 4))
    v = rng.standard_normal((3, 4))

    def f(x, lib):
        return (lib.tanh(x) ** 3).sum() + (x * x).sum() * x.sum()

    x = xg.asarray(a, dtype=xg.float64)
    with xg.GradientTape() as outer:
        outer.watch(x)
        with xg.GradientTape() as inner:
            inner.watch(x)
            y = xg.sum(xg.tanh(x) ** 3) + xg.sum(x * x) * xg.sum(x)
        g = inner.gradient(y, x)
        gv = xg.sum(g * xg.asarray(v, dtype=xg.float64))
    hvp = outer.gradient(gv, x)
    t = torch.tensor(a, requires_grad=True)
    (tg,) = torch.autograd.grad(f(t, torch), t, create_graph=True)
    (thvp,) = torch.autograd.grad((tg * torch.tensor(v)).sum(), t)
    np.testing.assert_allclose(hvp.numpy(), thvp.numpy(), rtol=1e-10)


# -- property tests ---------------------------------------------------------------------------

# well-separated values, so finite differences never straddle a tie of max/min
SEPARATED = st.integers(-20, 20).map(lambda i: i / 10)


@settings(max_examples=25, deadline=None)
@given(shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3,
                                                max_side=3),
       op=st.sampled_from(["add", "subtract", "multiply", "maximum", "logaddexp"]),
       seed=st.integers(0, 2**16))
def test_broadcasting_gradients_sum_back_to_each_input(shapes, op, seed):
    rng = np.random.default_rng(seed)
    a, b = (xg.asarray(rng.standard_normal(s), dtype=xg.float64) for s in shapes.input_shapes)
    fn = getattr(xg, op)
    out = fn(a, b)
    assert out.shape == shapes.result_shape
    check_grads(fn, [a, b])


@settings(max_examples=30, deadline=None)
@given(x=hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=3, max_side=3),
                    elements=SEPARATED, unique=True),
       data=st.data(),
       op=st.sampled_from(["sum", "mean", "max", "min", "logsumexp", "prod", "var"]),
       keepdims=st.booleans())
def test_reductions_over_random_axes(x, data, op, keepdims):
    axes = data.draw(st.lists(st.integers(-x.ndim, x.ndim - 1), unique_by=lambda a: a % x.ndim,
                              max_size=x.ndim) | st.none())
    axis = None if axes is None else tuple(axes)
    fn = getattr(xg, op)
    t = xg.asarray(x, dtype=xg.float64)
    out = fn(t, axis=axis, keepdims=keepdims)
    if op == "logsumexp":
        def np_fn(a, axis, keepdims):
            return np.log(np.sum(np.exp(a), axis=axis, keepdims=keepdims))
    else:
        np_fn = getattr(np, op)
    np.testing.assert_allclose(out.numpy(), np_fn(x, axis=axis, keepdims=keepdims), rtol=1e-12,
                               atol=1e-12)
    check_grads(lambda a: fn(a, axis=axis, keepdims=keepdims), [t])
