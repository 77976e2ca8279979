"""``numpy.fft`` on Tensors: sent to ``xg.fft`` (``fft2`` and its kin as ``fftn`` over the
last two axes; ``norm=None`` as ``"backward"``).

>>> import numpy as np, xpgrad as xg
>>> np.fft.rfft(xg.asarray([1.0, 0.0, 0.0, 0.0])).tolist()
[(1+0j), (1+0j), (1+0j)]
"""
from __future__ import annotations

from .arguments import _fn, _tensor
from .functions import FUNCTIONS


# -- numpy.fft ------------------------------------------------------------------------------------

def _fft_one(name):
    def adapter(a, n=None, axis=-1, norm=None):
        return _fn(f"fft.{name}")(_tensor(a), n=n, axis=axis, norm=norm or "backward")
    return adapter


def _fft_many(name, default_axes=None):
    def adapter(a, s=None, axes=default_axes, norm=None):
        return _fn(f"fft.{name}")(_tensor(a), s=s, axes=axes, norm=norm or "backward")
    return adapter


for _name in ("fft", "ifft", "rfft", "irfft", "hfft", "ihfft"):
    FUNCTIONS[("numpy.fft", _name)] = _fft_one(_name)
for _name in ("fftn", "ifftn", "rfftn", "irfftn"):
    FUNCTIONS[("numpy.fft", _name)] = _fft_many(_name)
for _name in ("fft2", "ifft2", "rfft2", "irfft2"):
    FUNCTIONS[("numpy.fft", _name)] = _fft_many(_name[:-1] + "n", default_axes=(-2, -1))


def _shift(name):
    def adapter(x, axes=None):
        return _fn(f"fft.{name}")(_tensor(x), axes=axes)
    return adapter


FUNCTIONS[("numpy.fft", "fftshift")] = _shift("fftshift")
FUNCTIONS[("numpy.fft", "ifftshift")] = _shift("ifftshift")
