"""The ``xpgrad`` console script's entry point (``[project.scripts]`` in pyproject.toml).

``main`` imports the command (``xpgrad.cli``) and runs it inside one ``try``: Ctrl-C at any
moment -- while ``import xpgrad`` still loads the package (about 0.6 s of every command), or
later outside the training loop (which saves and returns by itself) -- ends the command with the
one line ``xpgrad: interrupted`` on stderr and exit status 130, as ``xpgrad.cli.main`` ends it
once it runs, never with a traceback of whatever module was loading.

It is a top-level module of the distribution, not a module of the ``xpgrad`` package, on
purpose: importing any ``xpgrad.<module>`` runs ``xpgrad/__init__.py`` (the whole package) first,
before that module's first line, so a launcher inside the package could not catch an interrupt
of that import. This module imports nothing but ``sys`` until ``main`` runs.

>>> main(["--version"])             # doctest: +SKIP
xpgrad 0.1.0
"""
import sys

#: the exit status of an interrupted command (128 + SIGINT), as the shells give one
INTERRUPTED = 130


def main(argv=None) -> int:
    """Run the ``xpgrad`` command on ``argv`` (default: ``sys.argv[1:]``); returns its exit
    status, 130 after Ctrl-C."""
    try:
        from xpgrad.cli import main as run

        return run(argv)
    except KeyboardInterrupt:
        sys.stderr.write("xpgrad: interrupted\n")
        sys.stderr.flush()
        group = sys.modules.get("xpgrad.distributed.group")
        if group is not None:           # data-parallel: the other ranks wait for this one
            try:
                group.abort_on_failure(INTERRUPTED)
            except KeyboardInterrupt:
                pass
        return INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
