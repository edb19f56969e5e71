"""Personalization audits, one per stage of the pipeline ("Re-Centering Humans in LLM Personalization").

:func:`audit_stage` is :func:`auditor.audit` with the stage's options put into the config
(``AuditConfig.personalization``); the stage's metrics are a step of every audit's pipeline,
:mod:`auditor.analyses.personalization` (whose docstring lists them), which also reads the TOML's ``stage`` and
``[personalization]`` table.  The names below stay importable from here.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from auditor.analyses.personalization import (
    extraction_metrics,
    generation_metrics,
    kappa_table,
    relevance_metrics,
    stage_of,
    state_comparisons,
)
from auditor.analyses.personalization import step as personalization_step
from auditor.config import DEFAULT_PROBLEMATIC, STAGES, AuditConfig, PersonalizationConfig, load_config
from auditor.engine.slicing import over_slices
from auditor.errors import ConfigError

MENTION_COLUMN = PersonalizationConfig.mention_column


def audit_stage(
    labels: Any,
    items: Any = None,
    *,
    stage: str | None = None,
    problematic: tuple[str, ...] | None = None,
    reference_fallback: str | None = None,
    **audit_options: Any,
):
    """Audit one stage: :func:`auditor.audit` with the stage's metrics added.

    ``stage``: ``extraction``, ``relevance`` or ``generation`` (None: the items' ``stage`` column, if any; a stage
    in the config comes first); ``problematic``: extraction labels counted as problematic (default ``uncertain``
    and ``reject``, or the config's ``personalization.problematic``); ``audit_options`` go to
    :func:`auditor.audit` (``task``, ``config``, ``reference``, ``resamples``, ``slice_by``, ...).  Both land in
    the config's ``personalization`` options, which the pipeline's personalization step reads.

    ``reference_fallback``: a judge to compare the others with when the reference (``human``) has no labels at
    all, e.g. stage 3 of the Re-Centering data, which holds no human ratings.  The result then says so in its
    warnings, its description and ``audit.json``'s ``comparisons`` section (what can and cannot be compared);
    without it such an audit is bad input, as in the core.

    Examples
    --------
    >>> from auditor.simulate import simulate_relevance_study
    >>> study = simulate_relevance_study(seed=1, n_users=20, with_truth=False)
    >>> result = audit_stage(study.labels, study.items, stage="relevance", task="binary", resamples=200)
    >>> row = result.metric("over_identification", "gpt-4o")
    >>> bool(row["value"] > 0)  # the simulated LLM finds more attributes relevant than the humans
    True
    """
    from auditor.audit import audit

    if stage is not None and stage not in STAGES:
        raise ConfigError(f"unknown stage {stage!r}; expected one of {', '.join(STAGES)}", column="stage")
    config = audit_options.get("config")
    if isinstance(config, (str, Path)):
        config = load_config(config)
    config = config or AuditConfig()
    options = config.personalization
    changes: dict[str, Any] = {}
    if options.stage is None and stage is not None:  # a stage in the config comes first
        changes["stage"] = stage
    if problematic is not None and (tuple(problematic) != DEFAULT_PROBLEMATIC or not options.problematic):
        changes["problematic"] = tuple(problematic)  # the default given explicitly leaves a configured policy
    if reference_fallback is not None:
        missing = _missing_reference(labels, config, audit_options.get("reference"))
        if missing is not None:
            changes["missing_reference"] = missing
            audit_options["reference"] = reference_fallback
    audit_options["config"] = replace(config, personalization=replace(options, **changes))
    return audit(labels, items, **audit_options)


def _missing_reference(labels: Any, config: AuditConfig, reference: str | None) -> str | None:
    """The reference's name when ``labels`` hold none of its rows, else None."""
    from auditor.data import read_labels

    reference = reference or config.reference
    frame = labels if hasattr(labels, "columns") else read_labels(labels)
    return None if (frame["judge"].astype(str) == reference).any() else reference


__all__ = [
    "STAGES",
    "DEFAULT_PROBLEMATIC",
    "MENTION_COLUMN",
    "PersonalizationConfig",
    "audit_stage",
    "stage_of",
    "personalization_step",
    "extraction_metrics",
    "relevance_metrics",
    "generation_metrics",
    "kappa_table",
    "state_comparisons",
    "over_slices",
]
