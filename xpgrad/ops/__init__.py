"""THE primitive table, grouped by kind; each module holds its primitives' forwards and vjp rules.

The namespace modules (activations, bitwise, casting (astype), contraction (einsum), elementwise
(its one-argument functions in elementwise_unary), grids_triangles (meshgrid, tril, triu),
indexing (its take, take_along_axis and one_hot in gathering), joining (concat, stack, unstack),
linalg, rearranging (flip, roll, tile, repeat), reductions (with the scans of scans.py:
cumulative_sum, cumulative_prod, diff), searching, selection (where, clip), sets, shape,
sorting, and NumPy's and JAX's extras: elementwise_numpy (isclose, nan_to_num), nan_reductions
(nansum, average), quantiles (median, quantile), sample_integrals (trapezoid, cov,
corrcoef), interpolation (interp)) give the ``xpgrad`` namespace its functions;
fft (its rules in fft_rules) backs the ``xg.fft`` extension (``xg.linalg`` re-exports from
linalg); indexed_updates (its primitives in indexed_update_rules) backs ``x.at[key].set(v)``
and the other JAX updates; losses, nn (``linear``), recurrent (the scans) and optim (the
optimizer updates) hold primitives that ``xg.losses``, ``xg.nn`` and ``xg.optim`` build on.
``xpgrad.primitive.PRIMITIVES`` lists every primitive by name.
"""
from .activations import *  # noqa: F401,F403
from .bitwise import *  # noqa: F401,F403
from .casting import *  # noqa: F401,F403
from .contraction import *  # noqa: F401,F403
from .elementwise import *  # noqa: F401,F403
from .elementwise_numpy import *  # noqa: F401,F403
from .grids_triangles import *  # noqa: F401,F403
from .indexing import *  # noqa: F401,F403
from .interpolation import *  # noqa: F401,F403
from .joining import *  # noqa: F401,F403
from .linalg import *  # noqa: F401,F403
from .nan_reductions import *  # noqa: F401,F403
from .quantiles import *  # noqa: F401,F403
from .rearranging import *  # noqa: F401,F403
from .sample_integrals import *  # noqa: F401,F403
from .reductions import *  # noqa: F401,F403
from .searching import *  # noqa: F401,F403
from .selection import *  # noqa: F401,F403
from .sets import *  # noqa: F401,F403
from .shape import *  # noqa: F401,F403
from .sorting import *  # noqa: F401,F403
from . import (activations, bitwise, casting, contraction, elementwise, elementwise_numpy,
               grids_triangles, indexing, interpolation, joining, linalg, nan_reductions,
               quantiles, rearranging, reductions, sample_integrals, searching, selection, sets,
               shape, sorting)
# these register their primitives
from . import (adaptive_max_pooling, conv_transpose, convolution, fft, group_norm,  # noqa: F401
               indexed_updates, losses, max_pooling, nn, optim, recurrent, recurrent_cells,
               rms_norm)

__all__ = (activations.__all__ + bitwise.__all__ + casting.__all__ + contraction.__all__
           + elementwise.__all__ + elementwise_numpy.__all__ + grids_triangles.__all__
           + indexing.__all__ + interpolation.__all__ + joining.__all__ + linalg.__all__
           + nan_reductions.__all__
           + quantiles.__all__ + rearranging.__all__ + reductions.__all__
           + sample_integrals.__all__ + searching.__all__
           + selection.__all__ + sets.__all__ + shape.__all__ + sorting.__all__)
