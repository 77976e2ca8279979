"""A dense layer's weight gradient ``x.T @ gz`` kept as its two factors until something reads
it, so that plain SGD can fold it into its update: ``W -= lr * (x.T @ gz)`` as one BLAS gemm
written into ``W`` (``alpha = -lr``, ``beta = 1``), with no gradient array and no second pass
over ``W``. ``xg.function`` does the same in a replayed step (``jit/sgd_gemm.py``); this is the
eager step's way.

How it goes: once a plain SGD (no momentum, weight decay or clipping) has updated a 2-D Variable
(``hint``), ``tape.gradient`` asks the kernels of the dense layers reading it (``Kernel.defers``)
for the weight's gradient as a ``Product`` when the product is worth it (``defer``: a gemm
MKL or SciPy runs, factors no larger than the gradient). The tape hands it out as a
``DeferredGradient``, a Tensor whose value is computed on the first read of any kind (so a
gradient that is clipped, logged, all-reduced or given to another optimizer is an ordinary
one). ``SGD.apply_gradients`` folds one nobody has read. The factors are the layer's input,
copied (a later in-place change of the caller's array cannot reach the gradient), and the
gradient at the layer's output, which only the tape held.

The copy stays for every input (measured 2026-12-07): it is 4.3 us of a (32, 784) float32 input,
within the noise of the batch-32 MLP step it serves (540 us thread time; without it, 0.977 of
that, 95 % interval [0.957, 1.003], where an A/A run read 0.980 [0.945, 0.999]:
benchmarks/swapped_kernels.py, 100 rounds); there the deferred layer is the first, whose input
is the caller's array. A tape-owned intermediate (a hidden layer's relu output) would need no
copy, but nothing cheap tells it from a caller's array here: both had 8 references at ``defer``
(the caller's variable against the relu node's saved output), and ``Tensor.numpy()`` hands out
the writable array itself.

>>> import numpy as np
>>> p = Product(np.ones((3, 2)).T, np.ones((3, 4)))
>>> p.shape, (p + np.zeros((2, 4))).tolist()[0]
((2, 4), [3.0, 3.0, 3.0, 3.0])
"""
from __future__ import annotations

import numpy as np

from .tensor import Tensor


class _Defer:
    """``needs[i]`` of a kernel's vjp (``Kernel.defers``) meaning: the gradient at ``i`` is
    wanted and may come back as a ``Product``. True as a flag, so that a kernel that ignores
    it computes the gradient."""

    __slots__ = ()

    def __bool__(self):
        return True

    def __repr__(self):
        return "DEFER"


DEFER = _Defer()

#: keys of the Variables whose last update was a plain SGD's (``hint``): their dense layers'
#: weight gradients may be deferred (keys are never reused, so a dead Variable's stays inert)
FOLDABLE: set = set()


class Product:
    """``a @ b`` for host arrays, not yet computed; ``value()`` computes it (once). Arithmetic
    with an array computes it first (the tape adds a second contribution so)."""

    __slots__ = ("a", "b", "shape", "dtype", "_value")
    __array_ufunc__ = None      # ndarray + Product: Product.__radd__
    ndim = 2

    def __init__(self, a, b):
        self.a, self.b = a, b
        self.shape = (a.shape[0], b.shape[1])
        self.dtype = a.dtype
        self._value = None

    def computed(self) -> bool:
        return self._value is not None

    def value(self):
        if self._value is None:
            self._value = _matmul(self.a, self.b)
            self.a = self.b = None
        return self._value

    def __array__(self, dtype=None, copy=None):
        out = self.value()
        return out if dtype is None else out.astype(dtype)

    def __add__(self, other):
        return self.value() + other

    def __radd__(self, other):
        return other + self.value()


def defer(x, gz, w):
    """``x.T @ gz`` (a dense layer's weight gradient) as a ``Product`` of a copy of ``x`` and
    ``gz``, or None where folding it would not pay: a product under ``blas.MIN_WORK``
    multiply-adds (NumPy's product and the ordinary update are faster), factors larger than
    the gradient (a large batch: they would outweigh the array they replace), or operands
    that are not float arrays of one dtype."""
    if x.__class__ is not np.ndarray or gz.__class__ is not np.ndarray or x.ndim != 2 \
            or gz.ndim != 2 or not (x.dtype is gz.dtype is w.dtype) or x.dtype.kind != "f":
        return None
    rows, n_in = x.shape
    n_out = gz.shape[1]
    if rows * (n_in + n_out) > n_in * n_out:
        return None
    small, gemm_available = _BLAS or _bind_blas()
    if small(x.T, gz) or not gemm_available():
        return None
    return Product(x.copy().T, gz)


#: ``(blas.small, sgd_gemm.gemm_available)``, bound on the first ``defer`` (the backends import
#: this module; an import statement per call cost a microsecond)
_BLAS: tuple = ()


def _bind_blas():
    global _BLAS
    from .backends.blas import small
    from .jit.sgd_gemm import gemm_available

    _BLAS = (small, gemm_available)
    return _BLAS


_DATA = Tensor._data        # the slot itself, under the property below


class DeferredGradient(Tensor):
    """A gradient that ``tape.gradient`` returned as the factors of a product (module
    docstring): any read of its value computes it, once."""

    __slots__ = ("_product", "_variable_key")

    @property
    def _data(self):
        product = self._product
        if product is not None:
            _DATA.__set__(self, product.value())
            self._product = None
            FOLDABLE.discard(self._variable_key)    # read before the update: fold no more
        return _DATA.__get__(self)

    @_data.setter
    def _data(self, value):
        _DATA.__set__(self, value)
        self._product = None

    def pending(self):
        """The ``Product`` not yet computed, or None."""
        return self._product

    def fits(self, variable) -> bool:
        """Whether this is, unread, a gradient of ``variable``'s backend, shape and dtype
        (``apply_gradients``'s checks, without computing it)."""
        product = self._product
        data = variable._data
        return product is not None and self._backend is variable._backend and \
            product.shape == data.shape and product.dtype == data.dtype


def deferred_gradient(product, backend, variable_key) -> DeferredGradient:
    """The Tensor ``tape.gradient`` returns for ``product``, the gradient of the Variable with
    key ``variable_key``."""
    t = DeferredGradient.__new__(DeferredGradient)
    t._product = product
    t._variable_key = variable_key
    t._backend = backend
    t._key = 0
    return t


def hint(variable) -> None:
    """Mark ``variable`` (just updated by a plain SGD) as one whose dense-layer gradients may
    be deferred from the next ``tape.gradient`` on."""
    key = variable._key
    if key and variable._data.ndim == 2:
        FOLDABLE.add(key)


def weight_gradient(x, gz, w, need):
    """A dense layer kernel's weight gradient ``x.T @ gz`` for ``needs`` entry ``need``: a
    ``Product`` where the tape asked for one (``DEFER``) and ``defer`` takes it, else the
    array."""
    if need is DEFER:
        product = defer(x, gz, w)
        if product is not None:
            return product
    return _matmul(x.T, gz)


def _matmul(a, b):
    """``blas.matmul``, imported on first use (the backends import this module) and then
    called directly: an import statement per call cost a microsecond per product."""
    global _matmul
    from .backends.blas import matmul

    _matmul = matmul
    return matmul(a, b)
