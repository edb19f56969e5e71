"""The "Persona and profile views" section: persona flip rates and the profile views of every base judge.

Read from the metric rows ``persona_flip_rate`` and ``persona_shift`` (slice ``persona=<variant>``), every metric
with a ``profile_view=<view>@<place>`` slice and ``mean_prompt_tokens``. The headline's persona and best-view
sentences come from here too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from reports.format import as_float, fmt_estimate, fmt_interval, p_text
from reports.labels import PRIMARY_AGREEMENT, metric_label
from reports.sections.base import Section, Table, n_text, row_value
from reports.view import AuditView

KEY = "probes-persona"
PERSONA_SLICE = "persona="
VIEW_SLICE = "profile_view="
PROBE_SLICE_PREFIXES = (PERSONA_SLICE, VIEW_SLICE)
PERSONA_WORDS = {"removed": "profile removed", "swapped": "another user's profile"}


def is_probe_slice(slice_: str | None) -> bool:
    return slice_ is not None and slice_.startswith(PROBE_SLICE_PREFIXES)


def _tokens(row: Mapping[str, Any] | None) -> str:
    value = row_value(row)
    if value is None:
        return "—"
    assert row is not None
    interval = fmt_interval(row.get("ci_low"), row.get("ci_high"), "number", digits=0)
    return f"{value:,.0f} {interval}".rstrip()


def _relative(value: float | None, full: float) -> str:
    """``-16%``: a token count against the full profile's (``0%`` when they round to the same)."""
    if value is None:
        return "—"
    percent = round((value / full - 1) * 100)
    return "0%" if percent == 0 else f"{percent:+d}%"


@dataclass
class ViewRow:
    view: str
    agreement: dict[str, Any] | None
    correlation: dict[str, Any] | None
    outcome: dict[str, Any] | None
    tokens: dict[str, Any] | None


@dataclass
class ViewStudy:
    """The profile views of one base judge, the primary coefficient they are ranked by and the best one."""

    judge: str
    metric: str | None
    rows: list[ViewRow]
    best: ViewRow | None
    full: ViewRow | None  # the full-profile view the token cost is compared with (full@start first)


def _view_names(v: AuditView) -> dict[str, list[str]]:
    """Per base judge, the profile views with at least one metric row (in the order the audit lists them)."""
    out: dict[str, list[str]] = {}
    for row in v.metrics:
        slice_ = row.get("slice")
        if not (isinstance(slice_, str) and slice_.startswith(VIEW_SLICE)):
            continue
        views = out.setdefault(row["judge"], [])
        view_name = slice_[len(VIEW_SLICE) :]
        if view_name not in views:
            views.append(view_name)
    return out


def _view_metric(v: AuditView, judge: str, views: list[str]) -> str | None:
    """The task's lead chance-corrected coefficient that the views of ``judge`` have."""
    order = PRIMARY_AGREEMENT.get(v.task, PRIMARY_AGREEMENT["pairwise"])
    lead = v.primary_agreement()
    for name in ([lead] if lead else []) + list(order):
        if any(row_value(v.metric(name, judge, None, VIEW_SLICE + view)) is not None for view in views):
            return name
    return None


def view_studies(v: AuditView) -> list[ViewStudy]:
    outcome_metric = "win_rate" if v.task == "binary" else "no_better_rate"
    studies = []
    for judge, views in _view_names(v).items():
        metric = _view_metric(v, judge, views)
        rows = []
        for view in views:
            slice_ = VIEW_SLICE + view
            rows.append(
                ViewRow(
                    view=view,
                    agreement=v.metric(metric, judge, None, slice_) if metric else None,
                    correlation=v.metric("spearman", judge, None, slice_),
                    outcome=v.metric(outcome_metric, judge, None, slice_),
                    tokens=v.metric("mean_prompt_tokens", judge, judge, slice_),
                )
            )
        scored = [r for r in rows if row_value(r.agreement) is not None]
        best = max(scored, key=lambda r: row_value(r.agreement) or 0.0) if len(scored) > 1 else None
        full = next((r for r in rows if r.view == "full@start"), None) or next(
            (r for r in rows if r.view.split("@")[0] == "full"), None
        )
        studies.append(ViewStudy(judge, metric, rows, best, full))
    return studies


def persona_rows(v: AuditView) -> list[tuple[str, str, dict[str, Any] | None, dict[str, Any] | None]]:
    """``(base judge, variant, flip-rate row, shift row)`` for every persona variant in the audit."""
    out = []
    seen = set()
    for row in v.metrics:
        slice_ = row.get("slice")
        if row["metric"] not in ("persona_flip_rate", "persona_shift"):
            continue
        if not (isinstance(slice_, str) and slice_.startswith(PERSONA_SLICE)):
            continue
        key = (row["judge"], slice_)
        if key in seen:
            continue
        seen.add(key)
        judge = row["judge"]
        flip = v.metric("persona_flip_rate", judge, judge, slice_)
        shift = v.metric("persona_shift", judge, judge, slice_)
        out.append((judge, slice_[len(PERSONA_SLICE) :], flip, shift))
    return out


def persona_words(variant: str) -> str:
    return PERSONA_WORDS.get(variant, variant)


def persona_sentences(v: AuditView) -> list[str]:
    """ "Removing the profile changes 48.9% [44.1, 53.2] of gpt-4o's verdicts; another user's profile 58.0% [...]"."""
    by_judge: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for judge, variant, flip, _ in persona_rows(v):
        if row_value(flip) is not None:
            assert flip is not None
            by_judge.setdefault(judge, []).append((variant, flip))
    sentences = []
    for judge, variants in by_judge.items():
        parts = []
        for i, (variant, flip) in enumerate(variants):
            rate = fmt_estimate(flip, kind="rate", signed=False)
            if variant == "removed":
                what = "removing the profile"
            elif variant == "swapped":
                what = "another user's profile"
            else:
                what = f"the persona variant {variant}"
            if i == 0:
                parts.append(f"{what[0].upper()}{what[1:]} changes {rate} of {judge}'s verdicts")
            else:
                parts.append(f"{what} {rate}")
        sentences.append("; ".join(parts) + ".")
    return sentences


def view_sentences(v: AuditView) -> list[str]:
    """ "gpt-4o agrees best with humans with the profile view outputs@start (κ (quadratic) 0.406 [...]) at ..."."""
    sentences = []
    for study in view_studies(v):
        best = study.best
        if best is None or study.metric is None:
            continue
        label = metric_label(study.metric)
        with_whom = "humans" if v.reference == "human" else v.reference
        text = (
            f"{study.judge} agrees best with {with_whom} with the profile view {best.view} "
            f"({label} {fmt_estimate(best.agreement)})"
        )
        best_tokens = row_value(best.tokens)
        full = study.full
        full_tokens = row_value(full.tokens) if full is not None else None
        if best_tokens is not None:
            text += f" at {best_tokens:,.0f} prompt tokens"
            if full is not None and full is not best and full_tokens is not None:
                text += f" against {full_tokens:,.0f} for the full profile ({full.view})"
            elif full is best:
                text += " (the full profile)"
        elif full is not None and full is not best and row_value(full.agreement) is not None:
            text += f"; the full profile ({full.view}) {fmt_estimate(full.agreement)}"
        sentences.append(text + ".")
    return sentences


def _uncertain_best(study: ViewStudy) -> str:
    best = study.best
    if best is None or best.agreement is None:
        return ""
    low = as_float(best.agreement.get("ci_low"))
    if low is None:
        return ""
    overlapping = [
        r.view
        for r in study.rows
        if r is not best
        and as_float((r.agreement or {}).get("ci_high")) is not None
        and as_float((r.agreement or {}).get("ci_high")) >= low  # type: ignore[operator]
    ]
    if not overlapping:
        return f"{best.view} is clearly the best view: its interval lies above every other view's."
    return (
        f"The best view is ranked by its point estimate; the intervals of {', '.join(overlapping)} overlap it, so the "
        "ranking among those is uncertain."
    )


def probe_section(v: AuditView) -> Section:
    """Persona flip rates and the profile views of every base judge (``profile_view=...`` / ``persona=...``)."""
    section = Section(key=KEY, title="Persona and profile views")
    studies = view_studies(v)
    personas = persona_rows(v)
    if not studies and not personas:
        return section
    if personas:
        section.lines.append(
            "A judge that ignores the persona is not judging personalization: if its verdicts barely change when "
            "the user's profile is removed or replaced by another user's, it rates the responses as if for anyone."
        )
        section.lines.extend(persona_sentences(v))
    if studies:
        section.lines.extend(view_sentences(v))
        for study in studies:
            words = _uncertain_best(study)
            if words and study.best is not None:
                section.lines.append(words)

    binary = v.task == "binary"
    for study in studies:
        columns = ["Judge", "Profile view"]
        ascii_columns = list(columns)
        metric_columns = ["", ""]
        have_corr = any(row_value(r.correlation) is not None for r in study.rows)
        have_tokens = any(row_value(r.tokens) is not None for r in study.rows)
        if study.metric:
            columns.append(metric_label(study.metric))
            ascii_columns.append(metric_label(study.metric, ascii_only=True))
            metric_columns.append(study.metric)
        if have_corr:
            columns.append(metric_label("spearman"))
            ascii_columns.append(metric_label("spearman", ascii_only=True))
            metric_columns.append("spearman")
        columns.append("Positive (1)" if binary else metric_label("no_better_rate"))
        ascii_columns.append("Positive (1)" if binary else metric_label("no_better_rate", ascii_only=True))
        metric_columns.append("win_rate" if binary else "no_better_rate")
        full_tokens = row_value(study.full.tokens) if study.full is not None else None
        if have_tokens:
            columns.append("Mean prompt tokens")
            ascii_columns.append("Mean prompt tokens")
            metric_columns.append("mean_prompt_tokens")
            if full_tokens:
                columns.append("Tokens vs full")
                ascii_columns.append("Tokens vs full")
                metric_columns.append("")
        table = Table(
            key=f"profile-views-{len(section.tables)}",
            title=f"Profile views of {study.judge}",
            columns=columns,
            ascii_columns=ascii_columns,
            rows=[],
            metric_columns=metric_columns,
            text_columns=2,
            note=(
                "One row per profile view (which part of the profile the judge saw, and where in the prompt); "
                f"agreement with {v.reference} on the items both labelled; "
                + (
                    "the best view (highest " + metric_label(study.metric) + ") is marked. "
                    if study.best is not None and study.metric
                    else ""
                )
                + "Every metric of a view is in the per-judge tables under the variant's name "
                f"({study.judge}|profile_view=<view>)."
            ),
        )
        for r in study.rows:
            view_cell = f"{r.view} (best)" if r is study.best else r.view
            cells = [study.judge, view_cell]
            if study.metric:
                cells.append(fmt_estimate(r.agreement))
            if have_corr:
                cells.append(fmt_estimate(r.correlation))
            cells.append(fmt_estimate(r.outcome, kind="rate", signed=False))
            if have_tokens:
                cells.append(_tokens(r.tokens))
                if full_tokens:
                    value = row_value(r.tokens)
                    cells.append(_relative(value, full_tokens))
            table.rows.append(cells)
            table.row_roles.append("best" if r is study.best else "judge")
        section.tables.append(table)

    if personas:
        table = Table(
            key="persona",
            title="Persona sensitivity",
            columns=["Judge", "Persona", "n", "Verdicts changed", "Shift (variant − own)", "p"],
            rows=[],
            metric_columns=["", "", "", "persona_flip_rate", "persona_shift", ""],
            text_columns=2,
            note=(
                "Verdicts changed: share of the judge's verdicts that differ from its verdict with the user's own "
                "profile. Shift: mean value with the variant minus with the own profile (negative: the variant "
                "finds b less good). Intervals: cluster bootstrap."
            ),
        )
        for judge, variant, flip, shift in personas:
            table.rows.append(
                [
                    judge,
                    persona_words(variant),
                    n_text(flip or shift),
                    fmt_estimate(flip, kind="rate", signed=False),
                    fmt_estimate(shift, kind="number", signed=True),
                    p_text(shift),
                ]
            )
            table.row_roles.append("judge")
        section.tables.append(table)
    return section
