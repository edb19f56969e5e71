"""Gates: pass / fail rules on a saved audit, for CI (``auditor gate audit.json --config gates.toml``).

A rule names a metric, the judges it applies to, which number of the metric's row it tests (``bound``: the point
estimate ``value`` or an interval bound ``ci_low`` / ``ci_high``), a comparison and a threshold::

    [[rule]]
    metric = "cohen_kappa"
    judge = "gpt-4o"          # a name, a list of names, or "*" / omitted: every judge (never the reference)
    bound = "ci_low"          # value | ci_low | ci_high
    op = ">="                 # >= <= > < == !=
    threshold = 0.40
    # reference = "human"     # default: the audit's reference
    # slice = "raters=a~b"    # default: the overall row (no slice)
    # name = "kappa floor"    # shown in the table and the JUnit file

or, compactly, ``rule = ["cohen_kappa ci_low >= 0.40 for gpt-4o", "no_better_rate_gap ci_high <= 0.10"]`` with the
grammar ``METRIC [BOUND] OP THRESHOLD [for JUDGE | for every judge] [vs REFERENCE] [in SLICE]``.

Convention: when ``bound`` is omitted, the rule tests the **conservative interval bound**: ``ci_low`` for ``>=`` /
``>``, ``ci_high`` for ``<=`` / ``<`` (the whole interval must clear the threshold), and ``value`` for ``==`` /
``!=``.  A boolean threshold (``true`` / ``false``, for pass / fail metrics stored as 1 / 0) allows ``==`` and
``!=`` only.  Comparisons are exact; nothing is rounded.

Every check is one (rule, judge) pair.  Exit codes: 0 every check passes, 1 at least one fails, and
:class:`~auditor.errors.ConfigError` (exit 2) when the gate cannot be evaluated: bad TOML, an unknown key, metric,
judge, bound or operator, a metric missing for a judge, or a bound that is missing (NaN) in the audit.  A gate
never skips a check silently.

:func:`evaluate_gates` is pure (dict in, :class:`GateReport` out); :func:`run_gates` adds the terminal table, the
JUnit file, ``$GITHUB_STEP_SUMMARY`` and GitHub ``::error::`` annotations.  The ``auditor gate`` command is
:mod:`auditor.cli.gate`.

>>> doc = {"reference": "human", "judges": ["j"], "metrics": [
...     {"metric": "cohen_kappa", "judge": "j", "reference": "human", "value": 0.5, "ci_low": 0.45,
...      "ci_high": 0.55, "n": 100, "slice": None}]}
>>> report = evaluate_gates(doc, [{"metric": "cohen_kappa", "op": ">=", "threshold": 0.4}])
>>> report.exit_code, report.checks[0].bound, report.checks[0].observed
(0, 'ci_low', 0.45)
"""

from __future__ import annotations

import math
import numbers
import operator
import os
import re
import shlex
import sys
import tomllib
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from auditor.contract import DEFAULT_REFERENCE, validate_document
from auditor.errors import ConfigError, InputError, shown
from auditor.escape import markdown_safe, terminal_safe, xml_safe
from auditor.io import is_missing
from auditor.metrics import METRICS
from auditor.suggest import did_you_mean

__all__ = [
    "BOUNDS",
    "OPERATORS",
    "KNOWN_METRICS",
    "Rule",
    "Check",
    "GateReport",
    "load_rules",
    "check_selection",
    "parse_rule",
    "evaluate_gates",
    "run_gates",
    "github_annotations",
    "load_audit_document",
]

BOUNDS = ("value", "ci_low", "ci_high")
OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    ">=": operator.ge,
    "<=": operator.le,
    ">": operator.gt,
    "<": operator.lt,
    "==": operator.eq,
    "!=": operator.ne,
}
CONSERVATIVE_BOUND = {
    ">=": "ci_low",
    ">": "ci_low",
    "<=": "ci_high",
    "<": "ci_high",
    "==": "value",
    "!=": "value",
}
RULE_KEYS = ("metric", "judge", "bound", "op", "threshold", "reference", "slice", "name")
EVERY_JUDGE = "*"
IN_MEMORY = "<rules>"  # the source of rules given as Python objects or TOML text rather than a file

KNOWN_METRICS: tuple[str, ...] = tuple(METRICS)
"""Metric names the project defines (:mod:`auditor.metrics`); a rule on one of them that this audit lacks (e.g.
``spearman`` on a pairwise task) is reported as missing from the audit rather than as a misspelling."""


# -- rules ------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Rule:
    """One gate rule.  ``judges`` is ``None`` for every judge; ``bound`` is already resolved (never omitted)."""

    metric: str
    op: str
    threshold: float | bool
    bound: str
    judges: tuple[str, ...] | None = None
    reference: str | None = None
    slice: str | None = None
    name: str | None = None
    index: int = 1
    line: int | None = None
    source: str = IN_MEMORY

    @property
    def where(self) -> str:
        """``rule 2 (line 7)``: how messages point at the rule."""
        return _where(self.index, self.line)

    @property
    def text(self) -> str:
        """The rule in the compact form, e.g. ``cohen_kappa ci_low >= 0.4 for gpt-4o``."""
        parts = [self.metric, self.bound, self.op, _fmt_threshold(self.threshold)]
        parts.append("for every judge" if self.judges is None else "for " + ", ".join(self.judges))
        if self.reference:
            parts.append(f"vs {self.reference}")
        if self.slice:
            parts.append(f"in {self.slice}")
        return " ".join(parts)

    @property
    def label(self) -> str:
        return self.name or self.text


def _fmt_threshold(threshold: float | bool) -> str:
    if isinstance(threshold, bool):
        return "true" if threshold else "false"
    return f"{threshold:g}"


def _suggest(word: str, candidates: Iterable[str]) -> str:
    return did_you_mean(word, candidates)


def _listed(names: Iterable[str], limit: int = 10, *, quote: bool = True) -> str:
    """Names for a message: at most ``limit``, each cut to 40 characters (quoted with ``repr`` when ``quote``), then
    ``and N more``: a message never lists a huge audit whole."""
    names = list(names)

    def one(name: str) -> str:
        if quote:
            return shown(name, 40)
        text = str(name)
        return text if len(text) <= 40 else text[:37] + "..."

    more = f" and {len(names) - limit:,} more" if len(names) > limit else ""
    return ", ".join(one(n) for n in names[:limit]) + more


def _where(index: int, line: int | None) -> str:
    return f"rule {index}" + (f" (line {line})" if line else "")


def _file(source: str) -> str | None:
    return None if source == IN_MEMORY else source


def _problem(rule_where: str, source: str, message: str) -> ConfigError:
    return ConfigError(f"{rule_where}: {message}", file=_file(source))


_COMPACT = re.compile(r"^(?P<op>>=|<=|==|!=|>|<)$")
_OP_SPLIT = re.compile(r"(>=|<=|==|!=|>|<)")

#: The longest compact rule read (characters); a longer one is refused before it is parsed.
MAX_RULE_CHARS = 2_000
#: The most rules one gate holds, and the largest gates file read (bytes).
MAX_RULES = 1_000
MAX_GATES_BYTES = 1_000_000


def parse_rule(text: str, *, index: int = 1, line: int | None = None, source: str = IN_MEMORY) -> Rule:
    """Parse the compact form ``METRIC [BOUND] OP THRESHOLD [for JUDGE | for every judge] [vs REF] [in SLICE]``.

    Names holding spaces are quoted (``for "my judge"``); several judges are separated by commas.  A rule longer
    than :data:`MAX_RULE_CHARS` is refused unread; parsing is one pass over the tokens (linear in the length).
    """
    where = _where(index, line)
    expected = (
        "expected 'METRIC [BOUND] OP THRESHOLD [for JUDGE | for every judge] [vs REFERENCE] [in SLICE]', "
        "e.g. 'cohen_kappa ci_low >= 0.40 for gpt-4o'"
    )
    if len(text) > MAX_RULE_CHARS:
        raise _problem(
            where, source, f"is {len(text):,} characters long; a compact rule has at most {MAX_RULE_CHARS:,}"
        )
    try:
        tokens = shlex.split(text)
    except ValueError as exc:
        raise _problem(where, source, f"cannot read {shown(text, 200)} ({exc}); {expected}") from None
    # allow '>=0.4' or 'ci_low>=0.4' written without spaces
    tokens = [t for token in tokens for t in _OP_SPLIT.split(token) if t]
    op_at = next((i for i, t in enumerate(tokens) if _COMPACT.match(t)), None)
    if op_at is None or op_at not in (1, 2) or op_at + 1 >= len(tokens):
        raise _problem(where, source, f"cannot read {shown(text, 200)}; {expected}")
    fields: dict[str, Any] = {
        "metric": tokens[0],
        "op": tokens[op_at],
        "threshold": _threshold_token(tokens[op_at + 1]),
    }
    if op_at == 2:
        fields["bound"] = tokens[1]
    at, end = op_at + 2, len(tokens)  # one cursor over the tokens: every branch moves it forward
    seen: set[str] = set()
    while at < end:
        word = tokens[at].lower()
        clause = {"for": "judge", "vs": "reference", "against": "reference", "in": "slice"}.get(word)
        if clause in seen:
            raise _problem(
                where, source, f"names the {clause} twice ({word!r} again) in {shown(text, 200)}; {expected}"
            )
        seen.add(clause or "")
        if word == "for" and at + 1 < end:
            if [w.lower() for w in tokens[at + 1 : at + 3]] in (["every", "judge"], ["all", "judges"]):
                fields["judge"], at = EVERY_JUDGE, at + 3
            else:
                last = at + 1
                while tokens[last].endswith(",") and last + 1 < end:  # "for gpt-4o, claude-3.5"
                    last += 1
                names = [n.strip() for n in ",".join(tokens[at + 1 : last + 1]).split(",") if n.strip()]
                fields["judge"] = names if len(names) > 1 else names[0] if names else ""
                at = last + 1
        elif word in ("vs", "against") and at + 1 < end:
            fields["reference"], at = tokens[at + 1], at + 2
        elif word == "in" and at + 1 < end:
            fields["slice"], at = tokens[at + 1], at + 2
        else:
            raise _problem(
                where,
                source,
                f"cannot read {shown(' '.join(tokens[at:]), 100)} in {shown(text, 200)}; {expected}",
            )
    return _rule_from_mapping(fields, index=index, line=line, source=source)


def _threshold_token(token: str) -> float | bool | str:
    if token.lower() in ("true", "false"):
        return token.lower() == "true"
    try:
        return float(token)
    except ValueError:
        return token  # rejected with a clear message by _rule_from_mapping


def _rule_from_mapping(fields: Mapping[str, Any], *, index: int, line: int | None, source: str) -> Rule:
    where = _where(index, line)
    unknown = [k for k in fields if k not in RULE_KEYS]
    if unknown:
        key = unknown[0]
        raise _problem(
            where,
            source,
            f"unknown key {shown(key)}{_suggest(key, RULE_KEYS)} (a rule takes {', '.join(RULE_KEYS)})",
        )
    for key in ("metric", "op", "threshold"):
        if key not in fields:
            raise _problem(
                where,
                source,
                f"has no {key!r}; a rule needs metric, op and threshold, e.g. "
                'metric = "cohen_kappa", op = ">=", threshold = 0.40',
            )
    metric = fields["metric"]
    if not isinstance(metric, str) or not metric.strip():
        raise _problem(where, source, f"metric must be a metric name (a string), got {shown(metric)}")
    op = fields["op"]
    if op not in OPERATORS:
        raise _problem(where, source, f"unknown op {shown(op)}; expected one of {' '.join(OPERATORS)}")
    threshold = fields["threshold"]
    if isinstance(threshold, bool):
        if op not in ("==", "!="):
            raise _problem(where, source, f"a true / false threshold takes op '==' or '!=', not {op!r}")
    elif isinstance(threshold, (int, float)):
        threshold = float(threshold)
        if math.isnan(threshold):
            raise _problem(where, source, "threshold is NaN; expected a number or true / false")
    else:
        raise _problem(where, source, f"threshold must be a number or true / false, got {shown(threshold)}")
    bound = fields.get("bound")
    if bound is None:
        bound = "value" if isinstance(threshold, bool) else CONSERVATIVE_BOUND[op]
    elif bound not in BOUNDS:
        raise _problem(
            where,
            source,
            f"unknown bound {shown(bound)}{_suggest(str(bound), BOUNDS)} (expected one of {', '.join(BOUNDS)})",
        )
    judge = fields.get("judge")
    judges: tuple[str, ...] | None
    if judge is None or judge == EVERY_JUDGE:
        judges = None
    elif isinstance(judge, str) and judge.strip():
        judges = (judge,)
    elif isinstance(judge, list) and judge and all(isinstance(j, str) and j.strip() for j in judge):
        if EVERY_JUDGE in judge and len(judge) > 1:
            others = ", ".join(shown(j) for j in judge if j != EVERY_JUDGE)
            raise _problem(
                where, source, f'judge "*" (every judge) is listed with {others}; give "*" alone or the names'
            )
        judges = None if EVERY_JUDGE in judge else tuple(dict.fromkeys(judge))
    else:
        raise _problem(
            where, source, f'judge must be a judge name, a list of names or "*", got {shown(judge)}'
        )
    for key in ("reference", "slice", "name"):
        value = fields.get(key)
        if value is not None and not isinstance(value, str):
            raise _problem(where, source, f"{key} must be a string, got {shown(value)}")
    return Rule(
        metric=metric.strip(),
        op=op,
        threshold=threshold,
        bound=bound,
        judges=judges,
        reference=fields.get("reference"),
        slice=fields.get("slice") or None,
        name=fields.get("name"),
        index=index,
        line=line,
        source=source,
    )


def _rule_lines(text: str) -> list[int]:
    """Line numbers (1-based) of the ``[[rule]]`` headers, in order."""
    return [
        i for i, line in enumerate(text.splitlines(), start=1) if re.match(r"^\s*\[\[\s*rule\s*\]\]", line)
    ]


def _string_line(text: str, needle: str, start: int, line: int) -> tuple[int | None, int, int]:
    """The line of the next ``needle`` at or after ``start`` (whose line is ``line``): (its line or ``None``, the
    cursor after it, the cursor's line).  Counting only from the cursor keeps a file of many rules linear."""
    at = text.find(needle, start)
    if at < 0:
        return None, start, line
    found = line + text.count("\n", start, at)
    return found, at + len(needle), found + needle.count("\n")


def load_rules(source: str | Path | Iterable[Mapping[str, Any] | str]) -> list[Rule]:
    """Rules from a TOML file (a :class:`~pathlib.Path`), TOML text, a compact rule string, or a list of mappings /
    compact strings.  A ``str`` naming an existing file is read as that file."""
    if isinstance(source, Path):
        try:
            if source.exists() and not source.is_file():  # a folder, a FIFO or a device: never read (or hang)
                raise ConfigError("is not a regular file; expected a gates TOML file", file=str(source))
            if source.stat().st_size > MAX_GATES_BYTES:
                raise ConfigError(
                    f"is larger than {MAX_GATES_BYTES:,} bytes; not a gates file", file=str(source)
                )
            text = source.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ConfigError(
                "does not exist; expected a gates TOML file with [[rule]] tables", file=str(source)
            ) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot be read ({exc})", file=str(source)) from None
        return _rules_from_toml(text, str(source))
    if isinstance(source, str):
        if "\n" not in source and source.strip() and len(source) < 1024 and Path(source).is_file():
            return load_rules(Path(source))
        try:
            return _rules_from_toml(source, IN_MEMORY)
        except ConfigError as toml_error:
            if "\n" in source.strip():
                raise
            try:
                return [parse_rule(source)]
            except ConfigError:
                raise toml_error from None
    if isinstance(source, Mapping):
        raise ConfigError(
            "rules must be a list of rules (mappings or compact strings), a TOML text or a path; "
            "got one mapping: wrap it in a list"
        )
    rules = [
        _one_rule(entry, index=i, line=None, source=IN_MEMORY) for i, entry in enumerate(source, start=1)
    ]
    if len(rules) > MAX_RULES:
        raise ConfigError(f"{len(rules):,} rules given; a gate holds at most {MAX_RULES:,}")
    if not rules:
        raise ConfigError("no rules given; a gate needs at least one")
    return rules


def _one_rule(entry: Any, *, index: int, line: int | None, source: str) -> Rule:
    if isinstance(entry, str):
        return parse_rule(entry, index=index, line=line, source=source)
    if isinstance(entry, Mapping):
        return _rule_from_mapping(entry, index=index, line=line, source=source)
    where = _where(index, line)
    raise _problem(
        where,
        source,
        f"expected a table of metric, op, threshold, ... or a compact string, got {shown(entry)}",
    )


def _rules_from_toml(text: str, source: str) -> list[Rule]:
    if len(text) > MAX_GATES_BYTES:
        raise ConfigError(
            f"is {len(text):,} characters long; a gates file has at most {MAX_GATES_BYTES:,}",
            file=_file(source),
        )
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"is not valid TOML: {exc}", file=_file(source)) from None
    except RecursionError:
        raise ConfigError("is not valid TOML: nested too deep", file=_file(source)) from None
    unknown = [k for k in data if k != "rule"]
    if unknown:
        key = unknown[0]
        hint = _suggest(key, ["rule"]) or (
            "; rule keys belong under a [[rule]] header" if key in RULE_KEYS else ""
        )
        raise ConfigError(
            f"unknown top-level key {key!r}{hint} (a gates file holds [[rule]] tables or "
            'rule = ["cohen_kappa ci_low >= 0.40 for gpt-4o", ...])',
            file=_file(source),
        )
    entries = data.get("rule")
    if entries is None:
        raise ConfigError(
            "holds no rule; add [[rule]] tables (metric, judge, bound, op, threshold) or "
            'rule = ["cohen_kappa ci_low >= 0.40 for gpt-4o"]',
            file=_file(source),
        )
    if isinstance(entries, (str, dict)):
        entries = [entries]
    headers = _rule_lines(text)
    if isinstance(entries, list) and len(entries) > MAX_RULES:
        raise ConfigError(
            f"holds {len(entries):,} rules; a gate holds at most {MAX_RULES:,}",
            file=_file(source),
            column="rule",
        )
    rules, cursor, cursor_line = [], 0, 1
    for i, entry in enumerate(entries, start=1):
        line = None
        if isinstance(entry, dict) and len(headers) == len(entries):
            line = headers[i - 1]
        elif isinstance(entry, str):
            line, cursor, cursor_line = _string_line(text, entry, cursor, cursor_line)
        rules.append(_one_rule(entry, index=i, line=line, source=source))
    if not rules:
        raise ConfigError("holds no rule; a gate needs at least one", file=_file(source))
    return rules


def check_selection(
    rules: Iterable[Rule], selected: Iterable[str] | None, task: str | None, option: str
) -> None:
    """Refuse (:class:`~auditor.errors.ConfigError`, exit 2) a rule on a metric that an audit with the metric
    selection ``selected`` (``option``: where it was given) does not compute, before the audit runs; no selection
    (None) computes every metric."""
    if selected is None:
        return
    from auditor.engine.selection import computed

    kept = computed(selected, task or "")
    for rule in rules:
        if rule.metric in KNOWN_METRICS and rule.metric not in kept:
            raise _problem(
                rule.where,
                rule.source,
                f"tests {rule.metric!r}, which {option} leaves out (it selects {', '.join(sorted(kept))}); "
                f"add {rule.metric} to {option} or drop the rule",
            )


# -- evaluation -------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Check:
    """One rule applied to one judge: the metric's row, the tested number and the verdict."""

    rule: Rule
    judge: str
    reference: str
    observed: float
    passed: bool
    value: float | None
    ci_low: float | None
    ci_high: float | None
    n: int | None

    @property
    def bound(self) -> str:
        return self.rule.bound

    @property
    def observed_text(self) -> str:
        """The tested number; ``true`` / ``false`` for a pass / fail rule."""
        if isinstance(self.rule.threshold, bool):
            return _fmt_threshold(bool(self.observed))
        return _fmt(self.observed)

    @property
    def message(self) -> str:
        """``cohen_kappa ci_low = 0.450 for gpt-3.5-turbo (vs human) fails: needs >= 0.6``."""
        verdict = "passes" if self.passed else "fails"
        return (
            f"{self.rule.metric} {self.bound} = {self.observed_text} for {self.judge} "
            f"(vs {self.reference}{', ' + self.rule.slice if self.rule.slice else ''}) {verdict}: needs "
            f"{self.rule.op} {_fmt_threshold(self.rule.threshold)}"
        )


def _fmt(x: float | None) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    return f"{x:.3f}" if abs(x) < 1e5 else f"{x:.4g}"


def _interval_markup(check: Check) -> str:
    """The value and interval with the tested number in bold (rich markup)."""
    if isinstance(check.rule.threshold, bool):
        return f"[bold]{check.observed_text}[/]"
    parts = {"value": _fmt(check.value), "ci_low": _fmt(check.ci_low), "ci_high": _fmt(check.ci_high)}
    parts[check.bound] = f"[bold]{parts[check.bound]}[/]"
    if check.ci_low is None or check.ci_high is None:
        return parts["value"]
    return f"{parts['value']} [{parts['ci_low']}, {parts['ci_high']}]".replace(" [", " \\[", 1)


def _interval(check: Check) -> str:
    if isinstance(check.rule.threshold, bool):
        return check.observed_text
    if check.ci_low is None or check.ci_high is None:
        return _fmt(check.value)
    return f"{_fmt(check.value)} [{_fmt(check.ci_low)}, {_fmt(check.ci_high)}]"


@dataclass
class GateReport:
    """The outcome of a gate: one :class:`Check` per (rule, judge), in rule order."""

    checks: list[Check]
    source: str = IN_MEMORY
    title: str | None = None
    simulated: bool = False
    level: float | None = None

    @property
    def failed(self) -> list[Check]:
        return [c for c in self.checks if not c.passed]

    @property
    def passed(self) -> bool:
        return not self.failed

    @property
    def exit_code(self) -> int:
        """0 when every check passes, 1 otherwise."""
        return 0 if self.passed else 1

    @property
    def headline(self) -> str:
        n, bad = len(self.checks), len(self.failed)
        if not bad:
            return f"all {n} gate checks pass"
        return f"{bad} of {n} gate checks fail"

    def to_frame(self):
        """A tidy DataFrame: one row per check."""
        import pandas as pd

        return pd.DataFrame(
            [
                {
                    "rule": c.rule.index,
                    "name": c.rule.label,
                    "metric": c.rule.metric,
                    "judge": c.judge,
                    "reference": c.reference,
                    "slice": c.rule.slice,
                    "bound": c.bound,
                    "op": c.rule.op,
                    "threshold": c.rule.threshold,
                    "observed": c.observed,
                    "value": c.value,
                    "ci_low": c.ci_low,
                    "ci_high": c.ci_high,
                    "n": c.n,
                    "passed": c.passed,
                }
                for c in self.checks
            ]
        )

    # -- renderings ---------------------------------------------------------------------------------------------
    def _level_text(self) -> str:
        return f"{self.level:.0%} CI" if self.level else "CI"

    def to_markdown(self) -> str:
        """A Markdown summary (for ``$GITHUB_STEP_SUMMARY`` or a PR comment)."""
        mark = "✅" if self.passed else "❌"
        title = f" — {markdown_safe(self.title)}" if self.title else ""
        sim = " (simulated data)" if self.simulated else ""
        lines = [
            f"## {mark} Gates{title}{sim}",
            "",
            f"**{self.headline}**"
            + (f" (rules from {markdown_safe(self.source)})." if _file(self.source) else "."),
            "",
            f"| # | rule | judge | value [{self._level_text()}] | n | tested | verdict |",
            "|---|---|---|---|---|---|---|",
        ]
        for c in self.checks:
            tested = f"{c.bound} {c.observed_text} {c.rule.op} {_fmt_threshold(c.rule.threshold)}"
            verdict = "pass" if c.passed else "**FAIL**"
            lines.append(
                f"| {c.rule.index} | {markdown_safe(c.rule.label)} | {markdown_safe(c.judge)} | {_interval(c)} | "
                f"{'' if c.n is None else c.n} | `{tested}` | {verdict} |"
            )
        lines.append("")
        return "\n".join(lines)

    def to_junit(self) -> str:
        """JUnit XML: one test suite, one test case per (rule, judge), a ``<failure>`` for each failed check.  Text
        from the data passes through :func:`~auditor.escape.xml_safe`, so the file is always well-formed XML 1.0."""
        suite_name = f"auditor gates ({xml_safe(self.source)})" if _file(self.source) else "auditor gates"
        suites = ET.Element(
            "testsuites",
            name="auditor gates",
            tests=str(len(self.checks)),
            failures=str(len(self.failed)),
            errors="0",
        )
        suite = ET.SubElement(
            suites,
            "testsuite",
            name=suite_name,
            tests=str(len(self.checks)),
            failures=str(len(self.failed)),
            errors="0",
            skipped="0",
            time="0",
        )
        if self.title:
            props = ET.SubElement(suite, "properties")
            ET.SubElement(props, "property", name="audit_title", value=xml_safe(self.title))
            ET.SubElement(props, "property", name="simulated", value=str(bool(self.simulated)).lower())
        stem = xml_safe(Path(self.source).stem) or "gates"
        for c in self.checks:
            case = ET.SubElement(
                suite,
                "testcase",
                classname=f"{stem}.rule{c.rule.index}",
                name=xml_safe(f"{c.rule.label} [{c.judge}]"),
                time="0",
            )
            if c.rule.line:
                case.set("file", xml_safe(self.source))
                case.set("line", str(c.rule.line))
            detail = xml_safe(f"{c.message}\nvalue {_interval(c)}, n = {c.n}")
            if not c.passed:
                failure = ET.SubElement(case, "failure", message=xml_safe(c.message), type="GateFailed")
                failure.text = detail
            else:
                ET.SubElement(case, "system-out").text = detail
        ET.indent(suites)
        return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"

    def print_table(self, console=None) -> None:
        """A rich table of the checks with value, interval, tested bound and verdict; names from the data pass
        through :func:`~auditor.escape.terminal_safe` (no escape sequence reaches the terminal)."""
        from rich import box
        from rich.console import Console
        from rich.markup import escape
        from rich.table import Table

        console = console or Console()
        where = f" ({escape(terminal_safe(self.source))})" if _file(self.source) else ""
        table = Table(
            title=f"[bold]Gates[/]{where}",
            title_justify="left",
            box=box.SIMPLE_HEAD,
            pad_edge=False,
            collapse_padding=True,
        )
        table.add_column("#", justify="right", no_wrap=True)
        table.add_column("verdict", no_wrap=True)
        table.add_column("rule", min_width=10, overflow="fold")
        table.add_column("judge", no_wrap=True)
        table.add_column(f"value [{self._level_text()}]", justify="right", no_wrap=True)
        table.add_column("needs", no_wrap=True)
        previous = None
        for c in self.checks:
            first = c.rule.index != previous
            if first and previous is not None:
                table.add_section()
            previous = c.rule.index
            verdict = "[green]pass[/]" if c.passed else "[bold red]FAIL[/]"
            table.add_row(
                str(c.rule.index) if first else "",
                verdict,
                escape(terminal_safe(c.rule.label)) if first else "",
                escape(terminal_safe(c.judge)),
                _interval_markup(c),
                escape(f"{c.bound} {c.rule.op} {_fmt_threshold(c.rule.threshold)}"),
            )
        if self.checks:
            table.caption = "the tested number is in bold"
        console.print(table)
        style = "green" if self.passed else "bold red"
        console.print(f"[{style}]{escape(self.headline)}[/]")


def _number(x: Any) -> float | None:
    """A number of a metric row: ``None`` for null / NaN; only a JSON number (or true / false, stored as 1 / 0) is
    read, never text: a string such as ``"NaN"`` or ``"0.9"`` is ``None``, so no comparison can pass on it."""
    if isinstance(x, bool):
        return float(x)
    if not isinstance(x, numbers.Real) or is_missing(x, blank=False):
        return None
    return float(x)


def evaluate_gates(
    doc: Mapping[str, Any],
    rules: str | Path | Iterable[Mapping[str, Any] | str] | list[Rule],
) -> GateReport:
    """Apply ``rules`` to an audit document (the ``audit.json`` dict).  Pure: no printing, no files written.

    Raises :class:`~auditor.errors.ConfigError` when a rule cannot be evaluated on this audit.
    """
    if isinstance(rules, list) and rules and all(isinstance(r, Rule) for r in rules):
        parsed = list(rules)
    else:
        parsed = load_rules(rules)  # type: ignore[arg-type]
    source = parsed[0].source if parsed else IN_MEMORY
    validate_document(
        doc
    )  # the CLI validated the file already (naming it); a dict from Python is checked here
    metrics = doc["metrics"]
    reference = doc.get("reference") or DEFAULT_REFERENCE
    model_judges = [j for j in (doc.get("judges") or []) if j != reference]
    if not model_judges:
        model_judges = sorted(
            {str(r.get("judge")) for r in metrics if r.get("judge") not in (None, reference)}
        )
    audit_metrics = {str(r.get("metric")) for r in metrics}
    audit_judges = set(model_judges) | {str(r.get("judge")) for r in metrics if r.get("judge") is not None}
    audit_judges.add(reference)
    index: dict[tuple[str, str, str, str | None], list[Mapping[str, Any]]] = {}
    for row in metrics:
        key = (
            str(row.get("metric")),
            str(row.get("judge")),
            str(row.get("reference")),
            None if is_missing(row.get("slice"), blank=False) else str(row.get("slice")),
        )
        index.setdefault(key, []).append(row)
    resamples = (doc.get("bootstrap") or {}).get("resamples")

    checks = []
    for rule in parsed:

        def problem(message: str, rule: Rule = rule) -> ConfigError:
            return _problem(rule.where, rule.source, message)

        if rule.metric not in audit_metrics:
            present = _listed(sorted(audit_metrics), quote=False)
            if rule.metric in KNOWN_METRICS:
                raise problem(
                    f"metric {rule.metric!r} is not in this audit (task {doc.get('task')}); it holds "
                    f"{present}"
                )
            hint = _suggest(rule.metric, audit_metrics | set(KNOWN_METRICS))
            raise problem(f"unknown metric {shown(rule.metric)}" + (hint or f"; this audit holds {present}"))
        ref = rule.reference or reference
        judges = model_judges if rule.judges is None else list(rule.judges)
        if not judges:
            raise problem("the audit holds no judge besides the reference, so 'every judge' selects nothing")
        for judge in judges:
            if judge not in audit_judges:
                raise problem(
                    f"unknown judge {shown(judge)}{_suggest(judge, audit_judges)} (this audit's judges: "
                    f"{_listed(model_judges, quote=False)}; reference {_listed([reference], quote=False)})"
                )
        for judge in judges:
            rows = index.get((rule.metric, judge, ref, rule.slice), [])
            if not rows:
                raise problem(_missing_row(index, rule, judge, ref))
            if len(rows) > 1:
                raise problem(
                    f"metric {rule.metric!r} has {len(rows)} rows for judge {judge!r} (reference "
                    f"{ref!r}); name a slice"
                )
            row = rows[0]
            raw = row.get(rule.bound)
            observed = _number(raw)
            if observed is None:
                if rule.bound == "value" or _number(row.get("value")) is None:
                    why = "the metric is undefined for this judge (e.g. a constant label)"
                elif resamples == 0:
                    why = "the audit has no intervals (bootstrap resamples 0); audit with resamples"
                else:
                    why = (
                        "its interval could not be computed (e.g. too few clusters); "
                        "check the audit's warnings"
                    )
                raise problem(f"{rule.bound} of {rule.metric!r} for judge {judge!r} is missing (NaN): {why}")
            if isinstance(rule.threshold, bool):
                if observed not in (0.0, 1.0):
                    raise problem(
                        f"{rule.metric!r} is not a pass / fail metric ({rule.bound} {observed:g} for "
                        f"{judge!r}); use a number threshold"
                    )
                passed = OPERATORS[rule.op](bool(observed), rule.threshold)
            else:
                passed = OPERATORS[rule.op](observed, rule.threshold)
            n = row.get("n")
            checks.append(
                Check(
                    rule=rule,
                    judge=judge,
                    reference=ref,
                    observed=observed,
                    passed=bool(passed),
                    value=_number(row.get("value")),
                    ci_low=_number(row.get("ci_low")),
                    ci_high=_number(row.get("ci_high")),
                    n=None if is_missing(n, blank=False) else int(n),
                )
            )
    level = (doc.get("bootstrap") or {}).get("level")
    return GateReport(
        checks,
        source=source,
        title=doc.get("title"),
        simulated=bool(doc.get("simulated")),
        level=float(level) if isinstance(level, (int, float)) else None,
    )


def _missing_row(
    index: Mapping[tuple[str, str, str, str | None], Any], rule: Rule, judge: str, ref: str
) -> str:
    """Why no row matches (metric, judge, reference, slice), pointing at the rows that do exist."""
    where = f"reference {ref!r}" + (f", slice {rule.slice!r}" if rule.slice else "")
    message = f"metric {rule.metric!r} is missing for judge {shown(judge)} ({where})"
    of_metric = [k for k in index if k[0] == rule.metric]
    refs = sorted({k[2] for k in of_metric if k[1] == judge})
    if refs and ref not in refs:
        return f"{message} (rows exist for reference {_listed(refs, quote=False)})"
    slices = sorted({k[3] for k in of_metric if k[1] == judge and k[2] == ref and k[3] is not None})
    if rule.slice is not None and rule.slice not in {k[3] for k in of_metric}:
        hint = _suggest(rule.slice, slices)
        listed = f"; its slices: {_listed(slices)}" if slices and not hint else ""
        return f"{message}: no slice {shown(rule.slice)} in this audit{hint}{listed}"
    have = sorted({k[1] for k in of_metric if k[2] == ref and k[3] == rule.slice})
    return f"{message} (it exists for {_listed(have, quote=False)})" if have else message


# -- CI side effects --------------------------------------------------------------------------------------------
def _escape_data(text: str) -> str:
    return terminal_safe(text).replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def github_annotations(report: GateReport) -> list[str]:
    """``::error file=...,line=...,title=...::message`` workflow commands, one per failed check."""
    out = []
    for c in report.failed:
        props = []
        if c.rule.line and report.source != IN_MEMORY:
            props += [f"file={_escape_property(report.source)}", f"line={c.rule.line}"]
        props.append(f"title={_escape_property(f'Gate failed: {c.rule.label} [{c.judge}]')}")
        out.append(f"::error {','.join(props)}::{_escape_data(c.message)}")
    return out


def run_gates(doc: dict, rules_path: Path, *, junit: Path | None = None, console=None) -> int:
    """Evaluate the rules in ``rules_path`` on the audit ``doc`` and report them (:func:`report_gates`); returns
    the exit code.  A gate that cannot be evaluated raises :class:`~auditor.errors.ConfigError` (exit 2) before
    anything is written."""
    return report_gates(evaluate_gates(doc, Path(rules_path)), junit=junit, console=console)


def report_gates(report: GateReport, *, junit: Path | None = None, console=None) -> int:
    """Report evaluated gates; returns the exit code: 0 every check passes, 1 one fails.

    Prints the table to ``console`` (default: stdout); writes ``junit`` (JUnit XML, atomically) when given;
    appends the Markdown summary to ``$GITHUB_STEP_SUMMARY`` when set; prints ``::error::`` annotations for failed
    checks when ``$GITHUB_ACTIONS`` is set.
    """
    from rich.console import Console
    from rich.markup import escape

    from auditor.io import write_text

    console = console or Console()
    report.print_table(console)
    if junit is not None:
        try:
            write_text(junit, report.to_junit())
        except OSError as exc:
            raise InputError(f"cannot write the JUnit file ({exc})", file=str(junit)) from None
        console.print(f"wrote {escape(terminal_safe(str(junit)))}", highlight=False)
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        try:
            with open(summary, "a", encoding="utf-8") as fh:
                fh.write(report.to_markdown() + "\n")
        except OSError as exc:  # the verdict stands; say that the summary is missing
            print(
                f"warning: cannot append the gate summary to $GITHUB_STEP_SUMMARY ({summary}): {exc}",
                file=sys.stderr,
            )
    if os.environ.get("GITHUB_ACTIONS"):
        for line in github_annotations(report):
            sys.stdout.write(line + "\n")
        sys.stdout.flush()
    return report.exit_code


def load_audit_document(path: Path) -> dict:
    """The ``audit.json`` dict of a saved audit (bad files raise :class:`~auditor.errors.InputError`)."""
    from auditor.result import AuditResult

    return AuditResult.load(path).to_dict()
