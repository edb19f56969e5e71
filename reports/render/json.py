"""The audit as JSON text: the document the model was built from (indent 2, UTF-8, non-finite numbers as null)."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from reports.model import ReportModel
from reports.view import as_audit_dict


def _finite(value: Any) -> Any:
    """NaN and infinities become null so that audit.json stays valid JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    if hasattr(value, "item") and callable(value.item) and not isinstance(value, (str, bytes)):
        try:  # numpy scalars
            return _finite(value.item())
        except (TypeError, ValueError):
            return value
    return value


def render(model: ReportModel) -> str:
    """The model's audit document as JSON text."""
    return render_json(model.document)


def render_json(audit: Mapping[str, Any] | ReportModel) -> str:
    """The audit as JSON text (indent 2, UTF-8, non-finite numbers as null)."""
    audit = as_audit_dict(audit)
    return json.dumps(_finite(audit), indent=2, ensure_ascii=False, allow_nan=False, default=str) + "\n"
