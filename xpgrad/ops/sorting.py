"""Sorting: sort (its gradient goes back through the permutation), argsort."""
from __future__ import annotations

__all__: list = []
