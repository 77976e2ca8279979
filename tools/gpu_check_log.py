"""The prepared GPU check's log and clock: everything printed goes to stdout and the log file,
and each command of a stage runs in its own process group under a time limit (SIGINT, then
SIGKILL), its output copied to the log as it comes.

>>> utc_now().endswith("Z")
True
"""
from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

from gpu_check_config import KILL_GRACE, ROOT


def utc_now() -> str:
    """The current UTC time, ISO 8601 to the second.

    >>> len(utc_now()) == len("2026-01-01T00:00:00Z")
    True
    """
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class Log:
    """Everything printed goes to stdout and to ``path``, line by line, flushed."""

    def __init__(self, path):
        self.path = Path(path)
        self._f = open(self.path, "a", encoding="utf-8", errors="replace")
        self._lock = threading.Lock()

    def write(self, text: str):
        with self._lock:
            sys.stdout.write(text)
            sys.stdout.flush()
            self._f.write(text)
            self._f.flush()

    def line(self, text: str = ""):
        self.write(text + "\n")

    def close(self):
        self._f.close()


def _pump(stream, log):
    for raw in iter(stream.readline, b""):
        log.write(raw.decode("utf-8", errors="replace"))
    stream.close()


def _signal_group(proc, sig):
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _interruptible():
    """In the child before exec: SIGINT back to its default and unblocked. A shell without job
    control starts background commands with SIGINT ignored, and exec keeps both an ignored
    disposition and a blocked mask; the stage limit's SIGINT must reach the stage."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def run_logged(cmd, log, timeout, env=None, cwd=ROOT, grace=KILL_GRACE) -> dict:
    """Run ``cmd`` in its own process group, its output copied to ``log`` as it comes. After
    ``timeout`` seconds the group gets SIGINT (pytest then still writes its JUnit XML and a
    benchmark keeps the JSON of the sections it finished), and SIGKILL ``grace`` seconds later.

    >>> import sys, io, tempfile, os
    >>> log = Log(os.path.join(tempfile.mkdtemp(), "log"))
    >>> r = run_logged([sys.executable, "-c", "print('hi')"], log, 30)   # doctest: +ELLIPSIS
    $ ... -c ...   (limit 30 s)
    hi
    -> exit 0 after ... s
    >>> r["rc"], r["timed_out"]
    (0, False)
    """
    t0 = time.monotonic()
    log.line(f"$ {shlex.join(str(c) for c in cmd)}   (limit {timeout:.0f} s)")
    try:
        proc = subprocess.Popen([str(c) for c in cmd], stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=cwd,
                                env=env, start_new_session=True,
                                preexec_fn=_interruptible)
    except OSError as e:
        log.line(f"!! could not start: {e}")
        return {"cmd": [str(c) for c in cmd], "rc": None, "seconds": 0.0, "timed_out": False,
                "error": str(e)}
    reader = threading.Thread(target=_pump, args=(proc.stdout, log), daemon=True)
    reader.start()
    timed_out = False
    try:
        rc = proc.wait(timeout=max(timeout, 0.1))
    except subprocess.TimeoutExpired:
        timed_out = True
        log.line(f"\n!! time limit of {timeout:.0f} s reached: SIGINT to the process group, "
                 f"SIGKILL after {grace} s")
        _signal_group(proc, signal.SIGINT)
        try:
            rc = proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            _signal_group(proc, signal.SIGKILL)
            rc = proc.wait()
    _signal_group(proc, signal.SIGKILL)          # nothing of the stage outlives it
    reader.join(timeout=5)
    seconds = time.monotonic() - t0
    log.line(f"-> exit {rc} after {seconds:.1f} s" + (" (timed out)" if timed_out else ""))
    return {"cmd": [str(c) for c in cmd], "rc": rc, "seconds": round(seconds, 1),
            "timed_out": timed_out}
