"""The checkpoint file: one ``.npz`` (NumPy's format) with a JSON entry ``__xpgrad__`` (its
format, the optimizer kinds, the user's metadata, the random state), written atomically and
durably, read back whole and checked (``checkpoint.py`` puts a model and its optimizer into it).

``check_writable(path)`` checks the path first (a directory that exists and can be written,
``path`` not a directory); ``write_file(path, arrays, meta)`` writes a temporary file beside
``path``, fsync'ed, renamed onto ``path`` with ``os.replace``, then fsyncs the directory -- a
crash leaves the old file or the new one, never a partial one, and a power cut after the call
returns cannot lose the rename. The file gets the permissions ``open()`` would give a new file
(the umask applies). A failure that the process survives (disk full, KeyboardInterrupt, ...)
removes the temporary file; a temporary left by a killed process (named
``.<name>.<host>.<pid>.<random>.tmp``) is removed by the next save of the same file once that
process is gone. ``read_file(path)`` raises ``CheckpointError`` naming the file and what is
wrong for a file that is damaged (truncated, corrupted, not a zip archive, holding pickled
objects).

>>> import os, tempfile
>>> path = os.path.join(tempfile.mkdtemp(), "c.npz")
>>> write_file(check_writable(path), {"w": np.ones(2)}, {"format": FORMAT})
>>> sorted(read_file(path))
['__xpgrad__', 'w']
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

import numpy as np

FORMAT = 1
_META = "__xpgrad__"


class CheckpointError(ValueError):
    """A checkpoint cannot be written to the path given, cannot be read (damaged, not a
    checkpoint), or does not match the model or optimizer it is loaded into."""


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


def write_file(path, arrays, meta) -> None:
    """Write ``arrays`` (``{key: NumPy array}``) and the JSON-serializable dict ``meta`` (under
    ``_META``) to ``path``, checked by ``check_writable``, atomically and durably (module
    docstring)."""
    arrays = dict(arrays)
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


def read_file(path) -> dict:
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
