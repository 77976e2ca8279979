"""``curves.png`` drawn by a helper process that imports matplotlib while the run trains.

Importing matplotlib takes about as long as the default ``xpgrad train`` run's whole training
loop, and a run needs it only at the end. ``CurvesProcess()`` starts ``python -m
xpgrad.curves_process``, which imports matplotlib and waits; ``draw(history, path, title)`` sends
it the history as one line of JSON and waits for the PNG, drawn by ``report.plot_history`` as
in-process. If the helper cannot start or fails, ``draw`` draws in this process instead (and
raises what that raises). A helper never sent anything exits when its input closes (``close()``,
or this process ending), so a run that stops early leaves nothing behind. A helper pays off only
when it gets a CPU of its own while the run trains (``spare_cpu``); on a busy machine its start
(Python, NumPy, xpgrad) is one more cost, and ``xpgrad train`` draws in its own process.

>>> import os, tempfile
>>> helper = CurvesProcess()
>>> path = helper.draw({"epoch": [1, 2], "train_loss": [1.0, 0.5], "test_accuracy": [0.5, 0.7]},
...                    os.path.join(tempfile.mkdtemp(), "curves.png"), title="doctest")
>>> open(path, "rb").read(8) == b"\\x89PNG\\r\\n\\x1a\\n", helper.drew_here
(True, False)
"""
from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys


def spare_cpu() -> bool:
    """Whether a helper would get a CPU of its own: this process's CPUs exceed the load average
    of the last minute by one or more (where the OS reports none, assume so). On a busy machine
    a helper only adds the cost of its own start to the run.

    >>> isinstance(spare_cpu(), bool)
    True
    """
    from .threads import available_cpus

    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):
        return True
    return available_cpus() - load >= 1.0


class CurvesProcess:
    """A helper process for one ``curves.png`` (see the module's docstring)."""

    def __init__(self, timeout=120.0):
        import xpgrad

        self.timeout = timeout
        self.drew_here = False              # whether draw() fell back to this process
        self.reason = None                  # why it did
        env = dict(os.environ)
        root = os.path.dirname(os.path.dirname(os.path.abspath(xpgrad.__file__)))
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
        try:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", __name__], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                stderr=subprocess.PIPE, text=True, env=env, start_new_session=True)
        except OSError as e:
            self._proc, self.reason = None, f"the helper did not start: {e}"

    def draw(self, history, path, title=None) -> str:
        """Write the curves of ``history`` (a ``History`` or its dict) to ``path``; return it."""
        h = history if isinstance(history, dict) else history.as_dict()
        if self._proc is not None:
            proc, self._proc = self._proc, None
            full = os.path.abspath(path)            # the helper may run elsewhere
            try:
                out, err = proc.communicate(json.dumps({"history": h, "path": full,
                                                        "title": title}) + "\n",
                                            timeout=self.timeout)
                if proc.returncode == 0 and out.strip() == full:
                    return path
                self.reason = f"the helper failed ({proc.returncode}): {err.strip()[-500:]}"
            except (OSError, subprocess.TimeoutExpired) as e:
                proc.kill()
                proc.wait()
                self.reason = f"the helper failed: {e}"
        from .report import plot_history

        self.drew_here = True
        return plot_history(h, path, title=title)

    def close(self) -> None:
        """Let the helper go without drawing (it exits at the end of its input)."""
        if self._proc is not None:
            with contextlib.suppress(OSError):
                self._proc.stdin.close()
            self._proc = None


def main() -> int:
    """The helper: import matplotlib, then draw the one request read from stdin."""
    from .report import _figure, plot_history

    _figure((1, 1))                         # imports and sets up matplotlib and Agg
    import matplotlib.ticker  # noqa: F401
    line = sys.stdin.readline()
    if not line.strip():
        return 0
    job = json.loads(line)
    print(plot_history(job["history"], job["path"], title=job["title"]), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
