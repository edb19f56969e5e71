"""The compact gate-rule parser on any text: it answers with a rule or one clear error, and its work is bounded.

Work is counted in operations, not seconds: the number of Python lines executed while parsing (``sys.settrace``
line events, in the parser and in everything it calls, shlex included), which is the same on any machine.  A rule
longer than :data:`auditor.gates.MAX_RULE_CHARS` is refused after a constant number of operations, however long;
below the cap the count grows linearly with the length (twice the clauses, at most about twice the work).
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from auditor.errors import ConfigError
from auditor.gates import MAX_RULE_CHARS, Rule, parse_rule
from tests.opcount import lines_executed

#: Operations per character allowed below the cap (measured: about 20 for shlex and the clause loop) plus a constant.
OPS_PER_CHAR = 60
OPS_CONSTANT = 3_000


def operations(text: str) -> tuple[int, Rule | ConfigError]:
    """(Python lines executed by ``parse_rule(text)``, its rule or its error)."""
    return lines_executed(lambda: parse_rule(text), ConfigError)


PIECES = st.sampled_from(
    [
        "in x",
        "vs y",
        "for a,",
        "for",
        ",",
        ">=",
        "<",
        "0",
        "'",
        '"',
        "every",
        "judge",
        "a,b,",
        "ci_low",
        "\\",
        "\n",
    ]
)
ADVERSARIAL = st.lists(PIECES, max_size=400).map(lambda parts: "agreement value >= 0 " + " ".join(parts))


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=300))
def test_any_text_gives_a_rule_or_one_line_error(text):
    _, outcome = operations(text)
    if isinstance(outcome, ConfigError):
        assert "\n" not in str(outcome) and len(str(outcome)) < 4 * MAX_RULE_CHARS
    else:
        assert isinstance(outcome, Rule) and outcome.metric


@settings(max_examples=60, deadline=None)
@given(ADVERSARIAL)
def test_adversarial_rules_cost_at_most_linear_operations(text):
    ops, outcome = operations(text)
    assert isinstance(outcome, (Rule, ConfigError))
    assert ops <= OPS_PER_CHAR * len(text) + OPS_CONSTANT, (ops, len(text))


def test_a_rule_over_the_cap_is_refused_in_constant_operations():
    small, _ = operations("agreement value >= 0 for " + "a, " * ((MAX_RULE_CHARS - 40) // 3) + "llm")
    huge, outcome = operations("agreement value >= 0 for " + "a, " * 3_000_000 + "llm")  # 9 MB
    assert isinstance(outcome, ConfigError) and "characters long" in str(outcome)
    assert huge < 100 and huge < small / 10, (huge, small)


def test_work_doubles_at_most_when_the_clauses_double():
    """Many clauses (each slicing the rest in the old parser): 2x the clauses cost at most ~2x the operations."""
    ops = [operations("agreement value >= 0" + " in x" * n)[0] for n in (150, 300)]
    assert ops[1] <= 2.2 * ops[0], ops
    judges = [operations("agreement value >= 0 for " + "a, " * n + "b")[0] for n in (300, 600)]
    assert judges[1] <= 2.2 * judges[0], judges
