"""The parts of ``judges.llm`` and ``judges.cli``: the names other code imports, and label rows built by name."""

from __future__ import annotations

import pandas as pd
import pytest

import judges.cli.options as options
from judges.base import Judgment, judgments_to_frame
from judges.cache import PARSED_FIELDS
from judges.llm import PlannedRequest, rows
from judges.templates import load_template


def test_the_packages_export_what_other_code_imports() -> None:
    from judges.cli import main, register, run_injection, run_judge  # noqa: F401
    from judges.llm import (  # noqa: F401
        CLIENT_CONNECTIONS,
        DEFAULT_MAX_TOKENS,
        JudgeRunError,
        LLMJudge,
        LLMJudgeConfig,
    )


def test_the_request_options_the_probe_command_uses_are_declared_in_judges_cli_options() -> None:
    for name in (
        "ApiKeyEnvOption", "BaseUrlOption", "ConcurrencyOption", "JsonFormatOption", "MaxResponseCharsOption",
        "MaxRetriesOption", "MaxTokensOption", "MinVerdictMassOption", "ProfileColumnOption", "TemplateOption",
        "TimeoutOption", "VerdictOption", "use_profile_column",
    ):  # fmt: skip
        assert hasattr(options, name), name


def test_use_profile_column_names_the_file_and_the_column_when_it_is_missing() -> None:
    from auditor.errors import InputError

    items = pd.DataFrame({"item_id": ["1"], "profile": ["p"], "relevant_profile": ["r"]})
    assert options.use_profile_column(items, "profile", "x.jsonl") is items
    assert options.use_profile_column(items, "relevant_profile", "x.jsonl")["profile"].tolist() == ["r"]
    with pytest.raises(InputError, match="has no column 'nope' for --profile-column") as error:
        options.use_profile_column(items, "nope", "x.jsonl")
    assert "x.jsonl" in str(error.value)


def _planned(order: str) -> PlannedRequest:
    return PlannedRequest("i-1", order, "0", "k" * 64, None)


def test_rows_have_every_label_column_and_match_the_judgment_they_stand_for() -> None:
    """A swapped-order verdict row maps the label back to a/b and prices the tokens, like the Judgment path."""
    template = load_template(None, "pairwise")
    parsed = dict(zip(PARSED_FIELDS, ("a", -0.5, '{"a": 0.75, "b": 0.25, "tie": 0.0}', "logprobs", None, 0.99,
                                      "A", 120, 1, 0.01), strict=True))  # fmt: skip
    shared = {"judge": "openai:m", "template": template, "profile_view": "full"}
    verdict = rows.verdict_row(
        _planned("ba"), parsed, cached=True, task="pairwise", prices=(1.0, 2.0), **shared
    )
    excluded = rows.excluded_row(_planned("ab"), "timeout", None, **shared)
    assert list(verdict) != list(rows.ROW_COLUMNS)  # built in another order, by name
    assert set(verdict) == set(excluded) == set(rows.ROW_COLUMNS)
    assert parsed["label"] == "a"  # the caller's parsed fields are not changed
    table = rows.LabelRows()
    table.add(verdict)
    table.add(excluded)
    expected = [
        Judgment(item_id="i-1", judge="openai:m", order="ba", label="b", score=0.5, raw="A",
                 verdict_source="logprobs", probabilities={"a": 0.25, "tie": 0.0, "b": 0.75}, verdict_mass=0.99,
                 prompt_tokens=120, completion_tokens=1, cost=(120 * 1.0 + 1 * 2.0) / 1e6, cached=True,
                 latency_s=0.01, template=template.id, profile_view="full", request_key="k" * 64),
        Judgment(item_id="i-1", judge="openai:m", order="ab", exclusion="timeout", template=template.id,
                 profile_view="full", request_key="k" * 64),
    ]  # fmt: skip
    pd.testing.assert_frame_equal(table.frame(), judgments_to_frame(expected))


def test_a_row_without_a_label_column_is_refused() -> None:
    template = load_template(None, "pairwise")
    row = rows.excluded_row(
        _planned("ab"), "timeout", None, judge="j", template=template, profile_view="full"
    )
    del row["cost"]
    table = rows.LabelRows()
    table.add(row)
    with pytest.raises(ValueError, match="cost"):
        table.frame()
