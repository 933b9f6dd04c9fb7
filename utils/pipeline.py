"""`python -m utils.pipeline`: Run the numbered notebooks with papermill into runs/<name>/ (the code is in `utils.run.pipeline`)."""
import sys

from .run.pipeline import main

if __name__ == "__main__":
    sys.exit(main())
