"""The audit as JSON text: the document the model was built from (indent 2, UTF-8, non-finite numbers as null)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from auditor.io import json_safe
from reports.model import ReportModel
from reports.view import as_audit_dict


def render(model: ReportModel) -> str:
    """The model's audit document as JSON text."""
    return render_json(model.document)


def render_json(audit: Mapping[str, Any] | ReportModel) -> str:
    """The audit as JSON text (indent 2, UTF-8, non-finite numbers as null)."""
    audit = as_audit_dict(audit)
    return json.dumps(json_safe(audit), indent=2, ensure_ascii=False, allow_nan=False, default=str) + "\n"
