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
import os
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
    if kind in ("folder", "fifo"):
        path = folder / "audit_folder.json"
        if kind == "folder":
            path.mkdir()
        else:
            os.mkfifo(path)
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


# -- data, config and output cases: `auditor audit` on files the case describes -----------------------------------
#: A JSON value nested this deep: far beyond any parser's recursion limit.
DEEP = 100_000


def _parquet(path: Path, columns: dict) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({k: pa.array(v[0], type=v[1]) for k, v in columns.items()}), path)


def _make(kind: str, path: Path) -> None:
    """A file no TOML string can hold (binary, huge, or not a file at all)."""
    import pyarrow as pa

    pairwise = {
        "judge": (["human", "llm", "human", "llm"], pa.string()),
        "label": (["a", "b", "b", "b"], pa.string()),
    }
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "folder":
        path.mkdir()
    elif kind == "deep_jsonl":
        path.write_text('{"item_id": "i0", "judge": "human", "label": ' + "[" * DEEP + "]" * DEEP + "}\n")
    elif kind == "deep_json":
        path.write_text("[" * DEEP + "]" * DEEP)
    elif kind == "not_utf8":
        path.write_bytes(b'task = "pairwise"\n# \xff\xfe\n')
    elif kind == "deep_toml":
        path.write_text("task = " + "[" * DEEP + "]" * DEEP + "\n")
    elif kind == "long_id":  # a 10 MB id that no item has, after a good row
        lines = [
            {"item_id": "i0", "judge": "human", "label": "a"},
            {"item_id": "x" * 10_000_000, "judge": "human"},
        ]
        path.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    elif kind == "parquet_corrupt":
        path.write_bytes(b"PAR1" + bytes(range(256)) * 40 + b"PAR1")
    elif kind == "parquet_truncated":
        _parquet(path, {"item_id": (["i0", "i0", "i1", "i1"], pa.string()), **pairwise})
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    elif kind == "parquet_int64_ids":  # ids beyond 2**53 in an int64 column with a missing rater
        ids = [2**53 + 1, 2**53 + 1, 2**53, 2**53]
        _parquet(
            path,
            {"item_id": (ids, pa.int64()), "rater": ([None, "0", "r", "0"], pa.string()), **pairwise},
        )
    elif kind == "parquet_uint64_ids":  # beyond int64
        ids = [2**64 - 1, 2**64 - 1, 2**64 - 2, 2**64 - 2]
        _parquet(path, {"item_id": (ids, pa.uint64()), **pairwise})
    elif kind == "parquet_float_ids":  # 1e20 as a float: several integers at once
        _parquet(path, {"item_id": ([1e20, 1e20, 2e20, 2e20], pa.float64()), **pairwise})
    elif kind == "written_by_us":  # a labels file the tool wrote, with a raw U+2028 / U+2029 in a text
        import pandas as pd

        from auditor.io import write_table

        frame = pd.DataFrame(
            {
                "item_id": ["i0", "i0", "i1", "i1"],
                "judge": ["human", "llm", "human", "llm"],
                "label": ["a", "b", "b", "b"],
                "raw": ["line\u2028break", "para\u2029graph", "x", "y"],
            }
        )
        write_table(frame, path)
    else:
        raise ValueError(kind)


def _input(case: dict, what: str, folder: Path, default: Path | None) -> Path | None:
    """The case's ``what`` file (labels, items, config): its text, a made file, or ``default``."""
    name = case.get(
        f"{what}_name", {"labels": "labels.jsonl", "items": "items.jsonl", "config": "audit.toml"}[what]
    )
    path = folder / name
    if f"{what}_make" in case:
        _make(case[f"{what}_make"], path)
    elif what in case:
        path.write_text(case[what], encoding="utf-8")
    else:
        return default
    return path


def _run_audit_case(case: dict, inputs: Path, out: Path) -> tuple[int, str, str, dict[str, Path]]:
    files = {
        "labels": _input(case, "labels", inputs, GOOD / "good_labels.jsonl"),
        "items": None if case.get("no_items") else _input(case, "items", inputs, GOOD / "good_items.jsonl"),
        "config": _input(case, "config", inputs, None),
        "rules": None,
    }
    argv = ["audit", str(files["labels"]), "--out", str(out), "--quiet", "--format", "json"]
    if files["items"] is not None:
        argv += ["--items", str(files["items"])]
    if files["config"] is not None:
        argv += ["--config", str(files["config"])]
    if case.get("task", "pairwise"):
        argv += ["--task", case.get("task", "pairwise")]
    if "gate" in case:
        files["rules"] = inputs / "gates.toml"
        files["rules"].write_text(case["gate"], encoding="utf-8")
        argv += ["--gate", str(files["rules"])]
    if case.get("bootstrap", 0) != "":
        argv += ["--bootstrap", str(case.get("bootstrap", 0))]
    argv += case.get("args", [])
    return (*run(*argv), files)


def _prepare_out(case: dict, out: Path) -> dict[str, bytes]:
    """The output folder before the run: absent, a file, or the outputs of an earlier run (which a failed run must
    leave exactly as they were)."""
    kind = case.get("out")
    if kind == "file":
        out.write_text("not a folder", encoding="utf-8")
    elif kind == "under_file":
        out.parent.write_text("a file, not a folder", encoding="utf-8")
    elif kind == "old":
        out.mkdir()
        for name in ("audit.json", "report.md", "report.html"):
            (out / name).write_text(f"previous {name}", encoding="utf-8")
    return {p.name: p.read_bytes() for p in out.iterdir()} if out.is_dir() else {}


def _check_accepted(case: dict, out: Path, stderr: str) -> None:
    """An exit-0 case: the audit is written, with the items and warnings the case expects."""
    assert "error" not in stderr and "Traceback" not in stderr, stderr[-2000:]
    doc = json.loads((out / "audit.json").read_text(encoding="utf-8"))
    if "n_items" in case:
        assert doc["n_items"] == case["n_items"], doc["n_items"]
    codes = {w["code"] for w in doc["warnings"]}
    for code in case.get("warnings", []):
        assert code in codes, f"no {code!r} warning: {sorted(codes)}"
    if case.get("no_interval_on_one_cluster"):
        rows = [m for m in doc["metrics"] if m["n_clusters"] == 1 and m["value"] is not None]
        assert rows and all(m["ci_low"] is None and m["ci_high"] is None for m in rows)
    assert not [p for p in out.parent.rglob("*") if p.name.endswith(".tmp")]


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_hostile_case(case, good_doc, tmp_path):
    inputs, out = tmp_path / "in", tmp_path / "out"
    inputs.mkdir()
    if case.get("out") == "under_file":
        out = tmp_path / "afile" / "out"
    before = _prepare_out(case, out)
    if case["as"] == "audit":
        code, stdout, stderr, files = _run_audit_case(case, inputs, out)
        assert code == case.get("exit", 2), f"exit {code}: {stderr[-2000:]} {stdout[-2000:]}"
        if code == 0:
            _check_accepted(case, out, stderr)
            return
        _check_message(case, stderr, files.get(case.get("blame", "labels")) or case.get("blame"), out)
        after = {p.name: p.read_bytes() for p in out.iterdir()} if out.is_dir() else {}
        assert after == before, "a failed run changed the output folder"
        assert not [p for p in tmp_path.rglob("*") if p.name.endswith(".tmp")]
        return
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
    blamed = {"rules": rules, "out": "out"}.get(case.get("blame"), audit_json)
    _check_message(case, stderr, blamed, out)
    after = {p.name: p.read_bytes() for p in out.iterdir()} if out.is_dir() else {}
    assert after == before, "a failed run changed the output folder"


def _check_message(case: dict, stderr: str, blamed: Path | str, out: Path) -> None:
    """One line, no traceback and no control character, naming the blamed file (``"none"``: no file at all, as
    for a command-line option), the key, the row and the case's fragments."""
    assert "Traceback" not in stderr
    message = stderr.strip()
    assert message.startswith("error: ") and len(message.splitlines()) == 1, message[:3000]
    assert len(message) < MAX_MESSAGE, f"a {len(message)}-character message"
    assert not TERMINAL_CONTROLS.findall(message), repr(message[:300])
    if blamed == "none":
        assert "file " not in message, message
    elif blamed == "out":
        assert f"file {out}" in message, f"the message does not name {out}: {message}"
    else:
        assert f"file {blamed}" in message, f"the message does not name {blamed}: {message}"
    for fragment in case.get("absent", []):
        assert fragment not in message, f"{fragment!r} in: {message}"
    if case.get("key") is not None:
        assert f"column '{case['key']}'" in message, message
    if case.get("row") is not None:
        assert re.search(rf"row {case['row']}[,:]", message), message
    for fragment in case.get("fragments", []):
        assert fragment in message, f"expected {fragment!r} in: {message}"


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
        "fifo",
        "nfd",
        "zero_width",
        "2_53",
        "1e20",
        "u2028",
        "duplicate",
        "lone_surrogate",
        "one_cluster",
        "six_clusters",
        "reference_labels_all",
        "cluster_column_typo",
        "bootstrap_billion_on_the_command_line",
        "keeps_the_previous_outputs",
    ):
        assert word in names, word
    kinds = {c["name"].split("_")[0] for c in CASES}
    assert {"data", "design", "config", "gate", "report", "outputs"} <= kinds, kinds
    assert len(CASES) >= 100


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
