"""``axis`` taken positionally, as NumPy, JAX and PyTorch users write it (``xg.sum(x, 0)``,
``xg.concat([a, b], 1)``): the same values and gradients as ``axis=`` -- eagerly, inside
``xg.function`` and inside ``xg.vmap`` -- and NumPy's (or PyTorch's) values; what follows
``axis`` stays keyword-only, and a third positional argument is a TypeError naming it."""
from __future__ import annotations

import inspect

import numpy as np
import pytest
import scipy.special
import torch

import xpgrad as xg
from xpgrad.testing import check_grads

RNG = np.random.default_rng(20261206)
X = RNG.permutation(np.linspace(-1.5, 2.0, 12)).reshape(3, 4)      # distinct: no ties
Y = RNG.standard_normal((3, 4))
B = RNG.standard_normal((4, 2))
TAKE = np.array([2, 0, 3])
ALONG = np.argsort(X, axis=1)[:, ::-1].copy()


def _t(a):
    return xg.asarray(a)


# name -> (inputs, positional call, keyword call, NumPy's (or torch's) positional call,
#          differentiable); the calls take the inputs as tensors (the reference as arrays)
CASES = {
    "sum": ([X], lambda x: xg.sum(x, 1), lambda x: xg.sum(x, axis=1),
            lambda a: np.sum(a, 1), True),
    "sum_tuple": ([X], lambda x: xg.sum(x, (0, 1)), lambda x: xg.sum(x, axis=(0, 1)),
                  lambda a: np.sum(a, (0, 1)), True),
    "prod": ([X], lambda x: xg.prod(x, 0), lambda x: xg.prod(x, axis=0),
             lambda a: np.prod(a, 0), True),
    "mean": ([X], lambda x: xg.mean(x, -1), lambda x: xg.mean(x, axis=-1),
             lambda a: np.mean(a, -1), True),
    "max": ([X], lambda x: xg.max(x, 1), lambda x: xg.max(x, axis=1),
            lambda a: np.max(a, 1), True),
    "min": ([X], lambda x: xg.min(x, 0), lambda x: xg.min(x, axis=0),
            lambda a: np.min(a, 0), True),
    "var": ([X], lambda x: xg.var(x, 1, correction=1), lambda x: xg.var(x, axis=1, correction=1),
            lambda a: np.var(a, 1, ddof=1), True),
    "std": ([X], lambda x: xg.std(x, 0), lambda x: xg.std(x, axis=0),
            lambda a: np.std(a, 0), True),
    "logsumexp": ([X], lambda x: xg.logsumexp(x, 1), lambda x: xg.logsumexp(x, axis=1),
                  lambda a: scipy.special.logsumexp(a, 1), True),
    "any": ([X], lambda x: xg.any(x > 1.0, 1), lambda x: xg.any(x > 1.0, axis=1),
            lambda a: np.any(a > 1.0, 1), False),
    "all": ([X], lambda x: xg.all(x > -1.0, 0), lambda x: xg.all(x > -1.0, axis=0),
            lambda a: np.all(a > -1.0, 0), False),
    "argmax": ([X], lambda x: xg.argmax(x, 1), lambda x: xg.argmax(x, axis=1),
               lambda a: np.argmax(a, 1), False),
    "argmin": ([X], lambda x: xg.argmin(x, 0), lambda x: xg.argmin(x, axis=0),
               lambda a: np.argmin(a, 0), False),
    "count_nonzero": ([X], lambda x: xg.count_nonzero(x > 0, 1),
                      lambda x: xg.count_nonzero(x > 0, axis=1),
                      lambda a: np.count_nonzero(a > 0, 1), False),
    "cumulative_sum": ([X], lambda x: xg.cumulative_sum(x, 1),
                       lambda x: xg.cumulative_sum(x, axis=1), lambda a: np.cumsum(a, 1), True),
    "cumulative_prod": ([X], lambda x: xg.cumulative_prod(x, 0),
                        lambda x: xg.cumulative_prod(x, axis=0), lambda a: np.cumprod(a, 0),
                        True),
    "diff": ([X], lambda x: xg.diff(x, 1, 0), lambda x: xg.diff(x, n=1, axis=0),
             lambda a: np.diff(a, 1, 0), True),
    "diff_n": ([X], lambda x: xg.diff(x, 2), lambda x: xg.diff(x, n=2),
               lambda a: np.diff(a, 2), True),
    "sort": ([X], lambda x: xg.sort(x, 0), lambda x: xg.sort(x, axis=0),
             lambda a: np.sort(a, 0), True),
    "argsort": ([X], lambda x: xg.argsort(x, 0), lambda x: xg.argsort(x, axis=0),
                lambda a: np.argsort(a, 0, kind="stable"), False),
    "topk": ([X], lambda x: xg.topk(x, 2, 0), lambda x: xg.topk(x, 2, axis=0),
             lambda a: tuple(t.numpy() for t in torch.topk(torch.from_numpy(a), 2, 0)), True),
    "flip": ([X], lambda x: xg.flip(x, 0), lambda x: xg.flip(x, axis=0),
             lambda a: np.flip(a, 0), True),
    "roll": ([X], lambda x: xg.roll(x, 1, 1), lambda x: xg.roll(x, 1, axis=1),
             lambda a: np.roll(a, 1, 1), True),
    "repeat": ([X], lambda x: xg.repeat(x, 2, 1), lambda x: xg.repeat(x, 2, axis=1),
               lambda a: np.repeat(a, 2, 1), True),
    "take": ([X], lambda x: xg.take(x, _t(TAKE), 1), lambda x: xg.take(x, _t(TAKE), axis=1),
             lambda a: np.take(a, TAKE, 1), True),
    "take_along_axis": ([X], lambda x: xg.take_along_axis(x, _t(ALONG), 1),
                        lambda x: xg.take_along_axis(x, _t(ALONG), axis=1),
                        lambda a: np.take_along_axis(a, ALONG, 1), True),
    "concat": ([X, Y], lambda a, b: xg.concat([a, b], 1), lambda a, b: xg.concat([a, b], axis=1),
               lambda a, b: np.concatenate([a, b], 1), True),
    "stack": ([X, Y], lambda a, b: xg.stack((a, b), 1), lambda a, b: xg.stack((a, b), axis=1),
              lambda a, b: np.stack((a, b), 1), True),
    "unstack": ([X], lambda x: xg.unstack(x, 1), lambda x: xg.unstack(x, axis=1),
                lambda a: tuple(t.numpy() for t in torch.unbind(torch.from_numpy(a), 1)), True),
    "vecdot": ([X, Y], lambda a, b: xg.vecdot(a, b, 0), lambda a, b: xg.vecdot(a, b, axis=0),
               lambda a, b: np.sum(a * b, 0), True),
    "linalg.vecdot": ([X, Y], lambda a, b: xg.linalg.vecdot(a, b, -2),
                      lambda a, b: xg.linalg.vecdot(a, b, axis=-2),
                      lambda a, b: np.sum(a * b, -2), True),
    "linalg.cross": ([X, Y], lambda a, b: xg.linalg.cross(a, b, -2),
                     lambda a, b: xg.linalg.cross(a, b, axis=-2),
                     lambda a, b: torch.cross(torch.from_numpy(a), torch.from_numpy(b),
                                              -2).numpy(), True),
    "tensordot": ([X, B], lambda a, b: xg.tensordot(a, b, 1),
                  lambda a, b: xg.tensordot(a, b, axes=1), lambda a, b: np.tensordot(a, b, 1),
                  True),
    # NumPy's, JAX's and torch's order: n before axis, s before axes
    "fft.fft": ([X], lambda x: xg.fft.fft(x, 6, 0), lambda x: xg.fft.fft(x, n=6, axis=0),
                lambda a: np.fft.fft(a, 6, 0), True),
    "fft.irfft": ([X], lambda x: xg.fft.irfft(x, 5, 1), lambda x: xg.fft.irfft(x, n=5, axis=1),
                  lambda a: np.fft.irfft(a, 5, 1), True),
    "fft.rfftn": ([X], lambda x: xg.fft.rfftn(x, (2, 4), (1, 0)),
                  lambda x: xg.fft.rfftn(x, s=(2, 4), axes=(1, 0)),
                  lambda a: np.fft.rfftn(a, (2, 4), (1, 0)), True),
    "fft.fftshift": ([X], lambda x: xg.fft.fftshift(x, 0), lambda x: xg.fft.fftshift(x, axes=0),
                     lambda a: np.fft.fftshift(a, 0), True),
}
DIFFERENTIABLE = [name for name, case in CASES.items() if case[4]]


def _leaves(out):
    return list(out) if isinstance(out, (tuple, list)) else [out]


def _weighted_loss(call, n_inputs):
    """``sum(out * w)`` over the floating outputs of ``call``, fixed weights per output (of
    the real and imaginary parts of a complex one)."""
    def loss(*tensors):
        total = 0.0
        for i, leaf in enumerate(_leaves(call(*tensors[:n_inputs]))):
            w = np.cos(np.arange(leaf.size, dtype=np.float64) + i).reshape(leaf.shape)
            if leaf.dtype == xg.float64:
                total = total + xg.sum(leaf * xg.asarray(w))
            elif leaf.dtype == xg.complex128:
                total = total + xg.sum(xg.real(leaf) * xg.asarray(w) +
                                       xg.imag(leaf) * xg.asarray(np.sin(w)))
        return total
    return loss


def _assert_same(ours, want, exact=False):
    ours, want = _leaves(ours), _leaves(want)
    assert len(ours) == len(want)
    for o, w in zip(ours, want):
        o = o.numpy() if hasattr(o, "numpy") else np.asarray(o)
        assert o.shape == np.shape(w)
        if exact or o.dtype.kind in "biu":
            np.testing.assert_array_equal(o, w)
        else:
            np.testing.assert_allclose(o, w, rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("name", CASES)
def test_positional_axis_is_the_keyword_and_numpys(name):
    inputs, pos, kw, ref, _ = CASES[name]
    tensors = [_t(a) for a in inputs]
    _assert_same(pos(*tensors), [o.numpy() for o in _leaves(kw(*tensors))], exact=True)
    _assert_same(pos(*tensors), ref(*inputs))


@pytest.mark.parametrize("name", DIFFERENTIABLE)
def test_positional_axis_gradients_are_the_keywords_and_finite_differences(name):
    inputs, pos, kw, _, _ = CASES[name]
    n = len(inputs)
    argnums = tuple(range(n))
    tensors = [_t(a) for a in inputs]
    got = xg.grad(_weighted_loss(pos, n), argnums=argnums)(*tensors)
    want = xg.grad(_weighted_loss(kw, n), argnums=argnums)(*tensors)
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g.numpy(), w.numpy())
    check_grads(_weighted_loss(pos, n), tensors)


# torch's positional dim for the same functions: values and gradients
TORCH = {
    "sum": lambda x: torch.sum(x, 1), "prod": lambda x: torch.prod(x, 0),
    "mean": lambda x: torch.mean(x, -1), "max": lambda x: torch.amax(x, 1),
    "var": lambda x: torch.var(x, 1), "logsumexp": lambda x: torch.logsumexp(x, 1),
    "cumulative_sum": lambda x: torch.cumsum(x, 1),
    "cumulative_prod": lambda x: torch.cumprod(x, 0),
    "diff": lambda x: torch.diff(x, 1, 0), "sort": lambda x: torch.sort(x, 0).values,
    "topk": lambda x: torch.topk(x, 2, 0).values, "flip": lambda x: torch.flip(x, (0,)),
    "roll": lambda x: torch.roll(x, 1, 1),
    "repeat": lambda x: torch.repeat_interleave(x, 2, 1),
    "take_along_axis": lambda x: torch.take_along_dim(x, torch.from_numpy(ALONG), 1),
    "concat": lambda a, b: torch.cat([a, b], 1), "stack": lambda a, b: torch.stack((a, b), 1),
    "linalg.cross": lambda a, b: torch.cross(a, b, -2),
    "tensordot": lambda a, b: torch.tensordot(a, b, 1),
}


@pytest.mark.parametrize("name", TORCH)
def test_positional_axis_gradients_match_pytorchs_positional_dim(name):
    inputs, pos, _, _, _ = CASES[name]
    n = len(inputs)
    ours = xg.grad(_weighted_loss(lambda *t: _leaves(pos(*t))[0], n),
                   argnums=tuple(range(n)))(*[_t(a) for a in inputs])
    theirs_in = [torch.tensor(a, requires_grad=True) for a in inputs]
    out = TORCH[name](*theirs_in)
    w = torch.from_numpy(np.cos(np.arange(out.numel(), dtype=np.float64)).reshape(out.shape))
    (out * w).sum().backward()
    for g, t in zip(ours, theirs_in):
        np.testing.assert_allclose(g.numpy(), t.grad.numpy(), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", CASES)
def test_positional_axis_inside_function(name):
    inputs, pos, kw, _, differentiable = CASES[name]
    n = len(inputs)
    tensors = [_t(a) for a in inputs]
    traced = xg.function(pos, warmup=0)
    for _ in range(3):          # trace, then replay
        _assert_same(traced(*tensors), [o.numpy() for o in _leaves(kw(*tensors))])
    assert traced.trace_count == 1
    if differentiable:
        argnums = tuple(range(n))
        traced_grad = xg.function(xg.grad(_weighted_loss(pos, n), argnums=argnums), warmup=0)
        want = xg.grad(_weighted_loss(kw, n), argnums=argnums)(*tensors)
        for _ in range(2):
            _assert_same(traced_grad(*tensors), [w.numpy() for w in want])


@pytest.mark.parametrize("name", CASES)
def test_positional_axis_inside_vmap(name):
    """Over a batch of 2 along a new leading axis: the positional axis is an example's."""
    inputs, pos, kw, _, differentiable = CASES[name]
    n = len(inputs)
    batches = [np.stack([a, a[::-1] * 0.5 + 0.25]) for a in inputs]
    mapped = xg.vmap(pos)(*[_t(b) for b in batches])
    examples = [kw(*[_t(b[i]) for b in batches]) for i in range(2)]
    want = [np.stack([_leaves(e)[k].numpy() for e in examples])
            for k in range(len(_leaves(examples[0])))]
    _assert_same(mapped, want)
    if differentiable:
        argnums = tuple(range(n))
        got = xg.vmap(xg.grad(_weighted_loss(pos, n), argnums=argnums))(
            *[_t(b) for b in batches])
        per_example = [xg.grad(_weighted_loss(kw, n), argnums=argnums)(
            *[_t(b[i]) for b in batches]) for i in range(2)]
        _assert_same(got, [np.stack([p[k].numpy() for p in per_example]) for k in range(n)])


# -- what stays keyword-only ---------------------------------------------------------------------

def test_keyword_only_parameters_after_a_positional_axis():
    x = _t(X)
    assert xg.sum(x, 0, keepdims=True).shape == (1, 4)
    assert xg.sum(x, 0, dtype=xg.float32).dtype == xg.float32
    np.testing.assert_allclose(xg.var(x, 1, ddof=1).numpy(), np.var(X, 1, ddof=1), rtol=1e-13)
    assert xg.sort(x, 1, descending=True).numpy()[:, 0].tolist() == X.max(1).tolist()
    assert xg.cumulative_sum(x, 1, include_initial=True).shape == (3, 5)
    assert xg.argmax(x, 1, keepdims=True).shape == (3, 1)


@pytest.mark.parametrize("call, names", [
    (lambda x: xg.sum(x, 0, None), "dtype= and keepdims="),
    (lambda x: xg.prod(x, 0, xg.float64), "dtype= and keepdims="),
    (lambda x: xg.mean(x, 0, True), "keepdims="),          # torch.mean(x, 0, True)
    (lambda x: xg.max(x, 1, True), "keepdims="),
    (lambda x: xg.any(x, 1, True), "keepdims="),
    (lambda x: xg.argmax(x, 1, True), "keepdims="),
    (lambda x: xg.var(x, 1, False), "correction=, keepdims= and ddof="),  # torch's unbiased
    (lambda x: xg.std(x, 1, None), "correction=, keepdims= and ddof="),   # NumPy's dtype
    (lambda x: xg.logsumexp(x, 1, x), "keepdims=, b=, return_sign= and where="),  # SciPy's b
    (lambda x: xg.cumulative_sum(x, 1, None), "dtype= and include_initial="),
    (lambda x: xg.cumulative_prod(x, 1, None), "dtype= and include_initial="),
    (lambda x: xg.sort(x, 0, True), "descending= and stable="),       # torch.sort(x, 0, True)
    (lambda x: xg.argsort(x, 0, True), "descending= and stable="),
], ids=["sum", "prod", "mean", "max", "any", "argmax", "var", "std", "logsumexp",
        "cumulative_sum", "cumulative_prod", "sort", "argsort"])
def test_a_third_positional_argument_names_the_keyword_only_ones(call, names):
    with pytest.raises(TypeError, match=r"^\w+\(\) takes at most 2 positional arguments \(x, "
                                        rf"axis\) but 3 were given; {names} (is|are) "
                                        r"keyword-only$"):
        call(_t(X))


def test_topk_third_positional_is_the_axis_and_a_fourth_is_refused():
    x = _t(X)
    with pytest.raises(TypeError, match=r"^topk\(\) takes at most 3 positional arguments \(x, "
                                        r"k, axis\) but 4 were given; largest= and sorted= "
                                        r"are keyword-only$"):
        xg.topk(x, 2, 0, False)                 # torch.topk(x, 2, 0, False): write largest=


@pytest.mark.parametrize("call", [
    lambda x: xg.flip(x, 0, 1), lambda x: xg.concat([x, x], 0, 1),
    lambda x: xg.take(x, _t(TAKE), 1, "clip"), lambda x: xg.diff(x, 1, 0, None),
])
def test_more_positional_arguments_than_axis_are_pythons_type_error(call):
    with pytest.raises(TypeError, match=r"takes from \d to \d positional arguments but \d+ "
                                        r"were given"):
        call(_t(X))


@pytest.mark.parametrize("call, message", [
    (lambda x: xg.sum(x, 1.0), "axis must be None, an int or a tuple of ints, got 1.0"),
    (lambda x: xg.mean(x, True), "axis must be an int, got bool"),
    (lambda x: xg.sort(x, "0"), "axis must be an int, got str"),
    (lambda x: xg.concat([x, x], 0.5), "axis must be an int, got float"),
    (lambda x: xg.max(x, x), r"max: axis must be None, an int or a tuple of ints, got Tensor; "
                             r".*is xg\.maximum\(a, b\)"),
    (lambda x: xg.min(x, 2.5), r"min: .*got float; .*is xg\.minimum\(a, b\)"),
])
def test_a_positional_axis_of_the_wrong_type_is_a_type_error_naming_it(call, message):
    with pytest.raises(TypeError, match=message):
        call(_t(X))


def test_a_positional_axis_out_of_range_is_a_value_error_naming_it():
    with pytest.raises(ValueError, match="axis 2 is out of range for a tensor with 2 "
                                         "dimensions"):
        xg.sum(_t(X), 2)


@pytest.mark.parametrize("name", ["sum", "prod", "mean", "max", "min", "var", "std", "any",
                                  "all", "argmax", "argmin", "logsumexp", "cumulative_sum",
                                  "cumulative_prod"])
@pytest.mark.parametrize("torch_name, ours", [("dim", "axis="), ("keepdim", "keepdims=")])
def test_torch_keyword_hints_still_fire(name, torch_name, ours):
    with pytest.raises(TypeError, match=rf"^{name}\(\) got an unexpected keyword argument "
                                        rf"'{torch_name}'; xpgrad uses the array API's names: "
                                        rf"{ours} for {torch_name}="):
        getattr(xg, name)(_t(X), **{torch_name: 1})
    with pytest.raises(TypeError, match=rf"{ours} for {torch_name}="):
        getattr(xg, name)(_t(X), 0, **{torch_name: 1})


@pytest.mark.parametrize("name", ["concat", "stack"])
def test_torch_dim_hint_still_fires_on_joins(name):
    with pytest.raises(TypeError, match="axis= for dim="):
        getattr(xg, name)([_t(X), _t(Y)], dim=1)


def test_numpy_functions_on_tensors_keep_their_positional_axis():
    t = _t(X)
    for np_fn, ours in ((np.sum, xg.sum), (np.max, xg.max), (np.mean, xg.mean),
                        (np.argmax, xg.argmax), (np.cumsum, xg.cumulative_sum)):
        out = np_fn(t, 1)
        assert isinstance(out, xg.Tensor)
        np.testing.assert_array_equal(out.numpy(), ours(t, 1).numpy())
        np.testing.assert_allclose(out.numpy(), np_fn(X, 1), rtol=1e-13)


def test_tensor_methods_keep_their_positional_axis():
    t = _t(X)
    for method in ("sum", "mean", "max", "min", "prod", "argmax", "any"):
        np.testing.assert_array_equal(getattr(t, method)(1).numpy(),
                                      getattr(xg, method)(t, 1).numpy())


SIGNATURES = {"sum": xg.sum, "prod": xg.prod, "mean": xg.mean, "max": xg.max, "min": xg.min,
              "var": xg.var, "std": xg.std, "any": xg.any, "all": xg.all,
              "argmax": xg.argmax, "argmin": xg.argmin, "count_nonzero": xg.count_nonzero,
              "logsumexp": xg.logsumexp, "cumulative_sum": xg.cumulative_sum,
              "cumulative_prod": xg.cumulative_prod, "diff": xg.diff, "sort": xg.sort,
              "argsort": xg.argsort, "topk": xg.topk, "flip": xg.flip, "roll": xg.roll,
              "repeat": xg.repeat, "take": xg.take, "take_along_axis": xg.take_along_axis,
              "concat": xg.concat, "stack": xg.stack, "unstack": xg.unstack,
              "vecdot": xg.vecdot, "linalg.vecdot": xg.linalg.vecdot,
              "linalg.cross": xg.linalg.cross, "tensordot": xg.tensordot,
              **{f"fft.{name}": getattr(xg.fft, name) for name in (
                  "fft", "ifft", "rfft", "irfft", "hfft", "ihfft", "fftn", "ifftn", "rfftn",
                  "irfftn", "fftshift", "ifftshift")}}


@pytest.mark.parametrize("name", SIGNATURES)
def test_signature_axis_positional_or_keyword_and_the_rest_keyword_only(name):
    params = list(inspect.signature(SIGNATURES[name]).parameters.values())
    kinds = {p.name: p.kind for p in params}
    axis = "axis" if "axis" in kinds else "axes"
    assert kinds[axis] is inspect.Parameter.POSITIONAL_OR_KEYWORD
    after = params[[p.name for p in params].index(axis) + 1:]
    assert all(p.kind in (p.KEYWORD_ONLY, p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in after), \
        [(p.name, p.kind) for p in after]


def test_vector_norm_keeps_axis_keyword_only_as_torchs_second_argument_is_ord():
    """``torch.linalg.vector_norm(x, 2)`` is ``ord=2``: refused, not read as ``axis=2``."""
    x = _t(RNG.standard_normal((2, 3, 4)))
    with pytest.raises(TypeError, match=r"^vector_norm\(\) takes at most 1 positional "
                                        r"argument \(x\) but 2 were given; axis=, keepdims= and "
                                        r"ord= are keyword-only$"):
        xg.linalg.vector_norm(x, 2)
    np.testing.assert_allclose(xg.linalg.vector_norm(x, ord=2).numpy(),
                               torch.linalg.vector_norm(torch.from_numpy(x.numpy()), 2).numpy(),
                               rtol=1e-13)
