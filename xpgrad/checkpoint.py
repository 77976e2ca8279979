"""Checkpoints: a model's variables (and an optimizer's state) in one ``.npz`` file.

``save_checkpoint(path, model, optimizer=None)`` writes atomically: a temporary file in the same
directory, flushed to disk, then ``os.replace`` onto ``path`` -- a crash leaves the old file or
none, never a partial one. ``load_checkpoint(path, model, optimizer=None)`` checks every name,
shape and dtype first and raises ``CheckpointError`` listing all differences (missing,
unexpected, shape, dtype) before changing anything.

``model`` is a Module (variables named by ``named_variables()``, e.g. ``"mlp/linear0/w"``), a
dict ``{name: Variable}`` or a list of uniquely named Variables. Keys in the file are
``"model/<name>"``, ``"optimizer/iterations"`` and ``"optimizer/<name>/<slot>"``.

>>> import os, tempfile, xpgrad as xg
>>> model = xg.nn.MLP([2, 3, 1], rng=0)
>>> path = os.path.join(tempfile.mkdtemp(), "ckpt.npz")
>>> xg.save_checkpoint(path, model)
>>> xg.load_checkpoint(path, xg.nn.MLP([2, 3, 1], rng=1))
>>> try:
...     xg.load_checkpoint(path, xg.nn.MLP([2, 4, 1], rng=1))
... except xg.CheckpointError as e:
...     print(str(e).splitlines()[1])
  shape of 'model/mlp/linear0/w': checkpoint (2, 3), model (2, 4)
"""
from __future__ import annotations

import json
import os
import tempfile

import numpy as np   # the file format is NumPy's; data crosses backends via .numpy()

FORMAT = 1
_META = "__xpgrad__"


class CheckpointError(ValueError):
    """The checkpoint does not match the model or optimizer it is loaded into."""


def _named(model) -> dict:
    from .optim.optimizer import _named as named

    return named(model)


def _arrays(model, optimizer) -> dict:
    out = {f"model/{k}": v.numpy() for k, v in _named(model).items()}
    if optimizer is not None:
        for k, t in optimizer.state_dict(model).items():
            out[f"optimizer/{k}"] = t.numpy()
    return out


def save_checkpoint(path, model, optimizer=None) -> None:
    """Save ``model``'s variables (and ``optimizer``'s state) to ``path`` (.npz), atomically."""
    arrays = _arrays(model, optimizer)
    meta = {"format": FORMAT,
            "optimizer": None if optimizer is None else type(optimizer).__name__}
    arrays[_META] = np.asarray(json.dumps(meta))
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".npz", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def _expected(model, optimizer) -> dict:
    exp = {f"model/{k}": (v.shape, v.dtype.name) for k, v in _named(model).items()}
    if optimizer is not None:
        for k, spec in optimizer.expected_state(model).items():
            exp[f"optimizer/{k}"] = spec
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
    nothing, when names, shapes or dtypes differ. Without ``optimizer``, optimizer entries in
    the file are ignored."""
    path = os.fspath(path)
    with np.load(path, allow_pickle=False) as z:
        data = {k: z[k] for k in z.files}
    meta = json.loads(str(data.pop(_META))) if _META in data else {"format": None}
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not an xpgrad checkpoint of format {FORMAT} "
                              f"(found format {meta.get('format')!r})")
    if optimizer is None:
        data = {k: v for k, v in data.items() if not k.startswith("optimizer/")}
    elif meta.get("optimizer") not in (None, type(optimizer).__name__):
        raise CheckpointError(f"checkpoint {path} holds {meta['optimizer']} state, not "
                              f"{type(optimizer).__name__}")
    found = {k: (v.shape, v.dtype.name) for k, v in data.items()}
    expected = _expected(model, optimizer)
    # a variable the optimizer never updated has no state: its slots may all be absent
    optional = set()
    if optimizer is not None:
        for name in _named(model):
            slots = [k for k in expected if k.startswith(f"optimizer/{name}/")]
            if not any(k in found for k in slots):
                optional.update(slots)
    diffs = _differences(found, expected, optional)
    if diffs:
        raise CheckpointError(f"checkpoint {path} does not match the model:\n  "
                              + "\n  ".join(diffs))
    for name, var in _named(model).items():
        var.assign(data[f"model/{name}"])
    if optimizer is not None:
        state = {k[len("optimizer/"):]: v for k, v in data.items()
                 if k.startswith("optimizer/")}
        optimizer.load_state_dict(state, model)
