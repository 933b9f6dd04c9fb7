"""`python -m utils.train`: Train a run folder (notebook 03) as a script, e.g. under `accelerate launch` (code in `utils.training.cli`)."""
import sys

from .training.cli import main

if __name__ == "__main__":
    sys.exit(main())
