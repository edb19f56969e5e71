"""Beyond agreement: prediction-powered estimates, the alternative annotator test, juries.

These are steps of every audit's pipeline (:data:`auditor.audit.STEPS`): :mod:`auditor.analyses.ppi`,
:mod:`auditor.analyses.alt_test` and :mod:`auditor.analyses.jury`; their options live in the config
(``AuditConfig.ppi``, ``.alt_test``, ``.jury``; TOML tables ``[ppi]``, ``[alt_test]``, ``[jury]``).  This module
keeps the old names importable; importing it changes nothing.
"""

from __future__ import annotations

from auditor.analyses.alt_test import DEFAULT_ALIGNMENT, alt_test_rows
from auditor.analyses.ppi import ppi_rows
from auditor.io import json_safe
from auditor.metrics import PPI_RATES as PPI_METRICS

__all__ = ["DEFAULT_ALIGNMENT", "PPI_METRICS", "alt_test_rows", "json_safe", "ppi_rows"]
