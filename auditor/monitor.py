"""Monitoring over time: anytime-valid confidence sequences for the judge-human gap and the anchor flip rate.

A stream of batches, each either a saved ``audit.json`` or a labels table (a judged batch with, on some items, the
humans' spot checks).  Per judge and batch:

* **gap observations**: on the items both the judge and the reference labelled, ``d = 1[judge's outcome] -
  1[reference's outcome]`` for the monitored rate (default ``no_better_rate``, as the audit's ``*_gap``: judge minus
  reference on the same items), in ``{-1, 0, 1}``.  From an ``audit.json`` they come from its confusion table (rows
  = reference, columns = judge), so their mean is the audit's ``<rate>_gap`` row.
* **flip observations** (labels batches only): the *anchor set* is the items the judge labelled in its first
  batch; an anchor item judged again in a later batch is one observation, ``1`` when its verdict (the aggregated
  label; score tasks: win / tie / loss against the neutral point) differs from the first batch's.

Per judge, :func:`auditor.stats.confseq.three_point_sequence` turns the batches' counts, sums and sums of squares
into a ``level`` confidence sequence for the gap (observations in ``{-1, 0, 1}``) and for the flip rate (in ``{0,
1}``): the hedged-capital betting sequence (default) or the empirical-Bernstein one, both of Waudby-Smith & Ramdas
(2023). The guarantee: if the gap observations have one mean ``g`` given the past (every spot-check sample drawn
from the same population, the items independent given the past), the chance that the gap's sequence ever excludes
``g``, at any batch, however long the monitoring runs, is at most ``1 - level``. A **band** ``[low, high]`` is left
when the sequence lies wholly above ``high`` or wholly below ``low``; so while the true gap stays inside the band,
the chance of a false alarm over the whole stream is at most ``1 - level`` (per judge: with ``J`` judges, at most
``J (1 - level)`` that any of them alarms). The flip-rate sequence has the same guarantee for a flip probability
``r`` that is the same for every re-judgment given the past; it is shown, but it is not what decides.

With a **maximum flip rate** ``R`` the decision is a change detector, :func:`auditor.stats.edetector.flip_log_evidence` (an e-detector,
Shin, Ramdas & Rinaldo 2022): for each start ``s`` (the judge's ``s``-th batch with re-judged anchors) a betting
capital against "every re-judgment from batch ``s`` on flips with chance ``<= R`` given the past", the mean over a
fixed grid of bets of ``prod (1 + lambda (x - R))``, and their mixture ``M_t = sum_s w_s E_{s,t}``, ``w_s = 1 / (s
(s + 1))``.  A judge fails once ``M_t >= 1 / alpha`` (``alpha = 1 - level``) and stays failed.  The guarantee: if
no re-judgment ever flips with chance above ``R`` given the past (a batch's re-judgments independent given the past;
their chances may differ from anchor to anchor as long as their mean is ``<= R``: a stable judge sampling afresh
has ``r`` = the anchors' mean chance of differing from their first verdict), ``M`` is a nonnegative supermartingale
starting at 1, so the chance that a judge ever fails, however long the monitoring runs, is at most ``alpha`` (Ville;
per judge).  Unlike the sequence of one rate over the whole stream, a start at the change needs only the flips
since then (and ``log(s (s + 1))`` more evidence): 20% of 40 anchors changed after 0, 10, 40 quiet batches is
caught 1, 2, 3 batches later (the sequence: 3, 99, not within 200).  The same anchor items are re-judged in every
batch, so an item whose verdict changed for good is counted again in every later batch: given the past it flips
with chance 1, so a judge changed on more than ``R`` of the *anchors* is rightly caught (3 of 40 changed, ``R =
5%``: at the 23rd batch), but the alarm is about the anchors; how many of the judge's other items changed, a few
anchors only estimate (README, *The flip-rate gate*).

The state (:func:`update`) keeps every batch's sums and the anchor verdicts, so a run per batch (in CI) adds the
new batch and recomputes the whole sequence and the detector (a bet is fixed within a batch, so a batch's factor
``(1 + lambda (1 - R))^f (1 - lambda R)^(n - f)`` needs only its counts); a batch already counted (same file
contents) is skipped.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from auditor.config import AuditConfig, MonitorConfig
from auditor.errors import ConfigError, InputError
from auditor.files import read_input
from auditor.metrics import outcome_categories
from auditor.stats.confseq import METHODS, BatchSums, three_point_sequence
from auditor.stats.edetector import flip_log_evidence, flip_top_starts

#: The rates whose judge-minus-reference gap can be monitored.
RATES = ("no_better_rate", "win_rate", "tie_rate", "loss_rate")
STATE_KIND = "auditor-monitor"
#: What a batch file is, in messages.
BATCH_FILE = "a labels table or an audit.json"
STATE_VERSION = 1
INSIDE, ABOVE, BELOW, NO_BAND, NO_LIMIT = "inside", "above", "below", "no band", "no limit"


def checked_settings(settings: MonitorConfig, where: str | None = None, prefix: str = "") -> MonitorConfig:
    """``settings`` (:class:`auditor.config.MonitorConfig`: what the sequence is of and how it is judged: the
    confidence ``level``, fixed for a stream since changing it would void the guarantee, the monitored ``rate``, the
    ``method``, the ``band`` the gap should stay in and the ``max_flip_rate`` the anchors' flip rate should not
    exceed since any batch, None: none) checked, or an :class:`InputError` naming ``where`` and the setting as ``prefix + name``
    (``--level`` / ``--max-flip-rate`` on the command line, ``monitor.level`` / ``monitor.max_flip_rate`` in
    audit.toml)."""
    if not (isinstance(settings.level, float) and 0 < settings.level < 1):
        raise InputError(
            f"level must lie between 0 and 1, got {settings.level!r}", file=where, column=f"{prefix}level"
        )
    for key, known in (("method", METHODS), ("rate", RATES)):
        if getattr(settings, key) not in known:
            raise InputError(
                f"unknown {key} {getattr(settings, key)!r}; expected one of {', '.join(known)}",
                file=where,
                column=f"{prefix}{key}",
            )
    if settings.band is not None:
        if len(settings.band) != 2:
            raise ConfigError(
                f"has {list(settings.band)}; expected [LOW, HIGH]", file=where, column=f"{prefix}band"
            )
        low, high = settings.band
        if not (-1 <= low < high <= 1):
            raise InputError(
                f"band must be LOW,HIGH with -1 <= LOW < HIGH <= 1 (a gap lies in [-1, 1]), got "
                f"{low:g},{high:g}",
                file=where,
                column=f"{prefix}band",
            )
    limit = settings.max_flip_rate
    if limit is not None and not (
        isinstance(limit, (int, float)) and not isinstance(limit, bool) and 0 <= limit < 1
    ):
        name = "max-flip-rate" if prefix.startswith("--") else "max_flip_rate"
        raise InputError(
            f"the maximum flip rate must be a number with 0 <= R < 1 (a flip rate lies in [0, 1]), got {limit!r}",
            file=where,
            column=f"{prefix}{name}",
        )
    return settings


def parse_band(text: str) -> tuple[float, float]:
    """``"-0.05,0.10"`` -> ``(-0.05, 0.1)``; anything else is an :class:`InputError` naming ``--band``."""
    parts = [p.strip() for p in str(text).split(",")]
    try:
        low, high = (float(p) for p in parts)
    except ValueError:
        raise InputError(f"expected LOW,HIGH (two numbers), got {text!r}", column="--band") from None
    if not (np.isfinite(low) and np.isfinite(high)):
        raise InputError(f"expected two finite numbers, got {text!r}", column="--band")
    return low, high


def parse_max_flip_rate(text: str) -> float:
    """``"0.05"`` -> ``0.05``; text that is not a number is an :class:`InputError` naming ``--max-flip-rate`` (the
    range, which also refuses NaN and infinity, is checked by :func:`checked_settings`)."""
    try:
        value = float(str(text).strip())
    except ValueError:
        raise InputError(
            f"expected a number R with 0 <= R < 1, got {text!r}", column="--max-flip-rate"
        ) from None
    return value


# -- one batch -----------------------------------------------------------------------------------------------------
def _sums(values: np.ndarray) -> dict[str, float]:
    return {"n": int(values.size), "sum": float(values.sum()), "squares": float((values * values).sum())}


def _category_outcomes(doc: dict[str, Any], categories: list[str], rate: str) -> np.ndarray:
    """Per category of an audit's confusion table: whether a label in it counts for ``rate``."""
    counted = outcome_categories(doc, categories, rate)
    if counted is None:
        raise ValueError(f"a {doc.get('task')} audit has no {rate} gap to monitor")
    return np.array(counted, dtype=bool)


def audit_batch(path: Path, doc: dict[str, Any], settings: MonitorConfig) -> dict[str, Any]:
    """The gap observations of one saved audit, per judge, from its confusion tables."""
    judges: dict[str, Any] = {}
    for i, conf in enumerate(doc.get("confusion", []), start=1):
        categories = conf.get("categories")
        try:
            counts = np.asarray(conf.get("counts"), float)
            usable = (
                isinstance(conf.get("judge"), str)
                and isinstance(categories, list)
                and counts.shape == (len(categories), len(categories))
                and bool(np.all(np.isfinite(counts) & (counts >= 0) & (counts == np.round(counts))))
            )
        except (TypeError, ValueError):
            usable = False
        if not usable:
            raise InputError(
                "is not a usable audit.json: expected a judge name, its categories and a square table of counts",
                file=str(path),
                row=i,
                column="confusion",
            )
        categories = [str(c) for c in categories]
        try:
            outcome = _category_outcomes(doc, categories, settings.rate).astype(float)
        except (ValueError, KeyError, TypeError) as exc:
            raise InputError(
                f"cannot monitor its {settings.rate} gap: {exc}", file=str(path), column="task"
            ) from None
        d = outcome[None, :] - outcome[:, None]  # judge (column) minus reference (row)
        judges[str(conf["judge"])] = {
            "gap": {
                "n": int(counts.sum()),
                "sum": float((counts * d).sum()),
                "squares": float((counts * d * d).sum()),
            }
        }
    if not judges:
        raise InputError(
            "holds no confusion table (a score audit, or no judge paired with the reference): monitor its labels "
            "instead",
            file=str(path),
            column="confusion",
        )
    return {"kind": "audit", "task": doc.get("task"), "judges": judges}


def _verdicts(ctx: Any, side: Any, idx: np.ndarray) -> list[str] | None:
    """The verdict per item in ``idx``: the aggregated label; score tasks: win / tie / loss (None without a
    neutral point)."""
    if ctx.task == "score":
        ind = ctx.indicators(side, idx)
        if ind is None:
            return None
        return np.select([ind["win_rate"], ind["tie_rate"]], ["win", "tie"], "loss").tolist()
    return [str(ctx.categories[c]) for c in side.code[idx]]


def labels_batch(
    path: Path, config: AuditConfig, settings: MonitorConfig, anchors: dict[str, dict[str, str]]
) -> dict[str, Any]:
    """The gap and flip observations of one labels table, per judge; ``anchors`` (judge -> item -> first verdict)
    gains the items of a judge's first batch."""
    from auditor.data import load
    from auditor.engine.context import AuditContext
    from auditor.io import read_table

    frame = read_table(path, delimiter=config.delimiter, sheet=config.sheet)
    judge_column = config.columns.get("judge", "judge")
    named = (
        [] if judge_column not in frame.columns else [str(j) for j in frame[judge_column].dropna().unique()]
    )
    has_reference = config.reference in named
    if named and not has_reference:  # a batch without spot checks: flips only
        config = replace(config, reference=named[0])
    ctx = AuditContext(load(frame, None, config))
    labels = ctx.t.labels
    judge_of_row = labels["judge"].to_numpy()
    ref = ctx.side(judge_of_row == config.reference) if has_reference else None
    ref_ok = ctx.usable(ref) if ref is not None else np.zeros(ctx.n_items, dtype=bool)
    item_ids = np.asarray(ctx.item_pos.astype(str))
    judges: dict[str, Any] = {}
    for judge in dict.fromkeys(judge_of_row.tolist()):
        if has_reference and judge == config.reference:
            continue
        side = ctx.side(judge_of_row == judge, calibrate=True)
        usable = ctx.usable(side)
        entry: dict[str, Any] = {}
        paired = np.flatnonzero(usable & ref_ok)
        if ref is not None and paired.size:
            ind_j, ind_r = ctx.indicators(side, paired), ctx.indicators(ref, paired)
            if ind_j is None or settings.rate not in ind_j:
                raise InputError(
                    f"a {ctx.task} task has no {settings.rate} to monitor"
                    + (
                        " (a score task needs a neutral point: [score] neutral)"
                        if ctx.task == "score"
                        else ""
                    ),
                    file=str(path),
                    column="rate",
                )
            entry["gap"] = _sums(ind_j[settings.rate].astype(float) - ind_r[settings.rate].astype(float))
        judged = np.flatnonzero(usable)
        verdicts = _verdicts(ctx, side, judged)
        if verdicts is not None and judged.size:
            ids = item_ids[judged].tolist()
            if judge not in anchors:
                anchors[judge] = dict(zip(ids, verdicts, strict=True))
            else:
                first = anchors[judge]
                again = [(first[i], v) for i, v in zip(ids, verdicts, strict=True) if i in first]
                if again:
                    entry["flips"] = _sums(np.array([float(a != b) for a, b in again]))
        if entry:
            judges[str(judge)] = entry
    return {"kind": "labels", "task": ctx.task, "judges": judges}


def read_batch(
    path: Path, config: AuditConfig, settings: MonitorConfig, anchors: dict[str, dict[str, str]]
) -> dict[str, Any]:
    """One batch: a saved ``audit.json`` (a ``.json`` file holding an object with ``metrics``, validated with
    :func:`auditor.contract.validate_document`) or a labels table."""
    if path.suffix.lower() == ".json" and path.is_file():
        doc = _read_json(path, BATCH_FILE)
        if isinstance(doc, dict) and "metrics" in doc:
            from auditor.contract import validate_document

            validate_document(doc, str(path))
            return audit_batch(path, doc, settings)
    config.require_task()
    return labels_batch(path, config, settings, anchors)


def _read_json(path: Path, expected: str) -> Any:
    """The JSON document in ``path`` (read through :func:`auditor.files.read_input`: a FIFO is never opened)."""
    try:
        return json.loads(read_input(path, expected).decode("utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"is not valid JSON: {exc}", file=str(path)) from None
    except RecursionError:
        raise InputError("is not valid JSON: nested too deep", file=str(path)) from None


def _digest(path: Path) -> str:
    return hashlib.sha256(read_input(path, BATCH_FILE)).hexdigest()


# -- the state -----------------------------------------------------------------------------------------------------
def new_state(settings: MonitorConfig) -> dict[str, Any]:
    return {
        "kind": STATE_KIND,
        "version": STATE_VERSION,
        "level": settings.level,
        "rate": settings.rate,
        "method": settings.method,
        "batches": [],
        "anchors": {},
    }


#: The two streams of a judge: their key in a batch, their name in the report and the range of an observation.
STREAMS = (("gap", "gap", -1.0, 1.0), ("flips", "flip_rate", 0.0, 1.0))


def _usable_sums(sums: Any, low: float, high: float) -> bool:
    """``{"n", "sum", "squares"}`` of observations that take ``low``, the midpoint or ``high``: finite numbers
    whose counts of the three values are whole and not negative."""
    if not isinstance(sums, dict):
        return False
    numbers = [sums.get(key) for key in ("n", "sum", "squares")]
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(v) for v in numbers):
        return False
    counts = BatchSums.of(*numbers).three_point_counts(low, high)
    return bool(np.all(counts > -1e-9) and np.allclose(counts, np.round(counts), atol=1e-9))


def read_state(path: Path, settings: MonitorConfig) -> dict[str, Any]:
    """A state written by an earlier run; its level and rate must be the ones asked for (a changed level or rate
    would void the guarantee: start a new state file)."""
    state = _read_json(path, "a monitor state file (JSON)")
    where = str(path)
    if not isinstance(state, dict) or state.get("kind") != STATE_KIND:
        raise InputError(
            f'is not an auditor monitor state (no "kind": "{STATE_KIND}")', file=where, column="kind"
        )
    if state.get("version") != STATE_VERSION:
        raise InputError(
            f"has state version {state.get('version')!r}; this auditor reads version {STATE_VERSION}",
            file=where,
            column="version",
        )
    for key in ("level", "rate", "method"):
        if state.get(key) != getattr(settings, key):
            raise InputError(
                f"was started with {key} {state.get(key)!r}, not {getattr(settings, key)!r}; a stream keeps its "
                f"{key} (changing it voids the guarantee): pass {key} {state.get(key)!r} or start a new state file",
                file=where,
                column=key,
            )
    batches, anchors = state.get("batches"), state.get("anchors")
    if not isinstance(batches, list) or not isinstance(anchors, dict):
        raise InputError(
            "is not a usable monitor state: expected 'batches' (a list) and 'anchors'", file=where
        )
    for i, batch in enumerate(batches, start=1):
        judges = batch.get("judges") if isinstance(batch, dict) else None
        if not isinstance(judges, dict) or not all(
            isinstance(batch.get(key), (str, type(None))) for key in ("task", "sha256", "source")
        ):
            raise InputError(
                "expected an object with 'judges' (and text 'task', 'sha256', 'source')",
                file=where,
                row=i,
                column="batches",
            )
        for judge, entry in judges.items():
            for stream, _, low, high in STREAMS:
                sums = entry.get(stream) if isinstance(entry, dict) else None
                if sums is not None and not _usable_sums(sums, low, high):
                    raise InputError(
                        f"judge {judge!r}: expected n, sum, squares of observations in {{{low:g}, "
                        f"{(low + high) / 2:g}, {high:g}}}",
                        file=where,
                        row=i,
                        column=f"batches.{stream}",
                    )
    for judge, verdicts in anchors.items():
        if not isinstance(verdicts, dict):
            raise InputError(f"judge {judge!r}: expected item -> verdict", file=where, column="anchors")
    return state


def update(
    state: dict[str, Any], paths: list[Path], config: AuditConfig, settings: MonitorConfig
) -> tuple[dict[str, Any], list[str]]:
    """The state with the batches in ``paths`` added in order (a copy; ``state`` is not changed), and the notes
    on batches skipped because the state already counts them.  A batch is known by the SHA-256 of its contents, taken
    before and after it is read: a file that changed in between is an :class:`InputError` (its digest would name
    contents other than the ones counted, and the completed file would later be counted again)."""
    state = json.loads(json.dumps(state))
    seen = {b.get("sha256") for b in state["batches"]}
    notes = []
    for path in paths:
        digest = _digest(path)
        if digest in seen:
            notes.append(f"{path}: already counted (same contents as an earlier batch), skipped")
            continue
        batch = read_batch(path, config, settings, state["anchors"])
        if (
            _digest(path) != digest
        ):  # a writer still appending: the batch counted is not the one named by digest
            raise InputError(
                "changed while it was being read (is a writer still appending to it?); nothing was counted: run "
                "again once the file is complete",
                file=str(path),
            )
        tasks = {b.get("task") for b in state["batches"]} - {None}
        if batch["task"] is not None and tasks and batch["task"] not in tasks:
            raise InputError(
                f"is a {batch['task']} batch, but the stream's batches are {', '.join(sorted(tasks))}: one stream "
                "monitors one task (start a new state file for another)",
                file=str(path),
                column="task",
            )
        state["batches"].append({"source": str(path), "sha256": digest, **batch})
        seen.add(digest)
    return state, notes


# -- the sequences and the decision ---------------------------------------------------------------------------------
def sequences(state: dict[str, Any], settings: MonitorConfig) -> list[dict[str, Any]]:
    """One row per judge and batch holding its observations: the running estimate and the confidence sequence of
    the gap and of the flip rate (null where the judge has none yet), the gap's place against the band
    (``status``) and, with a maximum flip rate, the flip detector's evidence (``flip_evidence``: ``M_t`` of
    :func:`~auditor.stats.edetector.flip_log_evidence`; ``flip_since``: the batch of the start contributing most), its decision
    (``flip_status``: ``above`` from the first batch where the evidence reached ``1 / alpha`` on, for good) and
    that first alarm (``flip_alarm``: its batch, evidence and start)."""
    alpha = 1 - settings.level
    judges = list(dict.fromkeys(j for b in state["batches"] for j in b["judges"]))
    rows = []
    for judge in judges:
        entries = [
            (k, b["judges"][judge]) for k, b in enumerate(state["batches"], start=1) if judge in b["judges"]
        ]
        out: dict[int, dict[str, Any]] = {
            k: {"judge": judge, "batch": k, "source": state["batches"][k - 1].get("source")}
            for k, _ in entries
        }
        for stream, name, low, high in STREAMS:
            got = [(k, e[stream]) for k, e in entries if stream in e]
            for k, _ in entries:
                out[k].update({f"{name}_n": 0, name: None, f"{name}_low": None, f"{name}_high": None})
            if not got:
                continue
            sums = BatchSums.of(*([s[key] for _, s in got] for key in ("n", "sum", "squares")))
            lo, hi = three_point_sequence(sums, alpha, low, high, settings.method)
            total, hits = np.cumsum(sums.n), np.cumsum(sums.sums)
            carried: dict[str, Any] = {}
            got_at = {k: i for i, (k, _) in enumerate(got)}
            for k, _ in entries:
                if k in got_at:
                    i = got_at[k]
                    carried = {
                        f"{name}_n": int(total[i]),
                        name: float(hits[i] / total[i]) if total[i] else None,
                        f"{name}_low": float(lo[i]),
                        f"{name}_high": float(hi[i]),
                    }
                out[k].update(carried)  # a batch without observations keeps the sequence where it was
        _detect_flips(out, [(k, e["flips"]) for k, e in entries if "flips" in e], settings)
        for row in out.values():
            row["status"] = band_status(row["gap_low"], row["gap_high"], settings.band)
            rows.append(row)
    return sorted(rows, key=lambda r: (r["batch"], judges.index(r["judge"])))


def _detect_flips(
    out: dict[int, dict[str, Any]], got: list[tuple[int, dict[str, Any]]], settings: MonitorConfig
) -> None:
    """Adds the flip detector's fields to one judge's rows ``out`` (batch -> row) from its batches with re-judged
    anchors ``got``; a batch without them keeps the detector where it was (its starts count those batches only)."""
    limit = settings.max_flip_rate
    blank = {"flip_evidence": None, "flip_since": None, "flip_alarm": None}
    if limit is None or not got:
        for row in out.values():
            row.update(blank, flip_status=NO_LIMIT if limit is None else INSIDE)
        return
    n = np.array([s["n"] for _, s in got], float)
    flips = np.array([s["sum"] for _, s in got], float)
    log_evidence = flip_log_evidence(n, flips, limit)
    tops = flip_top_starts(n, flips, limit)
    threshold = -np.log(1 - settings.level)
    got_at = {k: i for i, (k, _) in enumerate(got)}
    carried, alarm = dict(blank), None
    for k in sorted(out):
        if k in got_at:
            i = got_at[k]
            carried = {"flip_evidence": float(np.exp(log_evidence[i])), "flip_since": got[int(tops[i])][0]}
            if alarm is None and log_evidence[i] >= threshold:
                alarm = {"batch": k, "evidence": carried["flip_evidence"], "since": carried["flip_since"]}
        out[k].update(carried, flip_alarm=alarm, flip_status=INSIDE if alarm is None else ABOVE)


def band_status(low: float | None, high: float | None, band: tuple[float, float] | None) -> str:
    """``above`` / ``below`` when the sequence ``[low, high]`` lies wholly above / below the band, else
    ``inside`` (also before any observation); ``no band`` without one."""
    if band is None:
        return NO_BAND
    if low is not None and low > band[1]:
        return ABOVE
    if high is not None and high < band[0]:
        return BELOW
    return INSIDE


def latest(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each judge's row after its last batch."""
    last: dict[str, dict[str, Any]] = {}
    for row in rows:
        last[row["judge"]] = row
    return list(last.values())


def report(state: dict[str, Any], settings: MonitorConfig) -> dict[str, Any]:
    """The state with its sequences, each judge's latest row and the decision: ``outside`` when some judge's gap
    sequence has left the band (``alarms`` names them) or its flip detector has raised an alarm (its evidence
    reached ``flip_threshold`` = ``1 / alpha`` at some batch: ``flip_alarms``), else ``inside`` (``no band`` with
    neither a band nor a maximum)."""
    rows = sequences(state, settings)
    now = latest(rows)
    alarms = [r["judge"] for r in now if r["status"] in (ABOVE, BELOW)]
    flip_alarms = [r["judge"] for r in now if r["flip_status"] == ABOVE]
    if settings.band is None and settings.max_flip_rate is None:
        decision = NO_BAND
    else:
        decision = "outside" if alarms or flip_alarms else INSIDE
    limit = settings.max_flip_rate
    return {
        **state,
        "band": None if settings.band is None else list(settings.band),
        "max_flip_rate": limit,
        "flip_threshold": None if limit is None else 1 / (1 - settings.level),
        "convention": (
            f"{settings.method} confidence sequence (Waudby-Smith & Ramdas 2023) over the batches; gap = judge minus "
            f"reference {settings.rate} on the same items; flip rate = share of re-judged anchor items whose "
            f"verdict differs from their first batch's; anytime-valid at level {settings.level:g} per judge and "
            "sequence"
            + (
                ""
                if limit is None
                else f"; flip decision: e-detector (Shin, Ramdas & Rinaldo 2022), flip_evidence = sum over start "
                f"batches s of w_s E_s, w_s = 1/(s(s+1)), E_s = betting capital against a flip chance <= {limit:g} "
                f"since s (mean over the bets lambda = c/R, c = 1/2 ... 1/1024); alarm, for good, once it reaches "
                f"1/alpha = {1 / (1 - settings.level):g}"
            )
        ),
        "decision": decision,
        "alarms": alarms,
        "flip_alarms": flip_alarms,
        "judges": now,
        "sequence": rows,
    }
