"""The layering of DESIGN.md: a module may import from layers below it, never above."""

from __future__ import annotations

import ast
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "src" / "bindscape"
# bottom to top; `errors` and `_util` are shared helpers every layer may use
LAYERS = ["simulate", "io", "motifs", "data", "models", "train", "evaluate", "explain", "report", "recipes", "cli"]
SHARED = {"errors", "_util", "schema", "__init__", "__main__"}


def _layer_of(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "bindscape" or len(parts) < 2:
        return None
    return parts[1]


def test_imports_respect_layers():
    bad = []
    for path in PKG.rglob("*.py"):
        rel = path.relative_to(PKG)
        own = rel.parts[0].removesuffix(".py")
        if own in SHARED or own == "demo":
            continue
        rank = LAYERS.index(own)
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            mods = []
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                mods.append(node.module)
            elif isinstance(node, ast.Import):
                mods.extend(a.name for a in node.names)
            for m in mods:
                layer = _layer_of(m)
                if layer is None or layer in SHARED or layer == own:
                    continue
                if layer not in LAYERS:
                    continue
                if LAYERS.index(layer) > rank or own == "io" or own == "simulate":
                    bad.append(f"{rel}: imports {m}")
    assert not bad, "layering violations:\n" + "\n".join(bad)
