"""Moved to :mod:`auditor.engine.integrity`; this name stays an alias of that module."""

import sys

from auditor.engine import integrity

sys.modules[__name__] = integrity
