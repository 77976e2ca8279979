"""``python -m xpgrad ...`` runs the ``xpgrad`` command, as the console script does (for an
environment whose scripts directory is not on ``PATH``). Unlike the script, it imports the
package before the launcher runs, so a Ctrl-C during that first import is Python's own.
"""
import sys

from _xpgrad_launcher import main

if __name__ == "__main__":
    sys.exit(main())
