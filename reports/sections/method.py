"""How the audit was computed: the tie / no-better policy and the "Method" lines (sample, bootstrap, versions)."""

from __future__ import annotations

from collections.abc import Mapping

from reports.format import as_float, as_int, fmt_number
from reports.labels import metric_label
from reports.view import AuditView, section_dict


def default_policy(v: AuditView) -> str:
    """The documented default when an audit does not state its policy (older files)."""
    if v.task == "likert":
        neutral = (v.scale or {}).get("neutral")
        point = f" {neutral}" if neutral is not None else ""
        return (
            f"b is better when the label is above the neutral point{point}; no better = at or below it "
            "(policy not stated in this audit file; this is the default)"
        )
    if v.task == "binary":
        return (
            "better when the label is 1; no better = 0 "
            "(policy not stated in this audit file; this is the default)"
        )
    if v.task in ("pairwise", ""):
        return (
            "b is better when the label is b; no better = tie or a "
            "(policy not stated in this audit file; this is the default)"
        )
    return "not stated in this audit file"


def policy_text(v: AuditView) -> str:
    """The policy in words, then how many of the reference's ties it made from split votes (when counted)."""
    return " ".join(s for s in (v.policy or default_policy(v), split_ties_text(v)) if s)


def split_ties_text(v: AuditView) -> str:
    """``13 of the 19 human ties are split votes ...``: the reference ties that the aggregation made out of split
    votes (audit.json's ``policy.reference_split_ties``); empty when the audit does not count them or has none."""
    split, ties = as_int(v.policy_field("reference_split_ties")), as_int(v.policy_field("reference_ties"))
    if not split or ties is None:
        return ""
    own = v.own("tie_rate")  # the items with a reference verdict (not every judged item)
    n = as_int(own.get("n")) if own is not None else v.n_items
    share = f" ({split / n:.1%} of the {n:,} items with a {v.reference} verdict)" if n else ""
    aggregation = v.raw.get("aggregation")
    rule = aggregation.get("rule") if isinstance(aggregation, Mapping) else None
    tie_break = v.policy_field("tie_break")
    parts = [f"aggregate: {rule}" if rule else "", f"tie-break `{tie_break}`" if tie_break else ""]
    policy = ", ".join(part for part in parts if part)
    return (
        f"{split:,} of the {ties:,} {v.reference} ties{share} are split votes that the policy turns into ties: "
        f"no majority of the {v.reference} raters said tie" + (f" ({policy})." if policy else ".")
    )


def selection_text(v: AuditView) -> str:
    """``Only the selected metrics were computed: ...``, for an audit run with a metric selection (audit.json's
    ``selection``); empty without one."""
    chosen = section_dict(v, "selection").get("computed")
    if not isinstance(chosen, list) or not chosen:
        return ""
    return (
        "Only the selected metrics were computed (`metrics` in audit.toml or `--metrics`): "
        + ", ".join(metric_label(str(name)) for name in chosen)
        + ". Other metrics, and the analyses that make only other metrics, were not run."
    )


def method_lines(v: AuditView) -> list[str]:
    """Plain-words facts about how the audit was computed (sample, bootstrap, versions)."""
    lines = []
    size = []
    if v.n_items is not None:
        size.append(f"{v.n_items:,} items")
    if v.n_clusters is not None:
        size.append(f"{v.n_clusters:,} clusters")
    if size:
        lines.append("Sample: " + ", ".join(size) + ".")
    if v.task:
        scale = ""
        if v.scale:
            parts = [f"{k} {v.scale[k]}" for k in ("min", "max", "neutral") if v.scale.get(k) is not None]
            scale = f" (scale: {', '.join(parts)})" if parts else ""
        lines.append(f"Task: {v.task}{scale}; reference: {v.reference}.")
    boot = v.bootstrap
    if boot:
        level = as_float(boot.get("level"))
        parts = []
        if level is not None:
            parts.append(f"{fmt_number(level, 'rate', digits=0)} intervals")
        if boot.get("method"):
            parts.append(f"{boot['method']} method")
        if boot.get("resamples") is not None:
            parts.append(f"{boot['resamples']} bootstrap resamples")
        if boot.get("cluster"):
            parts.append(f"clusters resampled by {boot['cluster']}")
        if boot.get("seed") is not None:
            parts.append(f"seed {boot['seed']}")
        if parts:
            lines.append("Uncertainty: " + ", ".join(parts) + ".")
    aggregation = v.raw.get("aggregation")
    if isinstance(aggregation, dict) and aggregation.get("rule"):
        tie = f", ties broken toward {aggregation['tie_break']}" if aggregation.get("tie_break") else ""
        lines.append(f"Several labels of one item are combined by {aggregation['rule']}{tie}.")
    correction = v.raw.get("p_value_correction")
    if correction:
        lines.append(f"p-values across judges adjusted by {correction} (p_adj).")
    with_reference = as_int(v.raw.get("n_items_with_reference"))
    if with_reference is not None and v.n_items is not None and with_reference != v.n_items:
        lines.append(f"{with_reference:,} of the {v.n_items:,} items have a reference label.")
    version = v.raw.get("auditor_version")
    schema = v.raw.get("schema_version")
    if version is not None or schema is not None:
        bits = []
        if version is not None:
            bits.append(f"auditor {version}")
        if schema is not None:
            bits.append(f"schema {schema}")
        lines.append("Produced by " + ", ".join(bits) + ".")
    return lines
