"""Benchmark: reward-model scoring one text at a time against batches, with and without sorting by length.

Builds the tiny reward model of the tests (``judges.rm_tiny``) in a temporary folder, scores the same texts of
varied length (a few to a few hundred tokens) three ways on the CPU, and prints one row per way: time (best of
``--repeats``), texts per second, speed-up over one at a time, the share of padding tokens in the batches, and the
largest score difference from one at a time (it must stay below 1e-4).

    python benchmarks/bench_reward_model.py
    python benchmarks/bench_reward_model.py --texts 512 --batch-size 32 --hidden-size 256 --layers 4 --threads 2
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from judges.reward_model import RewardModelJudge  # noqa: E402
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


def padding_share(lengths: list[int], batch_size: int, sort_by_length: bool) -> float:
    """Padding tokens / all tokens fed to the model when ``lengths`` are batched as the judge batches them."""
    order = sorted(lengths, reverse=True) if sort_by_length else list(lengths)
    fed = real = 0
    for start in range(0, len(order), batch_size):
        batch = order[start : start + batch_size]
        fed += max(batch) * len(batch)
        real += sum(batch)
    return 1 - real / fed


def timed(
    judge: RewardModelJudge, prompts: list[str], responses: list[str], repeats: int
) -> tuple[float, np.ndarray]:
    best, scores = float("inf"), np.array([])
    for _ in range(repeats):
        start = time.perf_counter()
        scores = judge.score_texts(prompts, responses)
        best = min(best, time.perf_counter() - start)
    return best, scores


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--architecture", choices=("llama", "gpt2", "bert"), default="llama")
    parser.add_argument("--hidden-size", type=int, default=32)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument(
        "--threads", type=int, default=1, help="torch CPU threads (1 is fastest for tiny models)"
    )
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)

    import torch

    torch.set_num_threads(args.threads)
    prompts, responses = varied_texts(args.texts)
    with tempfile.TemporaryDirectory() as folder:
        build_tiny_reward_model(
            folder, architecture=args.architecture, hidden_size=args.hidden_size, layers=args.layers
        )
        judge = RewardModelJudge(folder, device="cpu", batch_size=1)
        lengths = [len(judge._encode(judge.render(p, r))) for p, r in zip(prompts, responses, strict=True)]
        judge.score_texts(prompts[:8], responses[:8])  # warm-up

        rows = []
        ways = [("one at a time", 1, True), ("batched, input order", args.batch_size, False)]
        ways.append(("batched, sorted by length", args.batch_size, True))
        reference = None
        for way, batch_size, sort_by_length in ways:
            judge.batch_size, judge.sort_by_length = batch_size, sort_by_length
            seconds, scores = timed(judge, prompts, responses, args.repeats)
            if reference is None:
                reference, base_seconds = scores, seconds
            rows.append(
                (
                    way,
                    batch_size,
                    seconds,
                    args.texts / seconds,
                    base_seconds / seconds,
                    padding_share(lengths, batch_size, sort_by_length),
                    float(np.max(np.abs(scores - reference))),
                )
            )

    print(
        f"{args.architecture} reward model, hidden {args.hidden_size}, {args.layers} layers, {args.texts} texts "
        f"of {min(lengths)}-{max(lengths)} tokens (median {int(np.median(lengths))}), CPU, "
        f"{args.threads} thread(s), best of {args.repeats}"
    )
    header = f"{'way':<27} {'batch':>5} {'seconds':>8} {'texts/s':>8} {'speed-up':>8} {'padding':>8} {'max |Δ|':>9}"
    print(header)
    print("-" * len(header))
    for way, batch_size, seconds, rate, speedup, padding, difference in rows:
        print(
            f"{way:<27} {batch_size:>5} {seconds:>8.3f} {rate:>8.0f} {speedup:>7.1f}x {padding:>8.1%} "
            f"{difference:>9.1e}"
        )
    worst = max(row[-1] for row in rows)
    if worst > TOLERANCE:
        print(f"FAIL: batched scores differ from one-at-a-time scores by {worst:.1e} > {TOLERANCE:.0e}")
        return 1
    print(f"scores equal to {TOLERANCE:.0e} in every way")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
