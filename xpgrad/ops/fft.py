"""The fft extension's primitives, each with its vjp (exposed as ``xg.fft``)."""
from __future__ import annotations

__all__: list = []
