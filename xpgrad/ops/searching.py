"""Searching: nonzero, searchsorted, count_nonzero (no gradients)."""
from __future__ import annotations

__all__: list = []
