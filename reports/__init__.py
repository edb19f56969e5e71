"""Render a saved audit (the dict in ``audit.json``): terminal, Markdown, one self-contained HTML file, plots.

Nothing here recomputes a statistic; every number comes from the audit dict, and every field may be missing
(older files degrade to fewer sections, never to an error).

>>> import reports
>>> reports.headline({})
['This audit holds no metric that can be summarised.']
"""

from __future__ import annotations

from reports import plots
from reports.headline import headline
from reports.html import render_html
from reports.markdown import render_markdown
from reports.terminal import render_terminal
from reports.write import FILE_NAMES, parse_formats, render_json, write_reports

__all__ = [
    "FILE_NAMES",
    "headline",
    "parse_formats",
    "plots",
    "render_html",
    "render_json",
    "render_markdown",
    "render_terminal",
    "write_reports",
]
