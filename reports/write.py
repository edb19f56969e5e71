"""Write the rendered reports to disk, each atomically (a temporary file in the same folder, then os.replace)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from auditor.io import write_text
from reports.model import ReportModel, build_model
from reports.render import json, markdown

FILE_NAMES: dict[str, str] = {"md": "report.md", "html": "report.html", "json": "audit.json"}


def _render_html(model: ReportModel) -> str:
    """:func:`reports.render.html.render`, imported on first use (it loads jinja2 and matplotlib, which
    ``--format json`` / ``md`` never need)."""
    from reports.render import html

    return html.render(model)


RENDERERS: dict[str, Callable[[ReportModel], str]] = {
    "md": markdown.render,
    "html": _render_html,
    "json": json.render,
}


def parse_formats(formats: Sequence[str] | str) -> list[str]:
    """``"html,md"`` or ``["html", "md"]`` to ``["html", "md"]``; unknown formats raise ``ValueError``."""
    items = (
        formats.split(",")
        if isinstance(formats, str)
        else [f for part in formats for f in str(part).split(",")]
    )
    out: list[str] = []
    for item in items:
        name = item.strip().lower()
        if not name:
            continue
        if name == "markdown":
            name = "md"
        if name not in RENDERERS:
            raise ValueError(f"unknown report format {item.strip()!r}; choose among {', '.join(RENDERERS)}")
        if name not in out:
            out.append(name)
    return out


def write_reports(
    audit: Mapping[str, Any] | ReportModel, out_dir: Path, formats: Sequence[str], gates: Any = None
) -> list[Path]:
    """Render every requested format, then write them to ``out_dir`` (created if missing).

    Formats among ``md``, ``html``, ``json`` (files ``report.md``, ``report.html``, ``audit.json``). Everything is
    rendered before anything is written, so a rendering error leaves no new file behind.  ``gates``: an
    :class:`auditor.gates.GateReport` whose verdict report.md states in its summary.
    """
    names = parse_formats(formats)
    # built once, laid out by every renderer; audit.json alone is the document as it is and needs no model
    model = build_model(audit) if set(names) - {"json"} else audit
    rendered = [
        (FILE_NAMES[name], markdown.render(model, gates=gates) if name == "md" else RENDERERS[name](model))
        for name in names
    ]
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for file_name, text in rendered:
        path = out_dir / file_name
        write_text(path, text)
        paths.append(path)
    return paths
