"""A tiny, randomly initialised reward model written to a folder, for tests, benchmarks and install checks.

It goes through the same files and loading path as a real one (``save_pretrained`` then ``from_pretrained``):
a byte-level BPE tokenizer trained in-process on a small corpus, wrapped as ``PreTrainedTokenizerFast`` with a
ChatML chat template, and a ``*ForSequenceClassification`` with one output (Llama, GPT-2 or BERT), seeded.
Its rewards mean nothing; they are large enough (order 1) that a 1e-4 tolerance is a real test.
"""

from __future__ import annotations

import os
from typing import Literal

from judges.reward_model import _import_backend

Architecture = Literal["llama", "gpt2", "bert"]
ARCHITECTURES: tuple[str, ...] = ("llama", "gpt2", "bert")

CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
    "{% endfor %}"
)
SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "[CLS]", "[SEP]"]

_WORDS = (
    "the a user assistant prompt response answer question write explain recipe travel music book movie "
    "short long formal casual friendly summary list please thanks why how what when where who which "
    "python code data model judge reward human label score better worse same tie profile prefers likes "
    "coffee tea running hiking jazz rock poetry science history cooking vegan spicy morning evening "
    "weekend city beach mountain budget luxury quick detailed simple advanced example because so and or"
).split()


def training_corpus(sentences: int = 400, seed: int = 0) -> list[str]:
    """Deterministic pseudo-sentences over a small vocabulary, with digits and punctuation."""
    import random

    rng = random.Random(seed)
    corpus = []
    for index in range(sentences):
        words = rng.choices(_WORDS, k=rng.randint(4, 18))
        corpus.append(" ".join(words).capitalize() + rng.choice([".", "?", "!", f" {index}."]))
    return corpus


def build_tiny_reward_model(
    directory: str | os.PathLike[str],
    *,
    architecture: Architecture = "llama",
    chat_template: bool = True,
    seed: int = 0,
    vocab_size: int = 512,
    hidden_size: int = 32,
    layers: int = 2,
) -> str:
    """Write a tiny reward model (config, weights, tokenizer) to ``directory`` and return its path.

    BERT gets no chat template (encoder reward models are used without one), so it goes through the plain
    join and the tokenizer's own special tokens. The tokenizer has no pad token and the model config no ``pad_token_id``, as many released causal-LM
    checkpoints: the judge must cope. ``hidden_size`` (a multiple of 4) and ``layers`` make it less tiny, for
    benchmarks where compute rather than per-call overhead should dominate.
    """
    torch, transformers = _import_backend()
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    directory = os.fspath(directory)
    os.makedirs(directory, exist_ok=True)

    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    backend.train_from_iterator(training_corpus(seed=seed), trainer=trainer)
    extra: dict[str, str] = {"eos_token": "<|im_end|>", "bos_token": "<|im_start|>"}
    if architecture == "bert":
        extra = {"cls_token": "[CLS]", "sep_token": "[SEP]", "eos_token": "[SEP]"}
        backend.post_processor = processors.TemplateProcessing(
            single="[CLS] $A [SEP]",
            special_tokens=[(name, backend.token_to_id(name)) for name in ("[CLS]", "[SEP]")],
        )
    tokenizer = transformers.PreTrainedTokenizerFast(tokenizer_object=backend, **extra)
    # Encoder reward models read "[CLS] prompt response [SEP]" plainly, without a chat template.
    if chat_template and architecture != "bert":
        tokenizer.chat_template = CHATML_TEMPLATE

    size = len(tokenizer)
    common = {"num_labels": 1, "pad_token_id": None}
    if architecture == "llama":
        config = transformers.LlamaConfig(
            vocab_size=size,
            hidden_size=hidden_size,
            intermediate_size=2 * hidden_size,
            num_hidden_layers=layers,
            num_attention_heads=4,
            num_key_value_heads=2,
            max_position_embeddings=1024,
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
            **common,
        )
        model_class = transformers.LlamaForSequenceClassification
    elif architecture == "gpt2":
        config = transformers.GPT2Config(
            vocab_size=size,
            n_embd=hidden_size,
            n_layer=layers,
            n_head=4,
            n_positions=1024,
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
            **common,
        )
        model_class = transformers.GPT2ForSequenceClassification
    elif architecture == "bert":
        config = transformers.BertConfig(
            vocab_size=size,
            hidden_size=hidden_size,
            intermediate_size=2 * hidden_size,
            num_hidden_layers=layers,
            num_attention_heads=4,
            max_position_embeddings=1024,
            initializer_range=1.0,  # a random BERT's [CLS] barely depends on the input at the default 0.02
            **common,
        )
        model_class = transformers.BertForSequenceClassification
    else:
        raise ValueError(f"architecture must be one of {ARCHITECTURES}, got {architecture!r}")

    torch.manual_seed(seed)
    model = model_class(config)
    with torch.no_grad():  # rewards of order 1, so that differences of 1e-4 are small by comparison
        head = model.score if hasattr(model, "score") else model.classifier
        head.weight.normal_(0.0, 1.0)
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory
