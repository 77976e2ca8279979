"""``xg.debug``: JAX's ``jax.debug`` names. ``xg.debug.print(fmt, *args, **kwargs)`` prints on
every call of an ``xg.function`` step, replays included (``host_print.py``).

>>> import xpgrad as xg
>>> xg.debug.print("x = {x}", x=xg.asarray([1, 2]))
x = [1 2]
"""
from __future__ import annotations

from .host_print import print_formatted as print  # noqa: A001 (jax.debug.print's name)

__all__ = ["print"]
