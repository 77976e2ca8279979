"""Bad input gets a clear exception whose message names what was wrong."""
from __future__ import annotations

import inspect
import re

import pytest

import xpgrad as xg

X = xg.ones((2, 3))


@pytest.mark.parametrize("call, match", [
    (lambda: X @ xg.ones((4, 2)),
     r"matmul: shapes \(2, 3\) and \(4, 2\) do not align: the last axis of x1 has 3 entries "
     r"but x2's contraction axis has 4"),
    (lambda: xg.matmul(X, xg.ones(4)), r"matmul: shapes \(2, 3\) and \(4,\) do not align"),
    (lambda: xg.ones((2, 2, 3)) @ xg.ones((3, 3, 2)),
     r"batch dimensions of \(2, 2, 3\) and \(3, 3, 2\) do not broadcast"),
    (lambda: xg.matmul(X, 2.0), "0-d"),
    (lambda: xg.tensordot(X, xg.ones((2, 3)), axes=1),
     r"tensordot: axes \[1\] of \(2, 3\) do not match axes \[0\] of \(2, 3\)"),
], ids=["matmul_2d", "matmul_1d", "matmul_batch", "matmul_scalar", "tensordot"])
def test_matmul_shape_mismatch(call, match):
    with pytest.raises(ValueError, match=match):
        call()


@pytest.mark.parametrize("op", ["add", "subtract", "multiply", "divide", "pow", "maximum",
                                "minimum", "logaddexp"])
def test_broadcast_mismatch_names_op_and_shapes(op):
    with pytest.raises(ValueError, match=rf"^{op}: .*shapes \(2, 3\), \(4,\).*broadcast"):
        getattr(xg, op)(X, xg.ones(4))


def test_broadcast_mismatch_in_operators_where_and_broadcast_to():
    with pytest.raises(ValueError, match=r"add: .*\(2, 3\), \(2,\)"):
        X + xg.ones(2)
    with pytest.raises(ValueError, match=r"where: .*\(2, 3\), \(2, 3\), \(4,\)"):
        xg.where(X > 0, X, xg.ones(4))
    with pytest.raises(ValueError, match=r"shapes \(2, 3\), \(3, 3\) do not broadcast"):
        xg.broadcast_to(X, (3, 3))
    with pytest.raises(ValueError, match=r"vecdot: .*\(2, 3\).*\(4,\)"):
        xg.vecdot(X, xg.ones(4))


@pytest.mark.parametrize("dtype", [xg.int32, xg.int64, xg.bool])
def test_watching_a_non_float_tensor(dtype):
    with xg.GradientTape() as tape:
        with pytest.raises(ValueError, match=f"cannot watch a tensor of dtype {dtype}.*"
                                             "floating-point"):
            tape.watch(xg.asarray([1, 0], dtype=dtype))


def test_watching_and_differentiating_non_tensors():
    with xg.GradientTape() as tape:
        with pytest.raises(TypeError, match="watch.. takes Tensors, got float"):
            tape.watch(3.0)
        x = xg.asarray(1.0)
        tape.watch(x)
        y = x * 2.0
    with pytest.raises(TypeError,
                       match=r"sources must be Tensors, got float at sources\[0\]\[1\]"):
        tape.gradient(y, [[x, 2.0]])        # a nested list is TensorFlow's nested structure
    with pytest.raises(TypeError, match="target must be a Tensor, got float"):
        tape.gradient(2.0, x)


def test_wrong_shaped_output_gradients():
    x = xg.ones((2, 3))
    with xg.GradientTape() as tape:
        tape.watch(x)
        y = x * 2.0
    with pytest.raises(ValueError, match=r"output_gradients has shape \(3, 2\) but the target "
                                         r"has shape \(2, 3\)"):
        tape.gradient(y, x, output_gradients=xg.ones((3, 2)))


def test_unknown_backend_name():
    with pytest.raises(xg.UnknownBackendError, match="unknown backend 'tpu'; known backends"):
        xg.zeros(2, backend="tpu")


def test_mixed_backends(clean_backends):
    from xpgrad.backends.numpy import NumpyBackend

    class Other(NumpyBackend):
        name = "other"

    xg.register_backend("other", Other)
    with pytest.raises(xg.MixedBackendError, match=f"backends '{X.backend.name}' and 'other'"):
        xg.multiply(X, xg.ones((2, 3), backend="other"))


@pytest.mark.parametrize("call", [
    lambda: xg.sum(X, axis=2), lambda: xg.mean(X, axis=-3), lambda: xg.max(X, axis=(0, 5)),
    lambda: xg.prod(X, axis=2), lambda: xg.var(X, axis=2), lambda: xg.std(X, axis=-3),
    lambda: xg.logsumexp(X, axis=2), lambda: xg.cumulative_sum(X, axis=2),
    lambda: xg.argmax(X, axis=2), lambda: xg.nn.softmax(X, axis=2),
    lambda: xg.nn.log_softmax(X, axis=-3), lambda: xg.concat([X, X], axis=2),
    lambda: xg.stack([X, X], axis=3), lambda: xg.expand_dims(X, axis=3),
    lambda: xg.squeeze(X, axis=2), lambda: xg.flip(X, axis=2),
    lambda: xg.take(X, xg.asarray([0]), axis=2), lambda: xg.moveaxis(X, 0, 2),
    lambda: xg.permute_dims(X, (0, 2)), lambda: xg.unstack(X, axis=2),
    lambda: xg.vecdot(X, X, axis=2), lambda: xg.any(X, axis=2), lambda: xg.nanmean(X, axis=2),
    lambda: xg.sort(X, axis=2), lambda: xg.argsort(X, axis=-3),
    lambda: xg.count_nonzero(X, axis=2), lambda: xg.linalg.vector_norm(X, axis=2),
    lambda: X.sum(axis=2), lambda: X.mean(2),
], ids=["sum", "mean", "max", "prod", "var", "std", "logsumexp", "cumulative_sum", "argmax",
        "softmax", "log_softmax", "concat", "stack", "expand_dims", "squeeze", "flip", "take",
        "moveaxis", "permute_dims", "unstack", "vecdot", "any", "nanmean", "sort", "argsort",
        "count_nonzero", "vector_norm", "sum-method", "mean-method"])
def test_out_of_range_axis_names_the_function(call, request):
    """A model's traceback ends in the library: the message says which function refused."""
    name = request.node.callspec.id.removesuffix("-method")
    with pytest.raises(ValueError, match=rf"^{name}: axis -?\d is out of range for a tensor "
                                         r"with \d dimensions"):
        call()


def test_bad_axis_values():
    with pytest.raises(ValueError, match=r"repeated axis in \(0, -2\)"):
        xg.sum(X, axis=(0, -2))
    with pytest.raises(TypeError, match="axis must be None, an int or a tuple of ints, got 1.5"):
        xg.sum(X, axis=1.5)
    with pytest.raises(TypeError, match="axis must be an int, got str"):
        xg.nn.softmax(X, axis="last")


@pytest.mark.parametrize("shape, match", [
    ((4, -1), r"^reshape: cannot reshape a tensor of shape \(2, 3\) \(6 elements\) into shape \(4, -1\)"),
    ((5,), r"into shape \(5,\)"),
    ((-1, -1), r"into shape \(-1, -1\)"),
    ((-2, -3), r"into shape \(-2, -3\)"),
])
def test_bad_reshape(shape, match):
    with pytest.raises(ValueError, match=match):
        xg.reshape(X, shape)


def test_other_shape_errors():
    with pytest.raises(ValueError, match=r"concat: shapes \(2, 3\), \(3, 2\) differ outside "
                                         r"axis 0"):
        xg.concat([X, xg.ones((3, 2))])
    with pytest.raises(ValueError, match=r"stack needs tensors of one shape, got \[\(2, 3\), "
                                         r"\(3, 2\)\]"):
        xg.stack([X, xg.ones((3, 2))])
    with pytest.raises(ValueError, match=r"cannot squeeze axis 0 of shape \(2, 3\)"):
        xg.squeeze(X, axis=0)
    with pytest.raises(ValueError, match=r"axes \(0, 0\) is not a permutation"):
        xg.permute_dims(X, (0, 0))
    with pytest.raises(ValueError, match=".T needs a 2-D tensor, got 3-D"):
        xg.ones((2, 2, 2)).T
    with pytest.raises(ValueError, match="matrix_transpose needs at least 2 dimensions, got 1"):
        xg.matrix_transpose(xg.ones(3))
    with pytest.raises(ValueError, match="cumulative_sum needs axis= for a 2-D tensor"):
        xg.cumulative_sum(X)
    with pytest.raises(ValueError, match="take needs axis= for a 2-D tensor"):
        xg.take(X, xg.asarray([0]))
    with pytest.raises(ValueError, match="concat needs at least one tensor"):
        xg.concat([])


def test_bad_indices():
    with pytest.raises(IndexError, match=r"index 5 is invalid for a tensor of shape \(2, 3\)"):
        X[5]
    with pytest.raises(IndexError, match=r"shape \(2, 3\).*too many indices"):
        X[0, 0, 0]
    with pytest.raises(IndexError, match=r"shape \(2, 3\).*boolean index did not match"):
        X[xg.asarray([True, False, True])]
    with pytest.raises(IndexError, match="integer or boolean, got float32"):
        X[xg.asarray([0.0])]
    with pytest.raises(IndexError, match="take needs integer indices, got float32"):
        xg.take(X, xg.asarray([0.0]), axis=0)
    with pytest.raises(IndexError, match=r"shape \(2, 3\).*index 7 is out of bounds"):
        xg.take(X, xg.asarray([7]), axis=1)


def test_bad_dtypes():
    with pytest.raises(TypeError, match="unsupported dtype 'float16'; expected one of"):
        xg.astype(X, "float16")
    with pytest.raises(TypeError, match="obj has dtype float16, which xpgrad does not support"):
        import numpy as np

        xg.asarray(np.zeros(2, dtype=np.float16))


@pytest.mark.parametrize("name", ["argmax", "argmin"])
def test_arg_extremum_over_a_nonempty_axis_of_an_empty_tensor(name):
    # an empty result, as NumPy, PyTorch and array-api-strict give (SciPy's Rotation of zero
    # rotations takes argmax(quat, axis=1) of shape (0, 4)); an empty axis has no answer
    torch = pytest.importorskip("torch")
    x = xg.zeros((0, 4, 3))
    for axis, keepdims in ((1, False), (-1, True), (2, False)):
        got = getattr(xg, name)(x, axis=axis, keepdims=keepdims)
        expected = getattr(torch, name)(torch.zeros(0, 4, 3), dim=axis, keepdim=keepdims)
        assert got.shape == tuple(expected.shape) and got.dtype == xg.int64
    with pytest.raises(ValueError, match="along axis 0 .* that axis has length 0"):
        getattr(xg, name)(x, axis=0)
    with pytest.raises(ValueError, match=r"empty tensor \(shape \(0, 4, 3\)\) has no answer"):
        getattr(xg, name)(x)


def _losses_with_a_reduction():
    out = []
    for name in sorted(dir(xg.losses)):
        fn = getattr(xg.losses, name)
        if name.startswith("_") or inspect.isclass(fn) or not callable(fn):
            continue
        parameters = inspect.signature(fn).parameters.values()
        if any(p.name == "reduction" for p in parameters):
            arrays = sum(p.kind is p.POSITIONAL_OR_KEYWORD and p.default is p.empty
                         for p in parameters)
            out.append(pytest.param(fn, max(arrays, 2), id=name))
    return out


@pytest.mark.parametrize("loss, arrays", _losses_with_a_reduction())
def test_a_loss_given_an_unknown_reduction_names_itself(loss, arrays, request):
    with pytest.raises(ValueError, match=rf"^{request.node.callspec.id}: reduction must be one "
                                         r"of \('mean', 'sum', 'none'.*got 'avg'"):
        loss(*[xg.ones((3, 3))] * arrays, reduction="avg")


@pytest.mark.parametrize("name, transform", [
    ("grad", lambda f: xg.grad(f, argnums=1)),
    ("value_and_grad", lambda f: xg.value_and_grad(f, argnums=1)),
    ("jacobian", lambda f: xg.jacobian(f, argnums=1)),
    ("hessian", lambda f: xg.hessian(f, argnums=1)),
    ("jacfwd", lambda f: xg.jacfwd(f, argnums=1)),
])
def test_an_argnums_past_the_arguments_names_the_transform(name, transform):
    with pytest.raises(ValueError, match=rf"^{name}: argnums 1 is out of range for 1 "
                                         "positional arguments"):
        transform(lambda x: xg.sum(x ** 2))(xg.asarray([1.0, 2.0]))


@pytest.mark.parametrize("name, transform", [
    ("jacrev", lambda f: xg.jacrev(f, argnums=1)),
    ("jacrev", lambda f: xg.jacrev(f, argnums=1, holomorphic=True)),
    ("hessian", lambda f: xg.hessian(f, argnums=1, holomorphic=True)),
], ids=["jacrev", "jacrev-holomorphic", "hessian-holomorphic"])
def test_an_argnums_past_the_arguments_of_a_complex_transform_names_it(name, transform):
    """jacrev said 'jacobian: argnums ...', its holomorphic form no name, and hessian's
    holomorphic form 'jacfwd: argnums ...'."""
    with pytest.raises(ValueError, match=rf"^{name}: argnums 1 is out of range for 1 "
                                         "positional arguments"):
        transform(lambda z: xg.sum(z * z))(xg.asarray([1.0 + 2.0j]))


@pytest.mark.parametrize("name, transform", [
    ("grad", lambda f, argnums: xg.grad(f, argnums=argnums)),
    ("value_and_grad", lambda f, argnums: xg.value_and_grad(f, argnums=argnums)),
    ("jacobian", lambda f, argnums: xg.jacobian(f, argnums=argnums)),
    ("hessian", lambda f, argnums: xg.hessian(f, argnums=argnums)),
    ("jacfwd", lambda f, argnums: xg.jacfwd(f, argnums=argnums)),
    ("jacrev", lambda f, argnums: xg.jacrev(f, argnums=argnums)),
    ("jacrev", lambda f, argnums: xg.jacrev(f, argnums=argnums, holomorphic=True)),
])
@pytest.mark.parametrize("argnums", ["a", 1.0, None, (0, "a"), True])
def test_an_argnums_not_of_ints_names_the_transform(name, transform, argnums):
    with pytest.raises(TypeError, match=rf"^{name}: argnums must be an int or a tuple of ints, "
                                        rf"got {re.escape(repr(argnums))}"):
        transform(lambda x: xg.sum(x * x), argnums)(xg.asarray([1.0 + 0.0j]))


@pytest.mark.parametrize("name, call", [
    ("grad", lambda x: xg.grad(lambda a: xg.sum(a * 1.0))(x)),
    ("jacobian", lambda x: xg.jacobian(lambda a: a * 1.0)(x)),
    ("jacfwd", lambda x: xg.jacfwd(lambda a: a * 1.0)(x)),
    ("jacrev", lambda x: xg.jacrev(lambda a: a * 1.0, holomorphic=True)(x)),
])
def test_an_integer_argument_names_the_transform_and_argnums(name, call):
    with pytest.raises(TypeError, match=rf"^{name}: argument 0 has dtype int64 and is "
                                        r"differentiated \(argnums=0\)"):
        call(xg.asarray([1, 2]))


@pytest.mark.parametrize("name, call", [
    ("vjp", lambda x: xg.vjp(lambda a: a * 1.0, x)),
    ("jvp", lambda x: xg.jvp(lambda a: a * 1.0, x, x)),
    ("linearize", lambda x: xg.linearize(lambda a: a * 1.0, x)),
    ("hvp", lambda x: xg.hvp(lambda a: xg.sum(a * 1.0), x, x)),
])
def test_an_integer_primal_names_the_transform_not_an_argnums_it_lacks(name, call):
    """vjp(f, ints) said 'argument 0 ... is differentiated (argnums=(0,))': vjp takes no
    argnums."""
    with pytest.raises(TypeError, match=rf"^{name}: primals\[0\] has dtype int64 and is "
                                        r"differentiated: only floating-point") as caught:
        call(xg.asarray([1, 2]))
    assert "argnums" not in str(caught.value)


def test_a_string_primal_of_vjp_names_vjp():
    with pytest.raises(TypeError, match=r"^vjp: primals\[0\] \(str 'abc'\) is not a tensor"):
        xg.vjp(lambda a: a, "abc")


@pytest.mark.parametrize("call, message", [
    (lambda: xg.vmap(lambda x: x, in_axes="a")(X), "in_axes must be an int or None"),
    (lambda: xg.vmap(lambda x: x, out_axes=[0.5])(X), r"out_axes\[0\] must be an int or None"),
    (lambda: xg.vmap(lambda x: x, in_axes=(0, 0))(X), "in_axes has 2 entries but the function "
                                                      "got 1 positional arguments"),
    (lambda: xg.vmap(lambda d: d["a"], in_axes=({"b": 0},))({"a": X}),
     r"in_axes\[0\] is a dict with keys \['b'\]"),
    (lambda: xg.vmap(lambda x: x, out_axes=(0, 0))(X), "out_axes is a tuple of 2 but"),
], ids=["in-axes-str", "out-axes-float", "in-axes-entries", "in-axes-keys", "out-axes-tuple"])
def test_a_bad_axis_spec_names_vmap(call, message):
    """vmap(f, in_axes="a") said 'in_axes must be ...' naming no function."""
    with pytest.raises((TypeError, ValueError), match=f"^vmap: {message}"):
        call()


@pytest.mark.parametrize("name, draw", [
    ("random", lambda rng, dtype: rng.random(3, dtype=dtype)),
    ("uniform", lambda rng, dtype: rng.uniform(size=3, dtype=dtype)),
    ("normal", lambda rng, dtype: rng.normal(size=3, dtype=dtype)),
    ("standard_normal", lambda rng, dtype: rng.standard_normal(3, dtype=dtype)),
])
@pytest.mark.parametrize("dtype, message", [
    (int, "dtype must be floating, got int64"), ("int32", "dtype must be floating, got int32"),
    ("abc", "dtype: unsupported dtype 'abc'")])
def test_a_generator_draw_with_a_bad_dtype_names_itself(name, draw, dtype, message):
    """rng.random(3, dtype=int) said 'dtype must be floating, got int64', naming no function."""
    with pytest.raises(TypeError, match=f"^{name}: {message}"):
        draw(xg.random.default_rng(0), dtype)


@pytest.mark.parametrize("dtype, message", [
    (float, "dtype must be an integer dtype, got float32"),
    ("abc", "dtype: unsupported dtype 'abc'")])
def test_integers_with_a_bad_dtype_names_itself(dtype, message):
    with pytest.raises(TypeError, match=f"^integers: {message}"):
        xg.random.default_rng(0).integers(0, 5, size=3, dtype=dtype)


@pytest.mark.parametrize("name, make", [
    ("zeros", lambda dtype: xg.zeros(3, dtype=dtype)),
    ("ones", lambda dtype: xg.ones(3, dtype=dtype)),
    ("empty", lambda dtype: xg.empty(3, dtype=dtype)),
    ("full", lambda dtype: xg.full(3, 1.0, dtype=dtype)),
    ("arange", lambda dtype: xg.arange(3, dtype=dtype)),
    ("linspace", lambda dtype: xg.linspace(0, 1, 3, dtype=dtype)),
    ("eye", lambda dtype: xg.eye(3, dtype=dtype)),
    ("zeros_like", lambda dtype: xg.zeros_like(X, dtype=dtype)),
    ("full_like", lambda dtype: xg.full_like(X, 2.0, dtype=dtype)),
    ("asarray", lambda dtype: xg.asarray([1.0], dtype=dtype)),
])
def test_a_creation_function_with_an_unknown_dtype_names_itself(name, make):
    """xg.zeros(3, dtype="abc") said 'dtype: unsupported dtype', naming no function."""
    with pytest.raises(TypeError, match=f"^{name}: dtype: unsupported dtype 'abc'"):
        make("abc")


def test_a_cotangent_of_the_wrong_shape_names_vjp_fn():
    """xg.vjp(f, x)[1](wrong) said 'output_gradients has shape (1,) ...', the tape's word."""
    _, vjp_fn = xg.vjp(lambda x: x ** 2, xg.asarray([1.0, 2.0]))
    with pytest.raises(ValueError, match=r"^vjp_fn: cotangent has shape \(1,\) but the output "
                                         r"there has shape \(2,\)"):
        vjp_fn(xg.asarray([1.0]))
    with pytest.raises(TypeError, match=r"^vjp_fn: cotangent \(str 'a'\)"):
        vjp_fn("a")


@pytest.mark.parametrize("labels, error, message", [
    ([0, 1, 3, 0], IndexError, "label 3 is out of range for 3 classes"),
    ([[0], [1], [2], [0]], ValueError, r"integer labels must have shape \(4,\)"),
    ([0.0, 1.0, 2.0, 0.0], TypeError, r"labels of shape \(4,\) look like class indices"),
])
@pytest.mark.parametrize("name, loss", [
    ("softmax_cross_entropy", lambda logits, labels: xg.losses.softmax_cross_entropy(
        logits, labels)),
    ("softmax_cross_entropy", lambda logits, labels: xg.losses.softmax_cross_entropy(
        logits, labels, label_smoothing=0.1)),
], ids=["plain", "smoothed"])
def test_bad_labels_name_the_loss(name, loss, labels, error, message):
    """softmax_cross_entropy(logits, [0, 1, 3, 0]) said 'label 3 is out of range for 3
    classes', naming no loss."""
    with pytest.raises(error, match=f"^{name}: {message}"):
        loss(xg.ones((4, 3)), xg.asarray(labels))


def test_nll_labels_of_floats_name_nll():
    with pytest.raises(TypeError, match="^nll: labels must be integer class indices"):
        xg.losses.nll(xg.ones((4, 3)), xg.asarray([0.0, 1.0, 2.0, 0.0]))
    with pytest.raises(IndexError, match="^nll: label 3 is out of range for 3 classes"):
        xg.losses.nll(xg.ones((4, 3)), xg.asarray([0, 1, 3, 0]), ignore_index=-100)


@pytest.mark.parametrize("family, arguments", [
    ("Normal", (0.0, 1.0)), ("Laplace", (0.0, 1.0)), ("Cauchy", (0.0, 1.0)),
    ("Gumbel", (0.0, 1.0)), ("HalfNormal", (1.0,)), ("HalfCauchy", (1.0,)),
])
def test_a_misspelt_keyword_of_a_distribution_names_the_family(family, arguments):
    """xg.distributions.Normal(0.0, 1.0, validate_arg=True) said 'LocationScale.__init__() got
    an unexpected keyword argument', naming a base class the user never wrote."""
    with pytest.raises(TypeError, match=f"^{family}\\(\\) got an unexpected keyword argument "
                                        "'validate_arg'"):
        getattr(xg.distributions, family)(*arguments, validate_arg=True)


@pytest.mark.parametrize("tangents, error, message", [
    ((), TypeError, r"^linearize: f_jvp takes one tangent per primal: 1, got 0$"),
    (([1.0, 2.0],), ValueError, r"^linearize: f_jvp: tangents\[0\] has shape \(2,\) but its "
                                r"primal has shape \(3,\)"),
    (("abc",), TypeError, r"^linearize: f_jvp: tangents\[0\] \(str 'abc'\) is not a tensor"),
])
def test_errors_of_linearizes_f_jvp_name_linearize(tangents, error, message):
    """They said 'f_jvp: ...', a name the user never wrote: the function linearize returned."""
    _, f_jvp = xg.linearize(lambda a: a * 2.0, xg.asarray([1.0, 2.0, 3.0]))
    with pytest.raises(error, match=message):
        f_jvp(*tangents)


@pytest.mark.parametrize("call, error, message", [
    (lambda: xg.full((2, 3), xg.asarray(1.0), dtype="abc"), TypeError,
     r"^full: dtype: unsupported dtype 'abc'"),
    (lambda: xg.full((2, 3), 1.0, dtype="abc"), TypeError, r"^full: dtype: unsupported dtype"),
    (lambda: xg.full((2, -1), xg.asarray(1.0)), ValueError,
     r"^full: shape must not have negative entries, got \(2, -1\)$"),
    (lambda: xg.full("ab", 1.0), TypeError, r"^full: shape must be an int or a sequence of ints"),
    (lambda: xg.zeros((2.5,)), TypeError, r"^zeros: shape must be an int or a sequence of ints"),
    (lambda: xg.ones((-1,)), ValueError, r"^ones: shape must not have negative entries"),
])
def test_creation_errors_name_the_function(call, error, message):
    """A Tensor fill_value took another path, whose dtype error said 'dtype: ...' without
    'full'; no creator's shape error named it."""
    with pytest.raises(error, match=message):
        call()


@pytest.mark.parametrize("name, where", [("softmax_cross_entropy", "xg.losses"),
                                         ("Conv2d", "xg.nn"), ("ndtri", "xg.special")])
def test_a_name_of_a_submodule_looked_up_on_xg_names_its_module(name, where):
    """``xg.softmax_cross_entropy`` was a bare AttributeError."""
    with pytest.raises(AttributeError, match=rf"no attribute '{name}': {where}\.{name}$"):
        getattr(xg, name)
    assert not hasattr(xg, name) and name not in dir(xg)


@pytest.mark.parametrize("make, message", [
    (lambda: xg.nn.Linear(3, 2, rgn=0), r"^Linear\(\) got an unexpected keyword argument 'rgn'; "
                                         r"did you mean rng=\?$"),
    (lambda: xg.nn.Conv2d(1, 2, 3, paddng=1), r"'paddng'; did you mean padding=\?$"),
    (lambda: xg.nn.Linear(3, 2, frobnicate=0), r"'frobnicate' \(xpgrad's Linear does not have "
                                                r"this option\)$"),
])
def test_a_misspelt_layer_keyword_names_the_one_meant(make, message):
    """``Linear(3, 2, rgn=0)`` said only that Linear does not have this option."""
    with pytest.raises(TypeError, match=message):
        make()
