"""The audit as JSON text: the document the model was built from (UTF-8, non-finite numbers as null).

Laid out for reading and for line diffs: an object has one key per line, indented two spaces a level; a list of
objects or lists has one item per line, each item written on that one line (a metric row, a case, a confusion
matrix); a list of plain values (the judges, the categories) stays on one line.  The lines are written by
``json``'s C encoder (an indent would make ``json`` take its pure-Python encoder for the whole document, ten times
slower on the case list).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from auditor.io import json_safe
from reports.model import ReportModel
from reports.view import as_audit_dict

#: One value as one line of JSON (the C encoder: no indent)
_one_line = json.JSONEncoder(ensure_ascii=False, allow_nan=False, default=str).encode


def render(model: ReportModel) -> str:
    """The model's audit document as JSON text."""
    return render_json(model.document)


def render_json(audit: Mapping[str, Any] | ReportModel) -> str:
    """The audit as JSON text (UTF-8, non-finite numbers as null; laid out as the module says)."""
    return layout(json_safe(as_audit_dict(audit))) + "\n"


def layout(value: Any, indent: str = "") -> str:
    """``value`` as JSON text: objects one key per line, lists of objects or lists one item per line (see the
    module docstring); ``indent`` is the indent of the line ``value`` starts on."""
    inner = indent + "  "
    if isinstance(value, dict) and value:
        keys = [f"{inner}{_one_line(str(key))}: {layout(item, inner)}" for key, item in value.items()]
        return "{\n" + ",\n".join(keys) + "\n" + indent + "}"
    if isinstance(value, list) and any(isinstance(item, (dict, list)) for item in value):
        return "[\n" + ",\n".join(inner + _one_line(item) for item in value) + "\n" + indent + "]"
    return _one_line(value)
