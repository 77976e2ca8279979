"""Run several command lines of Python scripts in one new process (one interpreter start and
``import xpgrad`` instead of one per command line), for tests of the lines that a script refuses.

Each line runs as ``python SCRIPT ARGS...`` would run it (``runpy`` as ``__main__``, with
``sys.argv`` and ``sys.path[0]`` set), one after another; an exception other than ``SystemExit``
is printed to the line's stderr as Python prints it (a "Traceback") with status 1.
"""
import json
import subprocess
import sys
from types import SimpleNamespace

_DRIVER = r"""
import contextlib, io, json, os, runpy, sys, traceback

results = []
for script, args in json.loads(sys.stdin.read()):
    out, err = io.StringIO(), io.StringIO()
    sys.argv = [script, *args]
    sys.path[0] = os.path.dirname(os.path.abspath(script))
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            runpy.run_path(script, run_name="__main__")
            status = 0
        except SystemExit as e:
            if e.code is None or isinstance(e.code, int):
                status = e.code or 0
            else:
                print(e.code, file=sys.stderr)
                status = 1
        except BaseException:
            traceback.print_exc()
            status = 1
    results.append([status, out.getvalue(), err.getvalue()])
print("\n" + json.dumps(results))
"""


def run_lines(lines, *, cwd=None, env=None, timeout=300):
    """Run each ``(script path, [arguments])`` of ``lines`` in one new Python process; return one
    ``returncode``/``stdout``/``stderr`` namespace per line, in order.

    >>> import os, tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     path = os.path.join(d, "echo.py")
    ...     with open(path, "w") as f:
    ...         _ = f.write("import sys\\nprint(sys.argv[1:])\\nsys.exit(len(sys.argv) - 1)\\n")
    ...     runs = run_lines([(path, ["a"]), (path, ["a", "b"])])
    >>> [(run.returncode, run.stdout) for run in runs]
    [(1, "['a']\\n"), (2, "['a', 'b']\\n")]
    """
    lines = [(str(script), [str(a) for a in args]) for script, args in lines]
    proc = subprocess.run([sys.executable, "-c", _DRIVER], input=json.dumps(lines),
                          capture_output=True, text=True, cwd=cwd, env=env, timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads(proc.stdout.splitlines()[-1])
    return [SimpleNamespace(returncode=status, stdout=out, stderr=err)
            for status, out, err in results]
