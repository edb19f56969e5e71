"""``python -m judges.cli judge ...`` / ``python -m judges.cli injection ...`` (see :func:`judges.cli.main`)."""

import sys

from judges.cli import main

sys.exit(main())
