"""The layering the front door promises, read from the source (AST), not from what a run happened to import:

* outside ``auditor/cli/`` no module of ``auditor`` imports typer, click, ``judges`` or ``reports``, nor the
  command line itself, at any level (module level or inside a function, ``import_module("...")`` included);
* no import cycle among the modules of ``auditor``, ``judges`` and ``reports`` (module-level imports; those under
  ``if TYPE_CHECKING:`` never run and do not count).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from tests.conftest import REPO

PACKAGES = ("auditor", "judges", "reports")
FRONT_DOOR = "auditor.cli"
#: Top-level packages the core must not import: the command-line toolkit (typer, its rich help included, and click)
#: and the two packages the front door wires to the core.
FORBIDDEN_IN_CORE = ("typer", "click", "judges", "reports")
#: ``python -m auditor`` is the front door's own entry point.
ENTRY_POINTS = {"auditor.__main__"}


# -- reading the source -------------------------------------------------------------------------------------------
def module_files(package: str) -> dict[str, Path]:
    """Every module of ``package`` under the repository: dotted name -> file."""
    out = {}
    for path in sorted((REPO / package).rglob("*.py")):
        parts = path.relative_to(REPO).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _resolve(module: str | None, level: int, importer: str, is_package: bool) -> str:
    """The absolute name of ``from <level dots><module> import ...`` written in ``importer``."""
    if not level:
        return module or ""
    base = importer.split(".") if is_package else importer.split(".")[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join(base + ([module] if module else []))


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports_in(node: ast.AST, importer: str, is_package: bool) -> Iterator[tuple[int, str, tuple[str, ...]]]:
    """``(line, module, names)`` for one import statement or ``import_module("x")`` / ``__import__("x")`` call."""
    if isinstance(node, ast.Import):
        for alias in node.names:
            yield node.lineno, alias.name, ()
    elif isinstance(node, ast.ImportFrom):
        yield (
            node.lineno,
            _resolve(node.module, node.level, importer, is_package),
            tuple(a.name for a in node.names),
        )
    elif (
        isinstance(node, ast.Call)
        and node.args
        and isinstance(node.args[0], ast.Constant)
        and isinstance(node.args[0].value, str)
    ):
        func = node.func
        name = (
            func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else None
        )
        if name in ("import_module", "__import__"):
            yield node.lineno, node.args[0].value, ()


def all_imports(
    source: str, importer: str, is_package: bool = False
) -> list[tuple[int, str, tuple[str, ...]]]:
    """Every import anywhere in ``source``: module level, in functions, in classes, under any condition."""
    found = []
    for node in ast.walk(ast.parse(source)):
        found.extend(_imports_in(node, importer, is_package))
    return found


def module_level_imports(
    source: str, importer: str, is_package: bool = False
) -> list[tuple[int, str, tuple[str, ...]]]:
    """The imports that run when the module is imported: module scope, class bodies, ``if`` / ``try`` / ``with``
    blocks; not function bodies, not ``if TYPE_CHECKING:``."""
    found: list[tuple[int, str, tuple[str, ...]]] = []

    def visit(statements: list[ast.stmt]) -> None:
        for node in statements:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            if isinstance(node, ast.If) and _is_type_checking(node.test):
                visit(node.orelse)
                continue
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                found.extend(_imports_in(node, importer, is_package))
                continue
            for child in ast.iter_child_nodes(node):  # calls such as import_module("x") at module level
                if isinstance(child, ast.expr):
                    for sub in ast.walk(child):
                        found.extend(_imports_in(sub, importer, is_package))
            for field in ("body", "orelse", "finalbody", "handlers"):
                block = getattr(node, field, None)
                if isinstance(block, list):
                    visit(
                        [n for n in block if isinstance(n, ast.stmt)]
                        if field != "handlers"
                        else [s for handler in block for s in handler.body]
                    )

    visit(ast.parse(source).body)
    return found


# -- (a) the core imports neither the command line nor judges nor reports -------------------------------------------------
def core_violations(modules: dict[str, Path]) -> list[str]:
    """``file:line imports X`` for every forbidden import of a core module (any module outside auditor/cli/)."""
    problems = []
    for name, path in modules.items():
        if name == FRONT_DOOR or name.startswith(FRONT_DOOR + "."):
            continue
        for line, module, _ in all_imports(
            path.read_text(encoding="utf-8"), name, path.name == "__init__.py"
        ):
            top = module.split(".")[0]
            into_front_door = module == FRONT_DOOR or module.startswith(FRONT_DOOR + ".")
            if top in FORBIDDEN_IN_CORE or (into_front_door and name not in ENTRY_POINTS):
                problems.append(f"{path.relative_to(REPO)}:{line} imports {module}")
    return problems


def test_the_checker_sees_imports_at_every_level():
    source = (
        "import os\n"
        "from . import sibling\n"
        "def f():\n"
        "    import typer\n"
        "    from judges.llm import LLMJudge\n"
        "class C:\n"
        "    def g(self):\n"
        "        return importlib.import_module('reports.html')\n"
        "if TYPE_CHECKING:\n"
        "    import click\n"
    )
    found = {(line, module) for line, module, _ in all_imports(source, "auditor.pkg.mod")}
    assert found == {
        (1, "os"),
        (2, "auditor.pkg"),
        (4, "typer"),
        (5, "judges.llm"),
        (8, "reports.html"),
        (10, "click"),
    }


def test_no_core_module_imports_typer_click_judges_reports_or_the_cli():
    problems = core_violations(module_files("auditor"))
    assert not problems, "the core reaches past the front door:\n" + "\n".join(problems)


def test_the_front_door_is_where_the_command_line_lives():
    """The check is not vacuous: the command modules do import typer, and they are exempt only because they sit
    under auditor/cli/."""
    modules = module_files("auditor")
    cli = {name: path for name, path in modules.items() if name.startswith(FRONT_DOOR + ".")}
    assert {"auditor.cli.audit", "auditor.cli.gate", "auditor.cli.probe", "auditor.cli.exits"} <= set(cli)
    moved = {name.replace(FRONT_DOOR + ".", "auditor.core_copy_of_"): path for name, path in cli.items()}
    assert any(problem.endswith("imports typer") for problem in core_violations(moved))


# -- (b) no import cycle ----------------------------------------------------------------------------------------------
def import_graph(packages: tuple[str, ...] = PACKAGES, *, deferred: bool = False) -> dict[str, set[str]]:
    """Module -> the project's modules it imports at module level (``from a import b``: ``a.b`` when that is a
    module, else ``a``, whose code defines ``b``); with ``deferred``, imports inside functions too (a package's
    ``__init__``, which only re-exports or loads lazily, left out)."""
    files: dict[str, Path] = {}
    for package in packages:
        files.update(module_files(package))
    graph: dict[str, set[str]] = {name: set() for name in files}
    for name, path in files.items():
        if deferred and path.name == "__init__.py":
            continue
        read = all_imports if deferred else module_level_imports
        for _, module, names in read(path.read_text(encoding="utf-8"), name, path.name == "__init__.py"):
            targets = [f"{module}.{n}" if f"{module}.{n}" in files else module for n in names] or [module]
            graph[name].update(
                t for t in targets if t in files and t != name
            )  # a package naming its own attrs
    return graph


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle (``[a, b, ..., a]``) per strongly connected component that has one (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                connect(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1 or node in graph.get(node, ()):
                components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return [_one_cycle(graph, set(component), component[0]) for component in components]


def _one_cycle(graph: dict[str, set[str]], component: set[str], start: str) -> list[str]:
    """A shortest path from ``start`` back to itself inside its component (breadth first)."""
    previous: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for nxt in sorted(graph[node] & component):
                if nxt == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(previous[path[-1]])
                    return [start, *reversed(path[:-1]), start] if node != start else [start, start]
                if nxt not in previous:
                    previous[nxt] = node
                    following.append(nxt)
        frontier = following
    raise AssertionError(f"{start} is in a component without a cycle")  # unreachable for Tarjan's components


def test_the_cycle_finder_reports_a_cycle_and_ignores_a_diamond():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set(), "e": {"d", "f"}, "f": {"d"}, "g": {"g"}}
    assert find_cycles(graph) == [["a", "b", "c", "a"], ["g", "g"]]


def test_module_level_imports_skip_functions_and_type_checking():
    source = (
        "from auditor.errors import InputError\n"
        "try:\n"
        "    import judges.llm\n"
        "except ImportError:\n"
        "    from reports import html\n"
        "if TYPE_CHECKING:\n"
        "    import pandas\n"
        "else:\n"
        "    import numpy\n"
        "class C:\n"
        "    import json\n"
        "def f():\n"
        "    import typer\n"
    )
    found = [module for _, module, _ in module_level_imports(source, "auditor.x")]
    assert found == ["auditor.errors", "judges.llm", "reports", "numpy", "json"]


def test_no_import_cycle_among_auditor_judges_and_reports():
    cycles = find_cycles(import_graph())
    assert not cycles, "import cycles (module-level imports):\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_no_cycle_even_through_imports_deferred_into_functions():
    """A deferred import hides a cycle from the interpreter, not from the design (``auditor.data`` and
    ``auditor.io`` used to import each other that way)."""
    graph = import_graph(deferred=True)
    graph = {name: {t for t in targets if not t.endswith("__init__")} for name, targets in graph.items()}
    cycles = find_cycles(graph)
    assert not cycles, "import cycles (any level):\n" + "\n".join(" -> ".join(c) for c in cycles)
