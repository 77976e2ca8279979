"""The NumPy backend namespace's fft extension: ``array_api_compat.numpy``'s, except that a
single-precision transform NumPy leaves unscaled (a forward one with ``norm="backward"``, the
default, or an inverse one with ``norm="forward"``) runs scaled by ``1/N`` and is multiplied
by ``N`` (the product of the transform lengths) afterwards.

NumPy 2.4 passes the unit scale of those transforms to its pocketfft ufunc as the Python int
1, which selects the complex128 loop: a complex64 (or float32) input is then cast to complex128
and back in buffered chunks, where a scaled transform (a float32 scale) runs the
single-precision loop. 256x256 complex64 ``fftn``, one core: 1230 us unscaled, 210 scaled and
multiplied back. The results are single-precision transforms, as PyTorch's are: within
float32 rounding of NumPy's (which computes each axis in double precision and rounds once),
about 4 times its error against a float64 transform. Transform sizes past 2**24 (where ``N``
is no longer exact in float32) and double precision keep NumPy's path.

>>> import numpy as np
>>> fftn(np.ones((2, 4), np.complex64)).tolist()
[[(8+0j), 0j, 0j, 0j], [0j, 0j, 0j, 0j]]
"""
from __future__ import annotations

import math

import array_api_compat.numpy.fft as _compat
import numpy as np

globals().update({name: getattr(_compat, name) for name in _compat.__all__
                  if name not in ("__builtins__", "test")})

_SINGLE = frozenset((np.dtype(np.float32), np.dtype(np.complex64)))
#: above this the float32 product of the lengths is no longer exact
_MAX_LENGTH = 1 << 24
_UNIT = {True: "backward", False: "forward"}        # forward transform? -> its unscaled norm


def _scaled(transform, x, lengths, norm, forward, **kw):
    """``transform(x, norm=norm, **kw)``, for an unscaled single-precision transform by its
    scaled twin times the product of ``lengths``."""
    if getattr(x, "dtype", None) not in _SINGLE or norm != _UNIT[forward]:
        return transform(x, norm=norm, **kw)
    total = math.prod(lengths())
    if not 0 < total <= _MAX_LENGTH:
        return transform(x, norm=norm, **kw)
    out = transform(x, norm=_UNIT[not forward], **kw)
    out *= np.float32(total)
    return out


def _axes_lengths(x, s, axes, last_half=False):
    """The transform lengths over ``axes`` as NumPy takes ``s`` and ``axes`` (no ``axes``: all
    axes, or the last ``len(s)``); ``last_half``: the last axis holds a half spectrum, its
    default length ``2 * (m - 1)``."""
    if s is not None:
        return list(s)
    if axes is None:
        axes = range(x.ndim)
    lengths = [x.shape[a] for a in axes]
    if last_half and lengths:
        lengths[-1] = 2 * (lengths[-1] - 1)
    return lengths


def fft(x, /, *, n=None, axis=-1, norm="backward"):
    """The array API's ``fft`` (see the module docstring for single precision).

    >>> fft(np.ones(4, np.float32)).tolist()
    [(4+0j), 0j, 0j, 0j]
    """
    return _scaled(_compat.fft, x, lambda: [x.shape[axis] if n is None else n], norm, True,
                   n=n, axis=axis)


def ifft(x, /, *, n=None, axis=-1, norm="backward"):
    """The array API's ``ifft`` (see the module docstring for single precision).

    >>> ifft(np.ones(4, np.complex64), norm="forward").tolist()
    [(4+0j), 0j, 0j, 0j]
    """
    return _scaled(_compat.ifft, x, lambda: [x.shape[axis] if n is None else n], norm, False,
                   n=n, axis=axis)


def rfft(x, /, *, n=None, axis=-1, norm="backward"):
    """The array API's ``rfft`` (see the module docstring for single precision).

    >>> rfft(np.ones(4, np.float32)).tolist()
    [(4+0j), 0j, 0j]
    """
    return _scaled(_compat.rfft, x, lambda: [x.shape[axis] if n is None else n], norm, True,
                   n=n, axis=axis)


def irfft(x, /, *, n=None, axis=-1, norm="backward"):
    """The array API's ``irfft`` (see the module docstring for single precision).

    >>> irfft(np.ones(3, np.complex64), norm="forward").tolist()
    [4.0, 0.0, 0.0, 0.0]
    """
    return _scaled(_compat.irfft, x,
                   lambda: [2 * (x.shape[axis] - 1) if n is None else n], norm, False,
                   n=n, axis=axis)


def fftn(x, /, *, s=None, axes=None, norm="backward"):
    """The array API's ``fftn`` (see the module docstring for single precision).

    >>> fftn(np.ones((2, 2), np.float32)).tolist()
    [[(4+0j), 0j], [0j, 0j]]
    """
    return _scaled(_compat.fftn, x, lambda: _axes_lengths(x, s, axes), norm, True, s=s,
                   axes=axes)


def ifftn(x, /, *, s=None, axes=None, norm="backward"):
    """The array API's ``ifftn`` (see the module docstring for single precision).

    >>> ifftn(np.ones((2, 2), np.complex64), norm="forward").tolist()
    [[(4+0j), 0j], [0j, 0j]]
    """
    return _scaled(_compat.ifftn, x, lambda: _axes_lengths(x, s, axes), norm, False, s=s,
                   axes=axes)


def rfftn(x, /, *, s=None, axes=None, norm="backward"):
    """The array API's ``rfftn`` (see the module docstring for single precision).

    >>> rfftn(np.ones((2, 2), np.float32)).tolist()
    [[(4+0j), 0j], [0j, 0j]]
    """
    return _scaled(_compat.rfftn, x, lambda: _axes_lengths(x, s, axes), norm, True, s=s,
                   axes=axes)


def irfftn(x, /, *, s=None, axes=None, norm="backward"):
    """The array API's ``irfftn`` (see the module docstring for single precision).

    >>> irfftn(np.ones((2, 2), np.complex64), norm="forward").tolist()
    [[4.0, 0.0], [0.0, 0.0]]
    """
    return _scaled(_compat.irfftn, x, lambda: _axes_lengths(x, s, axes, last_half=True), norm,
                   False, s=s, axes=axes)
