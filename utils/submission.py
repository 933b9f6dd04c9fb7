"""`python -m utils.submission`: Check a submission file and send it to Kaggle (the code is in `utils.inference.submission`)."""
import sys

from .inference.submission import main

if __name__ == "__main__":
    sys.exit(main())
