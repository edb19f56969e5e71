"""Bias probes of judges: the runner that re-judges items under other profiles (:func:`run_variants`), used by
``auditor probe``.  The probes themselves are steps of every audit's pipeline (:data:`auditor.audit.STEPS`), each
module documenting what it computes: :mod:`auditor.analyses.position`, :mod:`auditor.analyses.length`,
:mod:`auditor.analyses.self_preference` and :mod:`auditor.analyses.variants` (judges named
``"<judge>|persona=<variant>"`` or ``"<judge>|profile_view=<view>@<place>"``, as :func:`run_variants` writes them),
switched by ``AuditConfig.probes``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np
import pandas as pd

from auditor.errors import AuditorError, ConfigError

# ----------------------------------------------------------------------------------------------------------------
# the runner: re-judge items with other profiles through any judge


class ItemJudge(Protocol):
    def judge_items(self, items: pd.DataFrame, task: str) -> pd.DataFrame: ...


JudgeFactory = Callable[[str, str], ItemJudge]
"""``make_judge(profile_view, profile_at)`` -> a judge (e.g. ``judges.llm.LLMJudge(config, profile_view=...,
profile_at=..., orders=("ab", "ba"), cache=shared_cache)``)."""


def swap_profiles(
    items: pd.DataFrame, seed: int = 0, column: str = "profile", by: str = "user_id"
) -> pd.DataFrame:
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


def run_variants(
    items: pd.DataFrame,
    task: str,
    make_judge: JudgeFactory,
    *,
    name: str,
    views: Sequence[tuple[str, str]] = (("full", "start"), ("none", "start")),
    persona: Sequence[str] = ("removed", "swapped"),
    persona_view: tuple[str, str] | None = None,
    seed: int = 0,
) -> pd.DataFrame:
    """Judge ``items`` under every profile view and persona variant; one labels table for :func:`auditor.audit`.

    The judge with the users' own profiles under ``persona_view`` (default: the first view) is named ``name``;
    each view ``(view, place)`` is ``"{name}|profile_view={view}@{place}"``; ``persona="removed"`` re-judges with
    the profile view ``none`` (``"{name}|persona=removed"``), ``"swapped"`` with another user's profile
    (:func:`swap_profiles`, ``"{name}|persona=swapped"``).  Identical runs are made once and copied.  Columns
    ``profile_view``, ``profile_at`` and ``variant`` say what each row is.  An error that carries the labels of a
    judging run that stopped (``labels``, as :class:`judges.llm.JudgeRunIncomplete` does) leaves with the labels
    of every variant judged before it in front of them.
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

    frames: list[pd.DataFrame] = []
    try:
        base = run(*persona_view)
        frames.append(base.assign(judge=name, variant="own profile"))
        for view, place in views:
            frames.append(
                run(view, place).assign(
                    judge=f"{name}|profile_view={view}@{place}", variant=f"profile_view={view}@{place}"
                )
            )
        for kind in persona:
            if kind == "removed":
                labels = run("none", persona_view[1])
            elif kind == "swapped":
                labels = run(*persona_view, swapped=True)
            else:
                raise ConfigError(
                    f"unknown persona variant {kind!r}; expected removed or swapped", column="persona"
                )
            frames.append(labels.assign(judge=f"{name}|persona={kind}", variant=f"persona={kind}"))
    except AuditorError as exc:
        partial = getattr(exc, "labels", None)  # a judging run that stopped (judges.llm.JudgeRunIncomplete)
        if isinstance(partial, pd.DataFrame):  # the variants judged, then the labels of the one that stopped
            exc.labels = pd.concat([*frames, partial], ignore_index=True)
        raise
    return pd.concat(frames, ignore_index=True)


__all__ = ["swap_profiles", "run_variants", "JudgeFactory", "ItemJudge"]
