"""xarray's DataArrays wrapping xpgrad Tensors (xarray's array-API support), under a tape.

Each working operation is checked three ways in float64 on the numpy backend: the result's
``.data`` is a Tensor equal to the same computation written on xpgrad Tensors directly, its
gradient (of a random cotangent) equals that computation's, and agrees with central finite
differences (``xg.testing.check_grads``). The operations that fail, and why, are pinned below so a
change in xarray or xpgrad shows up here; docs/interop.md ("xarray's labelled arrays") lists
both, and its example is run by ``test_the_documented_trend_fit_runs``.
"""
import re

import numpy as np
import pytest

import xpgrad as xg
from docs_text import section

xr = pytest.importorskip("xarray")

SEASON = [0, 1, 0, 1, 0, 1]


def labelled(x, dims=("time", "x")):
    """A (time, x) DataArray around ``x`` with labels, and a ``season`` coordinate to group by."""
    return xr.DataArray(x, dims=dims, coords={"time": np.arange(6.0), "x": ["a", "b", "c"],
                                              "season": ("time", SEASON)})


def _weights(x):
    return xg.asarray(np.array([0.5, -1.0, 2.0]), backend=x.backend)


# name: (on the DataArray d of Tensor x, the same on x directly)
WORKING = {
    "arithmetic": (lambda d: (d * 2.0 + 1.0) ** 2 / (1.0 + abs(d)),
                   lambda x: (x * 2.0 + 1.0) ** 2 / (1.0 + xg.abs(x))),
    "mean over time": (lambda d: d.mean("time"), lambda x: xg.mean(x, axis=0)),
    "sum over x": (lambda d: d.sum("x"), lambda x: xg.sum(x, axis=1)),
    "sum of all": (lambda d: d.sum(), lambda x: xg.sum(x)),
    "std ddof=1": (lambda d: d.std("time", ddof=1), lambda x: xg.std(x, axis=0, correction=1)),
    "var": (lambda d: d.var("x"), lambda x: xg.var(x, axis=1)),
    "max": (lambda d: d.max("time"), lambda x: xg.max(x, axis=0)),
    "prod": (lambda d: d.prod("x"), lambda x: xg.prod(x, axis=1)),
    "groupby mean": (lambda d: d.groupby("season").mean(),
                     lambda x: xg.stack([xg.mean(x[0::2], axis=0), xg.mean(x[1::2], axis=0)])),
    "groupby sum over x": (lambda d: d.groupby("season").sum(...),
                           lambda x: xg.stack([xg.sum(x[0::2]), xg.sum(x[1::2])])),
    "coarsen mean": (lambda d: d.coarsen(time=2).mean(),
                     lambda x: xg.mean(xg.reshape(x, (3, 2, 3)), axis=1)),
    "where with other": (lambda d: d.where(d > 0.0, -d * 0.5),
                         lambda x: xg.where(x > 0.0, x, -x * 0.5)),
    "xr.where": (lambda d: xr.where(d > 0.0, d ** 2, 0.0),
                 lambda x: xg.where(x > 0.0, x ** 2, 0.0)),
    "isel": (lambda d: d.isel(time=slice(1, 4), x=[2, 0]), lambda x: xg.take(x[1:4], [2, 0], axis=1)),
    "sel by label": (lambda d: d.sel(x=["a", "c"], time=2.0), lambda x: xg.take(x[2], [0, 2], axis=0)),
    "xr.dot with a Tensor DataArray": (
        lambda d: xr.dot(d, xr.DataArray(_weights(d.data), dims="x"), dim="x"),
        lambda x: xg.sum(x * _weights(x), axis=1)),
    "dot method over the last dim": (
        lambda d: d.dot(xr.DataArray(_weights(d.data), dims="x"), dim="x"),
        lambda x: x @ _weights(x)),
    "weighted mean by hand": (
        lambda d: (d * xr.DataArray(xg.abs(_weights(d.data)), dims="x")).sum("x")
        / float(np.abs([0.5, -1.0, 2.0]).sum()),
        lambda x: xg.sum(x * xg.abs(_weights(x)), axis=1) / 3.5),
    "diff": (lambda d: d.diff("time"), lambda x: x[1:] - x[:-1]),
    "cumsum": (lambda d: d.cumsum("time"), lambda x: xg.cumulative_sum(x, axis=0)),
    "cumprod": (lambda d: d.cumprod("x"), lambda x: xg.cumulative_prod(x, axis=1)),
    "concat": (lambda d: xr.concat([d, d * 2.0], dim="time"),
               lambda x: xg.concat([x, x * 2.0], axis=0)),
    "broadcast by dimension name": (
        lambda d: d + xr.DataArray(xg.sin(d.data[0, :2]), dims="y"),
        lambda x: x[:, :, None] + xg.sin(x[0, :2])),
    "alignment of the same labels": (lambda d: d * d.sel(x=["c", "b", "a"]), lambda x: x * x),
    "transpose": (lambda d: d.transpose("x", "time"), lambda x: x.T),
    "np.exp (a ufunc)": (lambda d: np.exp(d), lambda x: xg.exp(x)),
    "apply_ufunc": (lambda d: xr.apply_ufunc(xg.tanh, d), lambda x: xg.tanh(x)),
    "stack": (lambda d: d.stack(z=("time", "x")), lambda x: xg.reshape(x, (-1,))),
    "median over x": (lambda d: d.median("x"), lambda x: xg.median(x, axis=1)),
    "quantile over x": (lambda d: d.quantile([0.25, 0.5], dim="x"),
                        lambda x: xg.quantile(x, [0.25, 0.5], axis=1)),
    "integrate": (lambda d: d.integrate("time"), lambda x: xg.trapezoid(x, axis=0)),
    "roll": (lambda d: d.roll(time=2), lambda x: xg.roll(x, 2, axis=0)),
    "clip": (lambda d: d.clip(-0.5, 0.5), lambda x: xg.clip(x, -0.5, 0.5)),
    "expand_dims": (lambda d: d.expand_dims(z=2), lambda x: xg.broadcast_to(x, (2, 6, 3))),
    "Dataset mean": (lambda d: xr.Dataset({"v": d, "w": d ** 2}).mean("time")["w"],
                     lambda x: xg.mean(x ** 2, axis=0)),
    "shallow copy": (lambda d: d.copy(deep=False) * 3.0, lambda x: x * 3.0),
}


def _data(seed=0):
    # entries away from 0 and +-0.5 (where / clip kinks) and distinct (max, median)
    rng = np.random.default_rng(seed)
    values = rng.permutation(np.linspace(0.1, 1.6, 18)) * rng.choice([-1.0, 1.0], 18)
    return values.reshape(6, 3)


@pytest.mark.parametrize("name", list(WORKING))
def test_value_and_gradient_match_xpgrad_and_finite_differences(name):
    on_dataarray, direct = WORKING[name]

    def through_xarray(x):
        out = on_dataarray(labelled(x))
        assert isinstance(out.data, xg.Tensor), type(out.data)
        return out.data

    x = xg.asarray(_data(), dtype=xg.float64)
    cotangent = xg.asarray(np.random.default_rng(1).standard_normal(direct(x).shape))
    grads = []
    for f in (through_xarray, direct):
        with xg.GradientTape() as tape:
            tape.watch(x)
            out = f(x)
            loss = xg.sum(out * cotangent)
        grads.append(tape.gradient(loss, x))
        np.testing.assert_allclose(out.numpy(), direct(x).numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(grads[0].numpy(), grads[1].numpy(), rtol=1e-12, atol=1e-12)
    xg.testing.check_grads(through_xarray, [x])


def test_labels_survive_and_data_is_the_tensor():
    x = xg.asarray(_data(), dtype=xg.float64)
    d = labelled(x)
    assert d.data is x
    out = (d - d.mean("time")).sel(x="b")
    assert out.dims == ("time",) and list(out.time.values) == list(range(6))
    assert isinstance(out.data, xg.Tensor) and out.dtype == xg.float64


def test_reductions_ignore_nans_as_xarray_and_their_gradient_there_is_zero():
    # xarray's skipna=True sends float reductions and cumsum to NaN-ignoring NumPy functions
    values = _data()
    values[2, 1] = np.nan
    x = xg.asarray(values)
    with xg.GradientTape() as tape:
        tape.watch(x)
        d = labelled(x)
        total = xg.sum(d.mean("time").data) + xg.sum(d.cumsum("time").data[-1])
    expected = xr.DataArray(values, dims=("time", "x"))
    np.testing.assert_allclose(total.numpy(), float(expected.mean("time").sum()
                                                    + expected.cumsum("time")[-1].sum()))
    gradient = tape.gradient(total, x).numpy()
    assert gradient[2, 1] == 0.0
    np.testing.assert_allclose(gradient[:, 1][[0, 1, 3, 4, 5]], 1.0 / 5 + 1.0)
    np.testing.assert_allclose(gradient[:, 0], 1.0 / 6 + 1.0)


def test_argmax_is_an_integer_tensor():
    x = xg.asarray(_data())
    with xg.GradientTape() as tape:
        tape.watch(x)
        where = labelled(x).argmax("time")
    assert isinstance(where.data, xg.Tensor)
    np.testing.assert_array_equal(where.data.numpy(), np.argmax(_data(), axis=0))


def test_against_pytorch_a_labelled_standardisation():
    torch = pytest.importorskip("torch")
    values = _data()
    x = xg.asarray(values)
    with xg.GradientTape() as tape:
        tape.watch(x)
        d = labelled(x)
        z = (d - d.mean("time")) / d.std("time")
        loss = (z.groupby("season").mean() ** 2).sum().data
    tx = torch.tensor(values, requires_grad=True)
    tz = (tx - tx.mean(0)) / tx.std(0, unbiased=False)
    tloss = (torch.stack([tz[0::2].mean(0), tz[1::2].mean(0)]) ** 2).sum()
    tloss.backward()
    np.testing.assert_allclose(loss.numpy(), tloss.item(), rtol=1e-12)
    np.testing.assert_allclose(tape.gradient(loss, x).numpy(), tx.grad.numpy(), rtol=1e-10,
                               atol=1e-12)


# What fails, by the error it raises: xarray's own limits with array-API arrays (they fail
# with array-api-strict's arrays too), never a silently detached gradient.
# name: (operation, exception, message pattern)
NOT_WORKING = {
    # xarray's missing-value fill (dtypes.maybe_promote) takes NumPy dtypes only
    "where without other": (lambda d: d.where(d > 0), TypeError, "numpy dtype"),
    "shift": (lambda d: d.shift(time=1), TypeError, "numpy dtype"),
    "pad": (lambda d: d.pad(time=1), TypeError, "numpy dtype"),
    "reindex": (lambda d: d.reindex(time=[0.0, 10.0], copy=False), TypeError, "numpy dtype"),
    "weighted": (lambda d: d.weighted(xr.DataArray(np.ones(3), dims="x")).mean("x"),
                 TypeError, "numpy dtype"),
    "cov": (lambda d: xr.cov(d, d, dim="time"), TypeError, "numpy dtype"),
    "idxmax": (lambda d: d.idxmax("time"), TypeError, "numpy dtype"),
    # xarray calls NumPy's names on the namespace, which the array API has not
    "rolling": (lambda d: d.rolling(time=3).mean(), AttributeError, "no attribute 'pad'"),
    "quantile over a leading dim": (lambda d: d.quantile(0.5, dim="time"), AttributeError,
                                    "no attribute 'transpose'"),
    "differentiate": (lambda d: d.differentiate("time"), AttributeError,
                      "no attribute 'gradient'"),
    "polyfit": (lambda d: d.polyfit("time", 1), TypeError, "unexpected keyword argument 'out'"),
    "interp": (lambda d: d.interp(time=[0.5]), AttributeError, "has no attribute 'type'"),
    # xpgrad's refusals: the value would leave the tape
    ".values": (lambda d: d.values, TypeError, "would cut it from the tape"),
    "deep copy of a computed tensor": (lambda d: (d * 2.0).copy(), RuntimeError,
                                       "copy.deepcopy"),
}


@pytest.mark.parametrize("name", list(NOT_WORKING))
def test_what_does_not_work_raises(name):
    operation, error, pattern = NOT_WORKING[name]
    x = xg.asarray(_data())
    with xg.GradientTape() as tape:
        tape.watch(x)
        with pytest.raises(error, match=re.escape(pattern)):
            operation(labelled(x))


def test_a_deep_copy_of_a_watched_tensor_is_off_the_tape_and_the_tape_says_so():
    # xarray's copy() is deep by default (copy.deepcopy): as PyTorch's, a leaf's copy is another
    # leaf, so nothing reaches x through it; tape.gradient warns instead of returning a number
    x = xg.asarray(_data())
    with xg.GradientTape() as tape:
        tape.watch(x)
        loss = labelled(x).copy().sum().data
    with pytest.warns(RuntimeWarning, match="depends on no tensor this tape watched"):
        assert tape.gradient(loss, x) is None


def test_off_the_tape_values_are_numpy_arrays():
    x = xg.asarray(_data())
    d = labelled(x)
    np.testing.assert_array_equal(d.values, _data())
    np.testing.assert_array_equal(d.to_numpy(), _data())
    with xg.GradientTape() as tape:
        tape.watch(x)
        value = labelled(xg.stop_gradient(x) * 2.0).values        # leaving the tape explicitly
    np.testing.assert_array_equal(value, 2.0 * _data())


def test_the_documented_trend_fit_runs():
    text = section("xarray's labelled arrays")
    code = re.search(r"```python\n(.*?)```", text, re.S).group(1)
    namespace = {}
    exec(compile(code, "docs/interop.md", "exec"), namespace)
    losses, slope = namespace["losses"], namespace["slope"].numpy()
    assert losses[-1] < 0.01 * losses[0]
    time = np.arange(48.0)
    reference = np.polyfit(time - time.mean(), namespace["obs"].values, 1)[0]
    np.testing.assert_allclose(slope, reference, atol=2e-3)
