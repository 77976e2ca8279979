"""The array API's ``linalg`` extension: ``xg.linalg`` (primitives in ``xpgrad/ops/linalg.py``).

>>> import xpgrad as xg
>>> xg.linalg.matmul(xg.ones((2, 3)), xg.ones((3, 2))).shape
(2, 2)
"""
from .ops.linalg import matmul, matrix_transpose, tensordot, vecdot  # noqa: F401

__all__ = ["matmul", "matrix_transpose", "tensordot", "vecdot"]
