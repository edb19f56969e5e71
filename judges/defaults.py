"""The defaults of an LLM judging run's bounds, in one place: :class:`judges.llm.config.LLMJudgeConfig`'s fields and
the command-line options of ``auditor judge``, ``auditor probe`` and ``auditor injection`` (:mod:`judges.cli.options`)
both read them.  No imports: the command line reads this module at start-up."""

#: Failed requests beyond this share of a run's requests end it with exit code 3 (run incomplete).
MAX_ERROR_RATE = 0.05
#: The longest ``Retry-After`` honoured, in seconds; a longer one ends the request at once.
MAX_WAIT = 60.0
#: Seconds one request may take across all its attempts and waits.
REQUEST_DEADLINE = 300.0
#: The largest answer body read, in bytes (1 MiB).
MAX_ANSWER_BYTES = 1_048_576
#: The longest wait for the batches of ``--batch-submit`` / ``--batch-wait`` (seconds): a day, OpenAI's window.
BATCH_MAX_WAIT = 86_400.0
#: Seconds between two polls of a batch's status.
BATCH_POLL = 30.0
