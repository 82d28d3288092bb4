"""Module boundaries: no module of `pipeline/` reaches into another module's private names."""

from __future__ import annotations

import ast
from pathlib import Path

from conftest import ROOT

PACKAGE = ROOT / "pipeline"


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _dotted(node: ast.expr) -> str | None:
    """`a.b.c` for a chain of attribute accesses on a name, else None."""
    names = []
    while isinstance(node, ast.Attribute):
        names.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    return ".".join([node.id, *reversed(names)])


def private_uses(source: str, own: str) -> list[str]:
    """`line: what` for each private name of another pipeline module that the module `own` uses:
    `from pipeline.x import _name` and `pipeline.x._name` (also through `import pipeline.x as y`)."""
    tree = ast.parse(source)
    aliases: dict[str, str] = {}  # local name -> pipeline module it stands for
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("pipeline.") and alias.asname:
                    aliases[alias.asname] = alias.name
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("pipeline"):
            for alias in node.names:
                target = f"{node.module}.{alias.name}"
                if node.module == "pipeline" and not alias.name.startswith("_"):
                    aliases[alias.asname or alias.name] = target
                elif alias.name.startswith("_") and node.module != own:
                    found.append(f"{node.lineno}: from {node.module} import {alias.name}")
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute) or not node.attr.startswith("_") or node.attr.startswith("__"):
            continue
        owner = _dotted(node.value)
        if owner is None:
            continue
        head, _, rest = owner.partition(".")
        module = aliases.get(head, head) + (f".{rest}" if rest else "")
        if module.startswith("pipeline.") and module != own:
            found.append(f"{node.lineno}: {owner}.{node.attr}")
    return sorted(found, key=lambda line: int(line.split(":", 1)[0]))


def test_no_module_uses_another_modules_private_names():
    offences = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        uses = private_uses(path.read_text(), _module_name(path))
        if uses:
            offences[str(path.relative_to(ROOT))] = uses
    assert offences == {}, "private names of another module are used; make them public or move the code"


def test_the_check_sees_both_forms():
    sample = (
        "import pipeline.ingest\n"
        "import pipeline.lake as lake_module\n"
        "from pipeline import read\n"
        "from pipeline.ingest import _private, public\n"
        "pipeline.ingest._hidden()\n"
        "lake_module._fsync_tree\n"
        "read._read_into\n"
        "public._own_attribute\n"
        "from pipeline.replay import _Row\n"
    )
    assert private_uses(sample, "pipeline.replay") == [
        "4: from pipeline.ingest import _private",
        "5: pipeline.ingest._hidden",
        "6: lake_module._fsync_tree",
        "7: read._read_into",
    ]
