"""``ravel_pytree``: a pytree of arrays as one flat vector, and the function that puts a vector
back into that structure (``jax.flatten_util.ravel_pytree``, HIPS autograd's
``autograd.misc.flatten``), for SciPy's optimizers and other code that wants one vector.

>>> import xpgrad as xg
>>> flat, unravel = xg.ravel_pytree({"w": xg.ones((2, 2)), "b": xg.zeros(3)})
>>> flat.shape
(7,)
>>> unravel(flat)["w"].shape
(2, 2)
"""
from __future__ import annotations

import math

from .creation import asarray, named_asarray
from .dtype_functions import result_type
from .ops.joining import concat
from .pytree import Placeholder, leaves, rebuild
from .tensor import Tensor


def ravel_pytree(tree):
    """``(flat, unravel)``: the leaves of ``tree`` (dicts, tuples and lists nesting arrays or
    numbers) flattened in C order and concatenated into one 1-D Tensor of their common dtype,
    and ``unravel(vector)``, which cuts a vector of that length back into ``tree``'s structure,
    each leaf with its shape and dtype. Both directions are differentiable, so
    ``xg.grad(lambda v: loss(unravel(v)))`` is the gradient as one vector. A dict's leaves come
    in its own order (JAX sorts the keys). HIPS autograd's ``flatten(tree)`` returns the same
    pair. Where JAX differs: the common dtype is xpgrad's promotion (int64 with float32 gives
    float64, JAX's gives float32); ``unravel`` always casts to each leaf's dtype (JAX keeps a
    one-dtype tree's vector dtype, and refuses another dtype for a mixed tree), and refuses a
    complex vector for a real tree rather than drop its imaginary parts.

    >>> import xpgrad as xg
    >>> params = [(xg.asarray([[1.0, 2.0]]), xg.asarray([3.0]))]
    >>> flat, unravel = xg.ravel_pytree(params)
    >>> flat.tolist()
    [1.0, 2.0, 3.0]
    >>> unravel(flat * 10.0)[0][0].tolist()
    [[10.0, 20.0]]
    """
    originals = [] if tree is None else leaves(tree)         # None: an empty tree, as JAX's
    arrays = [leaf if isinstance(leaf, Tensor) else _as_tensor(leaf, i)
              for i, leaf in enumerate(originals)]
    shapes = [a.shape for a in arrays]
    dtypes = [a.dtype for a in arrays]
    if arrays:
        dtype = result_type(*dtypes)
        flat = concat([a.reshape(-1).astype(dtype) for a in arrays], axis=0)
    else:
        flat = asarray([], dtype=None)
    return flat, Unravel(tree, shapes, dtypes, flat.dtype)


class Unravel:
    """``ravel_pytree``'s second result: ``unravel(vector)`` cuts a vector back into the tree's
    structure, each leaf with its shape and dtype. It keeps the structure, shapes and dtypes,
    not the leaves, so it pickles (with a checkpoint) as JAX's does.

    >>> import pickle
    >>> import xpgrad as xg
    >>> flat, unravel = xg.ravel_pytree({"w": xg.ones((1, 2)), "b": xg.zeros(1)})
    >>> pickle.loads(pickle.dumps(unravel))(flat * 3.0)["w"].tolist()
    [[3.0, 3.0]]
    """

    def __init__(self, tree, shapes, dtypes, flat_dtype):
        self._skeleton = None if tree is None else rebuild(tree, [Placeholder() for _ in shapes])
        self._shapes, self._dtypes, self._flat_dtype = shapes, dtypes, flat_dtype
        self._sizes = [math.prod(s) for s in shapes]
        self._total = sum(self._sizes)

    def __call__(self, vector):
        vector = vector if isinstance(vector, Tensor) else _as_tensor(vector, None)
        if vector.shape != (self._total,):
            raise ValueError(f"unravel takes a 1-D vector of {self._total} entries (the size "
                             f"of the tree ravel_pytree flattened), got shape {vector.shape}")
        if vector.dtype.is_complex and not self._flat_dtype.is_complex:
            raise TypeError(f"unravel: the vector is {vector.dtype} but the tree ravel_pytree "
                            f"flattened is real ({self._flat_dtype}); its leaves would lose "
                            "the imaginary parts: pass xg.real(vector) if that is meant")
        pieces, start = [], 0
        for shape, dtype, size in zip(self._shapes, self._dtypes, self._sizes):
            piece = vector[start:start + size].reshape(shape)
            pieces.append(piece if piece.dtype == dtype else piece.astype(dtype))
            start += size
        return None if self._skeleton is None else rebuild(self._skeleton, pieces)


def _as_tensor(value, i):
    where = "the vector" if i is None else f"leaf {i} of the tree"
    try:
        return named_asarray(value, "it")
    except (TypeError, ValueError) as e:
        raise TypeError(f"ravel_pytree: {where} ({type(value).__name__} {value!r:.40}) is not "
                        f"an array or a number: {e}") from None
