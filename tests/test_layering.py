"""The layering of DESIGN.md, read from the source with `ast` (imports inside functions count too).

- a module may import from layers below it (or its own), never above; `io` imports nothing else from bindscape;
- no import cycle between modules of src/bindscape;
- no `_private` name is imported from another module (a private *module* may be imported from inside its own
  package; `bindscape._util` is shared by all).
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "src" / "bindscape"
# bottom to top; `errors`, `_util` and `schema` are shared helpers every layer may use
LAYERS = ["io", "motifs", "simulate", "data", "models", "evaluate", "train", "explain", "report", "recipes", "cli"]
SHARED = {"errors", "_util", "schema", "__init__", "__main__"}
ISOLATED = {"io"}  # layers that import nothing else from bindscape (shared helpers aside)


def _module_name(path: Path) -> str:
    rel = path.relative_to(PKG.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


@cache
def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PKG.rglob("*.py"))}


def _is_package(module: str) -> bool:
    return _modules()[module].name == "__init__.py"


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    """ids of nodes under `if TYPE_CHECKING:` (never executed, so not real imports)."""
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If):
            t = node.test
            name = t.id if isinstance(t, ast.Name) else t.attr if isinstance(t, ast.Attribute) else None
            if name == "TYPE_CHECKING":
                for child in node.body:
                    skip.update(id(n) for n in ast.walk(child))
    return skip


def _base(module: str, node: ast.ImportFrom) -> str | None:
    """The absolute module an ImportFrom reads from (relative imports resolved)."""
    if node.level == 0:
        return node.module
    parts = module.split(".")
    if not _is_package(module):
        parts = parts[:-1]
    if node.level > 1:
        parts = parts[: len(parts) - (node.level - 1)]
    return ".".join(parts + ([node.module] if node.module else []))


@cache
def _imports() -> list[tuple[str, str, str, int]]:
    """(importer module, imported module, imported name or '', line) for every bindscape import.

    `from a.b import c` is an import of module `a.b.c` when that module exists, else of name `c` of `a.b`.
    """
    out = []
    mods = _modules()
    for module, path in mods.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        skip = _type_checking_nodes(tree)
        for node in ast.walk(tree):
            if id(node) in skip:
                continue
            if isinstance(node, ast.Import):
                for a in node.names:
                    if a.name.split(".")[0] == "bindscape":
                        out.append((module, a.name, "", node.lineno))
            elif isinstance(node, ast.ImportFrom):
                base = _base(module, node)
                if not base or base.split(".")[0] != "bindscape":
                    continue
                for a in node.names:
                    sub = f"{base}.{a.name}"
                    if sub in mods:
                        out.append((module, sub, "", node.lineno))
                    else:
                        out.append((module, base, a.name, node.lineno))
    return out


def _where(module: str, line: int) -> str:
    return f"{_modules()[module].relative_to(PKG.parent.parent)}:{line}"


def _existing(module: str) -> str | None:
    """`module` or its nearest parent that is a module of the package."""
    parts = module.split(".")
    while parts:
        name = ".".join(parts)
        if name in _modules():
            return name
        parts.pop()
    return None


def _layer(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def test_imports_respect_layers():
    bad = []
    for importer, target, _name, line in _imports():
        own, layer = _layer(importer), _layer(target)
        if own is None or own in SHARED or layer is None or layer in SHARED or layer == own:
            continue
        assert own in LAYERS, f"{importer}: package {own!r} is not in the layer table of this test"
        if layer not in LAYERS:
            continue
        if own in ISOLATED or LAYERS.index(layer) > LAYERS.index(own):
            bad.append(f"{_where(importer, line)}: {importer} imports {target}")
    assert not bad, "layering violations:\n" + "\n".join(sorted(bad))


def _cycles(edges: dict[str, dict[str, int]]) -> list[list[str]]:
    """One cycle (a list of modules, first repeated at the end) per strongly connected component."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    comps: list[list[str]] = []

    def strong(v: str) -> None:  # Tarjan (recursion depth is bounded by the number of modules)
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in edges.get(v, {}):
            if w not in index:
                strong(w)
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
                comps.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            strong(v)
    out = []
    for comp in comps:  # a shortest cycle through the component's first module (breadth-first)
        members, start = set(comp), comp[0]
        prev: dict[str, str] = {}
        frontier, cycle = [start], None
        while frontier and cycle is None:
            nxt = []
            for v in frontier:
                for w in sorted(edges.get(v, {})):
                    if w == start:
                        path = [v]
                        while path[-1] != start:
                            path.append(prev[path[-1]])
                        cycle = [start, *reversed(path[:-1]), start]
                        break
                    if w in members and w not in prev:
                        prev[w] = v
                        nxt.append(w)
                if cycle:
                    break
            frontier = nxt
        out.append(cycle)
    return out


def _component(edges: dict[str, dict[str, int]], start: str) -> set[str]:
    """Modules reachable from `start` that also reach it (its strongly connected component)."""

    def reach(graph, v):
        seen, todo = {v}, [v]
        while todo:
            for w in graph.get(todo.pop(), {}):
                if w not in seen:
                    seen.add(w)
                    todo.append(w)
        return seen

    reverse: dict[str, dict[str, int]] = {}
    for a, targets in edges.items():
        for b in targets:
            reverse.setdefault(b, {})[a] = 0
    return reach(edges, start) & reach(reverse, start)


def test_no_import_cycles():
    edges: dict[str, dict[str, int]] = {}
    for importer, target, _name, line in _imports():
        t = _existing(target)
        if t is not None and t != importer:
            edges.setdefault(importer, {}).setdefault(t, line)
    found = []
    for cycle in _cycles(edges):
        steps = [f"{_where(a, edges[a][b])} ({a} -> {b})" for a, b in zip(cycle, cycle[1:], strict=False)]
        members = sorted(_component(edges, cycle[0]))
        found.append(" <-> ".join(cycle[:-1]) + f" (modules in this cycle group: {', '.join(members)})\n    "
                     + "\n    ".join(steps))
    assert not found, "import cycles:\n" + "\n".join(found)


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def test_no_private_names_imported_across_modules():
    bad = []
    for importer, target, name, line in _imports():
        own_pkg = importer if _is_package(importer) else importer.rpartition(".")[0]
        # a private module (bindscape.data._kernels): only from inside its own package; `_util` is shared
        parts = target.split(".")
        for k, part in enumerate(parts):
            if _private(part) and target != "bindscape._util":
                parent = ".".join(parts[:k])
                if not (own_pkg == parent or own_pkg.startswith(parent + ".")):
                    bad.append(f"{_where(importer, line)}: {importer} imports private module {target}")
                break
        if name and _private(name) and target != importer:
            bad.append(f"{_where(importer, line)}: {importer} imports {name} from {target}")
    assert not bad, "private names imported across modules:\n" + "\n".join(sorted(bad))
