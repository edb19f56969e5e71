"""The llama.cpp server fixture's liveness check (``LlamaServer.problem`` and the hooks in tests/conftest.py),
against a stand-in server process that is cheap to start and to kill: the check and the fixture code are the real
ones, only the command the ``LlamaServer`` runs is a small HTTP server that answers ``GET /v1/models``, dies by
SIGSEGV on ``GET /crash`` (as the natively built ``libggml-cpu`` does on CPUs with AMX) and stops answering after
``GET /hang``."""

from __future__ import annotations

import contextlib
import http.client
import sys
import urllib.request
from pathlib import Path

import pytest
from servers.llama_server import LOG_TAIL_LINES, LlamaServer

pytest_plugins = ("pytester",)

STAND_IN = r"""
import os, signal, sys, threading, time
from http.server import BaseHTTPRequestHandler, HTTPServer

hung = threading.Event()


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        if self.path == "/crash":
            print("stand-in: ggml_compute_forward: the last line before the fault", flush=True)
            os.kill(os.getpid(), signal.SIGSEGV)
        if self.path == "/hang":
            hung.set()
        elif hung.is_set():
            time.sleep(3600)
        body = b'{"object": "list", "data": []}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


for i in range(100):
    print(f"stand-in start-up line {i}")
print("stand-in: ready", flush=True)
# One thread: faulthandler dumps every thread's stack, and a handler thread still finishing an earlier request
# would lengthen the dump past the log tail the test reads (CI saw it once); one thread keeps the dump's length fixed.
HTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
"""


class StandInServer(LlamaServer):
    """A :class:`LlamaServer` whose process is the stand-in script (everything else, the check included, is the
    real class)."""

    def command(self) -> list[str]:
        script = self.log_path.with_suffix(".py")
        script.write_text(STAND_IN, encoding="utf-8")
        return [sys.executable, str(script), str(self.port)]

    def get(self, path: str) -> None:
        """``GET path`` on the server's root, ignoring a connection that the server's death cuts."""
        with contextlib.suppress(OSError, http.client.HTTPException):
            urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=60).close()


@pytest.fixture
def stand_in(tmp_path: Path):
    server = StandInServer(log_dir=tmp_path)
    server.start(timeout=120)
    yield server
    server.stop()


def test_a_server_that_died_is_reported_with_its_signal_and_the_tail_of_its_log(stand_in):
    assert stand_in.problem() is None
    stand_in.get("/crash")
    stand_in.process.wait(timeout=120)
    problem = stand_in.problem()
    assert problem is not None
    assert problem.startswith(f"the llama.cpp server at {stand_in.base_url} was killed by SIGSEGV")
    assert str(stand_in.log_path) in problem
    assert "the last line before the fault" in problem
    assert "Fatal Python error: Segmentation fault" in problem, "faulthandler's dump is in the log"
    tail = problem.split(":\n", 1)[1].splitlines()
    assert len(tail) == LOG_TAIL_LINES
    assert "stand-in start-up line 0" not in problem, "only the tail of the log"


def test_a_server_that_runs_but_no_longer_answers_is_reported(stand_in):
    stand_in.get("/hang")
    problem = stand_in.problem(timeout=1)  # it never answers: the outcome does not depend on the bound
    assert problem is not None
    assert f"is running (pid {stand_in.process.pid}) but did not answer GET /v1/models" in problem
    assert "stand-in: ready" in problem


def test_a_crash_fails_the_test_with_the_log_and_later_tests_fail_at_once(pytester):
    """The real hooks and fixtures of tests/conftest.py in an inner pytest session whose ``llama_server`` is the
    stand-in: the test during which the server dies errors at teardown with the log's tail (it passed: it only
    counted rows, say), the next test that needs the server fails at setup, a test without it is untouched."""
    pytester.makeconftest(
        f"""
import sys

import pytest

from tests.conftest import _llama_server_alive, pytest_runtest_setup, watched_llama_server

StandInServer = sys.modules[{__name__!r}].StandInServer


@pytest.fixture(scope="session")
def llama_server(request, tmp_path_factory):
    yield from watched_llama_server(request, StandInServer(log_dir=tmp_path_factory.mktemp("log")))
"""
    )
    pytester.makepyfile(
        """
from tests.conftest import LLAMA_SERVER


def test_1_the_server_dies(llama_server, request):
    server = request.config.stash[LLAMA_SERVER]
    server.get("/crash")
    server.process.wait(timeout=120)


def test_2_needs_the_server(llama_server):
    raise AssertionError("not reached: the setup fails first")


def test_3_without_the_server():
    pass
"""
    )
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, errors=2)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_1_the_server_dies*",
            "*the llama.cpp server at http://127.0.0.1:*/v1 was killed by SIGSEGV; the last 40 lines of its log*",
            "*the last line before the fault*",
            "*ERROR at setup of test_2_needs_the_server*",
            "*the llama.cpp server died during test_*.py::test_1_the_server_dies*it is not started again*",
        ]
    )
    result.stdout.no_fnmatch_line("*not reached*")
