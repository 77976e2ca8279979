"""The per-primitive appliers (``xpgrad/appliers.py``: the namespace's one- and two-argument
functions, the operators) give what ``apply``'s general path gives, for every kind of operand
they take a shortcut for and every kind they hand on; the product's and sin's and cos's rules,
which read a real factor without calling ``_conj``, match PyTorch and finite differences."""
import numpy as np
import pytest

import xpgrad as xg
from xpgrad.appliers import apply_general
from xpgrad.backend import MixedBackendError
from xpgrad.primitive import PRIMITIVES

torch = pytest.importorskip("torch")

X = np.array([0.7, 1.3, 2.1])           # positive: the base of pow
Y = np.array([1.9, 0.4, -1.1])
H = 1e-6


def _general(name):
    prim = PRIMITIVES[name]
    return lambda *args: apply_general(prim, args, {})


# operands as the program gets them: "t" a Tensor, "v" a trainable Variable, "s" a Python
# float, "i" a Python int, "a" a NumPy array, "l" a list
def _operand(kind, values):
    return {"t": lambda: xg.asarray(values), "v": lambda: xg.Variable(values),
            "s": lambda: 0.75, "i": lambda: 3, "a": lambda: values.copy(),
            "l": lambda: values.tolist()}[kind]()


def _value_and_gradients(fn, kinds):
    operands = [_operand(k, v) for k, v in zip(kinds, (X, Y))]
    tensors = [o for o in operands if isinstance(o, xg.Tensor)]
    with xg.GradientTape() as tape:
        tape.watch([t for t in tensors if not isinstance(t, xg.Variable)])
        out = fn(*operands)
        total = xg.sum(out * out)
    grads = tape.gradient(total, tensors)
    return out, [g.numpy() for g in grads]


BINARY = ["add", "subtract", "multiply", "divide", "pow", "maximum", "atan2"]
PAIRS = ["tt", "tv", "vt", "vv", "ts", "st", "ti", "it", "ta", "at", "tl"]


@pytest.mark.parametrize("name", BINARY)
@pytest.mark.parametrize("kinds", PAIRS)
def test_a_binary_applier_equals_the_general_path(name, kinds):
    out, grads = _value_and_gradients(getattr(xg, name), kinds)
    ref, ref_grads = _value_and_gradients(_general(name), kinds)
    assert out.dtype == ref.dtype and out.backend is ref.backend
    np.testing.assert_array_equal(out.numpy(), ref.numpy())
    assert len(grads) == len(ref_grads)
    for g, r in zip(grads, ref_grads):
        np.testing.assert_array_equal(g, r)


@pytest.mark.parametrize("name", ["sin", "cos", "tanh", "exp", "negative", "abs", "sqrt"])
@pytest.mark.parametrize("kind", ["t", "v"])
def test_a_unary_applier_equals_the_general_path(name, kind):
    fn = (lambda x: getattr(xg, name)(xg.abs(x))) if name == "sqrt" else getattr(xg, name)
    general = _general(name)
    ref_fn = (lambda x: general(xg.abs(x))) if name == "sqrt" else general
    out, grads = _value_and_gradients(fn, kind)
    ref, ref_grads = _value_and_gradients(ref_fn, kind)
    assert out.dtype == ref.dtype
    np.testing.assert_array_equal(out.numpy(), ref.numpy())
    np.testing.assert_array_equal(grads[0], ref_grads[0])


def test_appliers_take_array_likes_and_scalars_as_apply_does():
    assert xg.sin(X.tolist()).tolist() == xg.sin(xg.asarray(X.tolist())).tolist()
    assert float(xg.negative(2.5)) == -2.5
    assert (xg.multiply(2, 3)).tolist() == 6
    assert xg.multiply(xg.asarray([1, 2]), 0.5).dtype == xg.float32    # int beside a float
    assert xg.add(xg.asarray(X, dtype=xg.float32), 0.1).dtype == xg.float32


_TORCH_RULES = {"multiply": lambda x, y: x * y, "sin": lambda x, y: torch.sin(x) * y,
                "cos": lambda x, y: torch.cos(x) * y}
_XG_RULES = {"multiply": lambda x, y: x * y, "sin": lambda x, y: xg.sin(x) * y,
             "cos": lambda x, y: xg.cos(x) * y}


@pytest.mark.parametrize("name", sorted(_TORCH_RULES))
@pytest.mark.parametrize("dtype", ["float64", "complex128"])
def test_the_product_sin_and_cos_rules_match_torch_and_finite_differences(name, dtype):
    x = (X + 0.5j * Y if dtype == "complex128" else X).astype(dtype)
    y = (Y - 0.25j * X if dtype == "complex128" else Y).astype(dtype)
    xt, yt = xg.asarray(x), xg.asarray(y)
    with xg.GradientTape() as tape:
        tape.watch([xt, yt])
        out = _XG_RULES[name](xt, yt)
        loss = xg.sum(xg.real(out * xg.conj(out)))
    gx, gy = tape.gradient(loss, [xt, yt])
    tx = torch.tensor(x, requires_grad=True)
    ty = torch.tensor(y, requires_grad=True)
    t_out = _TORCH_RULES[name](tx, ty)
    (t_out * t_out.conj()).real.sum().backward()
    np.testing.assert_allclose(gx.numpy(), tx.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(gy.numpy(), ty.grad.numpy(), rtol=1e-12)
    if dtype == "float64":
        def f(a):
            o = _XG_RULES[name](xg.asarray(a), xg.asarray(y)).numpy()
            return float(np.sum(o * o))
        fd = [(f(x + H * e) - f(x - H * e)) / (2 * H) for e in np.eye(len(x))]
        np.testing.assert_allclose(gx.numpy(), fd, rtol=1e-6)


@pytest.mark.usefixtures("numpy_default")
def test_bad_operands_are_refused_by_name():
    with pytest.raises(ValueError, match=r"multiply: bad inputs of shapes \(3,\), \(2,\)"):
        xg.multiply(xg.asarray(X), xg.asarray([1.0, 2.0]))
    with pytest.raises(ValueError, match=r"add: bad inputs of shapes \(3,\), \(2,\)"):
        xg.asarray(X) + xg.Variable([1.0, 2.0])
    with pytest.raises(TypeError):
        xg.sin("a string")

    class Other(type(xg.get_backend("numpy"))):
        name = "other"
    elsewhere = xg.asarray(Y, backend=Other())
    with pytest.raises(MixedBackendError, match="'numpy' and 'other'"):
        xg.asarray(X) * elsewhere
    with pytest.raises(MixedBackendError, match="'other' and 'numpy'"):
        xg.atan2(elsewhere, xg.asarray(X))
