"""What a step of the audit pipeline returns (:data:`auditor.audit.STEPS`).

A step is ``step(context, config) -> StepOutput``.  It adds its metric rows through ``context.add`` (the shared
bootstrap gives them their intervals) or returns ready rows in ``rows``; it returns its parts of ``audit.json`` in
``sections`` (name -> content, in order; a name ``"parent.child"`` is a sub-section, kept only when non-empty), its
warnings, the label rows it left out (``exclusions``) and, for the core step, the confusion tables and score pairs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from auditor.config import AuditConfig
    from auditor.engine.context import AuditContext


@dataclass
class StepOutput:
    rows: list[dict[str, Any]] = field(default_factory=list)
    sections: dict[str, Any] = field(default_factory=dict)
    warnings: list[dict[str, Any]] = field(default_factory=list)
    exclusions: list[dict[str, Any]] = field(default_factory=list)
    confusion: list[dict[str, Any]] = field(default_factory=list)
    score_pairs: list[dict[str, Any]] = field(default_factory=list)


Step = Callable[["AuditContext", "AuditConfig"], StepOutput]
