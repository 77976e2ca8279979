"""Checkpoints: a model's variables (and an optimizer's state) in one ``.npz`` file.

``save_checkpoint(path, model, optimizer=None, metadata=None)`` checks the path first, then
writes atomically and durably (a crash leaves the old file or the new one, never a partial one):
the file itself, its writing and its reading are ``checkpoint_files.py``'s.

``load_checkpoint(path, model, optimizer=None)`` reads the whole file and checks every name,
shape and dtype before changing anything; a file that is damaged (truncated, corrupted, not a
zip archive, holding pickled objects) or does not match raises ``CheckpointError`` naming the
file and what is wrong. ``checkpoint_metadata(path)`` returns the ``metadata`` dict saved with
it (``xpgrad train`` keeps its configuration there).

``model`` is a Module (variables named by ``named_variables()``, e.g. ``"mlp/linear0/w"``), a
dict ``{name: Variable}`` or a list of uniquely named Variables. Keys in the file are
``"model/<name>"``, ``"optimizer/iterations"`` and ``"optimizer/<name>/<slot>"``; with a list
of optimizers (one per parameter group), ``"optimizers/<i>/..."`` for the ``i``-th. The
random state of a run (each module's generator, the global seed's position) is in the file's
JSON entry and restored with the weights: ``checkpoint_generators.py``.

>>> import os, tempfile, xpgrad as xg
>>> model = xg.nn.MLP([2, 3, 1], rng=0)
>>> path = os.path.join(tempfile.mkdtemp(), "ckpt.npz")
>>> xg.save_checkpoint(path, model, metadata={"epochs": 3})
>>> xg.load_checkpoint(path, xg.nn.MLP([2, 3, 1], rng=1))
>>> checkpoint_metadata(path)
{'epochs': 3}
>>> try:
...     xg.load_checkpoint(path, xg.nn.MLP([2, 4, 1], rng=1))
... except xg.CheckpointError as e:
...     print(str(e).splitlines()[1])
  shape of 'model/mlp/linear0/w': checkpoint (2, 3), model (2, 4)
"""
from __future__ import annotations

import numpy as np   # the file format is NumPy's; data crosses backends via .numpy()

# CheckpointError and the file's names stay importable from here, as before the split
from .checkpoint_files import (  # noqa: F401
    FORMAT, _META, CheckpointError, _fspath, _host, check_writable, read_file,
    remove_stale_temporaries, write_file)


def _named(model) -> dict:
    from .optim.optimizer_checkpoints import _named as named

    return named(model, "model")


def _check_optimizer(optimizer) -> list:
    """``[(key prefix, Optimizer)]``: none for None, ``"optimizer/"`` for one Optimizer,
    ``"optimizers/<i>/"`` for each of a list or tuple of them (PyTorch's parameter groups, one
    optimizer each here); else TypeError. A DistributedOptimizer stands for the optimizer it
    wraps (whose state it uses), so its checkpoints are the plain ones."""
    from .optim.optimizer import plain_optimizer

    def plain(opt):
        return plain_optimizer(opt, "optimizer must be an xg.optim Optimizer, a list of them "
                                    "or None")

    if optimizer is None:
        return []
    if isinstance(optimizer, (list, tuple)):
        return [(f"optimizers/{i}/", plain(opt)) for i, opt in enumerate(optimizer)]
    return [("optimizer/", plain(optimizer))]


def _kinds(optimizers):
    """What a checkpoint's metadata says of its optimizers: None, a class name, or a list."""
    if not optimizers:
        return None
    names = [type(opt).__name__ for _, opt in optimizers]
    return names[0] if optimizers[0][0] == "optimizer/" else names


def _arrays(model, optimizers) -> dict:
    out = {f"model/{k}": v.numpy() for k, v in _named(model).items()}
    for prefix, opt in optimizers:
        for k, t in opt.state_dict(model).items():
            out[prefix + k] = t.numpy()
    return out


def save_checkpoint(path, model, optimizer=None, metadata=None, *, extra=None) -> None:
    """Save ``model``'s variables (and ``optimizer``'s state, the JSON-serializable dict
    ``metadata`` -- NumPy scalars and 0-d Tensors in it stored as the numbers they equal -- and
    ``extra``, a dict of NumPy arrays such as a run's best weights, which
    ``load_checkpoint`` leaves alone and ``checkpoint_extra`` reads) to ``path`` (.npz),
    atomically and durably; see the module docstring."""
    from .checkpoint_generators import random_state

    path = check_writable(path)
    randomness = random_state(model)
    model = _named(model)           # {name: Variable}, checked; a generator is read once
    if metadata is not None and not isinstance(metadata, dict):
        raise TypeError(f"metadata must be a dict (JSON-serializable), got "
                        f"{type(metadata).__name__}")
    if metadata is not None:
        from .checkpoint_json import plain_metadata

        metadata = plain_metadata(metadata)
    optimizers = _check_optimizer(optimizer)
    arrays = _arrays(model, optimizers)
    for name, value in (extra or {}).items():
        arrays[f"extra/{name}"] = np.asarray(value)
    meta = {"format": FORMAT, "optimizer": _kinds(optimizers), "metadata": metadata,
            **randomness}
    write_file(path, arrays, meta)


# -- reading -------------------------------------------------------------------------------------
def checkpoint_metadata(path) -> dict:
    """The ``metadata`` dict saved with the checkpoint at ``path`` (``{}`` if none); checks
    that the file is a readable checkpoint (CheckpointError otherwise)."""
    from .checkpoint_json import restored_metadata

    return dict(restored_metadata(read_file(path)[_META].get("metadata") or {}))


def checkpoint_extra(path) -> dict:
    """The ``extra`` arrays saved with the checkpoint at ``path`` (``{}`` if none).

    >>> import os, tempfile, numpy as np, xpgrad as xg
    >>> path = os.path.join(tempfile.mkdtemp(), "c.npz")
    >>> xg.save_checkpoint(path, [xg.Variable([1.0], name="w")], extra={"best/w": np.ones(1)})
    >>> xg.checkpoint_extra(path)
    {'best/w': array([1.])}
    """
    return {k[len("extra/"):]: v for k, v in read_file(path).items() if k.startswith("extra/")}


def _expected(model, optimizers) -> dict:
    exp = {f"model/{k}": (v.shape, v.dtype.name) for k, v in _named(model).items()}
    for prefix, opt in optimizers:
        for k, spec in opt.expected_state(model).items():
            exp[prefix + k] = spec
    return exp


def _differences(found: dict, expected: dict, optional: set) -> list:
    lines = []
    for k in expected:
        if k not in found and k not in optional:
            lines.append(f"missing {k!r}: in the model but not in the checkpoint")
    for k in found:
        if k not in expected:
            lines.append(f"unexpected {k!r}: in the checkpoint but not in the model")
    for k, (shape, dtype) in expected.items():
        if k not in found:
            continue
        fshape, fdtype = found[k]
        if tuple(fshape) != tuple(shape):
            lines.append(f"shape of {k!r}: checkpoint {tuple(fshape)}, model {tuple(shape)}")
        if fdtype != dtype:
            lines.append(f"dtype of {k!r}: checkpoint {fdtype}, model {dtype}")
    return lines


def load_checkpoint(path, model, optimizer=None) -> None:
    """Load ``path`` into ``model`` (and ``optimizer``); raise CheckpointError, changing
    nothing, when the file is damaged or names, shapes or dtypes differ. Without
    ``optimizer``, optimizer entries in the file are ignored."""
    from .checkpoint_generators import restoring
    from .nn.former_names import as_named_now

    optimizers = _check_optimizer(optimizer)
    module, model = model, _named(model)     # {name: Variable}, checked; a generator read once
    data = read_file(path)
    path = _fspath(path)
    meta = data.pop(_META)
    data = {k: v for k, v in data.items() if not k.startswith("extra/")}
    if not isinstance(module, dict) and not hasattr(module, "named_variables"):
        # a list saved when a custom module's own Variable was 'Variable' (former_names.py)
        for prefix in ["model/"] + [prefix for prefix, _ in optimizers]:
            data = as_named_now(data, list(model.values()), prefix)
    if not optimizers:
        data = {k: v for k, v in data.items()
                if not k.startswith(("optimizer/", "optimizers/"))}
    elif meta.get("optimizer") is not None and meta.get("optimizer") != _kinds(optimizers):
        raise CheckpointError(f"checkpoint {path} holds {meta['optimizer']} state, not "
                              f"{_kinds(optimizers)}")
    found = {k: (v.shape, v.dtype.name) for k, v in data.items()}
    expected = _expected(model, optimizers)
    # a variable an optimizer never updated has no state: its slots may all be absent; a
    # schedule's optimizer saves no learning rate
    optional = set()
    for prefix, _ in optimizers:
        optional.add(prefix + "learning_rate")
        for name in _named(model):
            slots = [k for k in expected if k.startswith(f"{prefix}{name}/")]
            if not any(k in found for k in slots):
                optional.update(slots)
    diffs = _differences(found, expected, optional)
    if diffs:
        raise CheckpointError(f"checkpoint {path} does not match the model:\n  "
                              + "\n  ".join(diffs))
    restore_random = restoring(module, meta.get("generators"), meta.get("random"), path)
    for name, var in _named(model).items():
        var.assign(data[f"model/{name}"])
    for prefix, opt in optimizers:
        opt.load_state_dict({k[len(prefix):]: v for k, v in data.items()
                             if k.startswith(prefix)}, model)
    restore_random()
