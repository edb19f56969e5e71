"""The cases behind the gaps (``auditor.engine.cases``): only a verdict in another outcome than the reference's is
a disagreement (Likert: another side of the neutral point), and cases are ranked by how far the verdicts lie apart.
Expected values are worked out by hand in each test."""

from __future__ import annotations

import pandas as pd

from auditor import audit
from auditor.config import config_from_mapping


def _likert(ref: list[int], judges: dict[str, list[int]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One human and the given judges on items i0, i1, ... of a 1-5 scale (neutral 3)."""
    rows = [{"item_id": f"i{i}", "judge": "human", "rater": "r1", "label": r} for i, r in enumerate(ref)]
    for judge, labels in judges.items():
        rows += [{"item_id": f"i{i}", "judge": judge, "label": x} for i, x in enumerate(labels)]
    items = pd.DataFrame({"item_id": [f"i{i}" for i in range(len(ref))], "user_id": "u0"})
    return pd.DataFrame(rows), items


def _run(labels: pd.DataFrame, items: pd.DataFrame, task: str, **options) -> dict:
    return audit(labels, items, task=task, resamples=0, **options).cases


def test_likert_counts_only_verdicts_across_the_neutral_point_ranked_by_distance():
    #            i0 i1 i2 i3 i4 i5
    ref = [5, 3, 1, 2, 4, 3]
    judge = [4, 4, 5, 1, 1, 2]
    # i0: 4 vs 5, both "b better": no disagreement; i3: 1 vs 2, both "a better": none either.
    # i1: 4 vs 3 (b better vs neutral), distance 1, the key kind; i2: 5 vs 1, distance 4, key kind;
    # i4: 1 vs 4 (a better vs b better), distance 3; i5: 2 vs 3 (a better vs neutral), distance 1, other.
    cases = _run(*_likert(ref, {"j": judge}), "likert")
    assert cases["total"] == 4 and cases["shown"] == 4 and not cases["sampled"]
    order = [c["item_id"] for c in cases["items"]]
    assert order == ["i2", "i4", "i1", "i5"]  # distance 4, 3, then 1 and 1 with the key kind (i1) first
    assert [c["distance"] for c in cases["items"]] == [4, 3, 1, 1]
    kinds = {c["item_id"]: c["disagreements"][0]["type"] for c in cases["items"]}
    assert kinds == {
        "i2": "judge_better_reference_no_better",
        "i4": "judge_no_better_reference_better",
        "i1": "judge_better_reference_no_better",
        "i5": "other",
    }
    first = cases["items"][0]
    assert first["judge_labels"] == {"j": "5"} and first["reference_label"] == "1"
    assert first["disagreements"] == [
        {"judge": "j", "type": "judge_better_reference_no_better", "judge_label": "5", "distance": 4}
    ]
    assert "across the neutral point" in cases["note"]


def test_more_disagreeing_judges_rank_first_at_equal_distance_and_max_cases_keeps_the_top():
    ref = [3, 3, 3]
    # i0: one judge at distance 2; i1: two judges at distance 2; i2: one judge at distance 1
    labels, items = _likert(ref, {"j1": [5, 5, 4], "j2": [3, 1, 3]})
    cases = _run(labels, items, "likert")
    assert [c["item_id"] for c in cases["items"]] == ["i1", "i0", "i2"]
    assert [len(c["disagreements"]) for c in cases["items"]] == [2, 1, 1]
    capped = _run(
        labels, items, "likert", config=config_from_mapping({"task": "likert", "report": {"max_cases": 2}})
    )
    assert capped["total"] == 3 and capped["shown"] == 2 and capped["sampled"]
    assert [c["item_id"] for c in capped["items"]] == ["i1", "i0"]
    assert capped["note"].startswith("showing the 2 of 3 items with disagreements that matter most")


def test_pairwise_distance_is_two_for_a_against_b_and_categorical_any_other_category_counts_one():
    rows = [
        {"item_id": "p0", "judge": "human", "label": "a"},
        {"item_id": "p0", "judge": "j", "label": "b"},  # a vs b: 2 steps
        {"item_id": "p1", "judge": "human", "label": "tie"},
        {"item_id": "p1", "judge": "j", "label": "b"},  # tie vs b: 1 step
        {"item_id": "p2", "judge": "human", "label": "b"},
        {"item_id": "p2", "judge": "j", "label": "b"},  # agreement
    ]
    items = pd.DataFrame({"item_id": ["p0", "p1", "p2"], "user_id": ["u0", "u1", "u2"]})
    cases = _run(pd.DataFrame(rows), items, "pairwise")
    assert [(c["item_id"], c["distance"]) for c in cases["items"]] == [("p0", 2), ("p1", 1)]

    rows = [
        {"item_id": "c0", "judge": "human", "label": "x"},
        {"item_id": "c0", "judge": "j", "label": "z"},
        {"item_id": "c1", "judge": "human", "label": "x"},
        {"item_id": "c1", "judge": "j", "label": "y"},
        {"item_id": "c2", "judge": "human", "label": "y"},
        {"item_id": "c2", "judge": "j", "label": "y"},
    ]
    items = pd.DataFrame({"item_id": ["c0", "c1", "c2"], "user_id": "u0"})
    config = config_from_mapping({"task": "categorical", "labels": {"categories": ["x", "y", "z"]}})
    cases = _run(pd.DataFrame(rows), items, "categorical", config=config)
    # unordered categories: x vs z is no farther than x vs y, so item order decides
    assert [(c["item_id"], c["distance"]) for c in cases["items"]] == [("c0", 1), ("c1", 1)]


def test_a_case_carries_its_slice_values():
    labels, items = _likert([3, 3], {"j": [5, 5]})
    items["source"] = ["real", "synthetic"]
    cases = _run(labels, items, "likert")
    assert {c["item_id"]: c["slices"] for c in cases["items"]} == {
        "i0": {"source": "real"},
        "i1": {"source": "synthetic"},
    }


def test_a_case_lists_the_same_verdicts_from_the_loaders_item_codes_as_from_the_item_id_texts():
    """The verdicts of each case, found through the loader's item codes, are those found by comparing the texts
    (a label frame replaced after loading has no codes): on ids written with blanks around them, an excluded
    verdict and an item without labels, every row of the chosen items and no other."""
    import sys

    from auditor.config import AuditConfig
    from auditor.data import load

    audit_module = sys.modules["auditor.audit"]
    labels = pd.DataFrame(
        [
            {"item_id": item if k % 2 else f" {item} ", "judge": judge, "rater": rater, "label": label}
            for k, (item, judge, rater, label) in enumerate(
                [(f"i{i}", "human", f"r{r}", "ab"[(i + r) % 2]) for i in range(12) for r in range(2)]
                + [(f"i{i}", "llm", None, "abt"[i % 3].replace("t", "tie")) for i in range(12)]
                + [("i4", "llm", None, "")]  # an empty verdict: excluded
            )
        ]
    )
    items = pd.DataFrame({"item_id": [f"i{i}" for i in range(13)], "user_id": "u0"})
    table = load(labels, items, AuditConfig(task="pairwise", resamples=0))
    assert table.key_codes()
    coded = audit_module.run_audit(table).cases
    table.raw_labels = table.raw_labels.copy()  # no codes: the text path
    assert not table.key_codes()
    assert audit_module.run_audit(table).cases == coded
    assert coded["total"] == 8 and coded["shown"] == 8
    i4 = next(case for case in coded["items"] if case["item_id"] == "i4")
    assert len(i4["verdicts"]) == 4 and sum(v["excluded"] is not None for v in i4["verdicts"]) == 1
    assert sum(len(case["verdicts"]) for case in coded["items"]) == 8 * 3 + 1


def test_an_outcome_is_the_last_indicator_that_marks_the_item():
    """``_outcome`` takes, per item, the outcome that assigning the indicators in turn would leave: the last one
    that marks it (overlapping and empty indicators included), -1 where none does."""
    import numpy as np

    from auditor.engine.cases import OUTCOMES, _outcome
    from auditor.engine.context import Side

    rng = np.random.default_rng(7)
    side = Side(code=np.zeros(500, dtype=np.int64), value=np.zeros(500), has=np.ones(500, dtype=bool))
    for present in (OUTCOMES, ("win_rate", "loss_rate"), ()):
        indicators = {name: rng.random(500) < 0.4 for name in present}
        expected = np.full(500, -1, dtype=np.int64)
        for k, name in enumerate(OUTCOMES):
            if name in indicators:
                expected[indicators[name]] = k
        got = _outcome(indicators, side)
        assert got.dtype == np.int64 and (got == expected).all()


def test_a_cases_verdicts_show_its_label_rows_raw_values_and_scores_as_text():
    """The verdicts of a score task's cases (labels from the scores) with raw values of every kind: each is the
    label row as the case browser shows it, built here from ``to_dict("records")`` row by row."""
    import sys

    import numpy as np

    from auditor.config import AuditConfig
    from auditor.data import load
    from auditor.engine.cases import RAW_TEXT_LIMIT, _text

    audit_module = sys.modules["auditor.audit"]
    raws = [np.float32(0.1), np.int64(3), pd.NA, {"why": "long"}, "x" * (RAW_TEXT_LIMIT + 5), None]
    rows = []
    for i in range(6):
        rows.append({"item_id": f"i{i}", "judge": "human", "rater": f"r{i % 2}", "score": 0.2 + i % 2 * 0.5})
        rows.append({"item_id": f"i{i}", "judge": "llm", "score": 0.9 - i % 2 * 0.6, "raw": raws[i]})
    rows.append({"item_id": "i0", "judge": "llm", "score": None, "raw": "no score"})  # excluded
    items = pd.DataFrame({"item_id": [f"i{i}" for i in range(6)], "user_id": "u0"})
    config = AuditConfig(task="score", resamples=0, score_neutral=0.5)
    table = load(pd.DataFrame(rows).astype({"raw": object}), items, config)
    cases = audit_module.run_audit(table).cases
    assert cases["total"] == 6
    by_item: dict[str, list[dict]] = {}
    for r in table.raw_labels.to_dict("records"):
        by_item.setdefault(r["item_id"], []).append(r)

    def label(r: dict) -> str | None:
        text = r.get("label_text")
        if text is None and r.get("score") is not None and not pd.isna(r.get("score")):
            return f"{float(r['score']):.3g}"
        return text

    for case in cases["items"]:
        expected = [
            {
                "judge": r["judge"],
                "rater": _text(r.get("rater")),
                "label": label(r),
                "order": _text(r.get("order")),
                "score": None if pd.isna(r.get("score")) else float(r.get("score")),
                "raw": _text(r.get("raw"), RAW_TEXT_LIMIT),
                "excluded": _text(r.get("excluded")),
            }
            for r in by_item[case["item_id"]]
        ]
        assert case["verdicts"] == expected
        assert case["reference_labels"] == [v["label"] for v in expected if v["judge"] == "human"]
    i0 = next(case for case in cases["items"] if case["item_id"] == "i0")
    assert [v["raw"] for v in i0["verdicts"]] == [None, "0.10000000149011612", "no score"]
    assert i0["verdicts"][2]["excluded"] is not None and i0["verdicts"][1]["label"] == "0.9"


def test_max_cases_keeps_the_first_cases_of_the_whole_order():
    """Capped at k, the case list is the first k of the uncapped one, ties in distance, in the number of
    disagreeing judges and in kind included (random Likert verdicts of three judges on 80 items)."""
    import numpy as np

    rng = np.random.default_rng(3)
    ref = rng.integers(1, 6, 80).tolist()
    labels, items = _likert(ref, {f"j{k}": rng.integers(1, 6, 80).tolist() for k in range(3)})
    every = _run(labels, items, "likert")
    assert every["total"] == every["shown"] > 20
    distances = [case["distance"] for case in every["items"]]
    # caps at and just past each step down in distance, and a few within a run of equal distances
    steps = {sum(d >= floor for d in distances) + extra for floor in (2, 3, 4) for extra in (0, 1)}
    for k in sorted({1, 2, 7, 20} | steps - {0}):
        capped = _run(
            labels,
            items,
            "likert",
            config=config_from_mapping({"task": "likert", "report": {"max_cases": k}}),
        )
        assert capped["total"] == every["total"] and capped["items"] == every["items"][:k]
