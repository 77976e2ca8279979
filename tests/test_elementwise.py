"""The array API's elementwise functions and the Tensor's operators: values on every dtype,
gradients of complex inputs (finite differences, PyTorch), scalars, clip, bitwise, bad inputs,
in-place operators and the array-style methods. Real float64 gradients of every function are
in tests/test_primitives.py's CASES."""
from __future__ import annotations

import numpy as np
import pytest

import xpgrad as xg
from xpgrad.testing import check_grads

try:
    import torch
except ImportError:        # the PyTorch comparisons are skipped without it
    torch = None
needs_torch = pytest.mark.skipif(torch is None, reason="compares against PyTorch")

# name -> (PyTorch's function, the domain of real test inputs)
UNARY = {
    "exp": ("exp", "normal"), "expm1": ("expm1", "normal"), "log": ("log", "positive"),
    "log1p": ("log1p", "positive"), "log2": ("log2", "positive"),
    "log10": ("log10", "positive"), "sqrt": ("sqrt", "positive"), "square": ("square", "normal"),
    "sin": ("sin", "normal"), "cos": ("cos", "normal"), "tan": ("tan", "small"),
    "sinh": ("sinh", "normal"), "cosh": ("cosh", "normal"), "tanh": ("tanh", "normal"),
    "asin": ("asin", "small"), "acos": ("acos", "small"), "atan": ("atan", "normal"),
    "asinh": ("asinh", "normal"), "acosh": ("acosh", "above1"), "atanh": ("atanh", "small"),
    "reciprocal": ("reciprocal", "positive"), "negative": ("negative", "normal"),
    "positive": ("positive", "normal"), "abs": ("abs", "away"), "sign": ("sgn", "away"),
    "conj": ("conj_physical", "normal"), "real": ("real", "normal"),
    "imag": ("imag", "normal"),
}
BINARY = {"add": "add", "subtract": "sub", "multiply": "mul", "divide": "div", "pow": "pow"}
REAL_BINARY = {"atan2": "atan2", "hypot": "hypot", "copysign": "copysign",
               "remainder": "remainder", "maximum": "maximum", "minimum": "minimum",
               "logaddexp": "logaddexp"}
REAL_ONLY = {"real", "imag", "conj"}      # on reals they are trivial: checked on complex only


def draw(kind, shape, rng, complex_=False):
    x = rng.standard_normal(shape)
    if kind == "positive":
        x = np.abs(x) + 0.5
    elif kind == "away":
        x = np.sign(x) * (np.abs(x) + 0.2)
    elif kind == "small":
        x = np.tanh(x) * 0.8
    elif kind == "above1":
        x = np.abs(x) + 1.5
    if complex_:
        # near the real domain, away from the branch cuts of log, sqrt, asin, acosh, atanh
        x = x + 0.3j * np.tanh(rng.standard_normal(shape))
    return x


def complex_args(kind, shape, rng):
    return xg.asarray(draw(kind, shape, rng, complex_=True), dtype=xg.complex128)


# -- complex gradients: finite differences, to second order --------------------------------------

@pytest.mark.parametrize("name", sorted(UNARY))
def test_complex_unary_gradient_matches_finite_differences(name, rng):
    z = complex_args(UNARY[name][1], (2, 3), rng)
    check_grads(getattr(xg, name), [z], order=2)


@pytest.mark.parametrize("name", sorted(BINARY))
def test_complex_binary_gradient_matches_finite_differences(name, rng):
    z = complex_args("positive", (2, 3), rng)
    w = complex_args("positive", (3,), rng)
    check_grads(getattr(xg, name), [z, w], order=2)


def test_real_and_complex_inputs_mixed(rng):
    """A real input of a complex computation gets the real part of its gradient."""
    x = xg.asarray(rng.standard_normal(3), dtype=xg.float64)
    z = complex_args("normal", (3,), rng)
    check_grads(lambda a, b: xg.sin(a * b) / (b + a), [x, z], order=2)
    check_grads(lambda a: xg.abs(a * (1.0 + 2.0j)) + xg.imag(a * 1j) * a, [x], order=2)


def test_abs_of_complex_gradient_is_g_times_z_over_abs():
    z = xg.asarray([3.0 + 4.0j, 0.0j, -1.0j], dtype=xg.complex128)
    with xg.GradientTape() as tape:
        tape.watch(z)
        y = xg.sum(xg.abs(z))
    np.testing.assert_allclose(tape.gradient(y, z).numpy(), [0.6 + 0.8j, 0.0, -1.0j])
    zero = xg.sign(xg.asarray([complex(-0.0, -0.0)])).numpy()
    assert zero.tolist() == [0j] and not np.signbit(zero.real).any()


# -- against PyTorch: the same convention for complex inputs -----------------------------------

def _torch_grads(fn, arrays, cot):
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    out = fn(*ts)
    c = torch.tensor(cot)
    loss = (torch.conj(c) * out).real.sum() if out.is_complex() else (c * out).sum()
    return [g.numpy(force=True) for g in torch.autograd.grad(loss, ts)]


def _xg_grads(fn, arrays, cot):
    xs = [xg.asarray(a) for a in arrays]
    with xg.GradientTape() as tape:
        tape.watch(xs)
        out = fn(*xs)
    return [g.numpy() for g in tape.gradient(out, xs, output_gradients=cot)]


@needs_torch
@pytest.mark.parametrize("complex_", [False, True], ids=["float64", "complex128"])
@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_gradient_matches_torch(name, complex_, rng):
    if name in REAL_ONLY and not complex_:
        pytest.skip("checked on complex inputs")
    tname, kind = UNARY[name]
    a = draw(kind, (2, 3), rng, complex_)
    out_complex = complex_ and name not in ("abs", "real", "imag")
    cot = rng.standard_normal((2, 3)) + (1j * rng.standard_normal((2, 3)) if out_complex else 0)
    want = _torch_grads(getattr(torch, tname), [a], cot)
    got = _xg_grads(getattr(xg, name), [a], cot)
    np.testing.assert_allclose(got[0], want[0], rtol=1e-10, atol=1e-12)


@needs_torch
@pytest.mark.parametrize("complex_", [False, True], ids=["float64", "complex128"])
@pytest.mark.parametrize("name", sorted(BINARY) + sorted(REAL_BINARY))
def test_binary_gradient_matches_torch(name, complex_, rng):
    if complex_ and name in REAL_BINARY:
        pytest.skip("real-valued function")
    tname = BINARY.get(name) or REAL_BINARY[name]
    kind = "positive" if name in ("pow", "divide", "remainder") else "away"
    a, b = draw(kind, (2, 3), rng, complex_), draw(kind, (3,), rng, complex_)
    cot = rng.standard_normal((2, 3)) + (1j * rng.standard_normal((2, 3)) if complex_ else 0)
    want = _torch_grads(getattr(torch, tname), [a, b], cot)
    got = _xg_grads(getattr(xg, name), [a, b], cot)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-12)


@needs_torch
@pytest.mark.parametrize("name", ["atan2", "pow"])
@pytest.mark.parametrize("single", [0, 1])
def test_a_float64_operand_next_to_a_float32_one_gets_a_float64_gradient(name, single, rng):
    # the rules squared (atan2) or took the log of (pow) the float32 operand in float32, which
    # left the float64 operand's gradient 4e-8 off (found by tests/test_differential_fuzz.py)
    a, b = rng.uniform(0.5, 2.0, (2, 50)), rng.uniform(0.5, 2.0, 50)
    pair = [a.astype(np.float32) if single == 0 else a, b.astype(np.float32) if single else b]
    xs = [xg.asarray(v) for v in pair]
    with xg.GradientTape() as tape:
        tape.watch(xs)
        y = getattr(xg, name)(*xs)
    got = tape.gradient(y, xs)
    want = _torch_grads(getattr(torch, name), [v.astype(np.float64) for v in pair],
                        np.ones(y.shape))
    double = 1 - single
    assert got[single].dtype == xg.float32 and got[double].dtype == xg.float64
    np.testing.assert_allclose(got[double].numpy(), want[double], rtol=1e-13)
    np.testing.assert_allclose(got[single].numpy(), want[single], rtol=1e-6)


@needs_torch
def test_clip_with_tensor_bounds_matches_torch(rng):
    x = rng.standard_normal((3, 4))
    lo = -np.abs(rng.standard_normal(4)) * 0.5
    hi = np.abs(rng.standard_normal((3, 1))) * 0.5
    cot = rng.standard_normal((3, 4))
    want = _torch_grads(lambda a, b, c: torch.clamp(a, b, c), [x, lo, hi], cot)
    got = _xg_grads(lambda a, b, c: xg.clip(a, b, c), [x, lo, hi], cot)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w)


# -- values: new functions and dtypes against NumPy --------------------------------------------

INT_DTYPES = ["int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"]


@pytest.mark.parametrize("dtype", INT_DTYPES)
def test_integer_arithmetic_keeps_the_dtype(dtype, rng):
    a = rng.integers(1, 60, 6).astype(dtype)
    b = rng.integers(1, 7, 6).astype(dtype)
    x, y = xg.asarray(a), xg.asarray(b)
    for got, want in [(x + y, a + b), (x * y, a * b), (x // y, a // b), (x % y, a % b),
                      (x ** 2, a ** 2), (abs(x), np.abs(a)), (x & y, a & b), (x | y, a | b), (x ^ y, a ^ b),
                      (~x, ~a), (x << 1, a << 1), (x >> y, a >> b), (x > y, a > b),
                      (xg.maximum(x, y), np.maximum(a, b)), (xg.sign(x), np.sign(a)),
                      (xg.clip(x, 5, 40), np.clip(a, 5, 40)), (+x, a)]:
        assert str(got.dtype) == want.dtype.name
        np.testing.assert_array_equal(got.numpy(), want)


def test_floor_divide_and_remainder_follow_python_signs():
    a, b = [7, -7, 7, -7], [2, 2, -2, -2]
    x, y = xg.asarray(a), xg.asarray(b)
    assert (x // y).tolist() == [p // q for p, q in zip(a, b)]
    assert (x % y).tolist() == [p % q for p, q in zip(a, b)]
    f = xg.asarray([7.5, -7.5])
    assert (f % 2.0).tolist() == [1.5, 0.5] and (f // -2.0).tolist() == [-4.0, 3.0]
    assert (10 // xg.asarray([3])).tolist() == [3] and (10 % xg.asarray([3])).tolist() == [1]


def test_floor_divide_takes_the_standards_values_at_infinities():
    x = xg.asarray([1.0, -1.0, 1.0, 2.5], dtype=xg.float64)
    y = xg.asarray([-np.inf, np.inf, np.inf, 2.0], dtype=xg.float64)
    out = (x // y).numpy()
    assert out.tolist() == [0.0, 0.0, 0.0, 1.0] and np.signbit(out).tolist() == [
        True, True, False, False]
    with np.errstate(invalid="ignore"):
        assert (xg.asarray([np.inf, -np.inf]) // xg.asarray([2.0, 2.0])).tolist() == [
            np.inf, -np.inf]


@pytest.mark.parametrize("dtype", ["float32", "float64", "complex64", "complex128"])
def test_functions_keep_floating_dtypes(dtype, rng):
    a = (rng.uniform(0.2, 0.8, 5) + (0.1j if dtype.startswith("complex") else 0)).astype(dtype)
    x = xg.asarray(a)
    for name in ["exp", "expm1", "log", "log1p", "log2", "log10", "sqrt", "sin", "cos", "tan",
                 "sinh", "cosh", "tanh", "asin", "acos", "atan", "asinh", "atanh", "square",
                 "reciprocal", "positive", "negative", "conj", "sign"]:
        got = getattr(xg, name)(x)
        assert str(got.dtype) == dtype, name
        want = {"reciprocal": lambda v: 1 / v, "conj": np.conj}.get(
            name, getattr(np, {"asin": "arcsin", "acos": "arccos", "atan": "arctan",
                               "asinh": "arcsinh", "atanh": "arctanh"}.get(name, name)))(a)
        np.testing.assert_allclose(got.numpy(), want, rtol=2e-6, err_msg=name)
    real_dtype = {"complex64": "float32", "complex128": "float64"}.get(dtype, dtype)
    assert str(xg.abs(x).dtype) == real_dtype and str(xg.real(x).dtype) == real_dtype
    if dtype.startswith("complex"):
        np.testing.assert_allclose(xg.imag(x).numpy(), a.imag)


def test_complex_special_values_of_the_standard():
    inf, nan = np.inf, np.nan
    z = xg.asarray(np.array([complex(inf, 1e154), complex(inf, -2.0), complex(-inf, 3.0)]))
    t = xg.tanh(z).numpy()
    assert t.real.tolist() == [1.0, 1.0, -1.0] and np.signbit(t.imag).tolist() == [
        False, True, False]
    with np.errstate(all="ignore"):
        e = xg.expm1(xg.asarray(np.array([complex(inf, 0.0), complex(-inf, inf),
                                          complex(nan, -0.0), complex(-0.0, 0.0)]))).numpy()
    assert e[0] == complex(inf, 0.0) and e[1] == -1.0 and e[3] == 0.0
    assert np.isnan(e[2].real) and e[2].imag == 0.0 and np.signbit(e[2].imag)
    assert not np.signbit(e[3].real)


def test_real_valued_new_functions_against_numpy(rng):
    a, b = rng.standard_normal(8), rng.standard_normal(8)
    x, y = xg.asarray(a, dtype=xg.float64), xg.asarray(b, dtype=xg.float64)
    pairs = {"atan2": np.arctan2, "hypot": np.hypot, "copysign": np.copysign,
             "nextafter": np.nextafter, "remainder": np.remainder,
             "floor_divide": np.floor_divide, "logaddexp": np.logaddexp}
    for name, ref in pairs.items():
        np.testing.assert_array_equal(getattr(xg, name)(x, y).numpy(), ref(a, b), err_msg=name)
    s = xg.asarray([-0.0, 0.0, -np.inf, np.inf, -1.0, 2.0, -np.nan, np.nan])
    assert xg.signbit(s).tolist() == [True, False, True, False, True, False, True, False]
    assert xg.nextafter(xg.asarray(1.0, dtype=xg.float32), 2.0).item() == np.nextafter(
        np.float32(1), np.float32(2))


def test_integers_in_floating_functions_compute_in_float32():
    x = xg.asarray([1, 4], dtype=xg.int8)
    assert xg.sqrt(x).dtype == xg.float32 and xg.sqrt(x).tolist() == [1.0, 2.0]
    assert (x / 2).dtype == xg.float32 and (x / 2).tolist() == [0.5, 2.0]
    assert xg.atan2(x, x).dtype == xg.float32


def test_scalars_on_either_side_of_binary_functions():
    x = xg.asarray([1.0, 2.0])
    for name in ["add", "subtract", "multiply", "divide", "pow", "atan2", "hypot", "copysign",
                 "remainder", "floor_divide", "maximum", "minimum", "logaddexp", "nextafter",
                 "equal", "less", "greater_equal"]:
        fn = getattr(xg, name)
        np_name = {"pow": "power", "atan2": "arctan2"}.get(name, name)
        ref = getattr(np, np_name)
        left, right = fn(3, x), fn(x, 0.5)
        assert left.dtype == right.dtype == (xg.bool if name in ("equal", "less",
                                                                 "greater_equal") else xg.float32)
        np.testing.assert_allclose(left.numpy(), ref(3, x.numpy()), rtol=1e-6, err_msg=name)
        np.testing.assert_allclose(right.numpy(), ref(x.numpy(), 0.5), rtol=1e-6, err_msg=name)
    z = x * 1j
    assert z.dtype == xg.complex64 and z.tolist() == [1j, 2j]


def test_clip_semantics():
    x = xg.asarray([[1, 5, 9]], dtype=xg.int8)
    assert xg.clip(x, 1000).tolist() == [[127, 127, 127]]        # bound brought into range
    assert xg.clip(x, -1000, 4).tolist() == [[1, 4, 4]]
    out = xg.clip(x, max=xg.asarray([[4], [8]], dtype=xg.int8))  # broadcasts, keeps the dtype
    assert out.dtype == xg.int8 and out.tolist() == [[1, 4, 4], [1, 5, 8]]
    f = xg.asarray([0.5, 2.0], dtype=xg.float32)
    assert xg.clip(f, xg.asarray([1.0, 0.0], dtype=xg.float64)).dtype == xg.float32
    assert xg.clip(f) is f


def test_clip_gradients_reach_the_bounds(rng):
    check_grads(lambda a, lo: xg.clip(a, min=lo), [xg.asarray([0.1, 0.9, -0.4], dtype="float64"),
                                                   xg.asarray([0.3, 0.2, 0.0], dtype="float64")])
    check_grads(lambda a, hi: xg.clip(a, 0.0, hi) * a,
                [xg.asarray([0.1, 0.9, -0.4], dtype="float64"), xg.asarray(0.5, dtype="float64")],
                order=2)


# -- bitwise -----------------------------------------------------------------------------------

def test_bitwise_on_integers_and_booleans():
    a, b = np.array([12, -3, 7]), np.array([10, 5, -1])
    x, y = xg.asarray(a), xg.asarray(b)
    assert (x & y).tolist() == (a & b).tolist() and (x | y).tolist() == (a | b).tolist()
    assert (x ^ y).tolist() == (a ^ b).tolist() and (~x).tolist() == (~a).tolist()
    assert (3 & x).tolist() == (3 & a).tolist() and (1 << xg.asarray([2, 3])).tolist() == [4, 8]
    t, f = xg.asarray([True, True, False]), xg.asarray([True, False, False])
    assert (t & f).tolist() == [True, False, False] and (~t).tolist() == [False, False, True]
    assert (t | False).tolist() == [True, True, False] and (t ^ f).dtype == xg.bool
    u = xg.asarray([1, 128], dtype=xg.uint8)
    assert (u << 1).tolist() == [2, 0] and (u >> 7).tolist() == [0, 1]
    assert (u << 1).dtype == xg.uint8


@pytest.mark.parametrize("fn", [lambda x: x & 1, lambda x: x | x, lambda x: ~x,
                                lambda x: xg.bitwise_xor(1, x), lambda x: x << 1,
                                lambda x: xg.bitwise_right_shift(xg.asarray([1]), 0.5)],
                         ids=["and", "or", "invert", "xor", "lshift", "rshift"])
def test_bitwise_refuses_floats_naming_the_argument(fn):
    with pytest.raises(TypeError, match=r"bitwise_\w+: x[12]? must have an integer"):
        fn(xg.asarray([1.0]))


def test_shifts_refuse_booleans():
    with pytest.raises(TypeError, match="x1 must have an integer data type"):
        xg.bitwise_left_shift(xg.asarray([True]), 1)


# -- operators and methods ---------------------------------------------------------------------

def test_inplace_operators_update_a_tensor_and_keep_the_tape():
    x = xg.asarray([1.0, 2.0], dtype=xg.float64)
    with xg.GradientTape() as tape:
        tape.watch(x)
        y = x * 1.0
        alias = y
        y += 1.0
        y *= x
        y **= 2
        y /= 2.0
        y -= x
        total = xg.sum(y)
        with pytest.raises(ValueError, match="x [+]= y: cannot write into a tensor that a "
                                             "GradientTape watches"):
            x += 1.0                    # a gradient source, as PyTorch refuses a leaf
    assert alias is y and x.tolist() == [1.0, 2.0]
    np.testing.assert_allclose(tape.gradient(total, x).numpy(),
                               [(x0 + 1) * x0 * (2 * x0 + 1) - 1 for x0 in (1.0, 2.0)])
    i = xg.asarray([5, 6])
    i //= 2
    i %= 2
    i <<= 3
    i >>= 1
    i &= 7
    i |= 1
    i ^= 2
    assert i.tolist() == [3, 7]
    m = xg.eye(2)
    m @= xg.asarray([[1.0, 2.0], [3.0, 4.0]])
    assert m.tolist() == [[1.0, 2.0], [3.0, 4.0]]


def test_inplace_operators_update_a_variable_and_refuse_under_a_tape():
    v = xg.Variable([1.0, 2.0], name="w")
    same = v
    v += 1.0
    v *= xg.asarray([2.0, 0.5])
    assert v is same and isinstance(v, xg.Variable) and v.tolist() == [4.0, 1.5]
    with pytest.raises(ValueError, match="'w' while a GradientTape records"):
        with xg.GradientTape():
            v -= 1.0
    assert v.tolist() == [4.0, 1.5]
    with pytest.raises(ValueError, match="does not match variable 'w'"):
        v += xg.ones((3, 2))             # broadcasting may not change a variable's shape
    v.assign_add([1.0, 1.0])
    assert v.tolist() == [5.0, 2.5]


def test_reflected_and_unary_operators():
    x = xg.asarray([2.0, 4.0])
    assert (1 - x).tolist() == [-1.0, -3.0] and (8 / x).tolist() == [4.0, 2.0]
    assert (9 // x).tolist() == [4.0, 2.0] and (9 % x).tolist() == [1.0, 1.0]
    assert (2 ** x).tolist() == [4.0, 16.0] and (+x).tolist() == [2.0, 4.0]
    assert (-x).tolist() == [-2.0, -4.0] and abs(-x).tolist() == [2.0, 4.0]
    assert (x @ x).item() == 20.0 and (-xg.asarray([3, -4])).tolist() == [-3, 4]


def test_python_conversions():
    assert float(xg.asarray(1.5)) == 1.5 and int(xg.asarray(-2.7)) == -2
    assert complex(xg.asarray(1 + 2j)) == 1 + 2j and complex(xg.asarray(2.0)) == 2 + 0j
    assert bool(xg.asarray(0.0)) is False and bool(xg.asarray(0.5j)) is True
    with pytest.raises(TypeError):
        float(xg.asarray(1j))
    with pytest.raises(OverflowError):
        int(xg.asarray(float("inf")))
    assert [10, 20, 30][xg.asarray(1)] == 20
    with pytest.raises(TypeError):
        [10, 20][xg.asarray(1.0)]


def test_methods_use_the_standard_semantics(rng):
    a = rng.standard_normal((2, 3, 4))
    x = xg.asarray(a, dtype=xg.float64)
    np.testing.assert_allclose(x.sum(axis=(0, 2)).numpy(), a.sum(axis=(0, 2)))
    np.testing.assert_allclose(x.mean(axis=-1, keepdims=True).numpy(),
                               a.mean(axis=-1, keepdims=True))
    np.testing.assert_allclose(x.prod(axis=1).numpy(), a.prod(axis=1))
    np.testing.assert_allclose(x.max(axis=0).numpy(), a.max(axis=0))
    np.testing.assert_allclose(x.min().numpy(), a.min())
    np.testing.assert_allclose(x.std(axis=1, correction=1).numpy(), a.std(axis=1, ddof=1))
    np.testing.assert_allclose(x.var(ddof=1).numpy(), a.var(ddof=1))
    assert x.argmax(axis=2).tolist() == a.argmax(axis=2).tolist()
    assert x.argmin().item() == a.argmin()
    assert x.reshape(6, 4).shape == x.reshape((6, 4)).shape == (6, 4)
    assert x.flatten().shape == (24,) and x.transpose().shape == (4, 3, 2)
    np.testing.assert_array_equal(x.transpose(1, 0, 2).numpy(), a.transpose(1, 0, 2))
    np.testing.assert_array_equal(x.permute((2, 0, 1)).numpy(), a.transpose(2, 0, 1))
    np.testing.assert_array_equal(x.swapaxes(0, -1).numpy(), a.swapaxes(0, -1))
    assert x.mT.shape == (2, 4, 3) and x[0].T.shape == (4, 3)
    assert x.astype(xg.float32).dtype == xg.float32 and x.abs().tolist() == np.abs(a).tolist()
    np.testing.assert_allclose(x.cumsum().numpy(), a.cumsum())
    assert x[:, :1].squeeze().shape == (2, 4) and x[:1].squeeze(0).shape == (3, 4)
    assert (x > 0).any(axis=0).tolist() == (a > 0).any(axis=0).tolist()
    assert (x > -9).all().item() is True
    z = xg.asarray(a + 1j, dtype=xg.complex128)
    assert z.real.dtype == xg.float64 and z.imag.tolist() == np.ones_like(a).tolist()
    assert z.conj().tolist() == np.conj(a + 1j).tolist()
    assert x.real is x and x.imag.tolist() == np.zeros_like(a).tolist()
    with pytest.raises(ValueError, match="2-D"):
        x.T


def test_methods_are_recorded_on_the_tape(rng):
    x = xg.asarray(rng.standard_normal((2, 3)), dtype=xg.float64)
    check_grads(lambda a: a.sum(axis=0) * a.mean() + a.max(axis=1, keepdims=True).flatten()
                [:1] + a.std(ddof=1) + a.T.reshape(-1)[:3] + a.abs().prod(axis=1).sum(),
                [x], order=2)
