"""The one map from how a command ended to the exit code (:mod:`auditor.cli.exits`): 0 ok, 1 a gate failed, 2 bad
input in one line, 3 a judging run incomplete, 130 interrupted; through a real typer app and through
``python -m auditor``."""

from __future__ import annotations

import pytest
import typer

from auditor.cli import exits
from auditor.errors import AuditorError, ConfigError, InputError
from tests.conftest import run_cli


class RunIncomplete(AuditorError):
    """What a judging run that stopped early raises (declares its exit code, as :mod:`auditor.cli.exits` reads)."""

    exit_code = exits.RUN_INCOMPLETE


def _app() -> typer.Typer:
    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)

    @app.command()
    def end(how: str) -> None:
        if how == "gate-failed":
            raise typer.Exit(exits.GATE_FAILED)
        if how == "bad-input":
            raise InputError(
                "expected a label on the scale 1-5, got 9", file="labels.csv", row=4, column="label"
            )
        if how == "bad-config":
            raise ConfigError("unknown key 'tsk'", file="audit.toml")
        if how == "incomplete":
            raise RunIncomplete("12 of 40 items unjudged; rerun to resume")
        if how == "interrupted":
            raise KeyboardInterrupt
        if how == "bug":
            raise RuntimeError("a bug is a traceback, not an exit code")

    @app.command()
    def other() -> None:  # a second command keeps typer from collapsing the app into its only command
        pass

    return app


@pytest.mark.parametrize(
    ("how", "code", "message"),
    [
        ("ok", 0, None),
        ("gate-failed", 1, None),
        (
            "bad-input",
            2,
            "error: file labels.csv, row 4, column 'label': expected a label on the scale 1-5, got 9",
        ),
        ("bad-config", 2, "error: file audit.toml: unknown key 'tsk'"),
        ("incomplete", 3, "error: 12 of 40 items unjudged; rerun to resume"),
        ("interrupted", 130, None),  # typer turns Ctrl-C into 130 itself
    ],
)
def test_each_ending_has_its_exit_code_and_at_most_one_line(how, code, message, capsys):
    assert exits.run(typer.main.get_command(_app()), ["end", how]) == code
    err = capsys.readouterr().err
    assert err.strip().splitlines() == ([message] if message else [])


def test_a_usage_error_is_exit_2_and_a_bug_is_not_swallowed(capsys):
    command = typer.main.get_command(_app())
    assert exits.run(command, ["end"]) == 2  # missing argument
    (line,) = capsys.readouterr().err.strip().splitlines()  # one line, naming where the help is
    assert line.startswith("error: Missing argument") and line.endswith("--help')"), line
    assert exits.run(command, ["end", "ok", "--bogus"]) == 2  # an unknown option
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("error: No such option: --bogus"), line
    from auditor.cli import main

    assert main([]) == 2  # no command: the help, as before
    assert "Usage: auditor [OPTIONS] COMMAND" in " ".join(capsys.readouterr().out.split())
    with pytest.raises(RuntimeError, match="a bug is a traceback"):
        exits.run(command, ["end", "bug"])


def test_an_error_class_declares_its_exit_code():
    assert exits.error_exit_code(InputError("x")) == exits.BAD_INPUT
    assert exits.error_exit_code(RunIncomplete("x")) == exits.RUN_INCOMPLETE

    class Odd(AuditorError):
        exit_code = True  # not an int code: stays bad input

    assert exits.error_exit_code(Odd("x")) == exits.BAD_INPUT


def test_python_m_auditor_bad_input_is_one_line_and_exit_2(tmp_path):
    missing = tmp_path / "nowhere" / "audit.json"
    proc = run_cli("report", str(missing))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    [line] = proc.stderr.strip().splitlines()
    assert line.startswith("error: ") and str(missing) in line and "Traceback" not in proc.stderr
    proc = run_cli("no-such-command")
    assert proc.returncode == 2 and "No such command" in proc.stderr
