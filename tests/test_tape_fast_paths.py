"""The tape's fast paths give what the general ones give: operators bound straight to their
primitive, the NumPy seed, and the plain (keyword-free) calls of forwards, kernels and rules."""
import numpy as np
import pytest

import xpgrad as xg
from xpgrad.primitive import Each, Primitive, apply
from xpgrad.tape_recording import NODE_HEAD, node_inputs, node_keys
from xpgrad.tensor_methods import _DIRECT

torch = pytest.importorskip("torch")

X = np.array([0.7, 1.3, 2.1])
Y = np.array([1.9, 0.4, 1.1])
H = 1e-6


def _through(fn, x, y):
    """``fn(x, y)`` and its gradients with respect to x and y (float64, summed output)."""
    xt, yt = xg.asarray(x), xg.asarray(y)
    with xg.GradientTape(persistent=True) as tape:
        tape.watch([xt, yt])
        out = fn(xt, yt)
        total = xg.sum(out) if out.dtype.is_inexact else None
    grads = tape.gradient(total, [xt, yt]) if total is not None else [None, None]
    return out, [None if g is None else g.numpy() for g in grads]


def _calls(dunder, name, reflected):
    """The operator on Tensors, and the namespace function it stands for."""
    op = getattr(xg.Tensor, dunder)
    fn = getattr(xg, name)
    if reflected is None:
        return (lambda x, y: op(x)), (lambda x, y: fn(x))
    if reflected:
        return (lambda x, y: op(x, y)), (lambda x, y: fn(y, x))
    return (lambda x, y: op(x, y)), (lambda x, y: fn(x, y))


@pytest.mark.parametrize("dunder", sorted(_DIRECT))
def test_a_bound_operator_equals_its_namespace_function(dunder):
    name, reflected = _DIRECT[dunder]
    by_operator, by_function = _calls(dunder, name, reflected)
    out_op, grads_op = _through(by_operator, X, Y)
    out_fn, grads_fn = _through(by_function, X, Y)
    assert out_op.dtype == out_fn.dtype
    np.testing.assert_array_equal(out_op.numpy(), out_fn.numpy())
    for g_op, g_fn in zip(grads_op, grads_fn):
        assert (g_op is None) == (g_fn is None)
        if g_op is not None:
            np.testing.assert_array_equal(g_op, g_fn)


_TORCH = {"__add__": lambda x, y: x + y, "__radd__": lambda x, y: y + x,
          "__sub__": lambda x, y: x - y, "__rsub__": lambda x, y: y - x,
          "__mul__": lambda x, y: x * y, "__rmul__": lambda x, y: y * x,
          "__truediv__": lambda x, y: x / y, "__rtruediv__": lambda x, y: y / x,
          "__pow__": lambda x, y: x ** y, "__rpow__": lambda x, y: y ** x,
          "__neg__": lambda x, y: -x, "__abs__": lambda x, y: abs(x)}


@pytest.mark.parametrize("dunder", sorted(_TORCH))
def test_a_bound_operators_gradients_match_torch_and_finite_differences(dunder):
    by_operator, _ = _calls(dunder, *_DIRECT[dunder])
    _, grads = _through(by_operator, X, Y)
    xt = torch.tensor(X, requires_grad=True)
    yt = torch.tensor(Y, requires_grad=True)
    _TORCH[dunder](xt, yt).sum().backward()
    np.testing.assert_allclose(grads[0], xt.grad.numpy(), rtol=1e-12)
    unary = _DIRECT[dunder][1] is None
    assert (grads[1] is None) == unary
    if not unary:
        np.testing.assert_allclose(grads[1], yt.grad.numpy(), rtol=1e-12)
    f = lambda x: by_operator(xg.asarray(x), xg.asarray(Y)).numpy().sum()   # noqa: E731
    fd = [(f(X + H * e) - f(X - H * e)) / (2 * H) for e in np.eye(len(X))]
    np.testing.assert_allclose(grads[0], fd, rtol=1e-6)


def test_operators_with_python_scalars_and_numpy_arrays_on_either_side():
    x = xg.asarray(X)
    with xg.GradientTape() as tape:
        tape.watch(x)
        y = (2.0 * x - 1) / 3 + X * x - x ** 2 + 2 ** x
    expected = (2.0 * X - 1) / 3 + X * X - X ** 2 + 2 ** X
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-15)
    g = tape.gradient(y, x).numpy()
    np.testing.assert_allclose(g, 2.0 / 3 + X - 2 * X + np.log(2) * 2 ** X, rtol=1e-12)


def test_operators_with_their_own_argument_handling_are_left_alone():
    """matmul checks its operands itself (1-D operands, errors naming shapes): ``@`` still
    goes through ``xg.matmul``."""
    assert "__matmul__" not in _DIRECT
    a = xg.asarray(np.ones((2, 3)))
    with pytest.raises(ValueError, match="matmul"):
        a @ a


@pytest.mark.parametrize("dtype", ["float32", "float64", "complex128"])
@pytest.mark.parametrize("shape", [(), (3,), (2, 3)])
def test_the_default_seed_is_ones_of_the_targets_shape_and_dtype(dtype, shape):
    x = xg.asarray(np.full(shape, 0.5, dtype=dtype))
    with xg.GradientTape() as tape:
        tape.watch(x)
        y = x * 3.0
    g = tape.gradient(y, x)
    assert g.dtype == y.dtype and g.shape == shape
    np.testing.assert_array_equal(g.numpy(), np.full(shape, 3.0, dtype=dtype))


def _scaled(xp, *arrays, scale=1.0):
    out = arrays[0] * scale
    for a in arrays[1:]:
        out = out * a
    return out


def _scaled_vjp(i, xp, g, ans, *arrays, scale=1.0):
    others = scale
    for j, a in enumerate(arrays):
        if j != i:
            others = others * a
    return g * others


_PRODUCT = Primitive("test_fast_paths_product", _scaled, Each(_scaled_vjp))


@pytest.mark.parametrize("n", [1, 2, 3])
@pytest.mark.parametrize("params", [{}, {"scale": 2.5}])
def test_forward_and_rules_with_and_without_keywords(n, params):
    """One, two and three inputs, with and without keyword parameters: the plain calls and the
    general ones give the same value and the product rule's gradients."""
    rng = np.random.default_rng(n)
    arrays = [rng.uniform(0.5, 2.0, 4) for _ in range(n)]
    xs = [xg.asarray(a) for a in arrays]
    with xg.GradientTape() as tape:
        tape.watch(xs)
        y = apply(_PRODUCT, *xs, **params)
        total = xg.sum(y)
    scale = params.get("scale", 1.0)
    np.testing.assert_allclose(y.numpy(), scale * np.prod(arrays, axis=0), rtol=1e-15)
    grads = tape.gradient(total, xs)
    for i, g in enumerate(grads):
        others = scale * np.prod([a for j, a in enumerate(arrays) if j != i], axis=0)
        np.testing.assert_allclose(g.numpy(), others, rtol=1e-14)


def test_apply_and_record_take_every_input_form_the_hot_paths_skip():
    """apply's and _record's spelled-out paths cover a plain Tensor with a Tensor or a Python
    scalar; the others (no input, a scalar first, a NumPy array, a Variable, three inputs)
    take the general ones, with the same gradients."""
    zero = Primitive("test_fast_paths_no_input", lambda xp: xp.ones(2),
                     joint=lambda xp, g, ans, needs: ())
    x = xg.asarray(X)
    v = xg.Variable(Y)
    with xg.GradientTape(persistent=True) as tape:
        tape.watch(x)
        assert apply(zero).tolist() == [1.0, 1.0]       # recorded on nothing, no error
        a = 2.0 * x                                      # a scalar first
        b = x * Y                                        # a NumPy array second
        c = x * v                                        # a Variable, watched on access
        d = xg.where(x > 1.0, x, 3.0 * x)                # three inputs
        total = xg.sum(a + b + c + d)
    gx, gv = tape.gradient(total, [x, v])
    np.testing.assert_allclose(gx.numpy(), 2.0 + Y + Y + np.where(X > 1.0, 1.0, 3.0))
    np.testing.assert_allclose(gv.numpy(), X)



def _recorded(program, x):
    """The nodes ``program(x)`` records, keys renumbered by first appearance."""
    with xg.GradientTape() as tape:
        tape.watch(x)
        program(x)
    numbers = {}

    def number(k):
        return numbers.setdefault(k, len(numbers) + 1) if k else 0
    return [(node[:3] + (number(node[3]), tuple(number(k) for k in node_keys(node)))
             + ([None if r is None else np.asarray(r).tolist() for r in node_inputs(node)],
                None if node[5] is None else node[5].tolist(), node[6] is None)
             + node[7:NODE_HEAD])
            for node in tape._nodes]


def _chain(x):
    y = x * 1.0
    for op in (xg.sin, xg.tanh, xg.exp, xg.negative, lambda v: xg.sum(v, axis=0)):
        y = op(y * 1.5 + 0.1) / 2.0
        y = 0.5 * y - 1.0
    return y + xg.sum(x * 2.0)      # a full sum: recorded without its default keywords


@pytest.mark.parametrize("backend", ["numpy", "numba"])
@pytest.mark.parametrize("size", [4, 1000])     # kept whole, and past what the tape keeps whole
def test_the_one_input_record_path_makes_the_general_paths_node(monkeypatch, backend, size):
    """``_record_one`` (apply's hot path: one Tensor, maybe a Python scalar or keywords (the
    chain's sum), one tape) appends the nodes the general ``_record`` appends."""
    x = xg.asarray(np.linspace(0.1, 0.9, size, dtype=np.float32), backend=backend)
    hot = _recorded(_chain, x)
    assert any(entry[9] for entry in hot)       # a node's keywords (the sum's) on this path
    record = xg.GradientTape._record

    def through_the_general_path(self, prim, x, raws, out, saved, kern, scalar=None,
                                 params=None):
        args = (x,) if scalar is None else (x, scalar)
        return record(self, prim, args, raws, out, params or {}, saved, kern, False)
    monkeypatch.setattr(xg.GradientTape, "_record_one", through_the_general_path)
    assert _recorded(_chain, x) == hot



def _pairs(w, frozen, m_w):
    """A program of two-input nodes of every kind ``_record_two`` takes: a watched Tensor with
    itself, with a Tensor off the tape, with trainable Variables (watched on access, then
    known to the tape) and with a Variable that is not trainable."""
    def program(x):
        off_tape = xg.ones_like(x) * 3.0
        y = x * x + x * off_tape
        y = y - w
        y = y * w + off_tape * x + off_tape * w      # the last: only w wants a gradient
        y = y / frozen
        return xg.sum(xg.reshape(y, (-1, 2)) @ m_w)
    return program


@pytest.mark.parametrize("backend", ["numpy", "numba"])
@pytest.mark.parametrize("size", [4, 1000])     # kept whole, and past what the tape keeps whole
def test_the_two_input_record_path_makes_the_general_paths_node(monkeypatch, backend, size):
    """``_record_two`` (apply's path for a Tensor and a Tensor or Variable of its backend, one
    tape) appends the nodes the general ``_record`` appends."""
    x = xg.asarray(np.linspace(0.1, 0.9, size, dtype=np.float32), backend=backend)
    program = _pairs(xg.Variable(xg.ones_like(x) * 0.5),
                     xg.Variable(xg.ones_like(x) * 2.0, trainable=False),
                     xg.Variable(xg.ones((2, 2), dtype=x.dtype, backend=backend)))
    hot = _recorded(program, x)
    assert sum(node[11] is not None for node in hot) == 4     # w three times, the product
    record = xg.GradientTape._record

    def through_the_general_path(self, prim, a, b, raws, out, saved, kern):
        return record(self, prim, (a, b), raws, out, {}, saved, kern, False)
    monkeypatch.setattr(xg.GradientTape, "_record_two", through_the_general_path)
    assert _recorded(program, x) == hot
