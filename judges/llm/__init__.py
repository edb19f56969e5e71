"""An LLM judge for any OpenAI-compatible endpoint (OpenAI, Azure, vLLM, SGLang, llama.cpp, Ollama).

One :class:`openai.AsyncOpenAI` client per run (per 32 concurrent requests); requests go out with a bounded
concurrency and bounded retries (exponential backoff, ``Retry-After`` honoured up to ``max_wait``) on 429, 5xx,
timeouts and dropped connections; answers are type-checked, size-bounded and redacted before they are stored, and a
run that stops early or fails beyond ``max_error_rate`` raises :class:`JudgeRunIncomplete` with its labels.  Every usable response is committed to the
SQLite cache the moment it arrives (by a writer thread, one commit for the responses that arrive together), so a
repeated run makes no request and an interrupted run resumes where it stopped.

The API key is read from an environment variable at request time; it is never part of a cache key, a stored
request, a label row, a log line or an error message.

The parts, one job each:

- :mod:`judges.llm.config`: :class:`LLMJudgeConfig` (endpoint, model, sampling, run options) and its validation.
- :mod:`judges.llm.planning`: which requests a run needs, their bodies, cache keys, plan keys and parser keys.
- :mod:`judges.llm.transport`: the ``openai`` clients, concurrency, retries, error classification, cache writes.
- :mod:`judges.llm.batch`: OpenAI Batch / vLLM ``run-batch`` input and result files.
- :mod:`judges.llm.batch_api`: the OpenAI Batch API through the ``openai`` client (upload, create, poll, download).
- :mod:`judges.llm.rows`: the labels table's rows, built by column name.
- :mod:`judges.llm.judge`: :class:`LLMJudge`, which runs the others in order.

Examples
--------
>>> judge = LLMJudge(LLMJudgeConfig(model="gpt-4o-mini"), cache="judge-cache.sqlite")  # doctest: +SKIP
>>> labels = judge.judge_items(items, "pairwise")  # doctest: +SKIP
"""

from judges.llm.batch import CHAT_PATH
from judges.llm.config import DEFAULT_MAX_TOKENS, LLMJudgeConfig
from judges.llm.judge import LLMJudge
from judges.llm.planning import PlannedRequest
from judges.llm.transport import (
    CHAT_ROUTE,
    CLIENT_CONNECTIONS,
    NO_KEY_PLACEHOLDER,
    JudgeRunError,
    JudgeRunIncomplete,
)

__all__ = [
    "CHAT_PATH",
    "CHAT_ROUTE",
    "CLIENT_CONNECTIONS",
    "DEFAULT_MAX_TOKENS",
    "NO_KEY_PLACEHOLDER",
    "JudgeRunError",
    "JudgeRunIncomplete",
    "LLMJudge",
    "LLMJudgeConfig",
    "PlannedRequest",
]
