"""Write the rendered reports to disk, each atomically (a temporary file in the same folder, then os.replace)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from reports.model import ReportModel, build_model
from reports.render import html, json, markdown

FILE_NAMES: dict[str, str] = {"md": "report.md", "html": "report.html", "json": "audit.json"}

RENDERERS: dict[str, Callable[[ReportModel], str]] = {
    "md": markdown.render,
    "html": html.render,
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


def _mode_for(path: Path) -> int:
    """The existing file's permissions, else 0666 minus the process umask."""
    try:
        return path.stat().st_mode & 0o777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that readers see either the old file or the whole new one."""
    path = Path(path)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(tmp, _mode_for(path))  # mkstemp makes 0600; a report should read like any other file
        with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def write_reports(audit: Mapping[str, Any] | ReportModel, out_dir: Path, formats: Sequence[str]) -> list[Path]:
    """Render every requested format, then write them to ``out_dir`` (created if missing).

    Formats among ``md``, ``html``, ``json`` (files ``report.md``, ``report.html``, ``audit.json``). Everything is
    rendered before anything is written, so a rendering error leaves no new file behind.
    """
    names = parse_formats(formats)
    model = build_model(audit)  # built once, laid out by every renderer
    rendered = [(FILE_NAMES[name], RENDERERS[name](model)) for name in names]
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for file_name, text in rendered:
        path = out_dir / file_name
        atomic_write_text(path, text)
        paths.append(path)
    return paths
