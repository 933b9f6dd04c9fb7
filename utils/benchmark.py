"""`python -m utils.benchmark`: Score and time named configurations through the pipeline (the code is in `utils.run.benchmark`)."""
import sys

from .run.benchmark import main

if __name__ == "__main__":
    sys.exit(main())
