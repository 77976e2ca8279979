"""The NumPy backend: the reference every other backend is tested against."""
from __future__ import annotations

import numpy as np

from xpgrad import dtypes as _dt
from xpgrad.backend import Backend, KernelTable

from . import namespace as xp_numpy
from .memory import aligned_copy
from .scalars import SCALAR_ARRAYS, scalar_array
from .scatter import add_elements, add_rows

_BY_NATIVE = {np.dtype(d.name): d for d in _dt.ALL.values()}
#: integer arrays up to this size take ``index_range`` through a list (above it, two NumPy
#: reductions are faster: 128 labels took 3.9 us through a list, 2.0 by ``min`` and ``max``)
_LIST_RANGE_MAX = 48
_min_of, _max_of = np.minimum.reduce, np.maximum.reduce


class NumpyBackend(Backend):
    """Host arrays through ``array_api_compat.numpy`` (``namespace.py``: with a branch-free
    ``where``); fused kernels (``kernels.py``, ``activations.py``, ``exponential_units.py``,
    ``gelu.py``, ``mish.py``, ``bounded.py``, ``softmax.py``, ``normalization.py``,
    ``margin.py``, ``nll.py``, ``extrema.py``, ``norms.py``, ``products.py``, Adam's update in ``optim.py``, the depthwise
    convolution of ``convolution.py``, a recorded sort that keeps its permutation,
    ``sorting.py``, ``take_along_axis`` by raveled positions, ``take_along_kernel.py``, the
    recurrent scans of ``scans.py``, and ``xg.special``'s gamma family in ``special.py``)
    registered in ``kernels``."""

    name = "numpy"
    xp = xp_numpy
    array_class = np.ndarray
    scalar_arrays = SCALAR_ARRAYS       # shared with the Numba backend: the same arrays

    def scalar_array(self, dtype, value):
        return scalar_array(dtype, value)

    def __init__(self):
        from .activations import KERNELS as ACTIVATIONS
        from .bessel import KERNELS as BESSEL
        from .binary import KERNELS as BINARY
        from .bounded import KERNELS as BOUNDED
        from .convolution import KERNELS as CONVOLUTION
        from .ctc import KERNELS as CTC
        from .extrema import KERNELS as EXTREMA
        from .exponential_units import KERNELS as EXPONENTIAL_UNITS
        from .gamma_shift import KERNELS as GAMMA_SHIFT
        from .gelu import KERNEL as GELU
        from .kernels import KERNELS
        from .linear_activation import KERNELS as LINEAR_ACTIVATIONS
        from .margin import KERNELS as MARGIN
        from .max_pooling import KERNELS as MAX_POOLING
        from .mish import KERNEL as MISH
        from .nll import KERNELS as NLL
        from .norms import KERNELS as NORMS
        from .normal_cdf import KERNELS as NORMAL_CDF
        from .normalization import KERNELS as NORMALIZATION
        from .optim import KERNELS as UPDATES
        from .pooling import KERNELS as POOLING
        from .prefix_products import KERNELS as PREFIX_PRODUCTS
        from .prefix_sums import KERNELS as PREFIX_SUMS
        from .products import KERNELS as PRODUCTS
        from .scans import scan_kernels
        from .segments import KERNELS as SEGMENTS
        from .softmax import KERNELS as SOFTMAX
        from .sorting import KERNELS as SORTING
        from .take_along_kernel import KERNELS as TAKE_ALONG
        from .special import KERNELS as SPECIAL
        from .special_more import KERNELS as SPECIAL_MORE
        from .triangular import KERNELS as TRIANGULAR

        self.kernels = KernelTable(KERNELS, ACTIVATIONS, {"gelu": GELU, "mish": MISH}, BOUNDED,
                                   LINEAR_ACTIVATIONS, NORMALIZATION, UPDATES, CONVOLUTION,
                                   POOLING, MARGIN, SOFTMAX, SEGMENTS, SORTING, SPECIAL, BINARY,
                                   NORMAL_CDF, SPECIAL_MORE, BESSEL, PREFIX_SUMS, TRIANGULAR,
                                   MAX_POOLING, NLL, EXTREMA, NORMS, PRODUCTS, CTC, PREFIX_PRODUCTS,
                                   TAKE_ALONG, EXPONENTIAL_UNITS, GAMMA_SHIFT,
                                   scan_kernels(np))

    def native_dtype(self, dtype):
        return np.dtype(dtype.name)

    def xg_dtype(self, native):
        try:
            return _BY_NATIVE[native]
        except KeyError:
            raise TypeError(f"xpgrad has no dtype for numpy {native}; "
                            f"supported: {sorted(_dt.ALL)}") from None

    def asarray(self, obj, dtype=None):
        return np.asarray(obj, dtype=dtype)

    def to_numpy(self, x):
        return np.asarray(x)

    def from_numpy(self, a):
        return np.asarray(a)

    def owned_copy(self, raw):
        if type(raw) is np.ndarray:          # (a traced value goes through xp, recorded)
            return aligned_copy(raw)         # a weight: MKL's products run faster on it
        return super().owned_copy(raw)

    def device(self, x):
        return "cpu"

    def devices(self):
        return ["cpu"]

    def default_device(self):
        return "cpu"

    def rng(self, seed):
        return np.random.default_rng(seed)

    def index_add(self, target, key, values):
        """``target[key] += values``: whole rows by sorted segment sums, several index arrays
        folded into 1-D positions first (``scatter.py``), else ``np.add.at``."""
        if not (add_rows(target, key, values) or add_elements(target, key, values)):
            np.add.at(target, key, values)

    def index_range(self, a):
        if 0 < a.size <= _LIST_RANGE_MAX:     # a batch of labels: a list's min and max are
            values = a.ravel().tolist()       # twice as fast as two reductions (1.1 vs 2.1 us)
            return int(min(values)), int(max(values))
        return int(_min_of(a, None)), int(_max_of(a, None))   # a.min()'s ufunc, unwrapped

    def value_range(self, a, accepted):
        return float(a.min()), float(a.max())

    def describe(self):
        return {"name": self.name, "version": np.__version__, "device": "cpu"}
