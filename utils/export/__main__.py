"""`python -m utils.export runs/<name>`: the code is in `utils.export.cli`."""
import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
