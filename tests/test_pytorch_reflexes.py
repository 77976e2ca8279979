"""What a PyTorch user types by reflex -- ``dim=``, ``keepdim=``, ``xg.clamp``,
``x.masked_fill``, ``x.transpose(0, 1)``, ``x.flatten(1)``, ``xg.save``,
``xg.data.DataLoader`` -- gets an error naming xpgrad's way, and the way it names computes
what PyTorch's did. A keyword that is nobody's keeps Python's own message; ``dir`` offers only
names that exist (met porting six PyTorch programs)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import xpgrad as xg

X = np.arange(24, dtype=np.float64).reshape(2, 3, 4) / 7.0


def _python_message(call):
    """The TypeError Python itself raises for a call (a function without a ``**`` catch-all)."""
    with pytest.raises(TypeError) as err:
        call()
    return str(err.value)


KEYWORD_CALLS = {
    "sum": lambda x, **k: xg.sum(x, **k), "prod": lambda x, **k: xg.prod(x, **k),
    "mean": lambda x, **k: xg.mean(x, **k), "max": lambda x, **k: xg.max(x, **k),
    "min": lambda x, **k: xg.min(x, **k), "var": lambda x, **k: xg.var(x, **k),
    "std": lambda x, **k: xg.std(x, **k), "logsumexp": lambda x, **k: xg.logsumexp(x, **k),
    "any": lambda x, **k: xg.any(x, **k), "all": lambda x, **k: xg.all(x, **k),
    "argmax": lambda x, **k: xg.argmax(x, **k), "argmin": lambda x, **k: xg.argmin(x, **k),
    "cumulative_sum": lambda x, **k: xg.cumulative_sum(x, **k),
    "cumulative_prod": lambda x, **k: xg.cumulative_prod(x, **k),
    "softmax": lambda x, **k: xg.nn.softmax(x, **k),
    "log_softmax": lambda x, **k: xg.nn.log_softmax(x, **k),
    "concat": lambda x, **k: xg.concat([x, x], **k), "stack": lambda x, **k: xg.stack([x, x], **k),
    **{f"TensorMethods.{m}": (lambda m: lambda x, **k: getattr(x, m)(**k))(m)
       for m in ("sum", "prod", "mean", "max", "min", "var", "std", "argmax", "argmin", "any",
                 "all", "cumsum", "squeeze")},
}


@pytest.mark.parametrize("owner", sorted(KEYWORD_CALLS))
def test_torch_dim_and_keepdim_keywords_name_axis_and_keepdims(owner):
    x = xg.asarray(X)
    call = KEYWORD_CALLS[owner]
    with pytest.raises(TypeError) as err:
        call(x, dim=1)
    assert str(err.value) == (f"{owner}() got an unexpected keyword argument 'dim'; xpgrad "
                              "uses the array API's names: axis= for dim=")
    with pytest.raises(TypeError, match=r"'keepdim'; .*: keepdims= for keepdim=$"):
        call(x, keepdim=True)
    with pytest.raises(TypeError, match=r"'dim'; .*: axis= for dim=, keepdims= for keepdim="):
        call(x, dim=1, keepdim=True)


@pytest.mark.parametrize("owner", sorted(KEYWORD_CALLS))
def test_a_keyword_nobody_has_keeps_pythons_message(owner):
    """The ordinary error path: exactly what Python says of a function without the hints."""
    def reference(x, /, *, axis=None, keepdims=False):
        return x
    reference.__qualname__ = owner
    expected = _python_message(lambda: reference(X, axes=1))
    with pytest.raises(TypeError) as err:
        KEYWORD_CALLS[owner](xg.asarray(X), axes=1)
    assert str(err.value) == expected


def test_the_hinted_keywords_compute_what_torchs_do():
    x, t = xg.asarray(X), torch.from_numpy(X)
    np.testing.assert_allclose(xg.sum(x, axis=1).numpy(), torch.sum(t, dim=1).numpy())
    np.testing.assert_allclose(x.mean(-1, keepdims=True).numpy(),
                               t.mean(-1, keepdim=True).numpy())
    np.testing.assert_allclose(xg.nn.softmax(x, axis=0).numpy(),
                               torch.softmax(t, dim=0).numpy(), rtol=1e-12)
    np.testing.assert_allclose(xg.concat([x, x], axis=2).numpy(),
                               torch.cat([t, t], dim=2).numpy())


@pytest.mark.parametrize("axes", [(0, 1), (2, 0), (-1, 1)])
def test_transpose_of_two_axes_of_a_3d_tensor_says_swapaxes(axes):
    """NumPy's transpose wants every axis; PyTorch's swaps two: the error names the swap, and
    the swap it names is PyTorch's transpose."""
    x = xg.asarray(X)
    a, b = axes
    with pytest.raises(ValueError, match=rf"x.swapaxes\({a}, {b}\)") as err:
        x.transpose(a, b)
    assert "3-D" in str(err.value) and "permute_dims" in str(err.value)
    np.testing.assert_array_equal(x.swapaxes(a, b).numpy(),
                                  torch.from_numpy(X).transpose(a, b).numpy())
    assert x.transpose(2, 0, 1).shape == (4, 2, 3)          # NumPy's permutation still works
    assert x.transpose().shape == (4, 3, 2)


def test_flatten_with_a_start_axis_says_reshape():
    x = xg.asarray(X)
    with pytest.raises(TypeError, match=r"x.reshape\(x.shape\[0\], -1\).*xg.nn.Flatten") as err:
        x.flatten(1)
    assert "takes no axes" in str(err.value)
    np.testing.assert_array_equal(x.reshape(x.shape[0], -1).numpy(),
                                  torch.from_numpy(X).flatten(1).numpy())
    np.testing.assert_array_equal(xg.nn.Flatten(start_axis=1)(x).numpy(),
                                  torch.from_numpy(X).flatten(1).numpy())
    assert x.flatten().shape == (24,)


def test_clamp_and_masked_fill_name_clip_and_where():
    x, t = xg.asarray(X), torch.from_numpy(X)
    for get in (lambda: xg.clamp, lambda: x.clamp):
        with pytest.raises(AttributeError, match=r"'clamp': .*clip\("):
            get()
    assert not hasattr(xg, "clamp") and not hasattr(x, "clamp")
    np.testing.assert_array_equal(xg.clip(x, 0.5, 2.0).numpy(), t.clamp(0.5, 2.0).numpy())
    np.testing.assert_array_equal(x.clip(min=1.0).numpy(), t.clamp(min=1.0).numpy())
    for get in (lambda: xg.masked_fill, lambda: x.masked_fill):
        with pytest.raises(AttributeError, match=r"'masked_fill': xg.where\(mask, value, "):
            get()
    mask = X > 1.5
    np.testing.assert_array_equal(xg.where(xg.asarray(mask), 0.0, x).numpy(),
                                  t.masked_fill(torch.from_numpy(mask), 0.0).numpy())


@pytest.mark.parametrize("owner, name, ours", [
    ("xg", "func", "xg.vmap"), ("xg", "func", "xg.grad"), ("xg", "autograd", "xg.grad"),
    ("xg", "func", "xg.nn.functional_call"), ("xg", "func", "xg.nn.stack_module_state"),
    ("xg", "compile", "xg.function"), ("xg", "save", "xg.save_checkpoint"),
    ("xg", "load", "xg.load_checkpoint"),
    ("xg.losses", "cross_entropy", "xg.losses.softmax_cross_entropy"),
    ("xg.losses", "nll_loss", "xg.losses.nll"), ("xg.losses", "mse_loss", "xg.losses.mse"),
    ("xg.losses", "binary_cross_entropy_with_logits",
     "xg.losses.sigmoid_cross_entropy_with_logits"),
    ("xg.optim", "StepLR", "xg.optim.StepDecay"), ("xg.optim", "MultiStepLR",
                                                   "xg.optim.PiecewiseConstant"),
    ("xg.optim", "CosineAnnealingLR", "xg.optim.CosineDecay"),
    ("xg.optim", "OneCycleLR", "xg.optim.OneCycle"),
    ("xg.optim", "ExponentialLR", "xg.optim.ExponentialDecay"),
    ("xg.optim", "LambdaLR", "learning_rate=lambda step"),
    ("xg.optim", "clip_grad_norm_", "xg.optim.clip_global_norm"),
    ("xg.optim", "clip_grad_value_", "clipvalue="),
    ("xg.data", "DataLoader", "xg.data.batches"), ("xg.data", "TensorDataset", "xg.data.batches"),
    ("xg.data", "random_split", "xg.data.split"),
    ("xpgrad.datasets", "load_digits", "xg.data.load_digits"),
])
def test_torch_namespace_names_name_what_exists(owner, name, ours):
    import xpgrad.datasets

    module = {"xg": xg, "xg.losses": xg.losses, "xg.optim": xg.optim, "xg.data": xg.data,
              "xpgrad.datasets": xpgrad.datasets}[owner]
    with pytest.raises(AttributeError) as err:
        getattr(module, name)
    assert ours in str(err.value) and repr(name) in str(err.value)
    assert not hasattr(module, name)
    # what the hint names exists, under the name it gives
    path = ours.split("(")[0].split()[0]
    if path.startswith("xg."):
        target = xg
        for part in path.split(".")[1:]:
            target = getattr(target, part)
        assert callable(target)
    if owner != "xpgrad.datasets":       # (which answers every name: it holds only data)
        with pytest.raises(AttributeError, match="'no_such_thing'$"):
            module.no_such_thing


def test_vmap_and_the_jacobian_recipe_give_torch_funcs_per_sample_gradients():
    """xg.vmap(xg.grad(...)) (which replaced the hint) and tape.jacobian of the unreduced
    losses (the hint's recipe) against torch.func.vmap."""
    rng = np.random.default_rng(0)
    w = rng.standard_normal((3, 4))
    x, y = rng.standard_normal((5, 3)), rng.integers(0, 4, 5)
    params = xg.Variable(w)
    with xg.GradientTape() as tape:
        losses = xg.losses.softmax_cross_entropy(xg.asarray(x) @ params, xg.asarray(y),
                                                 reduction="none")
    ours = tape.jacobian(losses, params).numpy()
    mapped = xg.vmap(xg.grad(lambda wt, xi, yi: xg.losses.softmax_cross_entropy(
        (xi[None] @ wt), yi[None])), in_axes=(None, 0, 0))(xg.asarray(w), xg.asarray(x),
                                                         xg.asarray(y)).numpy()

    def one(wt, xi, yi):
        return torch.nn.functional.cross_entropy((xi[None] @ wt), yi[None])
    theirs = torch.func.vmap(torch.func.grad(one), in_dims=(None, 0, 0))(
        torch.from_numpy(w), torch.from_numpy(x), torch.from_numpy(y))
    np.testing.assert_allclose(ours, theirs.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(mapped, theirs.numpy(), rtol=1e-10, atol=1e-12)


def test_the_datasets_folder_answers_and_the_loader_loads():
    import xpgrad.datasets

    with pytest.raises(AttributeError, match=r"xg.data.load_digits\(test_fraction=0.2"):
        xpgrad.datasets.load_digits
    ds = xg.data.load_digits(seed=0)
    assert ds.x_train.shape[1] == 64 and len(ds.x_train) + len(ds.x_test) == 1797


@pytest.mark.parametrize("make", [
    lambda: xg.ones((2, 3)), lambda: xg.Variable([[1.0, 2.0]]),
    lambda: xg.optim.Adam(learning_rate=0.1), lambda: xg.optim.SGD(learning_rate=0.1),
    lambda: xg.optim.LBFGS(), lambda: xg.nn.Linear(2, 3, rng=0),
    lambda: xg.nn.LSTM(2, 3, batch_first=True, rng=0),
], ids=["Tensor", "Variable", "Adam", "SGD", "LBFGS", "Linear", "LSTM"])
def test_dir_offers_only_names_that_exist(make):
    """Tab completion lists dir(): a PyTorch name that only raises its hint is not offered."""
    obj = make()
    listed = dir(obj)
    assert [n for n in listed if not hasattr(obj, n)] == []
    assert listed == sorted(listed) and "__class__" in listed


def test_dir_leaves_out_the_hints_but_keeps_the_real_names():
    t, opt = xg.ones((2, 3)), xg.optim.Adam(learning_rate=0.1)
    assert {"unsqueeze", "split", "lerp_", "backward", "masked_fill"}.isdisjoint(dir(t))
    assert {"sum", "reshape", "swapaxes", "clip", "shape", "numpy", "clamp_"} <= set(dir(t))
    assert {"step", "zero_grad", "lr", "param_groups"}.isdisjoint(dir(opt))
    assert {"apply_gradients", "minimize", "learning_rate"} <= set(dir(opt))
    layer = xg.nn.Linear(2, 3, rng=0)
    assert "weight" not in dir(layer) and "w" in dir(layer)
    layer.weight = xg.Variable(xg.ones((3, 2)))     # tied: now it has one
    assert "weight" in dir(layer) and hasattr(layer, "weight")


POSITIVE = np.arange(1, 13, dtype=np.float64).reshape(3, 4) / 5.0
#: torch's Tensor method -> (the hint's start, what it names, applied to (x, torch's tensor))
METHOD_CALLS = {
    **{name: (rf"xg\.{name}\(t\)", lambda x, t, name=name: (getattr(xg, name)(x),
                                                               getattr(t, name)()))
       for name in ("exp", "log", "log1p", "expm1", "log2", "log10", "sqrt", "square", "sin",
                    "cos", "tanh", "sigmoid", "floor", "ceil", "sign", "reciprocal", "isnan",
                    "isinf", "isfinite")},
    **{name: (rf"xg\.{name}\(t, k=diagonal\)", lambda x, t, name=name: (
        getattr(xg, name)(x, k=1), getattr(t, name)(1))) for name in ("tril", "triu")},
    "maximum": (r"xg\.maximum\(t\)", lambda x, t: (xg.maximum(x, 1.0),
                                                   t.maximum(torch.tensor(1.0, dtype=t.dtype)))),
    "relu": (r"xg\.nn\.relu\(t\)", lambda x, t: (xg.nn.relu(x - 1), (t - 1).relu())),
    "softmax": (r"xg\.nn\.softmax\(t, axis=-1\)", lambda x, t: (xg.nn.softmax(x, axis=-1),
                                                               t.softmax(-1))),
    "log_softmax": (r"xg\.nn\.log_softmax\(t, axis=-1\)",
                    lambda x, t: (xg.nn.log_softmax(x, axis=0), t.log_softmax(0))),
    "mm": (r"t @ other", lambda x, t: (x @ x.T, t.mm(t.T))),
    "pow": (r"t \*\* p", lambda x, t: (x ** 3, t.pow(3))),
    "neg": (r"-t", lambda x, t: (-x, t.neg())),
    "norm": (r"xg\.linalg\.vector_norm\(t", lambda x, t: (xg.linalg.vector_norm(x), t.norm())),
    "logsumexp": (r"xg\.logsumexp\(t, axis=k\)", lambda x, t: (xg.logsumexp(x, axis=1),
                                                              t.logsumexp(1))),
    "flip": (r"xg\.flip\(t, axis=k\)", lambda x, t: (xg.flip(x, axis=1), t.flip(1))),
    "sort": (r"xg\.sort\(t, axis=k\)", lambda x, t: (xg.sort(-x, axis=0), (-t).sort(0).values)),
    "topk": (r"xg\.topk\(t, k\)", lambda x, t: (xg.topk(x, 2)[0], t.topk(2).values)),
    "gather": (r"xg\.take_along_axis", lambda x, t: (
        xg.take_along_axis(x, xg.asarray([[0], [3], [1]]), axis=1),
        t.gather(1, torch.tensor([[0], [3], [1]])))),
    "repeat": (r"xg\.tile\(t, repetitions\)", lambda x, t: (xg.tile(x, (2, 1)), t.repeat(2, 1))),
    "expand": (r"xg\.broadcast_to\(t, shape\)", lambda x, t: (xg.broadcast_to(x[:1], (3, 4)),
                                                             t[:1].expand(3, 4))),
}


@pytest.mark.parametrize("name", sorted(METHOD_CALLS))
def test_torch_tensor_methods_name_what_computes_them(name):
    """``x.exp()``, ``x.softmax(-1)``, ``x.mm(y)``, ... name xpgrad's function, and it gives
    torch's method's numbers; the name stays out of ``hasattr`` and ``dir``."""
    hint, compute = METHOD_CALLS[name]
    x = xg.asarray(POSITIVE)
    with pytest.raises(AttributeError, match=rf"'Tensor' object has no attribute '{name}': "
                                             + hint):
        getattr(x, name)
    assert not hasattr(x, name) and name not in dir(x)
    ours, torchs = compute(x, torch.from_numpy(POSITIVE))
    np.testing.assert_allclose(np.asarray(ours.numpy(), dtype=np.float64),
                               torchs.numpy().astype(np.float64), rtol=1e-14, atol=0)


PAIR_A = np.array([[1.0, 5.0, -3.0], [0.5, 2.0, 7.0]])
PAIR_B = np.array([[4.0, 2.0, -6.0], [0.5, 3.0, 1.0]])


@pytest.mark.parametrize("name, twin", [("max", "maximum"), ("min", "minimum")])
@pytest.mark.parametrize("second", [lambda: xg.asarray(PAIR_B), lambda: PAIR_B, lambda: 2.5,
                                    lambda: xg.asarray(1)],
                         ids=["Tensor", "ndarray", "float", "0-d int Tensor"])
def test_torch_two_tensor_max_and_min_name_maximum_and_minimum(name, twin, second):
    """``torch.max(a, b)`` and ``a.max(b)`` are elementwise: the error names xg.maximum /
    xg.minimum, which gives torch's values and gradients."""
    a = xg.asarray(PAIR_A)
    with pytest.raises(TypeError, match=rf"^{name}: axis must be None, an int or a tuple of "
                                        rf"ints, got .*torch\.{name}\(a, b\)\) is "
                                        rf"xg\.{twin}\(a, b\)$"):
        getattr(xg, name)(a, second())
    with pytest.raises(TypeError, match=rf"^TensorMethods\.{name}: .*torch's x\.{name}\(y\)\) "
                                        rf"is xg\.{twin}\(x, y\)$"):
        getattr(a, name)(second())


@pytest.mark.parametrize("name, twin", [("max", "maximum"), ("min", "minimum")])
def test_the_named_elementwise_twin_gives_torchs_two_tensor_max_and_min(name, twin):
    a, b = xg.Variable(PAIR_A), xg.Variable(PAIR_B)
    ta, tb = (torch.tensor(v, requires_grad=True) for v in (PAIR_A, PAIR_B))
    with xg.GradientTape() as tape:
        out = xg.sum(getattr(xg, twin)(a, b) * xg.asarray(PAIR_A + 1.0))
    ga, gb = tape.gradient(out, [a, b])
    (getattr(torch, name)(ta, tb) * torch.from_numpy(PAIR_A + 1.0)).sum().backward()
    np.testing.assert_array_equal(getattr(xg, twin)(a, b).numpy(),
                                  getattr(torch, name)(ta, tb).detach().numpy())
    # (the tie at [1, 0]: torch splits the gradient in half, as xpgrad)
    np.testing.assert_allclose(ga.numpy(), ta.grad.numpy(), rtol=1e-15)
    np.testing.assert_allclose(gb.numpy(), tb.grad.numpy(), rtol=1e-15)


@pytest.mark.parametrize("name", ["max", "min"])
def test_a_positional_int_axis_is_numpys_and_a_third_argument_names_the_keywords(name):
    """``xg.max(x, 1)`` is NumPy's ``np.max(x, 1)``: the values (torch's ``.values``)."""
    a, t = xg.asarray(PAIR_A), torch.from_numpy(PAIR_A)
    with pytest.raises(TypeError, match=rf"^{name}\(\) takes at most 2 positional arguments "
                                        r"\(x, axis\) but 3 were given; keepdims= is "
                                        r"keyword-only$"):
        getattr(xg, name)(a, 1, True)
    torch_values = getattr(t, name)(1).values.numpy()
    for ours in (getattr(xg, name)(a, 1), getattr(xg, name)(a, axis=1), getattr(a, name)(1),
                 getattr(a, name)(axis=1), getattr(xg, name)(a, np.int64(1)),
                 getattr(a, name)(np.int64(1)), getattr(xg, name)(a, (1,)), getattr(a, name)((1,))):
        np.testing.assert_array_equal(ours.numpy(), torch_values)
    assert getattr(a, name)().item() == getattr(t, name)().item()
    assert getattr(a, name)([0, 1]).item() == getattr(t, name)().item()
