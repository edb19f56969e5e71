"""Re-render saved audits with one checkout of the code and compare them with another's renders.

The identity check of a change to ``reports`` on full-size audits (the demo's), beside the golden test on the
small fixtures::

    python -m auditor demo --out /tmp/demo                                  # any checkout: the audits to render
    PYTHONPATH=/path/to/old python tests/reports/compare_renders.py render /tmp/demo /tmp/renders-old
    PYTHONPATH=/path/to/new python tests/reports/compare_renders.py render /tmp/demo /tmp/renders-new
    python tests/reports/compare_renders.py compare /tmp/renders-old /tmp/renders-new

``render`` runs ``python -m auditor report AUDIT --format md,html,json`` on every ``audit.json`` under the folder
(the demo's and its ``extraction/``, ``relevance/``, ``probes/``), once per terminal width (``COLUMNS`` 80 and
120), and keeps the terminal summary it prints (``stdout.txt``, the output folder's path replaced by ``OUT``).
``compare`` lists every file that differs and exits 1 if any does. The plots' SVG carries no date and salted ids
(``reports.plots.figure_to_svg``), so the HTML pages compare byte for byte too.
"""

from __future__ import annotations

import filecmp
import os
import subprocess
import sys
from pathlib import Path

WIDTHS = (80, 120)


def render(audits: Path, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for audit_json in sorted(audits.rglob("audit.json")):
        folder = audit_json.parent.relative_to(audits)
        name = folder.as_posix().replace("/", "-") if folder.parts else "root"
        for width in WIDTHS:
            target = out / f"{name}-{width}"
            target.mkdir(parents=True, exist_ok=True)
            env = dict(os.environ, COLUMNS=str(width))
            done = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "auditor",
                    "report",
                    str(audit_json),
                    "--format",
                    "md,html,json",
                    "--out",
                    str(target),
                ],
                env=env,
                capture_output=True,
                text=True,
                cwd=out,
            )
            (target / "stdout.txt").write_text(done.stdout.replace(str(target), "OUT"), encoding="utf-8")
            (target / "exit.txt").write_text(f"{done.returncode}\n{done.stderr}", encoding="utf-8")
            print(f"{name} at {width} columns: exit {done.returncode}")


def compare(left: Path, right: Path) -> int:
    differ = []
    names = sorted(
        {p.relative_to(left) for p in left.rglob("*") if p.is_file()}
        | {p.relative_to(right) for p in right.rglob("*") if p.is_file()}
    )
    for name in names:
        a, b = left / name, right / name
        if not (a.is_file() and b.is_file() and filecmp.cmp(a, b, shallow=False)):
            differ.append(name)
    for name in differ:
        print(f"differs: {name}")
    print(f"{len(names) - len(differ)} of {len(names)} files identical")
    return 1 if differ else 0


if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[1] not in ("render", "compare"):
        sys.exit(__doc__)
    command, first, second = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    sys.exit(render(first, second) if command == "render" else compare(first, second))
