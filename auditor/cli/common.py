"""What several commands share: the ``--format`` list, a study folder's files, the modules of a run, writing the
reports."""

from __future__ import annotations

import gc
import importlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer

from auditor.errors import InputError

DEFAULT_FORMATS = "json,md,html"


def parse_formats(text: str) -> list[str]:
    """``"json,md"`` -> ``["json", "md"]``; an unknown format is an :class:`InputError` naming ``--format``, and so
    is (with ``md``) an ``AUDITOR_REPORT_URL`` that report.md cannot link to."""
    formats = [f.strip().lower() for f in text.split(",") if f.strip()]
    bad = [f for f in formats if f not in ("json", "md", "html")]
    if bad:
        raise InputError(
            f"unknown report format(s) {', '.join(bad)}; expected json, md, html", column="--format"
        )
    if "md" in formats:  # report.md links the HTML report: a bad $AUDITOR_REPORT_URL is bad input, said first
        from reports.render.markdown import report_link

        try:
            report_link()
        except ValueError as error:
            raise InputError(str(error)) from None
    return formats


def resolve_inputs(
    labels: Path | list[Path], items: Path | None, config: Path | None
) -> tuple[Any, Path | None, Path | None]:
    """A folder stands for its ``labels.*``, ``items.*`` and ``audit.toml`` (:func:`auditor.data.resolve_study`)."""
    from auditor.data import resolve_study

    return resolve_study(labels, items, config)


@contextmanager
def imports_frozen(*modules: str) -> Iterator[None]:
    """Import ``modules`` with Python's cyclic garbage collector paused, then run the block with every object alive
    now out of its sight (``gc.freeze``) and give them back to it after (``gc.unfreeze``: a caller in the same
    process keeps its collector as it was).  What the imports make (some 80,000 functions, classes and tables that
    live to the end) is never garbage, yet each full collection walks all of it again: two in a 1M-row audit, about
    30-45 ms of CPU each, and the collections during the imports about 30 ms more."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        for module in modules:
            importlib.import_module(module)
    finally:
        if enabled:
            gc.enable()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def write_outputs(
    result: Any,
    out: Path,
    formats: list[str],
    quiet: bool,
    gates: Any = None,
    subfolders: Sequence[tuple[str, Any]] = (),
) -> dict[str, list[Path]]:
    """Write the reports of an audit result (or its audit.json document) into ``out`` (report.md states ``gates``'
    verdict when given) and those of each ``(folder, result)`` of ``subfolders`` into ``out/folder``, all together
    (:func:`auditor.io.staged_folder`: a run stopped at any moment leaves ``out`` with the old set of files or the
    new one); unless ``quiet``, print the terminal summary and the paths of the main audit.  Returns the paths
    written per folder (``""`` for ``out`` itself)."""
    import reports
    from auditor.io import check_writable, staged_folder

    check_writable(out, "folder")
    # the terminal's model, built once for it and the files (without a terminal, write_reports builds one where a
    # format needs it)
    model = result if quiet else reports.build_model(result)
    with staged_folder(out) as stage:
        main = reports.write_reports(model, stage, formats, gates=gates)
        written = {"": [out / path.name for path in main]}
        for folder, sub in subfolders:
            paths = reports.write_reports(sub.to_dict(), stage / folder, formats)
            written[folder] = [out / folder / path.name for path in paths]
    if not quiet:
        from rich.console import Console  # imported only to print (rich costs 20 ms to import)

        reports.render_terminal(model, Console())
        for path in written[""]:
            typer.echo(f"wrote {path}")
    return written
