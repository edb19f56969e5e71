"""Fixtures for the reward-model judge: tiny real models written once per session to a temporary folder."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    """Tiny models run fastest on one thread; on a busy 2-core machine, more threads fight (30x slower)."""
    try:
        import torch
    except ImportError:  # the missing-backend tests run without it
        yield
        return
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def tiny_reward_model(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., str]:
    """``tiny_reward_model(architecture="llama", chat_template=True)``: the folder of a tiny seeded reward model.

    Each variant is written once per session (a tokenizer trained in-process, random weights, ``save_pretrained``)
    and then loaded by the judges under test through transformers' own ``from_pretrained``.
    """
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from judges.rm_tiny import build_tiny_reward_model

    root = tmp_path_factory.mktemp("tiny_reward_models")
    built: dict[tuple[str, bool], str] = {}

    def build(architecture: str = "llama", chat_template: bool = True) -> str:
        key = (architecture, chat_template)
        if key not in built:
            folder = root / f"{architecture}-{'chat' if chat_template else 'plain'}"
            built[key] = build_tiny_reward_model(
                folder, architecture=architecture, chat_template=chat_template
            )
        return built[key]

    return build


@pytest.fixture(scope="session")
def llama_reward_model(tiny_reward_model: Callable[..., str]) -> str:
    return tiny_reward_model("llama")


@pytest.fixture(scope="session")
def llama_judge(llama_reward_model: str):
    from judges.reward_model import RewardModelJudge

    return RewardModelJudge(llama_reward_model, device="cpu", batch_size=8)


@pytest.fixture
def copy_of(tmp_path: Path) -> Callable[[str], Path]:
    """A writable copy of a model folder, to change one of its files."""

    def copy(folder: str) -> Path:
        target = tmp_path / Path(folder).name
        shutil.copytree(folder, target)
        return target

    return copy


# Prompts and responses of very different lengths, so that batches need real padding.
PROMPTS = [
    "What is a good recipe for a quick vegan dinner?",
    "Explain why the sky is blue.",
    "hi",
    "Write a short poem about jazz in the morning, and keep it friendly please.",
]
RESPONSES = [
    "Spicy chickpeas with rice.",
    "Because of Rayleigh scattering: short wavelengths scatter more, so blue light reaches us from all "
    "directions of the sky, while the sun itself looks a little yellow.",
    "Hello!",
    "Coffee and a saxophone, the city still asleep; a quiet tune for the weekend.",
    "",
    "x",
    "A detailed, advanced, simple, long, short answer " * 6,
    "Tea.",
]


@pytest.fixture(scope="session")
def varied_texts() -> tuple[list[str], list[str]]:
    """40 (prompt, response) pairs of varied length (3 to ~90 tokens), none empty."""
    prompts, responses = [], []
    for index in range(40):
        response = RESPONSES[index % len(RESPONSES)] or "ok"
        prompts.append(PROMPTS[index % len(PROMPTS)])
        responses.append(f"{response} ({index})" if index % 3 else response * (1 + index % 4))
    return prompts, responses
