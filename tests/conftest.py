"""Shared fixtures: where the public datasets live, and a runner for the command line."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

#: The environment variable the tests put the llama.cpp server's key in.
LLAMA_KEY_ENV = "AUDITOR_TEST_LLAMA_KEY"

REPO = Path(__file__).resolve().parents[1]
# The helpers in tests/servers import as `servers.*` in every test folder (another distribution's top-level
# `tests` package, e.g. ppi_python's, could shadow `tests.servers` in some layouts).
if str(REPO / "tests") not in sys.path:
    sys.path.insert(0, str(REPO / "tests"))
SHARED_DATA = Path(os.environ.get("AUDITOR_SHARED_DATA", REPO.parent / "shared" / "data"))


def shared_dataset(name: str) -> Path:
    """The folder of a public dataset under ../shared/data, or a skip with the reason."""
    path = SHARED_DATA / name
    if not path.exists():
        pytest.skip(
            f"public dataset folder {path} is missing (it sits beside the repository in the project's "
            "workspace and CI; a fresh clone alone does not have it)"
        )
    return path


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.exists():
        pytest.skip(f"{SHARED_DATA} is missing")
    return SHARED_DATA


@pytest.fixture(scope="session")
def demo_json(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``auditor demo --bootstrap 200 --format json`` run once for the session: its output folder (the main
    study's audit.json, the extraction / relevance / probes sub-audits and the simulated study)."""
    out = tmp_path_factory.mktemp("demo-json")
    done = run_cli("demo", "--out", str(out), "--bootstrap", "200", "--format", "json", "--quiet")
    assert done.returncode == 0, done.stderr
    return out


@pytest.fixture(scope="session")
def data_root() -> Path:
    """``../shared/data`` when it holds the Re-Centering and LLMBar folders (the personalization tests), else a skip
    naming the folder."""
    shared_dataset("recentering")
    return shared_dataset("llmbar").parent


def run_cli(*args: str, cwd: Path | None = None, env: dict | None = None, timeout: int = 600):
    """Run ``python -m auditor ARGS`` in a subprocess, as a user would."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "auditor", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture
def cli():
    return run_cli


#: The running llama.cpp server of the session (a ``servers.llama_server.LlamaServer``), for the liveness check.
LLAMA_SERVER = pytest.StashKey[object]()


@pytest.fixture(scope="session")
def llama_server(request: pytest.FixtureRequest) -> Iterator[str]:
    """llama.cpp's OpenAI-compatible server with SmolLM2-135M-Instruct on 127.0.0.1, one per test session (the
    LLM-judge and the personalization tests share it); yields its base URL.  The server requires the API key
    ``LLAMA_KEY``; tests get it through the environment variable that the ``llama_key`` fixture sets.

    After each test that uses it, ``_llama_server_alive`` checks that it still runs and answers; a server that
    died fails that test with the tail of its log, and every later test that needs it fails at once (it is not
    started again: a crash is a broken build or a bug to see, not something to retry past)."""
    from servers.llama_server import LlamaServer, missing_requirement

    reason = missing_requirement()
    if reason:
        pytest.skip(reason)
    yield from watched_llama_server(request, LlamaServer(log_dir=os.environ.get("PYTEST_LLAMA_LOG", "/tmp")))


def watched_llama_server(request: pytest.FixtureRequest, server) -> Iterator[str]:
    """Start ``server``, register it for the liveness check, yield its base URL, stop it."""
    try:
        base_url = server.start()
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)
    request.config.stash[LLAMA_SERVER] = server
    try:
        yield base_url
    finally:
        del request.config.stash[LLAMA_SERVER]
        server.stop()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """A test that needs the llama.cpp server fails before any of its fixtures run (a module fixture would
    otherwise send a whole judging run to a dead server) when the server died in an earlier test."""
    server = item.config.stash.get(LLAMA_SERVER, None)
    if server is not None and server.died_in and "llama_server" in getattr(item, "fixturenames", ()):
        pytest.fail(
            f"the llama.cpp server died during {server.died_in} (that test's failure shows its log); "
            "it is not started again",
            pytrace=False,
        )


@pytest.fixture(autouse=True)
def _llama_server_alive(request: pytest.FixtureRequest) -> Iterator[None]:
    """After a test that used the llama.cpp server: the server still runs and answers ``GET /v1/models``, or the
    test fails (an error at its teardown) with what happened and the last 40 lines of the server's log."""
    yield
    server = request.config.stash.get(LLAMA_SERVER, None)
    if server is None or server.died_in or "llama_server" not in request.fixturenames:
        return
    problem = server.problem()
    if problem:
        server.died_in = request.node.nodeid
        pytest.fail(problem, pytrace=False)


@pytest.fixture
def llama_key(monkeypatch: pytest.MonkeyPatch) -> str:
    from servers.llama_server import LLAMA_KEY

    monkeypatch.setenv(LLAMA_KEY_ENV, LLAMA_KEY)
    return LLAMA_KEY_ENV


# The suite runs on every core (pytest-xdist, `-n auto --dist loadgroup` in pyproject.toml).  Each test module
# stays on one worker (its module fixtures are built once), and every test that uses the llama.cpp server runs on
# the same worker, so one server is started per run (two would compete for the same cores).  tryfirst: xdist
# turns the marks into group names in its own hook of the same name.
@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if item.get_closest_marker("xdist_group"):
            continue
        group = "llama-server" if "llama_server" in item.fixturenames else item.nodeid.split("::", 1)[0]
        item.add_marker(pytest.mark.xdist_group(group))


# A run in which no test ran is not a pass.  pytest itself exits with 5 when nothing is collected (e.g. a -m
# expression that selects nothing); these hooks give the same exit code when tests were collected but every one
# was skipped (a missing component, a missing data folder), so such a run never shows as green.
_PASSED: list[str] = []
_SESSION: list[pytest.Session] = []


def pytest_sessionstart(session: pytest.Session) -> None:
    _SESSION[:] = [session]


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call" and report.passed:
        _PASSED.append(report.nodeid)


def _nothing_ran(session: pytest.Session, exitstatus: int) -> bool:
    return (
        exitstatus == pytest.ExitCode.OK
        and session.testscollected > 0
        and not _PASSED
        and not session.config.option.collectonly
    )


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _nothing_ran(session, exitstatus):
        session.exitstatus = pytest.ExitCode.NO_TESTS_COLLECTED


def pytest_terminal_summary(terminalreporter, exitstatus: int) -> None:
    if _SESSION and _nothing_ran(_SESSION[0], exitstatus):
        terminalreporter.write_line(
            f"no test ran: all {_SESSION[0].testscollected} collected tests were skipped (exit code 5)",
            red=True,
        )
