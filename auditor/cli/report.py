"""``auditor report audit.json --format md,html``: re-render a saved audit."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from auditor.cli.common import parse_formats, write_outputs


def report(
    audit_json: Annotated[Path, typer.Argument(help="A saved audit.json.")],
    format: Annotated[str, typer.Option("--format", help="md, html, json")] = "md,html",
    out: Annotated[Path | None, typer.Option(help="Output folder (default: beside audit.json).")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q")] = False,
) -> None:
    """Re-render a saved audit without recomputing anything."""
    from auditor.io import check_writable
    from auditor.result import AuditResult

    result = AuditResult.load(audit_json)
    formats = parse_formats(format)
    target = out or audit_json.parent
    check_writable(target, "folder")  # before any work
    if "json" in formats and target.resolve() == audit_json.parent.resolve():
        formats.remove("json")  # never rewrite the input in place
    write_outputs(result, target, formats, quiet)


def register(app: typer.Typer) -> None:
    app.command()(report)
