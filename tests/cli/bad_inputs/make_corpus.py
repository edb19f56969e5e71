"""Write the binary and large files of the bad-input corpus (too big or too odd to commit) into a folder.

``python tests/bad_inputs/make_corpus.py DIR`` writes them; the test suite calls :func:`make_corpus` from a
session fixture into a temporary folder.  The small text files are committed in ``files/``; ``cases.toml`` names
the command and the expected message of every file, committed or generated.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent
FILES = HERE / "files"
TEN_MB = 10 * 1024 * 1024


def _good_labels() -> pd.DataFrame:
    return pd.read_json(FILES / "good_labels.jsonl", lines=True, dtype=False)


def _good_items() -> pd.DataFrame:
    return pd.read_json(FILES / "good_items.jsonl", lines=True, dtype=False)


def _jsonl(frame: pd.DataFrame) -> str:
    return "".join(json.dumps(r) + "\n" for r in frame.to_dict(orient="records"))


def make_corpus(out: Path) -> list[Path]:
    """Write every generated corpus file into ``out``; returns their paths."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    labels, items = _good_labels(), _good_items()
    text = {}
    binary = {}

    # encodings
    csv = "item_id,judge,rater,label\n" + "".join(
        f"{r.item_id},{r.judge},{r.rater},{r.label}\n" for r in labels.itertuples()
    )
    binary["labels_latin1.csv"] = csv.replace("i4,llm", "i4,jürgen").encode("latin-1")
    binary["labels_utf16.csv"] = csv.encode("utf-16")
    binary["labels_bom.csv"] = b"\xef\xbb\xbf" + csv.encode("utf-8")
    binary["labels_bom.jsonl"] = b"\xef\xbb\xbf" + _jsonl(labels).encode("utf-8")
    binary["items_bom.csv"] = b"\xef\xbb\xbf" + items.to_csv(index=False).encode("utf-8")
    binary["config_latin1.toml"] = 'task = "pairwise"\ntitle = "Jürgen\'s audit"\n'.encode("latin-1")
    binary["labels_nul_bytes.jsonl"] = _jsonl(labels).encode("utf-8").replace(b'"llm"', b'"l\x00m"', 1)

    # a 10 MB single line: one valid record whose raw text is 10 MB (fine), and 10 MB of garbage (an error)
    big = labels.copy()
    big["raw"] = None
    big.loc[2, "raw"] = "x" * TEN_MB
    text["labels_10mb_raw_field.jsonl"] = _jsonl(big)
    text["labels_10mb_garbage_line.jsonl"] = _jsonl(labels.iloc[:4]) + "{" + "y" * TEN_MB + "\n"
    big_csv = big.copy()
    big_csv["raw"] = big_csv["raw"].fillna("")
    text["labels_10mb_field.csv"] = big_csv.to_csv(index=False)
    # a very wide header and no data rows (kept to 200,000 columns: the reader's cost grows with the width)
    text["labels_wide_header.csv"] = "item_id,judge,label," + ",".join(f"c{i}" for i in range(200_000)) + "\n"

    # Parquet
    labels.to_parquet(out / "labels_good.parquet", index=False)
    labels.drop(columns=["label"]).to_parquet(out / "labels_missing_label.parquet", index=False)
    nulls = labels.copy()
    nulls.loc[4, "item_id"] = None
    nulls.to_parquet(out / "labels_null_item_id.parquet", index=False)
    likert = labels.copy()
    likert["label"] = [3.0] * len(likert)
    likert.loc[7, "label"] = float("nan")  # NaN in a float label column: an empty label, excluded and counted
    likert.loc[8, "label"] = 9.0
    likert.to_parquet(out / "labels_likert_float_off_scale.parquet", index=False)
    nested = labels.copy()
    nested["label"] = [[v] for v in nested["label"]]
    nested.to_parquet(out / "labels_nested_label.parquet", index=False)
    labels.iloc[:0].to_parquet(out / "labels_zero_rows.parquet", index=False)
    dup = pd.concat([items, items.iloc[[1]]], ignore_index=True)
    dup.to_parquet(out / "items_duplicate_id.parquet", index=False)
    whole = (out / "labels_good.parquet").read_bytes()
    binary["labels_truncated.parquet"] = whole[: len(whole) // 2]
    binary["labels_not_parquet.parquet"] = _jsonl(labels).encode("utf-8")

    for name, content in text.items():
        (out / name).write_text(content, encoding="utf-8")
    for name, content in binary.items():
        (out / name).write_bytes(content)
    return sorted(out.iterdir())


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("bad-inputs-generated")
    for path in make_corpus(target):
        print(path)
