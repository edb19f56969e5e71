"""Audits for the report tests: realistic audit.json dicts built by hand (no core needed).

The numbers echo the simulated personalization study (human no-better rate 54.6%, judges more lenient) and the
PandaLM test set (human kappa about 0.86, GPT-3.5 agreement 0.716 / kappa 0.493, 25 'garbage' verdicts).
"""

from __future__ import annotations

from typing import Any

import numpy as np

XSS_SCRIPT = "<script>window.__pwned=1;document.title='pwned'</script>"
XSS_IMG = "<img src=x onerror=\"window.__pwned=2;document.title='pwned'\">"
XSS_LINK = '<a href="javascript:window.__pwned=3">click me</a>'
XSS_PAYLOAD = f"{XSS_SCRIPT} {XSS_IMG} {XSS_LINK} javascript:alert(1) ]]> --> </style></pre></details>"


def metric(
    name: str, judge: str, value: float | None, half: float = 0.04, n: int = 550, **extra: Any
) -> dict:
    row = {
        "metric": name,
        "judge": judge,
        "reference": extra.pop("reference", "human"),
        "value": value,
        "ci_low": None if value is None else value - half,
        "ci_high": None if value is None else value + half,
        "n": n,
        "p_value": extra.pop("p_value", None),
        "p_adjusted": extra.pop("p_adjusted", None),
        "slice": extra.pop("slice", None),
    }
    row.update(extra)
    return row


def _cases(judges: list[str], n_items: int, shown: int, rng: np.random.Generator, task: str) -> dict:
    types = ["judge_better_reference_no_better", "judge_no_better_reference_better", "other"]
    items = []
    for i in range(shown):
        user = f"u{i % 50:03d}"
        ref = str(rng.integers(1, 4)) if task == "likert" else "tie"
        verdicts = [
            {
                "judge": "human",
                "rater": str(r),
                "label": str(rng.integers(1, 6)),
                "order": None,
                "score": None,
                "raw": None,
            }
            for r in range(3)
        ]
        disagreements = []
        for j, judge in enumerate(judges):
            label = str(rng.integers(4, 6)) if task == "likert" else "b"
            verdicts.append(
                {
                    "judge": judge,
                    "rater": "0",
                    "label": label,
                    "order": "ab" if i % 2 else "ba",
                    "score": float(rng.normal()) if judge.startswith("rm-") else None,
                    "raw": f"Rating: {label}\nThe personalized answer uses the profile (item {i}, judge {judge}).",
                }
            )
            if (i + j) % 3 != 2:
                kind = types[(i + j) % 3] if i % 4 != 3 else "other"
                disagreements.append({"judge": judge, "type": kind, "judge_label": label})
        items.append(
            {
                "item_id": f"item-{i:05d}",
                "user_id": user,
                "prompt": f"Plan a weekend trip for me (conversation {i}).",
                "profile": f"User {user} likes hiking, dislikes crowds, vegetarian. " * (1 + i % 4),
                "response_a": "Here is a generic weekend plan. " * (3 + i % 20),
                "response_b": "Since you like hiking and quiet places, here is a plan. " * (3 + i % 25),
                "reference_label": ref,
                "reference_labels": [ref, str(rng.integers(1, 6)), str(rng.integers(1, 6))],
                "verdicts": verdicts,
                "disagreements": disagreements,
            }
        )
    return {
        "total": n_items if shown < n_items else shown,
        "shown": shown,
        "sampled": shown < n_items,
        "note": f"{shown} of the disagreement cases, sampled at random with seed 0"
        if shown < n_items
        else "",
        "items": items,
    }


def build_likert_audit(
    n_items: int = 550,
    judges: tuple[str, ...] = ("gpt-4o", "claude-3.5", "rm-skywork"),
    shown: int = 60,
    seed: int = 0,
) -> dict:
    """A simulated personalization study on a 1-5 scale with three judges, slices and cases."""
    rng = np.random.default_rng(seed)
    metrics = [
        metric("win_rate", "human", 0.454),
        metric("tie_rate", "human", 0.288),
        metric("loss_rate", "human", 0.258),
        metric("no_better_rate", "human", 0.546, half=0.045, n=n_items),
        metric("mean_score", "human", 3.18, half=0.09),
        metric("agreement", "human", 0.47, n=n_items),
        metric("cohen_kappa_quadratic", "human", 0.62),
        metric("krippendorff_alpha", "human", 0.61, half=0.05),
        metric("spearman", "human", 0.58),
    ]
    no_better = {"gpt-4o": 0.21, "claude-3.5": 0.38, "rm-skywork": 0.53}
    for k, judge in enumerate(judges):
        nb = no_better.get(judge, 0.3 + 0.02 * k)
        metrics += [
            metric("agreement", judge, 0.31 + 0.03 * k, n=n_items),
            metric("cohen_kappa", judge, 0.12 + 0.05 * k),
            metric("cohen_kappa_linear", judge, 0.18 + 0.05 * k),
            metric("cohen_kappa_quadratic", judge, 0.24 + 0.05 * k),
            metric("krippendorff_alpha", judge, 0.20 + 0.05 * k, half=0.06),
            metric("gwet_ac1", judge, 0.15 + 0.04 * k),
            metric("pearson", judge, 0.22 + 0.05 * k),
            metric("spearman", judge, 0.21 + 0.06 * k),
            metric("kendall_tau_b", judge, 0.17 + 0.05 * k),
            metric("win_rate", judge, 1 - nb - 0.1),
            metric("tie_rate", judge, 0.1),
            metric("loss_rate", judge, nb - 0.1),
            metric("no_better_rate", judge, nb, half=0.038),
            metric("mean_score", judge, 4.02 - 0.3 * k, half=0.08),
            metric("no_better_rate_gap", judge, nb - 0.546, half=0.047, p_value=1e-6, p_adjusted=3e-6),
            metric("win_rate_gap", judge, 0.9 - nb - 0.454, half=0.05, p_value=1e-5, p_adjusted=2e-5),
            metric("mean_score_gap", judge, 4.02 - 0.3 * k - 3.18, half=0.1, p_value=0.002, p_adjusted=0.004),
            metric("position_consistency", judge, 0.81 - 0.05 * k, half=0.03),
            metric("no_better_rate", judge, nb + 0.05, n=200, slice="source=synthetic"),
            metric("no_better_rate_gap", judge, nb - 0.5, n=200, slice="source=synthetic", p_value=0.01),
        ]
    metrics += [
        metric("no_better_rate", "human", 0.55, n=200, slice="source=synthetic"),
        metric("ppi_no_better_rate", "human", 0.541, half=0.03),
    ]
    confusion = []
    for judge in judges:
        counts = rng.integers(0, 40, size=(5, 5)).tolist()
        confusion.append(
            {"judge": judge, "reference": "human", "categories": ["1", "2", "3", "4", "5"], "counts": counts}
        )
    score_pairs = []
    for judge in judges:
        if judge.startswith("rm-"):
            x = rng.integers(1, 6, size=n_items).astype(float)
            y = 0.3 * x + rng.normal(size=n_items)
            score_pairs.append(
                {"judge": judge, "reference": "human", "x": x.tolist(), "y": y.tolist(), "sampled": False}
            )
    return {
        "auditor_version": "0.1.0",
        "schema_version": 1,
        "title": "Simulated personalization study",
        "simulated": True,
        "description": "50 simulated users, 550 conversations, generic vs personalized responses rated 1-5.",
        "task": "likert",
        "scale": {"min": 1, "max": 5, "neutral": 3},
        "categories": ["1", "2", "3", "4", "5"],
        "reference": "human",
        "policy": "b is better when the label is above the neutral 3; no better = at or below 3",
        "n_items": n_items,
        "n_clusters": 50,
        "judges": list(judges),
        "bootstrap": {
            "resamples": 2000,
            "seed": 0,
            "cluster": "user_id",
            "level": 0.95,
            "method": "percentile",
        },
        "exclusions": [{"judge": "gpt-4o", "reason": "unparseable output", "count": 4}],
        "warnings": [
            {
                "code": "identical_responses",
                "message": "3 items have identical response_a and response_b",
                "count": 3,
            }
        ],
        "metrics": metrics,
        "confusion": confusion,
        "score_pairs": score_pairs,
        "cases": _cases(list(judges), n_items, shown, rng, "likert"),
    }


def build_pairwise_audit() -> dict:
    """PandaLM-like: pairwise a / tie / b, three human raters, GPT-3.5 with 25 'garbage' verdicts excluded."""
    metrics = [
        metric("agreement", "human", 0.91, n=999, half=0.01),
        metric("cohen_kappa", "human", 0.864, n=999, half=0.02),
        metric("krippendorff_alpha", "human", 0.864, n=999, half=0.02),
        metric("win_rate", "human", 0.41, n=999),
        metric("tie_rate", "human", 0.17, n=999),
        metric("loss_rate", "human", 0.42, n=999),
        metric("no_better_rate", "human", 0.59, n=999),
        metric("agreement", "gpt-3.5-turbo", 0.716, n=974, half=0.015),
        metric("cohen_kappa", "gpt-3.5-turbo", 0.493, n=974, half=0.03),
        metric("krippendorff_alpha", "gpt-3.5-turbo", 0.49, n=974, half=0.03),
        metric("no_better_rate", "gpt-3.5-turbo", 0.61, n=974),
        metric("no_better_rate_gap", "gpt-3.5-turbo", 0.02, n=974, half=0.03, p_value=0.21, p_adjusted=0.21),
        metric("agreement", "pandalm-7b", 0.688, n=999, half=0.015),
        metric("cohen_kappa", "pandalm-7b", 0.46, n=999, half=0.03),
        metric("no_better_rate", "pandalm-7b", 0.52, n=999),
        metric(
            "no_better_rate_gap", "pandalm-7b", -0.07, n=999, half=0.03, p_value=0.0004, p_adjusted=0.0008
        ),
    ]
    return {
        "auditor_version": "0.1.0",
        "schema_version": 1,
        "title": "PandaLM test set",
        "simulated": False,
        "description": "999 instruction pairs, 3 human annotators.",
        "task": "pairwise",
        "scale": None,
        "categories": ["a", "tie", "b"],
        "reference": "human",
        "policy": "b is better when the label is b; no better = tie or a",
        "n_items": 999,
        "n_clusters": 999,
        "judges": ["gpt-3.5-turbo", "pandalm-7b"],
        "bootstrap": {
            "resamples": 2000,
            "seed": 0,
            "cluster": "item_id",
            "level": 0.95,
            "method": "percentile",
        },
        "exclusions": [{"judge": "gpt-3.5-turbo", "reason": "unusable label 'garbage'", "count": 25}],
        "warnings": [],
        "metrics": metrics,
        "confusion": [
            {
                "judge": "gpt-3.5-turbo",
                "reference": "human",
                "categories": ["a", "tie", "b"],
                "counts": [[300, 40, 60], [50, 60, 60], [40, 30, 334]],
            },
        ],
        "score_pairs": [],
        "cases": {"total": 0, "shown": 0, "sampled": False, "note": "", "items": []},
    }


def xss_audit() -> dict:
    """Every data string carries a payload that must come out as visible text and never run."""
    audit = build_likert_audit(shown=6)
    evil_judge = "<script>window.__pwned=4</script>evil|judge"
    audit["title"] = "Audit " + XSS_SCRIPT
    audit["description"] = XSS_IMG
    audit["judges"].append(evil_judge)
    audit["metrics"].append(metric("no_better_rate", evil_judge, 0.2))
    audit["metrics"].append(metric("cohen_kappa_quadratic", evil_judge, 0.2))
    audit["exclusions"].append({"judge": evil_judge, "reason": XSS_LINK, "count": 1})
    audit["warnings"].append({"code": "<b>x</b>", "message": XSS_PAYLOAD, "count": 1})
    audit["policy"] = "policy " + XSS_IMG
    audit["confusion"].append(
        {
            "judge": evil_judge,
            "reference": "human",
            "categories": ["1", "2", "3", "4", "5"],
            "counts": [[1] * 5] * 5,
        }
    )
    case = audit["cases"]["items"][0]
    case.update(
        item_id='item-<img src=x onerror="window.__pwned=5">',
        user_id='user"><script>window.__pwned=6</script>',
        prompt="prompt " + XSS_PAYLOAD,
        profile=XSS_LINK,
        response_a="short " + XSS_SCRIPT,
        response_b=XSS_PAYLOAD + " " + "long text " * 100,
    )
    case["verdicts"].append(
        {
            "judge": evil_judge,
            "rater": XSS_IMG,
            "label": XSS_SCRIPT,
            "order": "ab",
            "score": None,
            "raw": "raw " + XSS_PAYLOAD,
        }
    )
    case["disagreements"].append(
        {"judge": evil_judge, "type": "judge_better_reference_no_better", "judge_label": XSS_SCRIPT}
    )
    return audit


def build_big_audit(n_items: int = 100_000, shown: int = 500, items_supplied: int | None = None) -> dict:
    """A 100,000-item audit: the core shows ``shown`` sampled cases (or ``items_supplied`` if it failed to)."""
    audit = build_likert_audit(
        n_items=n_items,
        judges=("gpt-4o", "claude-3.5", "llama-3-70b", "rm-skywork"),
        shown=items_supplied or shown,
        seed=1,
    )
    audit["n_clusters"] = 5_000
    audit["cases"]["total"] = n_items
    audit["cases"]["sampled"] = True
    audit["cases"]["note"] = f"{shown} of {n_items:,} disagreement cases, sampled at random (seed 0)"
    return audit


def build_extensions_audit() -> dict:
    """A likert audit with every dedicated section: profile views and personas of gpt-4o (variant judges), a
    judge seen in both orders, PPI++ estimates, the alternative annotator test and a jury, plus a source slice."""
    audit = build_likert_audit(judges=("gpt-4o", "claude-3.5"), shown=4)
    rows = audit["metrics"]
    views = {"full@start": (0.31, 336.0), "outputs@start": (0.41, 250.0), "none@start": (0.12, 237.0)}
    for view, (kappa, tokens) in views.items():
        variant = f"gpt-4o|profile_view={view}"
        audit["judges"].append(variant)
        for judge, slice_ in ((variant, None), ("gpt-4o", f"profile_view={view}")):
            rows.append(metric("cohen_kappa_quadratic", judge, kappa, half=0.07, slice=slice_))
            rows.append(metric("spearman", judge, kappa + 0.02, half=0.07, slice=slice_))
            rows.append(metric("no_better_rate", judge, 0.40 + kappa / 10, slice=slice_))
        rows.append(
            metric(
                "mean_prompt_tokens",
                "gpt-4o",
                tokens,
                half=3.0,
                reference="gpt-4o",
                slice=f"profile_view={view}",
            )
        )
    for variant, flip, shift in (("removed", 0.29, -0.21), ("swapped", 0.19, -0.08)):
        audit["judges"].append(f"gpt-4o|persona={variant}")
        rows.append(
            metric("persona_flip_rate", "gpt-4o", flip, reference="gpt-4o", slice=f"persona={variant}")
        )
        rows.append(
            metric(
                "persona_shift",
                "gpt-4o",
                shift,
                reference="gpt-4o",
                slice=f"persona={variant}",
                p_value=0.004,
            )
        )
    rows += [
        metric("agreement_original_order", "claude-3.5", 0.44),
        metric("agreement_swapped_order", "claude-3.5", 0.38),
        metric("agreement_both_orders", "claude-3.5", 0.30),
        metric("position_consistency", "claude-3.5", 0.52, reference="claude-3.5"),
        metric("first_position_rate", "claude-3.5", 0.71, reference="claude-3.5"),
        metric("ppi_no_better_rate", "gpt-4o", 0.551, half=0.03),
        metric("ppi_mean_score", "gpt-4o", 3.2, half=0.06),
        metric("alt_test_winning_rate", "gpt-4o", 0.67, half=0.0),
        metric("alt_test_pass", "gpt-4o", 1.0, half=0.0),
        metric("alt_test_advantage_probability", "gpt-4o", 0.58, half=0.0),
        metric("jury_effective_judges", "jury", 1.64, half=0.2),
        metric("no_better_rate", "jury:majority", 0.47),
        metric("cohen_kappa_quadratic", "jury:majority", 0.33, half=0.07),
        metric("length_preference", "gpt-4o", 0.35, half=0.2, p_value=0.03),
        metric("no_better_rate", "gpt-4o", 0.36, slice="source=real"),
        metric("no_better_rate", "gpt-4o", 0.31, slice="source=synthetic"),
    ]
    audit["judges"].append("jury:majority")
    audit["probes"] = {"position": {"judges": ["claude-3.5"], "note": "decisive verdicts only"}}
    ppi_metric = {"lam": 0.62, "ci_width_ppi": 0.06, "ci_width_human_only": 0.09, "extra_labels": 123.4}
    audit["ppi"] = {
        "judges": [
            {
                "judge": "gpt-4o",
                "reference": "human",
                "n_labelled": 165,
                "n_unlabelled": 550,
                "metrics": [
                    {"metric": "ppi_no_better_rate", "value": 0.551, "human_only_value": 0.56, **ppi_metric},
                    {"metric": "ppi_mean_score", "value": 3.2, "human_only_value": 3.18, **ppi_metric},
                ],
            },
            {"judge": "claude-3.5", "reference": "human", "metrics": []},
        ]
    }
    raters = [{"rater": f"rater{i}", "n": 550, "judge_wins": i != 3} for i in (1, 2, 3)]
    audit["alt_test"] = {
        "epsilon": 0.2,
        "level": 0.05,
        "alignment": "neg_rmse",
        "judges": [
            {
                "judge": "gpt-4o",
                "winning_rate": 0.67,
                "passed": True,
                "advantage_probability": 0.58,
                "raters": raters,
            }
        ],
    }
    audit["jury"] = {
        "members": ["gpt-4o", "claude-3.5"],
        "n_items": 550,
        "error_correlation": [[1.0, 0.49], [0.49, 1.0]],
        "effective_judges": 1.64,
    }
    return audit
