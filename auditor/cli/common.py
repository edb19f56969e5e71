"""What several commands share: the ``--format`` list, a study folder's files, writing the reports."""

from __future__ import annotations

from collections.abc import Sequence
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
    model = reports.build_model(result)  # built once for the files and the terminal
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
