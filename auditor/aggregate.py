"""Moved to :mod:`auditor.engine.aggregation`; this name stays an alias of that module."""

import sys

from auditor.engine import aggregation

sys.modules[__name__] = aggregation
