"""The audit as JSON text: the document the model was built from (UTF-8, non-finite numbers as null), laid out by
:func:`auditor.io.json_text` (one key per line, each metric row, case and confusion matrix on one line)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from auditor.io import json_safe, json_text
from reports.model import ReportModel
from reports.view import as_audit_dict


def render(model: ReportModel | Mapping[str, Any]) -> str:
    """The model's audit document as JSON text (an audit dict or result, which needs no model, as well)."""
    return render_json(model)


def render_json(audit: Mapping[str, Any] | ReportModel) -> str:
    """The audit as JSON text (UTF-8, non-finite numbers as null; laid out by :func:`auditor.io.json_text`)."""
    return json_text(json_safe(as_audit_dict(audit))) + "\n"
