"""The reward-model judge on tiny real models (trained tokenizer, seeded weights, the real from_pretrained path)."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from auditor.errors import AuditorError, InputError  # noqa: E402
from judges.reward_model import RewardModelJudge, default_judge_name, pairwise_label, select_device  # noqa: E402

TOLERANCE = 1e-4


def _judge(path, **options) -> RewardModelJudge:
    return RewardModelJudge(str(path), device="cpu", **options)


def _unpadded_reward(
    judge: RewardModelJudge, prompt: str, response: str, profile: str | None = None
) -> float:
    """The model's own output on one unpadded sequence, under its own config (the pad id it shipped with, here
    none: the head reads the last token): the reference every batched score must reproduce.

    The judge sets a pad id (eos) so that the model accepts batches; left in place, transformers < 4.48 would read
    the token before the *first* eos (the end of the prompt) even here, which is why the judge reads the reward
    itself.
    """
    ids = judge._encode(judge.render(prompt, response, profile))
    config = judge.model.config
    injected, config.pad_token_id = config.pad_token_id, judge._skip_token_id
    try:
        with torch.inference_mode():
            return float(judge.model(input_ids=torch.tensor([ids])).logits[0, 0])
    finally:
        config.pad_token_id = injected


# ------------------------------------------------------------------------------------------ batch invariance
@pytest.mark.parametrize("architecture", ["llama", "gpt2", "bert"])
def test_scores_do_not_depend_on_batch_size(tiny_reward_model, varied_texts, architecture):
    prompts, responses = varied_texts
    judge = _judge(tiny_reward_model(architecture), batch_size=1)
    by_batch_size = {}
    for batch_size in (1, 8, 32):
        judge.batch_size = batch_size
        by_batch_size[batch_size] = judge.score_texts(prompts, responses)
    reference = by_batch_size[1]
    # Not a vacuous comparison: the rewards spread far beyond the tolerance.
    assert np.std(reference) > 1000 * TOLERANCE
    for batch_size in (8, 32):
        np.testing.assert_allclose(by_batch_size[batch_size], reference, rtol=0, atol=TOLERANCE)
    judge.batch_size, judge.sort_by_length = 8, False  # batches in input order: more padding, same scores
    np.testing.assert_allclose(judge.score_texts(prompts, responses), reference, rtol=0, atol=TOLERANCE)


@pytest.mark.parametrize("architecture", ["llama", "gpt2", "bert"])
def test_scores_equal_the_models_own_output_on_one_unpadded_sequence(
    tiny_reward_model, varied_texts, architecture
):
    prompts, responses = varied_texts
    judge = _judge(tiny_reward_model(architecture), batch_size=16)
    scores = judge.score_texts(prompts, responses)
    expected = [_unpadded_reward(judge, p, r) for p, r in zip(prompts, responses, strict=True)]
    np.testing.assert_allclose(scores, expected, rtol=0, atol=TOLERANCE)


@pytest.mark.parametrize("padding_side", ["left", "right"])
def test_scores_do_not_depend_on_the_tokenizers_padding_side(
    llama_reward_model, llama_judge, varied_texts, copy_of, padding_side
):
    folder = copy_of(llama_reward_model)
    config_path = folder / "tokenizer_config.json"
    config = json.loads(config_path.read_text())
    config["padding_side"] = padding_side
    config_path.write_text(json.dumps(config))
    judge = _judge(folder, batch_size=8)
    assert judge.tokenizer.padding_side == padding_side
    prompts, responses = varied_texts
    np.testing.assert_allclose(
        judge.score_texts(prompts, responses),
        llama_judge.score_texts(prompts, responses),
        rtol=0,
        atol=TOLERANCE,
    )


@pytest.mark.parametrize("architecture", ["llama", "gpt2"])
def test_left_padded_batches_read_the_same_last_token(tiny_reward_model, varied_texts, architecture):
    """Reading the reward by attention mask (with positions from the mask) holds for left padding too."""
    prompts, responses = varied_texts
    judge = _judge(tiny_reward_model(architecture), batch_size=32)
    right = judge.score_texts(prompts, responses)
    judge._padding_side = "left"
    np.testing.assert_allclose(judge.score_texts(prompts, responses), right, rtol=0, atol=TOLERANCE)


def test_naive_left_padding_changes_scores_which_the_judge_avoids(tiny_reward_model, varied_texts):
    """Negative control: the RewardBench failure is real on this model, so the invariance tests can see it.

    Batching through the tokenizer with left padding and no position ids shifts every padded sequence's
    positions; GPT-2's absolute position embeddings then move the rewards by far more than the tolerance
    (rotary models such as Llama only see relative positions and are spared this one).
    """
    prompts, responses = varied_texts
    judge = _judge(tiny_reward_model("gpt2"), batch_size=8)
    tokenizer, model = judge.tokenizer, judge.model
    texts = [judge.render(p, r) for p, r in zip(prompts, responses, strict=True)]
    tokenizer.padding_side = "left"
    batch = tokenizer(texts, add_special_tokens=False, padding=True, return_tensors="pt")
    with torch.inference_mode():
        naive = model(**batch).logits[:, 0].numpy()
    careful = judge.score_texts(prompts, responses)
    assert np.max(np.abs(naive - careful)) > 100 * TOLERANCE


def test_reading_position_skips_the_models_own_pad_id_at_either_padding_side(llama_judge):
    """The rightmost real token that is not the model's pad id, as transformers' heads read an unpadded one."""
    judge = llama_judge
    saved = judge._skip_token_id
    try:
        judge._skip_token_id = 9
        ids = torch.tensor([[4, 5, 9, 0, 0], [0, 0, 4, 5, 9], [4, 5, 6, 7, 8], [9, 9, 0, 0, 0]])
        mask = torch.tensor([[1, 1, 1, 0, 0], [0, 0, 1, 1, 1], [1, 1, 1, 1, 1], [1, 1, 0, 0, 0]])
        assert judge._reading_positions(ids, mask).tolist() == [1, 3, 4, 1]
        judge._skip_token_id = None
        assert judge._reading_positions(ids, mask).tolist() == [2, 4, 4, 1]
    finally:
        judge._skip_token_id = saved


def test_a_tokenizer_without_pad_token_gets_one_and_the_model_a_pad_id(llama_reward_model, llama_judge):
    tokenizer = transformers.AutoTokenizer.from_pretrained(llama_reward_model)
    config = transformers.AutoConfig.from_pretrained(llama_reward_model)
    assert tokenizer.pad_token is None and config.pad_token_id is None  # as written by the fixture
    assert llama_judge.tokenizer.pad_token_id == llama_judge.tokenizer.eos_token_id
    assert llama_judge.model.config.pad_token_id == llama_judge.tokenizer.eos_token_id
    assert llama_judge._skip_token_id is None  # the model itself had none: read the last real token


# ------------------------------------------------------------------------------------------------- pairwise
def _pairwise_items() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "item_id": ["i1", "i2", "i3", "i4", "i5"],
            "user_id": ["u1", "u1", "u2", "u2", "u3"],
            "prompt": ["Explain why the sky is blue.", "hi", "Recipe?", "Music?", "Travel on a budget?"],
            "response_a": ["Rayleigh scattering.", "Hello!", "Spicy chickpeas.", "Jazz.", "Take the train."],
            "response_b": [
                "Because of the light.",
                "Hi, how can I help?",
                "Tea.",
                "Rock and jazz, loud.",
                "Walk.",
            ],
        }
    )


def test_pairwise_score_is_reward_b_minus_reward_a_and_the_label_follows_its_sign(llama_judge):
    items = _pairwise_items()
    labels = llama_judge.judge_items(items, task="pairwise")
    reward_a = llama_judge.score_texts(list(items["prompt"]), list(items["response_a"]))
    reward_b = llama_judge.score_texts(list(items["prompt"]), list(items["response_b"]))
    assert list(labels.columns) == [
        "item_id",
        "judge",
        "rater",
        "label",
        "order",
        "score",
        "raw",
        "exclusion",
    ]
    assert list(labels["item_id"]) == list(items["item_id"])
    np.testing.assert_allclose(labels["score"].to_numpy(dtype=float), reward_b - reward_a, atol=TOLERANCE)
    expected = ["b" if s > 0 else "a" if s < 0 else "tie" for s in reward_b - reward_a]
    assert list(labels["label"]) == expected
    assert set(expected) == {"a", "b"}  # the items exercise both signs
    assert labels["rater"].eq("0").all() and labels["order"].isna().all() and labels["exclusion"].isna().all()
    assert labels["judge"].eq(f"rm:{llama_judge.model_path.rstrip('/').split('/')[-1]}").all()
    first = labels.iloc[0]
    assert first["raw"] == f"r_a={reward_a[0]:.6g} r_b={reward_b[0]:.6g}"


def test_swapping_a_and_b_negates_the_score_and_flips_the_label(llama_judge):
    items = _pairwise_items()
    swapped = items.rename(columns={"response_a": "response_b", "response_b": "response_a"})
    forward = llama_judge.judge_items(items)
    backward = llama_judge.judge_items(swapped)
    np.testing.assert_allclose(
        forward["score"].to_numpy(dtype=float), -backward["score"].to_numpy(dtype=float), atol=TOLERANCE
    )
    assert list(backward["label"]) == [
        {"a": "b", "b": "a", "tie": "tie"}[label] for label in forward["label"]
    ]


def test_tie_margin_turns_small_differences_into_ties(llama_reward_model, llama_judge):
    items = _pairwise_items()
    differences = llama_judge.judge_items(items)["score"].to_numpy(dtype=float)
    sizes = np.sort(np.abs(differences))
    margin = float(sizes[1] + sizes[2]) / 2  # two items fall within it, three outside, none near the edge
    labels = _judge(llama_reward_model, tie_margin=margin).judge_items(items)
    np.testing.assert_allclose(labels["score"].to_numpy(dtype=float), differences, atol=TOLERANCE)
    for difference, label in zip(differences, labels["label"], strict=True):
        expected = "tie" if abs(difference) <= margin else ("b" if difference > 0 else "a")
        assert label == expected
    assert (labels["label"] == "tie").sum() >= 1 and (labels["label"] != "tie").sum() >= 1


def test_pairwise_label_at_the_margin_is_a_tie():
    assert pairwise_label(0.5, tie_margin=0.5) == "tie"
    assert pairwise_label(-0.5, tie_margin=0.5) == "tie"
    assert pairwise_label(0.5000001, tie_margin=0.5) == "b"
    assert pairwise_label(-0.5000001, tie_margin=0.5) == "a"
    assert pairwise_label(0.0) == "tie"
    assert pairwise_label(math.nan) is None


# ------------------------------------------------------------------------------------------------ pointwise
def test_pointwise_task_puts_the_reward_in_score_and_leaves_label_empty(llama_judge):
    items = pd.DataFrame(
        {
            "item_id": ["p1", "p2", "p3"],
            "prompt": ["hi", "Recipe?", "Music?"],
            "response": ["Hello!", "Tea.", "Jazz"],
        }
    )
    labels = llama_judge.judge_items(items, task="score")
    expected = llama_judge.score_texts(list(items["prompt"]), list(items["response"]))
    np.testing.assert_allclose(labels["score"].to_numpy(dtype=float), expected, atol=TOLERANCE)
    assert labels["label"].isna().all() and labels["exclusion"].isna().all()


# ------------------------------------------------------------------------------------------------ exclusions
def test_empty_responses_are_excluded_and_the_rest_still_scored(llama_judge):
    items = _pairwise_items()
    items.loc[1, "response_a"] = ""
    items.loc[2, "response_b"] = "   \n"
    items.loc[3, "response_b"] = None
    items.loc[3, "response_a"] = pd.NA
    labels = llama_judge.judge_items(items)
    assert list(labels["exclusion"].fillna("-")) == [
        "-",
        "empty_response",
        "empty_response",
        "empty_response",
        "-",
    ]
    assert list(labels["raw"].iloc[1:4]) == [
        "response_a: empty response",
        "response_b: empty response",
        "response_a: empty response; response_b: empty response",
    ]
    excluded = labels["exclusion"].notna()
    assert labels.loc[excluded, "label"].isna().all() and labels.loc[excluded, "score"].isna().all()
    assert labels.loc[~excluded, "label"].notna().all()
    reference = llama_judge.judge_items(_pairwise_items())
    np.testing.assert_allclose(
        labels.loc[~excluded, "score"].to_numpy(dtype=float),
        reference.loc[~excluded, "score"].to_numpy(dtype=float),
        atol=TOLERANCE,
    )

    pointwise = llama_judge.judge_items(
        pd.DataFrame({"item_id": ["p1", "p2"], "prompt": ["hi", "hi"], "response": [float("nan"), "Hello!"]}),
        task="score",
    )
    assert list(pointwise["exclusion"].fillna("-")) == ["empty_response", "-"]
    assert np.isnan(llama_judge.score_texts(["hi"], [""]))[0]


def test_conversations_longer_than_max_length_are_excluded_not_truncated(llama_reward_model):
    judge = _judge(llama_reward_model, max_length=24)
    items = pd.DataFrame(
        {
            "item_id": ["short", "long"],
            "prompt": ["hi", "hi"],
            "response": ["ok", "a detailed long answer " * 20],
        }
    )
    labels = judge.judge_items(items, task="score")
    assert list(labels["exclusion"].fillna("-")) == ["-", "too_long"]
    assert labels.loc[1, "raw"].endswith("tokens > max_length 24")
    assert not pd.isna(labels.loc[0, "score"]) and pd.isna(labels.loc[1, "score"])


# ------------------------------------------------------------------------------------------ templates, profile
def test_profile_goes_into_a_system_message_and_changes_the_reward(llama_reward_model, llama_judge):
    text = llama_judge.render("Recipe?", "Tea.", "likes spicy food")
    assert text.startswith(
        "<|im_start|>system\nUser profile:\nlikes spicy food<|im_end|>\n<|im_start|>user\nRecipe?"
    )
    with_profile = llama_judge.score_texts(["Recipe?"], ["Tea."], ["likes spicy food"])
    without = llama_judge.score_texts(["Recipe?"], ["Tea."])
    assert abs(with_profile[0] - without[0]) > 100 * TOLERANCE
    assert with_profile[0] == pytest.approx(
        _unpadded_reward(llama_judge, "Recipe?", "Tea.", "likes spicy food"), abs=TOLERANCE
    )
    # Missing profiles (None, NaN, blank) and a disabled profile all render without a system message.
    assert llama_judge.render("Recipe?", "Tea.", "  ") == llama_judge.render("Recipe?", "Tea.")
    off = _judge(llama_reward_model, profile_in_prompt=False)
    np.testing.assert_allclose(
        off.score_texts(["Recipe?"], ["Tea."], ["likes spicy food"]), without, atol=TOLERANCE
    )
    items = pd.DataFrame(
        {
            "item_id": ["1", "2"],
            "prompt": ["Recipe?"] * 2,
            "response": ["Tea."] * 2,
            "profile": [None, float("nan")],
        }
    )
    np.testing.assert_allclose(
        llama_judge.judge_items(items, task="score")["score"].to_numpy(dtype=float),
        [without[0]] * 2,
        atol=TOLERANCE,
    )


def test_a_template_without_system_role_gets_the_profile_in_the_user_message(llama_reward_model, copy_of):
    folder = copy_of(llama_reward_model)
    strict = (
        "{% for message in messages %}{% if message['role'] == 'system' %}"
        "{{ raise_exception('System role not supported') }}{% endif %}"
        "<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n{% endfor %}"
    )
    tokenizer = transformers.AutoTokenizer.from_pretrained(folder)
    tokenizer.chat_template = strict
    tokenizer.save_pretrained(folder)
    judge = _judge(folder)
    assert judge.tokenizer.chat_template == strict
    assert judge.render("Recipe?", "Tea.", "likes tea") == (
        "<|im_start|>user\nUser profile:\nlikes tea\n\nRecipe?<|im_end|>\n<|im_start|>assistant\nTea.<|im_end|>\n"
    )


def test_a_tokenizer_without_chat_template_reads_prompt_and_response_joined(tiny_reward_model):
    judge = _judge(tiny_reward_model("llama", chat_template=False))
    assert not judge.tokenizer.chat_template
    assert judge.render("Recipe?", "Tea.") == "Recipe?\n\nTea."
    assert judge.render("Recipe?", "Tea.", "likes tea") == "User profile:\nlikes tea\n\nRecipe?\n\nTea."
    assert judge.render("", "Tea.") == "Tea."
    score = judge.score_texts(["Recipe?"], ["Tea."])[0]
    assert score == pytest.approx(_unpadded_reward(judge, "Recipe?", "Tea."), abs=TOLERANCE)


def test_encoder_models_get_their_special_tokens_without_a_chat_template(tiny_reward_model):
    judge = _judge(tiny_reward_model("bert"))
    tokens = judge.tokenizer.convert_ids_to_tokens(judge._encode(judge.render("hi", "yo")))
    assert tokens[0] == "[CLS]" and tokens[-1] == "[SEP]"


# ------------------------------------------------------------------------------------------ input and errors
def test_bad_items_raise_input_errors_that_name_the_column(llama_judge):
    with pytest.raises(InputError, match="response_b"):
        llama_judge.judge_items(pd.DataFrame({"item_id": ["1"], "response_a": ["x"]}))
    with pytest.raises(InputError, match="'response'"):
        llama_judge.judge_items(pd.DataFrame({"item_id": ["1"], "response_a": ["x"]}), task="score")
    duplicated = pd.DataFrame({"item_id": ["1", "2", "1"], "response": ["x", "y", "z"]})
    with pytest.raises(InputError, match="row 3.*not unique") as caught:
        llama_judge.judge_items(duplicated, task="score")
    assert caught.value.column == "item_id"
    with pytest.raises(AuditorError, match="cannot judge task 'binary'"):
        llama_judge.judge_items(pd.DataFrame({"item_id": ["1"], "response": ["x"]}), task="binary")


def test_a_missing_model_raises_a_clear_error(tmp_path):
    with pytest.raises(AuditorError, match="cannot load reward model"):
        RewardModelJudge(str(tmp_path / "nowhere"), device="cpu")
    with pytest.raises(AuditorError, match="cannot load reward model .*local folder"):
        RewardModelJudge(str(tmp_path), device="cpu")  # exists, but holds no model


def test_a_checkpoint_without_reward_head_is_refused_unless_allowed(llama_reward_model, copy_of):
    from safetensors.torch import load_file, save_file

    folder = copy_of(llama_reward_model)
    weights = load_file(folder / "model.safetensors")
    del weights["score.weight"]
    save_file(weights, folder / "model.safetensors", metadata={"format": "pt"})
    with pytest.raises(AuditorError, match="not a complete reward model: 1 weights .*score.weight"):
        _judge(folder)
    judge = _judge(folder, allow_untrained_head=True)
    assert np.isfinite(judge.score_texts(["hi"], ["Hello!"])).all()


def test_options_are_checked(llama_reward_model):
    with pytest.raises(AuditorError, match="batch_size"):
        RewardModelJudge(llama_reward_model, batch_size=0)
    with pytest.raises(AuditorError, match="tie_margin"):
        RewardModelJudge(llama_reward_model, tie_margin=-1)


def test_names_and_devices():
    assert default_judge_name("/models/Skywork-Reward-Llama-3.1-8B/") == "rm:Skywork-Reward-Llama-3.1-8B"
    assert default_judge_name("Skywork/Skywork-Reward-Gemma-2-27B") == "rm:Skywork-Reward-Gemma-2-27B"
    assert select_device("cpu") == "cpu"
    assert select_device("auto") in {"cuda", "mps", "cpu"}
    if torch.cuda.is_available():
        assert select_device(None) == "cuda"
    else:
        with pytest.raises(AuditorError, match="no CUDA device"):
            select_device("cuda:0")


def test_a_given_name_is_used(llama_reward_model):
    judge = _judge(llama_reward_model, name="rm:tiny")
    assert judge.judge_items(_pairwise_items().head(1))["judge"].tolist() == ["rm:tiny"]
