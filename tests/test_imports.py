"""The import graph of model/, training/ and service/: no cycles, and dependencies point one way.

The graph is read from the source with ``ast``, so nothing is imported. Every import statement
counts, wherever it stands: at module level, inside a function (a lazy import is still a
dependency, and a cycle through one breaks as soon as the two modules are imported in the other
order), and under ``if TYPE_CHECKING:``. Absolute and relative imports both count.

An edge goes from a module to the module it names: ``from pkg import name`` points to ``pkg.name``
when that is a module, else to ``pkg`` (its ``__init__``). Importing ``a.b.c`` also runs the
``__init__`` of ``a`` and ``a.b``; those implied edges are not counted, or every package whose
``__init__`` re-exports a submodule would be a cycle with it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("model", "training", "service")
# A package may import only the packages listed for it (besides itself and third-party code).
ALLOWED = {"model": set(), "training": {"model"}, "service": {"model", "training"}}

Graph = dict[str, dict[str, int]]  # module -> {imported module: line of the first such import}


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imported(node: ast.Import | ast.ImportFrom, module: str, is_package: bool) -> list[str]:
    """The dotted names an import statement in ``module`` names (``pkg`` and ``pkg.name`` for a
    ``from pkg import name``: the caller keeps the ones that are modules)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if node.level:
        here = module.split(".") if is_package else module.split(".")[:-1]
        base_parts = here[: len(here) - (node.level - 1)]
        base = ".".join([*base_parts, *([node.module] if node.module else [])])
    else:
        base = node.module or ""
    return [base, *(f"{base}.{alias.name}" for alias in node.names if alias.name != "*")]


def import_graph(root: Path = ROOT, packages: tuple[str, ...] = PACKAGES) -> Graph:
    """Every module of ``packages`` under ``root`` and the modules of those packages it imports."""
    files = {module_name(p, root): p for pkg in packages for p in sorted((root / pkg).rglob("*.py"))}
    graph: Graph = {}
    for module, path in files.items():
        edges: dict[str, int] = {}
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Import | ast.ImportFrom):
                continue
            names = _imported(node, module, path.name == "__init__.py")
            if isinstance(node, ast.ImportFrom):
                # ``from pkg import sub``: the submodule when there is one, else the package.
                subs = [n for n in names[1:] if n in files]
                names = subs if subs and len(subs) == len(names) - 1 else [names[0], *subs]
            for name in names:
                # ``import a.b.c`` names a.b.c; the nearest enclosing module we have is the target.
                while name and name not in files:
                    name = name.rpartition(".")[0]
                if name and name != module:
                    edges.setdefault(name, node.lineno)
        graph[module] = edges
    return graph


def find_cycle(graph: Graph) -> list[str] | None:
    """One import cycle as ``[a, b, ..., a]``, or None (a depth-first search, in sorted order)."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, {})):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (found := visit(start)):
            return found
    return None


def describe(cycle: list[str], graph: Graph) -> str:
    steps = [f"{a} (line {graph[a][b]}) -> {b}" for a, b in zip(cycle, cycle[1:], strict=False)]
    return "import cycle: " + "; ".join(steps)


def test_there_is_no_import_cycle() -> None:
    graph = import_graph()
    assert len(graph) > 50 and "service.cli" in graph  # the walk found the packages
    cycle = find_cycle(graph)
    assert cycle is None, describe(cycle, graph) + ". Fix: move the shared code into a module both can import"


def test_dependencies_point_one_way() -> None:
    graph = import_graph()
    wrong = [
        f"{module} (line {line}) imports {target}"
        for module, edges in sorted(graph.items())
        for target, line in sorted(edges.items())
        if (a := module.split(".")[0]) != (b := target.split(".")[0]) and b not in ALLOWED[a]
    ]
    assert not wrong, "model <- training <- service only: " + "; ".join(wrong)


@pytest.mark.parametrize("where", ["module", "function", "relative"])
def test_a_cycle_is_found_and_named(tmp_path: Path, where: str) -> None:
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from pkg.b import g\n")
    back = {
        "module": "import pkg.a\n",
        "function": "def g():\n    from pkg.a import x\n",
        "relative": "from . import a\n",
    }[where]
    (pkg / "b.py").write_text(back)
    (pkg / "c.py").write_text("import pkg.a\n")  # not on the cycle
    graph = import_graph(tmp_path, ("pkg",))
    assert describe(find_cycle(graph) or [], graph).startswith("import cycle: pkg.a (line 1) -> pkg.b; pkg.b")
    (pkg / "b.py").write_text("import json\nfrom pkg import c\n")
    assert find_cycle(import_graph(tmp_path, ("pkg",))) == ["pkg.a", "pkg.b", "pkg.c", "pkg.a"]
    (pkg / "c.py").write_text("")
    assert find_cycle(import_graph(tmp_path, ("pkg",))) is None
