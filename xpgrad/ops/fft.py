"""The fft extension's functions (exposed as ``xg.fft``): their arguments checked (``n``,
``s``, ``axes``, ``norm``; integer input taken as the default real floating dtype), then the
primitives of ``fft_rules.py`` applied, where each vjp rule lives. ``fftfreq``/``rfftfreq``
make constants and have no gradient. As in NumPy, JAX and PyTorch, ``n`` and ``axis`` (``s``
and ``axes``; a shift's ``axes``) may be given positionally, in that order (``fft(x, 8, 0)``);
``norm`` by keyword only.

>>> import xpgrad as xg
>>> xg.fft.fftn(xg.asarray([[1, 1], [1, 1]]), norm="forward").tolist()
[[(1+0j), 0j], [0j, 0j]]
>>> xg.fft.fft(xg.ones(4), norm="none")
Traceback (most recent call last):
...
ValueError: fft: norm must be "backward", "ortho" or "forward", got 'none'
"""
from __future__ import annotations

import contextlib
import numbers
import operator

from .. import dtypes as _dt
from .._args import TORCH_AXES_KEYWORDS, refuse_keywords
from ..devices import resolve
from ..primitive import apply
from ..tensor import _wrap
from ._define import as_tensor, norm_axis
from .fft_rules import _ADJOINT, _c2c, _c2r, _hfft, _ihfft, _r2c, _shift


# -- argument checks ----------------------------------------------------------------------------
def _norm(fn, norm):
    if norm is None:
        return "backward"
    if not isinstance(norm, str) or norm not in _ADJOINT:
        raise ValueError(f'{fn}: norm must be "backward", "ortho" or "forward", got {norm!r}')
    return norm


def _length(fn, what, value):
    if isinstance(value, bool):
        raise TypeError(f"{fn}: {what} must be an int, got a bool")
    try:
        value = operator.index(value)
    except TypeError:
        raise TypeError(f"{fn}: {what} must be an int, got {type(value).__name__}") from None
    if value < 1:
        raise ValueError(f"{fn}: {what} must be at least 1, got {value}")
    return value


def _input(fn, x, real):
    """``x`` as a Tensor of at least one dimension; integers become the default real floating
    dtype. ``real``: the transform takes real input only."""
    x = as_tensor(x, fn)
    kind = x.dtype.kind
    if kind in "biu":
        from .casting import astype

        x = astype(x, _dt.DEFAULTS["real floating"])
    elif real and kind == "c":
        raise TypeError(f"{fn}: x must have a real floating-point dtype, got {x.dtype} (the "
                        "complex transforms take complex input)")
    if x.ndim == 0:
        raise ValueError(f"{fn}: x must have at least one dimension, got a 0-d tensor")
    return x


def _half_default(m):
    return 2 * (m - 1)


def _one_axis(fn, x, n, axis, half=False):
    """The non-negative axis and the transform length; ``half``: ``n`` counts the output of a
    half-spectrum input (default ``2*(M-1)``)."""
    axis = norm_axis(axis, x.ndim)
    m = x.shape[axis]
    if n is None:
        n = _half_default(m) if half else m
        if n < 1:
            raise ValueError(f"{fn}: x has {m} point{'s' if m != 1 else ''} along axis {axis}, "
                             f"which gives a transform of length {n}; pass n >= 1")
    else:
        n = _length(fn, "n", n)
    return axis, n


def _many_axes(fn, x, s, axes, half=False):
    """``(axes, s)`` as tuples of non-negative axes and lengths (``-1`` in ``s``: the default
    length of that axis). Without ``axes``, all axes, or the last ``len(s)`` ones."""
    if s is not None:
        try:
            s = list(s)
        except TypeError:
            raise TypeError(f"{fn}: s must be a sequence of ints, got {s!r}") from None
    if axes is None:
        if s is None:
            axes = range(x.ndim)
        else:
            if len(s) > x.ndim:
                raise ValueError(f"{fn}: s has {len(s)} entries but x has only {x.ndim} "
                                 "dimensions")
            axes = range(x.ndim - len(s), x.ndim)
    else:
        try:
            axes = list(axes)
        except TypeError:
            raise TypeError(f"{fn}: axes must be a sequence of ints, got {axes!r}") from None
    axes = tuple(norm_axis(a, x.ndim, "axes entry") for a in axes)
    if not axes:
        raise ValueError(f"{fn}: axes must name at least one axis")
    if len(set(axes)) != len(axes):
        raise ValueError(f"{fn}: axes must not repeat an axis, got {axes}")
    if s is None:
        s = [-1] * len(axes)
    elif len(s) != len(axes):
        raise ValueError(f"{fn}: s has {len(s)} entries but axes has {len(axes)}; they must "
                         "match")
    sizes = []
    for i, (axis, n) in enumerate(zip(axes, s)):
        if isinstance(n, numbers.Integral) and not isinstance(n, bool) and n == -1:
            m = x.shape[axis]
            n = _half_default(m) if half and i == len(axes) - 1 else m
            if n < 1:
                raise ValueError(f"{fn}: x has {m} point{'s' if m != 1 else ''} along axis "
                                 f"{axis}, which gives a transform of length {n}; pass s")
        else:
            n = _length(fn, "each entry of s", n)
        sizes.append(n)
    return axes, tuple(sizes)


# -- the public functions ---------------------------------------------------------------------
def fft(x, /, n=None, axis=-1, *, norm="backward", **unexpected):
    """One-dimensional discrete Fourier transform along ``axis``, of length ``n`` (zero-padding
    or trimming ``x``). Real input is taken as complex; the gradient of a real input is real.

    >>> import xpgrad as xg
    >>> xg.fft.fft(xg.asarray([1.0, 0.0, 0.0, 0.0])).tolist()
    [(1+0j), (1+0j), (1+0j), (1+0j)]
    """
    if unexpected:
        refuse_keywords("fft", unexpected)
    x = _input("fft", x, real=False)
    axis, n = _one_axis("fft", x, n, axis)
    return apply(_c2c, x, axes=(axis,), s=(n,), norm=_norm("fft", norm), inverse=False)


def ifft(x, /, n=None, axis=-1, *, norm="backward", **unexpected):
    """One-dimensional inverse discrete Fourier transform (see ``fft``).

    >>> import xpgrad as xg
    >>> xg.fft.ifft(xg.asarray([4.0, 0.0, 0.0, 0.0])).tolist()
    [(1+0j), (1+0j), (1+0j), (1+0j)]
    """
    if unexpected:
        refuse_keywords("ifft", unexpected)
    x = _input("ifft", x, real=False)
    axis, n = _one_axis("ifft", x, n, axis)
    return apply(_c2c, x, axes=(axis,), s=(n,), norm=_norm("ifft", norm), inverse=True)


def fftn(x, /, s=None, axes=None, *, norm="backward", **unexpected):
    """N-dimensional discrete Fourier transform over ``axes`` (all axes by default; the last
    ``len(s)`` when only ``s`` is given), with lengths ``s`` (``-1``: the axis's own length).

    >>> import xpgrad as xg
    >>> xg.fft.fftn(xg.ones((2, 3)), s=(2, 4), axes=(0, 1)).shape
    (2, 4)
    """
    if unexpected:
        refuse_keywords("fftn", unexpected, TORCH_AXES_KEYWORDS)
    x = _input("fftn", x, real=False)
    axes, s = _many_axes("fftn", x, s, axes)
    return apply(_c2c, x, axes=axes, s=s, norm=_norm("fftn", norm), inverse=False)


def ifftn(x, /, s=None, axes=None, *, norm="backward", **unexpected):
    """N-dimensional inverse discrete Fourier transform (see ``fftn``).

    >>> import xpgrad as xg
    >>> xg.fft.ifftn(xg.fft.fftn(xg.ones((2, 2)))).tolist()
    [[(1+0j), (1+0j)], [(1+0j), (1+0j)]]
    """
    if unexpected:
        refuse_keywords("ifftn", unexpected, TORCH_AXES_KEYWORDS)
    x = _input("ifftn", x, real=False)
    axes, s = _many_axes("ifftn", x, s, axes)
    return apply(_c2c, x, axes=axes, s=s, norm=_norm("ifftn", norm), inverse=True)


def rfft(x, /, n=None, axis=-1, *, norm="backward", **unexpected):
    """Discrete Fourier transform of real input: the ``n//2 + 1`` non-negative frequencies.

    >>> import xpgrad as xg
    >>> xg.fft.rfft(xg.asarray([1.0, 2.0, 3.0, 4.0])).tolist()
    [(10+0j), (-2+2j), (-2+0j)]
    """
    if unexpected:
        refuse_keywords("rfft", unexpected)
    x = _input("rfft", x, real=True)
    axis, n = _one_axis("rfft", x, n, axis)
    return apply(_r2c, x, axes=(axis,), s=(n,), norm=_norm("rfft", norm))


def irfft(x, /, n=None, axis=-1, *, norm="backward", **unexpected):
    """Inverse of ``rfft``: ``n`` real points (default ``2*(M-1)``) from a half spectrum of
    ``M`` bins (trimmed or zero-padded to ``n//2 + 1``). The imaginary parts of the DC and
    Nyquist bins do not enter, so their gradients are zero.

    >>> import xpgrad as xg
    >>> xg.fft.irfft(xg.asarray([10.0, -2 + 2j, -2.0], dtype=xg.complex64)).tolist()
    [1.0, 2.0, 3.0, 4.0]
    """
    if unexpected:
        refuse_keywords("irfft", unexpected)
    x = _input("irfft", x, real=False)
    axis, n = _one_axis("irfft", x, n, axis, half=True)
    return apply(_c2r, x, axes=(axis,), s=(n,), norm=_norm("irfft", norm))


def rfftn(x, /, s=None, axes=None, *, norm="backward", **unexpected):
    """N-dimensional transform of real input: ``fftn`` over all but the last of ``axes`` after
    an ``rfft`` over the last one (which keeps ``s[-1]//2 + 1`` bins).

    >>> import xpgrad as xg
    >>> xg.fft.rfftn(xg.ones((3, 4))).shape
    (3, 3)
    """
    if unexpected:
        refuse_keywords("rfftn", unexpected, TORCH_AXES_KEYWORDS)
    x = _input("rfftn", x, real=True)
    axes, s = _many_axes("rfftn", x, s, axes)
    return apply(_r2c, x, axes=axes, s=s, norm=_norm("rfftn", norm))


def irfftn(x, /, s=None, axes=None, *, norm="backward", **unexpected):
    """Inverse of ``rfftn``: real output of lengths ``s`` (by default the input's, except
    ``2*(M-1)`` along the last of ``axes``; ``-1`` in ``s`` asks for that default).

    >>> import xpgrad as xg
    >>> x = xg.ones((3, 4))
    >>> xg.fft.irfftn(xg.fft.rfftn(x), s=x.shape).shape
    (3, 4)
    """
    if unexpected:
        refuse_keywords("irfftn", unexpected, TORCH_AXES_KEYWORDS)
    x = _input("irfftn", x, real=False)
    axes, s = _many_axes("irfftn", x, s, axes, half=True)
    return apply(_c2r, x, axes=axes, s=s, norm=_norm("irfftn", norm))


def hfft(x, /, n=None, axis=-1, *, norm="backward", **unexpected):
    """Transform of a signal with Hermitian symmetry given by its first ``M`` points: ``n``
    real values (default ``2*(M-1)``).

    >>> import xpgrad as xg
    >>> xg.fft.hfft(xg.asarray([1.0, 2.0, 3.0], dtype=xg.complex64)).tolist()
    [8.0, -2.0, 0.0, -2.0]
    """
    if unexpected:
        refuse_keywords("hfft", unexpected)
    x = _input("hfft", x, real=False)
    axis, n = _one_axis("hfft", x, n, axis, half=True)
    return apply(_hfft, x, axis=axis, n=n, norm=_norm("hfft", norm))


def ihfft(x, /, n=None, axis=-1, *, norm="backward", **unexpected):
    """Inverse of ``hfft``: the first ``n//2 + 1`` points of the Hermitian spectrum whose
    ``hfft`` is the real ``x``.

    >>> import xpgrad as xg
    >>> x = xg.asarray([8.0, -2.0, 0.0, -2.0])
    >>> xg.fft.ihfft(x).shape, xg.fft.hfft(xg.fft.ihfft(x)).tolist()
    ((3,), [8.0, -2.0, 0.0, -2.0])
    """
    if unexpected:
        refuse_keywords("ihfft", unexpected)
    x = _input("ihfft", x, real=True)
    axis, n = _one_axis("ihfft", x, n, axis)
    return apply(_ihfft, x, axis=axis, n=n, norm=_norm("ihfft", norm))


def _shift_axes(fn, x, axes):
    if axes is None:
        return tuple(range(x.ndim))
    if isinstance(axes, bool):
        raise TypeError(f"{fn}: axes must be None, an int or a sequence of ints, got a bool")
    if isinstance(axes, numbers.Integral):       # NumPy ints too
        axes = (axes,)
    try:
        axes = tuple(axes)
    except TypeError:
        raise TypeError(f"{fn}: axes must be None, an int or a sequence of ints, got "
                        f"{axes!r}") from None
    out = tuple(norm_axis(a, x.ndim, "axes entry") for a in axes)
    if len(set(out)) != len(out):
        raise ValueError(f"{fn}: axes must not repeat an axis, got {axes}")
    return out


def fftshift(x, /, axes=None, **unexpected):
    """Roll the zero frequency to the middle of ``axes`` (all by default); its gradient is
    the inverse shift.

    >>> import xpgrad as xg
    >>> xg.fft.fftshift(xg.fft.fftfreq(5)).tolist()
    [-0.4000000059604645, -0.20000000298023224, 0.0, 0.20000000298023224, 0.4000000059604645]
    """
    if unexpected:
        refuse_keywords("fftshift", unexpected, TORCH_AXES_KEYWORDS)
    x = as_tensor(x, "fftshift")
    return apply(_shift, x, axes=_shift_axes("fftshift", x, axes), inverse=False)


def ifftshift(x, /, axes=None, **unexpected):
    """The inverse of ``fftshift`` (they differ for odd lengths).

    >>> import xpgrad as xg
    >>> xg.fft.ifftshift(xg.asarray([3, 4, 0, 1, 2])).tolist()
    [0, 1, 2, 3, 4]
    """
    if unexpected:
        refuse_keywords("ifftshift", unexpected, TORCH_AXES_KEYWORDS)
    x = as_tensor(x, "ifftshift")
    return apply(_shift, x, axes=_shift_axes("ifftshift", x, axes), inverse=True)


def _frequencies(fn, n, d, dtype, device, backend, half):
    n = _length(fn, "n", n)
    if isinstance(d, (bool, complex)) or not hasattr(d, "__float__"):
        raise TypeError(f"{fn}: d must be a real number, got {d!r}")
    d = float(d)
    if d == 0:
        raise ValueError(f"{fn}: the sample spacing d must not be 0")
    dtype = _dt.DEFAULTS["real floating"] if dtype is None else _dt.as_dtype(dtype)
    if dtype.kind != "f":
        raise TypeError(f"{fn}: dtype must be a real floating-point dtype, got {dtype}")
    be, native = resolve(device, backend, fn)
    place = be.on_device(native) if native is not None else contextlib.nullcontext()
    xp = be.xp
    # k / (n d) with k = 0, 1, ..., then the negative frequencies: exact in the asked dtype
    count = n // 2 + 1 if half else n
    with place:
        k = xp.arange(count, dtype=be.native_dtype(dtype))
        if not half:
            k = xp.where(k < (n + 1) // 2, k, k - n)
        return _wrap(k / (n * d), be)


def fftfreq(n, /, *, d=1.0, dtype=None, device=None, backend=None):
    """The sample frequencies of an ``n``-point ``fft`` for spacing ``d``: ``[0, 1, ...,
    -2, -1] / (d*n)``, in ``dtype`` (default float32) on ``device``. No gradient.

    >>> import xpgrad as xg
    >>> xg.fft.fftfreq(4, d=0.5).tolist()
    [0.0, 0.5, -1.0, -0.5]
    """
    return _frequencies("fftfreq", n, d, dtype, device, backend, half=False)


def rfftfreq(n, /, *, d=1.0, dtype=None, device=None, backend=None):
    """The ``n//2 + 1`` non-negative sample frequencies of an ``n``-point ``rfft``.

    >>> import xpgrad as xg
    >>> xg.fft.rfftfreq(4).tolist()
    [0.0, 0.25, 0.5]
    """
    return _frequencies("rfftfreq", n, d, dtype, device, backend, half=True)


__all__ = ["fft", "ifft", "fftn", "ifftn", "rfft", "irfft", "rfftn", "irfftn", "hfft", "ihfft",
           "fftfreq", "rfftfreq", "fftshift", "ifftshift"]
