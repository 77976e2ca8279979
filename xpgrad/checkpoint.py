"""Checkpoints: a model's variables (and an optimizer's state) in one ``.npz`` file.

``save_checkpoint(path, model, optimizer=None, metadata=None)`` checks the path first (a
directory that exists and can be written, ``path`` not a directory), then writes atomically and
durably: a temporary file beside ``path``, fsync'ed, renamed onto ``path`` with
``os.replace``, then the directory fsync'ed -- a crash leaves the old file or the new one, never
a partial one, and a power cut after the call returns cannot lose the rename. The file gets the
permissions ``open()`` would give a new file (the umask applies). A failure that the process
survives (disk full, KeyboardInterrupt, ...) removes the temporary file; a temporary left by a
killed process (named ``.<name>.<host>.<pid>.<random>.tmp``) is removed by the next save of the
same file once that process is gone.

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

import errno
import json
import os
import secrets
import socket
import struct
import zipfile
import zlib

import numpy as np   # the file format is NumPy's; data crosses backends via .numpy()

FORMAT = 1
_META = "__xpgrad__"


class CheckpointError(ValueError):
    """A checkpoint cannot be written to the path given, cannot be read (damaged, not a
    checkpoint), or does not match the model or optimizer it is loaded into."""


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


# -- where a checkpoint may be written ---------------------------------------------------------
def _fspath(path, what="path") -> str:
    try:
        path = os.fspath(path)
    except TypeError:
        raise TypeError(f"{what} must be a str or os.PathLike, got {type(path).__name__}"
                        ) from None
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    if not path:
        raise CheckpointError(f"{what} is empty; give the checkpoint's file name")
    return path


def _host() -> str:
    return socket.gethostname().replace(".", "_").replace(os.sep, "_") or "host"


def _temp_prefix(path) -> str:
    """Temporary files of ``path`` are ``<dir>/.<name>.<host>.<pid>.<random>.tmp``."""
    directory, name = os.path.split(os.path.abspath(path))
    return os.path.join(directory, f".{name}.")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):      # someone else's process (or no way to tell)
        return True
    return True


def remove_stale_temporaries(path) -> list:
    """Remove the temporary files of ``path`` left by processes of this host that are gone
    (killed mid-save); return their paths. Another live process's temporary is kept.

    >>> import tempfile
    >>> remove_stale_temporaries(os.path.join(tempfile.mkdtemp(), "c.npz"))
    []
    """
    prefix = _temp_prefix(path)
    directory, start = os.path.split(prefix)
    removed = []
    try:
        names = os.listdir(directory)
    except OSError:
        return removed
    host = _host()
    for name in names:
        if not (name.startswith(start) and name.endswith(".tmp")):
            continue
        parts = name[len(start):-len(".tmp")].rsplit(".", 2)
        if len(parts) != 3 or parts[0] != host or not parts[1].isdigit():
            continue
        pid = int(parts[1])
        if pid == os.getpid() or _pid_alive(pid):
            continue
        try:
            os.unlink(os.path.join(directory, name))
            removed.append(os.path.join(directory, name))
        except OSError:
            pass
    return removed


def _create_temporary(path):
    """A new temporary file beside ``path`` (mode 0o666 less the umask): ``(fd, name)``."""
    tmp = f"{_temp_prefix(path)}{_host()}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    return os.open(tmp, flags, 0o666), tmp


def check_writable(path) -> str:
    """Check that a checkpoint can be saved at ``path`` (before any work that would be lost
    otherwise): its directory exists and takes new files, and ``path`` is not a directory.
    Returns ``path`` as a str; raises CheckpointError saying what is wrong.

    >>> try:
    ...     check_writable("/no/such/dir/c.npz")
    ... except CheckpointError as e:
    ...     print(e)
    cannot save a checkpoint to '/no/such/dir/c.npz': the directory '/no/such/dir' does not exist
    """
    path = _fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    where = f"cannot save a checkpoint to {path!r}"
    if os.path.isdir(path):
        raise CheckpointError(f"{where}: it is a directory; give a file name such as "
                              f"{os.path.join(path, 'checkpoint.npz')!r}")
    if not os.path.isdir(directory):
        what = "is a file, not a directory" if os.path.exists(directory) else "does not exist"
        raise CheckpointError(f"{where}: the directory {directory!r} {what}")
    if os.path.exists(path) and not os.access(path, os.W_OK):
        # os.replace would still succeed in a writable directory; we refuse, like open()
        raise CheckpointError(f"{where}: the file exists and is not writable")
    try:                               # the real test: can a file be made there?
        fd, tmp = _create_temporary(path)
    except OSError as e:
        raise CheckpointError(f"{where}: cannot create a file in {directory!r} "
                              f"({e.strerror or e})") from None
    os.close(fd)
    os.unlink(tmp)
    return path


def _fsync_directory(directory) -> None:
    if os.name != "posix":               # Windows cannot open a directory; NTFS journals it
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError as e:                 # some file systems refuse fsync on a directory
        if e.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EBADF):
            raise
    finally:
        os.close(fd)


def save_checkpoint(path, model, optimizer=None, metadata=None, *, extra=None) -> None:
    """Save ``model``'s variables (and ``optimizer``'s state, the JSON-serializable dict
    ``metadata`` and ``extra``, a dict of NumPy arrays such as a run's best weights, which
    ``load_checkpoint`` leaves alone and ``checkpoint_extra`` reads) to ``path`` (.npz),
    atomically and durably; see the module docstring."""
    from .checkpoint_generators import random_state

    path = check_writable(path)
    randomness = random_state(model)
    model = _named(model)           # {name: Variable}, checked; a generator is read once
    if metadata is not None and not isinstance(metadata, dict):
        raise TypeError(f"metadata must be a dict (JSON-serializable), got "
                        f"{type(metadata).__name__}")
    optimizers = _check_optimizer(optimizer)
    arrays = _arrays(model, optimizers)
    for name, value in (extra or {}).items():
        arrays[f"extra/{name}"] = np.asarray(value)
    meta = {"format": FORMAT, "optimizer": _kinds(optimizers), "metadata": metadata,
            **randomness}
    try:
        arrays[_META] = np.asarray(json.dumps(meta, allow_nan=False))
    except (TypeError, ValueError) as e:
        raise TypeError(f"metadata must be JSON-serializable (finite numbers, str, lists, "
                        f"dicts): {e}") from None
    remove_stale_temporaries(path)
    fd, tmp = _create_temporary(path)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _fsync_directory(os.path.dirname(os.path.abspath(path)))


# -- reading -------------------------------------------------------------------------------------
#: what a damaged file makes NumPy's and zipfile's readers raise
_DAMAGE = (zipfile.BadZipFile, zlib.error, struct.error, EOFError, ValueError, KeyError,
           OSError, UnicodeDecodeError, OverflowError, MemoryError, NotImplementedError)


def _read(path) -> dict:
    """Every array of the checkpoint at ``path`` (and its parsed metadata under ``_META``)."""
    path = _fspath(path)
    if os.path.isdir(path):
        raise CheckpointError(f"{path!r} is a directory, not a checkpoint file")
    if not os.path.exists(path):
        raise FileNotFoundError(errno.ENOENT, "no checkpoint file", path)
    if not os.path.isfile(path):      # a device (/dev/zero: read without end) or a pipe
        raise CheckpointError(f"{path!r} is not a regular file, so not a checkpoint")
    if not zipfile.is_zipfile(path):
        size = os.path.getsize(path)
        raise CheckpointError(f"{path!r} is not a checkpoint: not a .npz (zip) archive "
                              f"({size} bytes{'; empty' if not size else ''}); it may be "
                              "truncated or another kind of file")
    data, key = {}, None
    try:
        with np.load(path, allow_pickle=False) as z:
            for key in z.files:
                data[key] = z[key]
    except _DAMAGE as e:
        if isinstance(e, PermissionError):
            raise
        if isinstance(e, ValueError) and "allow_pickle" in str(e):
            raise CheckpointError(f"{path!r} holds pickled Python objects under {key!r}; "
                                  "checkpoints hold numeric arrays only, and pickles are "
                                  "never loaded (they can run code)") from None
        where = f" (reading {key!r})" if key is not None else ""
        raise CheckpointError(f"{path!r} is damaged{where}: {type(e).__name__}: {e}; it may "
                              "be truncated or corrupted") from None
    if _META not in data:
        raise CheckpointError(f"{path!r} is not an xpgrad checkpoint of format {FORMAT} "
                              f"(found format None: no {_META!r} entry)")
    try:
        meta = json.loads(str(data.pop(_META)))
        if not isinstance(meta, dict):
            raise ValueError("not a JSON object")
    except ValueError as e:
        raise CheckpointError(f"{path!r} is damaged: its {_META!r} entry is not valid "
                              f"({e})") from None
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"{path!r} is not an xpgrad checkpoint of format {FORMAT} "
                              f"(found format {meta.get('format')!r})")
    for k, v in data.items():
        if v.dtype.kind not in "biufc":
            raise CheckpointError(f"{path!r} holds a non-numeric array under {k!r} "
                                  f"(dtype {v.dtype}); checkpoints hold numeric arrays only")
    data[_META] = meta
    return data


def checkpoint_metadata(path) -> dict:
    """The ``metadata`` dict saved with the checkpoint at ``path`` (``{}`` if none); checks
    that the file is a readable checkpoint (CheckpointError otherwise)."""
    return dict(_read(path)[_META].get("metadata") or {})


def checkpoint_extra(path) -> dict:
    """The ``extra`` arrays saved with the checkpoint at ``path`` (``{}`` if none).

    >>> import os, tempfile, numpy as np, xpgrad as xg
    >>> path = os.path.join(tempfile.mkdtemp(), "c.npz")
    >>> xg.save_checkpoint(path, [xg.Variable([1.0], name="w")], extra={"best/w": np.ones(1)})
    >>> xg.checkpoint_extra(path)
    {'best/w': array([1.])}
    """
    return {k[len("extra/"):]: v for k, v in _read(path).items() if k.startswith("extra/")}


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

    optimizers = _check_optimizer(optimizer)
    module, model = model, _named(model)     # {name: Variable}, checked; a generator read once
    data = _read(path)
    path = _fspath(path)
    meta = data.pop(_META)
    data = {k: v for k, v in data.items() if not k.startswith("extra/")}
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
