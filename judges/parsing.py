"""Verdict extraction from a chat completion, and mapping back to the original a/b numbering.

Order of preference:

1. **logprobs** -- the top log-probabilities at the first substantive token of the answer (leading whitespace,
   quotes and markdown skipped).  Every top token that names a verdict (case-insensitive; a token of two or more
   characters that starts exactly one verdict counts for it, e.g. ``ti`` for ``tie``) adds its probability to
   that verdict; the probabilities are renormalised over the verdicts.  When the verdicts hold less than
   ``min_mass`` there (the judge is saying something else), the next method is tried.  ``label`` is the most probable verdict
   and ``score`` the expected value of the label values.
2. **json** -- the answer is a JSON object (optionally in a code fence) whose ``verdict`` names a verdict.
3. **text** -- the whole answer is a verdict (``B``, ``"tie".``), or its last ``Verdict: X`` line names one.

Anything else is ``unparseable``: the label stays empty and the text is kept in ``raw``.

An answer is untrusted input: :func:`answer_problem` type-checks every field the parser and the labels read
(``choices``, ``message``, ``content``, ``refusal``, ``logprobs``, ``usage``) before an answer is stored or parsed.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

from judges.templates import Template

_STRIP = " \t\r\n\"'`*_([{<>}]):.,!;"
#: How far above 0 a log-probability may be (rounding) and still count as one.
LOGPROB_SLACK = 1e-6
#: Bump when parsing gives other verdicts for the same response (stored parsed verdicts are keyed by it, and by
#: this module's source).
PARSER_VERSION = 1


@dataclass(frozen=True)
class Verdict:
    """A parsed verdict in the numbering *shown* to the judge (before mapping back to the original order)."""

    label: str | None
    score: float | None
    probabilities: dict[str, float] | None
    source: str
    exclusion: str | None = None
    #: Logprobs only: the probability the verdict tokens held together before renormalising.
    verdict_mass: float | None = None


def _lookup(template: Template) -> dict[str, str]:
    return {verdict.lower(): label for verdict, label in template.verdicts.items()}


def _match_token(token: str, lookup: dict[str, str]) -> str | None:
    word = token.strip(_STRIP).lower()
    if not word:
        return None
    if word in lookup:
        return lookup[word]
    if len(word) >= 2:
        hits = {label for verdict, label in lookup.items() if verdict.startswith(word)}
        if len(hits) == 1:
            return hits.pop()
    return None


def expected_value(probabilities: dict[str, float], values: dict[str, float]) -> float | None:
    """``sum_label p(label) * value(label)``, or None when a label has no value."""
    if not values or any(label not in values for label in probabilities):
        return None
    return float(sum(p * values[label] for label, p in probabilities.items()))


def from_logprobs(choice: dict[str, Any], template: Template, min_mass: float = 0.0) -> Verdict | None:
    """The verdict distribution at the first substantive answer token.

    None when the top tokens there name no verdict, or when the verdicts together hold less than ``min_mass`` of
    the probability (the judge is answering something else; renormalising would invent a verdict).
    """
    logprobs = choice.get("logprobs") or {}
    content = logprobs.get("content") if isinstance(logprobs, dict) else None
    if not content:
        return None
    lookup = _lookup(template)
    for position in content:
        token = str(position.get("token", ""))
        if not token.strip(_STRIP):
            continue  # whitespace, quotes, markdown: look at the next token
        mass: dict[str, float] = {}
        candidates = list(position.get("top_logprobs") or [])
        if not candidates:
            candidates = [{"token": token, "logprob": position.get("logprob", 0.0)}]
        for candidate in candidates:
            label = _match_token(str(candidate.get("token", "")), lookup)
            logprob = candidate.get("logprob")
            if label is None or logprob is None or not math.isfinite(float(logprob)):
                continue
            mass[label] = mass.get(label, 0.0) + math.exp(float(logprob))
        total = sum(mass.values())
        if total <= 0 or total < min_mass:
            return None
        probabilities = {label: mass.get(label, 0.0) / total for label in template.labels}
        label = max(probabilities, key=probabilities.__getitem__)
        return Verdict(
            label,
            expected_value(probabilities, template.values),
            probabilities,
            "logprobs",
            verdict_mass=total,
        )
    return None


_CODE_FENCE = re.compile(r"^```(?:json)?\s*(.*?)\s*```$", re.DOTALL)


def from_json(text: str, template: Template) -> Verdict | None:
    """The verdict of a JSON answer ``{"verdict": ...}``, or None."""
    stripped = text.strip()
    fenced = _CODE_FENCE.match(stripped)
    if fenced:
        stripped = fenced.group(1)
    if not stripped.startswith("{"):
        return None
    try:
        data = json.loads(stripped)
    except json.JSONDecodeError:
        return None
    if not isinstance(data, dict) or "verdict" not in data:
        return None
    label = _lookup(template).get(str(data["verdict"]).strip().lower())
    if label is None:
        return None
    return Verdict(label, template.values.get(label), None, "json")


def _verdict_line(template: Template) -> re.Pattern[str]:
    alternatives = "|".join(re.escape(v) for v in sorted(template.verdicts, key=len, reverse=True))
    return re.compile(
        rf"^[\s*#>_-]*(?:final\s+)?(?:verdict|answer|rating)[*_\s]*[:=][*_\s\"'`]*({alternatives})[*_\"'`]*[\s.!]*$",
        re.IGNORECASE | re.MULTILINE,
    )


def from_text(text: str, template: Template) -> Verdict | None:
    """The verdict of a bare answer (``B``) or of the last ``Verdict: X`` line, or None."""
    lookup = _lookup(template)
    whole = text.strip().strip(_STRIP).lower()
    if whole in lookup:
        label = lookup[whole]
        return Verdict(label, template.values.get(label), None, "text")
    matches = _verdict_line(template).findall(text)
    if matches:
        label = lookup[matches[-1].lower()]
        return Verdict(label, template.values.get(label), None, "text")
    return None


def _kind(value: Any) -> str:
    """A JSON value's type, as a problem message names it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return f"the number {value!r}"[:40]
    if isinstance(value, str):
        return "a string"
    return "a list" if isinstance(value, list) else "an object"


def _wrong(value: Any, types: type | tuple[type, ...], where: str, expected: str) -> str | None:
    """None when ``value`` is null or of ``types``; else the problem, naming the field and what was expected."""
    return None if value is None or isinstance(value, types) else f"{where} is {_kind(value)}, not {expected}"


def _logprob_problem(entry: Any, where: str) -> str | None:
    if not isinstance(entry, dict):
        return f"{where} is {_kind(entry)}, not an object"
    value = entry.get("logprob")
    try:
        valid = value is None or (
            type(value) in (int, float) and math.isfinite(float(value)) and value <= LOGPROB_SLACK
        )
    except OverflowError:
        valid = False
    if not valid:
        return f"{where}.logprob is {_kind(value)}, not a finite number at most 0"
    return _wrong(entry.get("token"), str, f"{where}.token", "a string")


def _logprobs_problem(logprobs: Any, where: str) -> str | None:
    problem = _wrong(logprobs, dict, where, "an object")
    positions = logprobs.get("content") if isinstance(logprobs, dict) else None
    problem = problem or _wrong(positions, list, f"{where}.content", "a list")
    for number, position in enumerate(positions if problem is None and positions else []):
        at = f"{where}.content[{number}]"
        top = position.get("top_logprobs") if isinstance(position, dict) else None
        problem = _logprob_problem(position, at) or _wrong(top, list, f"{at}.top_logprobs", "a list")
        for rank, candidate in enumerate(top if problem is None and top else []):
            problem = problem or _logprob_problem(candidate, f"{at}.top_logprobs[{rank}]")
        if problem is not None:
            return problem
    return problem


def _choice_problem(choice: Any, where: str) -> str | None:
    if not isinstance(choice, dict):
        return f"{where} is {_kind(choice)}, not an object"
    message = choice.get("message")
    if not isinstance(message, dict):
        return f"{where}.message is {_kind(message)}, not an object"
    content = message.get("content")
    for number, part in enumerate(content if isinstance(content, list) else []):
        at = f"{where}.message.content[{number}]"
        text = part.get("text") if isinstance(part, dict) else None
        problem = _wrong(part, dict, at, "an object") or _wrong(text, str, f"{at}.text", "a string")
        if problem is not None:
            return problem
    return (
        _wrong(content, (str, list), f"{where}.message.content", "a string, a list or null")
        or _wrong(message.get("refusal"), str, f"{where}.message.refusal", "a string")
        or _logprobs_problem(choice.get("logprobs"), f"{where}.logprobs")
    )


def answer_problem(completion: Any) -> str | None:
    """What makes a chat-completion answer unusable (one line naming the field), or None.

    Checked: the answer is an object; ``choices`` a list of objects, each with a ``message`` object whose
    ``content`` is a string, a list of objects (with string ``text``) or null, and ``refusal`` a string or null;
    ``logprobs`` null or an object whose ``content`` lists objects with a string ``token`` and a finite ``logprob``
    at most 0 (:data:`LOGPROB_SLACK`), as do their ``top_logprobs``; ``usage`` null or an object whose
    ``prompt_tokens`` and ``completion_tokens`` are null or whole numbers from 0 to 2**63 - 1 (``3.0`` counts; a
    boolean does not).
    """
    if not isinstance(completion, dict):
        return f"the answer is {_kind(completion)}, not an object"
    choices = completion.get("choices")
    if not isinstance(choices, list):
        return f"choices is {_kind(choices)}, not a list"
    for number, choice in enumerate(choices):
        problem = _choice_problem(choice, f"choices[{number}]")
        if problem is not None:
            return problem
    usage = completion.get("usage")
    if usage is None:
        return None
    if not isinstance(usage, dict):
        return f"usage is {_kind(usage)}, not an object"
    for name in ("prompt_tokens", "completion_tokens"):
        value = usage.get(name)
        whole = type(value) is int or (type(value) is float and math.isfinite(value) and value.is_integer())
        if value is not None and not (whole and 0 <= value < 2**63):
            return f"usage.{name} is {_kind(value)}, not a whole number of tokens"
    return None


def message_text(choice: dict[str, Any]) -> str:
    message = choice.get("message") or {}
    content = message.get("content")
    if content is None:
        content = message.get("refusal") or ""
    if isinstance(content, list):  # content parts
        content = "".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return str(content)


def parse_completion(
    completion: dict[str, Any], template: Template, *, min_mass: float = 0.0
) -> tuple[Verdict, str]:
    """Parse a chat-completion response body into a verdict (shown numbering) and the answer text.

    ``min_mass``: the least probability the verdict tokens must hold together for a logprob verdict.
    """
    choices = completion.get("choices") or []
    if not choices:
        return Verdict(None, None, None, "none", "empty_choices"), ""
    choice = choices[0]
    text = message_text(choice)
    for attempt in (
        from_logprobs(choice, template, min_mass),
        from_json(text, template),
        from_text(text, template),
    ):
        if attempt is not None:
            return attempt, text
    return Verdict(None, None, None, "none", "unparseable"), text


def to_original_order(verdict: Verdict, order: str, task: str, template: Template) -> Verdict:
    """Map a verdict given on the swapped order ``ba`` back to the original a/b numbering.

    pairwise: ``a`` <-> ``b`` (``tie`` stays); likert (b rated against a on 1..5): ``k`` -> ``6 - k``.
    The score is recomputed from the mapped probabilities (or the mapped label).
    """
    if order == "ab" or task not in ("pairwise", "likert") or verdict.label is None:
        return verdict
    if task == "pairwise":
        swap = {"a": "b", "b": "a", "tie": "tie"}
    else:
        swap = {str(k): str(6 - k) for k in range(1, 6)}
    label = swap[verdict.label]
    probabilities = None
    if verdict.probabilities is not None:
        probabilities = {swap[k]: v for k, v in verdict.probabilities.items()}
        probabilities = {k: probabilities[k] for k in sorted(probabilities, key=list(swap).index)}
        score = expected_value(probabilities, template.values)
    else:
        score = template.values.get(label)
    return Verdict(label, score, probabilities, verdict.source, verdict.exclusion, verdict.verdict_mass)
