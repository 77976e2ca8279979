"""``isin`` on integers spanning a short range reads a table of that range
(``ops/sets.py``'s ``_isin_table``); long ranges, floats, traced and vmapped arrays keep the
binary search. Both against NumPy's ``isin`` and PyTorch's, at the dtypes' edges (narrow
signed ranges whose offsets do not fit the dtype, unsigned 64-bit values past int64),
negatives, repeats, empty inputs, 0-d and ``invert``."""
import numpy as np
import pytest

import xpgrad as xg
from xpgrad.ops import sets

torch = pytest.importorskip("torch", reason="PyTorch is not installed: no comparison")


def _tables(monkeypatch):
    made, real = [], sets._isin_table
    monkeypatch.setattr(sets, "_isin_table", lambda *a: made.append(real(*a)) or made[-1])
    return made


def _cases(rng):
    info8, info16 = np.iinfo(np.int8), np.iinfo(np.int16)
    return {
        "int64": (rng.integers(-50, 300, (40, 7)), rng.integers(0, 250, 90)),
        "int32_repeats": (rng.integers(0, 20, 500).astype(np.int32),
                          np.array([3, 3, 3, 19, 0], np.int32)),
        "int8_full_range": (np.arange(info8.min, info8.max + 1, dtype=np.int8),
                            np.array([info8.min, -1, 100], np.int8)),     # offsets to 228
        "int16_edges": (rng.integers(info16.min, info16.max, 12000).astype(np.int16),
                        np.array([info16.min, 5, info16.max], np.int16)),
        "uint8": (rng.integers(0, 256, 300).astype(np.uint8),
                  np.array([0, 7, 255], np.uint8)),
        "uint64_past_int64": (np.array([2**63 + 5, 2**63 + 9, 4, 2**64 - 1], np.uint64),
                              np.array([2**63 + 4, 2**63 + 5, 2**63 + 6], np.uint64)),
        "mixed_widths": (rng.integers(0, 100, 64).astype(np.int16),
                         rng.integers(50, 80, 10).astype(np.int64)),
        "zero_d": (np.array(7), np.array([1, 7, 9])),
    }


@pytest.mark.parametrize("invert", [False, True])
@pytest.mark.parametrize("name", sorted(_cases(np.random.default_rng(0))))
def test_table_equals_numpy_and_torch(monkeypatch, name, invert):
    a, b = _cases(np.random.default_rng(0))[name]
    made = _tables(monkeypatch)
    got = xg.isin(xg.asarray(a), xg.asarray(b), invert=invert).numpy()
    assert made and made[0] is not None
    want = np.isin(a, b, invert=invert)
    assert got.shape == want.shape and got.dtype == np.bool_
    np.testing.assert_array_equal(got, want)
    if a.dtype != np.uint64:
        np.testing.assert_array_equal(
            got, torch.isin(torch.tensor(a.astype(np.int64)), torch.tensor(b.astype(np.int64)),
                            invert=invert).numpy())


def test_long_ranges_floats_and_empty_inputs_keep_the_search(monkeypatch):
    rng = np.random.default_rng(1)
    made = _tables(monkeypatch)
    wide = rng.integers(0, 10**12, 50)
    a = np.concatenate([wide[:10], rng.integers(0, 10**12, 40)])
    np.testing.assert_array_equal(xg.isin(xg.asarray(a), xg.asarray(wide)).numpy(),
                                  np.isin(a, wide))
    assert made == [None]
    floats = rng.integers(0, 5, 30).astype(np.float32)
    np.testing.assert_array_equal(
        xg.isin(xg.asarray(floats), xg.asarray(np.array([1.0, 3.0], np.float32))).numpy(),
        np.isin(floats, [1.0, 3.0]))
    assert made == [None]
    assert xg.isin(xg.asarray(np.arange(3)), xg.asarray(np.arange(0))).tolist() == [False] * 3
    assert xg.isin(xg.asarray(np.arange(0)), xg.asarray(np.arange(3))).shape == (0,)


def test_traced_and_vmapped_arrays_give_the_same_answer():
    rng = np.random.default_rng(2)
    a, b = rng.integers(0, 30, (4, 9)), rng.integers(0, 30, 6)
    want = np.isin(a, b)
    traced = xg.function(lambda x, y: xg.isin(x, y))
    for _ in range(2):
        np.testing.assert_array_equal(traced(xg.asarray(a), xg.asarray(b)).numpy(), want)
    np.testing.assert_array_equal(
        xg.vmap(lambda x: xg.isin(x, xg.asarray(b)))(xg.asarray(a)).numpy(), want)
