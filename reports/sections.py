"""Dedicated report sections for the audit extensions: persona and profile views, position bias, PPI, alt-test, jury.

Each section is plain data (a title, a few sentences in plain words, tables of formatted cells) shared by the
terminal, Markdown and HTML renderers, like :mod:`reports.tables`.  Every number is read from the audit dict: the
metric rows (``persona_flip_rate``, ``persona_shift``, every metric with a ``profile_view=...`` slice,
``mean_prompt_tokens``, the position metrics, ``ppi_*``, ``alt_test_*``, ``jury_effective_judges``) and the
extension sections of ``audit.json`` (``probes``, ``ppi``, ``alt_test``, ``jury``).  A section is present only when
its data are; the metric rows a section renders leave the generic "Other metrics" table (:func:`rendered_keys`).

Variant judges are named ``"<judge>|persona=<variant>"`` or ``"<judge>|profile_view=<view>@<place>"`` (as
``auditor probe`` writes them); :func:`split_variant` reads such a name.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from reports._view import (
    PRIMARY_AGREEMENT,
    AuditView,
    as_float,
    as_int,
    fmt_estimate,
    fmt_interval,
    fmt_number,
    metric_label,
    p_text,
)
from reports.tables import Table

VARIANT_SEPARATOR = "|"
PERSONA_SLICE = "persona="
VIEW_SLICE = "profile_view="
PROBE_SLICE_PREFIXES = (PERSONA_SLICE, VIEW_SLICE)

PERSONA_WORDS = {"removed": "profile removed", "swapped": "another user's profile"}
POSITION_METRICS: tuple[tuple[str, str, bool], ...] = (  # metric, column, against the reference (else itself)
    ("agreement_original_order", "Agreement, order ab", True),
    ("agreement_swapped_order", "Agreement, order ba", True),
    ("agreement_both_orders", "Agreement, both orders", True),
    ("position_consistency", "Same verdict both orders", False),
    ("first_position_rate", "Prefers first shown", False),
)
PPI_LABELS = {
    "ppi_win_rate": "Win (b better)",
    "ppi_no_better_rate": "No better",
    "ppi_mean_score": "Mean score",
}
ALIGNMENT_WORDS = {
    "accuracy": "accuracy",
    "neg_rmse": "minus the RMSE",
    "neg_rmse_rank": "minus the RMSE of percentile ranks",
}


@dataclass
class Section:
    """A report section: ``lines`` are short plain-language sentences shown before the tables."""

    key: str
    title: str
    lines: list[str] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    rendered: set[tuple[str, str, str]] = field(
        default_factory=set
    )  # metric rows shown: (metric, judge, ref)

    def __bool__(self) -> bool:
        return bool(self.lines or self.tables)


def split_variant(judge: str) -> tuple[str, str | None, str | None]:
    """``"m|persona=removed"`` -> ``("m", "persona", "removed")``; a plain name -> ``(name, None, None)``.

    >>> split_variant("gpt-4o|profile_view=outputs@start")
    ('gpt-4o', 'profile_view', 'outputs@start')
    >>> split_variant("gpt-4o")
    ('gpt-4o', None, None)
    """
    base, sep, variant = str(judge).partition(VARIANT_SEPARATOR)
    if not sep or "=" not in variant:
        return str(judge), None, None
    key, _, value = variant.partition("=")
    return base, key.strip(), value.strip()


def is_probe_slice(slice_: str | None) -> bool:
    return slice_ is not None and slice_.startswith(PROBE_SLICE_PREFIXES)


def grouped_variants(v: AuditView) -> dict[str, list[str]]:
    """Variant judges (``base|key=value``) whose base judge is also in the audit, by base judge."""
    names = set(v.judges)
    out: dict[str, list[str]] = {}
    for judge in v.judges:
        base, key, _ = split_variant(judge)
        if key is not None and base in names:
            out.setdefault(base, []).append(judge)
    return out


def _row_value(row: Mapping[str, Any] | None) -> float | None:
    return as_float((row or {}).get("value"))


def _tokens(row: Mapping[str, Any] | None) -> str:
    value = _row_value(row)
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


def _n(row: Mapping[str, Any] | None) -> str:
    n = as_int((row or {}).get("n"))
    return "—" if n is None else f"{n:,}"


# ---------------------------------------------------------------------------------------------- persona, views


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
        if any(_row_value(v.metric(name, judge, None, VIEW_SLICE + view)) is not None for view in views):
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
        scored = [r for r in rows if _row_value(r.agreement) is not None]
        best = max(scored, key=lambda r: _row_value(r.agreement) or 0.0) if len(scored) > 1 else None
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
        if _row_value(flip) is not None:
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
        best_tokens = _row_value(best.tokens)
        full = study.full
        full_tokens = _row_value(full.tokens) if full is not None else None
        if best_tokens is not None:
            text += f" at {best_tokens:,.0f} prompt tokens"
            if full is not None and full is not best and full_tokens is not None:
                text += f" against {full_tokens:,.0f} for the full profile ({full.view})"
            elif full is best:
                text += " (the full profile)"
        elif full is not None and full is not best and _row_value(full.agreement) is not None:
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


def probe_section(v: AuditView, ascii_only: bool = False) -> Section:
    """Persona flip rates and the profile views of every base judge (``profile_view=...`` / ``persona=...``)."""
    section = Section(key="probes-persona", title="Persona and profile views")
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
        metric_columns = ["", ""]
        have_corr = any(_row_value(r.correlation) is not None for r in study.rows)
        have_tokens = any(_row_value(r.tokens) is not None for r in study.rows)
        if study.metric:
            columns.append(metric_label(study.metric, ascii_only))
            metric_columns.append(study.metric)
        if have_corr:
            columns.append(metric_label("spearman", ascii_only))
            metric_columns.append("spearman")
        columns.append("Positive (1)" if binary else metric_label("no_better_rate", ascii_only))
        metric_columns.append("win_rate" if binary else "no_better_rate")
        full_tokens = _row_value(study.full.tokens) if study.full is not None else None
        if have_tokens:
            columns.append("Mean prompt tokens")
            metric_columns.append("mean_prompt_tokens")
            if full_tokens:
                columns.append("Tokens vs full")
                metric_columns.append("")
        table = Table(
            key=f"profile-views-{len(section.tables)}",
            title=f"Profile views of {study.judge}",
            columns=columns,
            rows=[],
            metric_columns=metric_columns,
            text_columns=2,
            note=(
                "One row per profile view (which part of the profile the judge saw, and where in the prompt); "
                f"agreement with {v.reference} on the items both labelled; "
                + (
                    "the best view (highest " + metric_label(study.metric, ascii_only) + ") is marked. "
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
                    value = _row_value(r.tokens)
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
                    _n(flip or shift),
                    fmt_estimate(flip, kind="rate", signed=False),
                    fmt_estimate(shift, kind="number", signed=True),
                    p_text(shift),
                ]
            )
            table.row_roles.append("judge")
        section.tables.append(table)
    return section


# ---------------------------------------------------------------------------------------------- position


def _probes_meta(v: AuditView, key: str) -> dict[str, Any]:
    probes = v.raw.get("probes")
    value = probes.get(key) if isinstance(probes, Mapping) else None
    return dict(value) if isinstance(value, Mapping) else {}


def position_section(v: AuditView, ascii_only: bool = False) -> Section:
    """Position bias per judge that saw pairs in both orders (shown when the audit ran the position probe)."""
    section = Section(key="probes-position", title="Position bias")
    names = [m for m, _, _ in POSITION_METRICS]
    present = v.present(names)
    meta = _probes_meta(v, "position")
    if not present or (not meta and len(present) < 2):
        return section  # a lone position metric without the probe's section stays in "Other metrics"
    columns = [(m, c, ref) for m, c, ref in POSITION_METRICS if m in present]
    table = Table(
        key="position",
        title="Verdicts in both presentation orders",
        columns=["Judge", "n"] + [c for _, c, _ in columns],
        rows=[],
        metric_columns=["", ""] + [m for m, _, _ in columns],
        note=(
            f"Agreement with {v.reference} in the original order (ab), the swapped order (ba), and in both (an item "
            "counts only when both verdicts match). Same verdict both orders: position consistency. Prefers first "
            "shown: share of decisive verdicts that favour the response shown first (50% = no position preference)."
        ),
    )
    for judge in v.judges:
        rows = [(m, v.metric(m, judge, None if against_ref else judge)) for m, _, against_ref in columns]
        if all(_row_value(row) is None for _, row in rows):
            continue
        n_row = next((row for _, row in rows if row is not None and as_int(row.get("n")) is not None), None)
        table.rows.append(
            [judge, _n(n_row)] + [fmt_estimate(row, kind="rate", signed=False) for _, row in rows]
        )
        table.row_roles.append("judge")
        for (metric, _, against_ref), (_, row) in zip(columns, rows, strict=True):
            if row is not None:
                section.rendered.add((metric, judge, v.reference if against_ref else judge))
    if table:
        section.tables.append(table)
        for judge in v.judges:
            row = v.metric("first_position_rate", judge, judge)
            if row is None:
                continue
            lo, hi = as_float(row.get("ci_low")), as_float(row.get("ci_high"))
            if lo is not None and hi is not None and (lo > 0.5 or hi < 0.5):
                side = "first" if lo > 0.5 else "second"
                section.lines.append(
                    f"{judge} prefers the response shown {side} in "
                    f"{fmt_estimate(row, kind='rate', signed=False)} of its decisive verdicts: its verdict "
                    "depends on the order of presentation; judge both orders and combine them."
                )
    return section


# ---------------------------------------------------------------------------------------------- PPI


def _section_dict(v: AuditView, key: str) -> dict[str, Any]:
    value = v.raw.get(key)
    return dict(value) if isinstance(value, Mapping) else {}


def _entries(value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, (list, tuple)):
        return []
    return [dict(x) for x in value if isinstance(x, Mapping)]


def ppi_section(v: AuditView) -> Section:
    """PPI++ estimates of the reference's rates from the ``ppi`` section and the ``ppi_*`` rows."""
    section = Section(key="ppi", title="Prediction-powered rates (PPI++)")
    meta = _section_dict(v, "ppi")
    judges = _entries(meta.get("judges"))
    if not judges:
        return section
    table = Table(
        key="ppi",
        title="Prediction-powered estimates of the reference's rates",
        columns=[
            "Judge",
            "Estimate",
            "PPI++ [95% CI]",
            f"{v.reference} labels only",
            "λ",
            "CI width PPI / labels only",
            "Labelled / judged",
            "Worth",
        ],
        rows=[],
        metric_columns=["", "", "", "", "", "", "", ""],
        text_columns=2,
        note=(
            "λ: how much the judge's verdicts are trusted (0 = the reference labels only, 1 = fully). Worth: how many "
            "extra reference labels would narrow the interval as much as the judge does."
        ),
    )
    not_applicable = []
    for entry in judges:
        judge = str(entry.get("judge", ""))
        reference = str(entry.get("reference") or v.reference)
        metrics = _entries(entry.get("metrics"))
        if not metrics:
            not_applicable.append(judge)
            continue
        labelled, judged = as_int(entry.get("n_labelled")), as_int(entry.get("n_unlabelled"))
        counts = f"{labelled:,} / {judged:,}" if labelled is not None and judged is not None else "—"
        for m in metrics:
            name = str(m.get("metric", ""))
            kind = "number" if name == "ppi_mean_score" else "rate"
            row = v.metric(name, judge, reference)
            estimate = fmt_estimate(row, kind=kind, signed=False) if row else fmt_number(m.get("value"), kind)
            if row:
                section.rendered.add((name, judge, reference))
            w_ppi, w_human = as_float(m.get("ci_width_ppi")), as_float(m.get("ci_width_human_only"))
            if w_ppi is not None and w_human is not None:
                if kind == "rate":
                    widths = f"{w_ppi * 100:.1f} / {w_human * 100:.1f} pts"
                else:
                    widths = f"{w_ppi:.3f} / {w_human:.3f}"
            else:
                widths = "—"
            extra = as_float(m.get("extra_labels"))
            worth = "—" if extra is None else (f"+{extra:,.0f} labels" if extra >= 0.5 else "no gain")
            lam = as_float(m.get("lam"))
            table.rows.append(
                [
                    judge,
                    PPI_LABELS.get(name, name),
                    estimate,
                    fmt_number(m.get("human_only_value"), kind),
                    "—" if lam is None else f"{lam:.2f}",
                    widths,
                    counts,
                    worth,
                ]
            )
            table.row_roles.append("judge")
    whose = "the humans'" if v.reference == "human" else f"{v.reference}'s"
    section.lines.append(
        f"PPI++ (Angelopoulos, Duchi & Zrnic 2023) estimates {whose} own rates from the "
        f"{v.reference} labels plus a judge's verdicts on every item it judged, which narrows the interval when the "
        "judge is informative; valid when the labelled items are a random sample of the judged ones."
    )
    if table:
        section.tables.append(table)
    if not_applicable:
        if table:
            section.lines.append(
                f"Not applicable to {', '.join(not_applicable)}: every item they labelled has a {v.reference} label."
            )
        else:
            section.lines.append(
                f"Not applicable here: every item the judges labelled has a {v.reference} label, so the estimate "
                f"would be {whose} own rate. PPI++ helps when a judge labels items the reference did not."
            )
    return section


# ---------------------------------------------------------------------------------------------- alt-test


def alt_test_section(v: AuditView) -> Section:
    """The alternative annotator test per judge, from the ``alt_test`` section and the ``alt_test_*`` rows."""
    section = Section(key="alt-test", title="Alternative annotator test")
    meta = _section_dict(v, "alt_test")
    judges = _entries(meta.get("judges"))
    if not meta:
        return section
    epsilon = as_float(meta.get("epsilon"))
    level = as_float(meta.get("level"))
    alignment = str(meta.get("alignment") or "")
    eps_text = f"ε = {epsilon:g}" if epsilon is not None else "a margin ε"
    level_text = f" at {level:g}" if level is not None else ""
    if not judges:
        note = meta.get("note")
        if note:
            section.lines.append(f"Alternative annotator test not run: {note}.")
        return section
    n_raters = max((len(_entries(e.get("raters"))) for e in judges), default=0)
    raters_text = f"the {n_raters} {v.reference} raters" if n_raters else f"the {v.reference} raters"
    section.lines.append(
        f"May the judge replace a {v.reference} rater? (Calderon, Reichart & Dror 2025.) Each of {raters_text} is "
        f"left out in turn; the judge beats that rater when its alignment with the remaining raters, measured as "
        f"{ALIGNMENT_WORDS.get(alignment, alignment or 'agreement')}, is at least the rater's minus {eps_text} "
        f"(one-sided test, cluster-robust, Benjamini-Yekutieli{level_text}). It passes when it beats at least half "
        "the raters (ω ≥ 50%)."
    )
    table = Table(
        key="alt-test",
        title="Alternative annotator test per judge",
        columns=["Judge", "n", "Raters beaten", "Winning rate ω", "Passes", "Advantage probability ρ"],
        rows=[],
        metric_columns=[
            "",
            "",
            "",
            "alt_test_winning_rate",
            "alt_test_pass",
            "alt_test_advantage_probability",
        ],
        note=(
            "ρ: share of items where the judge aligns with the remaining raters at least as well as the left-out "
            "rater, averaged over raters (compares judges; no interval)."
        ),
    )
    passed = []
    for entry in judges:
        judge = str(entry.get("judge", ""))
        raters = _entries(entry.get("raters"))
        omega = as_float(entry.get("winning_rate"))
        rho = as_float(entry.get("advantage_probability"))
        if not raters and omega is None:
            continue
        beaten = sum(1 for r in raters if r.get("judge_wins"))
        ok = entry.get("passed")
        n_row = v.metric("alt_test_winning_rate", judge)
        for name in ("alt_test_winning_rate", "alt_test_pass", "alt_test_advantage_probability"):
            if v.metric(name, judge) is not None:
                section.rendered.add((name, judge, v.reference))
        n = as_int((n_row or {}).get("n"))
        if n is None and raters:
            n = max((as_int(r.get("n")) or 0) for r in raters) or None
        table.rows.append(
            [
                judge,
                "—" if n is None else f"{n:,}",
                f"{beaten} of {len(raters)}" if raters else "—",
                fmt_number(omega, "rate", digits=0),
                "—" if ok is None else ("yes" if ok else "no"),
                fmt_number(rho, "number"),
            ]
        )
        table.row_roles.append("judge")
        if ok:
            passed.append(judge)
    if table:
        section.tables.append(table)
        if passed:
            section.lines.append(f"Passed: {', '.join(passed)}.")
        else:
            section.lines.append(f"No judge passed: none may replace a {v.reference} rater at this margin.")
    return section


# ---------------------------------------------------------------------------------------------- jury


def jury_section(v: AuditView, ascii_only: bool = False) -> Section:
    """Juries (``jury:<rule>`` judges) beside their best member, and the effective number of independent judges."""
    section = Section(key="jury", title="Jury")
    meta = _section_dict(v, "jury")
    if not meta:
        return section
    members = [str(m) for m in (meta.get("members") or []) if m is not None]
    juries = [j for j in v.judges if j.startswith("jury:")]
    if not juries and as_float(meta.get("effective_judges")) is None:
        note = meta.get("note")
        if note:
            section.lines.append(f"No jury: {note}.")
        return section
    lead = v.primary_agreement()
    binary = v.task == "binary"
    outcome = "win_rate" if binary else "no_better_rate"
    k = len(members)
    effective = v.metric("jury_effective_judges", "jury")
    if effective is not None:
        section.rendered.add(("jury_effective_judges", "jury", v.reference))
    eff_text = fmt_estimate(effective) if effective else fmt_number(meta.get("effective_judges"))
    if eff_text != "—":
        items = as_int(meta.get("n_items"))
        on = f", on the {items:,} items every member labelled" if items is not None else ""
        section.lines.append(
            f"The jury's {k} members err like {eff_text} independent judges (1 = they make the same errors, {k} = "
            f"independent errors){on}: a jury of judges that make the same errors is no better than one judge."
        )
    matrix = meta.get("error_correlation")
    if isinstance(matrix, list) and k > 1 and len(matrix) == k:
        pairs = []
        for i in range(k):
            row = matrix[i] if isinstance(matrix[i], list) else []
            for j in range(i + 1, min(k, len(row))):
                r = as_float(row[j])
                if r is not None:
                    pairs.append((r, members[i], members[j]))
        if len(pairs) == 1:
            section.lines.append(f"Correlation of the members' errors {pairs[0][0]:.2f}.")
        elif pairs:
            mean = sum(p[0] for p in pairs) / len(pairs)
            high = max(pairs)
            section.lines.append(
                f"Mean correlation of the members' errors {mean:.2f}; highest {high[0]:.2f} ({high[1]} and {high[2]})."
            )
    columns = ["Jury", "Members", "n"]
    metric_columns = ["", "", ""]
    if lead:
        columns.append(metric_label(lead, ascii_only))
        metric_columns.append(lead)
    has_outcome = any(_row_value(v.metric(outcome, name)) is not None for name in juries + members)
    if has_outcome:
        columns.append("Positive (1)" if binary else metric_label(outcome, ascii_only))
        metric_columns.append(outcome)
    table = Table(
        key="jury",
        title="Juries beside their best member",
        columns=columns,
        rows=[],
        metric_columns=metric_columns,
        text_columns=2,
        note=(
            "jury:majority: the members' most frequent verdict; jury:mean: the mean of their values (likert, score). "
            "Each jury is audited like a judge (all its metrics are in the per-judge tables)."
        ),
    )

    def cells(name: str, members_text: str) -> list[str]:
        agreement = v.metric(lead, name) if lead else None
        out_row = v.metric(outcome, name)
        row = [name, members_text, _n(agreement or out_row)]
        if lead:
            row.append(fmt_estimate(agreement))
        if has_outcome:
            row.append(fmt_estimate(out_row, kind="rate", signed=False))
        return row

    for jury in juries:
        table.rows.append(cells(jury, f"{k}"))
        table.row_roles.append("judge")
    if lead:
        scored = [(m, _row_value(v.metric(lead, m))) for m in members]
        scored = [(m, s) for m, s in scored if s is not None]
        if scored:
            best = max(scored, key=lambda pair: pair[1])[0]
            table.rows.append(cells(best, "best member"))
            table.row_roles.append("reference")
    if table:
        section.tables.append(table)
    return section


# ---------------------------------------------------------------------------------------------- all of them


def extension_sections(v: AuditView, ascii_only: bool = False) -> list[Section]:
    """Every dedicated section that has something to show, in report order."""
    sections = [
        probe_section(v, ascii_only),
        position_section(v, ascii_only),
        ppi_section(v),
        alt_test_section(v),
        jury_section(v, ascii_only),
    ]
    return [s for s in sections if s]


def rendered_keys(v: AuditView) -> set[tuple[str, str, str]]:
    """The metric rows (metric, judge, reference; whole sample) that a dedicated section shows."""
    keys: set[tuple[str, str, str]] = set()
    for section in extension_sections(v):
        keys |= section.rendered
    return keys


def report_slices(v: AuditView) -> list[str]:
    """The slices for the "By slice" part: without ``persona=`` / ``profile_view=`` when the probe section shows
    them (their rows are the variant judges' own, already in the per-judge tables)."""
    if not probe_section(v):
        return list(v.slices)
    return [s for s in v.slices if not is_probe_slice(s)]
