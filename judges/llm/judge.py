""":class:`LLMJudge`: plans the requests (:mod:`~judges.llm.planning`), reuses what the cache holds, sends the rest
(:mod:`~judges.llm.transport`) or exchanges them as batch files (:mod:`~judges.llm.batch`), and builds the labels
table (:mod:`~judges.llm.rows`)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from auditor.errors import ConfigError
from judges.base import TASKS, Judge, Judgment
from judges.cache import CachedResponse, JudgeCache
from judges.defaults import BATCH_MAX_WAIT, BATCH_POLL
from judges.llm import batch, batch_api, planning, rows, transport
from judges.llm.batch import CHAT_PATH
from judges.llm.config import LLMJudgeConfig, validate_options
from judges.llm.planning import PlannedRequest
from judges.parsing import answer_problem
from judges.templates import Template

log = logging.getLogger(__name__)


class LLMJudge(Judge):
    """Judge items through an OpenAI-compatible chat-completions endpoint.

    Parameters
    ----------
    config : LLMJudgeConfig
        Endpoint, model and sampling parameters.
    template : str or Path or Template, optional
        A built-in template name, a TOML file, or a parsed :class:`Template`; default: the task's built-in one.
    profile_view : {"full", "outputs", "inputs", "none"}
    profile_at : {"start", "end"}
    orders : sequence of {"ab", "ba"}
        Orders to judge pairs in; labels are always mapped back to the original a/b numbering.
    cache : JudgeCache or path, optional
        Where responses are stored; ``None`` keeps them in memory for this judge's lifetime.
    max_response_chars : int, optional
        Cut each response to this many characters (with a visible marker); part of the prompt, so of the key.
    """

    def __init__(
        self,
        config: LLMJudgeConfig,
        *,
        template: str | Path | Template | None = None,
        profile_view: str = "full",
        profile_at: str = "start",
        orders: Sequence[str] = ("ab",),
        cache: JudgeCache | str | Path | None = None,
        max_response_chars: int | None = None,
    ) -> None:
        self.orders = validate_options(
            config, profile_view=profile_view, profile_at=profile_at, orders=orders
        )
        self.config = config
        self.name = config.judge_name
        self.template_spec = template
        self.profile_view = profile_view
        self.profile_at = profile_at
        self.max_response_chars = max_response_chars
        self._owns_cache = not isinstance(cache, JudgeCache)
        self.cache = (
            cache if isinstance(cache, JudgeCache) else JudgeCache(cache if cache is not None else ":memory:")
        )
        #: Counters of the last run: requests sent, answered from the cache, failed.
        self.stats: dict[str, int] = {}
        #: The batches of the last :meth:`submit_batch`.
        self.batch_ids: list[str] = []

    # -- planning (judges.llm.planning) --------------------------------------------------------------------
    def template_for(self, task: str) -> Template:
        return planning.template_for(self.template_spec, task)

    def request_body(self, messages: list[dict[str, str]], sample: int, template: Template) -> dict[str, Any]:
        """The JSON body of one chat-completions request (exactly what is sent, minus the API key)."""
        return planning.request_body(self.config, messages, sample, template)

    def plan(self, items: pd.DataFrame, task: str) -> list[PlannedRequest]:
        """Every request needed to judge ``items`` for ``task`` (one per item x order x sample)."""
        return planning.plan_requests(self, items, task, lazy=False)[0]

    def _plan(
        self, items: pd.DataFrame, task: str, *, lazy: bool, parser: str | None = None
    ) -> tuple[list[PlannedRequest], list[int], dict[str, tuple[Any, ...]]]:
        """:func:`judges.llm.planning.plan_requests` of this judge."""
        return planning.plan_requests(self, items, task, lazy=lazy, parser=parser)

    def _plan_prefix(self, template: Template, task: str, items: pd.DataFrame) -> Any:
        """:func:`judges.llm.planning.plan_prefix` of this judge."""
        return planning.plan_prefix(self, template, task, items)

    def _parser_key(self, template: Template) -> str:
        return planning.parser_key(self.config, template)

    # -- running -------------------------------------------------------------------------------------------
    def judge_items(self, items: pd.DataFrame, task: str) -> pd.DataFrame:
        """Judge every item (blocking); see :meth:`ajudge_items`."""
        return transport.run_sync(self.ajudge_items(items, task))

    async def ajudge_items(self, items: pd.DataFrame, task: str, *, offline: bool = False) -> pd.DataFrame:
        """Judge every item and return the labels table.

        Stored responses are reused; the others are requested (unless ``offline``, where they become exclusions
        ``not_in_batch_results``).  One row per item x order x sample, in the items' order.

        Raises :class:`~judges.llm.transport.JudgeRunIncomplete` (exit code 3 on the command line), with this
        table in its ``labels``, when the run stopped early (401, 403, 404, or the same failure on request after
        request) or more than ``max_error_rate`` of the requests failed (unparseable verdicts are answers, not
        failures); the answers received are stored, so a rerun sends only the rest.
        """
        if task not in TASKS:
            raise ConfigError(f"--task must be one of {', '.join(TASKS)}, not {task!r}")
        template = self.template_for(task)
        parser = self._parser_key(template)
        planned, positions, parsed = self._plan(items, task, lazy=True, parser=parser)
        keys = [p.key for p in planned if not p.skip and p.key not in parsed]
        parsed.update(self.cache.get_parsed(keys, parser))
        stored = self.cache.get_many((k for k in keys if k not in parsed), with_request=False)
        lacking = sorted(
            {
                position
                for position, p in zip(positions, planned, strict=True)
                if not p.skip and p.body is None and p.key not in parsed and p.key not in stored
            }
        )
        if lacking:  # stored keys without a stored response: render these items for their request bodies
            rendered = {(p.item_id, p.order, p.rater): p for p in self.plan(items.iloc[lacking], task)}
            wanted = set(lacking)
            for number, position in enumerate(positions):
                if position in wanted:
                    p = planned[number]
                    planned[number] = rendered[(p.item_id, p.order, p.rater)]
            stored.update(
                self.cache.get_many(
                    (p.key for p in planned if not p.skip and p.key not in parsed and p.key not in stored),
                    with_request=False,
                )
            )
        missing: dict[str, dict[str, Any]] = {}
        for p in planned:
            if not p.skip and p.key not in parsed and p.key not in stored:
                assert p.body is not None  # rendered above
                missing.setdefault(p.key, p.body)
        failures: dict[str, tuple[str, str]] = {}
        not_stored: set[str] = set()
        stopped: str | None = None
        self.stats = {
            "verdicts": len(planned),
            "skipped": sum(bool(p.skip) for p in planned),
            "from_cache": sum(not p.skip and (p.key in parsed or p.key in stored) for p in planned),
        }
        if missing and not offline:
            sent = await transport.request_all(
                self.config, self.cache, missing, name=self.name, from_cache=self.stats["from_cache"]
            )
            stored.update(sent.fresh)
            failures, not_stored, stopped = sent.failures, sent.not_stored, sent.stopped
        elif missing:
            failures = {key: ("not_in_batch_results", "") for key in missing}
        stopped_before = sum(reason == "run_stopped" for reason, _ in failures.values())
        self.stats["sent"] = len(missing) - stopped_before if not offline else 0
        self.stats["failed"] = len(failures)
        labels = self._labels(planned, parsed, stored, failures, template, task, parser, not_stored)
        if missing and not offline:
            requests = len({p.key for p in planned if not p.skip})
            message = transport.incomplete(self.config, failures, requests, stopped)
            if message is not None:
                raise transport.JudgeRunIncomplete(message, labels)
        return labels

    def _labels(
        self,
        planned: list[PlannedRequest],
        parsed: dict[str, tuple[Any, ...]],
        stored: dict[str, CachedResponse],
        failures: dict[str, tuple[str, str]],
        template: Template,
        task: str,
        parser: str,
        not_stored: set[str] | frozenset[str] = frozenset(),
    ) -> pd.DataFrame:
        """The labels table; the verdicts parsed here are stored for the next rerun.

        Every row is built by :func:`judges.llm.rows.verdict_row` from the same parsed fields, whether they were
        parsed now or read from the cache, so a rerun gives the same table as the run that parsed them.
        ``not_stored``: keys answered in this run whose response the cache did not take (it held another
        process's): their parsed verdicts are not stored (they would not be the stored response's).  A stored
        response that is not a well-formed answer (stored before answers were checked, or imported from a batch
        file) is a ``malformed_response`` exclusion and is deleted from the cache, so the next run requests it.
        """
        table = rows.LabelRows()
        new: list[tuple[Any, ...]] = []
        unusable: list[str] = []
        shared = {"judge": self.name, "template": template, "profile_view": self.profile_view}
        verdict = {**shared, "task": task, "prices": self.config.prices}
        for p in planned:
            if p.skip:
                table.add(rows.excluded_row(p, p.skip, None, **shared))
                continue
            found = parsed.get(p.key)
            if found is not None:
                table.add(rows.verdict_row(p, rows.stored_fields(found), cached=True, **verdict))
                continue
            cached = stored.get(p.key)
            if cached is None:
                reason, raw = failures.get(p.key) or ("not_requested", "")
                table.add(rows.excluded_row(p, reason, raw or None, **shared))
                continue
            problem = answer_problem(cached.response)  # a response stored before answers were checked
            if problem is not None:
                table.add(rows.excluded_row(p, "malformed_response", problem, **shared))
                unusable.append(p.key)
                continue
            fields = rows.parse_fields(cached, template, self.config.min_verdict_mass)
            table.add(rows.verdict_row(p, fields, cached=cached.source != "this_run", **verdict))
            if rows.storable(fields) and p.key not in not_stored:
                new.append(rows.as_stored(p.key, fields))
        if new:
            self.cache.put_parsed(parser, new)
        if unusable:  # requested again by the next run
            self.cache.forget(unusable)
        return table.frame()

    def _judgment(
        self,
        planned: PlannedRequest,
        cached: CachedResponse | None,
        failure: tuple[str, str] | None,
        template: Template,
        task: str,
    ) -> Judgment:
        """One request's judgment, row by row (:func:`judges.llm.rows.judgment`)."""
        return rows.judgment(
            planned, cached, failure, judge=self.name, template=template, task=task,
            profile_view=self.profile_view, min_mass=self.config.min_verdict_mass, prices=self.config.prices,
        )  # fmt: skip

    # -- batch files (judges.llm.batch) --------------------------------------------------------------------
    def export_batch(self, items: pd.DataFrame, task: str, path: str | Path, *, url: str = CHAT_PATH) -> int:
        """Write the requests not yet in the cache as an OpenAI Batch / vLLM ``run-batch`` input file.

        One JSON line per request: ``{"custom_id": KEY, "method": "POST", "url": url, "body": BODY}`` where
        ``KEY`` is the cache key.  Returns the number of lines written (the file is replaced atomically).
        """
        return batch.write_requests(self.plan(items, task), self.cache.keys(), Path(path), url=url)

    def import_batch(self, items: pd.DataFrame, task: str, path: str | Path) -> pd.DataFrame:
        """Store the responses of a batch output file in the cache and return the labels of ``items``.

        Lines whose ``custom_id`` matches no request of these items and options are refused (their count is in
        the error), so a result file can never be attached to the wrong prompts.  Requests without a result
        become exclusions ``not_in_batch_results``; a result line with an error becomes ``batch_error``.  More of
        them than ``max_error_rate`` of the requests raise :class:`~judges.llm.transport.JudgeRunIncomplete` (exit
        code 3), with the labels.
        """
        planned = {p.key: p for p in self.plan(items, task) if not p.skip}
        results = batch.read_results(Path(path), planned, self.cache)
        labels = self._batch_labels(items, task, results.errors)
        reasons = batch.unanswered(labels)
        failed = sum(reasons.values())
        if failed > self.config.max_error_rate * len(planned):
            raise transport.JudgeRunIncomplete(
                f"batch import incomplete: {failed} of {len(planned)} requests have no answer in {path} "
                f"({batch.counted(reasons)}), more than --max-error-rate {self.config.max_error_rate:g} allows; "
                "--batch-export writes the requests still without an answer (those in the cache are left out)",
                labels,
            )
        return labels

    def submit_batch(
        self,
        items: pd.DataFrame,
        task: str,
        *,
        resume: Sequence[str] = (),
        max_wait: float = BATCH_MAX_WAIT,
        poll_interval: float = BATCH_POLL,
        max_requests: int = batch_api.MAX_BATCH_REQUESTS,
        max_bytes: int = batch_api.MAX_BATCH_BYTES,
        sleep: Callable[[float], None] = time.sleep,
        on_submit: Callable[[list[str]], None] | None = None,
    ) -> pd.DataFrame:
        """Judge ``items`` through the OpenAI Batch API (:mod:`judges.llm.batch_api`) and return the labels.

        The requests not in the cache are uploaded as batches of at most ``max_requests`` lines and ``max_bytes``
        bytes (none when the cache holds every answer), or, with ``resume``, the batches of those ids (created by
        an earlier run) are waited for instead.  After the wait (at most ``max_wait`` seconds, a poll every
        ``poll_interval``), the output and error files of every batch that ended are stored in the cache, so a
        rerun never pays twice.  Exclusions: ``batch_error`` (an error line), ``not_in_batch_results`` (no result:
        a failed, expired, cancelled or still running batch, a line missing or malformed).

        Raises :class:`~judges.llm.transport.JudgeRunIncomplete` (exit code 3), with the labels, when a batch is
        still running at the end of the wait (the message names the ids to resume with) or more than
        ``max_error_rate`` of the requests have no answer; the message counts every kind of failure.
        """
        if task not in TASKS:
            raise ConfigError(f"--task must be one of {', '.join(TASKS)}, not {task!r}")
        batch_api.check_wait_options(max_wait, poll_interval)
        planned_list = self.plan(items, task)
        planned = {p.key: p for p in planned_list if not p.skip}
        client = batch_api.BatchClient(self.config)
        results = batch.BatchResults()
        try:
            ids = list(resume)
            lines = [] if ids else batch.request_lines(planned_list, self.cache.keys())
            if lines:
                chunks = batch_api.split_lines(lines, max_requests, max_bytes)
                ids = client.submit(chunks, metadata={"created_by": "judge-auditor", "judge": self.name})
                if on_submit is not None:  # e.g. to show the ids a wait cut short can be resumed with
                    on_submit(ids)
            waited = client.wait(ids, max_wait=max_wait, poll_interval=poll_interval, sleep=sleep)
            for batch_id, ended in waited.ended.items():
                for file_id in (ended.output_file_id, ended.error_file_id):
                    if file_id:
                        text = client.download(file_id)
                        batch.read_result_lines(
                            text.splitlines(), f"batch {batch_id}, file {file_id}", planned, self.cache,
                            strict=False, redact=client.redactor.value, into=results,
                        )  # fmt: skip
        finally:
            client.close()
        labels = self._batch_labels(items, task, results.errors)
        self.stats = {
            "sent": len(lines),
            "from_cache": len(planned) - len(lines) if not resume else 0,
            "malformed_lines": results.malformed,
        }
        self.batch_ids = list(ids)
        if results.malformed:
            log.warning("%d batch result lines were not JSON objects with a custom_id", results.malformed)
        message = batch_api.incomplete(self.config, labels, waited, results, requests=len(planned), ids=ids)
        if message is not None:
            raise transport.JudgeRunIncomplete(message, labels)
        return labels

    def _batch_labels(self, items: pd.DataFrame, task: str, errors: dict[str, str]) -> pd.DataFrame:
        """The labels of ``items`` from the cache alone, the requests with an error line marked ``batch_error``."""
        labels = transport.run_sync(self.ajudge_items(items, task, offline=True))
        for key, error in errors.items():
            mask = (labels["request_key"] == key) & labels["label"].isna() & labels["score"].isna()
            labels.loc[mask, "exclusion"] = "batch_error"
            labels.loc[mask, "raw"] = error
        return labels

    def close(self) -> None:
        if self._owns_cache:
            self.cache.close()
