"""Without torch or transformers, the reward-model judge says how to install them (a real, blocked import)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]

BLOCKER = '''
import importlib.abc
import sys

BLOCKED = {blocked!r}


class Blocker(importlib.abc.MetaPathFinder):
    """Makes `import {blocked}` fail as it does where the package is not installed."""

    def find_spec(self, name, path=None, target=None):
        if name == BLOCKED or name.startswith(BLOCKED + "."):
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None


sys.meta_path.insert(0, Blocker())
'''

SCRIPT = """
import judges.reward_model as reward_model  # importable without the backend
from auditor.errors import AuditorError
try:
    reward_model.RewardModelJudge("any/model")
except AuditorError as error:
    print("AuditorError:", error)
else:
    print("no error")
"""


@pytest.mark.parametrize("blocked", ["torch", "transformers"])
def test_missing_backend_raises_an_auditor_error_with_the_install_command(tmp_path, blocked):
    (tmp_path / "sitecustomize.py").write_text(BLOCKER.format(blocked=blocked))
    environment = dict(os.environ)
    environment["PYTHONPATH"] = os.pathsep.join(
        [str(tmp_path), str(REPO), *filter(None, [environment.get("PYTHONPATH")])]
    )
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    message = result.stdout.strip()
    assert message.startswith("AuditorError: reward-model judges need " + blocked), message
    assert "pip install 'judge-auditor[rm]'" in message
    assert f"No module named '{blocked}'" in message
