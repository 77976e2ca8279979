"""Bitwise functions on integer and boolean tensors (no gradients)."""
from __future__ import annotations

__all__: list = []
