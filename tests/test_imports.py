"""The package's import graph: no cycle between modules or packages, function-level imports
counted, and ``config.py`` free of package imports (so any module may import it)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PKG = "obliviate"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _resolve(mod: str, is_pkg: bool, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    base = mod.split(".") if is_pkg else mod.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def import_graph() -> dict[str, set[str]]:
    """Module -> package modules it imports anywhere in its body (``TYPE_CHECKING`` blocks
    excluded: they never run)."""
    modules = {_module_name(p): p for p in (SRC / PKG).rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for mod, path in modules.items():
        tree = ast.parse(path.read_text())
        skip: set[int] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                skip |= {id(n) for b in node.body for n in ast.walk(b)}
        deps: set[str] = set()
        for node in ast.walk(tree):
            if id(node) in skip:
                continue
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                target = _resolve(mod, path.name == "__init__.py", node)
                names = [f"{target}.{a.name}" for a in node.names]
                if not all(n in modules for n in names):  # an attribute of ``target``
                    names.append(target)
            else:
                continue
            for name in names:
                while name and name not in modules:
                    name = name.rpartition(".")[0]
                if name.startswith(PKG) and name != mod:
                    deps.add(name)
        graph[mod] = deps
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def _package_graph(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """Top-level sub-package (or module) of ``obliviate`` -> the ones it imports."""

    def top(m: str) -> str:
        return ".".join(m.split(".")[:2])

    pg: dict[str, set[str]] = {}
    for mod, deps in graph.items():
        pg.setdefault(top(mod), set()).update(top(d) for d in deps if top(d) != top(mod))
    pg.pop(PKG, None)
    return {k: v - {PKG} for k, v in pg.items()}


def test_no_module_level_import_cycle():
    assert _cycles(import_graph()) == []


def test_no_package_level_import_cycle():
    assert _cycles(_package_graph(import_graph())) == []


def test_config_imports_no_package_module():
    """``config`` may import only ``errors``, a leaf importing nothing of the package."""
    graph = import_graph()
    assert graph["obliviate.config"] <= {"obliviate.errors"}
    assert graph["obliviate.errors"] == set()


@pytest.mark.parametrize("kind", ["cycle"])
def test_cycle_finder_finds_a_cycle(kind):
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
