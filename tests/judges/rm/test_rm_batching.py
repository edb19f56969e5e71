"""Length-sorted, token-budget batching of the reward-model judge: the plan, and scores equal to one at a time.

One at a time here is the straightforward call of the same model on one unpadded text (the benchmark's baseline);
every batching (row limits, token budgets that cut at every row or in the middle of equal lengths, no sorting,
masks kept or left out) must reproduce it to 1e-4.
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

import numpy as np
import pytest

from auditor.errors import AuditorError

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from judges.reward_model import RewardModelJudge, plan_batches  # noqa: E402

TOLERANCE = 1e-4


def _padded(batches: list[list[int]], lengths: list[int]) -> int:
    return sum(max(lengths[index] for index in batch) * len(batch) for batch in batches)


def _one_at_a_time(judge: RewardModelJudge, prompts: list[str], responses: list[str]) -> np.ndarray:
    """Per text: tokenize it alone, one forward pass of the model under its own config, its own logits."""
    special = not getattr(judge.tokenizer, "chat_template", None)
    config = judge.model.config
    injected, config.pad_token_id = config.pad_token_id, judge._skip_token_id
    try:
        with torch.inference_mode():
            return np.array(
                [
                    float(
                        judge.model(
                            input_ids=judge.tokenizer(
                                judge.render(p, r), add_special_tokens=special, return_tensors="pt"
                            )["input_ids"]
                        ).logits[0, 0]
                    )
                    for p, r in zip(prompts, responses, strict=True)
                ]
            )
    finally:
        config.pad_token_id = injected


def _long_tailed(count: int, seed: int = 1) -> tuple[list[str], list[str]]:
    rng = random.Random(seed)
    words = "tea coffee jazz rock hiking beach budget quick detailed vegan spicy morning the a and".split()
    prompts = [" ".join(rng.choices(words, k=rng.randint(1, 12))) + "?" for _ in range(count)]
    responses = []
    for index in range(count):
        length = min(120, max(1, int(rng.lognormvariate(2.5, 1.0))))
        responses.append(" ".join(rng.choices(words, k=length)))
        if index % 7 == 0:  # repeated lengths: cuts inside a run of equal lengths
            responses[-1] = "same length here"
    return prompts, responses


# ------------------------------------------------------------------------------------------------- the plan
@pytest.mark.parametrize(
    "max_rows, max_tokens", [(1, None), (4, None), (64, 256), (64, 1000), (3, 50), (512, 10**6)]
)
def test_the_plan_covers_every_text_once_within_the_limits(max_rows, max_tokens):
    rng = random.Random(max_rows)
    lengths = [max(1, int(rng.lognormvariate(3.5, 1.0))) for _ in range(300)]
    batches = plan_batches(lengths, max_rows, max_tokens)
    assert sorted(index for batch in batches for index in batch) == list(range(len(lengths)))
    flat = [index for batch in batches for index in batch]
    assert [lengths[index] for index in flat] == sorted(lengths, reverse=True)  # longest first
    for batch in batches:
        assert 1 <= len(batch) <= max_rows
        if max_tokens is not None and len(batch) > 1:
            assert len(batch) * max(lengths[index] for index in batch) <= max_tokens


def test_the_cuts_cost_no_more_than_fixed_count_batches_of_the_sorted_list():
    rng = random.Random(5)
    lengths = [max(1, int(rng.lognormvariate(3.5, 1.0))) for _ in range(500)]
    ordered = sorted(range(len(lengths)), key=lambda index: -lengths[index])
    for max_rows in (8, 16, 64):
        fixed = [ordered[start : start + max_rows] for start in range(0, len(ordered), max_rows)]
        planned = plan_batches(lengths, max_rows, None, pass_cost=64)
        cost = _padded(planned, lengths) + 64 * len(planned)
        assert cost <= _padded(fixed, lengths) + 64 * len(fixed)
    # Cheap passes: the plan spends them to cut padding; costly ones: fewer, fuller passes.
    cheap, costly = (
        plan_batches(lengths, 64, 4096, pass_cost=1),
        plan_batches(lengths, 64, 4096, pass_cost=10**6),
    )
    assert _padded(cheap, lengths) < _padded(costly, lengths) and len(cheap) > len(costly)


def test_short_texts_share_a_pass_many_at_a_time_and_long_ones_few():
    lengths = [1000] * 4 + [10] * 200
    batches = plan_batches(lengths, 256, 2048)
    assert [len(batch) for batch in batches if lengths[batch[0]] == 1000] == [2, 2]
    assert [len(batch) for batch in batches if lengths[batch[0]] == 10] == [200]


def test_a_text_longer_than_the_token_budget_gets_a_pass_of_its_own():
    assert plan_batches([5, 1000, 7, 6], 8, 100) == [[1], [2, 3, 0]]
    assert plan_batches([], 8, 100) == []


def test_unsorted_batches_keep_the_input_order():
    lengths = [3, 9, 3, 3, 3]
    assert plan_batches(lengths, 2, None, sort_by_length=False) == [[0, 1], [2, 3], [4]]
    assert plan_batches(lengths, 8, 10, sort_by_length=False) == [[0], [1], [2, 3, 4]]
    with pytest.raises(AuditorError, match="max_rows"):
        plan_batches(lengths, 0)


@pytest.mark.parametrize("architecture", ["llama", "gpt2", "bert"])
def test_one_tokenizer_call_for_all_texts_gives_the_ids_of_one_call_per_text(tiny_reward_model, architecture):
    prompts, responses = _long_tailed(30, seed=4)
    judge = RewardModelJudge(tiny_reward_model(architecture), device="cpu")
    texts = [judge.render(p, r) for p, r in zip(prompts, responses, strict=True)]
    special = not getattr(judge.tokenizer, "chat_template", None)
    one_by_one = [judge.tokenizer(text, add_special_tokens=special)["input_ids"] for text in texts]
    assert judge._encode_many(texts) == one_by_one


# ------------------------------------------------------------------------------------- scores, one at a time
@pytest.mark.parametrize("architecture", ["llama", "gpt2", "bert"])
def test_token_budget_batches_equal_one_at_a_time(tiny_reward_model, architecture):
    prompts, responses = _long_tailed(60)
    judge = RewardModelJudge(tiny_reward_model(architecture), device="cpu")
    reference = _one_at_a_time(judge, prompts, responses)
    assert np.std(reference) > 1000 * TOLERANCE
    lengths = [len(judge._encode(judge.render(p, r))) for p, r in zip(prompts, responses, strict=True)]
    assert len(set(lengths)) > 20 and max(lengths) > 4 * min(lengths)
    settings = [
        (64, 8192),
        (64, None),
        (7, None),
        (256, max(lengths)),
        (256, 3 * max(lengths) - 1),
        (1, None),
    ]
    for batch_size, max_batch_tokens in settings:
        judge.batch_size, judge.max_batch_tokens = batch_size, max_batch_tokens
        batches = plan_batches(lengths, batch_size, max_batch_tokens)
        assert 1 < len(batches) or batch_size >= len(lengths)
        np.testing.assert_allclose(
            judge.score_texts(prompts, responses),
            reference,
            rtol=0,
            atol=TOLERANCE,
            err_msg=f"batch_size={batch_size}, max_batch_tokens={max_batch_tokens}",
        )
    judge.batch_size, judge.max_batch_tokens, judge.sort_by_length = 16, 2048, False
    np.testing.assert_allclose(judge.score_texts(prompts, responses), reference, rtol=0, atol=TOLERANCE)


def test_causal_decoders_go_unmasked_and_encoders_keep_their_mask(tiny_reward_model):
    assert RewardModelJudge(tiny_reward_model("llama"), device="cpu")._causal
    assert RewardModelJudge(tiny_reward_model("gpt2"), device="cpu")._causal
    assert not RewardModelJudge(tiny_reward_model("bert"), device="cpu")._causal


@pytest.mark.parametrize("architecture", ["llama", "gpt2"])
def test_unmasked_right_padding_equals_masked_padding_and_left_padding(tiny_reward_model, architecture):
    prompts, responses = _long_tailed(40, seed=2)
    judge = RewardModelJudge(
        tiny_reward_model(architecture), device="cpu", batch_size=40, max_batch_tokens=None
    )
    unmasked = judge.score_texts(prompts, responses)
    judge._causal = False
    masked = judge.score_texts(prompts, responses)
    judge._padding_side = "left"
    left = judge.score_texts(prompts, responses)
    np.testing.assert_allclose(unmasked, masked, rtol=0, atol=TOLERANCE)
    np.testing.assert_allclose(left, masked, rtol=0, atol=TOLERANCE)


def test_a_model_that_fails_the_causal_check_keeps_its_mask(llama_reward_model, monkeypatch):
    """A decoder whose earlier outputs moved when tokens were appended would be refused the unmasked path."""
    judge = RewardModelJudge(llama_reward_model, device="cpu")
    run = judge._run

    def leaky(inputs):
        per_token, output = run(inputs)
        return per_token + inputs["input_ids"].shape[1], output  # every output depends on the length

    monkeypatch.setattr(judge, "_run", leaky)
    assert not judge._check_causal()


def test_too_long_texts_are_left_out_and_the_rest_batched_unchanged(llama_reward_model):
    prompts, responses = _long_tailed(30, seed=3)
    prompts.insert(5, "hi")
    responses.insert(5, "a detailed long answer " * 150)  # past max_length: excluded, not truncated
    judge = RewardModelJudge(llama_reward_model, device="cpu", max_length=400, max_batch_tokens=800)
    rewards, reasons, _ = judge._score_with_reasons(prompts, responses)
    assert reasons[5] == "too_long" and np.isnan(rewards[5])
    keep = [index for index in range(len(prompts)) if index != 5]
    reference = _one_at_a_time(judge, [prompts[i] for i in keep], [responses[i] for i in keep])
    np.testing.assert_allclose(rewards[keep], reference, rtol=0, atol=TOLERANCE)


def test_a_text_longer_than_the_token_budget_is_scored_alone(llama_reward_model):
    prompts = ["hi", "hello", "explain"]
    responses = ["ok", "a detailed long answer " * 10, "sure"]
    judge = RewardModelJudge(llama_reward_model, device="cpu", max_batch_tokens=16)
    np.testing.assert_allclose(
        judge.score_texts(prompts, responses),
        _one_at_a_time(judge, prompts, responses),
        rtol=0,
        atol=TOLERANCE,
    )


def test_max_batch_tokens_is_checked(llama_reward_model):
    with pytest.raises(AuditorError, match="max_batch_tokens"):
        RewardModelJudge(llama_reward_model, device="cpu", max_batch_tokens=0)


# ------------------------------------------------------------------------------------------------ benchmark
def test_the_benchmark_runs_in_a_smoke_configuration(capsys):
    sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "benchmarks"))
    try:
        import bench_reward_model
    finally:
        sys.path.pop(0)
    threads = torch.get_num_threads()
    try:
        code = bench_reward_model.main(
            ["--models", "tiny", "--texts", "12", "--repeats", "1", "--batch-size", "4"]
        )
    finally:
        torch.set_num_threads(threads)
    out = capsys.readouterr().out
    assert code == 0
    for way in ("one at a time", "judge, batch size 1", "batched, input order", "batched, sorted"):
        assert way in out
    assert "side by side" in out and "scores equal to 1e-04" in out
