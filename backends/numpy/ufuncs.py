"""NumPy's ``clip`` ufunc itself, for the kernels' clips. ``np.clip`` is a Python function
around it (0.5-1 us a call), and ``maximum``/``minimum`` with a scalar bound run a slower loop
than clip's: 128x256 float32 in place here, the ufunc 4.1 us, ``np.clip`` 5.3, ``maximum`` 7.0.

>>> import numpy as np
>>> clip(np.array([-2.0, 0.5, np.nan, np.inf]), 0.0, 1.0).tolist()
[0.0, 0.5, nan, 1.0]
"""
from __future__ import annotations

import numpy as np

try:                                        # NumPy 2
    from numpy._core.umath import clip
except ImportError:                         # NumPy 1.26; elsewhere the wrapper
    clip = getattr(getattr(getattr(np, "core", None), "umath", None), "clip", np.clip)

__all__ = ["clip"]
