"""`python -m fastinit`: the `fastinit` command (see fastinit.cli)."""

import sys

from fastinit.cli import main

if __name__ == "__main__":
    sys.exit(main())
