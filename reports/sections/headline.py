"""The headline: what the audit found, in plain sentences, read straight from the saved metrics."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reports.format import (
    as_float,
    as_int,
    fmt_estimate,
    fmt_interval,
    fmt_number,
    interval_excludes_zero,
    p_text,
)
from reports.labels import PRIMARY_CORRELATION, STAGE_RATES, metric_label
from reports.sections.base import entries, few_clusters_note, n_text
from reports.sections.method import selection_text, split_ties_text
from reports.sections.ppi import value_with_interval
from reports.sections.probes import persona_sentences, view_sentences
from reports.view import AuditView, grouped_variants, section_dict, view

MAX_JUDGE_SENTENCES = 8
BASELINE_PREFIX = "baseline:"
NO_REFERENCE_REASON = "no reference label for the item"  # auditor.analyses.core's exclusion reason


def _headline_judges(v: AuditView) -> list[str]:
    """The judges that get their own headline sentence: variant judges (``base|key=value``) are left out when
    their base judge is in the audit (the probe sentences and the "Persona and profile views" section cover them),
    and so are the trivial baselines (``baseline:*``, one sentence of their own)."""
    grouped = {j for variants in grouped_variants(v).values() for j in variants}
    return [j for j in v.judges if j not in grouped and not j.startswith(BASELINE_PREFIX)]


def _named(v: AuditView, judge: str) -> str:
    """A judge's name as the headline gives it: a jury with the items it was scored on and how many it left
    undecided (``jury:majority (n = 369, 120 undecided)``)."""
    scored = section_dict(v, "jury").get("scored")
    counts = scored.get(judge) if isinstance(scored, dict) else None
    if not isinstance(counts, dict) or as_int(counts.get("n_items")) is None:
        return judge
    undecided = as_int(counts.get("undecided")) or 0
    extra = f", {undecided:,} undecided, counted as disagreements" if undecided else ""
    return f"{judge} (n = {as_int(counts.get('n_items')):,}{extra})"


def _baseline_sentences(v: AuditView) -> list[str]:
    """The best trivial baseline's agreement, the judges that do not beat it, and each judge's z against the
    reference raters' ceiling (the ``baselines`` section)."""
    meta = section_dict(v, "baselines")
    rows = entries(meta.get("judges"))
    sentences = []
    if rows:
        best = str(rows[0].get("best_baseline", ""))
        best_row = v.metric("agreement", best)
        losers = [str(r.get("judge")) for r in rows if r.get("beats_baselines") is False]
        text = f"The best trivial baseline, {best}, agrees with {v.reference} on {_rate(best_row)} of items"
        if losers:
            text += f"; NOT BEATING THE BASELINES (agreement interval not above it): {', '.join(losers)}"
        else:
            text += "; every judge's agreement interval lies above it"
        sentences.append(text + ".")
    zs = [z for z in entries(meta.get("z_vs_ceiling")) if as_float(z.get("z")) is not None]
    if zs:
        label = metric_label(str(zs[0].get("metric", "")))
        parts = [f"{z.get('judge')} {as_float(z.get('z')):+.1f}" for z in zs[:MAX_JUDGE_SENTENCES]]
        sentences.append(
            f"Distance from the human ceiling in standard errors ({label}, judge minus ceiling; "
            f"below -2: clearly under it): {'; '.join(parts)}."
        )
    return sentences


def _ppi_sentences(v: AuditView) -> list[str]:
    """Per judge with prediction-powered rows: the human-only, the judge-only and the corrected no-better rate
    (binary: positive rate) with intervals, and the labels the judge's verdicts are worth."""
    target = "ppi_win_rate" if v.task == "binary" else "ppi_no_better_rate"
    sentences = []
    for entry in entries(section_dict(v, "ppi").get("judges")):
        judge = str(entry.get("judge", ""))
        found = [m for m in entries(entry.get("metrics")) if m.get("metric") == target]
        row = v.metric(target, judge)
        if not found or row is None:
            continue
        m = found[0]
        labelled, judged = as_int(entry.get("n_labelled")), as_int(entry.get("n_unlabelled"))
        human = value_with_interval(m.get("human_only_value"), m.get("human_only_ci"))
        alone = (
            value_with_interval(m.get("judge_only_value"), m.get("judge_only_ci"))
            if as_float(m.get("judge_only_value")) is not None
            else ""
        )
        effective = as_float(m.get("effective_labels"))
        parts = [f"{v.reference} labels only, n = {labelled or 0:,}: {human}"]
        if alone:
            parts.append(f"{judge} alone: {alone}")
        text = (
            f"Corrected (PPI++) {'positive rate' if v.task == 'binary' else 'no-better rate'} with {judge}'s "
            f"verdicts on {judged or 0:,} items: {_rate(row)} ({'; '.join(parts)})"
        )
        if effective is not None and effective - (labelled or 0) >= 0.5:
            text += f"; worth {effective - (labelled or 0):+,.0f} {v.reference} labels (effective n = {effective:,.0f})"
        elif effective is not None:
            text += f"; no narrower than the {v.reference} labels alone"
        sentences.append(text + ".")
    return sentences


def _variants_pointer(v: AuditView) -> list[str]:
    groups = grouped_variants(v)
    if not groups:
        return []
    count = sum(len(variants) for variants in groups.values())
    bases = ", ".join(groups)
    return [
        f"{count} variant judge{'s' if count != 1 else ''} of {bases} (profile views, personas) "
        f"{'are' if count != 1 else 'is'} left out above; see Persona and profile views."
    ]


def _level_text(v: AuditView) -> str:
    level = as_float(v.bootstrap.get("level")) or 0.95
    return f"{level:.0%}"


def _test_significant(v: AuditView, row: Mapping[str, Any]) -> bool | None:
    """Whether the p-value that :func:`p_text` shows (adjusted when present) is below ``1 - level``; None without
    one."""
    p = as_float(row.get("p_adjusted"))
    p = as_float(row.get("p_value")) if p is None else p
    if p is None:
        return None
    return p < 1.0 - (as_float(v.bootstrap.get("level")) or 0.95)


def _rate(row: Mapping[str, Any] | None) -> str:
    return fmt_estimate(row, kind="rate", signed=False)


def _gap_sentence(v: AuditView, judge: str, gap: Mapping[str, Any]) -> str:
    """How a judge's no-better rate differs from the reference's, in points, with the direction in words.

    A negative no-better gap means the judge finds b better more often than the reference: it overstates b. The
    interval is then stated in the same direction (the gap's interval negated).
    """
    value = as_float(gap.get("value"))
    if value is None:
        return ""
    lo, hi = as_float(gap.get("ci_low")), as_float(gap.get("ci_high"))
    p = p_text(gap)
    p_part = few_clusters_note(gap) + (f" ({p})" if p else "")
    thing = "personalization" if v.is_personalization else f"how often {v.arm_b} is better"
    clear = interval_excludes_zero(gap)
    # the interval (BCa, asymmetric) and the paired test (symmetric; adjusted across judges) can fall on either
    # side of the audit's level at the margin: then the sentence says so instead of picking one of them
    significant = _test_significant(v, gap)
    if clear is False or value == 0:
        signed = fmt_number(value, "rate_gap", signed=True).replace(" pts", " points")
        interval = fmt_interval(lo, hi, "rate_gap")
        if significant and value != 0:
            return (
                f"mixed evidence: the {_level_text(v)} interval of its gap to {v.reference_plural} includes no "
                f"difference ({signed} {interval}), the paired test does not ({p})" + few_clusters_note(gap)
            )
        return (
            f"within noise of {v.reference_plural} (gap {signed} {interval}".rstrip()
            + (f", {p})" if p else ")")
            + few_clusters_note(gap)
        )
    if significant is False:  # the interval leaves no difference out, the (adjusted) test does not
        p_part = few_clusters_note(gap) + f" (mixed evidence: the paired test gives {p})"
    points = fmt_number(abs(value), "rate_gap").replace(" pts", " points")
    if value < 0:
        interval = fmt_interval(-hi, -lo, "rate_gap") if lo is not None and hi is not None else ""
        return f"it overstates {thing} by {points} {interval}".rstrip() + p_part
    interval = fmt_interval(lo, hi, "rate_gap")
    return f"it understates {thing} by {points} {interval}".rstrip() + p_part


OUTCOME_GAPS = ("win_rate_gap", "tie_rate_gap", "loss_rate_gap")
# the slice of the rows computed with ties left out (auditor.engine.agreement)
TIES_EXCLUDED = "ties=excluded"


def _points(value: float, signed: bool = False) -> str:
    return fmt_number(value, "rate_gap", signed=signed).replace(" pts", "")


def _outcome_breakdown(v: AuditView, judge: str) -> str:
    """Which outcome moved: ``main difference: it says tie 63.3 points less often than humans (-63.3 [-80.0,
    -43.3], p_adj = …); b better +33.3, a better +30.0``.  The win, tie and loss gaps split the judge's shift
    between the outcomes (win + tie + loss gaps sum to 0); the largest in size is named as the main difference.
    Empty without a tie gap (a task without ties)."""
    rows = {name: v.metric(name, judge) for name in OUTCOME_GAPS}
    values = {name: as_float((row or {}).get("value")) for name, row in rows.items()}
    if values["tie_rate_gap"] is None or any(value is None for value in values.values()):
        return ""
    if not any(values.values()):
        return ""
    doing = {
        "win_rate_gap": (f"it says {v.arm_b} is better", "b better"),
        # a likert tie is the neutral rating ("about the same"), not a verdict of "tie"
        "tie_rate_gap": ("it gives the neutral rating", "neutral")
        if v.task == "likert"
        else ("it says tie", "tie"),
        "loss_rate_gap": (f"it says {v.arm_a} is better", "a better"),
    }
    main = max(OUTCOME_GAPS, key=lambda name: abs(values[name] or 0.0))
    value, row = values[main] or 0.0, rows[main] or {}
    more = "more" if value > 0 else "less"
    # the win gap is minus the no-better gap the sentence already states: its numbers are not repeated
    if main == "win_rate_gap":
        words = f"main difference: {doing[main][0]} {more} often"
    else:
        p = p_text(row)
        detail = fmt_estimate(row).replace(" pts", "") + (f", {p}" if p else "")
        words = (
            f"main difference: {doing[main][0]} {_points(abs(value))} points {more} often than "
            f"{v.reference_plural} ({detail})"
        )
    others = [
        f"{doing[name][1]} {_points(values[name] or 0.0, signed=True)}"
        for name in OUTCOME_GAPS
        if name != main
    ]
    return words + "; " + ", ".join(others)


def _without_ties_sentence(v: AuditView) -> list[str]:
    """Raw agreement with ties left out (slice ``ties=excluded``) beside agreement with ties, per judge."""
    parts = []
    for judge in _headline_judges(v)[:MAX_JUDGE_SENTENCES]:
        without, with_ties = v.metric("agreement", judge, None, TIES_EXCLUDED), v.metric("agreement", judge)
        if as_float((without or {}).get("value")) is None:
            continue
        text = f"{judge} {fmt_estimate(without)} on {n_text(without)} items{few_clusters_note(without)}"
        if as_float((with_ties or {}).get("value")) is not None:
            text += f" (with ties {_rate(with_ties)} on {n_text(with_ties)})"
        parts.append(text)
    if not parts:
        return []
    return [
        f"Agreement with {v.reference} without ties (items on which {v.reference_plural} or the judge say tie left "
        'out, as MT-Bench\'s "w/o tie"): ' + "; ".join(parts) + "."
    ]


def _source_gap_sentences(v: AuditView) -> list[str]:
    """The main rate's difference between two sources (slice ``source=synthetic - source=real``): the reference's
    own and each judge's gap to it."""
    main, main_gap = v.positive_rate or ("no_better_rate", "no_better_rate_gap")
    sentences = []
    for slice_ in v.slices:
        later, sep, earlier = slice_.partition(" - ")
        if not sep or not later.startswith("source=") or not earlier.startswith("source="):
            continue
        own = v.own(main, slice_)
        parts = []
        if as_float((own or {}).get("value")) is not None:
            parts.append(f"{v.reference_plural}' {_rate_name(v, main)} {_gap_text(own)}")
        judged = []
        for judge in _headline_judges(v)[:MAX_JUDGE_SENTENCES]:
            row = v.metric(main_gap, judge, None, slice_)
            if as_float((row or {}).get("value")) is not None:
                judged.append(f"{judge} {_gap_text(row)}")
        if judged:
            parts.append(f"the judges' gaps to {v.reference_plural}: " + "; ".join(judged))
        if parts:
            a, b = earlier.split("=", 1)[1], later.split("=", 1)[1]
            sentences.append(f"{b.capitalize()} minus {a} items ({slice_}): " + "; ".join(parts) + ".")
    return sentences


def _rate_name(v: AuditView, metric: str) -> str:
    """``no-better rate``, ``share marked relevant``: what a main rate counts, in the audit's words."""
    if metric == "no_better_rate":
        return "no-better rate"
    return f"share {v.positive_words[0]} {v.positive_words[1]}"


def _gap_text(row: Mapping[str, Any]) -> str:
    """``+3.1 points [-2.0, 8.2] (p_adj = 0.400)`` for a difference of rates."""
    p = p_text(row)
    return (
        f"{_points(as_float(row.get('value')) or 0.0, signed=True)} points "
        f"{fmt_interval(row.get('ci_low'), row.get('ci_high'), 'rate_gap')}".rstrip()
        + few_clusters_note(row)
        + (f" ({p})" if p else "")
    )


def _positive_rate_sentences(v: AuditView) -> list[str]:
    """Binary (or dichotomised) stages: the share with the positive label in the stage's words ("Humans marked
    19.7% of items relevant", "flagged problematic"), and how far each judge over- or under-calls it."""
    rate, gap_metric = v.positive_rate or STAGE_RATES[None]
    verb, positive, _ = v.positive_words
    own = v.own(rate)
    sentences = []
    if own and as_float(own.get("value")) is not None:
        n = as_int(own.get("n"))
        n_part = f" (n = {n:,})" if n is not None else ""
        sentences.append(f"{v.reference_words} {verb} {_rate(own)} of items {positive}{n_part}.")
    for judge in _headline_judges(v)[:MAX_JUDGE_SENTENCES]:
        row, gap = v.metric(rate, judge) or v.metric(rate, judge, judge), v.metric(gap_metric, judge)
        if row is None or as_float(row.get("value")) is None:
            continue
        text = f"{judge} {verb} {_rate(row)} {positive}"
        value = as_float((gap or {}).get("value"))
        if value is not None:
            lo, hi = as_float(gap.get("ci_low")), as_float(gap.get("ci_high"))
            points = fmt_number(abs(value), "rate_gap").replace(" pts", " points")
            word = "more" if value > 0 else "fewer"
            p = p_text(gap)
            text += (
                f": {points} {word} than {v.reference_plural} on the same items "
                f"{fmt_interval(lo, hi, 'rate_gap')}".rstrip()
                + few_clusters_note(gap)
                + (f" ({p})" if p else "")
            )
        sentences.append(text + ".")
    return sentences


def _no_better_sentences(v: AuditView) -> list[str]:
    if v.positive_rate:
        return _positive_rate_sentences(v)
    own = v.own("no_better_rate")
    sentences = []
    if v.is_personalization:
        subject = f"{v.reference_words} found {v.arm_b} no better"
    else:
        subject = f"{v.reference_words} found {v.arm_b} no better than {v.arm_a}"
    if own and as_float(own.get("value")) is not None:
        n = as_int(own.get("n"))
        n_part = f" (n = {n:,})" if n is not None else ""
        sentences.append(f"{subject} in {_rate(own)} of cases{n_part}.")
    split = split_ties_text(v)
    if split:
        sentences.append(split[0].upper() + split[1:])
    judges = [
        j
        for j in _headline_judges(v)
        if as_float((v.metric("no_better_rate", j) or {}).get("value")) is not None
        or v.metric("no_better_rate_gap", j) is not None
    ]
    left_out = 0
    if len(judges) > MAX_JUDGE_SENTENCES:  # the largest gaps make the headline; the table has the rest

        def size(judge: str) -> float:
            return abs(as_float((v.metric("no_better_rate_gap", judge) or {}).get("value")) or 0.0)

        keep = set(sorted(judges, key=size, reverse=True)[:MAX_JUDGE_SENTENCES])
        left_out = len(judges) - len(keep)
        judges = [j for j in judges if j in keep]
    for judge in judges:
        row = v.metric("no_better_rate", judge)
        gap = v.metric("no_better_rate_gap", judge)
        parts = []
        if row is not None and as_float(row.get("value")) is not None:
            parts.append(f"{_named(v, judge)} found it no better in {_rate(row)}")
        else:
            parts.append(_named(v, judge))
        if gap is not None:
            words = _gap_sentence(v, judge, gap)
            breakdown = _outcome_breakdown(v, judge)
            if words:
                parts.append(words + (f"; {breakdown}" if breakdown else ""))
        sentences.append(": ".join(parts) + ".")
    if left_out:
        sentences.append(f"{left_out} more judges with smaller gaps are in the gap table.")
    return sentences


def _agreement_sentence(v: AuditView) -> list[str]:
    """The lead chance-corrected coefficient (or correlation) of every judge, beside the human ceiling."""
    name = v.primary_agreement()
    if name is None:
        name = v.first_present(PRIMARY_CORRELATION)
    if name is None:
        return []
    label = metric_label(name)
    parts = []
    ceiling = v.own(name)
    scored = [
        (judge, row)
        for judge in _headline_judges(v)
        if (row := v.metric(name, judge)) is not None and as_float(row.get("value")) is not None
    ]
    if len(scored) > MAX_JUDGE_SENTENCES:  # highest three and the lowest, the rest in the table
        ranked = sorted(scored, key=lambda pair: as_float(pair[1].get("value")) or 0.0, reverse=True)
        shown = ranked[:3] + ranked[-1:]
        parts = [
            f"highest {judge} {fmt_estimate(row)}" if i == 0 else f"{judge} {fmt_estimate(row)}"
            for i, (judge, row) in enumerate(shown[:3])
        ]
        parts.append(
            f"lowest {shown[-1][0]} {fmt_estimate(shown[-1][1])} ({len(scored)} judges in the table)"
        )
    else:
        parts = [f"{_named(v, judge)} {fmt_estimate(row)}{few_clusters_note(row)}" for judge, row in scored]
    if not parts:
        return []
    sentence = f"{label} with {v.reference}: " + "; ".join(parts)
    if ceiling is not None and as_float(ceiling.get("value")) is not None:
        raters = "human raters" if v.reference == "human" else f"{v.reference} raters"
        sentence += f" (ceiling, {raters} with each other: {fmt_estimate(ceiling)})"
    return [sentence + "."]


def _fallback_agreement(v: AuditView) -> list[str]:
    """Raw agreement, for tasks without outcome rates (categorical, score)."""
    parts = []
    for judge in v.judges:
        row = v.metric("agreement", judge)
        if row is not None and as_float(row.get("value")) is not None:
            parts.append(f"{judge} {fmt_estimate(row)}")
    if not parts:
        return []
    return [f"Raw agreement with {v.reference}: " + "; ".join(parts) + "."]


def headline(audit: Mapping[str, Any] | AuditView) -> list[str]:
    """Plain-words headline sentences of an audit: outcome rates and gaps first, then agreement, then caveats.

    Examples
    --------
    >>> headline({"reference": "human", "judges": ["j"], "metrics": [
    ...     {"metric": "no_better_rate", "judge": "human", "reference": "human", "value": 0.5},
    ...     {"metric": "no_better_rate", "judge": "j", "reference": "human", "value": 0.25}]})
    ['Humans found response b no better than response a in 50.0% of cases.', 'j found it no better in 25.0%.']
    """
    v = view(audit)
    sentences = _no_better_sentences(v)
    sentences += _source_gap_sentences(v)
    sentences += _agreement_sentence(v)
    sentences += _without_ties_sentence(v)
    sentences += _baseline_sentences(v) + _ppi_sentences(v)
    if not sentences:
        sentences += _fallback_agreement(v)
    probe = persona_sentences(v) + view_sentences(v)
    if probe or sentences:
        sentences += probe
        sentences += _variants_pointer(v)
    # a PPI++ judge's verdicts on items without a reference verdict are its unlabelled set, not exclusions
    ppi_judges = {
        str(e.get("judge")) for e in entries(section_dict(v, "ppi").get("judges")) if e.get("metrics")
    }

    def unlabelled(row: Mapping[str, Any]) -> bool:
        return row.get("reason") == NO_REFERENCE_REASON and str(row.get("judge")) in ppi_judges

    if any(unlabelled(row) for row in v.exclusions):
        count = sum(as_int(row.get("count")) or 0 for row in v.exclusions if unlabelled(row))
        sentences.append(
            f"{count:,} verdicts are on items without a {v.reference} verdict (no label, or no majority): not "
            f"compared with {v.reference_plural}; the prediction-powered estimates use them."
        )
    counted = [row for row in v.exclusions if not unlabelled(row)]
    excluded = sum(as_int(row.get("count")) or 0 for row in counted)
    if excluded:
        judges = sorted({str(row.get("judge", "")) for row in counted})
        sentences.append(
            f"{excluded:,} verdict{'s' if excluded != 1 else ''} excluded ({', '.join(judges)}); "
            "see Exclusions for the reasons."
        )
    if not sentences:
        sentences.append("This audit holds no metric that can be summarised.")
    sentences += [text for text in (selection_text(v),) if text]
    if v.simulated:
        sentences.insert(
            0, "SIMULATED DATA: these numbers come from a simulated study, not from real raters."
        )
    return sentences
