"""A loopback vLLM pooling server for a REAL transformers reward model: ``POST /classify`` and ``POST /pooling``.

It speaks the request and answer JSON of vLLM's pooling API (``vllm/entrypoints/pooling/classify/protocol.py``:
a chat request ``{"model", "messages", "use_activation"}``, an answer ``{"id", "object": "list", "created",
"model", "data": [{"index", "label", "probs", "num_classes"}], "usage"}``; ``/pooling`` answers
``{"data": [{"index", "object": "pooling", "data": [r]}]}``) and computes every reward with the model itself: the
model's chat template over the messages (the tokenizer's ``apply_chat_template``, as vLLM does), then one forward
pass of :class:`judges.reward_model.RewardModelJudge` (the local judge's own code path), so a served score must
equal the local judge's.  As vLLM does for a one-output classifier, ``use_activation`` (default true) answers
``sigmoid(r)``; ``false`` the raw logit ``r``.

With ``api_key`` set, a request without ``Authorization: Bearer KEY`` gets 401.  ``max_tokens`` answers 400 with
vLLM's context-length message for a longer conversation.  ``server.requests`` counts the requests answered.
"""

from __future__ import annotations

import json
import math
import threading
from http.server import BaseHTTPRequestHandler
from typing import Any

from servers.threaded import JSONHandler, ThreadedServer


class RewardServer(ThreadedServer):
    """The pooling API for the reward model in ``model_path`` on ``127.0.0.1`` (a free port); a context manager."""

    def __init__(self, model_path: str, *, api_key: str | None = None, max_tokens: int = 2048) -> None:
        from judges.reward_model import RewardModelJudge

        self.judge = RewardModelJudge(model_path, device="cpu", batch_size=1)
        self.model_name = model_path
        self.api_key = api_key
        self.max_tokens = max_tokens
        self.requests = 0
        self.lock = threading.Lock()  # one forward pass at a time
        super().__init__(_handler(self))

    def reward(self, messages: list[dict[str, str]]) -> tuple[float, int]:
        """The raw reward of one conversation and its token count."""
        text = self.judge.tokenizer.apply_chat_template(messages, tokenize=False)
        ids = self.judge._encode(text)
        if len(ids) > self.max_tokens:
            raise OverflowError(len(ids))
        with self.lock:
            return float(self.judge._forward([ids])[0]), len(ids)

    def answer(self, route: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            return 400, {"error": {"message": "messages is required", "type": "BadRequestError", "code": 400}}
        try:
            reward, tokens = self.reward(messages)
        except OverflowError as exc:
            message = (
                f"This model's maximum context length is {self.max_tokens} tokens. However, you requested "
                f"{exc.args[0]} tokens in the input. Please reduce the length of the input."
            )
            return 400, {"error": {"message": message, "type": "BadRequestError", "code": 400}}
        self.requests += 1
        usage = {"prompt_tokens": tokens, "total_tokens": tokens, "completion_tokens": 0}
        model = body.get("model") or self.model_name
        if route == "pooling":
            data = [{"index": 0, "object": "pooling", "data": [reward]}]
            return 200, {
                "id": "pool-1",
                "object": "list",
                "created": 0,
                "model": model,
                "data": data,
                "usage": usage,
            }
        value = reward if body.get("use_activation") is False else 1.0 / (1.0 + math.exp(-reward))
        data = [{"index": 0, "label": "LABEL_0", "probs": [value], "num_classes": 1}]
        return 200, {
            "id": "classify-1",
            "object": "list",
            "created": 0,
            "model": model,
            "data": data,
            "usage": usage,
        }


def _handler(server: RewardServer) -> type[BaseHTTPRequestHandler]:
    class Handler(JSONHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            payload = self.body()
            if server.api_key is not None and self.headers.get("Authorization") != f"Bearer {server.api_key}":
                return self.json(401, {"error": {"message": "Unauthorized", "code": 401}})
            route = self.path.split("?")[0].strip("/")
            if route not in ("classify", "pooling"):
                return self.json(404, {"error": {"message": f"Not Found: /{route}", "code": 404}})
            self.json(*server.answer(route, json.loads(payload or b"{}")))

    return Handler
