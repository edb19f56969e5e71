"""Length preference against statsmodels and on data built to have / lack it; self-preference by hand; persona
and profile-view variants through a deterministic stand-in judge; profile swapping."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

import auditor
from auditor.analyses.self_preference import model_family
from auditor.contract import split_variant
from auditor.probes import run_variants, swap_profiles


def _pairwise_study(n_users=60, per_user=6, seed=0, length_bias=0.0, own_bonus=0.0):
    """Pairs with random lengths; humans prefer b with probability 1/2 + noise; the judge copies the human verdict
    and leans toward the longer response by ``length_bias`` log-odds per doubling; ``gpt-x`` generated half the
    items and the judge ``gpt-judge`` adds ``own_bonus`` log-odds for b on them."""
    rng = np.random.default_rng(seed)
    n = n_users * per_user
    len_a = rng.integers(50, 800, n)
    len_b = rng.integers(50, 800, n)
    x = np.log2(len_b / len_a)
    human_b = rng.random(n) < 0.5
    own = rng.random(n) < 0.5
    logit = np.where(human_b, 1.0, -1.0) + length_bias * x + own_bonus * own
    judge_b = rng.random(n) < 1 / (1 + np.exp(-logit))
    items = pd.DataFrame(
        {
            "item_id": [f"i{i}" for i in range(n)],
            "user_id": [f"u{i // per_user}" for i in range(n)],
            "response_a": ["a" * k for k in len_a],
            "response_b": ["b" * k for k in len_b],
            "generator": np.where(own, "gpt-x", "claude-y"),
        }
    )
    labels = pd.concat(
        [
            pd.DataFrame(
                {"item_id": items["item_id"], "judge": "human", "label": np.where(human_b, "b", "a")}
            ),
            pd.DataFrame(
                {"item_id": items["item_id"], "judge": "gpt-judge", "label": np.where(judge_b, "b", "a")}
            ),
        ]
    )
    return items, labels, x


def test_length_preference_equals_a_statsmodels_fit_with_cluster_robust_errors():
    items, labels, x = _pairwise_study(length_bias=0.8, seed=1)
    result = auditor.audit(labels, items, task="pairwise", resamples=200)
    row = result.metric("length_preference", "gpt-judge")
    judge = labels[labels["judge"] == "gpt-judge"]["label"].eq("b").astype(float).to_numpy()
    human = labels[labels["judge"] == "human"]["label"].eq("b").astype(float).to_numpy()
    groups = pd.factorize(items["user_id"], sort=True)[0]
    fit = sm.Logit(judge, sm.add_constant(np.column_stack([x, human]))).fit(
        disp=0, cov_type="cluster", cov_kwds={"groups": groups}
    )
    assert row["value"] == pytest.approx(fit.params[1])
    assert (row["ci_low"], row["ci_high"]) == pytest.approx(tuple(fit.conf_int()[1]))
    assert row["p_value"] == pytest.approx(fit.pvalues[1]) and row["p_value"] < 0.01
    assert row["ci_low"] < 0.8 < row["ci_high"]
    human_row = result.metric("length_preference", "human", "human")  # humans here ignore length
    assert human_row["ci_low"] < 0 < human_row["ci_high"]


def test_a_judge_that_copies_humans_has_no_length_preference():
    items, labels, _ = _pairwise_study(length_bias=0.0, seed=2)
    row = auditor.audit(labels, items, task="pairwise", resamples=0).metric("length_preference", "gpt-judge")
    assert row["ci_low"] < 0 < row["ci_high"]


def test_self_preference_by_hand():
    items, labels, _ = _pairwise_study(own_bonus=1.5, seed=3)
    result = auditor.audit(labels, items, task="pairwise", resamples=500)
    row = result.metric("self_preference", "gpt-judge")
    value = labels.assign(v=labels["label"].eq("b").astype(float)).pivot(
        index="item_id", columns="judge", values="v"
    )
    own = items.set_index("item_id")["generator"].eq("gpt-x").reindex(value.index)
    judge_gap = value.loc[own, "gpt-judge"].mean() - value.loc[~own, "gpt-judge"].mean()
    human_gap = value.loc[own, "human"].mean() - value.loc[~own, "human"].mean()
    assert row["value"] == pytest.approx(judge_gap - human_gap)
    assert row["ci_low"] > 0 and row["p_value"] < 0.05
    assert result.meta["probes"]["self_preference"]["families"] == {"gpt-judge": "gpt"}


def test_model_families_and_variant_names():
    assert model_family("gpt-5.4") == model_family("openai:gpt-4o") == model_family("ChatGPT-0301") == "gpt"
    assert model_family("claude-sonnet-4-6") == "claude" and model_family("gemma-4-31b-it") == "gemma"
    assert model_family("smollm2|persona=removed") == "smollm"
    assert split_variant("m|persona=swapped") == ("m", "persona", "swapped")
    assert split_variant("m|profile_view=outputs@start") == ("m", "profile_view", "outputs@start")
    assert split_variant("plain") == ("plain", None, None)


def _profiled_items(n_users=8, per_user=3):
    rows = []
    for u in range(n_users):
        for k in range(per_user):
            rows.append(
                {
                    "item_id": f"u{u}-{k}",
                    "user_id": f"u{u}",
                    "prompt": "p",
                    "response_a": "x" * (10 + k),
                    "response_b": "y" * (12 + u),
                    "profile": json.dumps([f"likes topic {u}"]),
                    "human": "b" if (u + k) % 3 else "a",
                }
            )
    return pd.DataFrame(rows)


def test_swap_profiles_is_a_seeded_derangement_of_users():
    items = _profiled_items()
    swapped = swap_profiles(items, seed=4)
    own = items.groupby("user_id")["profile"].first()
    assert (swapped["profile"] != items["profile"]).all()
    assert swapped.groupby("user_id")["profile"].nunique().eq(1).all()
    assert sorted(swapped.groupby("user_id")["profile"].first()) == sorted(own)  # a permutation of profiles
    assert swapped["profile"].equals(swap_profiles(items, seed=4)["profile"])
    with pytest.raises(auditor.AuditorError):
        swap_profiles(items[items["user_id"] == "u0"])


class StandInJudge:
    """Deterministic: prefers b exactly when the profile mentions an even topic number (none: always a); saw
    both orders; reports a token count that grows with the profile."""

    def __init__(self, view: str, place: str, calls: list):
        self.view, self.place = view, place
        calls.append((view, place))

    def judge_items(self, items: pd.DataFrame, task: str) -> pd.DataFrame:
        rows = []
        for item in items.to_dict("records"):
            profile = "" if self.view == "none" else item["profile"]
            even = any(f"topic {d}" in profile for d in range(0, 10, 2))
            for order in ("ab", "ba"):
                rows.append(
                    {
                        "item_id": item["item_id"],
                        "judge": "stand-in",
                        "rater": "0",
                        "label": "b" if even else "a",
                        "order": order,
                        "prompt_tokens": 40 + len(profile) + (5 if self.place == "end" else 0),
                    }
                )
        return pd.DataFrame(rows)


def test_variants_give_flip_rates_and_per_view_slices():
    items = _profiled_items()
    calls: list = []
    labels = run_variants(
        items,
        "pairwise",
        lambda v, p: StandInJudge(v, p, calls),
        name="stand-in",
        views=(("full", "start"), ("full", "end"), ("none", "start")),
        persona=("removed", "swapped"),
        seed=1,
    )
    assert sorted(calls) == [("full", "end"), ("full", "start"), ("full", "start"), ("none", "start")]
    assert set(labels["judge"]) == {
        "stand-in",
        "stand-in|profile_view=full@start",
        "stand-in|profile_view=full@end",
        "stand-in|profile_view=none@start",
        "stand-in|persona=removed",
        "stand-in|persona=swapped",
    }
    humans = pd.DataFrame({"item_id": items["item_id"], "judge": "human", "label": items["human"]})
    result = auditor.audit(
        pd.concat([humans, labels]), items.drop(columns="human"), task="pairwise", resamples=300
    )
    own = items["user_id"].str[1:].astype(int) % 2 == 0  # users whose own profile mentions an even topic
    removed = result.metric("persona_flip_rate", "stand-in", "stand-in", slice="persona=removed")
    assert removed["value"] == pytest.approx(own.mean())  # removing the profile flips exactly those
    swapped_items = swap_profiles(items, seed=1)
    donor_even = swapped_items["profile_donor"].str[1:].astype(int) % 2 == 0
    swapped = result.metric("persona_flip_rate", "stand-in", "stand-in", slice="persona=swapped")
    assert swapped["value"] == pytest.approx((donor_even != own).mean())
    for view in ("full@start", "full@end", "none@start"):
        agreement = result.metric("agreement", "stand-in", slice=f"profile_view={view}")
        assert agreement["value"] == pytest.approx(
            result.metric("agreement", f"stand-in|profile_view={view}")["value"]
        )
        tokens = result.metric("mean_prompt_tokens", "stand-in", "stand-in", slice=f"profile_view={view}")
        assert tokens["ci_low"] <= tokens["value"] <= tokens["ci_high"]
    start = result.metric("mean_prompt_tokens", "stand-in", "stand-in", slice="profile_view=full@start")[
        "value"
    ]
    end = result.metric("mean_prompt_tokens", "stand-in", "stand-in", slice="profile_view=full@end")["value"]
    assert end == pytest.approx(start + 5)
    assert (
        result.meta["probes"]["variants"]["profile_views"]["stand-in|profile_view=none@start"]["requests"]
        == 48
    )


def test_probe_command_judges_variants_and_writes_reports(tmp_path):
    """``auditor probe`` through the loopback fake server (the CLI wires it with auditor.cli.probe.register)."""
    import typer
    from servers.fake_openai import FakeJudgeServer, make_items
    from typer.testing import CliRunner

    from auditor.cli.probe import register

    app = typer.Typer()
    register(app)

    @app.command("noop")
    def noop() -> None:  # a second command keeps typer from collapsing the app into its only command
        pass

    items = make_items(6)
    items.to_json(tmp_path / "items.jsonl", orient="records", lines=True)
    server = FakeJudgeServer().start()
    try:
        run = CliRunner().invoke(
            app,
            [
                "probe",
                str(tmp_path / "items.jsonl"),
                "--model",
                "fake",
                "--base-url",
                server.base_url,
                "--api-key-env",
                "FAKE_KEY",
                "--views",
                "full@start,outputs@end,none@start",
                "--bootstrap",
                "200",
                "--concurrency",
                "2",
                "--out",
                str(tmp_path / "out"),
                "--quiet",
            ],
            env={"FAKE_KEY": "sk-fake"},
        )
    finally:
        server.stop()
    assert run.exit_code == 0, run.output + repr(run.exception)
    doc = json.loads((tmp_path / "out" / "audit.json").read_text())
    slices = {m["slice"] for m in doc["metrics"] if m["metric"] == "mean_prompt_tokens"}
    assert slices == {"profile_view=full@start", "profile_view=outputs@end", "profile_view=none@start"}
    assert {m["slice"] for m in doc["metrics"] if m["metric"] == "persona_flip_rate"} == {
        "persona=removed",
        "persona=swapped",
    }
    assert doc["comparisons"]["missing_reference"] == "human" and doc["reference"] == "fake"
    assert (tmp_path / "out" / "report.html").exists() and (tmp_path / "out" / "labels.jsonl").exists()


def test_probe_and_judge_take_the_profile_from_another_column(tmp_path):
    """``--profile-column relevant_profile``: the judge sees that column's text as the profile (and the swapped
    persona swaps it); a column the items do not have is one error line naming the file and the column, exit 2."""
    from servers.fake_openai import FakeJudgeServer, make_items

    from tests.conftest import run_cli

    items = make_items(6)
    items["relevant_profile"] = [f"- The user trains for marathon number {i}." for i in range(6)]
    items.to_json(tmp_path / "items.jsonl", orient="records", lines=True)
    server = FakeJudgeServer().start()
    try:
        done = run_cli(
            "probe",
            str(tmp_path / "items.jsonl"),
            "--model",
            "fake",
            "--base-url",
            server.base_url,
            "--api-key-env",
            "FAKE_KEY",
            "--profile-column",
            "relevant_profile",
            "--persona",
            "swapped",
            "--bootstrap",
            "0",
            "--out",
            str(tmp_path / "out"),
            "--quiet",
            env={"FAKE_KEY": "sk-fake"},
        )
        prompts = [json.dumps(entry.body["messages"]) for entry in server.log]
        missing = run_cli(
            "judge",
            str(tmp_path / "items.jsonl"),
            "--judge",
            "openai:fake",
            "--base-url",
            server.base_url,
            "--api-key-env",
            "FAKE_KEY",
            "--profile-column",
            "persona_text",
            "--out",
            str(tmp_path / "labels.jsonl"),
            env={"FAKE_KEY": "sk-fake"},
        )
    finally:
        server.stop()
    assert done.returncode == 0, done.stderr
    with_profile = [p for p in prompts if "marathon number" in p]
    assert len(with_profile) == 2 * 6 * 2  # full@start and the swapped persona, both orders
    assert not any("run plan" in p for p in prompts), "the profile column was shown, not the profile"
    import re

    pairs = [
        (int(re.search(r"Question (\d+)", p).group(1)), int(re.search(r"marathon number (\d+)", p).group(1)))
        for p in with_profile
    ]
    own = [(q, m) for q, m in pairs if q == m]
    other = [(q, m) for q, m in pairs if q != m]
    assert len(own) == len(other) == 12  # the swapped persona shows another user's column, never the own one
    assert all(items["user_id"][q] != items["user_id"][m] for q, m in other)
    assert missing.returncode == 2 and "Traceback" not in missing.stderr
    error = [line for line in missing.stderr.splitlines() if line.startswith("error")]
    assert len(error) == 1 and "items.jsonl" in error[0] and "persona_text" in error[0]
    assert not (tmp_path / "labels.jsonl").exists()
