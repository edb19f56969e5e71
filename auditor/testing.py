"""Helpers for teams that gate on an audit inside their own test suite.

>>> from auditor.testing import assert_gates
>>> assert_gates(result, [{"metric": "cohen_kappa", "judge": "gpt-4o", "bound": "ci_low", "op": ">=",
...                        "threshold": 0.40}])                                   # doctest: +SKIP
>>> assert_gates("audit-out/audit.json", "gates.toml")                             # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from auditor.gates import GateReport, evaluate_gates, load_audit_document, load_rules

__all__ = ["assert_gates"]


def _document(result: Any) -> dict[str, Any]:
    from auditor.result import AuditResult

    if isinstance(result, AuditResult):
        return result.to_dict()
    if isinstance(result, Mapping):
        return dict(result)
    if isinstance(result, (str, Path)):
        return load_audit_document(Path(result))
    raise TypeError(
        f"expected an AuditResult, an audit.json dict or a path to audit.json, got {type(result).__name__}"
    )


def assert_gates(result: Any, rules: str | Path | Iterable[Mapping[str, Any] | str]) -> GateReport:
    """Fail the test (``AssertionError``) when a gate rule fails; return the :class:`~auditor.gates.GateReport`.

    ``result``: an :class:`~auditor.result.AuditResult`, the ``audit.json`` dict or a path to it.  ``rules``: a path
    to a gates TOML file (a :class:`~pathlib.Path`, or a ``str`` naming an existing file), TOML text, one compact
    rule (``"cohen_kappa ci_low >= 0.40 for gpt-4o"``), or a list of rule mappings / compact strings.  The message
    lists every failed check with its value and interval.  A rule that cannot be evaluated (unknown metric or
    judge, missing bound) raises :class:`~auditor.errors.ConfigError`, not ``AssertionError``: a broken gate is
    not a failed one.
    """
    report = evaluate_gates(_document(result), load_rules(rules))
    if not report.passed:
        lines = [f"{report.headline}:"]
        for check in report.failed:
            lines.append(
                f"  - rule {check.rule.index} ({check.rule.label}): {check.message}; "
                f"value {_fmt(check.value)}, interval [{_fmt(check.ci_low)}, {_fmt(check.ci_high)}], "
                f"n = {check.n}"
            )
        raise AssertionError("\n".join(lines))
    return report


def _fmt(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.3f}"
