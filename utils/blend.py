"""`python -m utils.blend`: blend finished runs made on the same data (the code is in `utils.run.blend`)."""
import sys

from .run.blend import main

if __name__ == "__main__":
    sys.exit(main())
