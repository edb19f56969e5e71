"""The command line, the front door that wires the core to ``reports`` and ``judges``: ``auditor audit | init | simulate |
demo | convert | report | plan | drift | probe | judge | injection | gate``.

One module per command, wiring only: it declares the command's options and imports what the command runs inside
its body, so ``auditor --help`` loads typer and these modules only.  :mod:`auditor.cli.root` assembles the app;
:mod:`auditor.cli.exits` is the one map from errors to exit codes (0 ok, 1 a gate failed, 2 bad input, 3 a judging
run incomplete).  Bad input ends with one line on stderr that names the file, row and column, exit code 2, no
traceback, and no output file written.

``app``, ``main`` and ``run`` load on first access, so importing one command module (or
the request options in :mod:`judges.cli.options`) does not build the whole app.
"""

from __future__ import annotations

__all__ = ["app", "main", "run"]


def __getattr__(name: str) -> object:
    if name in __all__:
        from auditor.cli import root

        return getattr(root, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
