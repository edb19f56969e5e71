"""Shared by the importer tests: the real files under ``files/`` and one helper that converts and audits them
through the command line, as a user would."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

FILES = Path(__file__).parent / "files"


@dataclass
class Imported:
    items: pd.DataFrame
    labels: pd.DataFrame
    audit: dict

    def raters(self, judge: str = "human") -> set[str]:
        return set(self.labels.loc[self.labels["judge"] == judge, "rater"])


def _read(path: Path) -> pd.DataFrame:
    """A written JSONL table, missing values as None."""
    frame = pd.read_json(path, lines=True, dtype=False)
    return frame.astype(object).where(frame.notna(), None)


@pytest.fixture
def convert_and_audit(cli, tmp_path):
    """``auditor convert KIND SOURCE --out DIR [convert_args]`` then ``auditor audit DIR [audit_args]`` (no
    bootstrap, JSON only); both must exit 0.  Returns the written items and labels and the audit document."""

    def run(kind: str, source: Path, *audit_args: str, convert_args: tuple[str, ...] = ()) -> Imported:
        data, out = tmp_path / "data", tmp_path / "audit"
        converted = cli("convert", kind, str(source), "--out", str(data), *convert_args)
        assert converted.returncode == 0, converted.stderr
        audited = cli(
            "audit", str(data), "--out", str(out), "--bootstrap", "0", "--format", "json", "-q", *audit_args
        )
        assert audited.returncode == 0, audited.stderr
        return Imported(
            items=_read(data / "items.jsonl"),
            labels=_read(data / "labels.jsonl"),
            audit=json.loads((out / "audit.json").read_text(encoding="utf-8")),
        )

    return run


@pytest.fixture
def convert_fails(cli, tmp_path):
    """``auditor convert KIND SOURCE``, which must exit 2 with one line on stderr; returns that line."""

    def run(kind: str, source: Path) -> str:
        proc = cli("convert", kind, str(source), "--out", str(tmp_path / "never"))
        assert proc.returncode == 2, proc.stderr
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
        assert not (tmp_path / "never").exists()
        return lines[0]

    return run
