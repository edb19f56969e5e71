"""Resuming after kill -9, the command line, batch files, and the API key never reaching a file."""

from __future__ import annotations

import json
import logging
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from servers.fake_openai import body_hash, make_items, stored_count

from judges.cli import main
from judges.llm import LLMJudge, LLMJudgeConfig

REPO_ROOT = Path(__file__).resolve().parents[3]
COMPARED = ["item_id", "judge", "rater", "label", "order", "score", "raw", "exclusion", "probabilities"]


def _write_items(path: Path, items: pd.DataFrame) -> Path:
    items.to_json(path, orient="records", lines=True)
    return path


def _cli(items: Path, base_url: str, cache: Path, out: Path, *extra: str) -> list[str]:
    return [
        "judge", str(items), "--judge", "openai:fake-judge", "--base-url", base_url, "--api-key-env", "FAKE_JUDGE_KEY",
        "--cache", str(cache), "--out", str(out), "--quiet", *extra,
    ]  # fmt: skip


def _read_labels(path: Path) -> pd.DataFrame:
    return pd.read_json(path, lines=True, dtype=False)[COMPARED].astype(str)


@pytest.mark.parametrize("stop", [signal.SIGKILL, signal.SIGINT], ids=["kill-9", "ctrl-c"])
def test_kill_9_mid_run_then_rerun_equals_an_uninterrupted_run_and_repeats_no_stored_request(
    fake_server, tmp_path, monkeypatch, stop
):
    server = fake_server(latency=0.03, api_key="sk-fake-judge")
    items = _write_items(tmp_path / "items.jsonl", make_items(200))
    cache, out = tmp_path / "cache.sqlite", tmp_path / "labels.jsonl"
    monkeypatch.setenv("FAKE_JUDGE_KEY", "sk-fake-judge")
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    command = [
        sys.executable,
        "-m",
        "judges.cli",
        *_cli(items, server.base_url, cache, out, "--concurrency", "2"),
    ]

    kill_after = random.Random().randint(10, 170)  # a random point, different on every run
    # The server answers 8 requests past the kill point and holds the rest: the run is still running at the kill
    # whatever the machine's speed (the kill may land mid-request or mid-commit).
    server.answer_limit = kill_after + 8
    # A shell's background job inherits SIGINT ignored, and Python keeps it so: give the run the default action.
    process = subprocess.Popen(
        command,
        env=env,
        cwd=tmp_path,
        stderr=subprocess.PIPE,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 120
    while stored_count(cache) < kill_after and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    assert process.poll() is None, f"the run ended before the kill: {process.stderr.read().decode()}"
    os.kill(process.pid, stop)
    code = process.wait(timeout=60)
    stderr = process.stderr.read().decode()
    process.stderr.close()
    if stop == signal.SIGINT:
        assert code == 130 and "Traceback" not in stderr and "rerun to resume" in stderr, stderr
    assert not out.exists(), "an interrupted run leaves no half-written labels file"

    with sqlite3.connect(cache) as conn:
        stored_before = {body_hash(json.loads(r[0])) for r in conn.execute("SELECT request FROM responses")}
    assert kill_after <= len(stored_before) < 200, stderr
    server.clear_log()
    server.answer_limit = None
    rerun = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    resent = {entry.body_hash for entry in server.log} & stored_before
    assert not resent, f"{len(resent)} requests with a stored verdict were sent again"
    assert len(server.log) == 200 - len(stored_before)
    assert pd.read_json(out, lines=True)["exclusion"].isna().all(), "the resumed run labelled every item"

    uninterrupted = tmp_path / "uninterrupted.jsonl"
    assert main(_cli(items, server.base_url, tmp_path / "fresh.sqlite", uninterrupted)) == 0
    pd.testing.assert_frame_equal(_read_labels(out), _read_labels(uninterrupted))


def test_the_api_key_reaches_no_file_no_log_and_no_output(fake_server, tmp_path, monkeypatch, capsys, caplog):
    sentinel = "sk-SENTINEL-do-not-store-7f1e2d"
    server = fake_server(api_key=sentinel)
    monkeypatch.setenv("FAKE_JUDGE_KEY", sentinel)
    caplog.set_level(logging.DEBUG)
    items = _write_items(tmp_path / "items.jsonl", make_items(12))
    cache, out = tmp_path / "cache.sqlite", tmp_path / "labels.jsonl"

    assert main(_cli(items, server.base_url, cache, out, "--orders", "ab,ba", "--price-in", "1")) == 0
    assert main(_cli(items, server.base_url, cache, tmp_path / "again.csv")) == 0
    assert main(_cli(items, server.base_url, cache, out, "--batch-export", str(tmp_path / "batch.jsonl"),
                     "--seed", "3")) == 0  # fmt: skip
    monkeypatch.setenv("FAKE_JUDGE_KEY", sentinel + "-wrong")
    # a refused key ends the run (exit 3, run incomplete) after writing its labels: every request excluded
    assert main(_cli(items, server.base_url, cache, tmp_path / "refused.jsonl", "--seed", "4")) == 3

    captured = capsys.readouterr()
    assert "401" in captured.err and "FAKE_JUDGE_KEY" in captured.err
    written = [p for p in tmp_path.iterdir() if p.is_file() and p.name != "items.jsonl"]
    assert {p.name for p in written} >= {
        "cache.sqlite",
        "labels.jsonl",
        "again.csv",
        "batch.jsonl",
        "refused.jsonl",
    }
    refused = pd.read_json(tmp_path / "refused.jsonl", lines=True)
    assert refused["label"].isna().all() and set(refused["exclusion"]) <= {"http_401", "run_stopped"}
    for path in written:
        assert sentinel.encode() not in path.read_bytes(), path.name
        assert b"SENTINEL" not in path.read_bytes(), path.name
    for text in (captured.out, captured.err, caplog.text):
        assert "SENTINEL" not in text


def test_batch_export_then_import_gives_the_labels_of_a_direct_run(fake_server, tmp_path):
    server = fake_server()
    items = make_items(20)
    config = LLMJudgeConfig(model="fake-judge", base_url=server.base_url, progress=False)
    batch_judge = LLMJudge(config, orders=("ab", "ba"), cache=tmp_path / "batch-cache.sqlite")
    assert batch_judge.export_batch(items, "pairwise", tmp_path / "requests.jsonl") == 40

    # Play the batch runner: send each line's body to the server, write results in the OpenAI batch format,
    # leaving one request out and answering one with an error.
    import urllib.request

    lines = [json.loads(line) for line in (tmp_path / "requests.jsonl").read_text().splitlines()]
    assert {line["method"] for line in lines} == {"POST"}
    assert {line["url"] for line in lines} == {"/v1/chat/completions"}
    results = []
    for number, line in enumerate(lines[:-1]):
        if number == 3:
            results.append({"id": f"batch_req_{number}", "custom_id": line["custom_id"], "response": None,
                            "error": {"code": "server_error", "message": "boom"}})  # fmt: skip
            continue
        request = urllib.request.Request(
            server.base_url + "/chat/completions",
            data=json.dumps(line["body"]).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request) as response:
            body = json.loads(response.read())
        results.append({"id": f"batch_req_{number}", "custom_id": line["custom_id"],
                        "response": {"status_code": 200, "request_id": "r", "body": body}, "error": None})  # fmt: skip
    (tmp_path / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in results))

    imported = batch_judge.import_batch(items, "pairwise", tmp_path / "results.jsonl")
    direct = LLMJudge(config, orders=("ab", "ba")).judge_items(items, "pairwise")

    assert len(imported) == 40
    exclusions = imported["exclusion"].dropna().tolist()
    assert sorted(exclusions) == ["batch_error", "not_in_batch_results"]
    kept = imported["exclusion"].isna()
    pd.testing.assert_series_equal(imported.loc[kept, "label"], direct.loc[kept, "label"])
    # The imported responses sit in the cache under the same keys: a direct run now asks only for the two gaps.
    before = len(server.log)
    rerun = LLMJudge(config, orders=("ab", "ba"), cache=batch_judge.cache)
    rerun.judge_items(items, "pairwise")
    assert len(server.log) - before == 2 and rerun.stats["sent"] == 2


def test_batch_import_refuses_results_of_other_requests(fake_server, tmp_path):
    server = fake_server()
    config = LLMJudgeConfig(model="fake-judge", base_url=server.base_url, progress=False)
    other = tmp_path / "results.jsonl"
    other.write_text(json.dumps({"custom_id": "0" * 64, "response": {"status_code": 200, "body": {}}}) + "\n")
    from auditor.errors import InputError

    with pytest.raises(InputError, match="none of the 1 results"):
        LLMJudge(config).import_batch(make_items(3), "pairwise", other)


def test_cli_reports_bad_options_in_one_line_with_exit_code_2(tmp_path, capsys):
    items = _write_items(tmp_path / "items.jsonl", make_items(2))
    assert main(["judge", str(items), "--judge", "gpt-4o", "--out", str(tmp_path / "x.jsonl")]) == 2
    assert main(["judge", str(items), "--judge", "openai:m", "--base-url", "http://127.0.0.1:9/v1",
                 "--profile-view", "everything", "--out", str(tmp_path / "x.jsonl")]) == 2  # fmt: skip
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"item_id": "1", "response_a": "x"}) + "\n")
    assert main(["judge", str(bad), "--judge", "openai:m", "--base-url", "http://127.0.0.1:9/v1",
                 "--out", str(tmp_path / "x.jsonl")]) == 2  # fmt: skip
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert len(errors) == 3
    assert "openai:MODEL" in errors[0] and "profile-view" in errors[1] and "response_b" in errors[2]


def test_the_308_stage3_pairs_in_both_orders_through_the_command_line(
    fake_server, stage3_items, tmp_path, monkeypatch
):
    """616 rows (308 pairs x 2 orders), each labelled or excluded with its reason, readable by the core."""
    from auditor.data import read_labels

    server = fake_server()
    monkeypatch.setenv("FAKE_JUDGE_KEY", "unused")
    items = _write_items(tmp_path / "task6_items.jsonl", stage3_items)
    out = tmp_path / "labels.jsonl"
    args = _cli(
        items, server.base_url, tmp_path / "c.sqlite", out, "--orders", "ab,ba", "--profile-view", "full"
    )
    assert main(args) == 0
    labels = read_labels(out)
    assert len(labels) == 616
    assert labels.groupby("order")["item_id"].nunique().to_dict() == {"ab": 308, "ba": 308}
    assert (labels["label"].notna() ^ labels["exclusion"].notna()).all()
    # a healthy server: no exclusion at all
    assert labels["exclusion"].isna().all(), labels["exclusion"].value_counts()
    first_user = server.log[0].body["messages"][1]["content"]
    assert first_user.startswith("What is known about the user:"), "the attribute profile is rendered first"


def test_costs_from_a_price_table_file(fake_server, tmp_path, monkeypatch, capsys):
    server = fake_server()
    monkeypatch.setenv("FAKE_JUDGE_KEY", "unused")
    prices = tmp_path / "prices.toml"
    prices.write_text('["fake-judge"]\ninput = 1.5\noutput = 6.0\n')
    items = _write_items(tmp_path / "items.jsonl", make_items(4))
    out = tmp_path / "labels.jsonl"
    assert main(_cli(items, server.base_url, tmp_path / "c.sqlite", out, "--prices", str(prices))) == 0
    labels = pd.read_json(out, lines=True)
    expected = (labels["prompt_tokens"] * 1.5 + labels["completion_tokens"] * 6.0) / 1e6
    assert labels["cost"].to_numpy() == pytest.approx(expected.to_numpy())
    assert "cost" in capsys.readouterr().err
    prices.write_text('["other-model"]\ninput = 1\noutput = 2\n')
    assert main(_cli(items, server.base_url, tmp_path / "c.sqlite", out, "--prices", str(prices))) == 2
