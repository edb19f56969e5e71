"""PandaLM human-annotated test set: 999 response pairs, 3 human raters, GPT-3.5 and PandaLM-7B verdicts.

Files (``<root>/pandalm_testset/``, JSON arrays aligned by ``idx``): ``testset-v1.json`` (instruction, input,
response1, response2, annotator1..3), ``gpt-3.5-turbo-testset-v1.json`` (``gpt_result``) and
``pandalm-7b-testset-v1.json`` (``pandalm_result``).

Label mapping (declared in ``Study.aliases``): humans and PandaLM-7B use ``0`` = tie, ``1`` = response1 better,
``2`` = response2 better; GPT-3.5 uses ``'1'`` / ``'2'`` / ``'Tie'``.  response1 is ``response_a``, so ``1 -> a``,
``2 -> b``, ``0 / Tie -> tie``.  GPT-3.5's 25 ``'garbage'`` verdicts keep the label ``garbage``, which the study
declares ``unusable``: the core excludes and counts them (reason ``unusable label 'garbage'``) instead of the
loader dropping them.  There is no user: each item is its own cluster.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from auditor.datasets import Study, labels_frame, require_file

FOLDER = "pandalm_testset"
HUMAN_RATERS = ("annotator1", "annotator2", "annotator3")
ALIASES = {"0": "tie", "1": "a", "2": "b", "Tie": "tie"}
UNUSABLE = ("garbage",)
JUDGE_FILES = {
    "gpt-3.5-turbo": ("gpt-3.5-turbo-testset-v1.json", "gpt_result", "gpt_reason"),
    "pandalm-7b": ("pandalm-7b-testset-v1.json", "pandalm_result", "pandalm_reason"),
}


def _read(path: Path) -> list[dict]:
    with require_file(path).open(encoding="utf-8") as handle:
        return json.load(handle)


def _canonical(raw: object) -> str:
    text = str(raw).strip()
    return ALIASES.get(text, text)


def load(root: str | Path) -> Study:
    """Load the PandaLM test set from ``root / "pandalm_testset"`` as a pairwise study.

    Returns
    -------
    Study
        999 items (``item_id`` = PandaLM ``idx``; ``prompt`` = instruction plus input; ``response_a`` /
        ``response_b`` = response1 / response2; ``motivation_app``, ``cmp_key``, ``instruction``, ``input`` kept),
        labels: ``human`` (raters ``annotator1..3``), ``gpt-3.5-turbo`` and ``pandalm-7b`` (rater ``"0"``), with
        the original value in ``raw`` and the judge's explanation in ``reason``.
    """
    folder = Path(root) / FOLDER
    tests = _read(folder / "testset-v1.json")
    items = pd.DataFrame(
        {
            "item_id": [str(row["idx"]) for row in tests],
            "prompt": [_prompt(row["instruction"], row.get("input", "")) for row in tests],
            "response_a": [row["response1"] for row in tests],
            "response_b": [row["response2"] for row in tests],
            "instruction": [row["instruction"] for row in tests],
            "input": [row.get("input", "") for row in tests],
            "motivation_app": [row["motivation_app"] for row in tests],
            "cmp_key": [row["cmp_key"] for row in tests],
            "model_a": [row["cmp_key"].split("_", 1)[0] for row in tests],
            "model_b": [row["cmp_key"].split("_", 1)[-1] for row in tests],
        }
    )
    rows: list[dict] = []
    for rater in HUMAN_RATERS:
        for row in tests:
            rows.append(_row(row["idx"], "human", rater, row[rater]))
    for judge, (file_name, field, reason_field) in JUDGE_FILES.items():
        verdicts = _read(folder / file_name)
        if [str(v["idx"]) for v in verdicts] != items["item_id"].tolist():
            raise ValueError(f"{folder / file_name}: rows are not aligned with testset-v1.json by idx")
        for verdict in verdicts:
            rows.append(_row(verdict["idx"], judge, "0", verdict[field], reason=verdict.get(reason_field)))
    labels = labels_frame(rows)
    return Study(
        name="pandalm",
        task="pairwise",
        items=items,
        labels=labels,
        scale=None,
        aliases=dict(ALIASES),
        unusable=UNUSABLE,
        simulated=False,
        description=(
            "PandaLM human-annotated test set (pairwise, 3 human raters, GPT-3.5 and PandaLM-7B)\n"
            "999 pairs of 7B-model responses to self-instruct prompts (WeiDong et al., PandaLM, Apache-2.0). "
            "a = response1, b = response2; 0 = tie. GPT-3.5's 'garbage' verdicts are declared unusable. The "
            "authors kept only items with high annotator agreement, so human agreement is inflated by construction."
        ),
    )


def _prompt(instruction: str, extra: str) -> str:
    return f"{instruction}\n\n{extra}" if extra else instruction


def _row(idx: object, judge: str, rater: str, raw: object, reason: str | None = None) -> dict:
    return {
        "item_id": str(idx),
        "judge": judge,
        "rater": rater,
        "label": _canonical(raw),
        "raw": str(raw),
        "reason": reason,
    }
