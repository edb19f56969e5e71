"""``auditor gate AUDIT_JSON --config gates.toml [--junit FILE]``: check a saved audit against gate rules
(:mod:`auditor.gates`).

Run alone: ``python -m auditor.cli.gate gate AUDIT_JSON --config gates.toml`` (the same exit codes).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import typer


def gate(
    audit_json: Annotated[Path, typer.Argument(help="A saved audit.json.")],
    config: Annotated[
        Path,
        typer.Option("--config", "-c", help="The gates file (TOML rule tables, as in examples/gates.toml)."),
    ],
    junit: Annotated[
        Path | None, typer.Option("--junit", help="Write a JUnit XML file, one test case per rule and judge.")
    ] = None,
) -> None:
    """Check a saved audit against gate rules: exit 0 all pass, 1 a rule fails, 2 the gate is unusable."""
    from auditor.gates import load_audit_document, run_gates

    doc = load_audit_document(audit_json)
    code = run_gates(doc, config, junit=junit)
    if code:
        raise typer.Exit(code)


def register(app: typer.Typer) -> None:
    """Add ``auditor gate`` to a typer app (idempotent)."""
    if any(getattr(c, "name", None) == "gate" for c in app.registered_commands):
        return
    app.command("gate")(gate)


def main(argv: Sequence[str] | None = None) -> int:
    """The gate command alone, with the project's exit codes (0 pass, 1 a rule fails, 2 the gate cannot be
    evaluated or the command line is wrong)."""
    from auditor.cli.exits import run

    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)

    @app.callback()
    def _root() -> None:
        """Gates of the auditor."""

    register(app)
    return run(typer.main.get_command(app), argv)


if __name__ == "__main__":
    sys.exit(main())
