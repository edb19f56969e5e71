"""One style for the whole repository: ``ruff check`` and ``ruff format --check`` are clean under the single
configuration in pyproject.toml (ruff is in the test extra)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _ruff(*args: str) -> subprocess.CompletedProcess:
    command = [shutil.which("ruff")] if shutil.which("ruff") else [sys.executable, "-m", "ruff"]
    return subprocess.run([*command, *args], cwd=REPO, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("args", [("check", "."), ("format", "--check", ".")], ids=["check", "format"])
def test_ruff_is_clean(args):
    done = _ruff(*args)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
