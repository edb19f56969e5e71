"""Input files checked before they are opened: the one place that says what a readable input file is.

A FIFO, a device or a socket is never opened (opening a FIFO waits for a writer, for ever); a folder, a missing or
an unreadable file is an :class:`~auditor.errors.InputError` naming it.  Used by every reader: the data tables
(:mod:`auditor.io`), ``audit.toml`` (:mod:`auditor.config`) and a saved ``audit.json``.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from auditor.errors import InputError


def check_input_file(path: Path, expected: str) -> os.stat_result:
    """Check that ``path`` is a regular file before anything opens it: missing, a folder, or not a regular file (a
    FIFO, a device, a socket: opening one could wait for ever) is an :class:`InputError` naming it."""
    try:
        info = path.stat()
    except FileNotFoundError:
        raise InputError("does not exist", file=str(path)) from None
    except OSError as exc:
        raise InputError(f"cannot be read ({exc.strerror or exc})", file=str(path)) from None
    if stat.S_ISDIR(info.st_mode):
        raise InputError(f"is a folder; expected {expected}", file=str(path))
    if not stat.S_ISREG(info.st_mode):
        kind = "a FIFO (named pipe)" if stat.S_ISFIFO(info.st_mode) else "not a regular file"
        raise InputError(
            f"is {kind}, which is never read (it could wait for ever); expected {expected}", file=str(path)
        )
    return info


def read_input(path: Path, expected: str) -> bytes:
    """The bytes of an input file, after :func:`check_input_file`; a file that cannot be read (permissions) is an
    :class:`InputError` naming it."""
    check_input_file(path, expected)
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot be read ({exc.strerror or exc})", file=str(path)) from None


__all__ = ["check_input_file", "read_input"]
