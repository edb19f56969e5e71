"""The judges' commands: ``auditor judge`` (:mod:`judges.cli.judge`) and ``auditor injection``
(:mod:`judges.cli.injection`), with the request options they share (and ``auditor probe`` uses) declared once in
:mod:`judges.cli.options`.

The project's command line calls :func:`register` once with its typer app::

    from judges.cli import register
    register(app)   # adds `auditor judge ITEMS --judge openai:MODEL ... --out LABELS`
                    # and `auditor injection [ITEMS] --model MODEL ... --out DIR` (judges.injection)

Errors in the input or the options raise :class:`auditor.errors.AuditorError`, which the top-level ``main()`` turns
into one line and the exit code of :func:`auditor.cli.exits.error_exit_code` (2 bad input, 3 a judging run that
stopped before every request was answered).

Run on its own (for subprocess tests): ``python -m judges.cli judge ITEMS --judge ... --out LABELS``, or
``python -m judges.cli injection ITEMS --model M --base-url URL --out DIR``.
"""

from __future__ import annotations

import typer

from auditor.errors import AuditorError
from judges.cli import injection, judge
from judges.cli.injection import INJECTION_FILES, run_injection
from judges.cli.judge import load_prices, run_judge
from judges.cli.options import DEFAULT_CACHE_NAME, default_cache_path

__all__ = [
    "DEFAULT_CACHE_NAME",
    "INJECTION_FILES",
    "default_cache_path",
    "load_prices",
    "main",
    "register",
    "run_injection",
    "run_judge",
]


def register(app: typer.Typer) -> None:
    """Add the ``judge`` and ``injection`` commands to ``app``."""
    judge.register(app)
    injection.register(app)


def main(argv: list[str] | None = None) -> int:
    """``python -m judges.cli judge ...``: the judge command alone, with the project's error convention."""
    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)

    @app.callback()
    def _root() -> None:
        """Judges of the auditor."""

    register(app)
    import click

    interrupted = "interrupted: the responses received so far are cached; rerun to resume"
    try:
        result = app(args=argv, standalone_mode=False)
    except AuditorError as exc:
        from auditor.cli.exits import error_exit_code

        typer.echo(f"error: {exc}", err=True)
        return error_exit_code(exc)
    except click.exceptions.Abort:  # Ctrl-C (click)
        typer.echo(interrupted, err=True)
        return 130
    except click.ClickException as exc:  # usage errors
        exc.show()
        return exc.exit_code
    if result == 130:  # Ctrl-C: typer turns KeyboardInterrupt into exit code 130, returned in this mode
        typer.echo(interrupted, err=True)
        return 130
    return result if isinstance(result, int) else 0
