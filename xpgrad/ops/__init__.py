"""THE primitive table, grouped by kind; each module holds its primitives' forwards and vjp rules.

The namespace modules (activations, elementwise, linalg, reductions, shape) give the ``xpgrad``
namespace its functions; losses, nn (``linear``), recurrent (the scans) and optim (the optimizer
updates) hold primitives that ``xg.losses``, ``xg.nn`` and ``xg.optim`` build on.
``xpgrad.primitive.PRIMITIVES`` lists every primitive by name.
"""
from .activations import *  # noqa: F401,F403
from .elementwise import *  # noqa: F401,F403
from .linalg import *  # noqa: F401,F403
from .reductions import *  # noqa: F401,F403
from .shape import *  # noqa: F401,F403
from . import activations, elementwise, linalg, reductions, shape
from . import losses, nn, optim, recurrent  # noqa: F401 (they register their primitives)

__all__ = (activations.__all__ + elementwise.__all__ + linalg.__all__ + reductions.__all__
           + shape.__all__)
