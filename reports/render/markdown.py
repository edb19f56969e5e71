"""GitHub-flavoured Markdown: a pull-request comment or a ``$GITHUB_STEP_SUMMARY`` page.

Layout: a summary of at most :data:`SUMMARY_LIMIT` bytes (UTF-8) that a reviewer reads without a click (the title,
the headline findings that fit, the judges at a glance with the lead rate, its gap and the lead agreement
coefficient, the built-in checks, the gates when given, the tie policy and a link to the HTML report), then every
other part in a collapsed ``<details>`` block.  The whole text stays under :data:`SOFT_LIMIT` characters (GitHub
refuses comments over 65,536): when it would not, the slices are shortened to a pointer first, then whole blocks are
left out from the least needed on, and a closing line names them and links to the HTML report.  Blocks are never cut
in the middle, so every table and ``<details>`` stays well formed.

The link to the HTML report is ``report_url`` when given, else the environment variable ``AUDITOR_REPORT_URL`` (set
it in CI to the uploaded artifact's URL), else the relative name ``report.html`` (the file written beside
``report.md``).

Text from the data is escaped for Markdown (``md_escape``, which is :func:`auditor.escape.markdown_safe`): HTML-special
characters become entities, Markdown punctuation is backslash-escaped, pipes cannot split a table cell, newlines
cannot end a table row, ``@mentions`` notify no one and terminal control characters are removed.
"""

from __future__ import annotations

import copy
import os
import re
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote, urlsplit

from auditor.escape import markdown_safe as md_escape
from reports.model import ReportModel, build_model
from reports.sections.base import FEW_CLUSTERS_NOTE, MARK, Section, Table

PR_COMMENT_LIMIT = 65_536  # GitHub refuses longer comments (characters)
SOFT_LIMIT = 60_000  # what the whole text is kept under, in characters (room for a CI bot's own lines)
SUMMARY_LIMIT = 8_000  # what the part above the first <details> is kept under, in UTF-8 bytes (8 KB = 8,192)
HEADLINE_LIMIT = 3_000  # of which the headline findings take at most this many bytes; the rest are collapsed
REPORT_URL_ENV = "AUDITOR_REPORT_URL"
MAX_URL = 1_000  # a longer link to the HTML report is refused (it would eat the summary's budget)
MAX_FAILED_CHECKS = 5  # failed gate checks listed in the summary (the gate's own summary lists them all)
NBSP = "\u00a0"
# the spaces that must not break: before an interval, inside it, and between a number and its unit
_UNBREAKABLE = re.compile(r" (?=\[)|(?<=,) (?=[-\u2212\d])(?=[^\[]*\])| (?=pts\b)")
_URL_SAFE = (
    ":/?#[]@!$&'*+,;=%~"  # left as they are in the link; spaces, parentheses, <, > are percent-encoded
)

# a number cell: digits, intervals, p-values (``p_adj = 3.0e-06``, ``< 0.0005``) and the few-clusters mark
_NUMERIC_CELL = re.compile(r"[0-9\s.,%\[\]\u2212+\-\u2014<=padjtse_\u2020]*")


def _cell(text: str) -> str:
    """A number cell (``54.6% [50.1, 59.0]``) stays readable, its estimate and interval joined by no-break spaces
    (a narrow comment column wraps only before a p-value); anything else is escaped as data."""
    if _NUMERIC_CELL.fullmatch(text):
        return _UNBREAKABLE.sub(NBSP, text.replace("<", "&lt;"))
    return md_escape(text)


def md_table(table: Table) -> str:
    """A GFM pipe table; the first column left-aligned, the numbers right-aligned."""
    header = "| " + " | ".join(md_escape(c) for c in table.columns) + " |"
    align = (
        "| "
        + " | ".join(":--" if i < table.text_columns else "--:" for i in range(len(table.columns)))
        + " |"
    )
    lines = [header, align]
    for row, role in zip(table.rows, table.row_roles or [""] * len(table.rows), strict=False):
        cells = [md_escape(c) for c in row[: table.text_columns]] + [
            _cell(c) for c in row[table.text_columns :]
        ]
        if role in ("ceiling", "reference", "best") and cells:
            cells[0] = f"**{cells[0]}**"
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _details(title: str, body: str) -> str:
    """A collapsed block: ``title`` (already escaped) as its summary line."""
    return f"<details><summary>{title}</summary>\n\n{body.strip()}\n\n</details>\n"


def _table_text(table: Table, notes: bool = True, level: int = 0) -> str:
    """A table with its note below it; under a heading of ``level`` (0: none)."""
    note = f"\n\n<sub>{md_escape(table.note)}</sub>" if table.note and notes else ""
    heading = f"{'#' * level} {md_escape(table.title)}\n\n" if level else ""
    return f"{heading}{md_table(table)}{note}"


def _extension_body(section: Section) -> str:
    """A dedicated section: its plain-words lines, then its tables (each under a level-3 heading with its note)."""
    body = [md_escape(line) for line in section.lines]
    body += [_table_text(table, level=3) for table in section.tables]
    return "\n\n".join(body)


def _cases_text(model: ReportModel) -> str:
    """How many disagreement cases there are, and the first few where a judge says b is better."""
    summary = model.case_summary
    if not summary:
        return ""
    lines = [f"{summary.count:,} disagreement cases; browse them in `report.html` (the case browser)."]
    examples = []
    for case in summary.examples:
        judges = [f"{md_escape(judge)} ({md_escape(label)})" for judge, label in case.judges]
        label = case.reference_label
        ref = (
            f"; {md_escape(model.view.reference)} label {md_escape(label)}" if label not in (None, "") else ""
        )
        examples.append(f"- {md_escape(case.item_id)}: {', '.join(judges)}{ref}")
    if examples:
        lines.append(
            f"\nFirst items where a judge says b is better and {md_escape(model.view.reference)} says no better:\n"
        )
        lines.extend(examples)
    return "\n".join(lines)


def _slices_text(model: ReportModel) -> str:
    sliced = []
    for slice_ in model.slices:
        sliced.append(f"### Slice: {md_escape(slice_.name)}\n")
        sliced.extend(_table_text(t, notes=False, level=4) + "\n" for t in slice_.tables)
    marked = any(MARK in cell for s in model.slices for t in s.tables for row in t.rows for cell in row)
    note = (
        f"<sub>{md_escape(FEW_CLUSTERS_NOTE)}</sub>\n\n" if marked else ""
    )  # the tables' notes are left out
    return note + "\n".join(sliced)


def report_link(report_url: str | None = None) -> str:
    """The Markdown link to the HTML report: ``report_url``, else ``$AUDITOR_REPORT_URL``, else ``report.html``.

    Only ``http(s)`` URLs and relative paths of at most :data:`MAX_URL` characters are accepted (otherwise a
    ``ValueError`` names the option or the variable; the command line checks the variable first and exits 2);
    characters that could end the link are percent-encoded.
    """
    source = "report_url" if report_url else REPORT_URL_ENV
    url = (report_url or os.environ.get(REPORT_URL_ENV) or "report.html").strip()
    scheme = urlsplit(url).scheme.lower()
    if len(url) > MAX_URL:
        raise ValueError(f"{source}: the HTML report's link is longer than {MAX_URL:,} characters")
    if scheme not in ("", "http", "https"):
        raise ValueError(
            f"{source}: the HTML report's link must be an http(s) URL or a relative path, not {url[:60]!r}"
        )
    return f"[report.html]({quote(url, safe=_URL_SAFE)})"


def _gates_text(gates: Any) -> str:
    """The gate verdict (an :class:`auditor.gates.GateReport`): its headline and each failed check, escaped."""
    mark = "✅" if gates.passed else "❌"
    lines = [f"**Gates: {mark} {md_escape(gates.headline)}.**"]
    failed = list(gates.failed)
    lines += [f"- {md_escape(_clip(check.message, 240))}" for check in failed[:MAX_FAILED_CHECKS]]
    if len(failed) > MAX_FAILED_CHECKS:
        more = len(failed) - MAX_FAILED_CHECKS
        lines.append(f"- … and {more} more failed checks (see the gate's own summary).")
    return "\n".join(lines)


def _clip(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters (with ``…``), before it is escaped: the summary's budget holds whatever
    the data say."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _size(text: str) -> int:
    return len(text.encode("utf-8"))


def _summary(model: ReportModel, link: str, gates: Any) -> tuple[str, list[str]]:
    """The part above the first ``<details>`` (at most :data:`SUMMARY_LIMIT` bytes) and the findings left out of
    it (they go to a collapsed block).  Findings are kept in order while they fit; a judges' table too long for the
    budget keeps its first rows and says how many follow in the full tables."""
    title = md_escape(_clip(model.title, 300)) if model.title else "Judge audit"
    head = [f"# {title}\n"]
    if model.simulated:
        head.append(
            "> [!WARNING]\n> **SIMULATED DATA**: these numbers come from a simulated study, not real raters.\n"
        )
    table = copy.deepcopy(model.summary)  # its rows may be cut to the budget below
    tail = []
    if gates is not None:
        tail.append(_gates_text(gates) + "\n")
    tail.append(f"**Tie / no-better policy**: {md_escape(_clip(model.policy, 1_200))}\n")
    tail.append(f"Full report with the plots and the case browser: {link}; every table follows below.\n")
    fixed = _size("\n".join(head + tail)) + 200  # 200: the table's heading, note and joins
    if table:
        budget = SUMMARY_LIMIT - fixed - _size(md_escape(table.note))
        kept = _rows_within(table, budget)
        if kept < len(table.rows):
            more = len(table.rows) - kept
            table.rows, table.row_roles = table.rows[:kept], table.row_roles[:kept]
            table.note += f" {more} more judges in the full tables below."
        fixed += _size(md_table(table)) + _size(md_escape(table.note))
    findings, rest = [], list(model.findings)
    budget = min(SUMMARY_LIMIT - fixed, HEADLINE_LIMIT)
    while rest and _size(f"- {md_escape(rest[0])}\n") <= budget:
        line = f"- {md_escape(rest.pop(0))}"
        findings.append(line)
        budget -= _size(line) + 1
    parts = head + (["\n".join(findings) + "\n"] if findings else [])
    if table:
        parts.append(f"## {md_escape(table.title)}\n\n{_table_text(table)}\n")
    return "\n".join(parts + tail), rest


def _rows_within(table: Table, budget: int) -> int:
    """How many of the table's first rows fit ``budget`` bytes with its header (at least one)."""
    lines = md_table(table).split("\n")  # the header, the alignment row, then one line per row
    used = _size(lines[0]) + _size(lines[1]) + 2
    for kept, line in enumerate(lines[2:]):
        used += _size(line) + 1
        if used > budget:
            return max(kept, 1)
    return len(table.rows)


def _blocks(model: ReportModel, rest: list[str], slices: bool) -> list[tuple[str, str]]:
    """Every collapsed block as (name, text), in report order."""
    blocks: list[tuple[str, str]] = []
    if rest:
        findings = "\n".join(f"- {md_escape(s)}" for s in rest)
        blocks.append(("More findings", _details(f"More findings ({len(rest)})", findings)))
    if model.description:
        blocks.append(("About this audit", _details("About this audit", md_escape(model.description))))
    for table in model.tables:
        blocks.append((table.title, _details(md_escape(table.title), _table_text(table))))
    if model.full_agreement is not None:
        title = md_escape(model.full_agreement.title)
        blocks.append((model.full_agreement.title, _details(title, md_table(model.full_agreement))))
    for section in model.sections:
        blocks.append((section.title, _details(md_escape(section.title), _extension_body(section))))
    excl = model.exclusions
    body = _table_text(excl) if excl else "No verdict was excluded."
    blocks.append(("Exclusions", _details("Exclusions", body)))
    if model.warnings:
        blocks.append(("Warnings", _details("Warnings", md_table(model.warnings))))
    if model.slices:
        body = _slices_text(model) if slices else "Left out to fit a pull-request comment; see `report.html`."
        blocks.append(("By slice", _details("By slice", body)))
    cases_text = _cases_text(model)
    if cases_text:
        blocks.append(("Cases", _details("Cases", cases_text)))
    if model.method:
        blocks.append(
            ("Method", _details("Method", "\n".join(f"- {md_escape(line)}" for line in model.method)))
        )
    return blocks


#: Which blocks go first when a report must shrink (the rest then go from the end).
_DROP_FIRST: Sequence[str] = ("By slice", "Method", "Cases", "About this audit")


def render(model: ReportModel, report_url: str | None = None, gates: Any = None) -> str:
    """The model as GitHub-flavoured Markdown: a summary of at most :data:`SUMMARY_LIMIT` bytes, then collapsed
    blocks, the whole under :data:`SOFT_LIMIT` characters (blocks left out whole, and named, when needed).

    ``report_url``: where the HTML report is (default: ``$AUDITOR_REPORT_URL``, else ``report.html``); ``gates``:
    an :class:`auditor.gates.GateReport` to state in the summary."""
    link = report_link(report_url)
    summary, rest = _summary(model, link, gates)
    blocks = _blocks(model, rest, slices=True)
    total = len(summary) + sum(len(text) + 1 for _, text in blocks)
    if total > SOFT_LIMIT:
        blocks = _blocks(model, rest, slices=False)
    closing = "\n_Left out to fit a pull-request comment: {}; see {}._\n"
    reserve = len(closing) + 2_000  # the names of the blocks left out
    left_out: list[str] = []
    order = [n for n in _DROP_FIRST if any(n == b for b, _ in blocks)]
    order += [b for b, _ in reversed(blocks) if b not in order]
    while blocks and len(summary) + sum(len(text) + 1 for _, text in blocks) > SOFT_LIMIT - reserve:
        name = order.pop(0)
        left_out.append(name)
        blocks = [(b, text) for b, text in blocks if b != name]
    text = "\n".join([summary] + [text for _, text in blocks])
    if left_out:
        names = ", ".join(md_escape(n) for n in left_out)[:1_500]
        text += closing.format(names, link)
    return text


def render_markdown(
    audit: Mapping[str, Any] | ReportModel, report_url: str | None = None, gates: Any = None
) -> str:
    """The audit as GitHub-flavoured Markdown for a pull-request comment (see :func:`render`)."""
    return render(build_model(audit), report_url=report_url, gates=gates)
