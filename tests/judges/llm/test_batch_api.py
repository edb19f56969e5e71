"""The OpenAI Batch API path (``auditor judge --batch-submit`` / ``--batch-wait``) against a loopback Files + Batch
API (tests/servers/batch_api.py): a 1,000-request round trip, and every way a batch goes wrong, counted, with the
exit codes of the judging runs (3 incomplete, 2 bad input) and the key in no output."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pandas as pd
import pytest
from servers.batch_api import BatchServer, _seed
from servers.fake_openai import make_items
from servers.latency_server import completion_body

from judges.cli import main
from judges.llm import LLMJudge, LLMJudgeConfig
from judges.llm.batch_api import split_lines

SENTINEL = "sk-SENTINEL-batch-7f1e2d9c"
#: The label a verdict token stands for in each order (labels are in the original a/b numbering).
LABEL_OF = {("ab", "A"): "a", ("ab", "B"): "b", ("ba", "A"): "b", ("ba", "B"): "a"}


def _uploads(server: BatchServer) -> list[list[dict]]:
    """The request lines of every uploaded input file, in upload order."""
    return [
        [json.loads(line) for line in content.decode().splitlines()]
        for purpose, content in server.files.values()
        if purpose == "batch"
    ]


def test_1000_requests_round_trip_through_four_batches_with_the_answers_of_their_own_requests(batch_server):
    server = batch_server()
    items = make_items(500)
    config = LLMJudgeConfig(model="fake-judge", base_url=server.base_url, progress=False)
    judge = LLMJudge(config, orders=("ab", "ba"))
    labels = judge.submit_batch(items, "pairwise", poll_interval=0.001, max_requests=300)

    uploads = _uploads(server)
    assert [len(lines) for lines in uploads] == [300, 300, 300, 100]
    assert len(server.batches) == 4 and {b["status"] for b in server.batches.values()} == {"completed"}
    planned = {p.key: p for p in judge.plan(items, "pairwise")}
    sent = [line["custom_id"] for lines in uploads for line in lines]
    assert sorted(sent) == sorted(planned) and len(planned) == 1000
    assert {line["url"] for lines in uploads for line in lines} == {"/v1/chat/completions"}

    # Every label is the verdict the server computed from that request's own body.
    assert len(labels) == 1000 and labels["exclusion"].isna().all()
    for row in labels.itertuples():
        body = planned[row.request_key].body
        answer = completion_body(body, _seed(body), None)
        token = answer["choices"][0]["message"]["content"]
        assert row.label == LABEL_OF.get((row.order, token), "tie"), (row.item_id, row.order, token)

    # A rerun finds every answer in the cache: nothing uploaded, same labels.
    again = judge.submit_batch(items, "pairwise", poll_interval=0.001)
    assert len(_uploads(server)) == 4 and judge.stats["sent"] == 0
    pd.testing.assert_series_equal(again["label"], labels["label"])


def test_batches_are_cut_by_requests_and_bytes():
    lines = [f"{'x' * size}\n" for size in (9, 9, 9, 29, 9)]
    assert [len(c) for c in split_lines(lines, max_requests=2, max_bytes=1000)] == [2, 2, 1]
    assert [len(c) for c in split_lines(lines, max_requests=10, max_bytes=30)] == [3, 1, 1]


def _cli(items: Path, server: BatchServer, tmp_path: Path, *extra: str) -> list[str]:
    return [
        "judge", str(items), "--judge", "openai:fake-judge", "--base-url", server.base_url,
        "--api-key-env", "BATCH_KEY", "--cache", str(tmp_path / "cache.sqlite"),
        "--out", str(tmp_path / "labels.jsonl"), "--quiet", "--batch-submit", "--batch-poll", "0.001", *extra,
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("fault", "code", "expected"),
    [
        (None, 0, {}),
        ("failed", 3, {"not_in_batch_results": 40}),
        ("expired", 3, {"batch_error": 30}),
        ("cancelled", 3, {"not_in_batch_results": 30}),
        ("error_lines", 3, {"batch_error": 4}),
        ("missing", 3, {"not_in_batch_results": 4}),
        ("malformed", 0, {"not_in_batch_results": 1}),
    ],
)
def test_every_batch_failure_is_counted_with_the_exit_code_of_a_judging_run(
    batch_server, tmp_path, monkeypatch, capsys, caplog, fault, code, expected
):
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("BATCH_KEY", SENTINEL)
    server = batch_server(fault=fault, answered=10, error_every=10, api_key=SENTINEL)
    items = tmp_path / "items.jsonl"
    make_items(40).to_json(items, orient="records", lines=True)

    assert main(_cli(items, server, tmp_path)) == code
    err = capsys.readouterr().err
    labels = pd.read_json(tmp_path / "labels.jsonl", lines=True, dtype=False)  # written in every case
    assert len(labels) == 40
    assert labels["exclusion"].value_counts().to_dict() == expected
    assert labels["label"].notna().sum() == 40 - sum(expected.values())
    for reason, count in expected.items():
        if code == 3:
            assert f"{reason} {count}" in err and "batch run incomplete" in err
    if fault == "failed":
        assert "batch_0001 failed: invalid_request (line 1): Model 'nope' is not available" in err
    if fault == "malformed":
        assert "1 batch result lines malformed" in err
    if fault == "expired":
        assert "batch_0001 expired" in err
    for path in tmp_path.iterdir():
        assert SENTINEL.encode() not in path.read_bytes(), path.name
    assert "SENTINEL" not in err and "SENTINEL" not in caplog.text


def test_a_batch_still_running_ends_the_wait_then_batch_wait_collects_it(batch_server, tmp_path, capsys):
    server = batch_server(fault="never")
    items = tmp_path / "items.jsonl"
    make_items(20).to_json(items, orient="records", lines=True)

    assert main(_cli(items, server, tmp_path, "--batch-max-wait", "0")) == 3
    err = capsys.readouterr().err
    assert "batch_0001 still running" in err and "rerun with --batch-wait batch_0001" in err
    assert (
        "submitted 1 batch: batch_0001 (if this wait is cut short, --batch-wait batch_0001 resumes it)" in err
    )
    assert pd.read_json(tmp_path / "labels.jsonl", lines=True)["exclusion"].eq("not_in_batch_results").all()

    server.fault = None  # the batch completes on its next polls
    args = [a for a in _cli(items, server, tmp_path) if a != "--batch-submit"]
    assert main([*args, "--batch-wait", "batch_0001"]) == 0
    assert len(_uploads(server)) == 1, "waiting for a batch uploads nothing"
    labels = pd.read_json(tmp_path / "labels.jsonl", lines=True)
    assert labels["exclusion"].isna().all() and labels["label"].notna().all()


def test_a_refused_upload_is_exit_3_naming_the_endpoint_without_the_key(
    batch_server, tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("BATCH_KEY", SENTINEL)
    server = batch_server(fault="upload_401")
    items = tmp_path / "items.jsonl"
    make_items(3).to_json(items, orient="records", lines=True)
    assert main(_cli(items, server, tmp_path)) == 3
    err = capsys.readouterr().err
    assert "uploading the batch input" in err and "HTTP 401" in err and "$BATCH_KEY" in err
    assert "SENTINEL" not in err and "Traceback" not in err


@pytest.mark.parametrize("line", ["[1, 2]", '{"custom_id": ', '"text"'])
def test_a_malformed_line_of_an_imported_results_file_is_exit_2_naming_file_and_row(tmp_path, capsys, line):
    items = tmp_path / "items.jsonl"
    make_items(2).to_json(items, orient="records", lines=True)
    results = tmp_path / "results.jsonl"
    results.write_text("\n" + line + "\n")
    args = [
        "judge", str(items), "--judge", "openai:m", "--base-url", "http://127.0.0.1:9/v1", "--no-cache",
        "--out", str(tmp_path / "labels.jsonl"), "--batch-import", str(results),
    ]  # fmt: skip
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(results) in err[0] and "row 2" in err[0], err
    assert not (tmp_path / "labels.jsonl").exists()


def test_an_imported_results_file_missing_more_than_max_error_rate_is_exit_3_after_writing_the_labels(
    batch_server, tmp_path, capsys
):
    """The vLLM run-batch / hand-carried path: results of 12 of the 20 requests (the rest missing or errors)."""
    server = batch_server(fault="error_lines", error_every=4)
    items = tmp_path / "items.jsonl"
    make_items(20).to_json(items, orient="records", lines=True)
    base = ["judge", str(items), "--judge", "openai:fake-judge", "--base-url", server.base_url, "--quiet",
            "--cache", str(tmp_path / "export.sqlite"), "--out", str(tmp_path / "labels.jsonl")]  # fmt: skip
    assert main([*base, "--batch-export", str(tmp_path / "requests.jsonl")]) == 0
    # the server plays the batch runner over the exported file: every 4th line an error line
    uploaded = server.add_file("batch", (tmp_path / "requests.jsonl").read_bytes())
    status, created = server.create_batch(
        {"input_file_id": uploaded["id"], "endpoint": "/v1/chat/completions"}
    )
    while server.poll(created["id"])["status"] != "completed":
        pass
    batch = server.batches[created["id"]]
    lines = server.files[batch["output_file_id"]][1].decode().splitlines()[:-3]  # and the last 3 results lost
    (tmp_path / "results.jsonl").write_text(
        "\n".join(lines + server.files[batch["error_file_id"]][1].decode().splitlines())
    )

    args = [*base[:-4], "--no-cache", "--out", str(tmp_path / "labels.jsonl")]
    assert main([*args, "--batch-import", str(tmp_path / "results.jsonl")]) == 3
    err = capsys.readouterr().err
    assert "batch import incomplete: 8 of 20 requests have no answer" in err
    assert "batch_error 5" in err and "not_in_batch_results 3" in err
    labels = pd.read_json(tmp_path / "labels.jsonl", lines=True)
    assert labels["exclusion"].value_counts().to_dict() == {"batch_error": 5, "not_in_batch_results": 3}


def test_batch_modes_exclude_each_other(tmp_path, capsys):
    items = tmp_path / "items.jsonl"
    make_items(2).to_json(items, orient="records", lines=True)
    args = ["judge", str(items), "--judge", "openai:m", "--base-url", "http://127.0.0.1:9/v1", "--no-cache",
            "--out", str(tmp_path / "l.jsonl"), "--batch-submit", "--batch-wait", "batch_1"]  # fmt: skip
    assert main(args) == 2
    assert "--batch-submit, --batch-wait" in capsys.readouterr().err


@pytest.mark.full
def test_100000_requests_go_out_in_two_batches_of_openais_50000_limit(batch_server, tmp_path):
    """python -m pytest -m full tests/judges/llm/test_batch_api.py (about 3 minutes on the shared 2-core machine)."""
    server = batch_server()
    items = make_items(50_000)
    config = LLMJudgeConfig(model="fake-judge", base_url=server.base_url, progress=False)
    judge = LLMJudge(config, orders=("ab", "ba"), cache=tmp_path / "cache.sqlite")
    labels = judge.submit_batch(items, "pairwise", poll_interval=0.001)
    assert [len(lines) for lines in _uploads(server)] == [50_000, 50_000]
    assert len(labels) == 100_000 and labels["exclusion"].isna().all()
    assert judge.submit_batch(items, "pairwise", poll_interval=0.001)["label"].equals(labels["label"])
    assert len(_uploads(server)) == 2, "the rerun finds every answer in the cache"
