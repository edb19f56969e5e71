"""Bias probes of judges: the runner that re-judges items under other profiles (:func:`run_variants`) and
``auditor probe``.  The probes themselves are steps of every audit's pipeline (:data:`auditor.audit.STEPS`):
:mod:`auditor.analyses.position`, ``length``, ``self_preference`` and ``variants``, switched by
``AuditConfig.probes``; what they compute:

Position (pairwise and likert judges that saw pairs in both orders, label ``order`` ``ab`` / ``ba``; labels are in
the original a/b numbering)
    ``agreement_original_order`` / ``agreement_swapped_order`` [J / reference]: share of items whose verdict in that
    order equals the reference label (items with a usable verdict in that order and a reference label);
    ``agreement_both_orders`` [J / reference]: an item counts only when the verdicts in *both* orders equal the
    reference (items with both verdicts); ``position_consistency`` [J / J]: same verdict in both orders (items with
    both); ``first_position_rate`` [J / J]: share of decisive verdicts (not a tie / the neutral rating) that favour
    the response shown first (0.5 = no position preference).  Unparsed verdicts are the core's exclusions; an item
    lacking a verdict in one order leaves the metrics that need that order.
Length (``response_a`` / ``response_b`` texts)
    ``length_preference``: coefficient of ``log2(len(b) / len(a))`` (characters) in a logistic regression of "the
    judge prefers b" (decisive verdicts) on that length ratio, controlling for the reference's verdict (indicators
    of reference b-better and reference tie), fitted by statsmodels with cluster-robust standard errors (clusters =
    the audit's); Wald interval and p-value.  > 0: the judge favours the longer response beyond what the reference
    does; per doubling of b's relative length, in log-odds.  The reference's own row [ref / ref] has no control.
Self-preference (item column ``generator``, or ``generator_a`` / ``generator_b``)
    ``self_preference`` [J / reference]: with one ``generator`` per item, the judge's mean value on items its own
    model family generated minus on the others, minus the same difference of the reference (on the items both
    labelled); with ``generator_a`` / ``generator_b``, the judge's mean preference for its own family's response
    (preference of b scaled to 0-1, ``1 - that`` when a is its own) minus the reference's, on items where exactly
    one response is its family's.  Families by :func:`model_family`.
Persona sensitivity and profile views (judges named ``"<judge>|persona=<variant>"`` or
``"<judge>|profile_view=<view>@<place>"``, as :func:`run_variants` writes them)
    ``persona_flip_rate`` [judge / judge, slice ``persona=removed`` or ``persona=swapped``]: share of verdicts
    that change against the judge's verdict with the user's own profile, compared verdict by verdict in the same
    presentation order when both runs have orders (else the aggregated verdict per item; clustered as the items);
    ``persona_shift``: mean value with the variant minus with the own profile.  Every row of a ``profile_view`` variant is repeated under
    the base judge's name with slice ``profile_view=<view>@<place>``, and ``mean_prompt_tokens`` (per request,
    from the labels' ``prompt_tokens``) gives its token cost.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np
import pandas as pd

from auditor.errors import ConfigError

# ----------------------------------------------------------------------------------------------------------------
# the runner: re-judge items with other profiles through any judge


class ItemJudge(Protocol):
    def judge_items(self, items: pd.DataFrame, task: str) -> pd.DataFrame: ...


JudgeFactory = Callable[[str, str], ItemJudge]
"""``make_judge(profile_view, profile_at)`` -> a judge (e.g. ``judges.llm.LLMJudge(config, profile_view=...,
profile_at=..., orders=("ab", "ba"), cache=shared_cache)``)."""


def swap_profiles(items: pd.DataFrame, seed: int = 0, column: str = "profile",
                  by: str = "user_id") -> pd.DataFrame:
    """A copy of ``items`` where every user's items carry another user's profile (a seeded derangement of the
    users: shuffle them, then give each the profile of the next one).  Without ``by``, items are the units."""
    if column not in items.columns:
        raise ConfigError(f"cannot swap profiles: the items have no {column!r} column", column=column)
    out = items.copy()
    keys = out[by].astype(str) if by in out.columns else out["item_id"].astype(str)
    units = list(dict.fromkeys(keys.tolist()))
    if len(units) < 2:
        raise ConfigError("swapping profiles needs at least two users", column=by)
    order = np.random.default_rng(seed).permutation(len(units))
    shuffled = [units[i] for i in order]
    donor = {u: shuffled[(i + 1) % len(shuffled)] for i, u in enumerate(shuffled)}
    first_profile = out.groupby(keys, sort=False)[column].first()
    out[column] = keys.map(lambda u: first_profile[donor[u]]).to_numpy()
    out["profile_donor"] = keys.map(donor).to_numpy()
    return out


def run_variants(items: pd.DataFrame, task: str, make_judge: JudgeFactory, *, name: str,
                 views: Sequence[tuple[str, str]] = (("full", "start"), ("none", "start")),
                 persona: Sequence[str] = ("removed", "swapped"), persona_view: tuple[str, str] | None = None,
                 seed: int = 0) -> pd.DataFrame:
    """Judge ``items`` under every profile view and persona variant; one labels table for :func:`auditor.audit`.

    The judge with the users' own profiles under ``persona_view`` (default: the first view) is named ``name``;
    each view ``(view, place)`` is ``"{name}|profile_view={view}@{place}"``; ``persona="removed"`` re-judges with
    the profile view ``none`` (``"{name}|persona=removed"``), ``"swapped"`` with another user's profile
    (:func:`swap_profiles`, ``"{name}|persona=swapped"``).  Identical runs are made once and copied.  Columns
    ``profile_view``, ``profile_at`` and ``variant`` say what each row is.
    """
    persona_view = persona_view or tuple(views[0])
    runs: dict[tuple[str, str, bool], pd.DataFrame] = {}

    def run(view: str, place: str, swapped: bool = False) -> pd.DataFrame:
        key = (view, "start" if view == "none" else place, swapped and view != "none")
        if key not in runs:
            data = swap_profiles(items, seed=seed) if key[2] else items
            labels = make_judge(view, place).judge_items(data, task).copy()
            labels["profile_view"], labels["profile_at"] = view, place
            runs[key] = labels
        return runs[key].copy()

    frames = []
    base = run(*persona_view)
    frames.append(base.assign(judge=name, variant="own profile"))
    for view, place in views:
        frames.append(run(view, place).assign(judge=f"{name}|profile_view={view}@{place}",
                                              variant=f"profile_view={view}@{place}"))
    for kind in persona:
        if kind == "removed":
            labels = run("none", persona_view[1])
        elif kind == "swapped":
            labels = run(*persona_view, swapped=True)
        else:
            raise ConfigError(f"unknown persona variant {kind!r}; expected removed or swapped", column="persona")
        frames.append(labels.assign(judge=f"{name}|persona={kind}", variant=f"persona={kind}"))
    return pd.concat(frames, ignore_index=True)


__all__ = ["swap_profiles", "run_variants", "JudgeFactory", "ItemJudge"]
