"""The package's contract: it reads only the core's contract (never judges), has no import cycle, its renderers
take the one model, and it renders deterministically."""

from __future__ import annotations

import ast
from pathlib import Path

from report_fixtures import build_likert_audit

import reports

PACKAGE = Path(reports.__file__).resolve().parent


# the only parts of the core reports may use: the contract, the metrics registry, the one place for I/O and the one
# escaping of data text per medium (shared with the gates, which the core writes)
CORE_CONTRACT = ("auditor.metrics", "auditor.contract", "auditor.io", "auditor.escape")
REPO = PACKAGE.parent


def _imports(path: Path) -> list[tuple[str, list[str]]]:
    """``(module, names)`` of every import in a file (module level or inside a function)."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out.extend((alias.name, []) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            out.append((node.module or "", [alias.name for alias in node.names]))
    return out


def _module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def test_reports_reads_only_the_cores_contract_and_never_judges():
    for path in PACKAGE.rglob("*.py"):
        for module, names in _imports(path):
            targets = [module] + [f"{module}.{name}" for name in names]
            if module.split(".")[0] == "judges":
                raise AssertionError(f"{path.name} imports {module}")
            if module.split(".")[0] == "auditor":
                assert any(t in CORE_CONTRACT for t in targets), f"{path.name} imports {module} {names}"


def _import_graph(package: Path) -> dict[str, set[str]]:
    """Module -> the modules of ``package`` it imports (package ``__init__`` files, which only re-export, aside)."""
    modules = {_module_name(p): p for p in package.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        if path.name == "__init__.py":
            continue
        graph[name] = set()
        for module, names in _imports(path):
            submodules = [f"{module}.{n}" for n in names if f"{module}.{n}" in modules]
            for target in submodules or [module]:
                if target in modules and modules[target].name != "__init__.py":
                    graph[name].add(target)
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str]:
    """One import cycle of the graph (``[a, b, a]``), or ``[]``."""
    state: dict[str, str] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = "done"
        return []

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return []


def test_reports_has_no_import_cycle():
    """Imports between the modules of reports (inside functions too) form no cycle."""
    graph = _import_graph(PACKAGE)
    assert _cycle(graph) == [], "import cycle: " + " -> ".join(_cycle(graph))
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]  # the check itself finds one
    assert graph["reports.render.markdown"] >= {"reports.model"}


def test_renderers_read_the_document_only_through_the_model():
    """The renderers lay out a ReportModel: from the sections they take only types and constants (``Table``,
    ``KEY``), never a function that builds a section, and they never build a view of the document."""
    for path in (PACKAGE / "render").glob("*.py"):
        for module, names in _imports(path):
            if module == "reports.sections" or module.startswith("reports.sections."):
                builders = [n for n in names if not n[:1].isupper()]
                assert not builders, f"{path.name} imports {builders} from {module}"
            assert not (module == "reports.view" and "view" in names), (
                f"{path.name} reads the document itself"
            )


def test_no_core_module_outside_the_command_line_imports_reports():
    core = REPO / "auditor"
    for path in core.rglob("*.py"):
        if path == core / "cli.py" or (core / "cli") in path.parents:
            continue
        for module, _ in _imports(path):
            assert module.split(".")[0] != "reports", f"{path.relative_to(REPO)} imports {module}"


def test_the_same_audit_renders_byte_for_byte_the_same():
    audit = build_likert_audit(shown=10)
    assert reports.render_html(audit) == reports.render_html(audit)
    assert reports.render_markdown(audit) == reports.render_markdown(audit)


def test_templates_and_assets_ship_inside_the_package():
    for name in ("templates/report.html.j2", "static/report.css", "static/report.js"):
        assert (PACKAGE / name).is_file(), name
