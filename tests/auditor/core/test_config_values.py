"""Configuration values are never silently wrong (issue 21): each of these once gave a result instead of an error.

Each case is the ``audit.toml`` structure a user could write; the error names the key.
"""

from __future__ import annotations

import pytest

from auditor.config import MAX_RESAMPLES, MAX_SCALE_POINTS, config_from_mapping
from auditor.errors import ConfigError

CASES = {
    # the string "false" was read as true: every report carried the SIMULATED banner
    "simulated_as_text": ({"simulated": "false"}, "simulated", "expected true or false"),
    # 1.5-7.9 was truncated to 1-7
    "scale_bound_not_whole": ({"scale": {"min": 1.5, "max": 7}}, "scale.min", "expected an integer"),
    "scale_neutral_as_text_float": (
        {"scale": {"min": 1, "max": 7, "neutral": "4.5"}},
        "scale.neutral",
        "4.5",
    ),
    # a scale of 1e12 points allocated tables per point until memory ran out
    "scale_too_wide": (
        {"scale": {"min": 1, "max": 10**12}},
        "scale",
        f"at most {MAX_SCALE_POINTS + 1} points",
    ),
    # a NaN neutral gave win / tie / loss rates that summed to 0
    "score_neutral_nan": ({"task": "score", "score": {"neutral": float("nan")}}, "score.neutral", "finite"),
    "score_neutral_infinite": ({"task": "score", "score": {"neutral": "inf"}}, "score.neutral", "finite"),
    # a negative tie margin made win and loss both 1.0
    "score_tie_margin_negative": (
        {"task": "score", "score": {"tie_margin": -0.5}},
        "score.tie_margin",
        "non-negative",
    ),
    # a negative max_cases dropped cases
    "max_cases_negative": ({"report": {"max_cases": -3}}, "report.max_cases", "0 or more"),
    # a billion resamples allocated until MemoryError
    "resamples_too_many": ({"bootstrap": {"resamples": 10**9}}, "resamples", f"{MAX_RESAMPLES:,}"),
    "resamples_not_whole": (
        {"bootstrap": {"resamples": 2000.5}},
        "bootstrap.resamples",
        "expected an integer",
    ),
    "seed_boolean": ({"bootstrap": {"seed": True}}, "bootstrap.seed", "expected an integer"),
    "level_nan": ({"bootstrap": {"level": "nan"}}, "bootstrap.level", "finite"),
}


@pytest.mark.parametrize("mapping, column, fragment", CASES.values(), ids=CASES.keys())
def test_a_wrong_value_is_an_error_naming_its_key(mapping, column, fragment):
    with pytest.raises(ConfigError) as caught:
        config_from_mapping({"task": "likert", **mapping}, where="audit.toml")
    message = str(caught.value)
    assert caught.value.column == column, message
    assert fragment in message and "audit.toml" in message


def test_whole_numbers_written_as_floats_and_booleans_are_read_exactly():
    config = config_from_mapping(
        {
            "task": "likert",
            "simulated": False,
            "scale": {"min": 1.0, "max": 7, "neutral": 4},
            "report": {"max_cases": 0},
        }
    )
    assert (config.scale.min, config.scale.max, config.scale.neutral) == (1, 7, 4)
    assert config.simulated is False and config.max_cases == 0
    assert (
        config_from_mapping({"task": "likert", "bootstrap": {"resamples": MAX_RESAMPLES}}).resamples
        == MAX_RESAMPLES
    )
