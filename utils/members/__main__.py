"""`python -m utils.members`: list the member kinds."""
import sys

from .listing import main

sys.exit(main())
