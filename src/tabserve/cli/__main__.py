"""`python -m tabserve.cli`, the same as the `tabserve` script."""

import sys

from tabserve.cli import main

sys.exit(main())
