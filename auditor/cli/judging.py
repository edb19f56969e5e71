"""Wiring of the judges' commands, ``auditor judge`` and ``auditor injection``: they live in :mod:`judges.cli`,
which adds them to the app through its ``register``."""

from __future__ import annotations

import typer

from auditor.cli.exits import err_console


def register(app: typer.Typer) -> None:
    try:
        from judges.cli import register as register_judges
    except ImportError as exc:  # judges is part of the distribution; a broken install should still audit
        err_console().print(f"[yellow]note:[/] the judge command is unavailable ({exc})")
        return
    register_judges(app)
