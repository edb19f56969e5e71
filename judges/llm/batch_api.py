"""The OpenAI Batch API through the ``openai`` client: upload the batch input files, create the batches, wait for
them within a bound, download their output and error files.

:meth:`judges.llm.LLMJudge.submit_batch` runs it: the requests not in the cache are written as batch input lines
(:func:`judges.llm.batch.write_requests`'s format), cut into batches of at most :data:`MAX_BATCH_REQUESTS` lines
and :data:`MAX_BATCH_BYTES` bytes (OpenAI's limits per batch), each uploaded with ``files.create(purpose="batch")``
and started with ``batches.create(endpoint="/v1/chat/completions", completion_window="24h")``.  The batches are
polled with ``batches.retrieve`` every ``poll_interval`` seconds until each has ended (``completed``, ``failed``,
``expired``, ``cancelled``) or ``max_wait`` seconds have passed; the output and error files of every batch that
ended are read back into the cache (:func:`judges.llm.batch.read_result_lines`), so a batch that expired or was
cancelled still gives the answers it has.  The management calls use the client's own retries (``max_retries``)
and ``timeout``; the API key comes from the environment, is redacted from every answer and message, and is never
written anywhere.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from auditor.errors import ConfigError
from judges.llm.batch import CHAT_PATH, BatchResults, counted, unanswered
from judges.llm.config import LLMJudgeConfig
from judges.llm.transport import JudgeRunError, Redactor, api_key, server_message

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)

#: OpenAI's limits on one batch: 50,000 requests and a 200 MB input file.
MAX_BATCH_REQUESTS = 50_000
MAX_BATCH_BYTES = 200 * 1024 * 1024
#: The statuses a batch ends in.
ENDED = frozenset({"completed", "failed", "expired", "cancelled"})
COMPLETION_WINDOW = "24h"


@dataclass
class BatchWait:
    """Where the batches of a run stand after the wait: the batch objects of those that ended (by id), the ids of
    those still running, and what the failed ones said."""

    ended: dict[str, Any] = field(default_factory=dict)
    running: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def split_lines(lines: Sequence[str], max_requests: int, max_bytes: int) -> list[list[str]]:
    """``lines`` (each ending in a newline) cut, in order, into chunks of at most ``max_requests`` lines and
    ``max_bytes`` UTF-8 bytes (a single longer line is a chunk of its own)."""
    chunks: list[list[str]] = []
    current: list[str] = []
    size = 0
    for line in lines:
        length = len(line.encode("utf-8"))
        if current and (len(current) >= max_requests or size + length > max_bytes):
            chunks.append(current)
            current, size = [], 0
        current.append(line)
        size += length
    if current:
        chunks.append(current)
    return chunks


class BatchClient:
    """The Files and Batches calls of one run, with the run's key redacted from every message."""

    def __init__(self, config: LLMJudgeConfig) -> None:
        import openai

        self.config = config
        self.redactor = Redactor(os.environ.get(config.api_key_env))
        self.client = openai.OpenAI(
            api_key=api_key(config),
            base_url=config.base_url,
            timeout=config.timeout,
            max_retries=config.max_retries,
        )

    def close(self) -> None:
        self.client.close()

    def _call(self, what: str, call: Callable[[], Any]) -> Any:
        """``call()``; an API error becomes a :class:`~judges.llm.transport.JudgeRunError` (exit code 3) naming
        the endpoint, the step and the server's message (redacted)."""
        import openai

        try:
            return call()
        except openai.APIStatusError as exc:
            message = self.redactor.line(server_message(exc))
            fix = (
                f"; fix: set ${self.config.api_key_env} to a valid key"
                if exc.status_code in (401, 403)
                else ""
            )
            raise JudgeRunError(
                f"batch run incomplete: {what} at {self.client.base_url} failed with HTTP {exc.status_code}"
                f"{': ' + message if message else ''}{fix}"
            ) from None
        except openai.APIConnectionError as exc:
            cause = self.redactor.line(str(exc.__cause__ or exc))
            raise JudgeRunError(
                f"batch run incomplete: {what} at {self.client.base_url} failed: {cause}; fix: check that the "
                "server is running and that --base-url is right"
            ) from None

    def submit(self, chunks: Iterable[Sequence[str]], *, metadata: dict[str, str] | None = None) -> list[str]:
        """Upload each chunk of input lines and create its batch; the batch ids, in order."""
        ids: list[str] = []
        for number, chunk in enumerate(chunks, start=1):
            content = "".join(chunk).encode("utf-8")
            uploaded = self._call(
                "uploading the batch input",
                lambda content=content, number=number: self.client.files.create(
                    file=(f"auditor-batch-{number}.jsonl", content, "application/jsonl"), purpose="batch"
                ),
            )
            created = self._call(
                "creating the batch",
                lambda file_id=uploaded.id: self.client.batches.create(
                    input_file_id=file_id,
                    endpoint=CHAT_PATH,  # type: ignore[arg-type]
                    completion_window=COMPLETION_WINDOW,
                    metadata=metadata,
                ),
            )
            log.info("batch %s created (%d requests)", created.id, len(chunk))
            ids.append(created.id)
        return ids

    def wait(
        self,
        ids: Sequence[str],
        *,
        max_wait: float,
        poll_interval: float,
        sleep: Callable[[float], None] = time.sleep,
    ) -> BatchWait:
        """Poll every batch until each has ended or ``max_wait`` seconds have passed (at least one poll each)."""
        started = time.monotonic()
        outcome = BatchWait()
        running = list(dict.fromkeys(ids))
        while True:
            still: list[str] = []
            for batch_id in running:
                batch = self._call(
                    f"reading batch {batch_id}",
                    lambda batch_id=batch_id: self.client.batches.retrieve(batch_id),
                )
                if batch.status in ENDED:
                    outcome.ended[batch_id] = batch
                    if batch.status == "failed":
                        outcome.problems.append(f"batch {batch_id} failed: {self.batch_errors(batch)}")
                else:
                    still.append(batch_id)
            running = still
            left = max_wait - (time.monotonic() - started)
            if not running or left <= 0:
                break
            sleep(min(poll_interval, left))
        outcome.running = running
        return outcome

    def batch_errors(self, batch: Any) -> str:
        """The errors a failed batch names (code, line, message; the first three), redacted."""
        data = getattr(getattr(batch, "errors", None), "data", None) or []
        named = [
            f"{e.code or 'error'}"
            + (f" (line {e.line})" if getattr(e, "line", None) else "")
            + (f": {e.message}" if e.message else "")
            for e in data[:3]
        ]
        more = f" and {len(data) - 3} more" if len(data) > 3 else ""
        return self.redactor.line("; ".join(named) + more) if named else "no reason given"

    def download(self, file_id: str) -> str:
        """The text of an output or error file."""
        response = self._call(f"downloading file {file_id}", lambda: self.client.files.content(file_id))
        return response.content.decode("utf-8", errors="replace")


def check_wait_options(max_wait: float, poll_interval: float) -> None:
    if not max_wait >= 0:
        raise ConfigError(f"--batch-max-wait must be 0 or more, not {max_wait:g}")
    if not poll_interval > 0:
        raise ConfigError(f"--batch-poll must be more than 0, not {poll_interval:g}")


def incomplete(
    config: LLMJudgeConfig,
    labels: pd.DataFrame,
    waited: BatchWait,
    results: BatchResults,
    *,
    requests: int,
    ids: Sequence[str],
) -> str | None:
    """None when the batch run is complete enough (no batch still running, and the requests without an answer
    are at most ``max_error_rate`` of the ``requests``); else one line: the batches and how each ended, the
    requests answered and the failures by reason, the malformed result lines, what a failed batch said, and the
    ids to resume with."""
    reasons = unanswered(labels)
    failed = sum(reasons.values())
    if not waited.running and (not failed or failed <= config.max_error_rate * requests):
        return None
    states = ", ".join(
        [f"{batch_id} {waited.ended[batch_id].status}" for batch_id in ids if batch_id in waited.ended]
        + [f"{batch_id} still running" for batch_id in waited.running]
    )
    line = (
        f"batch run incomplete: {failed} of {requests} requests have no answer ({counted(reasons) or 'none'}) from "
        f"{len(ids)} batch{'es' if len(ids) != 1 else ''} at {config.base_url or 'https://api.openai.com/v1'} "
        f"({states or 'none'})"
    )
    if results.malformed:
        line += f"; {results.malformed} result lines were not JSON objects with a custom_id"
    if waited.problems:
        line += "; " + "; ".join(waited.problems)
    if waited.running:
        line += (
            f"; rerun with --batch-wait {','.join(waited.running)} to collect the batches still running "
            "(the answers received are in the cache)"
        )
    elif failed > config.max_error_rate * requests:
        line += (
            f", more than --max-error-rate {config.max_error_rate:g} allows; a rerun with --batch-submit and the "
            "same cache submits only the requests without an answer"
        )
    return line
