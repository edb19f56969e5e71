"""The dedicated sections: persona and profile views, position bias, PPI++, the alt-test and juries.

The audit is computed by the real core on a small likert study built here: a judge ``j`` with profile-view and
persona variants (``j|profile_view=...`` with ``prompt_tokens``, ``j|persona=removed|swapped``), a judge ``pos``
that saw both orders, three human raters who labelled 200 of the 240 items (so PPI++ has unlabelled items) and
the juries the core adds.  Every expected number is read from the audit dict and formatted here independently.
"""

from __future__ import annotations

import copy
import io
import re

import numpy as np
import pandas as pd
import pytest
from mdtables import markdown_parser, parse_tables
from report_fixtures import build_likert_audit, build_pairwise_audit
from rich.console import Console

import auditor
import reports

BASE = "j"
VIEWS = ("full@start", "outputs@start", "none@start")


def _study(seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    users, per = 30, 8
    n = users * per
    ids = [f"i{i:03d}" for i in range(n)]
    user = [f"u{i // per:02d}" for i in range(n)]
    items = pd.DataFrame({"item_id": ids, "user_id": user, "profile": [f"likes {u}" for u in user]})
    truth = rng.normal(size=n)

    def rate(x: np.ndarray) -> np.ndarray:
        return np.clip(np.round(3 + 1.2 * x), 1, 5).astype(int)

    rows: list[dict] = []
    for rater in ("r1", "r2", "r3"):
        ratings = rate(truth + 0.5 * rng.normal(size=n))
        rows += [
            {"item_id": ids[i], "judge": "human", "rater": rater, "label": str(ratings[i])}
            for i in range(200)
        ]
    base_noise = rng.normal(size=n)

    def judge(name: str, signal: float, keep: float, tokens: float) -> list[dict]:
        noise = keep * base_noise + np.sqrt(1 - keep**2) * rng.normal(size=n)
        ratings = rate(0.3 + signal * truth + np.sqrt(1 - signal**2) * noise)
        spent = np.round(tokens + rng.normal(0, 3, n)).astype(int)
        return [
            {"item_id": ids[i], "judge": name, "label": str(ratings[i]), "prompt_tokens": int(spent[i])}
            for i in range(n)
        ]

    own = judge(BASE, 0.7, 1.0, 600)
    rows += own + [dict(r, judge=f"{BASE}|profile_view=full@start") for r in own]
    rows += judge(f"{BASE}|profile_view=outputs@start", 0.8, 0.8, 500)
    none = judge(f"{BASE}|profile_view=none@start", 0.2, 0.6, 400)
    rows += none + [dict(r, judge=f"{BASE}|persona=removed") for r in none]
    rows += judge(f"{BASE}|persona=swapped", 0.1, 0.6, 600)
    for order, shift in (("ab", -0.8), ("ba", 0.8)):  # prefers the response shown first
        ratings = rate(0.6 * truth + shift + 0.6 * rng.normal(size=n))
        rows += [
            {"item_id": ids[i], "judge": "pos", "order": order, "label": str(ratings[i])} for i in range(n)
        ]
    return pd.DataFrame(rows), items


@pytest.fixture(scope="module")
def probe_audit() -> dict:
    labels, items = _study()
    return auditor.audit(labels, items=items, task="likert", resamples=200).to_dict()


# -- formatting written out here, independently of reports.format ----------------------------------------------------


def _row(audit: dict, metric: str, judge: str, reference: str = "human", slice_: str | None = None) -> dict:
    found = [
        m
        for m in audit["metrics"]
        if m["metric"] == metric
        and m["judge"] == judge
        and m["reference"] == reference
        and m["slice"] == slice_
    ]
    assert len(found) == 1, (metric, judge, reference, slice_)
    return found[0]


def _num(row: dict) -> str:
    return f"{row['value']:.3f} [{row['ci_low']:.3f}, {row['ci_high']:.3f}]"


def _pct(row: dict) -> str:
    return f"{row['value'] * 100:.1f}% [{row['ci_low'] * 100:.1f}, {row['ci_high'] * 100:.1f}]"


def _tokens(row: dict) -> str:
    return f"{row['value']:,.0f} [{row['ci_low']:.0f}, {row['ci_high']:.0f}]"


def _table(tables, heading: str):
    found = [t for t in tables if t.heading == heading]
    assert found, [t.heading for t in tables]
    return found[0]


def _rows_by(table, column: str) -> dict[str, dict[str, str]]:
    index = table.header.index(column)
    return {row[index]: dict(zip(table.header, row, strict=True)) for row in table.rows}


def _best_view(audit: dict) -> str:
    kappas = {
        v: _row(audit, "cohen_kappa_quadratic", BASE, slice_=f"profile_view={v}")["value"] for v in VIEWS
    }
    return max(kappas, key=kappas.get)


# -- persona and profile views ----------------------------------------------------------------------------------


def test_profile_view_table_holds_each_views_numbers_from_the_audit_and_marks_the_best(probe_audit):
    tables = parse_tables(reports.render_markdown(probe_audit))
    table = _table(tables, f"Profile views of {BASE}")
    assert table.header == [
        "Judge", "Profile view", "κ (quadratic)", "Spearman ρ", "No better", "Mean prompt tokens", "Tokens vs full",
    ]  # fmt: skip
    best = _best_view(probe_audit)
    rows = _rows_by(table, "Profile view")
    assert set(rows) == {v if v != best else f"{v} (best)" for v in VIEWS}
    full_tokens = _row(probe_audit, "mean_prompt_tokens", BASE, BASE, "profile_view=full@start")["value"]
    for view in VIEWS:
        cells = rows[f"{view} (best)" if view == best else view]
        slice_ = f"profile_view={view}"
        assert cells["Judge"] == BASE
        assert cells["κ (quadratic)"] == _num(_row(probe_audit, "cohen_kappa_quadratic", BASE, slice_=slice_))
        assert cells["Spearman ρ"] == _num(_row(probe_audit, "spearman", BASE, slice_=slice_))
        assert cells["No better"] == _pct(_row(probe_audit, "no_better_rate", BASE, slice_=slice_))
        tokens = _row(probe_audit, "mean_prompt_tokens", BASE, BASE, slice_)
        assert cells["Mean prompt tokens"] == _tokens(tokens)
        change = round((tokens["value"] / full_tokens - 1) * 100)
        assert cells["Tokens vs full"] == ("0%" if change == 0 else f"{change:+d}%")
    assert best == "outputs@start", "the study gives the outputs view the most signal"


def test_persona_table_holds_flip_rates_and_shifts_with_intervals(probe_audit):
    tables = parse_tables(reports.render_markdown(probe_audit))
    table = _table(tables, "Persona sensitivity")
    rows = _rows_by(table, "Persona")
    assert set(rows) == {"profile removed", "another user's profile"}
    for variant, words in (("removed", "profile removed"), ("swapped", "another user's profile")):
        flip = _row(probe_audit, "persona_flip_rate", BASE, BASE, f"persona={variant}")
        shift = _row(probe_audit, "persona_shift", BASE, BASE, f"persona={variant}")
        cells = rows[words]
        assert cells["Judge"] == BASE and cells["n"] == f"{flip['n']:,}"
        assert cells["Verdicts changed"] == _pct(flip)
        sign = "+" if shift["value"] >= 0 else ""
        assert cells["Shift (variant − own)"] == (
            f"{sign}{shift['value']:.3f} [{shift['ci_low']:.3f}, {shift['ci_high']:.3f}]"
        )


def test_the_section_explains_itself_and_names_the_best_view_and_its_token_cost(probe_audit):
    text = reports.render_markdown(probe_audit)
    plain = markdown_parser().render(text)
    assert "<summary>Persona and profile views</summary>" in plain  # a collapsed block of report.md
    assert "not judging personalization" in plain
    best = _best_view(probe_audit)
    assert f"with the profile view {best}" in plain
    tokens = _row(probe_audit, "mean_prompt_tokens", BASE, BASE, f"profile_view={best}")["value"]
    assert f"at {tokens:,.0f} prompt tokens" in plain


def test_probe_slices_leave_by_slice_but_other_slices_stay(probe_audit):
    text = reports.render_markdown(probe_audit)
    assert "Slice: profile\\_view=" not in text and "Slice: persona=" not in text
    assert "Slice: raters=r1\\~r2" in text


def test_headline_sentences_for_persona_and_best_view(probe_audit):
    lines = reports.headline(probe_audit)
    removed = _row(probe_audit, "persona_flip_rate", BASE, BASE, "persona=removed")
    swapped = _row(probe_audit, "persona_flip_rate", BASE, BASE, "persona=swapped")
    assert (
        f"Removing the profile changes {_pct(removed)} of {BASE}'s verdicts; another user's profile {_pct(swapped)}."
        in lines
    )
    best = _best_view(probe_audit)
    kappa = _row(probe_audit, "cohen_kappa_quadratic", BASE, slice_=f"profile_view={best}")
    tokens = _row(probe_audit, "mean_prompt_tokens", BASE, BASE, f"profile_view={best}")["value"]
    full = _row(probe_audit, "mean_prompt_tokens", BASE, BASE, "profile_view=full@start")["value"]
    assert (
        f"{BASE} agrees best with humans with the profile view {best} (κ (quadratic) {_num(kappa)}) at "
        f"{tokens:,.0f} prompt tokens against {full:,.0f} for the full profile (full@start)."
    ) in lines


def test_variant_judges_do_not_flood_the_headline(probe_audit):
    lines = reports.headline(probe_audit)
    assert not any(line.startswith(f"{BASE}|") for line in lines), lines
    assert any(line.startswith(f"{BASE} found it no better in") for line in lines)
    assert any(line.startswith("pos found it no better in") for line in lines)
    agreement = next(line for line in lines if line.startswith("κ (quadratic) with human"))
    assert f"{BASE}|" not in agreement and f"{BASE} " in agreement
    pointer = next(line for line in lines if "variant judges" in line)
    assert pointer.startswith(f"5 variant judges of {BASE}") and "Persona and profile views" in pointer


def test_a_variant_without_its_base_judge_keeps_its_own_headline_sentence(probe_audit):
    audit = copy.deepcopy(probe_audit)
    audit["judges"] = [j for j in audit["judges"] if j != BASE]
    audit["metrics"] = [m for m in audit["metrics"] if m["judge"] != BASE]
    lines = reports.headline(audit)
    assert any(line.startswith(f"{BASE}|profile_view=outputs@start found it no better") for line in lines)


# -- position, PPI++, alt-test, jury ------------------------------------------------------------------------------


def test_position_table(probe_audit):
    tables = parse_tables(reports.render_markdown(probe_audit))
    table = _table(tables, "Verdicts in both presentation orders")
    assert [row[0] for row in table.rows] == ["pos"]
    cells = table.row("pos")
    assert cells["Agreement, order ab"] == _pct(_row(probe_audit, "agreement_original_order", "pos"))
    assert cells["Agreement, both orders"] == _pct(_row(probe_audit, "agreement_both_orders", "pos"))
    assert cells["Same verdict both orders"] == _pct(_row(probe_audit, "position_consistency", "pos", "pos"))
    first = _row(probe_audit, "first_position_rate", "pos", "pos")
    assert cells["Prefers first shown"] == _pct(first)
    assert first["ci_low"] > 0.5
    assert f"pos prefers the response shown first in {_pct(first)}" in markdown_parser().render(
        reports.render_markdown(probe_audit)
    )


def test_ppi_alt_test_and_jury_tables(probe_audit):
    text = reports.render_markdown(probe_audit)
    tables = parse_tables(text)

    ppi = _table(tables, "Prediction-powered estimates of the reference's rates")
    entry = next(e for e in probe_audit["ppi"]["judges"] if e["judge"] == BASE)
    meta = {m["metric"]: m for m in entry["metrics"]}
    rows = [r for r in ppi.rows if r[0] == BASE]
    cells = dict(zip(ppi.header, next(r for r in rows if r[1] == "No better"), strict=True))
    assert cells["PPI++ [95% CI]"] == _pct(_row(probe_audit, "ppi_no_better_rate", BASE))
    detail = meta["ppi_no_better_rate"]
    low, high = detail["human_only_ci"]
    assert (
        cells["human labels only"]
        == f"{detail['human_only_value'] * 100:.1f}% [{low * 100:.1f}, {high * 100:.1f}]"
    )
    low, high = detail["judge_only_ci"]
    assert (
        cells["Judge alone"] == f"{detail['judge_only_value'] * 100:.1f}% [{low * 100:.1f}, {high * 100:.1f}]"
    )
    assert cells["λ"] == f"{meta['ppi_no_better_rate']['lam']:.2f}"
    assert cells["Labelled / judged"] == f"{entry['n_labelled']} / {entry['n_unlabelled']}" == "200 / 240"
    score = dict(zip(ppi.header, next(r for r in rows if r[1] == "Mean score"), strict=True))
    assert score["PPI++ [95% CI]"] == _num(_row(probe_audit, "ppi_mean_score", BASE))

    alt = _table(tables, "Alternative annotator test per judge")
    for judge_entry in probe_audit["alt_test"]["judges"]:
        cells = alt.row(judge_entry["judge"])
        beaten = sum(r["judge_wins"] for r in judge_entry["raters"])
        assert cells["Raters beaten"] == f"{beaten} of {len(judge_entry['raters'])}"
        assert cells["Winning rate ω"] == f"{judge_entry['winning_rate'] * 100:.0f}%"
        assert cells["Passes"] == ("yes" if judge_entry["passed"] else "no")
        assert cells["Advantage probability ρ"] == f"{judge_entry['advantage_probability']:.3f}"

    jury = _table(tables, "Juries beside their best member")
    for name in ("jury:majority", "jury:mean"):
        assert jury.row(name)["κ (quadratic)"] == _num(_row(probe_audit, "cohen_kappa_quadratic", name))
    effective = _row(probe_audit, "jury_effective_judges", "jury")
    assert f"err like {_num(effective)} independent judges" in markdown_parser().render(text)

    shown = {r[0] for t in tables if t.heading == "Other metrics" for r in t.rows}
    assert not shown & {"ppi_no_better_rate", "alt_test_pass", "jury_effective_judges", "first_position_rate"}


def test_sections_are_absent_without_their_metrics():
    for audit in (build_likert_audit(), build_pairwise_audit(), {}):
        text = reports.render_markdown(audit)
        for title in ("Persona and profile views", "Position bias", "Prediction-powered", "Alternative annotator",
                      "## Jury"):  # fmt: skip
            assert title not in text
        html = reports.render_html(audit) if audit else ""
        assert 'id="probes-persona"' not in html and 'id="alt-test"' not in html
    lines = reports.headline(build_likert_audit())
    assert not any("variant judge" in line or "profile view" in line for line in lines)
    # a lone position metric with no position-probe section stays in "Other metrics"
    other = _table(parse_tables(reports.render_markdown(build_likert_audit())), "Other metrics")
    assert "Position consistency" in {r[0] for r in other.rows}  # the registry label


# -- escaping, HTML, terminal -------------------------------------------------------------------------------------

EVIL = 'gpt-4o <img src=x onerror="alert(1)">'


def _renamed(audit: dict, new: str) -> dict:
    out = copy.deepcopy(audit)

    def rename(name):
        if name == BASE or (isinstance(name, str) and name.startswith(f"{BASE}|")):
            return new + name[len(BASE) :]
        return name

    out["judges"] = [rename(j) for j in out["judges"]]
    for row in out["metrics"]:
        row["judge"], row["reference"] = rename(row["judge"]), rename(row["reference"])
    for key in ("ppi", "alt_test"):
        for entry in out[key]["judges"]:
            entry["judge"] = rename(entry["judge"])
    out["jury"]["members"] = [rename(m) for m in out["jury"]["members"]]
    return out


def test_html_sections_escape_judge_names(probe_audit, no_plots):
    audit = _renamed(probe_audit, EVIL)
    html = reports.render_html(audit)
    for key in ("probes-persona", "probes-position", "ppi", "alt-test", "jury"):
        assert f'<section id="{key}" class="extension">' in html, key
        assert f'<a href="#{key}">' in html
    assert "<img" not in html and "onerror=&#34;alert(1)&#34;" in html
    assert "gpt-4o &lt;img src=x onerror=&#34;alert(1)&#34;&gt;|persona=removed" in html
    assert "<h3>Profile views of gpt-4o &lt;img" in html
    assert re.search(
        r'<tr class="role-best"><th scope="row">gpt-4o &lt;img[^<]*</th><td class="left">'
        r"outputs@start \(best\)</td>",
        html,
    )


def test_html_plain_variant_names_render_as_text(probe_audit, no_plots):
    audit = _renamed(probe_audit, "gpt-4o")
    html = reports.render_html(audit)
    assert '<th scope="row">gpt-4o|persona=removed</th>' in html  # the alt-test table, one row per judge
    assert "Removing the profile changes" in html


def test_markdown_sections_escape_judge_names_and_keep_their_columns(probe_audit):
    text = reports.render_markdown(_renamed(probe_audit, EVIL))
    rendered = markdown_parser().render(text)
    assert "<img" not in rendered
    for table in parse_tables(text):
        assert all(len(row) == len(table.header) for row in table.rows), table.heading
    alt = _table(parse_tables(text), "Alternative annotator test per judge")
    assert f"{EVIL}|persona=removed" in {row[0] for row in alt.rows}


def test_terminal_shows_the_probe_tables_and_points_to_the_rest(probe_audit):
    buffer = io.StringIO()
    reports.render_terminal(probe_audit, Console(file=buffer, width=220, color_system=None))
    text = buffer.getvalue()
    for title in ("Persona and profile views", "Profile views of j", "Persona sensitivity",
                  "Verdicts in both presentation orders", "outputs@start (best)"):  # fmt: skip
        assert title in text
    assert "Alternative annotator test" in text.split("More in report.md / report.html:")[1]
