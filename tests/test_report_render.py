"""Gather, then render: the queries of a report run in pipeline/query/report.py, on one connection;
the renderers (pipeline/render/text.py, pipeline/render/html.py) take the gathered data and run
no query."""

from __future__ import annotations

import ast
import shutil

import duckdb
import pytest

from conftest import ROOT, ingest, record, write_jsonl
from pipeline.lake import views
from pipeline.query import report as report_module
from pipeline.query.report import ReportOptions, gather_page, run_report
from pipeline.render.html import to_html
from pipeline.render.output import render
from pipeline.render.text import to_csv, to_json, to_markdown

RENDERERS = ("pipeline/render/text.py", "pipeline/render/html.py")
# What a renderer must not reach: DuckDB, the views, the SQL files, or a gathering function.
QUERY_MODULES = {"duckdb", "pipeline.lake.views", "pipeline.schema.sqlfiles"}
QUERY_NAMES = {"connect", "open_lake", "query_report", "run_report", "gather_page", "run_file", "execute", "sql"}


def query_uses(source: str) -> list[str]:
    """`line: what` for each import of a query module and each call of a querying function."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [
                f"{node.lineno}: import {a.name}"
                for a in node.names
                if a.name.split(".")[0] == "duckdb" or a.name in QUERY_MODULES
            ]
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if module in QUERY_MODULES or module == "duckdb":
                found.append(f"{node.lineno}: from {module} import ...")
            found += [f"{node.lineno}: from {module} import {a.name}" for a in node.names if a.name in QUERY_NAMES]
            found += [
                f"{node.lineno}: from {module} import {a.name}" for a in node.names if f"{module}.{a.name}" in QUERY_MODULES
            ]
        elif isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else None
            if name in QUERY_NAMES:
                found.append(f"{node.lineno}: {name}(...)")
    return found


@pytest.mark.parametrize("path", RENDERERS)
def test_renderers_import_no_duckdb_and_open_no_connection(path):
    assert query_uses((ROOT / path).read_text(encoding="utf-8")) == []


def test_the_scan_sees_imports_and_calls():
    sample = (
        "import duckdb\n"
        "from pipeline.lake import views\n"
        "from pipeline.query.report import run_report\n"
        "con = views.connect(lake)\n"
        "con.execute('select 1')\n"
    )
    assert [line.split(":")[0] for line in query_uses(sample)] == ["1", "2", "3", "4", "5"]


@pytest.fixture
def gathered(tmp_path):
    lake = tmp_path / "lake"
    rows = [record(i, model=("a/x", "b/y")[i % 2], total_cost=0.5 + i) for i in range(12)]
    write_jsonl(tmp_path / "in" / "a.jsonl", rows)
    ingest([tmp_path / "in"], lake)
    return lake


def test_a_page_renders_from_gathered_data_with_no_lake(gathered, monkeypatch):
    page = gather_page(gathered, ReportOptions(top=10))
    report = run_report(gathered, ReportOptions())
    shutil.rmtree(gathered)

    def refuse(*args, **kwargs):
        raise AssertionError("a renderer opened a connection")

    monkeypatch.setattr(duckdb, "connect", refuse)
    monkeypatch.setattr(views, "connect", refuse)
    html = to_html(page)
    assert 'id="chart-spend-over-time"' in html and "a/x" in html and "b/y" in html
    assert "a/x" in to_markdown(report) and "a/x" in to_csv(report) and "a/x" in to_json(report)


def test_a_page_is_gathered_on_one_connection(gathered, monkeypatch):
    opened = []
    connect = views.connect

    def counting(lake):
        opened.append(lake)
        return connect(lake)

    monkeypatch.setattr(views, "connect", counting)
    page = gather_page(gathered, ReportOptions(since="2026-09-10", top=3))
    assert len(opened) == 1
    assert page.current is not None and page.previous is not None and page.by_dim.keys() == set(report_module.PAGE_DIMENSIONS)

    opened.clear()
    report = run_report(gathered, ReportOptions())
    render(report, "html", out=gathered.parent / "page.html")  # a Report's page: its other queries on one more connection
    assert len(opened) == 2
