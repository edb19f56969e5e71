"""The one place that turns how a command ended into the process's exit code.

=====  ======================================================================================================
code   meaning
=====  ======================================================================================================
0      success
1      a gate failed (``auditor gate``, ``auditor audit --gate``): the command raises ``typer.Exit(1)``
2      bad input: an :class:`~auditor.errors.AuditorError`, printed as one line on stderr that names the file, row
       and column (:class:`~auditor.errors.InputError`), never a traceback; and click's usage errors (an unknown
       option, a value typer cannot read), one line too, naming the command's ``--help``
3      a judging run that stopped before every item was judged: an ``AuditorError`` whose class declares
       ``exit_code = 3`` (:data:`RUN_INCOMPLETE`)
130    interrupted (Ctrl-C)
=====  ======================================================================================================

An ``AuditorError`` subclass may declare its own code as a class attribute ``exit_code``; every other one is bad
input (2).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import TYPE_CHECKING

from auditor.errors import AuditorError

if TYPE_CHECKING:
    import click
    from rich.console import Console

OK = 0
GATE_FAILED = 1
BAD_INPUT = 2
RUN_INCOMPLETE = 3
INTERRUPTED = 130


@cache
def err_console() -> Console:
    """The console on stderr that the errors and notes are printed to (rich is imported on the first one: a run
    that prints nothing never loads it)."""
    from rich.console import Console

    return Console(stderr=True)


def error_exit_code(error: AuditorError) -> int:
    """The exit code of one of the project's errors: its class's ``exit_code``, else :data:`BAD_INPUT`."""
    code = getattr(type(error), "exit_code", BAD_INPUT)
    return code if isinstance(code, int) and not isinstance(code, bool) else BAD_INPUT


def run(command: click.Command, argv: Sequence[str] | None = None, *, prog_name: str = "auditor") -> int:
    """Run a click / typer command on ``argv`` and return the exit code (see the module docstring); the project's
    errors become one ``error: ...`` line on stderr, never a traceback."""
    try:
        rv = command.main(
            args=None if argv is None else list(argv), prog_name=prog_name, standalone_mode=False
        )
    except AuditorError as exc:
        _error_line(str(exc))
        return error_exit_code(exc)
    except KeyboardInterrupt:
        err_console().print("interrupted")
        return INTERRUPTED
    except Exception as exc:  # click's (or typer's vendored click's) Exit, usage errors and Abort
        name = type(exc).__name__
        if name == "Exit":
            return int(getattr(exc, "exit_code", OK) or OK)
        if name == "Abort":
            err_console().print("aborted")
            return INTERRUPTED
        if hasattr(exc, "format_message") and isinstance(getattr(exc, "exit_code", None), int):
            message = exc.format_message()
            if not message:  # a command given no arguments shows its help (click's NoArgsIsHelpError)
                exc.show()
                return exc.exit_code
            context = getattr(exc, "ctx", None)  # a usage error's command: where its --help is
            where = f" (see '{context.command_path} --help')" if context is not None else ""
            _error_line(message + where)
            return exc.exit_code
        raise
    return rv if isinstance(rv, int) else OK


def _error_line(text: str) -> None:
    """``error: TEXT`` as one line on stderr, with no escape sequence from the data."""
    from rich.markup import escape

    from auditor.escape import terminal_safe  # here, so that --help loads no more of the core

    message = terminal_safe(text).replace("\n", " ")
    err_console().print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
