"""The audit result: a tidy metrics DataFrame plus exclusions, warnings and the cases behind the gaps.

``AuditResult.to_dict()`` is the ``audit.json`` document that reports, gates and notebooks read.
"""

from __future__ import annotations

import html
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from auditor import __version__
from auditor.contract import METRIC_COLUMNS, SCHEMA_VERSION
from auditor.errors import AuditorError
from auditor.io import json_safe, json_text, records, write_text


class MetricNotFound(AuditorError, KeyError):
    """:meth:`AuditResult.metric` asked for a row the audit does not have (a ``KeyError`` too)."""

    def __str__(self) -> str:  # the message as written, not KeyError's quoted repr
        return str(self.args[0]) if self.args else ""


@dataclass
class AuditResult:
    """What an audit found.  ``metrics`` is tidy: one row per (metric, judge, reference, slice)."""

    meta: dict[str, Any]
    metrics: pd.DataFrame
    exclusions: pd.DataFrame
    warnings: list[dict[str, Any]] = field(default_factory=list)
    confusion: list[dict[str, Any]] = field(default_factory=list)
    score_pairs: list[dict[str, Any]] = field(default_factory=list)
    cases: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if "n_clusters" in self.metrics.columns:  # a count, missing where unknown (not a float with NaN)
            self.metrics["n_clusters"] = self.metrics["n_clusters"].astype("Int64")

    # -- access ---------------------------------------------------------------------------------------------
    def metric(
        self, metric: str, judge: str, reference: str | None = None, slice: str | None = None
    ) -> pd.Series:
        """The one row of ``metric`` for ``judge`` (reference defaults to the audit's reference); a judge, metric,
        reference or slice the audit does not have is a :class:`MetricNotFound` naming the ones it has."""
        ref = reference or self.meta.get("reference")
        m = self.metrics
        for what, given, column in (
            ("judge", judge, "judge"),
            ("metric", metric, "metric"),
            ("reference", ref, "reference"),
        ):
            known = pd.unique(m[column].dropna()).tolist()
            if given not in known:
                raise MetricNotFound(
                    f"this audit has no {what} {given!r}; {what}s: {', '.join(map(repr, sorted(map(str, known))[:20]))}"
                )
        rows = m[(m["metric"] == metric) & (m["judge"] == judge) & (m["reference"] == ref)]
        rows = rows[rows["slice"].isna()] if slice is None else rows[rows["slice"] == slice]
        if len(rows) != 1:
            raise MetricNotFound(
                f"no single row for metric={metric!r} judge={judge!r} reference={ref!r} slice={slice!r}"
            )
        return rows.iloc[0]

    @property
    def judges(self) -> list[str]:
        return list(self.meta.get("judges", []))

    # -- serialisation --------------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        metrics = self.metrics.reindex(columns=METRIC_COLUMNS)
        doc = {
            "auditor_version": __version__,
            "schema_version": SCHEMA_VERSION,
            **self.meta,
            "exclusions": self.exclusions.to_dict(orient="records"),
            "warnings": self.warnings,
            "metrics": records(metrics.astype(object).where(metrics.notna(), None)),
            "confusion": self.confusion,
            "score_pairs": self.score_pairs,
            "cases": self.cases,
        }
        return json_safe(doc)

    def to_json(self) -> str:
        """The audit.json text, laid out as the command line writes it (:func:`auditor.io.json_text`)."""
        return json_text(self.to_dict())

    def save(self, path: str | Path) -> Path:
        """Write ``audit.json`` atomically."""
        return write_text(path, self.to_json() + "\n")

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> AuditResult:
        body = {
            k: v
            for k, v in doc.items()
            if k
            not in (
                "metrics",
                "exclusions",
                "warnings",
                "confusion",
                "score_pairs",
                "cases",
                "auditor_version",
                "schema_version",
            )
        }
        from auditor.errors import InputError

        for key in ("metrics", "exclusions", "warnings", "confusion", "score_pairs"):
            value = doc.get(key, [])
            if not isinstance(value, list) or not all(isinstance(r, dict) for r in value):
                raise InputError(f"is not an audit.json: {key!r} must be a list of objects", column=key)
        if not isinstance(doc.get("judges", []), list):
            raise InputError("is not an audit.json: 'judges' must be a list of names", column="judges")
        metrics = pd.DataFrame(doc.get("metrics", []), columns=METRIC_COLUMNS)
        exclusions = pd.DataFrame(doc.get("exclusions", []), columns=["judge", "reason", "count"])
        return cls(
            body,
            metrics,
            exclusions,
            list(doc.get("warnings", [])),
            list(doc.get("confusion", [])),
            list(doc.get("score_pairs", [])),
            dict(doc.get("cases", {})),
        )

    @classmethod
    def load(cls, path: str | Path) -> AuditResult:
        """Read a saved ``audit.json``; a file that is missing, unreadable, not JSON, nested too deep or not
        the contract's document (:func:`auditor.contract.validate_document`) raises
        :class:`~auditor.errors.InputError` (one line, exit 2)."""
        from auditor.contract import validate_document
        from auditor.errors import InputError
        from auditor.files import read_input

        path = Path(path)
        try:
            doc = json.loads(read_input(path, "a saved audit.json file").decode("utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise InputError(f"is not a valid audit.json: {exc}", file=str(path)) from None
        except RecursionError:
            raise InputError("is not a valid audit.json: JSON nested too deep", file=str(path)) from None
        except OSError as exc:
            raise InputError(f"cannot be read ({exc.strerror or exc})", file=str(path)) from None
        validate_document(doc, str(path))
        try:
            return cls.from_dict(doc)
        except InputError as exc:
            raise InputError(exc.detail, file=str(path), row=exc.row, column=exc.column) from None

    # -- notebook display ---------------------------------------------------------------------------------
    def summary(self) -> pd.DataFrame:
        """One row per judge: the headline metrics with intervals (a wide view of ``metrics``)."""
        m = self.metrics[self.metrics["slice"].isna()]
        wanted = [
            "agreement",
            "cohen_kappa",
            "krippendorff_alpha",
            "spearman",
            "no_better_rate",
            "no_better_rate_gap",
            "mean_score",
            "mean_score_gap",
        ]
        m = m[m["metric"].isin(wanted)]
        if m.empty:
            return pd.DataFrame()
        cell = m.apply(lambda r: _fmt_interval(r["value"], r["ci_low"], r["ci_high"]), axis=1)
        wide = m.assign(cell=cell).pivot_table(
            index="judge", columns="metric", values="cell", aggfunc="first"
        )
        return wide.reindex(columns=[c for c in wanted if c in wide.columns])

    def _repr_html_(self) -> str:
        title = html.escape(str(self.meta.get("title") or "Audit"))
        sim = " <b>(simulated data)</b>" if self.meta.get("simulated") else ""
        head = (
            f"<div><h4>{title}{sim}</h4><p>task {html.escape(str(self.meta.get('task')))}, reference "
            f"{html.escape(str(self.meta.get('reference')))}, {self.meta.get('n_items')} items in "
            f"{self.meta.get('n_clusters')} clusters; {len(self.exclusions)} exclusion reasons, "
            f"{len(self.warnings)} warnings</p>"
        )
        return head + self.summary().to_html(escape=True) + "</div>"

    def __repr__(self) -> str:
        return (
            f"AuditResult(task={self.meta.get('task')!r}, reference={self.meta.get('reference')!r}, "
            f"judges={self.judges!r}, n_items={self.meta.get('n_items')}, metrics={len(self.metrics)} rows)"
        )


def _fmt_interval(value: float, lo: float, hi: float) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if lo is None or hi is None or (isinstance(lo, float) and math.isnan(lo)):
        return f"{value:.3f}"
    return f"{value:.3f} [{lo:.3f}, {hi:.3f}]"
