"""What a fresh interpreter imports: ``import auditor`` is light, ``auditor --help`` loads the command line only,
and ``auditor.audit`` stays the function whichever module is imported first.

Each check runs in a subprocess (a clean ``sys.modules``) and reads ``sys.modules`` afterwards; no timing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import REPO


def _modules_after(code: str) -> set[str]:
    """The modules loaded once ``code`` has run in a fresh interpreter on this tree."""
    script = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr
    return set(json.loads(proc.stdout.strip().splitlines()[-1]))


def _under(modules: set[str], prefixes: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules if any(m == p or m.startswith(p + ".") for p in prefixes))


def test_import_auditor_loads_no_command_line_no_judges_no_reports_and_no_pandas_or_scipy():
    modules = _modules_after("import auditor")
    assert "auditor" in modules
    heavy = _under(modules, ("typer", "click", "rich", "judges", "reports", "pandas", "scipy", "numpy"))
    assert not heavy, f"import auditor loaded {heavy}"
    assert _under(modules, ("auditor",)) == ["auditor"], "import auditor loads no submodule"


def test_the_public_names_load_on_first_use():
    modules = _modules_after(
        "import auditor\n"
        "assert callable(auditor.audit) and auditor.audit.__module__ == 'auditor.audit'\n"
        "assert auditor.AuditConfig.__module__ == 'auditor.config' and auditor.InputError.__module__ == 'auditor.errors'\n"
        "from auditor import AuditResult, Scale, load_config, AuditorError\n"
        "assert set(auditor.__all__) <= set(dir(auditor))"
    )
    assert {"auditor.audit", "auditor.config", "auditor.result", "auditor.errors", "pandas"} <= modules
    assert not _under(modules, ("typer", "judges", "reports")), "the core alone, no front door"


HELP = (
    "import contextlib, io\n"
    "from auditor.cli import main\n"
    "for args in (['--help'], *([command, '--help'] for command in {commands})):\n"
    "    with contextlib.redirect_stdout(io.StringIO()) as out:\n"
    "        assert main(args) == 0, args\n"
    "    assert 'Usage' in out.getvalue(), args\n"
)
COMMANDS = [
    "audit",
    "simulate",
    "demo",
    "convert",
    "report",
    "plan",
    "drift",
    "monitor",
    "probe",
    "judge",
    "injection",
    "gate",
]


def test_help_of_every_command_loads_the_command_line_only():
    modules = _modules_after(HELP.format(commands=COMMANDS))
    assert {"typer", "auditor.cli.root", "auditor.cli.probe", "auditor.cli.gate", "judges.cli"} <= modules
    heavy = _under(
        modules,
        (
            "openai",
            "httpx",
            "judges.llm",
            "judges.reward_model",
            "judges.rm_tiny",
            "torch",
            "transformers",
            "reports",
            "matplotlib",
            "pandas",
            "scipy",
            "numpy",
            "statsmodels",
        ),
    )
    assert not heavy, f"auditor --help loaded {heavy}"
    core = [
        m
        for m in _under(modules, ("auditor",))
        if m not in ("auditor", "auditor.errors") and not m.startswith("auditor.cli")
    ]
    assert not core, f"the commands import the core inside their bodies, yet --help loaded {core}"


@pytest.mark.parametrize(
    "first",
    [
        "import auditor; auditor.audit",
        "from auditor.personalization import audit_stage",
        "import auditor.probes",
        "from auditor.audit import run_audit",
        "import auditor.analyses.jury",
    ],
)
def test_auditor_audit_stays_the_function_whatever_is_imported_first(first):
    """Importing the submodule ``auditor.audit`` (directly or through another module) must not replace the
    function ``auditor.audit`` on the package, and the pipeline is there without any registration."""
    script = (
        f"{first}\nimport sys\n"
        "import auditor\n"
        "assert callable(auditor.audit) and not isinstance(auditor.audit, type(sys)), 'the module won'\n"
        "steps = sys.modules['auditor.audit'].STEPS\n"
        "assert len(steps) >= 9 and all(callable(step) for step in steps), steps\n"
    )
    assert "auditor.audit" in _modules_after(script)


def test_an_audit_written_as_json_loads_neither_the_plotting_nor_the_html_stack(tmp_path):
    """``auditor audit ... --format json -q`` imports only what it uses: no matplotlib or jinja2 (figures and HTML),
    no rich (the terminal summary);
    and the pipeline's modules load without scipy.stats (the interval arithmetic comes from scipy.special; the
    steps that need scipy.stats or statsmodels import them when they run)."""
    rows = [
        (f"i{i}", "human" if r < 3 else "judge", f"h{r}" if r < 3 else "0", "abt"[(i * (r + 1)) % 3])
        for i in range(60)
        for r in range(4)
    ]
    labels = tmp_path / "labels.csv"
    labels.write_text("item_id,judge,rater,label\n" + "".join(",".join(r) + "\n" for r in rows))
    labels.write_text(labels.read_text().replace(",t\n", ",tie\n"))
    items = tmp_path / "items.csv"
    items.write_text("item_id,user_id\n" + "".join(f"i{i},u{i % 6}\n" for i in range(60)))
    argv = [str(labels), "--items", str(items), "--task", "pairwise", "--bootstrap", "100"]
    argv += ["--out", str(tmp_path / "out"), "--format", "json", "-q"]
    modules = _modules_after(
        "import sys\nfrom auditor.cli import main\nimport auditor.audit, reports\n"
        "assert 'scipy.stats' not in sys.modules, 'the pipeline imports scipy.stats'\n"
        f"assert main(['audit', *{argv!r}]) == 0"
    )
    assert (tmp_path / "out" / "audit.json").exists() and "auditor.audit" in modules
    heavy = _under(modules, ("matplotlib", "jinja2", "rich", "reports.plots", "reports.render.html"))
    assert not heavy, f"auditor audit --format json -q loaded {heavy}"


@pytest.mark.skipif(sys.platform != "linux", reason="numpy advises huge pages on Linux only")
@pytest.mark.parametrize(("setting", "advised"), [(None, False), ("1", True), ("0", False)])
def test_the_command_line_turns_numpys_huge_page_advice_off_unless_the_user_set_it(setting, advised):
    """The command line loads before numpy and sets NUMPY_MADVISE_HUGEPAGE=0 unless the environment has it (the
    first touch of fresh memory costs several times more with the advice where the kernel compacts on a fault);
    the Python API leaves numpy's default."""
    code = (
        "from auditor.cli import main\nimport numpy._core.multiarray as m\n"
        "import sys\nprint(m._get_madvise_hugepage(), file=sys.stderr)"
    )
    env = {k: v for k, v in os.environ.items() if k != "NUMPY_MADVISE_HUGEPAGE"}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])
    if setting is not None:
        env["NUMPY_MADVISE_HUGEPAGE"] = setting
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == str(advised)
    api = subprocess.run(
        [sys.executable, "-c", "import auditor, numpy._core.multiarray as m; print(m._get_madvise_hugepage())"],
        cwd=REPO, env={k: v for k, v in env.items() if k != "NUMPY_MADVISE_HUGEPAGE"}, capture_output=True, text=True,
    )  # fmt: skip
    assert api.stdout.strip() == "True", "the Python API leaves numpy's own default"
