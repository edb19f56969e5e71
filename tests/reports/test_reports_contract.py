"""The package's contract: it depends on no other project package, and renders deterministically."""

from __future__ import annotations

import ast
from pathlib import Path

from report_fixtures import build_likert_audit

import reports

PACKAGE = Path(reports.__file__).resolve().parent


def test_reports_imports_neither_the_core_nor_judges():
    for path in PACKAGE.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            for name in names:
                assert name.split(".")[0] not in ("auditor", "judges"), f"{path.name} imports {name}"


def test_the_same_audit_renders_byte_for_byte_the_same():
    audit = build_likert_audit(shown=10)
    assert reports.render_html(audit) == reports.render_html(audit)
    assert reports.render_markdown(audit) == reports.render_markdown(audit)


def test_templates_and_assets_ship_inside_the_package():
    for name in ("templates/report.html.j2", "static/report.css", "static/report.js"):
        assert (PACKAGE / name).is_file(), name
