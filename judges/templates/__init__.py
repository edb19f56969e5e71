"""Versioned prompt templates, profile views and fencing.

A template is a TOML file (see ``pairwise.toml`` next to this module) with

``name``, ``version``
    written into every label row (``template = "name@version"``) and into the cache key.
``task``
    ``pairwise``, ``likert``, ``binary`` or ``score``.
``verdicts``
    what the judge answers, mapped to the canonical label *in the order shown* (``A`` is the first response shown).
``values``
    the number of each canonical label, for the expected score.
``system``, ``user``
    the system message (fixed, so providers' prompt caches hit) and a Jinja2 template of the item's part of the
    user message.  Variables: ``prompt``, ``response_a``, ``response_b`` (the first and second response *shown*),
    ``response`` (all fenced), ``prompt_block`` (the fenced prompt with a heading, or empty), ``item`` (the raw
    row as a dict, not fenced) and ``fence(text, name)``.
``[answer]``
    one closing instruction per verdict mode (``logprobs``, ``json``, ``text``).

The user message is ``[profile block] + item part + [profile block] + answer instruction``, with the profile block
at the start or the end (``profile_at``).  Every text taken from the data is fenced: it sits between
``<<<NAME-ID>>>`` and ``<<<END NAME-ID>>>`` where ``ID`` is a hash of the text itself, so the text cannot contain its
own closing line and cannot pose as an instruction, and the same item always renders to the same prompt (which the
cache needs).
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment

from auditor.io import is_missing


def _absent(value: Any) -> bool:
    """A profile entry or item cell that is not there: missing, but a blank string is still text."""
    return not isinstance(value, list | dict | tuple) and is_missing(value, blank=False)


ProfileView = Literal["full", "outputs", "inputs", "none"]
ProfileAt = Literal["start", "end"]
VerdictMode = Literal["logprobs", "json", "text"]

_UNSWAPPED = re.compile(r"item\s*(\.|\[\s*['\"])\s*response_[ab]\b")

PAIRWISE_VALUES = {"a": -1.0, "tie": 0.0, "b": 1.0}
"""Expected-score values of the pairwise labels when a template declares none: score = P(b) - P(a)."""
PROFILE_VIEWS: tuple[str, ...] = ("full", "outputs", "inputs", "none")
PROFILE_PLACES: tuple[str, ...] = ("start", "end")
VERDICT_MODES: tuple[str, ...] = ("logprobs", "json", "text")
BUILTIN_TEMPLATES: tuple[str, ...] = ("pairwise", "likert", "binary", "score")
#: Bump when rendering changes what an item renders to (the judge's plan keys hash it, together with this
#: module's source, so stored plan -> request-key mappings of older code are never used).
RENDER_VERSION = 1

_INPUT_KEYS = ("input", "inputs", "prompt", "query", "question", "user", "instruction")
_OUTPUT_KEYS = ("output", "outputs", "response", "answer", "assistant", "completion", "text_output")
_HISTORY_KEYS = ("history", "conversations", "conversation", "turns", "examples", "past", "profile")
_TEXT_KEYS = ("attribute", "text", "value", "fact", "description")
_FACT_LIST_KEYS = ("attributes", "facts", "traits", "preferences")


class TemplateProblem(ValueError):
    """A template file that cannot be used (the CLI turns it into an InputError naming the file)."""


class ProfileProblem(ValueError):
    """A profile that the requested view cannot be applied to."""


@dataclass(frozen=True)
class Template:
    """A parsed prompt template; see the module docstring for the fields."""

    name: str
    version: str
    task: str
    verdicts: dict[str, str]
    values: dict[str, float]
    system: str
    user: str
    answer: dict[str, str]
    source: str = "builtin"
    profile_heading: str = "What is known about the user:"
    prompt_heading: str = "The user's request:"
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        """``name@version``, written into each label row and into the cache key."""
        return f"{self.name}@{self.version}"

    @property
    def fingerprint(self) -> str:
        """SHA-256 of every field of the template (its content, not only ``name@version``)."""
        fields = {name: getattr(self, name) for name in self.__dataclass_fields__}
        text = json.dumps(fields, sort_keys=True, ensure_ascii=False, default=repr)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    @property
    def reads_unswapped_responses(self) -> bool:
        """Whether the user template reads ``item.response_a`` / ``item.response_b`` (the responses in their
        original order): judged in the swapped order (ba), such a template would show the same prompt."""
        return bool(_UNSWAPPED.search(self.user))

    @property
    def labels(self) -> tuple[str, ...]:
        """The canonical labels this template can produce, in the order of ``verdicts``."""
        return tuple(dict.fromkeys(self.verdicts.values()))


def template_from_mapping(data: Mapping[str, Any], *, source: str) -> Template:
    """Validate a parsed TOML mapping and build a :class:`Template`."""
    missing = [k for k in ("name", "task", "verdicts", "system", "user", "answer") if k not in data]
    if missing:
        raise TemplateProblem(f"template {source} lacks {', '.join(missing)}")
    task = str(data["task"])
    if task not in ("pairwise", "likert", "binary", "score"):
        raise TemplateProblem(
            f"template {source}: task must be pairwise, likert, binary or score, not {task!r}"
        )
    verdicts = {str(k): str(v) for k, v in dict(data["verdicts"]).items()}
    if not verdicts:
        raise TemplateProblem(f"template {source}: verdicts is empty")
    from judges.base import CANONICAL_LABELS

    allowed = CANONICAL_LABELS[task]
    if allowed:
        wrong = sorted({v for v in verdicts.values() if v not in allowed})
        if wrong:
            raise TemplateProblem(
                f"template {source}: verdicts map to {wrong}, not labels of {task} {allowed}"
            )
    values = {str(k): float(v) for k, v in dict(data.get("values", {})).items()}
    if not values:
        try:
            values = {label: float(label) for label in verdicts.values()}
        except ValueError:
            # a pairwise verdict's expected score is P(b) - P(a), as in the built-in template
            values = dict(PAIRWISE_VALUES) if task == "pairwise" else {}
    answer = {str(k): str(v) for k, v in dict(data["answer"]).items()}
    absent = [m for m in VERDICT_MODES if m not in answer]
    if absent:
        raise TemplateProblem(f"template {source}: [answer] lacks {', '.join(absent)}")
    version = str(data.get("version") or "")
    if not version:
        digest = hashlib.sha256(json.dumps(dict(data), sort_keys=True, default=str).encode()).hexdigest()
        version = "sha-" + digest[:12]
    template = Template(
        name=str(data["name"]),
        version=version,
        task=task,
        verdicts=verdicts,
        values=values,
        system=str(data["system"]),
        user=str(data["user"]),
        answer=answer,
        source=source,
        profile_heading=str(data.get("profile_heading", Template.profile_heading)),
        prompt_heading=str(data.get("prompt_heading", Template.prompt_heading)),
    )
    try:
        _compiled(template.user)
    except TemplateError as exc:
        raise TemplateProblem(f"template {source}: the user template does not compile: {exc}") from exc
    return template


def load_template(name_or_path: str | Path | None, task: str) -> Template:
    """A built-in template by name (``pairwise``, ``likert``, ``binary``, ``score``) or a user's TOML file.

    ``None`` picks the built-in template of ``task``.  A template whose task differs from ``task`` is refused.
    """
    key = str(name_or_path) if name_or_path is not None else task
    if key in BUILTIN_TEMPLATES:
        text = resources.files(__package__).joinpath(f"{key}.toml").read_text(encoding="utf-8")
        template = template_from_mapping(tomllib.loads(text), source="builtin")
    else:
        path = Path(key)
        if not path.is_file():
            raise TemplateProblem(
                f"template {key!r} is neither a built-in ({', '.join(BUILTIN_TEMPLATES)}) nor a readable file"
            )
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise TemplateProblem(f"template {path} is not valid TOML: {exc}") from exc
        data.setdefault("name", path.stem)
        template = template_from_mapping(data, source=str(path))
    if template.task != task:
        raise TemplateProblem(f"template {template.id} is for task {template.task!r}, not {task!r}")
    return template


# -- fencing ----------------------------------------------------------------------------------------------------


def fence(text: str, name: str) -> str:
    """Enclose ``text`` between ``<<<NAME-ID>>>`` and ``<<<END NAME-ID>>>`` where ``ID`` hashes the text.

    The ID is derived from the text (so rendering is deterministic and cacheable) and lengthened until the closing
    line does not occur in the text, so the text can never close its own fence.
    """
    tag_name = "".join(ch if ch.isalnum() else "_" for ch in name.upper())
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    for length in (8, 16, 32, 64):
        tag = f"{tag_name}-{digest[:length]}"
        if tag not in text:
            break
    return f"<<<{tag}>>>\n{text}\n<<<END {tag}>>>"


def truncate(text: str, max_chars: int | None) -> str:
    """Cut ``text`` to ``max_chars`` characters with a visible marker (no cut when ``max_chars`` is None)."""
    if max_chars is None or len(text) <= max_chars:
        return text
    return text[:max_chars] + f"\n[... {len(text) - max_chars} more characters cut]"


# -- profiles ---------------------------------------------------------------------------------------------------


def _as_structure(profile: Any) -> Any:
    if hasattr(profile, "tolist"):  # numpy arrays from parquet
        profile = profile.tolist()
    if isinstance(profile, str):
        stripped = profile.strip()
        if stripped[:1] in ("[", "{"):
            try:
                return json.loads(stripped)
            except json.JSONDecodeError:
                return profile
    return profile


def _pick(entry: Mapping[str, Any], keys: tuple[str, ...]) -> Any:
    for key in keys:
        if key in entry and not _absent(entry[key]):
            return entry[key]
    return None


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, list | tuple):
        return "\n".join(_text(v) for v in value)
    return json.dumps(value, ensure_ascii=False, default=str)


def split_profile(profile: Any) -> dict[str, list[str]]:
    """Split a profile into ``facts`` (attributes, free text), past ``inputs``, past ``outputs`` and ``turns`` (the
    inputs and outputs in their original order, labelled, for the full view).

    Accepted shapes: plain text (all facts); a list whose entries are strings (facts), ``{"attribute": ...}``-like
    dicts (facts) or ``{"input": ..., "output": ...}``-like dicts (history); a dict with ``inputs`` / ``outputs`` /
    ``history`` / ``attributes`` lists and any other keys (facts, rendered ``key: value``).
    """
    parts: dict[str, list[str]] = {"facts": [], "inputs": [], "outputs": [], "turns": []}
    profile = _as_structure(profile)
    if _absent(profile):
        return parts

    def visit_entry(entry: Any) -> None:
        entry = _as_structure(entry)
        if isinstance(entry, Mapping):
            inp, out = _pick(entry, _INPUT_KEYS), _pick(entry, _OUTPUT_KEYS)
            if inp is not None or out is not None:
                if inp is not None:
                    parts["inputs"].append(_text(inp))
                    parts["turns"].append(f"Past input: {_text(inp)}")
                if out is not None:
                    parts["outputs"].append(_text(out))
                    parts["turns"].append(f"Past output: {_text(out)}")
                return
            fact = _pick(entry, _TEXT_KEYS)
            parts["facts"].append(_text(fact) if fact is not None else _text(dict(entry)))
        elif not _absent(entry):
            parts["facts"].append(_text(entry))

    if isinstance(profile, str):
        if profile.strip():
            parts["facts"].append(profile.strip())
    elif isinstance(profile, list | tuple):
        for entry in profile:
            visit_entry(entry)
    elif isinstance(profile, Mapping):
        for key, value in profile.items():
            value = _as_structure(value)
            if _absent(value):
                continue
            if key in ("inputs", "input", "past_inputs"):
                texts = [_text(v) for v in (value if isinstance(value, list) else [value])]
                parts["inputs"].extend(texts)
                parts["turns"].extend(f"Past input: {text}" for text in texts)
            elif key in ("outputs", "output", "past_outputs"):
                texts = [_text(v) for v in (value if isinstance(value, list) else [value])]
                parts["outputs"].extend(texts)
                parts["turns"].extend(f"Past output: {text}" for text in texts)
            elif key in _HISTORY_KEYS + _FACT_LIST_KEYS and isinstance(value, list):
                for entry in value:
                    visit_entry(entry)
            else:
                parts["facts"].append(f"{key}: {_text(value)}")
    else:
        parts["facts"].append(_text(profile))
    return parts


def render_profile(profile: Any, view: str) -> str:
    """The profile as the judge sees it under ``view`` (``full``, ``outputs``, ``inputs``, ``none``).

    ``full`` shows facts, past inputs and past outputs; ``outputs`` only the user's past outputs; ``inputs`` only
    the past inputs; ``none`` nothing.  A plain-text profile has no inputs or outputs to select, so ``outputs`` and
    ``inputs`` refuse it (:class:`ProfileProblem`) rather than silently show nothing.
    """
    if view not in PROFILE_VIEWS:
        raise ProfileProblem(f"profile view must be one of {PROFILE_VIEWS}, not {view!r}")
    if view == "none":
        return ""
    parts = split_profile(profile)
    if view in ("inputs", "outputs") and parts["facts"] and not (parts["inputs"] or parts["outputs"]):
        raise ProfileProblem(
            f"profile view {view!r} needs past inputs/outputs (a list of {{'input': ..., 'output': ...}} or "
            "a dict with 'inputs'/'outputs'), but this profile holds only free text or attributes; use 'full' or 'none'"
        )
    lines: list[str] = []
    if view == "full":  # facts, then the history in its own order (each input next to its output)
        lines += [f"- {fact}" for fact in parts["facts"]]
        lines += parts["turns"]
    elif view == "inputs":
        lines += [f"Past input: {text}" for text in parts["inputs"]]
    else:
        lines += [f"Past output: {text}" for text in parts["outputs"]]
    return "\n".join(lines)


# -- rendering --------------------------------------------------------------------------------------------------

_ENV = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False)


@functools.lru_cache(maxsize=64)
def _compiled(source: str) -> Any:
    return _ENV.from_string(source)


def _cell(item: Mapping[str, Any], column: str) -> str:
    value = item.get(column)
    return "" if _absent(value) else str(value)


def render_messages(
    template: Template,
    item: Mapping[str, Any],
    *,
    order: str = "ab",
    mode: str = "logprobs",
    profile_view: str = "full",
    profile_at: str = "start",
    max_response_chars: int | None = None,
) -> list[dict[str, str]]:
    """The chat messages (system + user) for one item in one order.

    For ``order="ba"`` the original ``response_b`` is shown first (as Response A); the caller maps the verdict back.
    """
    if mode not in VERDICT_MODES:
        raise TemplateProblem(f"verdict mode must be one of {VERDICT_MODES}, not {mode!r}")
    if profile_at not in PROFILE_PLACES:
        raise TemplateProblem(f"profile placement must be 'start' or 'end', not {profile_at!r}")
    first, second = ("response_a", "response_b") if order == "ab" else ("response_b", "response_a")
    prompt = _cell(item, "prompt")
    variables: dict[str, Any] = {
        "prompt": fence(prompt, "REQUEST") if prompt else "",
        "prompt_block": f"{template.prompt_heading}\n{fence(prompt, 'REQUEST')}" if prompt else "",
        "response_a": fence(truncate(_cell(item, first), max_response_chars), "RESPONSE A"),
        "response_b": fence(truncate(_cell(item, second), max_response_chars), "RESPONSE B"),
        "response": (
            fence(truncate(_cell(item, "response"), max_response_chars), "RESPONSE")
            if _cell(item, "response")
            else ""
        ),
        "item": {k: (None if _absent(v) else v) for k, v in item.items()},
        "fence": fence,
    }
    try:
        body = _compiled(template.user).render(**variables).strip()
    except TemplateError as exc:
        raise TemplateProblem(
            f"template {template.id} failed on item {item.get('item_id')!r}: {exc}"
        ) from exc
    profile_text = render_profile(item.get("profile"), profile_view) if "profile" in item else ""
    profile_block = f"{template.profile_heading}\n{fence(profile_text, 'PROFILE')}" if profile_text else ""
    sections = [profile_block, body] if profile_at == "start" else [body, profile_block]
    sections.append(template.answer[mode])
    user = "\n\n".join(s for s in sections if s)
    return [{"role": "system", "content": template.system}, {"role": "user", "content": user}]
