"""Moved to :mod:`auditor.analyses.jury` (the jury step); this name stays an alias of that module."""

import sys

from auditor.analyses import jury

sys.modules[__name__] = jury
