"""How ``traces.json`` here was written, with MLflow's own library (mlflow-skinny 3.18.0 from PyPI, not a project
dependency): six traced answers to quiz questions in a local tracking store, feedback ``correct`` logged by two
people (HUMAN) and one LLM judge (LLM_JUDGE; one of its calls failed and logged an error instead), a
``tone`` rating from the judge, and each question's expected answer (an expectation); then every trace fetched
back with ``mlflow.get_trace`` and written as ``Trace.to_dict()`` in one JSON list.  The answers and verdicts
are hand-chosen so that the tests can count them.  Run with MLFLOW_ALLOW_FILE_STORE=true
MLFLOW_ENABLE_ASYNC_TRACE_LOGGING=false: ``python make_traces.py STORE_DIR OUT_FILE``."""

import json
import sys

import mlflow
from mlflow.entities import AssessmentError, AssessmentSource, AssessmentSourceType

store, out = sys.argv[1], sys.argv[2]
mlflow.set_tracking_uri(f"file://{store}")
mlflow.set_experiment("quiz")
questions = [
    ("What is the capital of France?", "Paris", "The capital of France is Paris."),
    ("How many legs does a spider have?", "8", "A spider has 8 legs."),
    ("What is 12 times 12?", "144", "12 times 12 is 124."),
    ("Which planet is known as the red planet?", "Mars", "Mars is known as the red planet."),
    ("What gas do plants absorb from the air?", "carbon dioxide", "Plants absorb oxygen from the air."),
    ("Who wrote 'Pride and Prejudice'?", "Jane Austen", "It was written by Jane Austen."),
]
ann = [True, True, False, True, False, True]
bo = [True, True, False, False, False, True]
judge = ["yes", "yes", "yes", "yes", "no", None]  # None: the judge's call failed
tone = [5, 4, 2, 4, 3, 5]
human = [AssessmentSource(AssessmentSourceType.HUMAN, name) for name in ("ann", "bo")]
llm = AssessmentSource(AssessmentSourceType.LLM_JUDGE, "openai:/gpt-4o-mini")


@mlflow.trace
def answer(question: str) -> str:
    return next(a for q, _, a in questions if q == question)


traces = []
for k, (question, expected, _) in enumerate(questions):
    answer(question)
    trace_id = mlflow.get_last_active_trace_id()
    mlflow.log_expectation(trace_id=trace_id, name="expected_answer", value=expected, source=human[0])
    for source, values in zip(human, (ann, bo), strict=True):
        mlflow.log_feedback(trace_id=trace_id, name="correct", value=values[k], source=source)
    if judge[k] is None:
        error = AssessmentError(
            error_code="RATE_LIMIT_EXCEEDED", error_message="429 from the judge's endpoint"
        )
        mlflow.log_feedback(trace_id=trace_id, name="correct", error=error, source=llm)
    else:
        mlflow.log_feedback(
            trace_id=trace_id, name="correct", value=judge[k], source=llm, rationale="Checked."
        )
    mlflow.log_feedback(trace_id=trace_id, name="tone", value=tone[k], source=llm)
    traces.append(mlflow.get_trace(trace_id).to_dict())
with open(out, "w", encoding="utf-8") as handle:
    json.dump(traces, handle, indent=1)
