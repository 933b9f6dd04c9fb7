"""`python -m utils.kaggle_kernel`: Build (and push) the kit's Kaggle GPU kernel (the code is in `utils.run.kaggle_kernel`)."""
import sys

from .run.kaggle_kernel import main

if __name__ == "__main__":
    sys.exit(main())
