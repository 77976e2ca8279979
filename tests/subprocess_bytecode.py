"""Compiled bytecode for the Python processes the tests start, kept outside the checkout.

Where ``PYTHONDONTWRITEBYTECODE`` is set (as on the CI machine), every Python process a test
starts (``xpgrad train``, the examples, benchmark scripts, MPI ranks: several hundred a run)
compiled xpgrad's 400-odd modules from source again: ``import xpgrad`` took 0.65 s of CPU
instead of 0.28 s. For the run, those processes write and read their bytecode in a folder of
the temporary directory (``PYTHONPYCACHEPREFIX``), which the run deletes at its end; the
checkout still gets no ``__pycache__``. A run whose environment names a prefix, or allows
bytecode, is left as it is.

Only the processes the tests start get the folder, not the xdist workers themselves: under a
prefix Python reads no ``__pycache__`` at all, so each worker, started side by side on a
fresh folder, compiled the ~2,500 installed modules its collection imports (torch, scipy,
pandas, jax, ...) from source again: 8 s of CPU per worker (a collection took 29.4 s of CPU
under a fresh prefix, 21.0 s reading the installed bytecode). The controller makes the folder
and hands it to the workers (``conftest.pytest_configure_node``), which name it in their
environment after they have started.
"""
import os
import shutil
import tempfile


def bytecode_folder(environ=os.environ):
    """A new folder for the bytecode of the processes the tests start, or None where
    ``environ`` allows bytecode or already names a prefix.

    >>> folder = bytecode_folder({"PYTHONDONTWRITEBYTECODE": "1"})
    >>> os.path.isdir(folder), bytecode_folder({}) is None
    (True, True)
    >>> remove_bytecode(folder)
    """
    if not environ.get("PYTHONDONTWRITEBYTECODE") or environ.get("PYTHONPYCACHEPREFIX"):
        return None
    return tempfile.mkdtemp(prefix="xpgrad_test_bytecode_")


def use_bytecode_folder(folder, environ=os.environ):
    """Swap ``PYTHONDONTWRITEBYTECODE`` in ``environ`` for ``PYTHONPYCACHEPREFIX=folder`` (the
    processes started from now on); nothing where ``folder`` is None.

    >>> environ = {"PYTHONDONTWRITEBYTECODE": "1"}
    >>> use_bytecode_folder("/tmp/run", environ); environ
    {'PYTHONPYCACHEPREFIX': '/tmp/run'}
    """
    if folder:
        environ.pop("PYTHONDONTWRITEBYTECODE", None)
        environ["PYTHONPYCACHEPREFIX"] = folder


def remove_bytecode(folder):
    """Delete ``folder`` (made by ``bytecode_folder``) if there is one."""
    if folder:
        shutil.rmtree(folder, ignore_errors=True)
