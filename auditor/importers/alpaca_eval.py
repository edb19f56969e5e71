"""AlpacaEval annotation files (``results/<model>/<annotator>/annotations.json``) as a pairwise study.

Source: one ``annotations.json`` (a JSON array; JSON lines work too) or a folder, e.g. ``results/<model>/``, whose
``annotations.json`` files under it are read together (each annotator config writes its own).

Items (one per instruction and output pair): ``item_id`` = :func:`~auditor.importers.stable_id` of
``instruction``, ``input``, ``output_1``, ``output_2`` (the same pair gets the same id in every annotator's file);
``prompt`` = ``instruction`` (plus a blank line and ``input`` when there is one, as in AlpacaFarm); ``response_a``
= ``output_1`` (AlpacaEval's reference output), ``response_b`` = ``output_2`` (the evaluated model's);
``model_a`` / ``model_b`` = ``generator_1`` / ``generator_2``; ``dataset`` kept.

Labels (one per record): ``judge`` = ``annotator`` (the evaluator config, e.g. ``alpaca_eval_gpt4_turbo_fn``);
a record without ``annotator`` but with ``annotator_index`` (AlpacaFarm's human cross-annotations) is ``human``
with ``rater`` = ``annotator_index``; LLM annotators get ``rater`` ``"0"``.  ``preference`` (AlpacaEval's
convention, ``alpaca_eval.metrics``): ``1`` = output_1 better -> ``a``; ``2`` = output_2 better -> ``b``; ``1.5``
or ``0`` = draw -> ``tie``; a fractional value of a weighted annotator (strictly between 1 and 2) -> the side it
leans to (``a`` below 1.5, ``b`` above), with ``score`` = ``preference - 1`` (the probability that output_2 is
better) on every row; a missing preference (the annotator failed to parse) keeps its row with ``label`` None and
``exclusion`` ``no preference``.  ``raw`` = the preference as written; every other field (``raw_completion``,
``price_per_example``, ``time_per_example``, ...) goes to ``meta``.
"""

from __future__ import annotations

from pathlib import Path

from auditor.datasets import Study
from auditor.importers import Record, build_study, records, source_files, stable_id

ITEM_FIELDS = ("instruction", "input", "output_1", "output_2", "generator_1", "generator_2", "dataset")
LABEL_FIELDS = ("annotator", "annotator_index", "preference")
DRAWS = (0.0, 1.5)


def load(source: Path) -> Study:
    """Import AlpacaEval annotations from a file or a folder of ``annotations.json`` files."""
    items: list[dict] = []
    labels: list[dict] = []
    for path in source_files(source, ("annotations.json", "annotations.jsonl"), "AlpacaEval annotations"):
        for record in records(path):
            item_id = _item(record, items)
            labels.append(_label(record, item_id))
    return build_study(
        "alpaca_eval",
        "pairwise",
        items,
        labels,
        f"AlpacaEval annotations ({source.name})\nImported from {source.name}: a = output_1 (AlpacaEval's "
        "reference), b = output_2; preference 1 -> a, 2 -> b, 1.5 or 0 -> tie.",
        source=source,
    )


def _item(record: Record, items: list[dict]) -> str:
    instruction = record.need("instruction", str)
    extra = record.get("input") or ""
    output_1 = record.need("output_1", str)
    output_2 = record.need("output_2", str)
    item_id = stable_id(instruction, extra, output_1, output_2)
    item = {
        "item_id": item_id,
        "prompt": f"{instruction}\n\n{extra}" if extra else instruction,
        "response_a": output_1,
        "response_b": output_2,
        "model_a": record.get("generator_1"),
        "model_b": record.get("generator_2"),
        "_file": str(record.path),
    }
    if "dataset" in record:
        item["dataset"] = record["dataset"]
    items.append(item)
    return item_id


def _label(record: Record, item_id: str) -> dict:
    if "annotator" in record:
        judge, rater = str(record.need("annotator")), "0"
    elif "annotator_index" in record:
        judge, rater = "human", str(_integer(record.need("annotator_index", (int, float))))
    else:
        raise record.error("is missing (no annotator_index either)", "annotator")
    row = {
        "item_id": item_id,
        "judge": judge,
        "rater": rater,
        "meta": record.meta(ITEM_FIELDS + LABEL_FIELDS),
    }
    if "preference" not in record:
        return {**row, "exclusion": "no preference"}
    preference = record.need("preference", (int, float))
    if not (preference in DRAWS or 1 <= preference <= 2):
        raise record.error(
            f"is {preference!r}; expected 1, 2, 1.5 or 0 (draw), or a value between 1 and 2", "preference"
        )
    label = "tie" if preference in DRAWS else ("a" if preference < 1.5 else "b")
    score = 0.5 if preference == 0 else float(preference) - 1
    return {**row, "label": label, "score": score, "raw": _integer(preference)}


def _integer(value: float | int) -> int | float:
    """``2.0`` -> ``2`` (pandas reads a column holding one float as floats), other values unchanged."""
    return int(value) if float(value).is_integer() else value
