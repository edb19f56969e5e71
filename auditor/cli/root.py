"""The ``auditor`` app: every command module adds its command, in the order ``auditor --help`` lists them."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

# Before numpy loads: numpy asks the kernel to back every array of 4 MB or more with transparent huge pages
# (madvise), and where the kernel then compacts memory to find one on a page fault (THP defrag "madvise", Ubuntu's
# default) the first touch of fresh memory costs several times more: a 10M-row audit took 22.2 s of CPU with it and
# 16.9 s without (system time 7.4 -> 2.2 s), the same output.  The command line turns it off unless the user set
# NUMPY_MADVISE_HUGEPAGE (numpy's own switch; 1 turns it back on).  The Python API leaves numpy as the caller has it.
os.environ.setdefault("NUMPY_MADVISE_HUGEPAGE", "0")

import typer

from auditor.cli import (
    audit,
    convert,
    demo,
    drift,
    gate,
    init,
    judging,
    monitor,
    plan,
    probe,
    report,
    simulate,
)
from auditor.cli.exits import run as run_command
from auditor.errors import cli_wording

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Measure how far LLM judges and reward models agree with human judges.",
)

for command in (audit, init, simulate, demo, convert, report, plan, drift, monitor, probe, judging, gate):
    command.register(app)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: exit 0 on success, 1 on a failed gate, 2 on bad input, 3 on a judging run incomplete, 130 when
    interrupted (:mod:`auditor.cli.exits`); never a traceback for bad input."""
    with cli_wording():  # the fixes that errors suggest name flags, not keyword arguments
        return run_command(typer.main.get_command(app), argv)


def run() -> None:  # pragma: no cover - console-script shim
    sys.exit(main())
