"""Bring your own data in one command (issue 17): the new user's stories, each ending in a completed audit.

Every story runs on tiny files: first as the user would try it (where that fails, exit 2 with the fix in the
message; run in this process, which is quicker), then with the fix the message gave, taken from stderr rather than
retyped, as ``python -m auditor`` in a subprocess that completes the audit.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import openpyxl
import pytest

from auditor.cli.root import main
from tests.conftest import run_cli

N_ITEMS = 12
HUMAN = {0: "A", 1: "B", 2: "Tie"}
JUDGE = {0: "Response A", 1: "Response B", 2: "Tie"}
FAST = ("--bootstrap", "0", "--format", "json", "-q")


def human_csv(path: Path, labels: dict[int, str] = HUMAN, sep: str = ",", id_column: str = "item_id") -> Path:
    """Two human raters per item; item i's labels are labels[i % 3] and labels[(i + 1) % 3]."""
    lines = [sep.join((id_column, "judge", "rater", "label"))]
    for i in range(N_ITEMS):
        for r in range(2):
            lines.append(sep.join((f"q{i}", "human", f"r{r}", labels[(i + r) % 3])))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def judged_jsonl(path: Path, labels: dict[int, str] | None = None, judge: str = "smol") -> Path:
    """A labels file in the shape ``auditor judge`` writes (canonical labels unless ``labels`` says otherwise)."""
    labels = labels or {0: "a", 1: "b", 2: "tie"}
    rows = [
        {
            "item_id": f"q{i}",
            "judge": judge,
            "rater": "0",
            "label": labels[i % 3],
            "order": "ab",
            "score": None,
            "raw": '{"verdict": "x"}',
            "exclusion": None,
            "verdict_source": "json",
        }
        for i in range(N_ITEMS)
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture
def refused(capsys: pytest.CaptureFixture[str]):
    """``refused(*args)``: run the command line in this process, check it exits 2 with one line and no traceback
    and writes nothing; returns that line."""

    def run(*args: str, out: Path) -> str:
        capsys.readouterr()
        code = main(list(args))
        err = capsys.readouterr().err
        assert code == 2, err
        assert "Traceback" not in err and len(err.strip().splitlines()) == 1 and not out.exists()
        return " ".join(err.split())  # as one line, whatever the console's width

    return run


def audit_json(out: Path) -> dict:
    return json.loads((out / "audit.json").read_text(encoding="utf-8"))


def fix_flags(stderr: str) -> list[str]:
    """The flags after ``Fix:`` in an error line, split as the shell would."""
    match = re.search(r"Fix: add (.*?), or in audit\.toml", stderr)
    assert match, stderr
    return shlex.split(match.group(1))


def test_story_aliases_human_a_b_tie_and_judge_response_a(tmp_path: Path, refused) -> None:
    """Human labels A / B / Tie, the judge's Response A / Response B: the error names the --labels-map that fixes
    it; with it, one command audits."""
    human = human_csv(tmp_path / "human.csv")
    judged = judged_jsonl(tmp_path / "judged.jsonl", JUDGE, judge="gpt")
    out = tmp_path / "out"
    first = refused("audit", str(human), str(judged), "--task", "pairwise", "--out", str(out), *FAST, out=out)
    assert f"file {human}, row 1, column 'label': has 'A', which is not a pairwise label" in first
    assert "labels off that set: 'A' (8 rows), 'B' (8 rows), 'Tie' (12 rows), 'Response A' (4 rows)" in first
    flags = fix_flags(first)
    assert flags == ["--labels-map", "A=a,B=b,Tie=tie,Response A=a,Response B=b"]
    assert (
        '[labels]: aliases = { "A" = "a", "B" = "b", "Tie" = "tie", "Response A" = "a", "Response B" = "b" }'
        in first
    )
    done = run_cli("audit", str(human), str(judged), "--task", "pairwise", "--out", str(out), *FAST, *flags)
    assert done.returncode == 0, done.stderr
    doc = audit_json(out)
    assert doc["judges"] == ["gpt"] and doc["n_items"] == N_ITEMS
    # item i: humans say HUMAN[i%3] and HUMAN[(i+1)%3], a split vote -> tie; gpt says JUDGE[i%3]: agrees on i%3==2
    agreement = next(
        m for m in doc["metrics"] if m["metric"] == "agreement" and m["judge"] == "gpt" and not m["slice"]
    )
    assert agreement["value"] == 4 / 12


def test_story_aliases_per_judge_and_init(tmp_path: Path, refused, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same raw label meaning different things per judge needs one map per judge; ``auditor init`` writes the
    config for the plain case, and the audit with it completes."""
    human = human_csv(tmp_path / "human.csv", {0: "1", 1: "2", 2: "0"})  # 1 = a, 2 = b, 0 = tie
    judged = judged_jsonl(tmp_path / "judged.jsonl", {0: "2", 1: "1", 2: "0"})  # swapped: 2 = a, 1 = b
    out = tmp_path / "out"
    done = run_cli(
        "audit", str(human), str(judged), "--task", "pairwise", "--out", str(out), *FAST,
        "--labels-map", "human:1=a,2=b,0=tie", "--labels-map", "smol:2=a,1=b,0=tie",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    agreement = next(
        m
        for m in audit_json(out)["metrics"]
        if m["metric"] == "agreement" and m["judge"] == "smol" and not m["slice"]
    )
    assert agreement["value"] == 4 / 12  # as in the story above: the maps undo the numbering

    letters = human_csv(tmp_path / "letters.csv")
    gpt = judged_jsonl(tmp_path / "gpt.jsonl", JUDGE, judge="gpt")
    init = run_cli("init", str(letters), str(gpt), cwd=tmp_path)
    assert init.returncode == 0, init.stderr
    assert "judge human: 24 labels: A (8), B (8), Tie (8)" in init.stdout
    assert "judge gpt: 12 labels: Response A (4), Response B (4), Tie (4)" in init.stdout
    assert "suggested task: pairwise" in init.stdout
    written = (tmp_path / "audit.toml").read_text(encoding="utf-8")
    assert 'task = "pairwise"' in written and 'reference = "human"' in written
    monkeypatch.chdir(tmp_path)
    again = refused("init", str(letters), out=tmp_path / "nothing")
    assert "file audit.toml: exists; pass --force to overwrite it" in again
    assert (tmp_path / "audit.toml").read_text(
        encoding="utf-8"
    ) == written  # never overwritten without --force
    done = run_cli(
        "audit", "letters.csv", "gpt.jsonl", "--config", "audit.toml", "--out", "out2", *FAST, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert audit_json(tmp_path / "out2")["task"] == "pairwise"


def test_story_likert_1_to_7(tmp_path: Path, refused) -> None:
    """A 1-7 Likert file: the error gives --scale 1-7 --neutral 4 (not aliases); with it, the audit completes."""
    ratings = {0: "1", 1: "4", 2: "7"}
    human = human_csv(tmp_path / "human.csv", ratings)
    judged = judged_jsonl(tmp_path / "judged.jsonl", {0: "6", 1: "4", 2: "2"})
    out = tmp_path / "out"
    first = refused("audit", str(human), str(judged), "--task", "likert", "--out", str(out), *FAST, out=out)
    assert "labels off that set: '7' (8 rows), '6' (4 rows)" in first
    assert fix_flags(first) == ["--scale", "1-7", "--neutral", "4"]
    assert "under [scale]: min = 1, max = 7, neutral = 4" in first
    done = run_cli(
        "audit", str(human), str(judged), "--task", "likert", "--out", str(out), *FAST, "--scale", "1-7"
    )
    assert done.returncode == 0, done.stderr
    assert audit_json(out)["scale"] == {"min": 1, "max": 7, "neutral": 4}


def test_story_item_id_header_semicolons_and_excel(tmp_path: Path, refused) -> None:
    """A header ``Item ID`` in a semicolon CSV, and the same table in .xlsx (second sheet): each error names its
    flag; with the flags, one command audits."""
    human = human_csv(tmp_path / "human.csv", sep=";", id_column="Item ID")
    judged = judged_jsonl(tmp_path / "judged.jsonl")
    out = tmp_path / "out"
    first = refused("audit", str(human), str(judged), "--task", "pairwise", "--out", str(out), *FAST, out=out)
    assert "the delimiter looks like ';'" in first and 'Fix: add --delimiter ";"' in first
    second = refused(
        "audit",
        str(human),
        str(judged),
        "--task",
        "pairwise",
        "--delimiter",
        ";",
        "--out",
        str(out),
        *FAST,
        out=out,
    )
    assert f"file {human}, column 'item_id': missing required column" in second
    assert "found 'Item ID'" in second and 'Fix: add --column "item_id=Item ID"' in second

    book = openpyxl.Workbook()
    book.active.title = "notes"
    book.active.append(["nothing here"])
    sheet = book.create_sheet("ratings")
    for line in human.read_text(encoding="utf-8").splitlines():
        sheet.append(line.split(";"))
    book.save(tmp_path / "human.xlsx")
    done = run_cli(
        "audit", str(tmp_path / "human.xlsx"), str(judged), "--task", "pairwise", "--sheet", "ratings",
        "--column", 'item_id=Item ID', "--labels-map", "A=a,B=b,Tie=tie", "--out", str(out), *FAST,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert audit_json(out)["n_items"] == N_ITEMS
    csv_done = run_cli(
        "audit", str(human), str(judged), "--task", "pairwise", "--delimiter", ";", "--column", "item_id=Item ID",
        "--labels-map", "A=a,B=b,Tie=tie", "--out", str(tmp_path / "out_csv"), *FAST,
    )  # fmt: skip
    assert csv_done.returncode == 0, csv_done.stderr
    assert audit_json(tmp_path / "out_csv")["metrics"] == audit_json(out)["metrics"]


def test_story_human_file_plus_judged_file(tmp_path: Path, refused) -> None:
    """The normal case after ``auditor judge``: human labels in one file, the judge's in another.  The judged file
    alone says what to add; both files in one call audit; a bad row is cited in its own file."""
    human = human_csv(tmp_path / "human.csv", {0: "a", 1: "b", 2: "tie"})
    judged = judged_jsonl(tmp_path / "judged.jsonl")
    out = tmp_path / "out"
    alone = refused("audit", str(judged), "--task", "pairwise", "--out", str(out), *FAST, out=out)
    assert "has no labels from the reference judge 'human'; judges found: smol" in alone
    assert f"auditor audit REFERENCE_LABELS {judged}" in alone and "--reference smol" in alone
    done = run_cli("audit", str(human), str(judged), "--task", "pairwise", "--out", str(out), *FAST)
    assert done.returncode == 0, done.stderr
    doc = audit_json(out)
    assert doc["judges"] == ["smol"] and doc["n_items"] == N_ITEMS
    assert doc["inputs"]["labels"] == f"{human}, {judged}"

    rows = judged.read_text(encoding="utf-8").splitlines()
    rows[4] = rows[4].replace('"label": "b"', '"label": "B?"')
    judged.write_text("\n".join(rows) + "\n", encoding="utf-8")
    bad = refused(
        "audit",
        str(human),
        str(judged),
        "--task",
        "pairwise",
        "--out",
        str(out / "bad"),
        *FAST,
        out=out / "bad",
    )
    assert f"file {judged}, row 5, column 'label': has 'B?'" in bad
    assert 'Fix: add --labels-map "B?=b"' in bad
