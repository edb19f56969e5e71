"""How the Inspect logs here were written, with Inspect's own library (inspect-ai from PyPI, not a project
dependency): a six-sample task answered by Inspect's mock model with fixed outputs, scored by
``model_graded_qa`` (its grader a mock model with fixed grades) and ``includes``, written as a ``.eval`` log and
converted to a ``.json`` log by ``write_eval_log``; the mock model's token counts use a word count, as
tiktoken's encoding cannot be downloaded here.  Run: ``python make_logs.py OUT_DIR``."""

import sys
from pathlib import Path

import tiktoken
from inspect_ai import Task, eval
from inspect_ai.dataset import Sample
from inspect_ai.log import read_eval_log, write_eval_log
from inspect_ai.model import ModelOutput, get_model
from inspect_ai.scorer import includes, model_graded_qa
from inspect_ai.solver import generate

out = Path(sys.argv[1])


class WordCount:
    """Stands in for tiktoken's o200k_base, which the mock model counts tokens with and which cannot be
    downloaded here: one token per word (only the logged token usage depends on it)."""

    def encode(self, text, **_):
        return text.split()


tiktoken.get_encoding = lambda name: WordCount()
questions = [
    ("What is the capital of France?", "Paris", "The capital of France is Paris."),
    ("How many legs does a spider have?", "8", "A spider has 8 legs."),
    ("What is 12 times 12?", "144", "12 times 12 is 124."),
    ("Which planet is known as the red planet?", "Mars", "Mars is known as the red planet."),
    ("What gas do plants absorb from the air?", "carbon dioxide", "Plants absorb oxygen from the air."),
    ("Who wrote 'Pride and Prejudice'?", "Jane Austen", "It was written by Jane Austen."),
]
grades = ["C", "C", "C", "C", "I", "I"]  # the grader errs on sample 3 (wrong sum) and sample 6 (right author)
model = get_model(
    "mockllm/model", custom_outputs=[ModelOutput.from_content("mockllm/model", a) for _, _, a in questions]
)
grader = get_model(
    "mockllm/model",
    custom_outputs=[ModelOutput.from_content("mockllm/model", f"Reasoning.\n\nGRADE: {g}") for g in grades],
)
task = Task(
    name="quiz",
    dataset=[Sample(id=k, input=q, target=t) for k, (q, t, _) in enumerate(questions, start=1)],
    solver=generate(),
    scorer=[model_graded_qa(model=grader), includes()],
)
[log] = eval(task, model=model, log_dir=str(out), log_format="eval", max_samples=1, max_connections=1)
eval_path = Path(log.location)
eval_path.rename(out / "quiz.eval")
write_eval_log(read_eval_log(str(out / "quiz.eval")), str(out / "quiz.json"), format="json")
