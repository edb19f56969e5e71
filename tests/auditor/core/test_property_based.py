"""Property-based: random tables into the loader and the audit either succeed or raise the project's own error,
and every statistic that comes back lies in its range.

Bounded for speed (60 examples each, at most 100 bootstrap resamples).  Ranges checked: kappa-type coefficients
<= 1; agreement and outcome rates and their interval bounds in [0, 1]; correlations in [-1, 1]; rate gaps in
[-1, 1]; p-values in [0, 1]; ``ci_low <= ci_high``.  A BCa interval need not contain its point estimate, so that
is not checked.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import auditor
from auditor.errors import AuditorError
from auditor.io import read_table

TASKS = ("pairwise", "likert", "binary", "categorical", "score")
VALID = {
    "pairwise": ["a", "b", "tie"],
    "likert": [1, 2, 3, 4, 5, "3", 3.0],
    "binary": [0, 1, True, False, "1"],
    "categorical": ["x", "y", "z"],
    "score": [0.5, -1.0, 2, "0.25"],
}
ODD = [
    None,
    float("nan"),
    "",
    " ",
    "garbage",
    3.5,
    7,
    -1,
    float("inf"),
    True,
    ["a"],
    {"k": 1},
    "B",
    "Tie",
    10**20,
]
KEYS = ["i1", "i2", "i3", "i4", "i5", 1, 2, 2.0, "2", None, float("nan"), True, 3.5]
JUDGES = ["human", "human", "human", "j1", "j2", None, 7, ""]
RATERS = ["r1", "r2", "r3", None, 1]
EPS = 1e-9

KAPPA_LIKE = {
    "cohen_kappa",
    "cohen_kappa_linear",
    "cohen_kappa_quadratic",
    "scott_pi",
    "fleiss_kappa",
    "krippendorff_alpha",
    "gwet_ac1",
}
RATES = {"agreement", "win_rate", "tie_rate", "loss_rate", "no_better_rate"}
CORRELATIONS = {"pearson", "spearman", "kendall_tau_b"}
RATE_GAPS = {f"{r}_gap" for r in ("win_rate", "tie_rate", "loss_rate", "no_better_rate")}

PROPERTY = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@st.composite
def label_tables(draw):
    task = draw(st.sampled_from(TASKS))
    label = st.one_of(st.sampled_from(VALID[task]), st.sampled_from(VALID[task]), st.sampled_from(ODD))
    n = draw(st.integers(1, 40))
    rows = []
    for _ in range(n):
        row = {
            "item_id": draw(st.sampled_from(KEYS)),
            "judge": draw(st.sampled_from(JUDGES)),
            "rater": draw(st.sampled_from(RATERS)),
            "label": draw(label),
        }
        if task == "score" and draw(st.booleans()):
            row["score"] = draw(st.one_of(st.floats(-5, 5), st.none(), st.sampled_from(["x", float("nan")])))
        if draw(st.integers(0, 9)) == 0:
            row["order"] = draw(st.sampled_from(["ab", "ba", None, "xy"]))
        rows.append(row)
    if draw(st.booleans()):  # a combined table: the same user_id on every row of an item (see the corpus for
        users = ["u1", "u2", "u3", None]  # a table that breaks this)
        rows = [{**r, "user_id": users[sum(map(ord, str(r["item_id"]))) % 4]} for r in rows]
    if task == "score" and not any("score" in r for r in rows) and draw(st.booleans()):
        rows = [{**r, "label": draw(st.floats(-3, 3))} for r in rows]
    return task, pd.DataFrame(rows), draw(st.sampled_from([0, 100]))


def check_ranges(result: auditor.AuditResult, task: str) -> None:
    m = result.metrics
    for row in m.itertuples():
        value, lo, hi = (
            float(x) if x is not None else math.nan for x in (row.value, row.ci_low, row.ci_high)
        )
        where = f"{row.metric} {row.judge} vs {row.reference} {row.slice}: value {value}, [{lo}, {hi}]"
        finite = [x for x in (value, lo, hi) if math.isfinite(x)]
        sliced_difference = isinstance(row.slice, str) and " - " in row.slice
        if row.metric in KAPPA_LIKE and not sliced_difference:
            assert all(x <= 1 + EPS for x in finite), where
        if row.metric in RATES and not sliced_difference:
            assert all(-EPS <= x <= 1 + EPS for x in finite), where
        if row.metric in CORRELATIONS and not sliced_difference:
            assert all(-1 - EPS <= x <= 1 + EPS for x in finite), where
        if row.metric in RATE_GAPS:
            assert all(-1 - EPS <= x <= 1 + EPS for x in finite), where
        if math.isfinite(lo) and math.isfinite(hi):
            assert lo <= hi + EPS, where
        for p in (row.p_value, row.p_adjusted):
            if p is not None and not (isinstance(p, float) and math.isnan(p)):
                assert -EPS <= float(p) <= 1 + EPS, where
        if row.n is not None and not (isinstance(row.n, float) and math.isnan(row.n)):
            assert int(row.n) >= 0, where
    for w in result.warnings:
        assert set(w) >= {"code", "message", "count"} and w["count"] >= 0
    ex = result.exclusions
    assert (ex["count"] > 0).all() if len(ex) else True


@PROPERTY
@given(label_tables())
def test_audit_on_random_tables_succeeds_or_raises_auditor_error(drawn):
    task, frame, resamples = drawn
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        try:
            result = auditor.audit(frame, task=task, resamples=resamples, seed=0)
        except AuditorError as exc:
            assert str(exc), "an AuditorError needs a message"
            return
    check_ranges(result, task)
    result.to_json()  # the audit.json document is always serialisable


@PROPERTY
@given(
    st.sampled_from([".jsonl", ".csv", ".tsv", ".json"]),
    st.one_of(
        st.binary(max_size=300),
        st.lists(
            st.sampled_from(
                list('{}[]":,\t;\n ab1.-\\') + ["item_id", "judge", "label", "human", "\ufeff", "\x00", "é"]
            ),
            max_size=60,
        ).map("".join),
    ),
)
def test_reader_on_random_bytes_succeeds_or_raises_auditor_error(tmp_path_factory, suffix, content):
    path = tmp_path_factory.mktemp("random") / f"labels{suffix}"
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_bytes(content)
    try:
        frame = read_table(path)
        auditor.audit(path, task="pairwise", resamples=0)
    except AuditorError:
        return
    assert len(frame) > 0


@pytest.mark.parametrize("task", TASKS)
def test_a_valid_random_table_audits(task):
    """Sanity for the property tests: well-formed random tables of every task kind audit without error."""
    rng = np.random.default_rng(1)
    rows = []
    for i in range(30):
        for judge, raters in (("human", ("r1", "r2", "r3")), ("j1", ("0",))):
            for rater in raters:
                value = VALID[task][int(rng.integers(0, 3))]
                rows.append(
                    {
                        "item_id": f"i{i}",
                        "user_id": f"u{i % 7}",
                        "judge": judge,
                        "rater": rater,
                        "label": value,
                    }
                )
    result = auditor.audit(pd.DataFrame(rows), task=task, resamples=100, seed=0)
    check_ranges(result, task)
    assert len(result.metrics) > 0


@st.composite
def plausible_tables(draw):
    """Mostly valid tables (so that the integrity checks run), with odd texts and some empty labels."""
    task = draw(st.sampled_from(TASKS))
    texts = st.sampled_from(
        [
            "same text under many prompts here",
            "",
            None,
            float("nan"),
            3,
            "x",
            "Explain volcanoes to me please now",
            "Explain glaciers to me please now",
        ]
    )
    n_items = draw(st.integers(1, 12))
    items = [
        {
            "item_id": f"i{i}",
            "prompt": draw(texts),
            "response_a": draw(texts),
            "response_b": draw(texts),
            **({"user_id": draw(st.sampled_from(["u1", "u2", None]))} if draw(st.booleans()) else {}),
        }
        for i in range(n_items)
    ]
    label = st.one_of(st.sampled_from(VALID[task]), st.none())
    rows = []
    for item in items:
        for judge, rater in (("human", "r1"), ("human", "r2"), ("human", "r3"), ("j1", "0"), ("j2", "0")):
            if draw(st.integers(0, 4)):
                rows.append(
                    {"item_id": item["item_id"], "judge": judge, "rater": rater, "label": draw(label)}
                )
    return task, pd.DataFrame(items), pd.DataFrame(rows)


@PROPERTY
@given(plausible_tables())
def test_integrity_warnings_on_random_tables_never_fail(drawn):
    """Whatever the table (any task, missing or odd texts), the integrity checks return well-formed warnings."""
    from auditor.audit import run_steps
    from auditor.config import AuditConfig
    from auditor.data import load
    from auditor.engine.context import AuditContext
    from auditor.engine.integrity import integrity_warnings

    task, items, labels = drawn
    if labels.empty:
        return
    try:
        ctx = AuditContext(load(labels, items, AuditConfig(task=task, resamples=0)))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            run_steps(ctx)
    except AuditorError:
        return
    for w in integrity_warnings(ctx.t, ctx.sides, ctx.ref, ctx.cfg):
        assert set(w) == {"code", "message", "count"} and isinstance(w["count"], int) and w["count"] > 0
