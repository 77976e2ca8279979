"""Making every rank start from rank ``root``'s state: variables and optimizer state, sent as raw
buffers (``Bcast``), after a check that all ranks hold the same layout.

>>> import xpgrad as xg
>>> w = xg.Variable([1.0, 2.0], name="w")
>>> xg.distributed.broadcast_variables([w])      # one process: nothing changes
>>> w.tolist()
[1.0, 2.0]
"""
from __future__ import annotations

import numpy as np

from ..tensor import Variable
from .engines import engine_for
from .agreement import check_same
from .group import world as _world

#: the optimizer state's scalars, broadcast through the host: key -> dtype
_SCALARS = {"iterations": np.int64, "learning_rate": np.float64}


def _variables(variables):
    if isinstance(variables, Variable):
        return [variables]
    if hasattr(variables, "trainable_variables"):     # a Module: frozen Variables too
        variables = getattr(variables, "variables", variables.trainable_variables)
    elif isinstance(variables, dict):
        variables = list(variables.values())
    variables = list(variables)
    for v in variables:
        if not isinstance(v, Variable):
            raise TypeError(f"variables must be xg.Variables (or a Module), got "
                            f"{type(v).__name__}")
    return variables


def _check_root(root, w):
    if isinstance(root, bool) or not isinstance(root, int) or not 0 <= root < w.size:
        raise ValueError(f"root must be a rank in [0, {w.size - 1}], got {root!r}")


def broadcast_variables(variables, root=0, *, world=None) -> None:
    """Give every rank rank ``root``'s values of ``variables`` (a Variable, list, dict or
    Module; of a Module, every Variable, trainable or not, as PyTorch DDP also broadcasts
    buffers).

    The ranks' variable layouts (names, shapes, dtypes, order) are checked first: a rank that
    differs is named in a DistributedError raised on every rank.
    """
    w = world if world is not None else _world()
    _check_root(root, w)
    variables = _variables(variables)
    check_same(w, "model layout",
               [f"{v.name}: shape {tuple(v.shape)} {v.dtype}" for v in variables],
               call="broadcast_variables()")
    if w.size == 1:
        return
    for v in variables:
        xp = v._backend.xp
        buf = xp.asarray(v._data, copy=True)     # never written into arrays users may share
        engine_for(w, buf).bcast_(buf, root)
        v._data = buf


def broadcast_optimizer_state(optimizer, variables, root=0, *, world=None) -> None:
    """Give every rank rank ``root``'s optimizer state (step count and slots) for
    ``variables`` (a Module, a dict of named Variables or a list of uniquely named ones).

    The state's layout travels as a small object; its arrays as raw buffers.

    >>> import xpgrad as xg
    >>> w = xg.Variable([1.0], name="w")
    >>> opt = xg.optim.Adam(0.1)
    >>> xg.distributed.broadcast_optimizer_state(opt, [w])    # one process: nothing to do
    >>> opt.iterations
    0
    """
    w = world if world is not None else _world()
    _check_root(root, w)
    if not (hasattr(optimizer, "state_dict") and hasattr(optimizer, "load_state_dict")):
        raise TypeError(f"optimizer must be an xg.optim optimizer, got "
                        f"{type(optimizer).__name__}")
    by_name = _named(variables)     # checked on every rank alike, before any collective
    from .optimizer import DistributedOptimizer

    kind = optimizer.optimizer if isinstance(optimizer, DistributedOptimizer) else optimizer
    check_same(w, "model layout or optimizer", [f"optimizer: {type(kind).__name__}"] + [
        f"{k}: shape {tuple(v.shape)} {v.dtype}" for k, v in by_name.items()],
        call="broadcast_optimizer_state()")
    if w.size == 1:
        return
    state = optimizer.state_dict(variables) if w.rank == root else None
    layout = None if state is None else {
        k: (tuple(t.shape), str(np.dtype(t._data.dtype))) for k, t in state.items()}
    layout = w.bcast_object(layout, root=root)
    arrays = {}
    for key, (shape, dtype) in layout.items():
        name = key.rpartition("/")[0]
        var = by_name.get(name)
        if key not in _SCALARS and var is None:
            raise KeyError(f"rank {root}'s optimizer state has {key!r} but this rank has no "
                           f"variable {name!r}")
        if w.rank == root:
            buf = state[key]._data
        else:
            xp = (var._backend if var is not None else optimizer_backend(variables)).xp
            buf = xp.empty(shape, dtype=np.dtype(dtype))
        if key in _SCALARS:
            host = np.asarray(buf.get() if hasattr(buf, "get") else buf, dtype=_SCALARS[key])
            host = np.ascontiguousarray(host)
            w.bcast_(host, root)
            arrays[key] = host
        else:
            buf = buf if w.rank != root else (buf if buf.flags.c_contiguous else buf.copy())
            engine_for(w, buf).bcast_(buf, root)
            arrays[key] = buf
    if w.rank != root:
        optimizer.load_state_dict(arrays, variables)


def optimizer_backend(variables):
    """The backend of the first of ``variables`` (where new state arrays are made).

    >>> import xpgrad as xg
    >>> optimizer_backend([xg.Variable([1.0], name="w")]).name
    'numpy'
    """
    return _variables(variables)[0]._backend


def _named(variables):
    from ..optim.optimizer_checkpoints import _named as named

    if not isinstance(variables, dict) and not hasattr(variables, "named_variables"):
        variables = _variables(variables)     # Variables (TypeError otherwise), or one
    return named(variables)
