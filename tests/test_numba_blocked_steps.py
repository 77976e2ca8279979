"""A recurrent step's product split into blocks (``blas.stepped_plans``: column blocks of the
forward's ``[x_t | h_{t-1}] @ w``, depth blocks of the backward's ``dz_t @ w_hh.T``), as the
Numba scans' compiled loops (LSTM, ``lstm_scan``, Elman RNN, GRU) run it under OpenBLAS's
SkylakeX kernels: each step's product is ``stack[t] @ b`` whatever the blocks, the scans'
states and gradients the generic rule's, and ``block_width`` splits only where the blocks are
small products."""
from __future__ import annotations

import numpy as np
import pytest

from xpgrad.backends import blas, blas_steps

pytest.importorskip("numba", reason="Numba is not installed")

from numba import njit  # noqa: E402

from xpgrad.backends.numba import _gemm, _scans  # noqa: E402
from xpgrad.backends.numba import _rnn  # noqa: E402
from xpgrad.ops.recurrent import (_gru_forward, _gru_vjp, _lstm_forward,  # noqa: E402
                                  _lstm_layer_forward, _lstm_layer_vjp, _lstm_vjp, _rnn_forward,
                                  _rnn_vjp)

from blas_libraries import library  # noqa: E402,F401  (a fixture)

DTYPES = [np.float32, np.float64]


def _blocks_of(width):
    """A ``block_width`` that splits any product whose split dimension ``width`` divides."""
    def block_width(lib, m, n, k, split):
        size = n if split == "columns" else k
        return width if size > width and size % width == 0 else 0
    return block_width


@njit
def _run_steps(plans, t, one, zero):
    _gemm.step_products(plans, t, one, zero)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("split", ["columns", "depth"])
@pytest.mark.parametrize("layout", ["steps first", "steps second"])
def test_blocked_plans_give_each_steps_product(library, monkeypatch, dtype, split, layout):
    """Every block's share lands where it belongs: step ``t`` of the blocked plans leaves
    ``stack[t] @ b`` in ``out`` (a NaN there before: overwritten, never added to), for stacks
    whose steps are consecutive or strided."""
    monkeypatch.setattr(blas_steps, "block_width", _blocks_of(2))
    rng = np.random.default_rng(6)
    m, k, n, steps = 3, 6, 8, 4
    if layout == "steps second":
        stack = np.swapaxes(rng.normal(size=(m, steps, k)).astype(dtype), 0, 1)
    else:
        stack = rng.normal(size=(steps, m, k)).astype(dtype)
    b = np.asfortranarray(rng.normal(size=(k, n)).astype(dtype))    # blocks copied row-major
    out = np.full((m, n), np.nan, dtype)
    plans, held = blas.stepped_plans(stack, b, out, split)
    assert plans.shape == ((n if split == "columns" else k) // 2, 15)
    assert list(plans[:, 14]) == ([0] * len(plans) if split == "columns"
                                  else [0] + [1] * (len(plans) - 1))
    tol = 1e-5 if dtype == np.float32 else 1e-13
    for t in (3, 0, 2):
        out[...] = np.nan
        _run_steps(plans, t, dtype(1), dtype(0))
        want = stack[t].astype(np.float64) @ b.astype(np.float64)
        np.testing.assert_allclose(out, want, rtol=tol, atol=tol * np.abs(want).max())


def test_block_width_splits_only_into_small_products():
    """SkylakeX kernels only; a dimension over one block and a multiple of it; a whole product
    over ``SMALL_WORK`` multiply-adds and blocks under it (the LSTM step's products of batch
    64, hidden 128: split; smaller or much larger ones: not)."""
    class Library:
        core = "SkylakeX"

    skx, hsw = Library(), Library()
    hsw.core = "Haswell"
    width = blas_steps.block_width
    assert width(skx, 64, 512, 192, "columns") == blas_steps.BLOCK == 64
    assert width(skx, 64, 128, 512, "depth") == 64
    assert width(hsw, 64, 512, 192, "columns") == 0                 # other kernels
    assert width(None, 64, 512, 192, "columns") == 0                # no direct gemm
    assert width(skx, 64, 500, 192, "columns") == 0                 # not a multiple of 64
    assert width(skx, 16, 512, 64, "columns") == 0                  # small already
    assert width(skx, 64, 4096, 2048, "columns") == 0               # blocks too large
    assert width(skx, 64, 128, 64, "depth") == 0                    # one block


@pytest.mark.parametrize("dt", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("one_hot", [False, True], ids=["dense", "one-hot"])
def test_lstm_with_blocked_products_matches_generic_rule(library, monkeypatch, dt, one_hot):
    """The Numba ``lstm_layer`` kernel with each step's products in blocks (the forward's 4H
    columns and the backward's 4H depth in blocks of 4): states and every gradient the
    generic rule's to float rounding, both output halves flowing back."""
    monkeypatch.setattr(blas_steps, "block_width", _blocks_of(4))
    rng = np.random.default_rng(12)
    B, T, I, H = 3, 5, 7, 8
    x = (np.eye(I, dtype=dt)[rng.integers(0, I, (B, T))] if one_hot
         else rng.normal(size=(B, T, I)).astype(dt))
    args = (x, rng.normal(size=(B, H)).astype(dt), rng.normal(size=(B, H)).astype(dt),
            (rng.normal(size=(I, 4 * H)) * 0.5).astype(dt),
            (rng.normal(size=(H, 4 * H)) * 0.5).astype(dt), rng.normal(size=4 * H).astype(dt))
    g = rng.normal(size=(2, B, T, H)).astype(dt)
    needs = (True,) * 6
    for split in ("columns", "depth"):             # the kernels' products do split
        stack = np.ones((T, B, 4 * H if split == "depth" else I + H), dt)
        b = np.ones((stack.shape[2], H if split == "depth" else 4 * H), dt)
        assert len(blas.stepped_plans(stack, b, np.empty((B, b.shape[1]), dt), split)[0]) > 1
    out, saved = _scans.lstm_layer_forward(*args)
    got = [out, *_scans.lstm_layer_vjp(g, saved, needs, *args)]
    want = [_lstm_layer_forward(np, *args)]
    want += _lstm_layer_vjp(np, g, want[0], needs, *args)
    tol = 2e-4 if dt == np.float32 else 1e-12
    for a, b, what in zip(got, want, ("states", "x", "h0", "c0", "w_ih", "w_hh", "b")):
        scale = max(1.0, float(np.abs(b).max()))
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol * scale, err_msg=what)


def _scan_case(rng, name, dt, B, T, H):
    """``(forward args, generic forward, generic vjp, gate width)`` of a ``name`` scan."""
    G = {"lstm_scan": 4 * H, "gru_scan": 3 * H}.get(name, H)
    xproj, h0 = rng.normal(size=(B, T, G)).astype(dt), rng.normal(size=(B, H)).astype(dt)
    w_hh = (rng.normal(size=(H, G)) * 0.5).astype(dt)
    if name == "lstm_scan":
        return (xproj, h0, rng.normal(size=(B, H)).astype(dt), w_hh), _lstm_forward, _lstm_vjp
    if name == "gru_scan":
        return (xproj, h0, w_hh, rng.normal(size=H).astype(dt)), _gru_forward, _gru_vjp
    args = (xproj, h0, w_hh, name.split()[1])
    return args, _rnn_forward, _rnn_vjp


#: the compiled loops each scan's forward and vjp run
LOOPS = {"lstm_scan": ("lstm_forward_steps", "lstm_backward_steps"),
         "gru_scan": ("gru_forward_steps", "gru_backward_steps"),
         "rnn_scan tanh": ("rnn_forward_steps", "rnn_backward_steps"),
         "rnn_scan relu": ("rnn_forward_steps", "rnn_backward_steps")}


@pytest.mark.parametrize("dt", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("name", list(LOOPS))
@pytest.mark.parametrize("sizes", [(3, 5, 8), (2, 1, 8), (1, 4, 12)], ids=str)
def test_scans_with_blocked_products_match_generic_rule(library, monkeypatch, dt, name, sizes):
    """The Numba ``lstm_scan``, ``rnn_scan`` and ``gru_scan`` kernels run their whole scans as
    compiled loops, each step's product in blocks (the forward's gate columns and the
    backward's depth in blocks of 4): states and every gradient the generic rule's to float
    rounding, one step and batch 1 included."""
    monkeypatch.setattr(blas_steps, "block_width", _blocks_of(4))
    ran = []
    for loop in LOOPS[name]:
        def counting(*a, _loop=getattr(_rnn, loop), _name=loop):
            ran.append(_name)
            return _loop(*a)
        monkeypatch.setattr(_rnn, loop, counting)
    B, T, H = sizes
    rng = np.random.default_rng(sum(sizes))
    args, generic_forward, generic_vjp = _scan_case(rng, name, dt, B, T, H)
    kernel = _scans.KERNELS[name.split()[0]]
    out, saved = kernel.forward(*args)
    g = rng.normal(size=out.shape).astype(dt)
    got = [out, *kernel.vjp(g, saved, *args)]
    assert ran == list(LOOPS[name])
    for stack, b, split in ((np.ones((T, B, H), dt), args[2 if name != "lstm_scan" else 3],
                             "columns"),
                            (np.ones((T, B, args[0].shape[2]), dt),
                             np.ones((args[0].shape[2], H), dt), "depth")):
        count = len(blas.stepped_plans(stack, b, np.empty((B, b.shape[1]), dt), split)[0])
        assert count == b.shape[1 if split == "columns" else 0] // 4 > 1    # blocks do run
    want = [generic_forward(np, *args)]
    want += generic_vjp(np, g, want[0], (True,) * 4, *args)
    tol = 2e-4 if dt == np.float32 else 1e-12
    for a, b, what in zip(got, want, ("states", "xproj", "h0", "c0/w_hh", "w_hh/b_hn")):
        scale = max(1.0, float(np.abs(b).max()))
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol * scale, err_msg=what)
