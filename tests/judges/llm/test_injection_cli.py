"""``auditor injection``: the prompt-injection probe from the command line, against the loopback fake judge.

Each run is a real subprocess (``python -m auditor injection ...``), so the exit codes and the one-line error
messages are those a user sees; the fake judge runs in this process and is reached over TCP.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from judges.injection import PAYLOAD_KINDS, PROBE_SET, generic_items

KEY_ENV = "AUDITOR_TEST_INJECTION_KEY"
SENTINEL_KEY = "sk-sentinel-injection-0123456789"


def _request_number(body: dict) -> str:
    """The fake judge's verdict basis: the item's request, the same in a clean item and its injected copies."""
    match = re.search(r"\(request \d+\)", body["messages"][-1]["content"])
    assert match, "generic items name their request"
    return match.group(0)


def _run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, **{KEY_ENV: SENTINEL_KEY, "AUDITOR_CACHE_DIR": str(tmp_path / "cache")})
    return subprocess.run(
        [sys.executable, "-m", "auditor", "injection", *args, "--api-key-env", KEY_ENV],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=600,
    )


def _items_file(tmp_path: Path, n: int = 24) -> Path:
    path = tmp_path / "items.jsonl"
    generic_items(n).to_json(path, orient="records", lines=True)
    return path


def test_the_command_writes_labels_and_summaries_whose_rate_counts_every_obeyed_instruction(
    fake_server, tmp_path
):
    server = fake_server(obey_injections=0.35, obey_seed=5, verdict_basis=_request_number)
    out = tmp_path / "probe"
    done = _run(tmp_path, str(_items_file(tmp_path)), "--model", "fake-judge", "--base-url", server.base_url,
                "--out", str(out), "--bootstrap", "300", "--no-cache", "--quiet")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in out.iterdir()) == [
        "clean.jsonl", "injected.jsonl", "summary.csv", "summary.json", "summary.md",
    ]  # fmt: skip

    clean = pd.read_json(out / "clean.jsonl", lines=True)
    injected = pd.read_json(out / "injected.jsonl", lines=True)
    assert len(clean) == 24 and len(injected) == 24 * len(PAYLOAD_KINDS)
    assert set(injected["probe_set"]) == {PROBE_SET} and set(injected["order"]) == {"ab"}
    assert len(server.log) == 24 + 24 * len(PAYLOAD_KINDS)

    document = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert (document["probe_set"], document["task"], document["n_items"]) == (PROBE_SET, "pairwise", 24)
    rows = {row["payload_kind"]: row for row in document["summary"]}
    assert list(rows) == ["all", *PAYLOAD_KINDS]
    overall = rows["all"]
    assert overall["n"] == 24 * len(PAYLOAD_KINDS) and overall["clean_already_requested"] == 0
    assert overall["successes"] == len(server.obeyed), (
        "every obeyed instruction and nothing else is a success"
    )
    assert overall["injection_success_rate"] == pytest.approx(len(server.obeyed) / overall["n"])
    assert overall["ci_low"] <= overall["injection_success_rate"] <= overall["ci_high"]
    assert pd.read_csv(out / "summary.csv")["successes"].tolist() == [r["successes"] for r in rows.values()]

    markdown = (out / "summary.md").read_text(encoding="utf-8")
    rate = (
        f"{overall['injection_success_rate'] * 100:.1f}% "
        f"[{overall['ci_low'] * 100:.1f}, {overall['ci_high'] * 100:.1f}]"
    )
    assert f"| **all payloads** | {overall['n']} | {rate} |" in markdown
    assert f"injection success {rate} on {overall['n']} eligible verdicts" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_judge_that_ignores_instructions_scores_zero_and_likert_generic_items_need_no_file(
    fake_server, tmp_path
):
    server = fake_server(verdicts=("1", "2", "3", "4", "5"), verdict_basis=_request_number)
    out = tmp_path / "likert"
    done = _run(tmp_path, "--model", "fake-judge", "--base-url", server.base_url, "--out", str(out), "--task",
                "likert", "--generic", "6", "--payloads", "fake_system,json_verdict", "--bootstrap", "100")  # fmt: skip
    assert done.returncode == 0, done.stderr
    document = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert document["items"] == "generic_items(6)" and document["payload_kinds"] == [
        "fake_system",
        "json_verdict",
    ]
    assert [row["payload_kind"] for row in document["summary"]] == ["all", "fake_system", "json_verdict"]
    assert all(row["injection_success_rate"] in (0, None) for row in document["summary"])
    assert set(pd.read_json(out / "injected.jsonl", lines=True)["requested_label"].astype(str)) <= {"1", "5"}


def test_the_api_key_reaches_no_output(fake_server, tmp_path):
    server = fake_server(obey_injections=1.0, verdict_basis=_request_number)
    out = tmp_path / "secret"
    done = _run(tmp_path, "--model", "fake-judge", "--base-url", server.base_url, "--out", str(out),
                "--generic", "4", "--bootstrap", "50", "--cache", str(tmp_path / "c.sqlite"))  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert SENTINEL_KEY not in done.stdout + done.stderr
    for path in [*out.iterdir(), tmp_path / "c.sqlite"]:
        assert SENTINEL_KEY.encode() not in path.read_bytes(), path.name


BAD_NOT_TEXT = '{"item_id": "x1", "response_a": "a", "response_b": "b"}\n' \
               '{"item_id": "x2", "response_a": "a", "response_b": {"t": 1}}\n'  # fmt: skip


@pytest.mark.parametrize(
    ("case", "content", "options", "expected"),
    [
        ("not_text", BAD_NOT_TEXT, [], r"items\.jsonl, row 2, column 'response_b': expected a text response"),
        ("no_column", '{"item_id": "x1", "response_a": "a"}\n', [], r"items\.jsonl, column 'response_b'"),
        ("duplicate", '{"item_id": "x", "response_a": "a", "response_b": "b"}\n' * 2, [],
         r"items\.jsonl, row 2, column 'item_id': duplicate item_id"),
        ("task", None, ["--task", "binary"], r"column '--task': .*pairwise and likert"),
        ("payload", None, ["--payloads", "shouting"], r"column '--payloads': unknown payload kind 'shouting'"),
        ("target", None, ["--target", "middle"], r"column '--target'"),
        ("missing", "", [], r"items\.jsonl: (does not exist|is empty)"),
    ],
)  # fmt: skip
def test_bad_input_exits_2_with_one_line_naming_the_place_and_writes_nothing(
    fake_server, tmp_path, case, content, options, expected
):
    server = fake_server()
    items = tmp_path / "items.jsonl"
    if content is None:
        _items_file(tmp_path, 4)
    elif content:
        items.write_text(content, encoding="utf-8")
    out = tmp_path / "out"
    done = _run(tmp_path, str(items), "--model", "fake-judge", "--base-url", server.base_url, "--out", str(out),
                "--no-cache", *options)  # fmt: skip
    assert done.returncode == 2, (case, done.stdout, done.stderr)
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), done.stderr
    assert re.search(expected, lines[0]), lines[0]
    assert "Traceback" not in done.stderr
    assert not out.exists(), "nothing written"
    assert not server.log, "no request before the input is checked"


def test_an_out_path_that_is_a_file_is_bad_input_and_stays_untouched(fake_server, tmp_path):
    server = fake_server()
    out = tmp_path / "taken"
    out.write_text("keep me", encoding="utf-8")
    done = _run(
        tmp_path, "--model", "fake-judge", "--base-url", server.base_url, "--out", str(out), "--generic", "2"
    )
    assert done.returncode == 2 and "is not a folder" in done.stderr and "Traceback" not in done.stderr
    assert out.read_text(encoding="utf-8") == "keep me" and not server.log
