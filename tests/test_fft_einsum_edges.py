"""xg.einsum and xg.fft at their edges, real inputs: repeated labels, ellipses, broadcasting of
size-1 and size-0 axes, scalars; transform lengths that pad or crop, odd lengths, axes, every
norm, the Hermitian transforms and the shifts. Values and gradients against PyTorch (float64),
second order against finite differences, float32 gradients staying float32 and the numba
backend agreeing with numpy."""
from __future__ import annotations

import numpy as np
import pytest

import xpgrad as xg
from conftest import backend_report
from xpgrad.testing import check_grads

from torch_compare import assert_matches_torch, xpgrad_values_and_grads

torch = pytest.importorskip("torch")
F, TF = xg.fft, torch.fft


def _rand(*shape, seed=0):
    return np.random.default_rng(seed + len(shape) + sum(shape)).standard_normal(shape)


# -- einsum ---------------------------------------------------------------------------------------
EINSUM = [
    ("ii->i", [(3, 3)]), ("ii", [(3, 3)]), ("iij->j", [(3, 3, 4)]), ("iji->j", [(3, 4, 3)]),
    ("iii->i", [(3, 3, 3)]), ("ij", [(3, 4)]), ("ji", [(3, 4)]), ("ij->", [(3, 4)]),
    ("...ii->...i", [(2, 3, 3)]), ("i...i->...", [(3, 2, 3)]), ("ii...->i...", [(3, 3, 2, 1)]),
    ("i,j->ij", [(3,), (4,)]), ("i,i", [(3,), (3,)]), (",->", [(), ()]), (",i->i", [(), (3,)]),
    ("->", [()]), ("ij,jk->ik", [(2, 1), (3, 4)]), ("ij,jk", [(2, 3), (1, 4)]),
    ("...ij,...jk->...ik", [(2, 1, 2, 3), (4, 3, 5)]), ("...,...->...", [(2, 3), (3,)]),
    ("i...,i...->...", [(3, 2), (3, 1)]), ("ij,ij->ij", [(1, 3), (4, 1)]),
    ("ii,i->i", [(3, 3), (3,)]), ("iij,kk->jk", [(3, 3, 2), (4, 4)]), ("...", [(2, 3)]),
    ("ab,cd->abcd", [(2, 1), (1, 3)]), ("Aa,aB->AB", [(2, 3), (3, 2)]), ("ii->i", [(1, 1)]),
    # size-0 axes: an empty sum is 0, an empty output is empty
    ("i->", [(0,)]), ("ij,jk->ik", [(2, 0), (0, 3)]), ("ij,jk->ik", [(0, 2), (2, 3)]),
    ("ij,j->i", [(2, 0), (1,)]), ("...i,...i->...", [(0, 3), (1, 3)]), ("ii->i", [(0, 0)]),
]


@pytest.mark.parametrize("spec,shapes", EINSUM, ids=[f"{s!r}{sh}" for s, sh in EINSUM])
def test_einsum_matches_torch(spec, shapes):
    assert_matches_torch(lambda *a: xg.einsum(spec, *a), lambda *a: torch.einsum(spec, *a),
                         [_rand(*s, seed=k) for k, s in enumerate(shapes)])


@pytest.mark.parametrize("spec,shapes", [("ij,jk->ik", [(2, 0), (3, 3)]),
                                         ("...i,...i->...", [(0, 3), (2, 3)])])
def test_einsum_size_zero_does_not_broadcast_against_a_larger_size(spec, shapes):
    with pytest.raises(ValueError, match="einsum"):
        xg.einsum(spec, *[xg.ones(s) for s in shapes])


@pytest.mark.parametrize("spec,shapes", [("ij,jk,ki->", [(3, 3)] * 3), ("ii,jj->", [(3, 3)] * 2),
                                         ("iij,j->i", [(2, 2, 3), (3,)])])
def test_einsum_second_order(spec, shapes):
    arrays = [xg.asarray(_rand(*s, seed=k)) for k, s in enumerate(shapes)]
    check_grads(lambda *a: xg.einsum(spec, *a), arrays, order=2)


# -- fft ------------------------------------------------------------------------------------------
ONE_AXIS = ["fft", "ifft", "rfft", "irfft", "hfft", "ihfft"]
SHAPES = [((6,), -1), ((5,), -1), ((3, 7), 0), ((2, 5, 4), 1)]
FFT = [(name, n, shape, axis, norm) for name in ONE_AXIS for n in (None, 1, 3, 5, 8)
       for shape, axis in SHAPES for norm in ("backward", "ortho", "forward")
       if norm == "backward" or shape == (5,)]


@pytest.mark.parametrize("name,n,shape,axis,norm", FFT)
def test_one_axis_transforms_match_torch(name, n, shape, axis, norm):
    assert_matches_torch(lambda a: getattr(F, name)(a, n=n, axis=axis, norm=norm),
                         lambda a: getattr(TF, name)(a, n=n, dim=axis, norm=norm),
                         [_rand(*shape)])


MANY_AXES = [((4, 6), None, None), ((4, 5), (3, 7), None), ((2, 4, 5), (5,), None),
             ((2, 4, 5), (3, 4), (0, 2)), ((2, 4, 5), None, (2, 0)), ((3, 5), (-1, 6), None),
             ((3, 5), (2, 3), (1, 0)), ((2, 3, 4), (3, 4, 5), None)]
FFTN = [(name, shape, s, axes, norm) for name in ("fftn", "ifftn", "rfftn", "irfftn")
        for shape, s, axes in MANY_AXES for norm in ("backward", "ortho", "forward")]


@pytest.mark.parametrize("name,shape,s,axes,norm", FFTN)
def test_many_axes_transforms_match_torch(name, shape, s, axes, norm):
    assert_matches_torch(lambda a: getattr(F, name)(a, s=s, axes=axes, norm=norm),
                         lambda a: getattr(TF, name)(a, s=s, dim=axes, norm=norm),
                         [_rand(*shape)])


@pytest.mark.parametrize("name", ["fftshift", "ifftshift"])
@pytest.mark.parametrize("shape,axes", [((5,), None), ((4, 5), None), ((4, 5), 0),
                                        ((4, 5), (1,)), ((3, 4, 5), (-1, 0))])
def test_shifts_match_torch(name, shape, axes):
    assert_matches_torch(lambda a: getattr(F, name)(a, axes=axes),
                         lambda a: getattr(TF, name)(a, dim=axes), [_rand(*shape)])


@pytest.mark.parametrize("n", [1, 2, 5, 8])
@pytest.mark.parametrize("d", [1.0, 0.3])
def test_frequencies_match_torch(n, d):
    for ours, theirs in ((F.fftfreq, TF.fftfreq), (F.rfftfreq, TF.rfftfreq)):
        np.testing.assert_allclose(ours(n, d=d, dtype=xg.float64).numpy(),
                                   theirs(n, d=d, dtype=torch.float64).numpy(), rtol=1e-15)


@pytest.mark.parametrize("name", ["fft", "rfft", "ihfft"])
def test_transforms_of_an_empty_batch(name):
    # PyTorch's MKL backend refuses these; NumPy gives an empty result, and so do we
    _, (grad,) = xpgrad_values_and_grads(lambda a: getattr(F, name)(a), [np.zeros((0, 4))])
    assert grad.shape == (0, 4)


SECOND_ORDER = {
    "fft_abs3": (lambda a: xg.abs(F.fft(a, n=7, norm="ortho")) ** 3, (5,)),
    "rfft_padded": (lambda a: xg.abs(F.rfft(a, n=8)) ** 2, (5,)),
    "irfft_odd": (lambda a: F.irfft(a, n=7) ** 3, (5,)),
    "hfft_odd": (lambda a: F.hfft(a, n=7) ** 3, (5,)),
    "ihfft_forward": (lambda a: xg.abs(F.ihfft(a, n=7, norm="forward")) ** 3, (5,)),
    "rfftn_cropped": (lambda a: xg.abs(F.rfftn(a, s=(2, 3))) ** 3, (3, 4)),
    "fftshift": (lambda a: F.fftshift(a ** 3), (2, 5)),
}


@pytest.mark.parametrize("name", sorted(SECOND_ORDER))
def test_fft_second_order(name):
    fn, shape = SECOND_ORDER[name]
    check_grads(fn, [xg.asarray(_rand(*shape))], order=2, rtol=1e-4, atol=1e-6)


# -- float32 and numba ----------------------------------------------------------------------------
DTYPE_CASES = {
    "einsum_diag": (lambda a: xg.einsum("iij->j", a), (3, 3, 2)),
    "einsum_ellipsis": (lambda a: xg.einsum("...ij,...jk->...ik", a, a), (2, 3, 3)),
    "fft": (lambda a: F.fft(a, n=5, norm="ortho"), (2, 6)),
    "rfft": (lambda a: F.rfft(a, n=7, axis=0), (5, 2)),
    "irfft": (lambda a: F.irfft(a, n=9), (2, 5)),
    "hfft": (lambda a: F.hfft(a, n=5, norm="forward"), (2, 4)),
    "ihfft": (lambda a: F.ihfft(a, n=5), (2, 4)),
    "rfftn": (lambda a: F.rfftn(a, s=(3, 5)), (2, 4)),
    "irfftn": (lambda a: F.irfftn(a, s=(3, 5)), (2, 4)),
    "ifftshift": (lambda a: F.ifftshift(a, axes=0), (5, 2)),
}


@pytest.mark.parametrize("name", sorted(DTYPE_CASES))
def test_float32_gradients_stay_float32_and_numba_agrees(name):
    if "numba" not in backend_report():
        pytest.skip("numba is not installed")
    fn, shape = DTYPE_CASES[name]
    arrays = [_rand(*shape)]
    _, (g64,) = xpgrad_values_and_grads(fn, arrays)
    values32, (g32,) = xpgrad_values_and_grads(fn, arrays, dtype="float32")
    _, (gnb,) = xpgrad_values_and_grads(fn, arrays, backend="numba")
    assert g32.dtype == np.float32 and all(v.dtype == np.float32 for v in values32)
    np.testing.assert_allclose(g32, g64, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(gnb, g64, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("spec", ["......", "i.j", "..i..", "ij->i.", "ij->......", "ij->i->j",
                                  "i-j"])
def test_einsum_malformed_subscripts_are_einsum_errors(spec):
    # NumPy and PyTorch refuse these too; the message must say what is wrong in the subscripts
    with pytest.raises(ValueError, match=r"einsum: .*subscripts|einsum: labels"):
        xg.einsum(spec, xg.ones((3, 4)))


def test_numpy_integers_are_taken_for_axes_and_lengths():
    a = _rand(3, 4)
    assert_matches_torch(lambda x: F.fftshift(x, axes=np.int64(0)),
                         lambda x: TF.fftshift(x, dim=0), [a])
    assert_matches_torch(lambda x: F.fftn(x, s=(np.int64(-1), np.int64(3))),   # -1: its own
                         lambda x: TF.fftn(x, s=(-1, 3)), [a])
    assert_matches_torch(lambda x: F.irfftn(x, s=np.array([2, -1])),
                         lambda x: TF.irfftn(x, s=(2, -1)), [a])
