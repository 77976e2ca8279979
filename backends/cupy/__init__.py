"""The ``cupy`` backend package: ``CupyBackend`` and its CUDA kernels (``cuda/*.cu``).

Importing this package never needs CuPy; constructing the backend does (see ``backend.py``).
"""
from .backend import CupyBackend

__all__ = ["CupyBackend"]
