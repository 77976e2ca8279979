"""The random state a checkpoint carries besides the weights, so that a run resumed from it
draws what the uninterrupted run drew (its dropout masks included): the generator of each
module that holds one (a ``Dropout``'s, a ``MultiheadAttention``'s, a transformer layer's),
keyed ``"<module path>/rng"`` as ``named_variables()`` keys its weights, and where the global
seed (``xg.random.seed``) is. Both live in the checkpoint's JSON entry; ``state_dict()`` holds
weights alone, as PyTorch's.

>>> import xpgrad as xg
>>> model = xg.nn.Sequential([xg.nn.Linear(2, 2, rng=0),
...                           xg.nn.Dropout(0.5, rng=xg.random.default_rng(1))])
>>> list(generator_states(model))
['sequential/dropout1/rng']
"""
from __future__ import annotations

import numbers


def _holders(model) -> dict:
    """``{key: (module, attribute)}`` of the generators the modules of ``model`` hold (a
    ``Dropout`` not yet run holds its int seed or None under ``_rng``, where a saved generator
    goes); none for a dict or list of Variables. A generator shared by several modules is
    listed under each."""
    from .nn.module import Module
    from .random import Generator

    if not isinstance(model, Module):
        return {}
    found = {}
    for path, module in model.named_modules():
        for attribute, value in vars(module).items():
            unmade = attribute == "_rng" and (value is None or isinstance(
                value, numbers.Integral) and not isinstance(value, bool))
            if isinstance(value, Generator) or unmade:
                found.setdefault(f"{path}/{attribute.lstrip('_')}", (module, attribute))
    return found


def generator_states(model) -> dict:
    """``{key: state}`` of the generators of ``model``'s modules, JSON-serializable: a
    generator's ``{"backend", "state"}`` (``Generator.get_state``), an unused ``Dropout``'s
    ``{"seed"}``. A ``Dropout`` made with ``rng=None`` and not yet run has no state to save: it
    takes fresh entropy (or the global seed's next child) when it first runs."""
    from .random import Generator

    states = {}
    for key, (module, attribute) in _holders(model).items():
        value = vars(module)[attribute]
        if value is None:
            continue
        states[key] = {"backend": value.backend.name, "state": value.get_state()} \
            if isinstance(value, Generator) else {"seed": int(value)}
    return states


def random_state(model) -> dict:
    """``{"generators", "random"}``: ``model``'s generators (``generator_states``) and where
    the global seed is, as a checkpoint holds them (data-parallel: each rank's differ where the
    ranks' shares of a batch do).

    >>> import xpgrad as xg
    >>> xg.random.seed(5)
    >>> random_state(xg.nn.Dropout(0.5, rng=3))
    {'generators': {'dropout/rng': {'seed': 3}}, 'random': {'entropy': 5, 'spawn_key': [], 'children': 0}}
    >>> xg.random.seed(None)
    """
    from .random_seed import get_state

    return {"generators": generator_states(model), "random": get_state()}


def restoring(model, generators, global_state, where):
    """Check the saved ``generators`` (``generator_states``') and ``global_state``
    (``xg.random.get_state``'s) against ``model``, changing nothing, and return the function
    that puts them in place; a state that is not one raises CheckpointError naming ``where``
    and its key. A saved generator whose module ``model`` lacks is ignored, and a generator
    the checkpoint lacks (a checkpoint written before they were saved) is left as it is; so is
    the global seed where the saved run had none."""
    from .checkpoint import CheckpointError
    from .random import Generator
    from .random_seed import checked_state, set_state

    holders = _holders(model)
    moves = []
    try:
        checked_state(global_state)
        for key, saved in (generators or {}).items():
            if key in holders:
                moves.append((holders[key], _checked(saved)))
    except (KeyError, TypeError, ValueError) as e:
        raise CheckpointError(f"checkpoint {where} holds a random state that cannot be "
                              f"restored ({type(e).__name__}: {e})") from None

    def restore():
        for (module, attribute), (backend, state) in moves:
            held = vars(module)[attribute]
            if state is None:
                setattr(module, attribute, backend)          # an unused Dropout's seed
            elif isinstance(held, Generator):
                held.set_state(state)    # in place: a generator shared by modules stays shared
            else:
                setattr(module, attribute, _made(backend, state))
        if global_state is not None:
            set_state(global_state)

    return restore


def _checked(saved) -> tuple:
    """``(backend name, state)`` of a saved generator, its state checked on a scratch
    generator; ``(seed, None)`` for a saved seed. KeyError/TypeError/ValueError otherwise."""
    from .random import Generator

    if not isinstance(saved, dict):
        raise TypeError(f"a generator's entry must be a dict, got {type(saved).__name__}")
    if "seed" in saved:
        seed = saved["seed"]
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ValueError(f"a seed must be an int >= 0, got {seed!r}")
        return seed, None
    Generator(0, backend="numpy").set_state(saved["state"])   # every backend's kind: PCG64
    return str(saved["backend"]), saved["state"]


def _made(backend, state):
    """A generator on ``backend`` (NumPy's where that one is not available here) put in
    ``state``; for a module whose generator was not made yet."""
    from .backend import BackendUnavailableError, UnknownBackendError
    from .random import Generator

    try:
        generator = Generator(0, backend=backend)
    except (BackendUnavailableError, UnknownBackendError, ImportError):
        generator = Generator(0, backend="numpy")
    generator.set_state(state)
    return generator
