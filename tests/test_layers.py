"""The package's shape, checked: the stages import downwards only (the import-linter contract in
pyproject.toml, run by `make lint`), no two modules import each other, even through others or
inside a function, and every module imports on its own."""

from __future__ import annotations

import subprocess
import sys

import grimp
import pytest

from conftest import ROOT


def _graph():
    return grimp.build_graph("pipeline", include_external_packages=False)


def _modules() -> list[str]:
    # `pipeline.__main__` runs the command line when imported (`python -m pipeline`, tested in test_cli).
    return sorted(m for m in _graph().modules if m not in ("pipeline", "pipeline.__main__"))


def test_the_layer_contract_holds():
    out = subprocess.run([str(ROOT / ".venv" / "bin" / "lint-imports")], cwd=ROOT, capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stdout[-3000:]


def test_no_import_cycles():
    graph = _graph()
    modules = [m for m in graph.modules if m != "pipeline"]
    # Package __init__ files are empty docstrings: an edge to a package is an edge to nothing.
    edges = {m: {d for d in graph.find_modules_directly_imported_by(m) if d in modules} for m in modules}
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges[node]):
            if state.get(nxt) == 1:
                cycles.append([*stack[stack.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt, stack)
        stack.pop()
        state[node] = 2

    for module in sorted(modules):
        if module not in state:
            visit(module, [])
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


def test_the_cycle_check_finds_a_cycle(tmp_path, monkeypatch):
    """The check above is not blind: a package of two modules that import each other fails it."""
    package = tmp_path / "loop"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("def f():\n    from loop import b\n")
    (package / "b.py").write_text("from loop import a\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    graph = grimp.build_graph("loop")
    assert "loop.b" in graph.find_modules_directly_imported_by("loop.a")
    assert "loop.a" in graph.find_modules_directly_imported_by("loop.b")


@pytest.mark.parametrize("module", _modules())
def test_every_module_imports_on_its_own(module):
    out = subprocess.run([sys.executable, "-c", f"import {module}"], cwd=ROOT, capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr[-2000:]


def test_the_shared_options_module_imports_nothing_of_the_package():
    """`pipeline/cli/options.py` is a leaf: every command imports it, so it stays light."""
    assert _graph().find_modules_directly_imported_by("pipeline.cli.options") == set()


def test_a_sql_query_starts_without_pyarrow(report_sample_lake):
    """`orusage sql` starts in well under a second: the field table and the views' digest are
    read without importing pyarrow (make bench prints the start-up time)."""
    code = (
        "import sys\n"
        "from pipeline.cli.main import main\n"
        "try:\n"
        f"    main(['sql', '--lake', {str(report_sample_lake)!r}, 'select count(*) from generations'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "print('pyarrow' in sys.modules, file=sys.stderr)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False)
    assert out.stderr.strip().splitlines()[-1] == "False", out.stderr[-2000:]
