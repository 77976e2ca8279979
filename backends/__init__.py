"""Backends shipped with xpgrad: ``numpy`` (always), ``numba`` and ``cupy`` (extras)."""
