"""docs/architecture.md, checked: imports only point down the layers, no cycles, modules stay small."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
DOC = (ROOT / "docs" / "architecture.md").read_text()
MAX_LINES = 300

# The layer of each top-level module or package of tabserve (docs/architecture.md draws this).
# A module not listed counts as an interface (layer 5): it may import anything, nothing may import it.
LAYERS = {
    "cli": 5,
    "service": 5,
    "api": 5,
    "workflow": 4,
    "jobs": 4,
    "registration": 4,
    "fitted": 3,
    "fitted_regression": 3,
    "training": 3,
    "compiled": 3,
    "predictor": 3,
    "monitoring": 3,
    "plots": 3,
    "regression": 3,
    "dask_backend": 3,
    "scoring": 4,
    "registry": 2,
    "data": 2,
    "sql": 2,
    "features": 2,
    "inputs": 2,
    "numeric_codec": 2,
    "compiled_runtime": 2,
    "task": 2,
    "intervals": 2,
    "config": 1,
    "config_paths": 1,
    "config_sources": 1,
    "model_configs": 1,
    "database": 1,
    "logs": 1,
    "lifetime": 1,
    "extras": 1,
    "errors": 0,
    "schema": 0,
    "urls": 0,
    "versions": 0,
    "trusted_types": 0,
    "timefmt": 0,
}
TOP = max(LAYERS.values())


def _modules() -> dict[str, Path]:
    found = {}
    for path in SRC.rglob("*.py"):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def _resolve(name: str) -> str:
    """The module an import statement loads: the longest prefix that is a file in src/."""
    while name not in MODULES:
        name = name.rpartition(".")[0]
    return name


def _imports(module: str) -> set[str]:
    """Every tabserve module ``module`` imports, at the top or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(MODULES[module].read_text())):
        if (
            isinstance(node, ast.ImportFrom)
            and node.level == 0
            and (node.module or "").startswith("tabserve")
        ):
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                found.add(submodule if submodule in MODULES else _resolve(node.module))
        elif isinstance(node, ast.Import):
            found |= {_resolve(a.name) for a in node.names if a.name.startswith("tabserve")}
    return found - {module}


GRAPH = {module: _imports(module) for module in MODULES}


def layer(module: str) -> int:
    parts = module.split(".")
    return LAYERS.get(parts[1], TOP) if len(parts) > 1 else TOP


def _upward(graph: dict[str, set[str]]) -> list[str]:
    return [
        f"{source} (layer {layer(source)}) imports {target} (layer {layer(target)})"
        for source, targets in sorted(graph.items())
        for target in sorted(targets)
        if layer(target) > layer(source)
    ]


def test_imports_only_point_down():
    upward = _upward(GRAPH)
    assert upward == [], "see docs/architecture.md:\n" + "\n".join(upward)


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a path of modules, or None."""
    state: dict[str, int] = {}  # 1 on the current path, 2 done
    path: list[str] = []

    def visit(module: str) -> list[str] | None:
        state[module] = 1
        path.append(module)
        for target in sorted(graph[module]):
            if state.get(target) == 1:
                return [*path[path.index(target) :], target]
            if target not in state and (found := visit(target)):
                return found
        path.pop()
        state[module] = 2
        return None

    for module in sorted(graph):
        if module not in state and (found := visit(module)):
            return found
    return None


def test_no_import_cycle():
    cycle = _cycle(GRAPH)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_the_checks_find_what_they_look_for():
    """An upward import and a cycle, planted in a copy of the real graph, are caught."""
    assert "tabserve.config" in GRAPH["tabserve.data"]  # the graph sees real imports
    planted = {**GRAPH, "tabserve.errors": {"tabserve.workflow"}}
    assert _upward(planted) == ["tabserve.errors (layer 0) imports tabserve.workflow (layer 4)"]
    cycle = _cycle(planted)
    assert cycle is not None and cycle[0] == cycle[-1] and "tabserve.errors" in cycle


def test_every_layered_module_is_on_the_page():
    missing = [name for name in LAYERS if not re.search(rf"`{name}(\.py|/)`", DOC)]
    assert missing == [], f"docs/architecture.md does not describe {missing}"


def test_long_modules_say_why():
    unexplained = []
    for path in sorted(MODULES.values()):
        lines = len(path.read_text().splitlines())
        docstring = ast.get_docstring(ast.parse(path.read_text())) or ""
        if lines > MAX_LINES and "Size:" not in docstring:
            unexplained.append(f"{path.relative_to(ROOT)}: {lines} lines")
    assert unexplained == [], (
        f"over {MAX_LINES} lines with no 'Size:' reason in the docstring (split it by concept):\n"
        + "\n".join(unexplained)
    )
