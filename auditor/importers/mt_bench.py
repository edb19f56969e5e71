"""FastChat MT-Bench pairwise judgments (``data/mt_bench/model_judgment/*_pair.jsonl``) as a pairwise study.

Source: one judgment file (JSON lines) or a folder: every ``*.jsonl`` under it except ``question.jsonl`` and model
answers (``model_answer/``) is read as judgments; a ``question.jsonl`` under the folder (or beside the judgment
file's folder, as in FastChat's ``data/mt_bench/``) supplies the prompts.

Items: one per (``question_id``, model pair, ``turn``), ``item_id`` = ``"<question_id>/<model>/<model>/turn<turn>"``
with the two model names in sorted order: ``a`` is the model whose name sorts first (``model_a`` / ``model_b``
columns say which), whatever order a file lists them in.  ``prompt`` = the question's text of that turn when
``question.jsonl`` is there (``category`` kept), else empty.

LLM judgments (FastChat's ``gen_judgment.py --mode pairwise-*``): each record holds two verdicts, ``g1_winner``
(the judge saw ``model_1`` as Assistant A) and ``g2_winner`` (positions swapped), both already written in
``model_1`` / ``model_2`` / ``tie`` terms.  Each becomes one label row with ``order`` ``ab`` (g1) or ``ba`` (g2),
``judge`` = the judge model (``judge[0]``, e.g. ``gpt-4``; the prompt name ``judge[1]`` goes to ``meta``),
``rater`` ``"0"``, ``label`` = ``a`` / ``b`` / ``tie`` for the model that won in the item's a/b, ``raw`` = the
winner as written and ``reason`` = that order's ``g*_judgment``; ``error`` (the judgment could not be parsed)
keeps its row with ``label`` None and ``exclusion`` ``error``.

Human judgments (FastChat's ``mt_bench_human_judgments`` records: ``model_a``, ``model_b``, ``winner`` in
``model_a`` / ``model_b`` / ``tie`` / ``tie (bothbad)``, ``judge`` = the annotator, e.g. ``expert_0``):
``judge`` ``human``, ``rater`` = the annotator; both kinds of tie are ``tie`` (``raw`` keeps which).  Every other field of a record goes to ``meta``.
"""

from __future__ import annotations

from pathlib import Path

from auditor.datasets import Study
from auditor.importers import Record, build_study, records, source_files

PAIR_FIELDS = (
    "question_id",
    "turn",
    "model_1",
    "model_2",
    "g1_winner",
    "g2_winner",
    "g1_judgment",
    "g2_judgment",
)
HUMAN_FIELDS = ("question_id", "turn", "model_a", "model_b", "winner", "judge")
ORDERS = (("g1", "ab"), ("g2", "ba"))


def load(source: Path) -> Study:
    """Import MT-Bench pairwise judgments (LLM and human) from a file or a folder."""
    questions = _questions(source)
    items: list[dict] = []
    labels: list[dict] = []
    for path in source_files(source, ("*.jsonl",), "MT-Bench judgment files (.jsonl)"):
        if path.name == "question.jsonl" or "model_answer" in path.parts or "reference_answer" in path.parts:
            continue
        for record in records(path):
            if "g1_winner" in record:
                labels.extend(_pair_judgment(record, items, questions))
            elif "winner" in record:
                labels.append(_human_judgment(record, items, questions))
            else:
                raise record.error(
                    "is missing (neither an LLM pair judgment nor a human judgment)", "g1_winner"
                )
    return build_study(
        "mt_bench",
        "pairwise",
        items,
        labels,
        f"MT-Bench pairwise judgments ({source.name})\nImported from FastChat's judgment files: one item per "
        "question, model pair and turn; a = the model whose name sorts first; g1 = order ab, g2 = order ba.",
        source=source,
    )


def _questions(source: Path) -> dict[int, Record]:
    folder = source if source.is_dir() else source.parent
    for candidate in (folder / "question.jsonl", folder.parent / "question.jsonl"):
        if candidate.is_file():
            return {int(record.need("question_id", int)): record for record in records(candidate)}
    return {}


def _item(
    record: Record, first: str, second: str, items: list[dict], questions: dict[int, Record]
) -> tuple[str, bool]:
    """The item's id, and whether the record's first model is the item's ``b`` (names sorted)."""
    question_id = record.need("question_id", int)
    turn = record.need("turn", int)
    model_a, model_b = sorted((first, second))
    item_id = f"{question_id}/{model_a}/{model_b}/turn{turn}"
    item = {
        "item_id": item_id,
        "model_a": model_a,
        "model_b": model_b,
        "question_id": question_id,
        "turn": turn,
    }
    question = questions.get(question_id)
    if question is not None:
        turns = question.get("turns") or []
        if not 1 <= turn <= len(turns):
            raise record.error(f"is {turn}; question {question_id} has {len(turns)} turns", "turn")
        item.update(prompt=turns[turn - 1], category=question.get("category"))
    items.append({**item, "_file": str(record.path)})
    return item_id, first != model_a


def _side(
    winner: str, record: Record, field: str, names: dict[str, str], swapped: bool
) -> tuple[str | None, str | None]:
    """(label, exclusion) of a winner written as ``names``' keys (first model, second model) or tie / error."""
    if winner.startswith("tie"):  # "tie", and the human judgments' "tie (bothbad)"
        return "tie", None
    if winner == "error":
        return None, "error"
    if winner not in names:
        raise record.error(f"is {winner!r}; expected one of {', '.join([*names, 'tie', 'error'])}", field)
    first = names[winner] == "first"
    return ("b" if first == swapped else "a"), None


def _pair_judgment(record: Record, items: list[dict], questions: dict[int, Record]) -> list[dict]:
    first, second = record.need("model_1", str), record.need("model_2", str)
    item_id, swapped = _item(record, first, second, items, questions)
    judge = record.need("judge", (list, str))
    judge_model = str(judge[0] if isinstance(judge, list) and judge else judge)
    rows = []
    for prefix, order in ORDERS:
        field = f"{prefix}_winner"
        winner = str(record.need(field, str))
        label, exclusion = _side(winner, record, field, {"model_1": "first", "model_2": "second"}, swapped)
        other = "g2" if prefix == "g1" else "g1"
        judge_prompt = judge[1] if isinstance(judge, list) and len(judge) > 1 else None
        meta = record.meta((*PAIR_FIELDS, "judge", f"{other}_user_prompt"), judge_prompt=judge_prompt)
        rows.append(
            {
                "item_id": item_id,
                "judge": judge_model,
                "rater": "0",
                "label": label,
                "order": order,
                "raw": winner,
                "exclusion": exclusion,
                "reason": record.get(f"{prefix}_judgment"),
                "meta": meta,
            }
        )
    return rows


def _human_judgment(record: Record, items: list[dict], questions: dict[int, Record]) -> dict:
    first, second = record.need("model_a", str), record.need("model_b", str)
    item_id, swapped = _item(record, first, second, items, questions)
    winner = str(record.need("winner", str))
    label, exclusion = _side(winner, record, "winner", {"model_a": "first", "model_b": "second"}, swapped)
    return {
        "item_id": item_id,
        "judge": "human",
        "rater": str(record.need("judge", (str, int))),
        "label": label,
        "raw": winner,
        "exclusion": exclusion,
        "meta": record.meta(HUMAN_FIELDS),
    }
