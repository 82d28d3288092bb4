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
        "import pipeline.ingest.run\n"
        "import pipeline.lake.store as lake_module\n"
        "from pipeline import read\n"
        "from pipeline.ingest.run import _private, public\n"
        "pipeline.ingest.run._hidden()\n"
        "lake_module._fsync_tree\n"
        "read._read_into\n"
        "public._own_attribute\n"
        "from pipeline.ingest.replay import _Row\n"
    )
    assert private_uses(sample, "pipeline.ingest.replay") == [
        "4: from pipeline.ingest.run import _private",
        "5: pipeline.ingest.run._hidden",
        "6: lake_module._fsync_tree",
        "7: read._read_into",
    ]


# --- lake paths -------------------------------------------------------------------------------

# The modules that own the lake's layout; every other module asks them for a path.
LAKE_MODULES = {"pipeline/lake/store.py", "pipeline/lake/layout.py"}
LAKE_DIRECTORIES = ("generations", "quarantine", "_manifest", "_runs", "_versions", "_staging", "current")
PATH_CALLS = {"glob", "rglob", "joinpath", "Path", "join", "PurePath", "with_name"}


def _text_head(node: ast.expr) -> str | None:
    """The text of a string literal, or the literal start of an f-string; None for other nodes."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        first = node.values[0] if node.values else None
        return first.value if isinstance(first, ast.Constant) and isinstance(first.value, str) else ""
    return None


def _names_lake_directory(text: str, as_path: bool) -> bool:
    """`generations/...`, `_manifest/...` anywhere; a bare directory name or `date=...` when the
    text is used as a path."""
    head = text.split("/", 1)[0]
    if "/" in text and head in LAKE_DIRECTORIES:
        return True
    return as_path and (head in LAKE_DIRECTORIES or head.startswith("date="))


def lake_paths(source: str) -> list[str]:
    """`line: text` for each string literal that builds a path inside a lake: an operand of `/`
    or an argument of a path call (glob, joinpath, Path, os.path.join) naming a lake directory
    or a partition, and any text that starts with a lake directory and a `/`."""
    tree = ast.parse(source)
    as_path: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
            as_path.update(id(side) for side in (node.left, node.right))
        elif isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else None
            if name in PATH_CALLS:
                as_path.update(id(arg) for arg in node.args)
    found = []
    for node in ast.walk(tree):
        text = _text_head(node)
        if text is None:
            continue
        if _names_lake_directory(text, id(node) in as_path):
            found.append(f"{node.lineno}: {text}")
    return sorted(set(found), key=lambda line: int(line.split(":", 1)[0]))


def test_only_the_lake_modules_build_lake_paths():
    offences = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = str(path.relative_to(ROOT))
        if rel in LAKE_MODULES:
            continue
        found = lake_paths(path.read_text())
        if found:
            offences[rel] = found
    assert offences == {}, "lake paths are built outside pipeline/lake/store.py and pipeline/lake/layout.py; use their accessors"


def test_the_lake_path_check_sees_every_form():
    sample = (
        'version / "quarantine" / f"{run_id}.parquet"\n'
        'sorted((root / "_manifest").glob("*.parquet"))\n'
        'SOURCES = {"lake_generations": ("views/lake_generations", "generations/*/*.parquet")}\n'
        'directory / f"date={day}"\n'
        'Path(root, "current")\n'
        'command("quarantine", "replay")\n'
        'con.sql("select count(*) from generations")\n'
        'echo(f"date={day}: {n} files")\n'
        "lake_layout.quarantine_file(version, run_id)\n"
    )
    assert lake_paths(sample) == [
        "1: quarantine",
        "2: _manifest",
        "3: generations/*/*.parquet",
        "4: date=",
        "5: current",
    ]
