"""One test per data-integrity warning code, on small hand-built tables.

Each table is clean except for the one problem under test, so the test also proves that a clean table does not
raise that warning.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import auditor
from auditor.audit import run_steps
from auditor.config import AuditConfig
from auditor.data import load
from auditor.engine.context import AuditContext
from auditor.engine.integrity import (
    MIN_ITEMS_CONSTANT,
    duplicate_labels,
    integrity_warnings,
    mismatched_items,
    rater_warnings,
)

N = 12
TOPICS = [
    "volcano eruption forecasting",
    "sourdough bread fermentation",
    "marathon training schedule",
    "quantum computing qubits",
    "medieval castle architecture",
    "coral reef bleaching",
    "jazz saxophone improvisation",
    "orbital rocket launches",
    "beekeeping honey harvest",
    "glacier melting measurements",
    "chess opening theory",
    "origami paper cranes",
]


def clean_items(n: int = N) -> list[dict]:
    return [
        {
            "item_id": f"i{i}",
            "user_id": f"u{i % 4}",
            "prompt": f"Explain {TOPICS[i]} to a beginner please.",
            "response_a": f"A generic overview of {TOPICS[i]} for anyone.",
            "response_b": f"A tailored explanation of {TOPICS[i]} for you.",
        }
        for i in range(n)
    ]


def clean_labels(n: int = N) -> list[dict]:
    rows = []
    for i in range(n):
        for rater, label in (("h1", "ab"[i % 2]), ("h2", ["a", "b", "tie"][i % 3]), ("h3", "ba"[i % 2])):
            rows.append({"item_id": f"i{i}", "judge": "human", "rater": rater, "label": label})
        rows.append({"item_id": f"i{i}", "judge": "llm", "rater": "0", "label": ["b", "a", "tie"][i % 3]})
    return rows


def warnings_for(items: list[dict], labels: list[dict], **config) -> dict[str, dict]:
    cfg = AuditConfig(**{"task": "pairwise", "resamples": 0, **config})
    ctx = AuditContext(load(pd.DataFrame(labels), pd.DataFrame(items), cfg))
    run_steps(ctx)
    found = integrity_warnings(ctx.t, ctx.sides, ctx.ref, ctx.cfg)
    for w in found:
        assert set(w) == {"code", "message", "count"} and w["count"] > 0 and isinstance(w["count"], int)
    codes = [
        w["code"] for w in found if w["code"] not in ("constant_judge", "mismatch_ties")
    ]  # these: per judge
    assert len(codes) == len(set(codes)), f"one warning per code: {codes}"
    return {w["code"]: w for w in found}


def test_clean_table_has_no_warnings():
    assert warnings_for(clean_items(), clean_labels()) == {}


def test_duplicate_items():
    items = clean_items()
    items[5].update({k: items[2][k] for k in ("user_id", "prompt", "response_a", "response_b")})
    w = warnings_for(items, clean_labels())
    assert w["duplicate_items"]["count"] == 1 and "'i5'" in w["duplicate_items"]["message"]


def test_identical_response_pair():
    items = clean_items()
    items[3]["response_b"] = items[3]["response_a"] + "  "  # surrounding space does not make it different
    w = warnings_for(items, clean_labels())
    assert w["identical_responses"]["count"] == 1 and "'i3'" in w["identical_responses"]["message"]


def test_same_response_under_different_prompts_is_a_shifted_rows_warning():
    items = clean_items()
    for i in range(
        N - 1, 6, -1
    ):  # response_b shifted down one row from i7 on: i6's text now also sits under i7
        items[i]["response_b"] = items[i - 1]["response_b"]
    w = warnings_for(items, clean_labels())
    assert w["shifted_responses"]["count"] == 2
    assert (
        "'i6', 'i7'" in w["shifted_responses"]["message"] and "shifted" in w["shifted_responses"]["message"]
    )
    assert "shifted" in w["shifted_responses"]["message"]


def test_short_stock_answers_are_not_called_shifted():
    items = clean_items()
    for item in items[:6]:
        item["response_a"] = "I can't help."
    assert "shifted_responses" not in warnings_for(items, clean_labels())


def test_duplicate_label_rows():
    labels = clean_labels()
    labels.append(dict(labels[0]))
    w = warnings_for(clean_items(), labels)
    assert w["duplicate_labels"]["count"] == 1


def test_constant_rater():
    labels = [dict(r, label="b") if r["rater"] == "h3" else r for r in clean_labels()]
    w = warnings_for(clean_items(), labels)
    assert w["constant_rater"]["count"] == 1 and "'h3' always 'b'" in w["constant_rater"]["message"]


@pytest.mark.parametrize("first_rater", ["h1", 1], ids=["codes", "mixed_kinds_text_path"])
def test_constant_rater_on_scores_shows_a_plain_number(first_rater):
    # both ways the check runs (the loader's key codes; a rater column of mixed kinds, read a value at a time)
    labels = []
    for i in range(N):
        for rater, score in ((first_rater, 1 + i % 5), ("h2", 1 + (i * 3) % 5), ("h3", 2.0)):
            labels.append({"item_id": f"i{i}", "judge": "human", "rater": rater, "score": score})
        labels.append({"item_id": f"i{i}", "judge": "llm", "rater": "0", "score": 1 + (i * 2) % 5})
    message = warnings_for(clean_items(), labels, task="score")["constant_rater"]["message"]
    assert "'h3' always 2.0" in message and "np." not in message, message


def test_rater_who_labels_one_item():
    labels = clean_labels()
    labels.append({"item_id": "i4", "judge": "human", "rater": "h9", "label": "a"})
    w = warnings_for(clean_items(), labels)
    assert w["single_item_raters"]["count"] == 1 and "'h9'" in w["single_item_raters"]["message"]


def test_items_with_fewer_raters_than_usual():
    labels = [
        r
        for r in clean_labels()
        if not (r["judge"] == "human" and r["rater"] == "h3" and r["item_id"] in ("i1", "i2"))
    ]
    w = warnings_for(clean_items(), labels)
    assert w["fewer_raters"]["count"] == 2 and "usual 3" in w["fewer_raters"]["message"]


def test_judge_whose_verdicts_are_all_one_label():
    labels = [dict(r, label="b") if r["judge"] == "llm" else r for r in clean_labels()]
    w = warnings_for(clean_items(), labels)
    assert w["constant_judge"]["count"] == N and "'llm'" in w["constant_judge"]["message"]


def test_constant_judge_needs_enough_items():
    n = MIN_ITEMS_CONSTANT - 1
    labels = [dict(r, label="b") if r["judge"] == "llm" else r for r in clean_labels(n)]
    assert "constant_judge" not in warnings_for(clean_items(n), labels)


def test_mismatched_items_detects_responses_about_something_else():
    items = clean_items()
    for i in range(6):  # responses rotated by 6 topics: none shares a content word with its prompt
        items[i]["response_a"] = f"A generic overview of {TOPICS[i + 6]} for anyone."
        items[i]["response_b"] = f"A tailored explanation of {TOPICS[i + 6]} for you."
    assert mismatched_items(pd.DataFrame(items)).tolist() == [True] * 6 + [False] * 6


def test_high_tie_rate_on_items_whose_responses_do_not_match_their_prompt():
    items = clean_items()
    for i in range(6):
        items[i]["response_a"] = f"Some words on {TOPICS[(i + 6) % N]} today."
        items[i]["response_b"] = f"Other notes about {TOPICS[(i + 7) % N]} now."
    labels = [
        dict(r, label="tie")
        if r["judge"] == "llm" and int(r["item_id"][1:]) < 6
        else dict(r, label="b")
        if r["judge"] == "llm"
        else r
        for r in clean_labels()
    ]
    w = warnings_for(items, labels)
    assert w["mismatch_ties"]["count"] == 6 and "'llm'" in w["mismatch_ties"]["message"]
    assert "100%" in w["mismatch_ties"]["message"] and "0% elsewhere" in w["mismatch_ties"]["message"]


def test_labels_from_the_reference_only():
    labels = [r for r in clean_labels() if r["judge"] == "human"]
    w = warnings_for(clean_items(), labels)
    assert w["no_judges"]["count"] == 1 and "'human'" in w["no_judges"]["message"]


def test_missing_cluster_column():
    items = [{k: v for k, v in item.items() if k != "user_id"} for item in clean_items()]
    w = warnings_for(items, clean_labels())
    assert w["unclustered"]["count"] == N


def test_pairwise_item_with_identical_responses_is_a_warning_not_an_error():
    items = clean_items()
    items[0]["response_b"] = items[0]["response_a"]
    result = auditor.audit(
        pd.DataFrame(clean_labels()), items=pd.DataFrame(items), task="pairwise", resamples=0
    )
    assert any(w["code"] == "identical_responses" for w in result.warnings)


def test_audit_reports_every_integrity_warning_code():
    items = clean_items()
    items[5].update(
        {k: items[2][k] for k in ("user_id", "prompt", "response_a", "response_b")}
    )  # duplicate_items
    items[3]["response_b"] = items[3]["response_a"]  # identical_responses
    items[8]["response_a"] = items[7]["response_a"]  # shifted_responses
    labels = [dict(r, label="b") if r["rater"] == "h3" or r["judge"] == "llm" else r for r in clean_labels()]
    labels.append({"item_id": "i4", "judge": "human", "rater": "h9", "label": "a"})  # single_item_raters
    labels.append(dict(labels[0]))  # duplicate_labels
    result = auditor.audit(pd.DataFrame(labels), items=pd.DataFrame(items), task="pairwise", resamples=0)
    codes = {w["code"] for w in result.warnings}
    assert {
        "duplicate_items",
        "identical_responses",
        "constant_rater",
        "single_item_raters",
        "duplicate_labels",
        "constant_judge",
        "shifted_responses",
    } <= codes
    assert len([w for w in result.warnings if w["code"] == "identical_responses"]) == 1


def test_same_content_for_another_user_is_not_a_duplicate_item():
    items = clean_items()
    items[5].update({k: items[2][k] for k in ("prompt", "response_a", "response_b")})  # u1 vs u2
    assert "duplicate_items" not in warnings_for(items, clean_labels())


def test_items_with_a_prompt_but_no_responses_are_not_compared():
    items = [
        {"item_id": f"i{i}", "user_id": "u0", "prompt": "Same opening turn of one conversation."}
        for i in range(N)
    ]
    found = warnings_for(items, clean_labels())
    assert "duplicate_items" not in found and "shifted_responses" not in found


def test_missing_texts_are_tolerated():
    items = clean_items()
    items[0]["prompt"] = None
    items[1]["response_a"] = float("nan")
    items[2]["response_b"] = ""
    assert warnings_for(items, clean_labels()) == {}


def test_one_constant_judge_warning_per_judge_including_the_reference():
    labels = [dict(r, label="a") if r["judge"] == "human" else dict(r, label="b") for r in clean_labels()]
    labels += [dict(r, judge="llm2") for r in labels if r["judge"] == "llm"]
    found = [w for w in integrity_warnings(*_context(clean_items(), labels)) if w["code"] == "constant_judge"]
    assert sorted(w["message"].split("'")[1] for w in found) == ["human", "llm", "llm2"]


def _context(items, labels):
    ctx = AuditContext(
        load(pd.DataFrame(labels), pd.DataFrame(items), AuditConfig(task="pairwise", resamples=0))
    )
    run_steps(ctx)
    return ctx.t, ctx.sides, ctx.ref, ctx.cfg


# -- the label checks against their first implementation: group-bys on the text columns ------------------------
def _reference_duplicate_labels(raw_labels: pd.DataFrame) -> list[dict]:
    """duplicate_labels as first written: pandas' ``duplicated`` on the text columns of the rated rows."""
    from auditor.engine import integrity as m

    keys = [c for c in ("item_id", "judge", "rater", "order") if c in raw_labels.columns]
    with_rater = raw_labels[raw_labels["rater"].notna()]
    repeated = with_rater.duplicated(subset=keys, keep="first")
    count = int(repeated.sum())
    ids = with_rater.loc[repeated, "item_id"].tolist()
    if not count:
        return []
    shown = m._examples(dict.fromkeys(ids))
    message = (
        f"{count} label rows repeat an (item, judge, rater, order) already seen (items {shown}); each counts as a "
        "separate verdict"
    )
    return [{"code": "duplicate_labels", "message": message, "count": count}]


def _reference_rater_warnings(labels: pd.DataFrame, reference: str, categories, task: str) -> list[dict]:
    """rater_warnings as first written: group-bys on the rater and item texts of the reference's rows."""
    from auditor.engine import integrity as m

    ref = labels[labels["judge"] == reference]
    out: list[dict] = []
    if ref.empty:
        return out
    if ref["rater"].notna().any():
        rated = ref[ref["rater"].notna()]
        per_rater = rated.groupby("rater")["item_id"].nunique()
        lonely = per_rater[per_rater == 1]
        if len(lonely):
            message = f"{len(lonely)} {reference} raters labelled only one item ({m._examples(lonely.index)})"
            out.append({"code": "single_item_raters", "message": message, "count": len(lonely)})
        column = "value" if task == "score" else "code"
        usable = rated[rated[column].notna() & (rated[column] >= 0 if column == "code" else True)]
        spread = usable.groupby("rater")[column].agg(["nunique", "first"])
        count = usable.groupby("rater")["item_id"].nunique()
        constant = spread[(spread["nunique"] == 1) & (count.reindex(spread.index) >= MIN_ITEMS_CONSTANT)]
        if len(constant):
            shown = ", ".join(
                f"{rater!r} always {m._constant_label(row['first'], task, categories)}"
                for rater, row in constant.head(m.EXAMPLES).iterrows()
            )
            message = (
                f"{len(constant)} {reference} raters give the same label on every item they rated ({shown}): "
                "check for a default value or a broken annotation form"
            )
            out.append({"code": "constant_rater", "message": message, "count": len(constant)})
    per_item = ref.groupby("item_id").size()
    if len(per_item) and per_item.max() > 1:
        modal = int(per_item.mode().max())
        fewer = per_item[per_item < modal]
        if len(fewer):
            message = (
                f"{len(fewer)} items have fewer {reference} labels than the usual {modal} "
                f"({m._examples(fewer.index)})"
            )
            out.append({"code": "fewer_raters", "message": message, "count": len(fewer)})
    return out


def _messy_labels(task: str, seed: int) -> pd.DataFrame:
    """Label rows with every key problem at once: repeats, ids that differ only by surrounding blanks, missing
    raters and orders, integer rater ids and no order column (seed 1), excluded rows, constant and one-item raters,
    items with fewer labels."""
    rng = np.random.default_rng(seed)
    n = 400
    items = rng.integers(0, 40, n)
    raters = rng.integers(0, 12, n)
    frame = pd.DataFrame(
        {
            "item_id": [f"i{i}" if k % 3 else f" i{i} " for k, i in enumerate(items)],
            "judge": rng.choice(["human", "human", " human", "llm"], n),
            "rater": [None if r == 0 else (f"r{r}" if seed == 0 else int(r)) for r in raters],
            "order": rng.choice(["ab", "ba", None], n),
        }
    )
    seven = "r77" if seed == 0 else 77  # a constant rater (as " r77 " too: the same rater)
    frame.loc[frame.index[::5], "rater"] = seven
    if seed == 0:
        frame.loc[frame.index[::10], "rater"] = " r77 "
    if task == "score":
        frame["score"] = rng.integers(1, 4, n).astype(float)
        frame.loc[frame.index[::5], "score"] = 2.0
        frame.loc[frame.index[::17], "score"] = np.nan  # excluded rows
        frame["label"] = None
    else:
        frame["label"] = rng.choice(["a", "b", "tie", ""], n, p=[0.4, 0.4, 0.15, 0.05])
        frame.loc[frame.index[::5], "label"] = "tie"
    if seed == 1:
        frame = frame.drop(columns="order")
    frame = pd.concat([frame, frame.iloc[:30]], ignore_index=True)  # repeated rows
    lonely = {"item_id": "i3", "judge": "human", "rater": "lonely" if seed == 0 else 99}
    frame.loc[len(frame)] = {**lonely, **({"score": 1.0} if task == "score" else {"label": "a"})}
    return frame


def _mixed_raters(frame: pd.DataFrame) -> pd.DataFrame:
    """Rater ids that mix text, integers and booleans: the loader cannot code that column by value (it has no
    codes for it), so the label checks code its texts themselves."""
    frame = frame.assign(rater=frame["rater"].astype(object))
    frame.loc[frame.index[1::7], "rater"] = 5
    frame.loc[frame.index[2::11], "rater"] = True
    return frame


@pytest.mark.parametrize("task", ["pairwise", "score"])
@pytest.mark.parametrize("seed, mixed", [(0, False), (1, False), (0, True)])
def test_label_checks_on_the_codes_match_group_bys_on_the_text_columns(
    task: str, seed: int, mixed: bool
) -> None:
    """duplicate_labels and rater_warnings, on the loader's integer codes and on codes made from the columns (a
    column the loader could not code, a table without the loader's codes), give exactly the warnings of group-bys
    on the text columns, on data with every kind of key problem."""
    frame = _messy_labels(task, seed)
    table = load(_mixed_raters(frame) if mixed else frame, config=AuditConfig(task=task, resamples=0))
    coded = {"item_id", "judge", "order"} | (set() if mixed else {"rater"})
    assert set(table.key_codes()) == coded and set(table.key_codes("labels")) == coded
    expected = _reference_duplicate_labels(table.raw_labels)
    assert expected and duplicate_labels(table.raw_labels, table.key_codes()) == expected
    assert duplicate_labels(table.raw_labels) == expected
    categories = table.categories
    expected = _reference_rater_warnings(table.labels, "human", categories, task)
    assert {w["code"] for w in expected} >= {"single_item_raters", "constant_rater", "fewer_raters"}
    assert rater_warnings(table.labels, "human", categories, task, table.key_codes("labels")) == expected
    assert rater_warnings(table.labels, "human", categories, task) == expected
    every = _mixed_raters(frame) if mixed else frame
    every["rater"] = every["rater"].where(every["rater"].notna(), "r1" if seed == 0 else 1)  # all rows rated
    table = load(every, config=AuditConfig(task=task, resamples=0))
    expected = _reference_duplicate_labels(table.raw_labels)
    assert expected and duplicate_labels(table.raw_labels, table.key_codes()) == expected
    assert duplicate_labels(table.raw_labels) == expected


def test_replaced_label_frames_have_no_codes() -> None:
    table = load(_messy_labels("pairwise", 0), config=AuditConfig(task="pairwise", resamples=0))
    assert table.key_codes("labels")
    table.labels = table.labels.iloc[:10]
    assert table.key_codes("labels") == {} and table.key_codes()
    table.raw_labels = table.raw_labels.copy()
    assert table.key_codes() == {}


@pytest.mark.parametrize("repeats", [False, True])
def test_repeated_rows_by_bitmap_or_hash_equal_pandas_duplicated(repeats: bool, monkeypatch) -> None:
    """``_repeated`` marks exactly the rows pandas' ``duplicated(keep="first")`` marks on the code columns, with
    the bitmap of the combinations and without it (its size limit set to nothing)."""
    from auditor.engine import integrity

    rng = np.random.default_rng(3)
    sizes = [500, 4, 6, 2]
    rows = [(i, j, r, o) for i in range(500) for j in range(4) for r in range(-1, 6) for o in range(-1, 2)]
    picked = rng.choice(len(rows), 3_000, replace=repeats)
    columns = [np.array([rows[p][c] for p in picked], dtype=np.int64) for c in range(4)]
    expected = pd.DataFrame(dict(enumerate(columns))).duplicated(keep="first").to_numpy()
    assert expected.any() == repeats
    assert np.array_equal(integrity._repeated(columns, sizes), expected)
    monkeypatch.setattr(integrity, "BITMAP_BYTES_PER_ROW", -(2**20))  # no bitmap: hash every row
    assert np.array_equal(integrity._repeated(columns, sizes), expected)


# -- the item checks against their first, row-by-row implementations ------------------------------------------
def _reference_item_warnings(items: pd.DataFrame) -> tuple[list, list, np.ndarray]:
    """duplicate_items, shifted_responses and mismatched_items as first written (a joined text key per row, a
    group-by on the texts, every response's word set): the reference the faster versions must equal."""
    from auditor.engine import integrity as m

    content = [c for c in m.CONTENT_COLUMNS if c in items.columns]
    texts = pd.DataFrame({c: m._text_column(items, c) for c in content})
    filled = texts[m._response_columns(items)].notna().any(axis=1)
    repeated = texts.fillna("\x00").astype(str).agg("\x1f".join, axis=1).duplicated(keep="first") & filled
    ids = items["item_id"][repeated].tolist()
    duplicates = [len(ids), m._examples(ids)] if ids else []
    prompts = m._text_column(items, "prompt")
    pairs = []
    for column in m._response_columns(items):
        text = m._text_column(items, column)
        ok = text.notna() & prompts.notna() & (text.str.len() >= m.MIN_SHARED_TEXT)
        pairs.append(pd.DataFrame({"item_id": items["item_id"][ok], "prompt": prompts[ok], "text": text[ok]}))
    found = pd.concat(pairs, ignore_index=True)
    per_text = found.groupby("text")["prompt"].nunique()
    shared = per_text[per_text > 1].index
    ids = list(dict.fromkeys(found.loc[found["text"].isin(shared), "item_id"].tolist()))
    shifted = [len(shared), len(ids), m._examples(ids)] if len(shared) else []
    words = m._text_column(items, "prompt").map(m._content_words).tolist()
    answers = [m._text_column(items, c).map(m._content_words).tolist() for c in m._response_columns(items)]
    off = np.zeros(len(items), dtype=bool)
    for i, prompt_words in enumerate(words):
        given = [a[i] for a in answers if a[i]]
        off[i] = len(prompt_words) >= 3 and bool(given) and all(not (prompt_words & a) for a in given)
    return duplicates, shifted, off


@pytest.mark.parametrize("seed", range(4))
def test_item_checks_equal_their_row_by_row_reference(seed: int) -> None:
    """Random items from a small vocabulary (so that repeats, shifted texts and mismatches all occur), with
    blanks, missing values, stop words, capitals and non-ASCII letters (Greek final sigma, dotted capital I):
    duplicate_items, shifted_responses and mismatched_items give what the row-by-row versions gave."""
    from auditor.engine import integrity as m

    rng = np.random.default_rng(seed)
    vocabulary = ["Volcano", "lava", "ΟΔΟΣ", "İstanbul", "about", "there", "bread", "yeast", "x9", "résumé"]

    def text(n_words: int) -> str | None:
        pick = rng.random()
        if pick < 0.05:
            return None
        if pick < 0.1:
            return "   "
        return " ".join(rng.choice(vocabulary, rng.integers(1, n_words))) + rng.choice(["", ".", " ", "!"])

    n = 300
    items = pd.DataFrame(
        {
            "item_id": [f"i{i}" for i in range(n)],
            "user_id": [f"u{i % 3}" for i in range(n)],
            "prompt": [text(5) for _ in range(n)],
            "response_a": [text(8) for _ in range(n)],
            "response_b": [text(8) if seed % 2 else float("nan") for _ in range(n)],
        }
    )
    items.iloc[10:15, 1:] = items.iloc[0:5, 1:].to_numpy()  # repeated items under other ids
    items.loc[40:50, "prompt"] = [f"Question number {k} about lava" for k in range(11)]
    items.loc[40:50, "response_a"] = [f"Answer number {k} about yeast" for k in range(11)]
    items.loc[40:49, "response_a"] = items.loc[41:50, "response_a"].to_numpy()  # shifted by one row
    duplicates, shifted, off = _reference_item_warnings(items)
    found = m.duplicate_items(items)
    assert [[w["count"], w["message"]] for w in found] == (
        [[duplicates[0], found[0]["message"]]] if duplicates else []
    )
    if duplicates:
        assert duplicates[1] in found[0]["message"]
    found = m.shifted_responses(items)
    assert bool(found) == bool(shifted)
    if shifted:
        assert found[0]["count"] == shifted[1]
        assert found[0]["message"].startswith(f"{shifted[0]} response texts appear under different prompts")
        assert shifted[2] in found[0]["message"]
    assert np.array_equal(m.mismatched_items(items), off)
    assert duplicates and shifted and off.any() and not off.all()


def test_row_keys_renumbered_before_overflow_stay_equal_exactly_where_rows_are_equal() -> None:
    """Columns whose code ranges multiply past 2**62 (ids of a billion-row table): the combinations seen so far are
    renumbered first, and two rows still get one key exactly when every code is equal (-1 included)."""
    from auditor.engine import integrity

    rng = np.random.default_rng(5)
    sizes = [3_000_000_000, 3_000_000_000, 3]
    columns = [np.asarray(rng.choice([-1, 0, 1, size - 1], 400), dtype=np.int64) for size in sizes]
    key = integrity._row_keys(columns, sizes)
    rows = list(zip(*(c.tolist() for c in columns), strict=True))
    for a in range(0, 400, 7):
        assert np.array_equal(key == key[a], np.array([row == rows[a] for row in rows]))


def test_item_texts_are_cleaned_once_and_only_when_read() -> None:
    from auditor.engine import integrity

    items = pd.DataFrame({"item_id": ["a", "b"], "user_id": [" u1 ", "  "], "prompt": ["p", None]})
    texts = integrity._ItemTexts(items)
    assert list(texts) == ["user_id", "prompt"] and "response_a" not in texts
    assert texts._made == {}
    assert texts["user_id"].tolist() == ["u1", None] and list(texts._made) == ["user_id"]
    assert texts["user_id"] is texts["user_id"]
    assert integrity.duplicate_items(items, texts) == []  # no response column: nothing more cleaned
    assert list(texts._made) == ["user_id"]


def test_rater_checks_on_int32_codes_whose_rater_item_pairs_pass_2_to_the_31() -> None:
    """The loader's codes of Parquet text are int32: with 70,000 raters and 40,000 items a (rater, item) pair's
    number passes 2**31, and the checks on the codes still give the text columns' warnings (the sum is widened)."""
    raters, items = np.array([69_999, 69_999, 69_998, 5]), np.array([39_999, 39_998, 39_999, 0])
    rater_texts = np.array([f"r{k}" for k in range(70_000)], dtype=object)
    item_texts = np.array([f"i{k}" for k in range(40_000)], dtype=object)
    labels = pd.DataFrame(
        {
            "item_id": item_texts[items],
            "judge": "human",
            "rater": rater_texts[raters],
            "code": [0, 2, 1, 0],
            "value": [0.0, 1.0, 0.5, 0.0],
        }
    )
    codes = {
        "item_id": (items.astype(np.int32), item_texts),
        "judge": (np.zeros(4, dtype=np.int32), np.array(["human"], dtype=object)),
        "rater": (raters.astype(np.int32), rater_texts),
    }
    categories = ("a", "tie", "b")
    coded = rater_warnings(labels, "human", categories, "pairwise", codes)
    assert coded == _reference_rater_warnings(labels, "human", categories, "pairwise")
    assert [w["code"] for w in coded] == ["single_item_raters"] and coded[0]["count"] == 2
