"""Compiled bytecode for the Python processes the tests start, kept outside the checkout.

Where ``PYTHONDONTWRITEBYTECODE`` is set (as on the CI machine), every Python process a test
starts (``xpgrad train``, the examples, benchmark scripts, MPI ranks: several hundred a run)
compiled xpgrad's 400-odd modules from source again: ``import xpgrad`` took 0.65 s of CPU
instead of 0.28 s. For the run, those processes write and read their bytecode in a folder of
the temporary directory (``PYTHONPYCACHEPREFIX``), which the run deletes at its end; the
checkout still gets no ``__pycache__``. A run whose environment names a prefix, or allows
bytecode, is left as it is.
"""
import os
import shutil
import tempfile


def bytecode_for_subprocesses(environ=os.environ):
    """Swap ``PYTHONDONTWRITEBYTECODE`` in ``environ`` for a new ``PYTHONPYCACHEPREFIX``
    folder; return the folder, or None where nothing was changed.

    >>> environ = {"PYTHONDONTWRITEBYTECODE": "1"}
    >>> folder = bytecode_for_subprocesses(environ)
    >>> sorted(environ) == ["PYTHONPYCACHEPREFIX"] and environ["PYTHONPYCACHEPREFIX"] == folder
    True
    >>> remove_bytecode(folder); bytecode_for_subprocesses({}) is None
    True
    """
    if not environ.get("PYTHONDONTWRITEBYTECODE") or environ.get("PYTHONPYCACHEPREFIX"):
        return None
    folder = tempfile.mkdtemp(prefix="xpgrad_test_bytecode_")
    del environ["PYTHONDONTWRITEBYTECODE"]
    environ["PYTHONPYCACHEPREFIX"] = folder
    return folder


def remove_bytecode(folder):
    """Delete ``folder`` (made by ``bytecode_for_subprocesses``) if there is one."""
    if folder:
        shutil.rmtree(folder, ignore_errors=True)
