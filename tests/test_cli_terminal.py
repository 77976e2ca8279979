"""``xpgrad`` whose stdout is a terminal, as every rank's is under Open MPI's ``mpiexec``
(it gives each a pseudo-terminal and forwards what they write, escape codes included)."""
import os
import pty
import shutil
import subprocess
import sys

import pytest

from xpgrad.backend import available_backends

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")


def _run_on_a_terminal(*argv, timeout=300):
    """``(exit status, bytes written to stdout)`` of ``xpgrad *argv`` whose stdout is a pty."""
    main, child = pty.openpty()
    script = shutil.which("xpgrad") or pytest.skip("the xpgrad console script is not installed")
    proc = subprocess.Popen([script, *argv], stdout=child, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL)
    os.close(child)
    out = b""
    while True:
        try:
            chunk = os.read(main, 4096)
        except OSError:             # the child closed its end
            break
        if not chunk:
            break
        out += chunk
    os.close(main)
    proc.wait(timeout=timeout)
    return proc.returncode, out


@pytest.mark.skipif("numba" not in available_backends(), reason="needs the numba backend")
def test_training_on_numba_writes_no_terminal_codes(tmp_path):
    """Numba formats a message with colorama while it loads its cached kernels; colorama then
    writes a colour reset to a terminal stdout at exit. Under ``mpiexec ... > log`` every rank
    ended the log with it."""
    status, out = _run_on_a_terminal("train", "--backend", "numba", "--epochs", "1",
                                     "--max-steps", "3", "--no-log", "--quiet",
                                     "--threads", "1")
    assert status == 0, out
    assert b"held-out accuracy" in out
    assert b"\x1b" not in out, out[-80:]
