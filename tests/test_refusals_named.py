"""Misuse that used to surface as another library's error now says what to do: an index on
another backend is a MixedBackendError (as every other operation's), NumPy's in-place writers
(np.put, np.fill_diagonal...) into a Tensor name x[idx] = v, a string written into a tensor is
named; and what NumPy accepts is accepted (a NumPy integer k for topk; logsumexp of -inf
entries is -inf without a NumPy warning)."""
import warnings

import numpy as np
import pytest

import xpgrad as xg


@pytest.mark.usefixtures("numpy_default")
def test_an_index_on_another_backend_is_a_mixed_backend_error():
    x = xg.asarray(np.arange(5.0), backend="numba")
    i = xg.asarray([1])
    for call in (lambda: x[i], lambda: xg.take(x, i),
                 lambda: xg.take_along_axis(x, i, axis=0)):
        with pytest.raises(xg.MixedBackendError, match=r"on backend 'numpy' used on a tensor on "
                                                       r"'numba'; move one .*\.to\('numba'\)"):
            call()


@pytest.mark.parametrize("call", [
    lambda x: np.put(x, [0], [5.0]),
    lambda x: np.fill_diagonal(x, 1.0),
    lambda x: np.place(x, np.ones(x.shape, bool), [1.0]),
    lambda x: np.put_along_axis(x, np.zeros((2, 1), np.int64), 1.0, axis=1),
    lambda x: np.putmask(x, np.ones(x.shape, bool), 1.0)],
    ids=["put", "fill_diagonal", "place", "put_along_axis", "putmask"])
def test_numpy_in_place_writers_into_a_tensor_are_refused_with_advice(call):
    with pytest.raises(TypeError, match=r"writes into its first argument's memory.*x\[idx\] = v"):
        call(xg.zeros((2, 2)))


def test_numpy_in_place_writers_into_numpy_arrays_still_read_tensors():
    target = np.zeros(3)
    np.copyto(target, xg.ones(3))
    np.put(target, xg.asarray([0]), 7.0)
    assert target.tolist() == [7.0, 1.0, 1.0]


def test_a_string_written_into_a_tensor_is_named():
    x = xg.zeros(2)
    with pytest.raises(TypeError, match="cannot write the string 'a' into a float32 tensor"):
        x[0] = "a"


def test_topk_takes_a_numpy_integer():
    values, indices = xg.topk(xg.asarray([3.0, 1.0, 2.0]), np.int64(2))
    assert values.tolist() == [3.0, 2.0] and indices.tolist() == [0, 2]


def test_logsumexp_of_minus_infinities_is_quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert xg.logsumexp(xg.asarray([-np.inf, -np.inf])).item() == -np.inf


@pytest.mark.parametrize("layer", [xg.nn.Dropout(0.5), xg.nn.Dropout2d(0.5)])
def test_dropout_of_an_integer_tensor_is_named(layer):
    with pytest.raises(TypeError, match=f"{type(layer).__name__}: the input must be real "
                                        f"floating point, got int64"):
        layer(xg.asarray([[[[1, 2, 3]]]]))


@pytest.mark.parametrize("obj", [["3"], "3", [["1", "2"]], [1.0, "2"], (b"1",)])
def test_text_given_with_a_dtype_is_refused_not_parsed(obj):
    """NumPy parses numeric strings when given a dtype (``asarray(['3'], dtype=float32)`` is
    3.0); xpgrad refuses them, as it does without a dtype, and so do the losses' targets."""
    with pytest.raises(TypeError, match="asarray: obj holds text"):
        xg.asarray(obj, dtype=xg.float32)
    with pytest.raises(TypeError, match="holds text"):
        xg.losses.mse(xg.asarray([1.0]), obj)


def test_every_public_array_function_has_a_bad_input_row():
    """The walk of ``tests/bad_inputs_names.py`` reaches every public function that takes an
    array; one it cannot call (a required argument it has no value for) fails here, so a new
    function gets its rows in ``tests/bad_inputs.py``: None and a str named by the function."""
    import bad_inputs_names as names

    assert names.missing_recipes() == []
    walked = {f"{label}.{name}" for label, name, _ in names.walked()}
    assert len(walked) >= 300
    assert walked >= {"xg.matmul", "xg.concat", "xg.sort", "xg.unique_values", "linalg.solve",
                      "fft.rfft", "special.erf", "losses.mse", "nn.conv2d", "nn.dropout",
                      "nn.softmax", "xg.segment_sum", "xg.zeros_like"}


def test_a_function_that_does_not_name_itself_fails_its_row():
    # what the catalogue catches: a new function converting through plain asarray
    import bad_inputs_names as names
    import bad_inputs_table as table

    def fresh(x, /):
        return xg.asarray(x) + 1.0

    call, argument = names.recipe("fresh", fresh)
    with pytest.raises(TypeError) as info:
        call(None)
    row = table.Row("names", "fresh", lambda: call(None), TypeError, (f"fresh: {argument}",))
    assert argument == "x" and not all(n in str(info.value) for n in row.names)


@pytest.mark.parametrize("bad", [None, "a", {"a": 1}, np.array([object()], dtype=object)],
                         ids=["none", "str", "dict", "object-array"])
@pytest.mark.parametrize("name, call", [
    ("matmul: x2", lambda b: xg.matmul(xg.ones((2, 2)), b)),
    ("solve: x1", lambda b: xg.linalg.solve(b, xg.ones(2))),
    ("unique_values: x", xg.unique_values), ("argsort: x", xg.argsort),
    ("fft: x", xg.fft.fft), ("isin: x2", lambda b: xg.isin(xg.ones(2), b)),
    ("mse: pred", lambda b: xg.losses.mse(b, xg.ones(2))),
    ("conv1d: input", lambda b: xg.nn.conv1d(b, xg.ones((1, 1, 1)))),
    ("conv1d: weight", lambda b: xg.nn.conv1d(xg.ones((1, 1, 3)), b)),
    ("segment_sum: segment_ids", lambda b: xg.segment_sum(xg.ones(2), b)),
])
def test_conversions_name_the_function_and_argument(name, call, bad):
    with pytest.raises(TypeError, match=f"^{name} (is|holds|has dtype)") as info:
        call(bad)
    assert "asarray" not in str(info.value)
