"""Fused NumPy implementations of primitives, keyed by primitive name (filled by later issues)."""
KERNELS: dict = {}
