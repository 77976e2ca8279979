"""The host backends' namespace selects float elements by their bits (``where`` in
``backends/numpy/namespace.py``): it gives NumPy's ``where`` bit for bit (NaN payloads, signed
zeros) with the same dtype and shape, for every form of operand it takes and those it leaves
to NumPy, and the backends use it."""
import numpy as np
import pytest

import xpgrad as xg
from conftest import backend_report
from xpgrad.backends.numpy import namespace

N = namespace.MIN_SIZE * 3


def _same(got, want):
    assert got.dtype == want.dtype and got.shape == want.shape
    assert got.flags.writeable and got.flags.c_contiguous
    if want.dtype.kind == "f":
        bits = np.dtype(f"i{want.dtype.itemsize}")
        np.testing.assert_array_equal(got.view(bits), np.ascontiguousarray(want).view(bits))
    else:
        np.testing.assert_array_equal(got, want)


def _values(dtype, shape, rng):
    x = rng.standard_normal(shape).astype(dtype)
    flat = x.reshape(-1)
    flat[:6] = [np.nan, -np.nan, np.inf, -np.inf, 0.0, -0.0]
    payload = np.array([0x7FC00123], np.int32).view(np.float32).astype(dtype)  # a NaN payload
    flat[6] = payload[0]
    return x


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("mask", ["random", "none", "all"])
@pytest.mark.parametrize("form", ["arrays", "scalar_first", "scalar_second", "int_scalar",
                                  "broadcast_rows", "broadcast_condition", "zero_d",
                                  "strided", "both_broadcast", "zero_first", "zero_second",
                                  "zero_int", "zero_broadcast", "zero_strided"])
def test_where_gives_numpys_bits(dtype, mask, form, rng):
    shape = (3, N // 3)
    x1, x2 = _values(dtype, shape, rng), _values(dtype, shape, rng)
    cond = {"random": rng.random(shape) < 0.5, "none": np.zeros(shape, bool),
            "all": np.ones(shape, bool)}[mask]
    if form == "scalar_first":
        x1 = -0.0
    elif form == "scalar_second":
        x2 = 2.5
    elif form == "int_scalar":
        x1 = 3
    elif form == "broadcast_rows":
        x2 = x2[:1]
    elif form == "broadcast_condition":
        cond = cond[:1]
        x1, x2 = x1, x2[:1]
    elif form == "zero_d":
        x1 = np.asarray(np.nan, dtype)
    elif form == "strided":
        wide = np.stack([cond, ~cond], axis=-1)
        cond = wide[..., 0]                            # a non-contiguous condition
        x1 = np.asfortranarray(x1)
        x2 = _values(dtype, (shape[0], 2 * shape[1]), rng)[:, ::2]
    elif form == "both_broadcast":
        x1, x2 = x1[:1], x2[:, :1]
    elif form == "zero_first":                 # and-ed with the mask alone (two passes)
        x1 = 0.0
    elif form == "zero_second":
        x2 = 0.0
    elif form == "zero_int":
        x2 = 0
    elif form == "zero_broadcast":
        cond, x1, x2 = cond[:1], 0.0, x2[:, :1]
    elif form == "zero_strided":
        wide = np.stack([cond, ~cond], axis=-1)
        cond, x1 = wide[..., 0], np.asfortranarray(x1)
        x2 = 0.0
    _same(namespace.where(cond, x1, x2), np.where(cond, x1, x2))


@pytest.mark.parametrize("case", ["small", "float16", "mixed", "int", "complex", "numpy_scalar",
                                  "bool_scalar", "non_bool_condition", "list", "big_endian",
                                  "huge_scalar"])
def test_where_leaves_the_rest_to_numpy(case, rng):
    cond = rng.random(N) < 0.5
    x1 = rng.standard_normal(N).astype(np.float32)
    x2 = rng.standard_normal(N).astype(np.float32)
    if case == "small":
        cond, x1, x2 = cond[:10], x1[:10], x2[:10]
    elif case == "float16":
        x1, x2 = x1.astype(np.float16), x2.astype(np.float16)
    elif case == "mixed":
        x2 = x2.astype(np.float64)
    elif case == "int":
        x1, x2 = np.arange(N), -np.arange(N)
    elif case == "complex":
        x1 = x1.astype(np.complex64)
    elif case == "numpy_scalar":
        x1 = np.float64(1.5)
    elif case == "bool_scalar":
        x1 = True
    elif case == "non_bool_condition":
        cond = cond.astype(np.int8)
    elif case == "list":
        cond = cond.tolist()
    elif case == "big_endian":
        x1, x2 = x1.astype(">f4"), x2.astype(">f4")
    elif case == "huge_scalar":
        x1 = 1e300                       # past float32: NumPy's own handling (inf, a warning)
    with np.errstate(over="ignore"):
        got, want = namespace.where(cond, x1, x2), np.where(cond, x1, x2)
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_array_equal(got, want)


def test_where_raises_numpys_error_for_shapes_that_do_not_broadcast():
    with pytest.raises(ValueError, match="broadcast"):
        namespace.where(np.ones(N, bool), np.ones(N, np.float32), np.ones(N + 1, np.float32))


def test_the_host_backends_use_the_namespace():
    for name in ("numpy", "numba"):
        if name in backend_report():
            assert xg.get_backend(name).xp.where is namespace.where
            assert xg.get_backend(name).xp.exp is np.exp     # the rest: array_api_compat's


@pytest.mark.parametrize("fn", [lambda x: xg.nn.elu(x, alpha=0.7), xg.nn.gelu, xg.nn.silu,
                                lambda x: xg.clip(x, -0.5, 0.5)], ids=["elu", "gelu", "silu",
                                                                        "clip"])
def test_generic_rules_give_what_they_gave_with_numpys_where(fn, monkeypatch):
    """Generic rules that select on a random condition (elu's branches, erfc's sign, the stable
    sigmoid, clip's gradient), run on the numpy backend: the same values and gradients bit for
    bit as with NumPy's where."""
    x0 = np.random.default_rng(3).standard_normal(4 * N).astype(np.float32)
    x0[:4] = [np.inf, -np.inf, np.nan, -0.0]

    def value_and_gradient():
        x = xg.asarray(x0, backend="numpy")
        with xg.GradientTape() as tape:
            tape.watch(x)
            y = fn(x)
            total = xg.sum(y * xg.asarray(np.linspace(0.5, 1.5, x0.size, dtype=np.float32),
                                          backend="numpy"))
        return y.numpy(), tape.gradient(total, x).numpy()

    be = xg.get_backend("numpy")
    with monkeypatch.context() as patch:
        for name in ("elu", "gelu", "silu"):            # the generic rules, not the kernels
            if name in be.kernels:
                patch.delitem(be.kernels, name)
        selected = []                       # conditions that held on some entries, not all
        bit_select = namespace.where

        def counted(condition, x1, x2):
            if isinstance(condition, np.ndarray) and condition.any() and not condition.all():
                selected.append(condition.size)
            return bit_select(condition, x1, x2)
        patch.setattr(namespace, "where", counted)
        with np.errstate(invalid="ignore", over="ignore"):
            ours = value_and_gradient()
            assert any(n >= namespace.MIN_SIZE for n in selected)
            patch.setattr(namespace, "where", np.where)
            numpys = value_and_gradient()
    for got, want in zip(ours, numpys):
        _same(got, want)
