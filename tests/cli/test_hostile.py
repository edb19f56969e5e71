"""The hostile corpus (tests/cli/hostile/): saved audits, gate rules and data names built to break the reader.

Each case of ``cases.toml`` runs through the command line in-process (:func:`auditor.cli.root.main`, what
``python -m auditor`` runs) and must end with the exact exit code, no traceback, one message line naming the file
(and the key / row where they apply) and no output written.  The tests below the corpus feed names that carry
terminal escape sequences, ``@mentions``, live HTML and table breakers through ``audit``, ``report`` and ``gate``
and check every medium: the terminal, report.md, the GitHub step summary and annotations, the JUnit file.  A
labels file whose rows come in another order gives the same metric rows under the same names.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import tomllib
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from auditor.cli.root import main

HERE = Path(__file__).resolve().parent
HOSTILE = HERE / "hostile"
GOOD = HERE / "bad_inputs" / "files"
CASES = tomllib.loads((HOSTILE / "cases.toml").read_text(encoding="utf-8"))["case"]
HOSTILE_LABELS = HOSTILE / "files" / "labels_hostile_names.jsonl"
PASSING_RULE = 'rule = ["agreement value >= 0 for llm"]\n'
MAX_MESSAGE = 2_000
TERMINAL_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def run(*argv: str, env: dict[str, str] | None = None, monkeypatch=None) -> tuple[int, str, str]:
    """``auditor ARGV`` in this process: (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


def audit(labels: Path, out: Path, *extra: str) -> tuple[int, str, str]:
    return run(
        "audit",
        str(labels),
        "--items",
        str(GOOD / "good_items.jsonl"),
        "--task",
        "pairwise",
        "--out",
        str(out),
        *extra,
    )


@pytest.fixture(scope="session")
def good_doc(tmp_path_factory) -> dict:
    """The small audit of tests/cli/bad_inputs/files/good_*.jsonl (raters h1, h2 and one judge, llm)."""
    out = tmp_path_factory.mktemp("hostile_good")
    code, _, err = audit(GOOD / "good_labels.jsonl", out, "--bootstrap", "100", "--quiet", "--format", "json")
    assert code == 0, err
    return json.loads((out / "audit.json").read_text(encoding="utf-8"))


def _audit_file(case: dict, doc: dict, folder: Path) -> Path:
    kind = case.get("audit", "good")
    if kind == "folder":
        path = folder / "audit_folder.json"
        path.mkdir()
        return path
    path = folder / "audit.json"
    if kind == "deep":
        depth = case["depth"]
        path.write_text("[" * depth + "]" * depth, encoding="utf-8")
        return path
    doc = json.loads(json.dumps(doc))
    doc.update(case.get("set", {}))
    doc.update(dict.fromkeys(case.get("null", [])))
    if case.get("many_judges"):
        doc["judges"] = doc["judges"] + [f"judge-{i}" for i in range(case["many_judges"])]
    for row in doc["metrics"]:
        row.update(case.get("set_rows", {}))
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def _rules_file(case: dict, folder: Path) -> Path:
    path = folder / "gates.toml"
    if case.get("rules_path") == "folder":
        path.mkdir()
    elif case.get("rules_deep"):
        depth = case["rules_deep"]
        path.write_text("x = " + "[" * depth + "]" * depth + "\n", encoding="utf-8")
    else:
        text = case.get("rules", PASSING_RULE)
        text += case.get("rules_repeat_text", "") * case.get("rules_repeat", 0) + case.get("rules_tail", "")
        path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_hostile_case(case, good_doc, tmp_path):
    inputs, out = tmp_path / "in", tmp_path / "out"
    inputs.mkdir()
    audit_json = _audit_file(case, good_doc, inputs)
    if case["as"] == "gate":
        rules = _rules_file(case, inputs)
        code, stdout, stderr = run(
            "gate", str(audit_json), "--config", str(rules), "--junit", str(out / "g.xml")
        )
    else:
        rules = None
        code, stdout, stderr = run(
            "report", str(audit_json), "--out", str(out), "--format", "md,html", "--quiet"
        )
    assert code == case.get("exit", 2), f"exit {code}: {stderr[-2000:]} {stdout[-2000:]}"
    assert "Traceback" not in stderr
    message = stderr.strip()
    assert message.startswith("error: ") and len(message.splitlines()) == 1, message[:3000]
    assert len(message) < MAX_MESSAGE, f"a {len(message)}-character message"
    blamed = rules if case.get("blame") == "rules" else audit_json
    assert f"file {blamed}" in message, f"the message does not name {blamed}: {message}"
    if case.get("key") is not None:
        assert f"column '{case['key']}'" in message, message
    if case.get("row") is not None:
        assert f"row {case['row']}," in message, message
    for fragment in case.get("fragments", []):
        assert fragment in message, f"expected {fragment!r} in: {message}"
    assert not out.exists() or not any(out.iterdir()), sorted(p.name for p in out.iterdir())


def test_corpus_covers_every_class():
    names = " ".join(c["name"] for c in CASES)
    for word in (
        "ghost",
        "schema_version",
        "NaN",
        "characters",
        "deep",
        "folder",
        "bootstrap",
        "cases",
        "reference",
    ):
        assert word in names, word
    assert len(CASES) >= 40


# -- outputs: names from the data escaped for each medium -------------------------------------------------------
@pytest.fixture(scope="session")
def hostile_audit(tmp_path_factory) -> tuple[Path, str]:
    """``audit`` of labels whose judge names hold escape sequences, a mention, an <img> tag, a pipe and a newline
    (raters listed rater2 first): the output folder and what the terminal showed."""
    out = tmp_path_factory.mktemp("hostile_names")
    code, stdout, stderr = audit(HOSTILE_LABELS, out, "--bootstrap", "0", "--format", "md,json")
    assert code == 0, stderr
    return out, stdout


def test_audit_terminal_output_has_no_control_characters(hostile_audit):
    _, stdout = hostile_audit
    assert "llm" in stdout and "octocat" in stdout
    assert not TERMINAL_CONTROLS.findall(stdout), sorted(set(TERMINAL_CONTROLS.findall(stdout)))
    assert "pwned" not in stdout  # the window-title sequence is removed whole, not just its ESC


def _table_width(line: str) -> int:
    return len(re.findall(r"(?<!\\)\|", line))


def test_report_md_neutralises_mentions_html_and_table_breakers(hostile_audit):
    out, _ = hostile_audit
    text = (out / "report.md").read_text(encoding="utf-8")
    assert "octocat" in text
    assert not re.search(r"@octocat", text), "a live @mention"
    assert "<img" not in text
    assert not TERMINAL_CONTROLS.findall(text.replace("\n", ""))
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("|") and i + 1 < len(lines) and set(lines[i + 1]) <= set("|:- "):
            width = _table_width(line)
            for row in lines[i + 2 :]:
                if not row.startswith("|"):
                    break
                assert _table_width(row) == width, f"a cell breaks the table: {row}"


def test_gate_outputs_are_safe_in_every_medium(hostile_audit, tmp_path, monkeypatch):
    out, _ = hostile_audit
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    rules = tmp_path / "gates.toml"
    rules.write_text('rule = ["agreement value >= 0.9"]\n', encoding="utf-8")  # both judges fail
    junit = tmp_path / "gates.xml"
    code, stdout, stderr = run("gate", str(out / "audit.json"), "--config", str(rules), "--junit", str(junit))
    assert code == 1, stderr
    assert not TERMINAL_CONTROLS.findall(stdout.replace("\n", "")), stdout
    root = ET.parse(junit).getroot()  # well-formed XML 1.0 despite ESC / BEL in the judge names
    assert root.get("failures") == "2"
    names = [case.get("name") for case in root.iter("testcase")]
    assert any("llm" in n for n in names) and any("octocat" in n for n in names)
    text = summary.read_text(encoding="utf-8")
    assert "octocat" in text and "@octocat" not in text and "<img" not in text
    assert not TERMINAL_CONTROLS.findall(text.replace("\n", ""))
    rows = [line for line in text.splitlines() if line.startswith("| ") and "FAIL" in line]
    assert len(rows) == 2 and all(_table_width(r) == 8 for r in rows), rows


def test_error_line_of_a_hostile_name_has_no_control_characters(hostile_audit, tmp_path):
    out, _ = hostile_audit
    rules = tmp_path / "gates.toml"
    rules.write_text('rule = ["agreement value >= 0 for ghost"]\n')  # the message lists the audit's judges
    code, _, stderr = run("gate", str(out / "audit.json"), "--config", str(rules))
    assert code == 2 and "unknown judge 'ghost'" in stderr and "octocat" in stderr
    assert not TERMINAL_CONTROLS.findall(stderr.replace("\n", "")), repr(stderr)


# -- names independent of the order of the rows ----------------------------------------------------------------
def test_rater_pair_slice_is_named_in_sorted_order(hostile_audit, tmp_path):
    out, _ = hostile_audit
    doc = json.loads((out / "audit.json").read_text(encoding="utf-8"))
    assert "raters=rater1~rater2" in {m["slice"] for m in doc["metrics"]}
    rules = tmp_path / "gates.toml"
    rules.write_text('rule = ["agreement value >= 0 for human in raters=rater1~rater2"]\n')
    code, _, stderr = run("gate", str(out / "audit.json"), "--config", str(rules))
    assert code == 0, stderr


def test_reversed_rows_give_the_same_rows_under_the_same_names(hostile_audit, tmp_path):
    out, _ = hostile_audit
    reversed_labels = tmp_path / "reversed.jsonl"
    lines = HOSTILE_LABELS.read_text(encoding="utf-8").splitlines(keepends=True)
    reversed_labels.write_text("".join(reversed(lines)), encoding="utf-8")
    code, _, stderr = audit(
        reversed_labels, tmp_path / "out", "--bootstrap", "0", "--format", "json", "--quiet"
    )
    assert code == 0, stderr

    def rows(folder: Path) -> dict:
        doc = json.loads((folder / "audit.json").read_text(encoding="utf-8"))
        return {
            (m["metric"], m["judge"], m["reference"], m["slice"]): (m["value"], m["n"])
            for m in doc["metrics"]
        }

    before, after = rows(out), rows(tmp_path / "out")
    assert before.keys() == after.keys(), sorted(set(before) ^ set(after), key=str)[:10]
    for key, (value, n) in before.items():
        assert after[key][1] == n, key
        assert (value is None and after[key][0] is None) or after[key][0] == pytest.approx(
            value, abs=1e-12
        ), key
