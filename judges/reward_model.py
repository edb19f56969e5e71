"""Local reward models as judges: transformers sequence classifiers that give each (prompt, response) a reward.

A reward model (Skywork-Reward, the RewardBench models, or any ``*ForSequenceClassification`` with one output)
reads the conversation rendered by its tokenizer's chat template and returns one number, the reward ``r``.

Conventions
-----------
- pairwise: ``score = r_b - r_a`` (``a`` is the baseline, ``b`` the treatment); ``label`` is ``"b"`` if
  ``score > tie_margin``, ``"a"`` if ``score < -tie_margin``, else ``"tie"`` (so a score of exactly
  ``±tie_margin`` is a tie). ``raw`` keeps both rewards.
- score (pointwise): ``score = r``, ``label`` empty; the core reads ``score``.
- An item that cannot be scored keeps an empty ``label`` and ``score`` and says why in ``exclusion``:
  ``empty_response`` (empty or missing text) or ``too_long`` (the rendered conversation has more than
  ``max_length`` tokens: a truncated conversation would be a different measurement, so it is left out, not cut).
- The user profile, when present and ``profile_in_prompt`` is on, goes into a system message (or, for a template
  that refuses a system role, before the prompt in the user message).

Batching: the rendered texts are tokenized in one call of the (fast) tokenizer, sorted by token length (longest
first) and cut into batches of at most ``batch_size`` rows and ``max_batch_tokens`` padded tokens (rows x the
longest row), so short texts go many to a forward pass and long ones few; each batch is padded to its own longest
row only. A decoder whose outputs are causal (checked on the model when it is loaded: appending tokens leaves the
earlier outputs unchanged) gets right-padded batches without an attention mask: its real tokens never see the
padding that follows them, so the padding changes nothing they compute, and attention runs the same causal kernel
as on one unpadded sequence.

Scores do not depend on the batch size nor on the tokenizer's padding side: the judge pads on the right itself
(every architecture numbers positions from 0 then, with no ``position_ids`` to fix) and, for decoder models,
reads the per-token reward at the last real token found from the attention mask (skipping trailing copies of the
model's own pad id, as transformers' heads do on an unpadded sequence), never by searching for the pad id the
judge padded with. Scores that change with the batch size are a known RewardBench failure; ``tests/rm`` proves
the invariance to 1e-4 in float32 on the CPU (in bfloat16 on a GPU, expect rounding noise of about 1e-2).

torch and transformers are an optional extra: ``pip install 'judge-auditor[rm]'``. This module imports them only
when a judge is built, so ``judges`` stays importable without them.
"""

from __future__ import annotations

import inspect
import math
import os
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from auditor.errors import AuditorError, InputError
from judges.base import LABEL_COLUMNS, Judge

__all__ = [
    "RewardModelJudge",
    "conversation",
    "default_judge_name",
    "pairwise_label",
    "plan_batches",
    "reward_labels",
    "select_device",
]

INSTALL_HINT = "pip install 'judge-auditor[rm]'"
SUPPORTED_TASKS = ("pairwise", "score")
PROFILE_HEADER = "User profile:\n"


def _import_backend() -> tuple[Any, Any]:
    """Import torch and transformers, or raise an :class:`AuditorError` that says how to install them."""
    try:
        import torch
    except ImportError as error:
        raise AuditorError(
            f"reward-model judges need torch, which is not installed ({error}). Install the extra: {INSTALL_HINT}"
        ) from None
    try:
        import transformers
    except ImportError as error:
        raise AuditorError(
            f"reward-model judges need transformers, which is not installed ({error}). "
            f"Install the extra: {INSTALL_HINT}"
        ) from None
    return torch, transformers


def select_device(device: str | None = None) -> str:
    """The device to run on: ``device`` as given, or the first available of cuda, mps, cpu when None/"auto"."""
    torch, _ = _import_backend()
    mps = getattr(torch.backends, "mps", None)
    if device not in (None, "auto"):
        device = str(device)
        kind = device.split(":")[0]
        if kind == "cuda" and not torch.cuda.is_available():
            raise AuditorError(
                f"device {device!r} asked for, but torch sees no CUDA device (use cpu or auto)"
            )
        if kind == "mps" and not (mps is not None and mps.is_available()):
            raise AuditorError(f"device {device!r} asked for, but torch sees no MPS device (use cpu or auto)")
        return device
    if torch.cuda.is_available():
        return "cuda"
    if mps is not None and mps.is_available():
        return "mps"
    return "cpu"


def default_judge_name(model: str) -> str:
    """``rm:<basename>`` of a local path or a model id (``org/name`` gives ``rm:name``)."""
    return "rm:" + os.path.basename(os.path.normpath(str(model)))


def pairwise_label(score: float, tie_margin: float = 0.0) -> str | None:
    """``"b"`` if ``score > tie_margin``, ``"a"`` if ``score < -tie_margin``, ``"tie"`` otherwise; None for NaN."""
    if score is None or math.isnan(score):
        return None
    if score > tie_margin:
        return "b"
    if score < -tie_margin:
        return "a"
    return "tie"


def plan_batches(
    lengths: Sequence[int],
    max_rows: int,
    max_tokens: int | None = None,
    *,
    sort_by_length: bool = True,
    pass_cost: int = 64,
) -> list[list[int]]:
    """Indices of ``lengths`` cut into batches for the forward passes, each padded to its own longest row.

    Every batch has at most ``max_rows`` rows and at most ``max_tokens`` padded tokens (rows x its longest row;
    None: no token limit); a row longer than ``max_tokens`` gets a batch of its own.

    With ``sort_by_length`` (the default) the indices go longest first (ties in input order) and the sorted list
    is cut where it costs least: the cuts minimise the padded tokens fed to the model plus ``pass_cost`` tokens
    per forward pass (what one more pass costs beyond its tokens: per-call overhead, smaller matrix products),
    exactly, by dynamic programming over the cut points. A batch thus holds similar lengths, many rows when they
    are short and few when they are long, and little padding. Without sorting the rows stay in input order and
    are cut greedily (to measure what the sorting saves).
    """
    if max_rows < 1:
        raise AuditorError(f"max_rows must be at least 1, got {max_rows}")
    count = len(lengths)
    if not sort_by_length:
        batches: list[list[int]] = []
        batch: list[int] = []
        width = 0
        for index in range(count):
            new_width = max(width, lengths[index])
            full = len(batch) >= max_rows or (
                max_tokens is not None and (len(batch) + 1) * new_width > max_tokens
            )
            if batch and full:
                batches.append(batch)
                batch, new_width = [], lengths[index]
            batch.append(index)
            width = new_width
        return batches + ([batch] if batch else [])
    order = sorted(range(count), key=lambda index: -lengths[index])
    widths = np.array([lengths[index] for index in order], dtype=np.float64)
    # best[i]: least cost of the first i sorted rows; a batch order[j:i] costs pass_cost + (i - j) * widths[j].
    best = np.zeros(count + 1)
    start_of = np.zeros(count + 1, dtype=np.int64)
    for end in range(1, count + 1):
        starts = np.arange(max(0, end - max_rows), end)
        rows = end - starts
        padded = rows * widths[starts]
        cost = best[starts] + pass_cost + padded
        if max_tokens is not None:
            cost[(padded > max_tokens) & (rows > 1)] = np.inf
        pick = int(np.argmin(cost[::-1]))  # ties: the fewest rows, so the cuts do not depend on float noise
        best[end], start_of[end] = cost[::-1][pick], starts[::-1][pick]
    cuts = [count]
    while cuts[-1] > 0:
        cuts.append(int(start_of[cuts[-1]]))
    cuts.reverse()
    return [order[begin:end] for begin, end in zip(cuts[:-1], cuts[1:], strict=True)]


def _text(value: Any) -> str:
    """A cell as text: missing (None / NaN / pd.NA / NaT) becomes the empty string."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    try:
        if pd.isna(value) is True:
            return ""
    except (TypeError, ValueError):
        pass
    return str(value)


class RewardModelJudge(Judge):
    """A judge that scores responses with a local reward model (a transformers sequence classifier).

    Parameters
    ----------
    model
        A local folder (loaded with ``local_files_only``), a ``.gguf`` file (its folder is loaded with
        ``gguf_file=``; needs the ``gguf`` and ``accelerate`` packages), or a model id from the Hugging Face cache.
    device
        ``"cuda"``, ``"mps"``, ``"cpu"`` (or ``"cuda:1"`` ...); None or ``"auto"`` picks the first available.
    batch_size
        Most sequences in one forward pass; sequences are sorted by length first, so a batch holds similar
        lengths. ``batch_size=1`` scores one text per forward pass.
    max_batch_tokens
        Most padded tokens in one forward pass (rows x the batch's longest row), so that a batch of short texts
        holds many rows and one of long texts few (its memory and cost stay about constant). None: rows only.
    tie_margin
        Pairwise reward differences with ``|r_b - r_a| <= tie_margin`` are ties.
    max_length
        Longest conversation in tokens; longer ones are excluded as ``too_long``.
    name
        The ``judge`` column; default ``rm:<basename of the path or id>``.
    profile_in_prompt
        Put the item's ``profile`` into a system message.
    allow_untrained_head
        Accept a checkpoint whose weights do not cover the whole model (a language model or a ``.gguf`` file
        without a reward head gets a *random* head: rewards that mean nothing). Off by default: that is an error.

    Examples
    --------
    >>> judge = RewardModelJudge("path/to/reward-model", batch_size=8)  # doctest: +SKIP
    >>> judge.score_texts(["2+2?"], ["4"])  # doctest: +SKIP
    array([1.73...])
    >>> labels = judge.judge_items(items, task="pairwise")  # doctest: +SKIP
    """

    def __init__(
        self,
        model: str,
        *,
        device: str | None = None,
        batch_size: int = 64,
        max_batch_tokens: int | None = 8192,
        tie_margin: float = 0.0,
        max_length: int = 2048,
        name: str | None = None,
        profile_in_prompt: bool = True,
        allow_untrained_head: bool = False,
    ) -> None:
        if batch_size < 1:
            raise AuditorError(f"batch_size must be at least 1, got {batch_size}")
        if max_batch_tokens is not None and max_batch_tokens < 1:
            raise AuditorError(f"max_batch_tokens must be at least 1 (or None), got {max_batch_tokens}")
        if tie_margin < 0:
            raise AuditorError(f"tie_margin must not be negative, got {tie_margin}")
        if max_length < 1:
            raise AuditorError(f"max_length must be at least 1, got {max_length}")
        self._torch, transformers = _import_backend()
        self.model_path = str(model)
        self.batch_size = int(batch_size)
        self.max_batch_tokens = None if max_batch_tokens is None else int(max_batch_tokens)
        self.tie_margin = float(tie_margin)
        self.max_length = int(max_length)
        self.name = name or default_judge_name(self.model_path)
        self.profile_in_prompt = profile_in_prompt
        self.allow_untrained_head = allow_untrained_head
        self.device = select_device(device)
        # Sort by length before batching (switch off only to measure what the sorting saves).
        self.sort_by_length = True
        # The side the judge pads on. Right padding numbers every sequence's positions from 0, which all
        # architectures expect; "left" exists to test that reading the last token by attention mask holds.
        self._padding_side = "right"
        self.tokenizer, self.model = self._load(transformers)
        self._prepare_padding()
        self._head = self._per_token_head()
        self._accepts_position_ids = "position_ids" in _forward_parameters(self.model)
        # Right-padded batches go without an attention mask when the model is causal (checked, not assumed).
        self._causal = self._check_causal()

    # ----------------------------------------------------------------------------------------------- loading
    def _load(self, transformers: Any) -> tuple[Any, Any]:
        torch = self._torch
        path = self.model_path
        load_kwargs: dict[str, Any] = {}
        model_kwargs: dict[str, Any] = {}
        if os.path.isfile(path) and path.endswith(".gguf"):
            load_kwargs["gguf_file"] = os.path.basename(path)
            path = os.path.dirname(os.path.abspath(path))
            model_kwargs["num_labels"] = 1  # a GGUF file holds a language model; its head is new
        if os.path.exists(path):
            load_kwargs["local_files_only"] = True
        # CPU: float32 (bfloat16 matmuls there are slow and less exact). Accelerators: the checkpoint's dtype.
        dtype = torch.float32 if self.device == "cpu" else "auto"
        dtype_key = "dtype" if int(transformers.__version__.split(".")[0]) >= 5 else "torch_dtype"
        try:
            tokenizer = transformers.AutoTokenizer.from_pretrained(path, **load_kwargs)
            model, loading_info = transformers.AutoModelForSequenceClassification.from_pretrained(
                path, **load_kwargs, **model_kwargs, **{dtype_key: dtype}, output_loading_info=True
            )
        except ImportError as error:  # e.g. gguf or accelerate missing for a .gguf file
            raise AuditorError(f"cannot load reward model {self.model_path!r}: {error}") from None
        except (OSError, ValueError) as error:
            where = "local folder" if os.path.exists(path) else "model id (not a local path; no network?)"
            raise AuditorError(
                f"cannot load reward model {self.model_path!r} as a {where}: {error}"
            ) from None
        missing = sorted(loading_info.get("missing_keys") or [])
        if missing and not self.allow_untrained_head:
            raise AuditorError(
                f"{self.model_path!r} is not a complete reward model: {len(missing)} weights are not in the "
                f"checkpoint and would be random ({', '.join(missing[:3])}{', ...' if len(missing) > 3 else ''}). "
                "Use a checkpoint trained as a reward model (or pass allow_untrained_head=True to test the plumbing)"
            )
        num_labels = model.config.num_labels
        if num_labels != 1:
            raise AuditorError(
                f"reward model {self.model_path!r} has {num_labels} outputs; a reward model must have exactly one"
            )
        model.to(self.device)
        model.eval()
        return tokenizer, model

    def _prepare_padding(self) -> None:
        """Give the tokenizer a pad token and the model a pad_token_id when they have none.

        The reward is read at the last real token by attention mask, so which id pads does not matter; the
        model only needs one set to accept batches. ``_skip_token_id`` keeps the model's *own* pad id (None if
        it had none): transformers' heads read the rightmost token that is not that id, so a sequence that ends
        in it (pad == eos) is read where the model itself reads it, unpadded or not.
        """
        tokenizer = self.tokenizer
        config = (
            self.model.config.get_text_config() if hasattr(self.model.config, "get_text_config") else None
        )
        config = config or self.model.config
        self._skip_token_id = config.pad_token_id
        if tokenizer.pad_token_id is None:
            for candidate in ("eos_token", "unk_token", "bos_token"):
                if getattr(tokenizer, candidate, None) is not None:
                    tokenizer.pad_token = getattr(tokenizer, candidate)
                    break
        pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        self._pad_id = pad_id
        if config.pad_token_id is None:
            config.pad_token_id = pad_id
            self.model.config.pad_token_id = pad_id

    def _per_token_head(self) -> Any:
        """The model's head (``score`` in transformers' decoder classifiers, ``classifier`` in others), if any.

        Its output is used only when it is per token (batch, tokens, 1); a head fed a pooled vector (encoders)
        gives (batch, 1) and the model's own logits are used instead.
        """
        for attribute in ("score", "classifier"):
            head = getattr(self.model, attribute, None)
            if isinstance(head, self._torch.nn.Module):
                return head
        return None

    # ------------------------------------------------------------------------------------------- rendering
    def render(self, prompt: str, response: str, profile: str | None = None) -> str:
        """The text the model reads: the chat template over [system profile], user prompt, assistant response
        (:func:`conversation`).

        Without a chat template: ``[profile]\n\n prompt \n\n response`` (empty parts left out).
        """
        profile = profile if (self.profile_in_prompt and profile and profile.strip()) else None
        template = getattr(self.tokenizer, "chat_template", None)
        if not template:
            parts = [PROFILE_HEADER + profile] if profile else []
            parts += [part for part in (prompt, response) if part]
            return "\n\n".join(parts)
        messages = conversation(prompt, response, profile)
        try:
            return self._apply_template(messages)
        except Exception:  # noqa: BLE001 - templates that reject a system role raise their own errors
            if not profile:
                raise
            return self._apply_template(conversation(prompt, response, profile, system=False))

    def _apply_template(self, messages: list[dict[str, str]]) -> str:
        return self.tokenizer.apply_chat_template(messages, tokenize=False)

    def _encode(self, text: str) -> list[int]:
        """Token ids of one rendered text."""
        return self._encode_many([text])[0]

    def _encode_many(self, texts: list[str]) -> list[list[int]]:
        """Token ids of rendered texts, unpadded, untruncated (one call: fast tokenizers work in parallel)."""
        if not texts:
            return []
        # A chat template writes its own special tokens (bos ...); a plain join gets the tokenizer's.
        special = not getattr(self.tokenizer, "chat_template", None)
        backend = (
            getattr(self.tokenizer, "_tokenizer", None) if getattr(self.tokenizer, "is_fast", False) else None
        )
        if backend is not None and hasattr(backend, "encode_batch_fast"):
            # The Rust tokenizer that the fast tokenizer wraps, without the character offsets nobody reads here.
            return [encoding.ids for encoding in backend.encode_batch_fast(texts, add_special_tokens=special)]
        return list(self.tokenizer(texts, add_special_tokens=special)["input_ids"])

    # --------------------------------------------------------------------------------------------- scoring
    def score_texts(
        self,
        prompts: Sequence[str],
        responses: Sequence[str],
        profiles: Sequence[str | None] | None = None,
    ) -> np.ndarray:
        """Reward of each (prompt, response[, profile]); NaN where the text cannot be scored (see ``exclusion``)."""
        rewards, _, _ = self._score_with_reasons(prompts, responses, profiles)
        return rewards

    def _score_with_reasons(
        self,
        prompts: Sequence[Any],
        responses: Sequence[Any],
        profiles: Sequence[Any] | None = None,
    ) -> tuple[np.ndarray, list[str | None], list[str | None]]:
        """Rewards (NaN where not scored), the exclusion reason of each text and a short detail of it."""
        if len(prompts) != len(responses):
            raise AuditorError(f"{len(prompts)} prompts but {len(responses)} responses")
        if profiles is not None and len(profiles) != len(prompts):
            raise AuditorError(f"{len(profiles)} profiles but {len(prompts)} prompts")
        count = len(prompts)
        rewards = np.full(count, np.nan, dtype=np.float64)
        reasons: list[str | None] = [None] * count
        details: list[str | None] = [None] * count
        scorable: list[int] = []
        texts: list[str] = []
        for index in range(count):
            response = _text(responses[index])
            if not response.strip():
                reasons[index], details[index] = "empty_response", "empty response"
                continue
            profile = _text(profiles[index]) if profiles is not None else None
            scorable.append(index)
            texts.append(self.render(_text(prompts[index]), response, profile))
        encoded: list[tuple[int, list[int]]] = []
        for index, ids in zip(scorable, self._encode_many(texts), strict=True):
            if len(ids) > self.max_length:
                reasons[index] = "too_long"
                details[index] = f"{len(ids)} tokens > max_length {self.max_length}"
            else:
                encoded.append((index, ids))
        # Longest first: similar lengths share a batch (little padding), and memory trouble shows up at once.
        batches = plan_batches(
            [len(ids) for _, ids in encoded],
            self.batch_size,
            self.max_batch_tokens,
            sort_by_length=self.sort_by_length,
        )
        for batch in batches:
            values = self._forward([encoded[position][1] for position in batch])
            for position, value in zip(batch, values, strict=True):
                rewards[encoded[position][0]] = value
        return rewards, reasons, details

    def _forward(self, sequences: list[list[int]]) -> np.ndarray:
        """Rewards of one batch of token id lists, padded here on ``self._padding_side`` to the longest row."""
        torch = self._torch
        left = self._padding_side == "left"
        if left and getattr(self.model, "score", None) is None:
            raise AuditorError("left padding is only supported for decoder reward models (a per-token head)")
        rows, width = len(sequences), max(len(ids) for ids in sequences)
        ids_array = np.full((rows, width), self._pad_id, dtype=np.int64)
        mask_array = np.zeros((rows, width), dtype=np.int64)
        for row, ids in enumerate(sequences):
            start = width - len(ids) if left else 0
            ids_array[row, start : start + len(ids)] = ids
            mask_array[row, start : start + len(ids)] = 1
        input_ids, attention_mask = torch.from_numpy(ids_array), torch.from_numpy(mask_array)
        inputs: dict[str, Any] = {"input_ids": input_ids}
        # Without padding there is nothing to mask; a causal model padded on the right needs no mask either (its
        # real tokens come first and never attend to the padding after them).
        padded = any(len(ids) < width for ids in sequences)
        if padded and (left or not self._causal):
            inputs["attention_mask"] = attention_mask
        if left and padded and self._accepts_position_ids:
            inputs["position_ids"] = (attention_mask.cumsum(-1) - 1).clamp(min=0)
        per_token, output = self._run(inputs)
        if per_token is not None and per_token.dim() == 3 and per_token.shape[:2] == input_ids.shape:
            last = self._reading_positions(input_ids, attention_mask).to(per_token.device)
            logits = per_token[torch.arange(rows, device=per_token.device), last]
        else:  # encoders pool their own first token, whatever the padding
            logits = output.logits
        return logits[:, 0].float().cpu().numpy().astype(np.float64)

    def _run(self, inputs: dict[str, Any]) -> tuple[Any, Any]:
        """The model's output on ``inputs`` and the per-token output of its head (None without a head)."""
        torch = self._torch
        inputs = {key: value.to(self.device) for key, value in inputs.items()}
        captured: list[Any] = []
        hook = None
        if self._head is not None:
            hook = self._head.register_forward_hook(lambda _module, _args, output: captured.append(output))
        try:
            with torch.inference_mode():
                output = self.model(**inputs)
        finally:
            if hook is not None:
                hook.remove()
        return (captured[-1] if captured else None), output

    def _check_causal(self) -> bool:
        """Whether the head's per-token outputs are causal: appending tokens leaves the earlier outputs unchanged.

        Then a right-padded batch needs no attention mask. Checked on the loaded model with a short text, not
        assumed from the architecture (an encoder, or a decoder that attends both ways, fails the check and keeps
        its mask).
        """
        if self._head is None:
            return False
        torch = self._torch
        probe = "The quick brown fox jumps over the lazy dog, again and again and again."
        ids = self._encode_many([probe])[0]
        ids = [token for token in ids if token != self._pad_id][:12]
        if len(ids) < 4:
            return False
        cut = len(ids) - 3
        short, _ = self._run({"input_ids": torch.tensor([ids[:cut]], dtype=torch.long)})
        full, _ = self._run({"input_ids": torch.tensor([ids], dtype=torch.long)})
        if short is None or full is None or short.dim() != 3 or full.dim() != 3 or full.shape[1] != len(ids):
            return False
        short, full = short.float().cpu(), full[:, :cut].float().cpu()
        scale = 1.0 + float(short.abs().max())
        return bool(torch.isfinite(full).all()) and float((full - short).abs().max()) <= 1e-5 * scale

    def _reading_positions(self, input_ids: Any, attention_mask: Any) -> Any:
        """Index of the token whose output is the reward: the rightmost real token (attention mask 1) that is not
        the model's own pad id; the rightmost real token if every one is. Works for either padding side."""
        torch = self._torch
        positions = torch.arange(input_ids.shape[1])
        real = attention_mask.bool()
        readable = real & (input_ids != self._skip_token_id) if self._skip_token_id is not None else real
        readable = torch.where(readable.any(dim=1, keepdim=True), readable, real)
        return (positions * readable).argmax(dim=1)

    # ------------------------------------------------------------------------------------------------ items
    def judge_items(self, items: pd.DataFrame, task: str = "pairwise") -> pd.DataFrame:
        """Label rows (``item_id, judge, rater, label, order, score, raw, exclusion``) for an items table.

        ``task="pairwise"`` scores ``response_a`` and ``response_b`` (``score = r_b - r_a``);
        ``task="score"`` scores ``response`` (``score = r``, empty ``label``).
        """
        return reward_labels(
            items, task, self._score_with_reasons, name=self.name, tie_margin=self.tie_margin
        )


def conversation(
    prompt: str, response: str, profile: str | None, *, system: bool = True
) -> list[dict[str, str]]:
    """The messages a reward model reads: [system ``User profile:`` + profile], user prompt, assistant response;
    with ``system=False`` (a template that refuses a system role) the profile goes before the prompt instead."""
    messages = [{"role": "user", "content": prompt}, {"role": "assistant", "content": response}]
    if profile and system:
        return [{"role": "system", "content": PROFILE_HEADER + profile}, *messages]
    if profile:
        messages[0] = {"role": "user", "content": f"{PROFILE_HEADER}{profile}\n\n{prompt}"}
    return messages


#: ``score_with_reasons(prompts, responses, profiles)``: rewards (NaN where not scored), the exclusion reason of
#: each text and a short detail of it.
ScoreWithReasons = Callable[
    [Sequence[Any], Sequence[Any], Sequence[Any] | None],
    tuple[np.ndarray, list[str | None], list[str | None]],
]


def reward_labels(
    items: pd.DataFrame, task: str, score_with_reasons: ScoreWithReasons, *, name: str, tie_margin: float
) -> pd.DataFrame:
    """The labels table of a reward model judge (local or served) from its ``score_with_reasons``: pairwise
    ``score = r_b - r_a`` with :func:`pairwise_label`, ``raw`` both rewards; score ``score = r``."""
    if task not in SUPPORTED_TASKS:
        raise AuditorError(
            f"a reward model cannot judge task {task!r}; it supports {', '.join(SUPPORTED_TASKS)} "
            "(for likert items use pairwise: the reward difference r_b - r_a is in 'score')"
        )
    needed = ("item_id", "response_a", "response_b") if task == "pairwise" else ("item_id", "response")
    for column in needed:
        if column not in items.columns:
            raise InputError(f"task {task!r} needs this column in the items table", column=column)
    item_ids = items["item_id"].astype(str)
    duplicated = item_ids[item_ids.duplicated()]
    if not duplicated.empty:
        first = duplicated.index[0]
        raise InputError(
            f"item_id {duplicated.iloc[0]!r} is not unique",
            row=int(items.index.get_loc(first)) + 1,
            column="item_id",
        )
    count = len(items)
    prompts = list(items["prompt"]) if "prompt" in items.columns else [""] * count
    profiles = list(items["profile"]) if "profile" in items.columns else None

    if task == "score":
        scores, reasons, raws = score_with_reasons(prompts, list(items["response"]), profiles)
        labels: list[str | None] = [None] * count
    else:
        both_rewards, both_reasons, both_details = score_with_reasons(
            prompts + prompts,
            list(items["response_a"]) + list(items["response_b"]),
            None if profiles is None else profiles + profiles,
        )
        reward_a, reward_b = both_rewards[:count], both_rewards[count:]
        reasons = [
            reason_a or reason_b
            for reason_a, reason_b in zip(both_reasons[:count], both_reasons[count:], strict=True)
        ]
        scores = reward_b - reward_a
        labels = [pairwise_label(float(value), tie_margin) for value in scores]
        raws = []
        for index in range(count):
            detail_a, detail_b = both_details[index], both_details[count + index]
            if reasons[index] is None:
                raws.append(f"r_a={reward_a[index]:.6g} r_b={reward_b[index]:.6g}")
            else:
                parts = [f"response_{side}: {d}" for side, d in (("a", detail_a), ("b", detail_b)) if d]
                raws.append("; ".join(parts))
    # The dtypes of judges.base.judgments_to_frame, so that labels of every judge concatenate cleanly.
    return pd.DataFrame(
        {
            "item_id": pd.array(item_ids.to_numpy(dtype=object), dtype="string"),
            "judge": pd.array([name] * count, dtype="string"),
            "rater": pd.array(["0"] * count, dtype="string"),
            "label": pd.array(labels, dtype="string"),
            "order": pd.array([None] * count, dtype="string"),
            "score": pd.array(np.asarray(scores, dtype=np.float64), dtype="Float64"),
            "raw": pd.array(raws, dtype="string"),
            "exclusion": pd.array(reasons, dtype="string"),
        },
        columns=list(LABEL_COLUMNS),
    )


def _forward_parameters(model: Any) -> set[str]:
    try:
        return set(inspect.signature(model.forward).parameters)
    except (TypeError, ValueError):
        return set()
