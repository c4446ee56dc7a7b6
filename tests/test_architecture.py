"""The design's rules as checks (docs/design.md, "Rules and where they are checked").

Imports are read from the source with `ast`, so lazy (function-level) imports and imports under
`if TYPE_CHECKING:` count like any other: a cycle hidden in a function is still a cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "app"
MAX_LINES = 700


def _modules() -> dict[str, Path]:
    mods = {}
    for path in sorted(APP.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        mods[name] = path
    return mods


MODULES = _modules()


def _imported(name: str, path: Path) -> set[str]:
    """Every module of app/ that `name` imports, anywhere in the file."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            targets = [module] + [f"{module}.{alias.name}" for alias in node.names]
        for target in targets:
            # importing a.b.c runs a/__init__ and a/b/__init__ too
            parts = target.split(".")
            for i in range(1, len(parts) + 1):
                candidate = ".".join(parts[:i])
                if candidate in MODULES and candidate != name:
                    found.add(candidate)
    return found


def _is_package_of(parent: str, child: str) -> bool:
    return child.startswith(parent + ".")


GRAPH = {
    name: {m for m in _imported(name, path) if not _is_package_of(m, name)}
    for name, path in MODULES.items()
}


def _cycles() -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(GRAPH[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(GRAPH):
        if v not in index:
            visit(v)
    return found


def test_the_import_graph_sees_lazy_and_type_only_imports():
    # app.autosave imports app.editor_window only under TYPE_CHECKING
    assert "app.editor_window" in GRAPH["app.autosave"]
    assert "app.engine.inference.pipeline" in GRAPH["app.fill_file"]  # a function-level import


def test_no_import_cycles_in_app():
    assert _cycles() == []


def _imports_of(path: Path, top: str) -> list[str]:
    return sorted(m for m in _all_imports(path) if m == top or m.startswith(top + "."))


def _all_imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            names.add(node.module)
    return names


def test_qt_is_imported_in_one_engine_module_at_most():
    engine = [n for n in MODULES if n == "app.engine" or n.startswith("app.engine.")]
    with_qt = sorted(n for n in engine if _imports_of(MODULES[n], "PySide6"))
    assert with_qt == ["app.engine.worker"]


def test_widgets_never_import_torch():
    widgets = [n for n in MODULES if n.startswith("app.widgets")]
    offenders = {n: _imports_of(MODULES[n], "torch") for n in widgets}
    assert {n: m for n, m in offenders.items() if m} == {}


def test_widgets_reach_the_engine_only_through_torch_free_modules():
    """Widgets may use the engine's plain data (types, geometry, selection...) and the worker,
    never the modules that import torch."""
    torch_modules = {n for n in MODULES if n.startswith("app.engine.") and _imports_of(MODULES[n], "torch")}
    widgets = [n for n in MODULES if n.startswith("app.widgets")]
    reach = {n: sorted(GRAPH[n] & torch_modules) for n in widgets}
    # the model manager lists and imports models: it calls the model library on a pool thread
    allowed = {"app.widgets.model_manager": ["app.engine.checkpoints.library"]}
    assert {n: m for n, m in reach.items() if m and allowed.get(n) != m} == {}


# the engine's layers, lowest first (docs/design.md, "Layout"); the shared modules at the top of
# app/engine/ (types, atomic, device, geometry, selection) are layer 0, worker.py the last
ENGINE_LAYERS = ["networks", "checkpoints", "inference", "training"]


def _engine_layer(name: str) -> int | None:
    parts = name.split(".")
    if parts[:2] != ["app", "engine"]:
        return None
    if len(parts) == 2:
        return 0
    if parts[2] in ENGINE_LAYERS:
        return 1 + ENGINE_LAYERS.index(parts[2])
    return len(ENGINE_LAYERS) + 1 if parts[2] == "worker" else 0


def test_engine_subpackages_import_only_lower_layers():
    upward = sorted(
        (name, dep)
        for name, deps in GRAPH.items()
        if (layer := _engine_layer(name)) is not None
        for dep in deps
        if (dep_layer := _engine_layer(dep)) is not None and dep_layer > layer
    )
    assert upward == []


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_module_is_longer_than_700_lines(name):
    lines = MODULES[name].read_text(encoding="utf-8").count("\n")
    assert lines <= MAX_LINES, f"{MODULES[name].relative_to(ROOT)} has {lines} lines"
