"""The "Prediction-powered rates (PPI++)" section, from the ``ppi`` section of the audit and its ``ppi_*`` rows."""

from __future__ import annotations

from auditor import metrics as registry
from reports.format import as_float, as_int, fmt_estimate, fmt_interval, fmt_number
from reports.labels import metric_kind
from reports.sections.base import Section, Table, entries
from reports.view import AuditView, section_dict

KEY = "ppi"
PREFIX = "ppi_"


STRATIFIED = "stratified_ppi_"
ROGAN_GLADEN = "rogan_gladen_"
CONFIDENCE_DRIVEN = "confidence_driven_"


def estimate_label(metric: str) -> str:
    """What a ``ppi_*`` row estimates, by the label of the rate it corrects (``ppi_win_rate`` -> ``Win (b better)``);
    any other name as it is."""
    corrected = registry.lookup(metric.removeprefix(PREFIX)) if metric.startswith(PREFIX) else None
    return corrected.label if corrected is not None and registry.lookup(metric) is not None else metric


def _row_estimate(v: AuditView, section: Section, name: str, judge: str, reference: str, kind: str) -> str:
    """A corrected row's value with its interval (marked as shown by this section), or ``—``."""
    row = v.metric(name, judge, reference)
    if not row:
        return "—"
    section.rendered.add((name, judge, reference))
    return fmt_estimate(row, kind=kind, signed=False)


def value_with_interval(value: object, bounds: object, kind: str = "rate") -> str:
    """A value with its ``[low, high]`` when the audit has them (older audits: the value, or ``—``)."""
    lo, hi = bounds if isinstance(bounds, (list, tuple)) and len(bounds) == 2 else (None, None)
    return f"{fmt_number(value, kind)} {fmt_interval(as_float(lo), as_float(hi), kind)}".strip()


NOTES = {
    "stratified": (
        "Stratified PPI (Fisch et al. 2024): PPI++ within each stratum, weighted by the strata's shares of the judged "
        "items, Wald interval (strata shares taken as known: with users as strata, the rate of these users); strata "
        "with fewer than 10 labelled items pooled."
    ),
    "rogan_gladen": (
        "Rogan-Gladen (Lee et al. 2025): the judge's rate on the items without a reference label, corrected by its "
        "sensitivity and specificity on the items with one; interval from the cluster bootstrap, and Lee et al.'s "
        "(independent items) beside it."
    ),
    "confidence_driven": (
        "Confidence-driven (Gligoric et al. 2025): the labelled items were chosen with the items' "
        "inclusion_probability, their errors weighted by its inverse; the other estimates assume a uniformly random "
        "labelled sample."
    ),
}


def corrected_table(v: AuditView, section: Section, judges: list[dict]) -> Table:
    """Stratified PPI, the Rogan-Gladen rate and (for a confidence-driven sample) the inverse-probability-weighted
    estimate beside PPI++, one row per judge and rate; a column group only when some metric has that estimate."""
    present = [
        key
        for key in NOTES
        if any(isinstance(m.get(key), dict) for e in judges for m in entries(e.get("metrics")))
    ]
    groups = {
        "stratified": ["Stratified PPI", "Strata"],
        "rogan_gladen": [
            "Rogan-Gladen",
            "Rogan-Gladen, Lee et al. interval",
            "Judge sensitivity / specificity",
        ],
        "confidence_driven": ["Confidence-driven"],
    }
    columns = ["Judge", "Estimate", "PPI++"] + [c for key in present for c in groups[key]]
    table = Table(
        key="ppi_corrected",
        title="Other corrected estimates of the reference's rates",
        columns=columns,
        rows=[],
        metric_columns=[""] * len(columns),
        text_columns=2,
        note=" ".join(NOTES[key] for key in present),
    )
    for entry in judges:
        judge = str(entry.get("judge", ""))
        reference = str(entry.get("reference") or v.reference)
        for m in entries(entry.get("metrics")):
            if not any(isinstance(m.get(key), dict) for key in present):
                continue
            name = str(m.get("metric", ""))
            rate, kind = name.removeprefix(PREFIX), metric_kind(name)
            cells = [judge, estimate_label(name), fmt_number(m.get("value"), kind)]
            if "stratified" in present:
                stratified, strata = m.get("stratified"), "—"
                if isinstance(stratified, dict):
                    pooled = as_int(stratified.get("n_pooled")) or 0
                    strata = f"{stratified.get('by')}: {as_int(stratified.get('n_strata')) or 0}"
                    strata += f" ({pooled:,} pooled)" if pooled else ""
                cells += [_row_estimate(v, section, STRATIFIED + rate, judge, reference, kind), strata]
            if "rogan_gladen" in present:
                rogan, lee, sens_spec = m.get("rogan_gladen"), "—", "—"
                if isinstance(rogan, dict):
                    lee = value_with_interval(rogan.get("value"), rogan.get("analytic_ci"), "rate")
                    sens, spec = as_float(rogan.get("sensitivity")), as_float(rogan.get("specificity"))
                    if sens is not None and spec is not None:
                        sens_spec = f"{fmt_number(sens, 'rate')} / {fmt_number(spec, 'rate')}"
                cells += [
                    _row_estimate(v, section, ROGAN_GLADEN + rate, judge, reference, "rate"),
                    lee,
                    sens_spec,
                ]
            if "confidence_driven" in present:
                cells.append(_row_estimate(v, section, CONFIDENCE_DRIVEN + rate, judge, reference, kind))
            table.rows.append(cells)
            table.row_roles.append("judge")
    return table


def ppi_section(v: AuditView) -> Section:
    """PPI++ estimates of the reference's rates from the ``ppi`` section and the ``ppi_*`` rows."""
    section = Section(key=KEY, title="Prediction-powered rates (PPI++)")
    meta = section_dict(v, "ppi")
    judges = entries(meta.get("judges"))
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
            "Judge alone",
            "λ",
            "CI width PPI / labels only",
            "Labelled / judged",
            "Worth",
        ],
        rows=[],
        metric_columns=["", "", "", "", "", "", "", "", ""],
        text_columns=2,
        note=(
            "Judge alone: the judge's own rate on every item it judged. "
            "λ: how much the judge's verdicts are trusted (0 = the reference labels only, 1 = fully). Worth: how many "
            "extra reference labels would narrow the interval as much as the judge does."
        ),
    )
    not_applicable = []
    for entry in judges:
        judge = str(entry.get("judge", ""))
        reference = str(entry.get("reference") or v.reference)
        metrics = entries(entry.get("metrics"))
        if not metrics:
            not_applicable.append(judge)
            continue
        labelled, judged = as_int(entry.get("n_labelled")), as_int(entry.get("n_unlabelled"))
        counts = f"{labelled:,} / {judged:,}" if labelled is not None and judged is not None else "—"
        for m in metrics:
            name = str(m.get("metric", ""))
            kind = metric_kind(name)
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
                    estimate_label(name),
                    estimate,
                    value_with_interval(m.get("human_only_value"), m.get("human_only_ci"), kind),
                    value_with_interval(m.get("judge_only_value"), m.get("judge_only_ci"), kind),
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
        corrected = corrected_table(v, section, judges)
        if corrected:
            section.tables.append(corrected)
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
