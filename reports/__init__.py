"""Render a saved audit (the dict in ``audit.json``): terminal, Markdown, one self-contained HTML file, plots.

Nothing here recomputes a statistic; every number comes from the audit dict, and every field may be missing
(older files degrade to fewer sections, never to an error). Every public function also accepts an object with a
``to_dict()`` method (``auditor``'s result), so a notebook can pass the result directly, and the renderers accept a
built :class:`ReportModel`.

How it is built: ``view`` reads the document tolerantly, ``format`` writes its numbers, ``labels`` names the
metrics, ``sections/`` holds one module per report section, ``model.build_model`` assembles them once, and
``render/`` lays the model out for the terminal, Markdown, HTML and JSON.

- ``build_model(audit) -> ReportModel``: the headline, tables, sections, slices and cases of an audit.
- ``render_terminal(audit, console=None)``: banner, headline and per-judge tables with rich.
- ``render_markdown(audit) -> str``: GitHub-flavoured Markdown for a PR comment or ``$GITHUB_STEP_SUMMARY``.
- ``render_html(audit) -> str``: one self-contained page (inline CSS, JS and SVG; no network; a CSP that allows
  only its own script) with plots and a case browser.
- ``headline(audit) -> list[str]``: the findings in plain sentences (variant judges ``base|key=value`` grouped
  under their base judge, with a sentence on persona flips and the best profile view).
- ``ReportModel.sections``: the dedicated sections every renderer shows when their data exist: persona and
  profile views, position bias, PPI++, the alternative annotator test, juries.
- ``write_reports(audit, out_dir, formats) -> list[Path]``: ``report.md``, ``report.html``, ``audit.json``, each
  written atomically.
- ``plots.forest_plot``, ``gap_plot``, ``outcome_bars``, ``confusion_matrices``, ``score_scatter``: matplotlib
  Figures (``None`` when there is nothing to draw).

>>> import reports
>>> reports.headline({})
['This audit holds no metric that can be summarised.']
"""

from __future__ import annotations

from importlib import import_module

from reports.model import ReportModel, build_model
from reports.render.json import render_json
from reports.render.markdown import render_markdown
from reports.sections.headline import headline
from reports.write import FILE_NAMES, parse_formats, write_reports

#: Imported on first use (PEP 562): matplotlib, jinja2 and rich load only for the figures, HTML and the terminal.
_LAZY = {
    "plots": "reports.plots",
    "render_html": "reports.render.html",
    "render_terminal": "reports.render.terminal",
}


def __getattr__(name: str) -> object:
    if name in _LAZY:
        module = import_module(_LAZY[name])
        value = module if name == "plots" else getattr(module, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "FILE_NAMES",
    "ReportModel",
    "build_model",
    "headline",
    "parse_formats",
    "plots",
    "render_html",
    "render_json",
    "render_markdown",
    "render_terminal",
    "write_reports",
]
