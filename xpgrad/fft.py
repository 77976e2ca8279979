"""The array API's ``fft`` extension: ``xg.fft`` (primitives in ``xpgrad/ops/fft.py``)."""
from .ops.fft import *  # noqa: F401,F403
from .ops.fft import __all__  # noqa: F401
