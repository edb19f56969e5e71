"""The report model: everything a report shows, built once from the audit document, for every renderer.

``build_model(audit)`` reads the document through :class:`reports.view.AuditView` and assembles the headline, the
per-judge tables, the dedicated sections, the slices, exclusions, warnings, policy, method lines and the cases.
The terminal, Markdown, HTML and JSON renderers (:mod:`reports.render`) only lay this model out; none of them
reads the document again.

>>> model = build_model({})
>>> model.headline
['This audit holds no metric that can be summarised.']
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from reports.labels import PRIMARY_CORRELATION
from reports.sections import alt_test, baselines, jury, position, ppi, probes
from reports.sections.base import Section, Table
from reports.sections.cases import CaseBrowser, CaseSummary, case_browser, case_summary
from reports.sections.exclusions import exclusions_table, warnings_table
from reports.sections.headline import headline
from reports.sections.judges import full_agreement_table, metric_tables
from reports.sections.method import method_lines, policy_text
from reports.sections.summary import summary_table
from reports.view import AuditView, view

# The dedicated sections in report order; each returns an empty Section when its data are missing.
EXTENSION_SECTIONS: tuple[Callable[[AuditView], Section], ...] = (
    probes.probe_section,
    position.position_section,
    ppi.ppi_section,
    alt_test.alt_test_section,
    jury.jury_section,
    baselines.baselines_section,
)


@dataclass
class SliceTables:
    """The per-judge tables of one slice (``source=real``, ``source=synthetic - source=real``, ...)."""

    name: str
    tables: list[Table]


@dataclass
class ReportModel:
    """One audit, ready to lay out. ``view`` keeps the document for what only one renderer draws (plots)."""

    view: AuditView
    headline: list[str]
    tables: list[Table]  # per-judge tables over all items (agreement, outcomes, gaps, other metrics)
    full_agreement: Table | None  # every agreement coefficient, when ``tables`` shows only some
    sections: list[Section]  # the dedicated sections that have something to show
    exclusions: Table
    warnings: Table
    policy: str
    slices: list[SliceTables]
    method: list[str]
    lead_metrics: tuple[str, ...] = ()  # the task's lead agreement coefficient and correlation, when present

    @property
    def document(self) -> Mapping[str, Any]:
        """The audit document the model was built from."""
        return self.view.raw

    def to_dict(self) -> Mapping[str, Any]:
        """The audit document (so a model goes wherever an audit dict or result does)."""
        return self.view.raw

    @property
    def title(self) -> str:
        return self.view.title

    @property
    def description(self) -> str:
        return self.view.description

    @property
    def simulated(self) -> bool:
        return self.view.simulated

    @property
    def findings(self) -> list[str]:
        """The headline without its "SIMULATED DATA" sentence (renderers show that as a banner instead)."""
        return [s for s in self.headline if not s.startswith("SIMULATED DATA")]

    def table(self, key: str) -> Table | None:
        """The per-judge table ``key`` over all items (``agreement``, ``outcomes``, ``gaps``, ``other``)."""
        return next((t for t in self.tables if t.key == key), None)

    @cached_property
    def case_summary(self) -> CaseSummary:
        """The number of disagreement cases and the first key ones (for text reports)."""
        return case_summary(self.view)

    @cached_property
    def summary(self) -> Table:
        """The judges at a glance: the lead rate, its gap with p, the lead coefficient and the built-in checks
        (what a short report, such as a pull-request comment, leads with)."""
        return summary_table(self.view)

    @cached_property
    def cases(self) -> CaseBrowser:
        """The cases the case browser shows (built on first use: only the HTML page needs them)."""
        return case_browser(self.view)

    def cases_within(self, budget: int) -> CaseBrowser:
        """The case browser's cases held to ``budget`` bytes of JSON (a page that must stay small)."""
        return case_browser(self.view, budget)


def build_model(audit: Mapping[str, Any] | AuditView | ReportModel | None) -> ReportModel:
    """The report model of an audit dict, of an object with ``to_dict()`` (``auditor``'s result) or of a view;
    a model is returned as it is."""
    if isinstance(audit, ReportModel):
        return audit
    v = view(audit)
    sections = [s for s in (make(v) for make in EXTENSION_SECTIONS) if s]
    shown_elsewhere = set().union(*(s.rendered for s in sections))
    slice_names = list(v.slices)
    if any(s.key == probes.KEY for s in sections):  # their rows are the variant judges' own, shown already
        slice_names = [s for s in slice_names if not probes.is_probe_slice(s)]
    return ReportModel(
        view=v,
        headline=headline(v),
        tables=metric_tables(v, None, shown_elsewhere),
        full_agreement=full_agreement_table(v),
        sections=sections,
        exclusions=exclusions_table(v),
        warnings=warnings_table(v),
        policy=policy_text(v),
        slices=[SliceTables(name, metric_tables(v, name)) for name in slice_names],
        method=method_lines(v),
        lead_metrics=tuple(m for m in (v.primary_agreement(), v.first_present(PRIMARY_CORRELATION)) if m),
    )
