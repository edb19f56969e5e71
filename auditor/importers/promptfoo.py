"""promptfoo eval results (``promptfoo eval -o output.json`` or ``promptfoo export``; ``output.jsonl`` too) as a
binary study: every graded assertion is a judge of each output.

Source: one results file or a folder of them (``*.json``, ``*.jsonl``).  A ``.json`` file holds
``{"results": {"results": [...]}}`` (promptfoo's output format 3 and later) or ``{"results": [...]}``; a
``.jsonl`` file holds one result per line.

Items (one per result, i.e. per test case x prompt x provider): ``item_id`` =
``"test<testIdx>/prompt<promptIdx>/<provider id>"``; ``prompt`` = the rendered prompt (``prompt.raw``);
``response`` = the provider's output (``response.output``, JSON text when it is not a string); ``provider``,
``test_idx``, ``prompt_idx`` and ``vars`` (JSON text) as columns; the result's other fields (``success``,
``score``, ``cost``, ``latencyMs``, ``error``, ``testCase``, ...) go to the item's ``meta``.

Labels: one row per entry of ``gradingResult.componentResults``.  ``judge`` = the assertion's ``metric`` name if
it has one, else its ``type`` (``llm-rubric``, ``factuality``, ``contains``, ``latency``, ...), with ``#<k>``
appended when a test has several assertions of that name (k = 1, 2, ... in their order); a manual rating from
promptfoo's viewer (assertion type ``human``) is judge ``human``.  ``rater`` ``"0"``; ``label`` ``"1"`` for pass,
``"0"`` for fail; ``score`` = the assertion's score; ``reason`` = its reason; the rest (the assertion itself,
``tokensUsed``, a human rating's ``comment``) goes to ``meta``.  The overall ``gradingResult`` (all assertions
combined) is not a judge; its ``pass`` and ``score`` stay in the item's ``meta``.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from auditor.datasets import Study
from auditor.importers import Record, build_study, object_records, read_json, records, source_files

ITEM_FIELDS = ("prompt", "response", "provider", "testIdx", "promptIdx", "vars", "gradingResult")


def load(source: Path) -> Study:
    """Import promptfoo results from a file or a folder of ``.json`` / ``.jsonl`` files."""
    items: list[dict] = []
    labels: list[dict] = []
    for path in source_files(source, ("*.json", "*.jsonl"), "promptfoo results (.json, .jsonl)"):
        for result in _results(path):
            item_id = _item(result, items)
            labels.extend(_labels(result, item_id))
    return build_study(
        "promptfoo",
        "binary",
        items,
        labels,
        f"promptfoo eval results ({source.name})\nImported from promptfoo: each graded assertion is a judge of each "
        "output (1 = pass, 0 = fail); the viewer's manual ratings are the human labels.",
        source=source,
    )


def _results(path: Path) -> list[Record]:
    if path.suffix.lower() == ".jsonl":
        return list(records(path))
    document = read_json(path)
    results = document.get("results") if isinstance(document, dict) else document
    if isinstance(results, dict):
        results = results.get("results")
    return object_records(results, path, "result", "results")


def _item(result: Record, items: list[dict]) -> str:
    provider = result.need("provider", (dict, str))
    provider_id = str(provider.get("id") if isinstance(provider, dict) else provider)
    test_idx = result.need("testIdx", int)
    prompt_idx = result.need("promptIdx", int)
    prompt = result.get("prompt")
    response = result.get("response") or {}
    output = response.get("output") if isinstance(response, dict) else None
    grading = result.get("gradingResult") if isinstance(result.get("gradingResult"), dict) else {}
    item_id = f"test{test_idx}/prompt{prompt_idx}/{provider_id}"
    items.append(
        {
            "item_id": item_id,
            "prompt": prompt.get("raw") if isinstance(prompt, dict) else prompt,
            "response": output if output is None or isinstance(output, str) else json.dumps(output),
            "provider": provider_id,
            "test_idx": test_idx,
            "prompt_idx": prompt_idx,
            "vars": json.dumps(result.get("vars") or {}, ensure_ascii=False, sort_keys=True),
            "meta": result.meta(
                ITEM_FIELDS,
                response={k: v for k, v in response.items() if k != "output"}
                if isinstance(response, dict)
                else None,
                grading_pass=grading.get("pass"),
                grading_score=grading.get("score"),
            ),
            "_file": str(result.path),
        }
    )
    return item_id


def _labels(result: Record, item_id: str) -> list[dict]:
    grading = result.get("gradingResult")
    if grading is None:
        return []
    if not isinstance(grading, dict):
        raise result.error(f"is a {type(grading).__name__}; expected an object", "gradingResult")
    components = grading.get("componentResults") or []
    if not isinstance(components, list) or not all(isinstance(c, dict) for c in components):
        raise result.error("is not a list of objects", "gradingResult.componentResults")
    names = [_name(component) for component in components]
    counts, seen = Counter(names), Counter()
    rows = []
    for component, name in zip(components, names, strict=True):
        seen[name] += 1
        judge = name if counts[name] == 1 or name == "human" else f"{name}#{seen[name]}"
        passed = component.get("pass")
        if not isinstance(passed, bool):
            raise result.error(
                f"has pass {passed!r} for assertion {name!r}; expected true or false", "componentResults"
            )
        score = component.get("score")
        extra = {k: v for k, v in component.items() if k not in ("pass", "score", "reason")}
        rows.append(
            {
                "item_id": item_id,
                "judge": judge,
                "rater": "0",
                "label": "1" if passed else "0",
                "score": score if isinstance(score, int | float) and not isinstance(score, bool) else None,
                "raw": "pass" if passed else "fail",
                "reason": component.get("reason"),
                "meta": json.dumps(extra, ensure_ascii=False, sort_keys=True) if extra else None,
            }
        )
    return rows


def _name(component: dict[str, Any]) -> str:
    assertion = component.get("assertion") if isinstance(component.get("assertion"), dict) else {}
    kind = str(assertion.get("type") or "assertion")
    if kind == "human":
        return "human"
    return str(assertion.get("metric") or kind)
