"""`python -m utils.runs`: a table of the runs in runs/ (the code is in `utils.run.runs_table`)."""
import sys

from .run.runs_table import main

if __name__ == "__main__":
    sys.exit(main())
