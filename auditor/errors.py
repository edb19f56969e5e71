"""The project's own error types.

Every problem with a user's input is an :class:`InputError` that names the file, the row and the column.  The
command line turns it into one clear line on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

#: The front door in use, for the fixes that errors suggest: ``"python"`` (keyword arguments, ``labels_map="A=a"``)
#: or ``"cli"`` (flags, ``--labels-map "A=a"``); see :func:`auditor.config.option_text`.
FRONT: ContextVar[str] = ContextVar("auditor_front", default="python")


@contextmanager
def cli_wording() -> Iterator[None]:
    """Within it, the fixes that errors suggest name command-line flags instead of keyword arguments."""
    token = FRONT.set("cli")
    try:
        yield
    finally:
        FRONT.reset(token)


class AuditorError(Exception):
    """Base class of every error the auditor raises on purpose."""


class InputError(AuditorError):
    """Bad input: names the file, the (1-based, data) row and the column, and what was expected."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        row: int | None = None,
        column: str | None = None,
    ) -> None:
        self.file = file
        self.row = row
        self.column = column
        self.detail = message
        super().__init__(self._format())

    def _format(self) -> str:
        where = []
        if self.file:
            where.append(f"file {self.file}")
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column is not None:
            where.append(f"column '{self.column}'")
        prefix = ", ".join(where)
        return f"{prefix}: {self.detail}" if prefix else self.detail


class ConfigError(InputError):
    """A configuration file or option that cannot be used."""


def shown(value: object, limit: int = 60) -> str:
    """A value for an error message: its ``repr``, cut to ``limit`` characters (a message never echoes a huge
    input whole)."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
