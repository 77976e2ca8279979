"""The array API's ``fft`` extension: ``xg.fft`` (functions in ``xpgrad/ops/fft.py``, their
primitives and vjp rules in ``xpgrad/ops/fft_rules.py``).

Every transform and shift is differentiable (to any order); ``fftfreq``/``rfftfreq`` make
constants.

>>> import xpgrad as xg
>>> x = xg.asarray([0.0, 1.0, 0.0, -1.0], dtype=xg.float64)
>>> xg.fft.rfft(x).tolist()
[0j, -2j, 0j]
>>> xg.grad(lambda x: xg.sum(xg.fft.irfft(xg.fft.rfft(x), n=4)))(x).tolist()
[1.0, 1.0, 1.0, 1.0]
"""
from .ops.fft import *  # noqa: F401,F403
from .ops.fft import __all__  # noqa: F401
