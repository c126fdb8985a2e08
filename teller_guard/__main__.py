"""`python -m teller_guard`: the same as the `teller-guard` command."""

import sys

from teller_guard.cli import main

sys.exit(main())
