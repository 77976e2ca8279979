"""``xg.vmap``: automatic batching (``api.py``; the arguments' axes in ``arguments.py`` and
``axes.py``, ``chunk_size`` in ``chunks.py``), by a batching namespace that takes the
backend's ``xp`` for the call (``namespace.py``, ``batched.py``, the rules in ``rules.py``,
``products.py``, ``indexing.py``, ``methods.py``; which function takes which in ``table.py``;
outer products kept as factors in ``outer_products.py``); under tapes that record, a call is
one node of theirs (``through_tapes.py``), whose first-order gradient walks the tape the call
kept (``kept.py``) and whose higher orders are a vmapped vjp.

>>> import xpgrad as xg
>>> xg.vmap(xg.sum)(xg.ones((3, 2))).tolist()
[2.0, 2.0, 2.0]
"""
from .api import vmap

__all__ = ["vmap"]
