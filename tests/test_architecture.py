"""docs/architecture.md, checked: imports only point down the layers (and down the service's
sub-layers), no cycles, modules stay small, and the page names every module and only real ones."""

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
    "promotion": 4,
    "fitted": 3,
    "fitted_regression": 3,
    "training": 3,
    "search": 3,
    "compiled": 3,
    "predictor": 3,
    "smoke": 3,
    "gates": 3,
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
    "lightgbm_row": 2,
    "task": 2,
    "search_plan": 2,
    "intervals": 2,
    "config": 1,
    "config_paths": 1,
    "config_sources": 1,
    "config_promotion": 1,
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


# ---- the service's sub-layers (docs/architecture.md, "Inside the service") ----------------------

# The sub-layer of each folder (or root module) of service/: a module imports only from its own
# sub-layer or those below. Protocols sit below the route folders, so they never import them.
SERVICE_TIERS = {
    "http": 0,
    "predict": 1,
    "deps": 1,
    "protocols": 2,
    "ops": 3,
    "manage": 3,
    "console": 3,
    "app": 4,
}
# Entry modules see everything: the app factory and what runs it or sits in front of it.
SERVICE_ENTRY = {
    "tabserve.service",
    "tabserve.service.app",
    "tabserve.service.http.server",
    "tabserve.service.http.dispatch",
    "tabserve.service.http.dispatch_protocols",
}
ENTRY_TIER = max(SERVICE_TIERS.values())
SERVICE = sorted(m for m in MODULES if m.startswith("tabserve.service."))


def service_tier(module: str) -> int | None:
    """The sub-layer of a service module; None for a folder the table does not place yet."""
    if module in SERVICE_ENTRY:
        return ENTRY_TIER
    return SERVICE_TIERS.get(module.split(".")[2])


def _service_crossings(graph: dict[str, set[str]]) -> list[str]:
    return [
        f"{source} (s{service_tier(source)}) imports {target} (s{service_tier(target)})"
        for source in sorted(graph)
        if source.startswith("tabserve.service.") and service_tier(source) is not None
        for target in sorted(graph[source])
        if target.startswith("tabserve.service.") and (service_tier(target) or 0) > service_tier(source)
    ]


def test_every_service_folder_has_a_sub_layer():
    unplaced = sorted({m.split(".")[2] for m in SERVICE if service_tier(m) is None})
    assert unplaced == [], f"place these in SERVICE_TIERS and in docs/architecture.md: {unplaced}"


def test_service_imports_only_point_down_its_sub_layers():
    crossings = _service_crossings(GRAPH)
    assert crossings == [], "see docs/architecture.md, Inside the service:\n" + "\n".join(crossings)


def test_the_sub_layer_check_finds_what_it_looks_for():
    """http importing the console, and a protocol importing manage/, planted in the real graph, are caught."""
    planted = {
        **GRAPH,
        "tabserve.service.http.errors": {"tabserve.service.console.render"},
        "tabserve.service.protocols.oip.codec": {"tabserve.service.manage.schemas"},
    }
    assert _service_crossings(planted) == [
        "tabserve.service.http.errors (s0) imports tabserve.service.console.render (s3)",
        "tabserve.service.protocols.oip.codec (s2) imports tabserve.service.manage.schemas (s3)",
    ]


# ---- the page names every module, and only real ones -------------------------------------------

PACKAGE = SRC / "tabserve"
_NAMED = re.compile(r"`([\w/]+(?:\.py|/))`")
_ELSEWHERE = ("tests/", "docs/", "benchmarks/", "deploy/", "src/", "examples/")


def _holds_code(path: Path) -> bool:
    """A module with more than a docstring (a package's __init__.py may hold only that)."""
    body = ast.parse(path.read_text()).body
    return any(not (isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant)) for n in body)


def _source_names() -> set[str]:
    """Every module of src/tabserve/, as a path relative to it; __init__.py only when it holds code."""
    return {
        path.relative_to(PACKAGE).as_posix()
        for path in PACKAGE.rglob("*.py")
        if path.name != "__init__.py" or _holds_code(path)
    }


def doc_names(doc: str) -> set[str]:
    """Every module and folder the page names in backticks, as a path relative to src/tabserve/.

    In a table row whose Module cell names one folder (`registry/`), a bare ``x.py`` is that
    folder's; anywhere else a bare name is a top-level module. Paths of other trees are skipped.
    """
    named = set()
    for line in doc.splitlines():
        folder = ""
        cells = line.split("|")
        if line.startswith("|") and len(cells) > 3:
            folders = [t for t in _NAMED.findall(cells[2]) if t.endswith("/")]
            folder = folders[0] if len(folders) == 1 else ""
        for token in _NAMED.findall(line):
            if token.startswith(_ELSEWHERE):
                continue
            named.add(token if "/" in token else folder + token)
    return named


def test_every_module_is_named_on_the_page():
    named = doc_names(DOC)
    missing = sorted(_source_names() - named)
    assert missing == [], "src/tabserve/ modules docs/architecture.md does not name: " + ", ".join(missing)


def test_every_module_the_page_names_exists():
    def exists(name: str) -> bool:
        return (PACKAGE / name).is_dir() if name.endswith("/") else (PACKAGE / name).is_file()

    absent = sorted(name for name in doc_names(DOC) if not exists(name))
    assert absent == [], "docs/architecture.md names what src/tabserve/ does not have: " + ", ".join(absent)


def test_the_page_check_reads_folder_rows_and_finds_strays():
    row = "| 2 | `registry/` | `records.py` rows, `service/app.py` the app, `tests/x.py` elsewhere |"
    assert doc_names(row) == {"registry/", "registry/records.py", "service/app.py"}
    assert doc_names("the `api.py` door") == {"api.py"}
