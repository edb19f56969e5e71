"""Suggestions from the values found in a user's files: the task kind, the scale and the label aliases.

Used by ``auditor init`` (which prints them and writes them into an ``audit.toml`` for the user to review) and by
the errors about labels (which end with the fix).  Nothing here is ever applied silently: an audit reads only
what the config or the options declare.

Conventions: a label is compared as lower-case words (``"Response A"`` -> ``response a``).  Pairwise: a text whose
words name ``a`` alone (``A``, ``Response A``, ``model_a``, ``[[A]]``, ``A>B``) is ``a``, likewise ``b``; ``tie``,
``draw``, ``equal``, ``same``, ``both``, ``neither`` (and ``A=B``) are ``tie``.  Binary: yes / true / pass /
correct / good / positive / relevant -> ``1``, their opposites -> ``0``.  A value none of these fits is suggested as
``?``, for the user to fill in.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field

from auditor.contract import BOOLEAN_LABELS, PAIRWISE_LABELS

UNKNOWN = "?"
_TIE_WORDS = {"tie", "draw", "equal", "same", "both", "neither", "none", "even", "tied", "no preference"}
_POSITIVE = {
    "yes",
    "y",
    "true",
    "t",
    "pass",
    "passed",
    "correct",
    "good",
    "positive",
    "relevant",
    "right",
    "ok",
}
_NEGATIVE = {"no", "n", "false", "f", "fail", "failed", "incorrect", "bad", "negative", "irrelevant", "wrong"}
_INTEGER = re.compile(r"-?\d+")
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower().replace("_", " "))


def pairwise_label(text: str) -> str | None:
    """The pairwise label a text names (see the module's conventions), or None."""
    low = text.strip().lower()
    if low in PAIRWISE_LABELS:
        return low
    compact = re.sub(r"\s+", "", low)
    if compact in ("a>b", "b<a"):
        return "a"
    if compact in ("b>a", "a<b"):
        return "b"
    if compact in ("a=b", "b=a"):
        return "tie"
    words = _words(low)
    if " ".join(words) in _TIE_WORDS or (words and words[0] in _TIE_WORDS):
        return "tie"
    letters = {w for w in words if w in ("a", "b")}
    if len(letters) == 1:
        return letters.pop()
    return None


def binary_label(text: str) -> str | None:
    low = " ".join(_words(text))
    if low in ("1", "0"):
        return low
    return "1" if low in _POSITIVE else "0" if low in _NEGATIVE else None


def integers(values: Iterable[str]) -> list[int] | None:
    """The values as integers, or None when one is not an integer."""
    out = []
    for value in values:
        if not _INTEGER.fullmatch(value.strip()):
            return None
        out.append(int(value))
    return out


def suggest_scale(low: int, high: int) -> tuple[int, int, int]:
    """A rating scale holding ``low`` .. ``high``: the usual 1-5, 1-7, 1-10 (or 0-10, 0-100) when it fits, else
    exactly the values' range; the neutral point its middle (rounded down: check it on an even-sized scale)."""
    for start, top in ((1, 5), (1, 7), (1, 10), (0, 10), (0, 100)):
        if start <= low and high <= top:
            return start, top, (start + top) // 2
    return low, high, (low + high) // 2


def suggest_aliases(task: str, values: Iterable[str]) -> dict[str, str]:
    """``raw -> canonical`` for the values of a ``pairwise`` or ``binary`` task (``?`` where none fits); a binary
    task reads ``true`` / ``false`` without one (:data:`~auditor.contract.BOOLEAN_LABELS`)."""
    guess = pairwise_label if task == "pairwise" else binary_label
    out = {}
    for value in values:
        found = guess(value)
        if found != value and not (task == "binary" and value.lower() in BOOLEAN_LABELS):
            out[value] = found if found is not None else UNKNOWN
    return out


@dataclass
class Suggestion:
    """What ``auditor init`` proposes for a set of label values."""

    task: str
    reason: str
    scale: tuple[int, int, int] | None = None
    aliases: dict[str, str] = field(default_factory=dict)
    categories: tuple[str, ...] | None = None


def suggest_task(values: Iterable[str]) -> Suggestion:
    """The task kind the distinct label texts ``values`` fit first: pairwise (every value names a, b or tie),
    binary (0 / 1 or yes / no words), likert (integers beyond 0 / 1), score (other numbers), else categorical."""
    values = sorted({v for v in values if v is not None and v.strip()})
    if not values:
        return Suggestion("score", "no label values found (scores only?)")
    numbers = integers(values)
    if numbers is not None:
        if set(numbers) <= {0, 1}:
            return Suggestion("binary", "every label is 0 or 1")
        low, high, neutral = suggest_scale(min(numbers), max(numbers))
        return Suggestion(
            "likert", f"integer labels from {min(numbers)} to {max(numbers)}", scale=(low, high, neutral)
        )
    if all(_NUMBER.fullmatch(v.strip()) for v in values):
        return Suggestion("score", "numeric labels that are not all integers")
    if all(pairwise_label(v) is not None for v in values):
        return Suggestion(
            "pairwise",
            "every label names response a, response b or a tie",
            aliases=suggest_aliases("pairwise", values),
        )
    if all(binary_label(v) is not None for v in values):
        return Suggestion("binary", "yes / no labels", aliases=suggest_aliases("binary", values))
    return Suggestion("categorical", f"{len(values)} distinct text labels", categories=tuple(values))


# -- auditor init: what the files hold, and the audit.toml that says so ---------------------------------------------
@dataclass
class Inspection:
    """What ``auditor init`` found in the files: each file's columns, each judge's label counts (labels as the
    audit compares them: ``3.0`` is ``3``), the suggestion and the reference."""

    files: list[tuple[str, list[str]]]
    labels: dict[str, dict[str, int]]
    suggestion: Suggestion
    reference: str | None
    problems: list[str] = field(default_factory=list)


def config_toml(inspection: Inspection, config: object, command: str) -> str:
    """The ``audit.toml`` text of an inspection, with comments saying what each line rests on."""
    from auditor.config import toml_value

    s = inspection.suggestion
    lines = [
        f"# Written by `{command}`: suggestions from the values found; review every line before the audit.",
    ]
    for path, columns in inspection.files:
        lines.append(f"# {path}: columns {', '.join(columns)}")
    for judge, labels in inspection.labels.items():
        shown = ", ".join(f"{label} ({n})" for label, n in list(labels.items())[:20])
        lines.append(f"# judge {judge}: {shown}")
    lines += ["", f"task = {toml_value(s.task)}  # {s.reason}"]
    if inspection.reference is not None:
        note = "" if inspection.reference == "human" else "  # no judge named human: check this one"
        lines.append(f"reference = {toml_value(inspection.reference)}{note}")
    if s.scale is not None:
        low, high, neutral = s.scale
        check = "" if (low + high) % 2 == 0 else "  # the scale has no middle point: check"
        lines += ["", "[scale]", f"min = {low}", f"max = {high}", f"neutral = {neutral}{check}"]
    if s.aliases or s.categories:
        lines += ["", "[labels]"]
        if s.aliases:
            fill = f"  # replace each {UNKNOWN!r}" if UNKNOWN in s.aliases.values() else ""
            lines.append(f"aliases = {toml_value(s.aliases)}{fill}")
        if s.categories:
            lines.append(f"categories = {toml_value(list(s.categories))}")
    columns = getattr(config, "columns", {})
    if columns:
        lines += ["", "[columns]"] + [f"{name} = {toml_value(found)}" for name, found in columns.items()]
    reading = {k: getattr(config, k) for k in ("delimiter", "sheet") if getattr(config, k, None) is not None}
    if reading:
        lines += ["", "[input]"] + [f"{key} = {toml_value(value)}" for key, value in reading.items()]
    return "\n".join(lines) + "\n"


def close_matches(word: str, candidates: Iterable[str], n: int = 3) -> list[str]:
    """The candidates spelt most like ``word`` (difflib's ratio of at least 0.6), best first; none for a word
    over 200 characters (a hostile name costs no quadratic comparison)."""
    word = str(word)
    if len(word) > 200:
        return []
    return difflib.get_close_matches(word, sorted({str(c) for c in candidates if len(str(c)) <= 200}), n, 0.6)


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """``"; did you mean 'x' or 'y'?"`` for the :func:`close_matches` of ``word``, else ``""``."""
    close = close_matches(word, candidates)
    return f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""


#: Characters that show as nothing: zero-width spaces and joiners, the word joiner, the soft hyphen, the byte-order
#: mark and the bidirectional marks, overrides and isolates.
INVISIBLE = re.compile("[\u00ad\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")


def _seen_as(text: str) -> str:
    """The text as a reader sees it: without invisible characters, in Unicode normal form NFC."""
    return unicodedata.normalize("NFC", INVISIBLE.sub("", text))


def _form(text: str) -> str:
    if unicodedata.is_normalized("NFC", text):
        return "NFC"
    return "NFD" if unicodedata.is_normalized("NFD", text) else "neither NFC nor NFD"


def same_looking(name: str, known: Iterable[str]) -> str | None:
    """The first of ``known`` that looks the same as ``name`` but is other text (another Unicode normal form, or
    invisible characters), else None."""
    target = _seen_as(name)
    return next((k for k in known if k != name and _seen_as(k) == target), None)


def spelling_difference(name: str, other: str) -> str:
    """Why two texts that look the same differ, in words: ``"Unicode normal form (NFD here, NFC there)"`` and / or
    ``"invisible characters (U+200B)"``."""
    reasons = []
    hidden = sorted({f"U+{ord(c):04X}" for c in INVISIBLE.findall(name + other)})
    if hidden:
        reasons.append(f"invisible characters ({', '.join(hidden)})")
    bare, bare_other = INVISIBLE.sub("", name), INVISIBLE.sub("", other)
    if bare != bare_other:
        reasons.append(f"Unicode normal form ({_form(bare)} here, {_form(bare_other)} there)")
    return " and ".join(reasons)
