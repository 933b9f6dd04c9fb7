"""`python -m utils.predict`: Tag texts with a finished run's model (the code is in `utils.inference.cli`)."""
import sys

from .inference.cli import main

if __name__ == "__main__":
    sys.exit(main())
