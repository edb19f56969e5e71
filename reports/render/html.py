"""One self-contained HTML report: inline CSS, inline JS, inline SVG plots, and a case browser the page's own
script renders from one embedded JSON document.

Safety: the page is rendered by jinja2 with autoescape on, and the one data value marked safe is the case
browser's JSON document (``CaseBrowser.json``), serialised with ``<``, ``>`` and ``&`` escaped as ``\\u003c`` ...
(:func:`reports.sections.cases.embedded_json`), so no text in it can end its ``<script type="application/json">``
element.  The inline script builds the browser
with ``createElement`` / ``textContent`` only (it never writes HTML), and a Content-Security-Policy allows only
that script (by hash), inline styles and nothing from any network.

Size: the case browser (:mod:`reports.sections.cases`) holds at most ``MAX_CASES`` cases, each text capped at
``MAX_TEXT_CHARS``, repeated texts stored once and all of it within ``CASE_BUDGET_CHARS``; the page says how many
cases exist, how many it holds and why, and shows ``PAGE_SIZE`` collapsed rows at a time.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

import jinja2
from markupsafe import Markup

from reports import plots
from reports.model import ReportModel, build_model
from reports.view import AuditView

# ---------------------------------------------------------------------------------------------- assets


@lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("reports", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _asset(name: str) -> str:
    return resources.files("reports").joinpath("static", name).read_text(encoding="utf-8")


def _script_hash(script: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode("ascii")


@dataclass
class PlotView:
    key: str
    title: str
    caption: str
    svg: str


PLOT_TEXT = {
    "forest": (
        "Chance-corrected agreement per judge",
        "Points are estimates, lines their 95% intervals; the shaded band is what human raters reach with each "
        "other (the ceiling).",
    ),
    "gaps": (
        "No-better gap per judge",
        "Judge minus reference on the same items, in percentage points; left of 0 = the judge finds b better "
        "more often than the reference does.",
    ),
    "outcomes": ("Outcome shares", "Win / tie / loss shares of each judge beside the reference's."),
    "confusion": (
        "Confusion matrices",
        "Rows: the reference's label; columns: the judge's label; cells: items.",
    ),
    "scores": ("Scores against the reference", "Each score judge against the reference score."),
}


def _gap_text(v: AuditView) -> tuple[str, str]:
    """The gap plot's title and caption in the audit's words (a binary stage: its positive label's gap)."""
    if v.positive_rate is None:
        return PLOT_TEXT["gaps"]
    verb, positive, _ = v.positive_words
    return (
        f"{v.outcome_label(v.lead_gap)} per judge",
        f"Judge minus reference on the same items, in percentage points; right of 0 = the judge {verb} more items "
        f"{positive} than the reference does; a good judge sits on 0.",
    )


def _plots(v: AuditView) -> list[PlotView]:
    out = []
    for key, make in plots.ALL_PLOTS.items():
        try:
            fig = make(v)
        except Exception as error:  # a plot must never take the whole report down
            out.append(PlotView(key, PLOT_TEXT[key][0], f"This plot could not be drawn: {error!r}", ""))
            continue
        if fig is None:
            continue
        svg = plots.figure_to_svg(fig, salt=f"auditor-{key}")
        title, caption = _gap_text(v) if key == "gaps" else PLOT_TEXT[key]
        out.append(PlotView(key, title, caption, svg))
    return out


#: The page's size goal: the case browser's data get what the rest of the page leaves of it (at least
#: ``MIN_CASE_BUDGET_BYTES``, at most ``cases.CASE_BUDGET_BYTES``), less ``BUDGET_MARGIN_BYTES`` for the lists of
#: users and the notes that change with the cases held.
PAGE_BUDGET_BYTES = 1_000_000
MIN_CASE_BUDGET_BYTES = 50_000
BUDGET_MARGIN_BYTES = 4_000


def render(model: ReportModel) -> str:
    """The model as one self-contained HTML page (no request to any network; opens from disk) of at most
    ``PAGE_BUDGET_BYTES`` when its parts other than the cases leave room for ``MIN_CASE_BUDGET_BYTES``."""
    script = _asset("report.js")
    css = _asset("report.css")
    context = {
        "v": model.view,
        "title": model.title or "Judge audit",
        "headline": model.findings,
        "tables": model.tables,
        "full_agreement": model.full_agreement,
        "sections": model.sections,
        "slices": [(s.name, s.tables) for s in model.slices],
        "exclusions": model.exclusions,
        "warnings": model.warnings,
        "policy": model.policy,
        "method": model.method,
        "plots": _plots(model.view),
        "css": Markup(css),
        "script": Markup(script),
        "csp": (
            "default-src 'none'; "
            f"script-src '{_script_hash(script)}'; "
            "style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"
        ),
        "svg": Markup,
    }
    template = _environment().get_template("report.html.j2")
    browser = model.cases
    data = browser.json
    page = template.render(browser=browser, case_json=Markup(data), **context)
    size = len(page.encode("utf-8"))
    if size > PAGE_BUDGET_BYTES:
        rest = size - len(data.encode("utf-8"))
        budget = max(MIN_CASE_BUDGET_BYTES, PAGE_BUDGET_BYTES - rest - BUDGET_MARGIN_BYTES)
        browser = model.cases_within(budget)
        page = template.render(browser=browser, case_json=Markup(browser.json), **context)
    return page


def render_html(audit: Mapping[str, Any] | ReportModel) -> str:
    """The audit as one self-contained HTML page (no request to any network; opens from disk)."""
    return render(build_model(audit))
