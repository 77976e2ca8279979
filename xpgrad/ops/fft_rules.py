"""The fft extension's primitives, each with its vjp (the functions of ``xg.fft`` in
``fft.py`` apply them).

Every transform is linear, so its vjp is its adjoint, itself a transform of the family: the
adjoint of a forward transform is the inverse one with the opposite normalization
("backward" <-> "forward", "ortho" stays), and zero-padding or trimming to ``n``/``s`` is undone
by trimming or zero-padding the gradient. The real transforms add the Hermitian bookkeeping
(as JAX and PyTorch do): the adjoint of ``rfft`` halves the bins that stand for two
frequencies (neither the DC nor the Nyquist bin) before an ``irfft``, and the adjoint of
``irfft`` doubles them after an ``rfft``. A real input of a complex transform gets the real
part of the adjoint. Complex gradients follow PyTorch's convention (the gradient of a real
loss ``L`` is ``dL/dRe + i dL/dIm``). The shifts are permutations: their vjp is the inverse
shift. ``fftfreq``/``rfftfreq`` make constants and have no gradient.

The rules call ``xp.fft``: the backend namespace's fft extension on a first-order pass,
``xg.fft`` itself under an outer tape, so higher orders need no further rules.

>>> import xpgrad as xg
>>> x = xg.asarray([1.0, 2.0, 3.0, 4.0], dtype=xg.float64)
>>> with xg.GradientTape() as tape:
...     tape.watch(x)
...     y = xg.fft.rfft(x)
...     loss = xg.sum(xg.fft.irfft(y * y, n=4))    # a real loss of complex intermediates
>>> tape.gradient(loss, x).tolist()
[20.0, 20.0, 20.0, 20.0]
"""
from __future__ import annotations

from ..primitive import Primitive, apply
from ..tensor import Tensor
from ._define import is_complex

# a normalization -> the one of its adjoint transform
_ADJOINT = {"backward": "forward", "ortho": "ortho", "forward": "backward"}


def _fft_of(xp):
    module = getattr(xp, "fft", None)
    if module is None:
        raise NotImplementedError(f"the array namespace {getattr(xp, '__name__', xp)!r} of "
                                  "this backend has no fft extension")
    return module


def _complex_of(xp, dtype):
    """The complex dtype matching a real floating one (raw namespaces)."""
    return xp.complex64 if dtype == xp.float32 else xp.complex128


# -- real <-> complex, differentiable (used by the rules for real inputs of complex transforms) --
_real_part = Primitive("fft_real_part", lambda xp, z: xp.real(z),
                       lambda xp, g, ans, z: _to_complex(xp, g))
_as_complex = Primitive("fft_to_complex",
                        lambda xp, x: xp.astype(x, _complex_of(xp, x.dtype)),
                        lambda xp, g, ans, x: _real(xp, g))


def _real(xp, a):
    return apply(_real_part, a) if isinstance(a, Tensor) else xp.real(a)


def _to_complex(xp, a):
    if isinstance(a, Tensor):
        return apply(_as_complex, a)
    return xp.astype(a, _complex_of(xp, a.dtype))


def _complex_input(xp, x):
    return x if is_complex(xp, x) else xp.astype(x, _complex_of(xp, x.dtype))


def _as_input(xp, grad, x):
    """A gradient computed in complex arithmetic, for input ``x`` (real part if ``x`` is real)."""
    return grad if is_complex(xp, x) else _real(xp, grad)


# -- the bookkeeping of the rules -----------------------------------------------------------------
def _along(axis, lo, hi):
    return (slice(None),) * axis + (slice(lo, hi), Ellipsis)


def _resize(xp, a, axes, sizes):
    """``a`` trimmed or zero-padded at the end to ``sizes[i]`` along ``axes[i]``."""
    for axis, size in zip(axes, sizes):
        have = a.shape[axis]
        if have > size:
            a = a[_along(axis, 0, size)]
        elif have < size:
            shape = list(a.shape)
            shape[axis] = size - have
            pad = xp.zeros(tuple(shape), dtype=a.dtype, device=a.device)
            a = xp.concat([a, pad], axis=axis)
    return a


def _scale_pairs(xp, a, axis, n, factor):
    """A half spectrum ``a`` (``n//2 + 1`` bins along ``axis``) with the bins that stand for
    two frequencies (0 < k < n/2) multiplied by ``factor``."""
    stop = (n + 1) // 2
    if stop <= 1:
        return a
    pieces = [a[_along(axis, 0, 1)], a[_along(axis, 1, stop)] * factor]
    if stop < a.shape[axis]:
        pieces.append(a[_along(axis, stop, None)])    # the Nyquist bin of an even n
    return xp.concat(pieces, axis=axis)


def _sizes(x, axes):
    return [x.shape[a] for a in axes]


# -- complex -> complex: fft, ifft, fftn, ifftn --------------------------------------------------
def _c2c_forward(xp, x, *, axes, s, norm, inverse):
    fft = _fft_of(xp)
    return (fft.ifftn if inverse else fft.fftn)(_complex_input(xp, x), s=s, axes=axes,
                                                norm=norm)


def _c2c_vjp(xp, g, ans, x, *, axes, s, norm, inverse):
    adjoint = xp.fft.fftn if inverse else xp.fft.ifftn
    back = adjoint(g, s=s, axes=axes, norm=_ADJOINT[norm])
    return _as_input(xp, _resize(xp, back, axes, _sizes(x, axes)), x)


_c2c = Primitive("fft_c2c", _c2c_forward, _c2c_vjp)


# -- real -> half spectrum: rfft, rfftn ----------------------------------------------------------
def _r2c_forward(xp, x, *, axes, s, norm):
    return _fft_of(xp).rfftn(x, s=s, axes=axes, norm=norm)


def _r2c_vjp(xp, g, ans, x, *, axes, s, norm):
    g = _scale_pairs(xp, g, axes[-1], s[-1], 0.5)
    back = xp.fft.irfftn(g, s=s, axes=axes, norm=_ADJOINT[norm])
    return _resize(xp, back, axes, _sizes(x, axes))


_r2c = Primitive("fft_r2c", _r2c_forward, _r2c_vjp)


# -- half spectrum -> real: irfft, irfftn --------------------------------------------------------
def _c2r_forward(xp, x, *, axes, s, norm):
    return _fft_of(xp).irfftn(_complex_input(xp, x), s=s, axes=axes, norm=norm)


def _c2r_vjp(xp, g, ans, x, *, axes, s, norm):
    back = xp.fft.rfftn(g, s=s, axes=axes, norm=_ADJOINT[norm])
    back = _scale_pairs(xp, back, axes[-1], s[-1], 2.0)
    return _as_input(xp, _resize(xp, back, axes, _sizes(x, axes)), x)


_c2r = Primitive("fft_c2r", _c2r_forward, _c2r_vjp)


# -- Hermitian: hfft (half spectrum -> real), ihfft (real -> half spectrum) -----------------------
def _hfft_forward(xp, x, *, axis, n, norm):
    return _fft_of(xp).hfft(_complex_input(xp, x), n=n, axis=axis, norm=norm)


def _hfft_vjp(xp, g, ans, x, *, axis, n, norm):
    back = xp.fft.ihfft(g, n=n, axis=axis, norm=_ADJOINT[norm])
    back = _scale_pairs(xp, back, axis, n, 2.0)
    return _as_input(xp, _resize(xp, back, (axis,), (x.shape[axis],)), x)


_hfft = Primitive("fft_hfft", _hfft_forward, _hfft_vjp)


def _ihfft_forward(xp, x, *, axis, n, norm):
    return _fft_of(xp).ihfft(x, n=n, axis=axis, norm=norm)


def _ihfft_vjp(xp, g, ans, x, *, axis, n, norm):
    g = _scale_pairs(xp, g, axis, n, 0.5)
    back = xp.fft.hfft(g, n=n, axis=axis, norm=_ADJOINT[norm])
    return _resize(xp, back, (axis,), (x.shape[axis],))


_ihfft = Primitive("fft_ihfft", _ihfft_forward, _ihfft_vjp)


# -- shifts ---------------------------------------------------------------------------------------
def _shift_forward(xp, x, *, axes, inverse):
    fft = _fft_of(xp)
    return (fft.ifftshift if inverse else fft.fftshift)(x, axes=axes)


def _shift_vjp(xp, g, ans, x, *, axes, inverse):
    return (xp.fft.fftshift if inverse else xp.fft.ifftshift)(g, axes=axes)


_shift = Primitive("fft_shift", _shift_forward, _shift_vjp)
