"""The layers of the code: ``orchestration/lib`` is definition-free and never imports
``orchestration/defs`` (nor the CLI); ``defs`` builds on ``lib``."""

from __future__ import annotations

import ast
from pathlib import Path

LIB = Path(__file__).resolve().parents[1] / "orchestration" / "lib"
UPPER_LAYERS = ("orchestration.defs", "orchestration.definitions", "orchestration.cli")


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names = []
    for node in ast.walk(tree):  # function-level imports count too
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
    return names


def test_lib_never_imports_the_definitions_or_the_cli():
    offenders = [
        f"{path.relative_to(LIB.parent.parent)} imports {name}"
        for path in sorted(LIB.rglob("*.py"))
        for name in _imports(path)
        if name.startswith(UPPER_LAYERS)
    ]
    assert not offenders, "\n".join(offenders)
