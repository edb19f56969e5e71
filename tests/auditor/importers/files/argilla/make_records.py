"""How ``records.json`` here was written, with Argilla's own library (argilla 2.8.0, not a project dependency):
``rg.Record`` / ``rg.Response`` / ``rg.Suggestion`` saved by ``JsonIO.to_json``, the writer behind
``Dataset.to_disk``.  Fields are six real AlpacaEval pairs (instruction, Mixtral's output); the labels are
hand-chosen so that the tests can count them.  Run: ``python make_records.py OUT_DIR ANNOTATIONS_JSON``."""

import json
import sys
import uuid
from pathlib import Path

import argilla as rg
from argilla.records._io._json import JsonIO

out = Path(sys.argv[1])
out.mkdir(parents=True, exist_ok=True)
pairs = json.load(open(sys.argv[2]))[:6]
users = [uuid.UUID(int=k) for k in (1, 2, 3)]
# rows: records; columns: annotators 1-3 (None = no response)
quality = [
    ["good", "good", "good"],
    ["good", "bad", "good"],
    ["bad", "bad", None],
    ["good", "good", "bad"],
    ["bad", "bad", "bad"],
    ["good", None, None],
]
helpful = [[5, 4, 5], [4, 2, 4], [1, 2, None], [4, 5, 3], [2, 1, 1], [5, None, None]]
judge = ["good", "bad", "bad", "good", "good", "good"]
records = []
for k, pair in enumerate(pairs):
    responses = []
    for u, (q, h) in enumerate(zip(quality[k], helpful[k], strict=True)):
        if q is not None:
            responses.append(rg.Response("quality", q, user_id=users[u]))
            responses.append(rg.Response("helpfulness", h, user_id=users[u]))
    suggestions = [rg.Suggestion("quality", judge[k], score=0.9 - 0.1 * k, agent="gpt-4o-mini")]
    records.append(
        rg.Record(
            id=f"rec-{k + 1}",
            fields={"prompt": pair["instruction"], "response": pair["output_2"]},
            metadata={"generator": pair["generator_2"], "dataset": pair["dataset"]},
            responses=responses,
            suggestions=suggestions,
        )
    )
JsonIO.to_json(records, out / "records.json")
