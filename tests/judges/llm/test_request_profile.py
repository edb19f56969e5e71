"""Request profiles and body reshaping: what is sent to the endpoint for ``chat`` and ``reasoning``, the fields
``drop_fields`` / ``rename_fields`` take out or rename, and the keys (cache and plan) that tell the bodies apart."""

from __future__ import annotations

import json
import os
import re
import sqlite3
from pathlib import Path

import pytest
from servers.fake_openai import Fault, make_items

from auditor.cli import main
from auditor.data import read_labels
from auditor.errors import ConfigError
from auditor.io import read_table
from judges.llm import LLMJudge, LLMJudgeConfig
from judges.llm.planning import plan_prefix, request_body, template_for

MESSAGES = [{"role": "user", "content": "Which is better?"}]
TEMPLATE = template_for(None, "pairwise")


def _body(**options) -> dict:
    config = LLMJudgeConfig(model="m", **options)
    LLMJudge(config)  # validates the options as every command does
    return request_body(config, MESSAGES, 0, TEMPLATE)


def test_the_chat_profile_sends_the_body_earlier_versions_sent():
    """The default body is unchanged, so every response cached before request profiles existed is found again."""
    assert _body() == {
        "model": "m",
        "messages": MESSAGES,
        "temperature": 0.0,
        "max_tokens": 3,
        "logprobs": True,
        "top_logprobs": 10,
    }
    schema = _body(verdict_mode="json", seed=7)
    assert list(schema) == ["model", "messages", "temperature", "max_tokens", "seed", "response_format"]
    assert schema["max_tokens"] == 32 and schema["seed"] == 7
    assert _body(verdict_mode="text") == {
        "model": "m",
        "messages": MESSAGES,
        "temperature": 0.0,
        "max_tokens": 512,
    }


def test_the_reasoning_profile_sends_max_completion_tokens_and_no_temperature_or_logprobs():
    body = _body(request_profile="reasoning")
    assert list(body) == ["model", "messages", "max_completion_tokens", "response_format"]
    assert body["max_completion_tokens"] == 2048
    assert body["response_format"]["json_schema"]["schema"]["properties"]["verdict"]["enum"] == [
        "A",
        "B",
        "tie",
    ]
    text = _body(request_profile="reasoning", verdict_mode="text", max_tokens=300, seed=1)
    assert text == {"model": "m", "messages": MESSAGES, "max_completion_tokens": 300, "seed": 1}
    assert _body(request_profile="reasoning", verdict_mode="text")["max_completion_tokens"] == 4096


def test_the_verdict_defaults_to_json_under_the_reasoning_profile_and_refuses_logprobs():
    assert LLMJudgeConfig(model="m").verdict_mode == "logprobs"
    assert LLMJudgeConfig(model="m", request_profile="reasoning").verdict_mode == "json"
    with pytest.raises(ConfigError, match="--verdict logprobs needs the chat profile.*--verdict json"):
        LLMJudge(LLMJudgeConfig(model="m", request_profile="reasoning", verdict_mode="logprobs"))
    with pytest.raises(ConfigError, match=r"--temperature 0.7: the reasoning profile sends no temperature"):
        LLMJudge(LLMJudgeConfig(model="m", request_profile="reasoning", temperature=0.7))
    assert _body(request_profile="reasoning", extra_body={"temperature": 1})["temperature"] == 1
    with pytest.raises(ConfigError, match="--request-profile must be chat or reasoning, not 'o1'"):
        LLMJudge(LLMJudgeConfig(model="m", request_profile="o1"))


def test_fields_are_dropped_and_renamed_before_extra_is_merged():
    body = _body(
        drop_fields=("temperature", "top_logprobs"),
        rename_fields={"max_tokens": "max_completion_tokens"},
        extra_body={"top_k": 1},
    )
    assert body == {
        "model": "m",
        "messages": MESSAGES,
        "max_completion_tokens": 3,
        "logprobs": True,
        "top_k": 1,
    }
    # --extra may send a dropped field again with another value
    assert _body(drop_fields=("temperature",), extra_body={"temperature": 1})["temperature"] == 1
    # renames are simultaneous: two fields may swap names
    swapped = _body(
        verdict_mode="text", rename_fields={"temperature": "max_tokens", "max_tokens": "temperature"}
    )
    assert swapped == {"model": "m", "messages": MESSAGES, "max_tokens": 0.0, "temperature": 512}


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            {"drop_fields": ("temprature",)},
            r"--drop-field temprature: the request body has no field 'temprature' \(profile chat, verdict "
            r"logprobs: model, messages, temperature, max_tokens, logprobs, top_logprobs\)",
        ),
        (
            {"request_profile": "reasoning", "drop_fields": ("temperature",)},
            r"no field 'temperature' \(profile reasoning, verdict json: model, messages, max_completion_tokens, "
            r"response_format\)",
        ),
        ({"rename_fields": {"max_token": "x"}}, r"--rename-field max_token: the request body has no field"),
        ({"rename_fields": {"max_tokens": "temperature"}}, r"already sends 'temperature'"),
        ({"rename_fields": {"max_tokens": ""}}, r"names no new field"),
        ({"drop_fields": ("messages",)}, r"--drop-field messages: every chat-completions request needs"),
        (
            {"rename_fields": {"model": "engine"}},
            r"--rename-field model: every chat-completions request needs",
        ),
        (
            {"drop_fields": ("seed",), "rename_fields": {"seed": "random_seed"}, "seed": 1},
            r"both name 'seed'",
        ),
    ],
)
def test_a_field_the_body_does_not_have_is_a_config_error_naming_the_body_fields(options, message):
    with pytest.raises(ConfigError, match=message):
        LLMJudge(LLMJudgeConfig(model="m", **options))


def test_each_body_shape_has_its_own_cache_and_plan_keys():
    """A changed profile, drop or rename never reuses the responses stored for another body."""
    items = make_items(2)
    variants = [
        {},
        {"request_profile": "reasoning"},
        {"verdict_mode": "json"},
        {"drop_fields": ("temperature",)},
        {"rename_fields": {"max_tokens": "max_completion_tokens"}},
    ]
    keys, prefixes = [], []
    for options in variants:
        judge = LLMJudge(LLMJudgeConfig(model="m", **options))
        keys.append(tuple(request.key for request in judge.plan(items, "pairwise")))
        prefixes.append(plan_prefix(judge, TEMPLATE, "pairwise", items).hexdigest())
    assert len(set(keys)) == len(variants) and len(set(prefixes)) == len(variants)


def test_a_reasoning_run_sends_its_own_body_and_never_reuses_chat_responses(
    fake_server, tmp_path, monkeypatch
):
    server = fake_server()
    monkeypatch.setenv("FAKE_KEY", "sk-fake")
    items, cache = make_items(3), tmp_path / "cache.sqlite"

    def run(**options):
        config = LLMJudgeConfig(
            model="m", base_url=server.base_url, api_key_env="FAKE_KEY", progress=False, **options
        )
        judge = LLMJudge(config, cache=cache)
        try:
            return judge.judge_items(items, "pairwise"), judge.stats
        finally:
            judge.close()

    chat, _ = run()
    assert (chat["verdict_source"] == "logprobs").all()
    server.clear_log()
    reasoning, stats = run(request_profile="reasoning")
    assert stats["sent"] == 3 and stats["from_cache"] == 0
    assert [sorted(entry.body) for entry in server.log] == [
        ["max_completion_tokens", "messages", "model", "response_format"]
    ] * 3
    assert (reasoning["verdict_source"] == "json").all() and reasoning["exclusion"].isna().all()
    assert (reasoning["request_key"] != chat["request_key"]).all()
    again, stats = run(request_profile="reasoning")
    assert stats["sent"] == 0 and again["label"].tolist() == reasoning["label"].tolist()


# -- the command line ------------------------------------------------------------------------------------------


def _items_file(tmp_path: Path, n: int) -> Path:
    path = tmp_path / "items.jsonl"
    make_items(n).to_json(path, orient="records", lines=True)
    return path


def _judge(tmp_path: Path, server, *args: str) -> list[str]:
    return ["judge", str(_items_file(tmp_path, 4)), "--judge", "openai:m", "--base-url", server.base_url,
            "--api-key-env", "FAKE_KEY", "--quiet", *args]  # fmt: skip


@pytest.fixture
def fake_key(monkeypatch):
    monkeypatch.setenv("FAKE_KEY", "sk-fake")


def test_judge_reasoning_profile_from_the_command_line_and_its_summary(
    fake_server, fake_key, tmp_path, capsys
):
    server = fake_server()
    out = tmp_path / "labels.jsonl"
    argv = _judge(tmp_path, server, "--out", str(out), "--no-cache", "--request-profile", "reasoning",
                  "--rename-field", "max_completion_tokens=max_output_tokens", "--drop-field", "response_format")  # fmt: skip
    assert main(argv) == 0
    assert [entry.body["max_output_tokens"] for entry in server.log] == [2048] * 4
    assert all(sorted(entry.body) == ["max_output_tokens", "messages", "model"] for entry in server.log)
    # without response_format the fake judge answers the bare verdict: the strict text pattern reads it
    assert (
        "4 verdicts: 4 labelled, 0 excluded; verdicts from text 4; unparseable 0 (0%);"
        in capsys.readouterr().err
    )


def test_the_summary_names_the_verdict_sources_and_the_share_unparseable(
    fake_server, fake_key, tmp_path, capsys
):
    def one_in_prose(body, attempt):  # the second item gets prose without a verdict
        return Fault("prose") if "Question 1 " in json.dumps(body["messages"]) else None

    server = fake_server(fault_plan=one_in_prose)
    assert main(_judge(tmp_path, server, "--out", str(tmp_path / "labels.csv"), "--no-cache")) == 0
    line = capsys.readouterr().err.strip()
    assert line.startswith(
        f"wrote {tmp_path / 'labels.csv'}: 4 verdicts: 3 labelled, 1 excluded (unparseable 1); "
        "verdicts from logprobs 3; unparseable 1 (25%); 4 requests sent"
    )
    assert "\n" not in line


def _command(command: str, items: str, tmp_path: Path) -> list[str]:
    """The command line of a judging command on ``items``, its outputs under ``tmp_path`` (no cache)."""
    return {
        "judge": ["judge", items, "--judge", "openai:m", "--out", str(tmp_path / "l.jsonl"), "--no-cache"],
        "injection": ["injection", items, "--model", "m", "--out", str(tmp_path / "inj"), "--no-cache"],
        "probe": ["probe", items, "--model", "m", "--out", str(tmp_path / "probe")],
    }[command]


@pytest.mark.parametrize("command", ["judge", "injection", "probe"])
def test_bad_flags_of_the_body_stop_before_any_request(fake_server, fake_key, tmp_path, capsys, command):
    server = fake_server()
    items = str(_items_file(tmp_path, 2))
    common = ["--base-url", server.base_url, "--api-key-env", "FAKE_KEY", "--drop-field", "temprature"]
    argv = _command(command, items, tmp_path)
    assert main([*argv, *common, "--quiet"]) == 2
    assert "--drop-field temprature: the request body has no field 'temprature'" in capsys.readouterr().err
    assert server.log == []


@pytest.mark.parametrize("command", ["judge", "injection", "probe"])
def test_every_judging_command_takes_http_client_and_refuses_a_bad_one_before_any_request(
    fake_server, fake_key, tmp_path, capsys, command
):
    server = fake_server()
    items = str(_items_file(tmp_path, 2))
    argv = _command(command, items, tmp_path)
    common = ["--base-url", server.base_url, "--api-key-env", "FAKE_KEY", "--quiet"]
    assert main([*argv, *common, "--http-client", "curl"]) == 2
    assert "--http-client must be auto, httpx or aiohttp, not 'curl'" in capsys.readouterr().err
    assert server.log == []


def test_probe_refuses_a_bad_report_url_before_any_request(
    fake_server, fake_key, tmp_path, capsys, monkeypatch
):
    """probe writes report.md, which links $AUDITOR_REPORT_URL: a link it cannot write is bad input, said first."""
    server = fake_server()
    monkeypatch.setenv("AUDITOR_REPORT_URL", "javascript:alert(1)")
    out = tmp_path / "probe"
    argv = ["probe", str(_items_file(tmp_path, 2)), "--model", "m", "--out", str(out)]
    assert main([*argv, "--base-url", server.base_url, "--api-key-env", "FAKE_KEY", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "AUDITOR_REPORT_URL" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert server.log == [] and not out.exists()


def _read_only_folder(tmp_path: Path) -> Path:
    """A folder no new file can be created in: ``/sys`` for root (whom permissions do not stop; sysfs takes no
    new files), else a folder without write permission."""
    if os.geteuid() == 0:
        return Path("/sys")
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o555)
    return folder


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("unknown suffix", r"labels\.xlsx: has an unknown output suffix '\.xlsx'; expected one of \.jsonl"),
        ("out is a folder", r"file .*existing\.jsonl: is a folder; expected a file to write"),
        ("read-only folder", r"labels\.csv: cannot be written: the folder .* does not take new files"),
        ("folder under a file", r"file .*a-file/sub/labels\.csv: cannot be written: .*a-file is a file"),
        ("cache under a file", r"file .*a-file/cache\.sqlite: cannot be written: .*a-file is a file"),
    ],
)
def test_an_output_that_cannot_be_written_stops_the_judge_before_any_request(
    fake_server, fake_key, tmp_path, capsys, case, message
):
    server = fake_server()
    (tmp_path / "existing.jsonl").mkdir()
    (tmp_path / "a-file").write_text("x")
    out, cache = {
        "unknown suffix": (tmp_path / "labels.xlsx", ["--no-cache"]),
        "out is a folder": (tmp_path / "existing.jsonl", ["--no-cache"]),
        "read-only folder": (_read_only_folder(tmp_path) / "labels.csv", ["--no-cache"]),
        "folder under a file": (tmp_path / "a-file" / "sub" / "labels.csv", ["--no-cache"]),
        "cache under a file": (
            tmp_path / "labels.csv",
            ["--cache", str(tmp_path / "a-file" / "cache.sqlite")],
        ),
    }[case]
    assert main(_judge(tmp_path, server, "--out", str(out), *cache)) == 2
    err = capsys.readouterr().err.strip()
    assert re.search(message, err) and "\n" not in err and "Traceback" not in err, err
    assert server.log == [], "no request before the outputs are known to be writable"
    assert not out.is_file()


@pytest.mark.parametrize("command", ["injection", "probe"])
def test_an_output_folder_that_is_a_file_stops_probe_and_injection_before_any_request(
    fake_server, fake_key, tmp_path, capsys, command
):
    server = fake_server()
    taken = tmp_path / "taken"
    taken.write_text("not a folder")
    argv = [command, str(_items_file(tmp_path, 2)), "--model", "m", "--base-url", server.base_url,
            "--api-key-env", "FAKE_KEY", "--out", str(taken), "--quiet"]  # fmt: skip
    assert main(argv) == 2
    assert f"file {taken}: exists and is not a folder" in capsys.readouterr().err
    assert server.log == [] and taken.read_text() == "not a folder"


def test_missing_output_folders_are_created(fake_server, fake_key, tmp_path):
    server = fake_server()
    out = tmp_path / "new" / "sub" / "labels.csv"
    assert (
        main(_judge(tmp_path, server, "--out", str(out), "--cache", str(tmp_path / "c" / "cache.sqlite")))
        == 0
    )
    assert len(read_table(out)) == 4 and len(server.log) == 4


@pytest.mark.llm
def test_the_reasoning_profile_labels_through_the_json_schema_on_the_real_llama_server(
    llama_server, llama_key, tmp_path, capsys
):
    """The body a reasoning model takes (no max_tokens, temperature or logprobs) against llama.cpp's server:
    every verdict comes from the JSON answer (or the strict pattern), none is lost to a transport error."""
    out, cache = tmp_path / "labels.csv", tmp_path / "cache.sqlite"
    argv = ["judge", str(_items_file(tmp_path, 3)), "--judge", "openai:smollm2-135m", "--base-url", llama_server,
            "--api-key-env", llama_key, "--request-profile", "reasoning", "--verdict", "json",
            "--json-format", "json_object", "--max-tokens", "64", "--profile-view", "none", "--concurrency", "1",
            "--timeout", "600", "--cache", str(cache), "--out", str(out), "--quiet"]  # fmt: skip
    assert main(argv) == 0
    labels = read_labels(out)
    assert len(labels) == 3 and labels["exclusion"].isna().all(), labels[["raw", "exclusion"]]
    assert set(labels["verdict_source"]) <= {"json", "text"} and labels["label"].isin(["a", "b", "tie"]).all()
    assert "verdicts from json" in capsys.readouterr().err
    with sqlite3.connect(cache) as connection:
        sent = [json.loads(row[0]) for row in connection.execute("SELECT request FROM responses")]
    assert len(sent) == 3
    for body in sent:
        assert sorted(body) == ["max_completion_tokens", "messages", "model", "response_format"]
        assert body["max_completion_tokens"] == 64 and body["response_format"]["type"] == "json_object"
