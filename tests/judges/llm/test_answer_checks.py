"""An answer is untrusted input: :func:`judges.parsing.answer_problem` names the first field of the wrong type, and
every answer it lets through is parsed and turned into a row without an error."""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from judges.cache import CachedResponse
from judges.llm.rows import parse_fields
from judges.parsing import answer_problem
from judges.templates import load_template


def _answer(**choice: object) -> dict:
    base: dict = {"message": {"role": "assistant", "content": "A"}}
    base.update(choice)
    return {"choices": [base], "usage": {"prompt_tokens": 3, "completion_tokens": 1}}


def _logprobs(first: object = -0.1, **top: object) -> dict:
    """Log-probabilities whose first token has logprob ``first`` and whose top candidate has the fields ``top``."""
    candidate = {"token": "A", "logprob": -0.1, **top}
    return {"content": [{"token": "A", "logprob": first, "top_logprobs": [candidate]}]}


@pytest.mark.parametrize(
    ("answer", "problem"),
    [
        ({"choices": "A"}, "choices is a string, not a list"),
        ({"choices": ["A"]}, "choices[0] is a string, not an object"),
        (_answer(message="A"), "choices[0].message is a string, not an object"),
        (_answer(message={"content": 3}), "choices[0].message.content is the number 3, not a string"),
        (_answer(message={"content": ["A"]}), "choices[0].message.content[0] is a string, not an object"),
        (_answer(message={"content": [{"text": 1}]}), "choices[0].message.content[0].text is the number 1"),
        (_answer(message={"content": None, "refusal": {}}), "choices[0].message.refusal is an object"),
        (_answer(logprobs=[]), "choices[0].logprobs is a list, not an object"),
        (_answer(logprobs={"content": "A"}), "choices[0].logprobs.content is a string, not a list"),
        (_answer(logprobs=_logprobs(1000)), "choices[0].logprobs.content[0].logprob is the number 1000"),
        (_answer(logprobs=_logprobs(math.nan)), "logprob is the number nan, not a finite number at most 0"),
        (_answer(logprobs=_logprobs(True)), "choices[0].logprobs.content[0].logprob is a boolean"),
        (_answer(logprobs=_logprobs(-(10**400))), "not a finite number at most 0"),
        (
            _answer(logprobs=_logprobs(logprob=math.inf)),
            "content[0].top_logprobs[0].logprob is the number inf",
        ),
        (_answer(logprobs=_logprobs(token=5)), "content[0].top_logprobs[0].token is the number 5"),
        ({**_answer(), "usage": "lots"}, "usage is a string, not an object"),
        ({**_answer(), "usage": {"prompt_tokens": -1}}, "usage.prompt_tokens is the number -1"),
        ({**_answer(), "usage": {"completion_tokens": 1.5}}, "usage.completion_tokens is the number 1.5"),
        ({**_answer(), "usage": {"completion_tokens": True}}, "usage.completion_tokens is a boolean"),
        ([_answer()], "the answer is a list, not an object"),
    ],
)
def test_answer_problem_names_the_field_of_the_wrong_type(answer, problem):
    assert problem in (answer_problem(answer) or "")


def test_well_formed_answers_have_no_problem():
    assert answer_problem(_answer(logprobs=_logprobs())) is None
    assert (
        answer_problem(_answer(message={"content": [{"type": "text", "text": "B"}], "refusal": None})) is None
    )
    assert (
        answer_problem({"choices": [], "usage": None}) is None
    )  # no choice: the judge's empty_choices exclusion


_KEYS = st.sampled_from(
    ["choices", "message", "content", "refusal", "text", "logprobs", "top_logprobs", "token", "logprob", "usage",
     "prompt_tokens", "completion_tokens"]
)  # fmt: skip
_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.sampled_from(["A", "b", "tie", "Verdict: B", ""]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_KEYS, inner, max_size=4),
    max_leaves=25,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(answer=st.dictionaries(_KEYS, _JSON, max_size=4))
def test_every_answer_without_a_problem_becomes_a_row_without_an_error(answer):
    if answer_problem(answer) is not None:
        return
    template = load_template(None, "pairwise")
    fields = parse_fields(CachedResponse("k", None, answer, 0.1, "api"), template, 0.2)
    assert fields["label"] in (None, "a", "b", "tie")
    assert fields["prompt_tokens"] is None or isinstance(fields["prompt_tokens"], int)
