"""A failed run leaves an existing output folder exactly as it was: no file replaced, none added, no temp file."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import run_cli

FILES = Path(__file__).resolve().parent / "bad_inputs" / "files"


def _audit(labels: str, out: Path):
    """``auditor audit`` of a corpus labels file with the good items into ``out`` (no resampling)."""
    return run_cli(
        "audit",
        str(FILES / labels),
        "--items",
        str(FILES / "good_items.jsonl"),
        "--task",
        "pairwise",
        "--out",
        str(out),
        "--bootstrap",
        "0",
        "--quiet",
    )


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize(
    "bad", ["labels_unknown_pairwise_label.jsonl", "labels_truncated_line.jsonl", "labels_ragged_row.csv"]
)
def test_failed_audit_keeps_the_previous_outputs(tmp_path, bad):
    out = tmp_path / "out"
    good = _audit("good_labels.jsonl", out)
    assert good.returncode == 0, good.stderr
    before = _snapshot(out)
    assert {"audit.json", "report.md", "report.html"} <= set(before)
    proc = _audit(bad, out)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert _snapshot(out) == before


def test_failed_report_keeps_the_previous_outputs(tmp_path):
    out = tmp_path / "out"
    good = _audit("good_labels.jsonl", out)
    assert good.returncode == 0, good.stderr
    before = _snapshot(out)
    proc = run_cli(
        "report", str(FILES / "audit_truncated.json"), "--out", str(out), "--format", "md,html", "--quiet"
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert _snapshot(out) == before


# -- a run stopped at any moment: the old set or the new set, never a mix -----------------------------------------
HOSTILE_LABELS = Path(__file__).resolve().parent / "hostile" / "files" / "labels_hostile_names.jsonl"
#: Every call that changes the file system on the way to the outputs (the one-step swap is auditor.io._exchange).
MUTATIONS = ("replace", "rename", "link", "unlink", "rmdir", "mkdir", "open", "chmod", "symlink")


@pytest.fixture(scope="module")
def two_results():
    """Two audit results with different reports: the good labels, and the same under another title."""
    import copy

    import auditor

    first = auditor.audit(
        str(FILES / "good_labels.jsonl"), items=str(FILES / "good_items.jsonl"), task="pairwise", resamples=0
    )
    second = copy.deepcopy(first)
    second.meta["title"] = "The second run"
    return first, second


class Stop(BaseException):
    """The run stopped here (what Ctrl-C or a kill would leave: every later step undone)."""


def _instrument(monkeypatch, on_step):
    """Call ``on_step(n)`` after each file-system change of the run (n counts them from 1)."""
    import os

    import auditor.io as aio

    count = [0]

    def wrap(original):
        def step(*args, **kwargs):
            result = original(*args, **kwargs)
            count[0] += 1
            on_step(count[0])
            return result

        return step

    for name in MUTATIONS:
        monkeypatch.setattr(os, name, wrap(getattr(os, name)))
    monkeypatch.setattr(aio, "_exchange", wrap(aio._exchange))
    return count


def _write(result, out: Path, subfolders: tuple[str, ...] = ()) -> None:
    """The reports of ``result`` into ``out``, and again into each of ``subfolders`` (as ``auditor demo`` writes
    its stages' reports beside the main ones)."""
    from auditor.cli.common import write_outputs

    write_outputs(
        result, out, ["json", "md", "html"], quiet=True, subfolders=[(f, result) for f in subfolders]
    )


def _write_set(files: dict[str, bytes], out: Path) -> None:
    """What :func:`auditor.cli.common.write_outputs` does once the reports are rendered: each file written
    (atomically) into the staging folder of ``out``."""
    from auditor.io import staged_folder, write_bytes

    with staged_folder(out) as stage:
        for name, data in files.items():
            write_bytes(stage / name, data)


def _leftovers(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.name.endswith(".tmp"))


@pytest.mark.parametrize("subfolders", [(), ("probes",)], ids=["audit", "with-subfolder"])
def test_every_moment_of_a_run_leaves_the_old_or_the_new_set(tmp_path, monkeypatch, two_results, subfolders):
    """The state after each file-system change is what a kill at that moment leaves (with a subfolder: the main
    reports and the subfolder's together, as ``auditor demo`` writes its stages)."""
    old_result, new_result = two_results
    out = tmp_path / "out"
    _write(old_result, out, subfolders)
    old = _snapshot(out)
    states = []
    with monkeypatch.context() as patched:
        count = _instrument(patched, lambda step: states.append(_snapshot(out)))
        _write(new_result, out, subfolders)
    new = _snapshot(out)
    names = {"audit.json", "report.md", "report.html"}
    assert old != new and set(old) == set(new) == names | {f"{f}/{n}" for f in subfolders for n in names}
    assert count[0] > 10 and states[0] == old and states[-1] == new, count[0]
    mixed = [step for step, state in enumerate(states, start=1) if state not in (old, new)]
    assert not mixed, f"after steps {mixed} of {count[0]} the folder mixes the two sets"
    assert _leftovers(tmp_path) == []


def test_a_run_stopped_at_any_step_keeps_a_whole_set_and_no_temporary_file(tmp_path, monkeypatch):
    old = {"audit.json": b'{"run": 1}', "report.md": b"# run 1", "report.html": b"<p>run 1</p>"}
    new = {name: data.replace(b"1", b"2") for name, data in old.items()}
    out = tmp_path / "out"
    _write_set(old, out)
    (out / "notes.txt").write_bytes(b"kept")  # a file of the user's own stays through every run
    with monkeypatch.context() as patched:
        steps = _instrument(patched, lambda step: None)
        _write_set(new, tmp_path / "probe")
    for stop_at in range(1, steps[0] + 2):  # the last one: never stopped

        def stop(step: int, stop_at: int = stop_at) -> None:
            if step == stop_at:
                raise Stop

        with monkeypatch.context() as patched:
            _instrument(patched, stop)
            try:
                _write_set(new, out)
            except Stop:
                pass
        state = _snapshot(out)
        assert state in ({**old, "notes.txt": b"kept"}, {**new, "notes.txt": b"kept"}), (
            f"stopped at {stop_at}"
        )
        assert _leftovers(tmp_path) == [], f"stopped at step {stop_at} of {steps[0]}"
        _write_set(old, out)  # back to the old set for the next stop
    assert steps[0] > 10


def test_a_killed_runs_staging_folder_is_removed_by_the_next_run(tmp_path):
    out = tmp_path / "out"
    stale = tmp_path / ".out.999999999.x1y2.tmp"  # no process has this id: its run was killed
    stale.mkdir()
    (stale / "audit.json").write_text("{}", encoding="utf-8")
    _write_set({"audit.json": b"{}"}, out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    stale_file = out / ".audit.json.999999999.k3j4.tmp"  # a single file's write, killed
    stale_file.write_text("{", encoding="utf-8")
    from auditor.io import write_text

    write_text(out / "audit.json", "{}")
    assert sorted(p.name for p in out.iterdir()) == ["audit.json"]
