"""Golden renders: the report fixtures rendered to Markdown, the terminal (80 and 120 columns), HTML (no plots)
and JSON must equal the renders saved in ``golden/`` byte for byte.

The saved renders were produced by the reports package before it was rebuilt around one model (issue 14), so
this test proves the rebuild changed no output. Markdown and terminal renders are stored as text (a failure shows
the diff); the HTML and JSON renders, larger, as SHA-256 digests in ``golden/digests.json``.

After an intended change of the output, rewrite them and review the diff:
``AUDITOR_UPDATE_GOLDEN=1 python -m pytest tests/reports/test_reports_golden.py``.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from report_fixtures import build_extensions_audit, build_likert_audit, build_pairwise_audit, xss_audit
from rich.console import Console

import reports

GOLDEN = Path(__file__).resolve().parent / "golden"
DIGESTS = GOLDEN / "digests.json"
UPDATE = os.environ.get("AUDITOR_UPDATE_GOLDEN") == "1"

AUDITS: dict[str, Callable[[], dict]] = {
    "likert": lambda: build_likert_audit(shown=12),
    "pairwise": build_pairwise_audit,
    "xss": xss_audit,
    "extensions": build_extensions_audit,
}
TERMINAL_WIDTHS = (80, 120)  # the compact layout (every CI log) and the full one


def _terminal(audit: dict, width: int) -> str:
    buffer = io.StringIO()
    reports.render_terminal(audit, Console(file=buffer, width=width, color_system=None, legacy_windows=False))
    return buffer.getvalue()


def _html_without_plots(audit: dict) -> str:
    saved = dict(reports.plots.ALL_PLOTS)
    reports.plots.ALL_PLOTS.clear()  # figures depend on matplotlib's version; the page around them does not
    try:
        return reports.render_html(audit)
    finally:
        reports.plots.ALL_PLOTS.update(saved)


def renders(name: str) -> dict[str, str]:
    """Every render of one fixture audit, by file name."""
    audit = AUDITS[name]()
    out = {f"{name}.md": reports.render_markdown(audit)}
    for width in TERMINAL_WIDTHS:
        out[f"{name}.terminal-{width}.txt"] = _terminal(audit, width)
    out[f"{name}.html"] = _html_without_plots(audit)
    out[f"{name}.json"] = reports.render_json(audit)
    return out


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def write_golden() -> None:
    """Render every fixture and save the renders (text) and digests (HTML, JSON) in ``golden/``."""
    GOLDEN.mkdir(exist_ok=True)
    digests = {}
    for name in AUDITS:
        for file_name, text in renders(name).items():
            if file_name.endswith((".html", ".json")):
                digests[file_name] = _digest(text)
            else:
                (GOLDEN / file_name).write_text(text, encoding="utf-8", newline="\n")
    DIGESTS.write_text(json.dumps(digests, indent=2, sort_keys=True) + "\n", encoding="utf-8")


@pytest.fixture(scope="module")
def digests() -> dict[str, str]:
    if UPDATE:
        write_golden()
    return json.loads(DIGESTS.read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", list(AUDITS))
def test_every_render_equals_its_golden_render(name, digests):
    for file_name, text in renders(name).items():
        if file_name.endswith((".html", ".json")):
            assert _digest(text) == digests[file_name], f"{file_name} differs from its golden render"
        else:
            golden = (GOLDEN / file_name).read_text(encoding="utf-8")
            assert text == golden, f"{file_name} differs from golden/{file_name}"


def test_the_golden_renders_cover_every_section():
    """The fixtures reach every part of a report, so an identical render means an unchanged report."""
    text = (GOLDEN / "extensions.md").read_text(encoding="utf-8")
    for heading in (
        "## Agreement with human",
        "## Outcome rates",
        "## Gaps to human",
        "## Other metrics",
        "## Persona and profile views",
        "## Position bias",
        "## Prediction-powered rates (PPI++)",
        "## Alternative annotator test",
        "## Jury",
        "## Exclusions",
        "## Warnings",
        "## Tie / no-better policy",
        "## By slice",
        "## Cases",
        "## Method",
    ):
        title = heading.removeprefix("## ")
        plain = re.sub(r"\\(.)", r"\1", text)
        # a heading, a collapsed block's title (Markdown for PR comments: issue 18) or the summary's bold lead
        assert any(f"{mark}{title}" in plain for mark in ("## ", "<summary>", "**")), heading
