"""``python -m app.cli``: the ``slawatch`` command without its console script (as tests run it)."""

import sys

from app.cli import main

if __name__ == "__main__":
    sys.exit(main())
