"""The primitive table, grouped by kind; every name here is part of the xpgrad namespace."""
from .activations import *  # noqa: F401,F403
from .elementwise import *  # noqa: F401,F403
from .linalg import *  # noqa: F401,F403
from .reductions import *  # noqa: F401,F403
from .shape import *  # noqa: F401,F403
from . import activations, elementwise, linalg, reductions, shape

__all__ = (activations.__all__ + elementwise.__all__ + linalg.__all__ + reductions.__all__
           + shape.__all__)
