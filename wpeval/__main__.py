"""``python -m wpeval``: the same as the ``wpeval`` command (see :mod:`wpeval.cli`)."""

import sys

from wpeval.cli import main

if __name__ == "__main__":
    sys.exit(main())
