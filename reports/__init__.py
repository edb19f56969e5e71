"""Render a saved audit (the dict in ``audit.json``): terminal, Markdown, one self-contained HTML file, plots.

Nothing here recomputes a statistic; every number comes from the audit dict, and every field may be missing
(older files degrade to fewer sections, never to an error). Every public function also accepts an object with a
``to_dict()`` method (``auditor``'s result), so a notebook can pass the result directly.

- ``render_terminal(audit, console=None)``: banner, headline and per-judge tables with rich.
- ``render_markdown(audit) -> str``: GitHub-flavoured Markdown for a PR comment or ``$GITHUB_STEP_SUMMARY``.
- ``render_html(audit) -> str``: one self-contained page (inline CSS, JS and SVG; no network; a CSP that allows
  only its own script) with plots and a case browser.
- ``headline(audit) -> list[str]``: the findings in plain sentences (variant judges ``base|key=value`` grouped
  under their base judge, with a sentence on persona flips and the best profile view).
- ``sections.extension_sections(view)``: the dedicated sections every renderer shows when their data exist:
  persona and profile views, position bias, PPI++, the alternative annotator test, juries.
- ``write_reports(audit, out_dir, formats) -> list[Path]``: ``report.md``, ``report.html``, ``audit.json``, each
  written atomically.
- ``plots.forest_plot``, ``gap_plot``, ``outcome_bars``, ``confusion_matrices``, ``score_scatter``: matplotlib
  Figures (``None`` when there is nothing to draw).

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
