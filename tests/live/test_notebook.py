"""The walkthrough notebook runs top to bottom (nbclient, a python3 kernel on this interpreter); a failing cell
fails the test with the cell's traceback."""

from __future__ import annotations

import os
import re
import sys

import nbformat
import pytest
from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient

from tests.conftest import REPO

NOTEBOOK = REPO / "examples" / "audit_walkthrough.ipynb"


class ThisInterpreter(KernelSpecManager):
    """Every kernel name resolves to an ipykernel on ``sys.executable``, so the notebook runs against the same
    environment (and the same checkout) as the tests, whatever kernels the machine has registered."""

    def get_kernel_spec(self, kernel_name: str) -> KernelSpec:
        return KernelSpec(
            argv=[sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            display_name="Python 3",
            language="python",
            name=kernel_name,
        )


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    """The notebook, executed in examples/ (it reads gates.toml beside it) without CI variables, so its gate does not
    write into a real job summary or print annotations into a real CI log."""
    nb = nbformat.read(NOTEBOOK, as_version=4)
    with pytest.MonkeyPatch.context() as mp:
        for name in ("GITHUB_STEP_SUMMARY", "GITHUB_ACTIONS"):
            mp.delenv(name, raising=False)
        mp.setenv("PYTHONPATH", os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p))
        mp.setenv("MPLCONFIGDIR", str(tmp_path_factory.mktemp("mpl")))
        km = KernelManager(kernel_name="python3", kernel_spec_manager=ThisInterpreter())
        try:
            NotebookClient(
                nb,
                km=km,
                kernel_name="python3",
                timeout=600,
                resources={"metadata": {"path": str(NOTEBOOK.parent)}},
            ).execute()
        finally:  # nbclient shuts down only the kernels it creates; this one would outlive the test session
            if km.has_kernel:
                km.shutdown_kernel(now=True)
    return nb


def _outputs(nb, needle: str) -> list:
    [cell] = [c for c in nb.cells if c.cell_type == "code" and needle in c.source]
    return cell.outputs


def test_notebook_runs_top_to_bottom(executed):
    errors = [
        o for c in executed.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"
    ]
    assert not errors
    assert all(c.execution_count for c in executed.cells if c.cell_type == "code")


def test_notebook_shows_the_plots_as_images(executed):
    for call in (
        "reports.plots.forest_plot(doc)",
        "reports.plots.outcome_bars(doc)",
        "reports.plots.confusion_matrices(doc)",
    ):
        assert any("image/png" in o.get("data", {}) for o in _outputs(executed, call)), call


def test_notebook_shows_the_result_summary_and_the_gate(executed):
    summary = _outputs(executed, "result = auditor.audit(")
    assert "SIMULATED" in summary[0]["data"]["text/html"].upper()
    failure = "".join(o.get("text", "") for o in _outputs(executed, "except AssertionError as failure"))
    found = re.search(r"(\d+) of (\d+) gate checks fail", failure)
    assert found, failure
    assert int(found.group(2)) == 5  # one check per judge of the simulated study
    for judge in ("gpt-4o", "claude-3.5", "llama-3-70b"):  # the lenient judges fail the rule
        assert f"for {judge} (vs human) fails" in failure
    gate = "".join(o.get("text", "") for o in _outputs(executed, "run_gates(doc"))
    assert "exit code: 1" in gate


def test_notebook_is_stored_without_outputs():
    """Outputs (PNGs of every plot) would bloat the repository and change on every run; CI executes it instead."""
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    assert not [c for c in nb.cells if c.cell_type == "code" and (c.outputs or c.execution_count)]
