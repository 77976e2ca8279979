"""Every public function with an ``axis``, ``axes`` (or ``keepdims``) parameter answers
PyTorch's ``dim=`` / ``keepdim=`` with the array API's names, found by walking the namespaces (a new
function is covered without a row here); the losses whose class axis is the last say so."""
import inspect
import types

import pytest

import xpgrad as xg

NAMESPACES = {"xg": xg, "xg.special": xg.special, "xg.fft": xg.fft, "xg.linalg": xg.linalg,
              "xg.nn": xg.nn, "xg.losses": xg.losses}


def _functions_with_axis():
    found, seen = {}, set()
    for prefix, namespace in NAMESPACES.items():
        for name in dir(namespace):
            function = getattr(namespace, name, None)
            if name.startswith("_") or isinstance(function, (type, types.ModuleType)) \
                    or not callable(function) or id(function) in seen:
                continue
            try:
                parameters = inspect.signature(function).parameters
            except (TypeError, ValueError):
                continue
            if "axis" in parameters or "axes" in parameters or "keepdims" in parameters:
                seen.add(id(function))
                found[f"{prefix}.{name}"] = (function, parameters)
    return found


FUNCTIONS = _functions_with_axis()


def test_the_walk_finds_the_reductions_and_the_scipy_and_fft_functions():
    for name in ("xg.sum", "xg.special.logsumexp", "xg.fft.rfft", "xg.linalg.matrix_norm",
                 "xg.take", "xg.expand_dims", "xg.fft.fftn", "xg.fft.irfftn",
                 "xg.fft.fftshift", "xg.permute_dims", "xg.tensordot"):
        assert name in FUNCTIONS


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_torch_dim_and_keepdim_get_the_array_api_names(name):
    function, parameters = FUNCTIONS[name]
    required = [p for p in parameters.values() if p.default is p.empty
                and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    x = xg.ones((2, 3))
    args = [[x, x] if p.name in ("arrays", "tensors") else x for p in required]
    owner = name.rsplit(".", 1)[1]
    torch_keywords = {"dim": 1, "keepdim": True} if "keepdims" in parameters else {"dim": 1}
    with pytest.raises(TypeError) as err:
        function(*args, **torch_keywords)
    axis = "axes=" if "axes" in parameters and "axis" not in parameters else "axis="
    expected = f"{axis} for dim=, keepdims= for keepdim=" if "keepdim" in torch_keywords \
        else f"{axis} for dim="
    assert str(err.value) == (f"{owner}() got an unexpected keyword argument 'dim'; xpgrad uses "
                              f"the array API's names: {expected}")


@pytest.mark.parametrize("owner, first", [("softmax_cross_entropy", "logits"),
                                          ("nll", "log_probs")])
@pytest.mark.parametrize("keyword", ["dim", "axis"])
def test_losses_with_the_class_axis_last_say_so_for_dim(owner, first, keyword):
    loss = getattr(xg.losses, owner)
    with pytest.raises(TypeError) as err:
        loss(xg.zeros((2, 3, 4)), xg.asarray([[0, 1, 2, 0], [0, 1, 2, 0]]), **{keyword: 1})
    assert str(err.value) == (f"{owner}() got an unexpected keyword argument {keyword!r}; the "
                              f"class axis is the last one of {first} here (PyTorch's is axis "
                              f"1): move it with xg.moveaxis({first}, 1, -1)")
    with pytest.raises(TypeError, match="'reduce'$"):
        loss(xg.zeros((2, 3)), xg.asarray([0, 1]), reduce=True)


@pytest.mark.usefixtures("numpy_default")
def test_clip_answers_numpys_a_min_and_a_max_with_min_and_max():
    x = xg.asarray([-2.0, 0.5, 3.0])
    for call in (lambda: xg.clip(x, a_min=0.0, a_max=1.0), lambda: x.clip(a_min=0.0)):
        with pytest.raises(TypeError, match=r"^clip\(\) got an unexpected keyword argument "
                                            r"'a_min'; xpgrad uses the array API's names: "
                                            r"min= for a_min="):
            call()
    assert xg.clip(x, min=0.0, max=1.0).tolist() == x.clip(0.0, 1.0).tolist() == [0.0, 0.5, 1.0]


@pytest.mark.parametrize("function, args", [(xg.permute_dims, 1), (xg.tensordot, 2),
                                            (xg.fft.fftn, 1)])
def test_torch_dims_of_the_functions_of_several_axes_is_axes(function, args):
    with pytest.raises(TypeError) as err:
        function(*[xg.ones((2, 2))] * args, dims=(1, 0))
    assert str(err.value) == (f"{function.__name__}() got an unexpected keyword argument "
                              f"'dims'; xpgrad uses the array API's names: axes= for dims=")


def test_permute_dims_still_needs_its_axes():
    with pytest.raises(TypeError, match=r"^permute_dims\(\) missing 1 required positional "
                                        r"argument: 'axes'$"):
        xg.permute_dims(xg.ones((2, 3)))
