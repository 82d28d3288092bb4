"""The report's dimensions are declared once (pipeline/schema/dimensions.py): the view, the table macro,
--by and --where, the report's columns and the docs all follow the list."""

from __future__ import annotations

import json

from click.testing import CliRunner

from conftest import ROOT, ingest, record, write_jsonl
from pipeline.cli.main import main
from pipeline.lake import views
from pipeline.query.report import ReportOptions, run_report
from pipeline.render.text import to_csv
from pipeline.schema import dimensions, docs


def test_docs_list_every_dimension():
    committed = (ROOT / "docs" / "report.md").read_text(encoding="utf-8")
    assert committed == docs.update_blocks(committed), (
        "docs/report.md drifted from pipeline/schema/dimensions.py: run `make docs`"
    )
    assert "<!-- generated: dimensions -->" in committed
    for name in dimensions.names():
        assert f"`{name}`" in docs.dimensions_block()


def test_every_dimension_is_a_field_with_a_label_column(lake):
    write_jsonl(lake.parent / "in" / "a.jsonl", [record(0)])
    ingest([lake.parent / "in"], lake)
    con = views.connect(lake)
    try:
        columns = [row[0] for row in con.execute("describe generation_labels").fetchall()]
    finally:
        con.close()
    assert [c for c in columns if c.endswith("_label")] == [f"{name}_label" for name in dimensions.names()]


def test_a_dimension_added_to_the_list_gets_its_breakdown(lake, monkeypatch):
    """Adding a dimension is one entry in pipeline/schema/dimensions.py (then `make docs`): here a text
    field and an integer field, added at runtime."""
    rows = [
        record(0, user_agent="curl/8", num_fetches=2, total_cost=1.0),
        record(1, user_agent="curl/8", num_fetches=None, total_cost=2.0),
        record(2, user_agent="(null)", num_fetches=2, total_cost=4.0),
        record(3, user_agent=None, num_fetches=2, total_cost=8.0),
    ]
    write_jsonl(lake.parent / "in" / "a.jsonl", rows)
    ingest([lake.parent / "in"], lake)
    added = (dimensions.Dimension("user_agent"), dimensions.Dimension("num_fetches"))
    monkeypatch.setattr(dimensions, "DIMENSIONS", dimensions.DIMENSIONS + added)

    report = run_report(lake, ReportOptions(dims=("user_agent", "num_fetches")))
    spend = {row["user_agent"]: row["total_cost"] for row in report.rows if row["breakdown"] == "user_agent"}
    assert spend == {"curl/8": 3.0, '"(null)"': 4.0, "(null)": 8.0}
    fetches = {r["num_fetches"]: r["requests"] for r in report.records if r["breakdown"] == "num_fetches"}
    assert fetches == {2: 3, None: 1}
    assert to_csv(report).splitlines()[0].startswith("breakdown,period,user_agent,num_fetches,")

    result = CliRunner().invoke(
        main,
        ["report", "--lake", str(lake), "--by", "user_agent", "--where", "num_fetches=2", "--format", "json"],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.stderr
    by_agent = {r["user_agent"]: r["requests"] for r in json.loads(result.stdout) if r["breakdown"] == "user_agent"}
    assert by_agent == {"curl/8": 1, "(null)": 1, None: 1}


def test_a_field_outside_the_list_is_refused_by_name():
    result = CliRunner().invoke(main, ["report", "--by", "user_agent"])
    assert result.exit_code == 2
    assert "unknown dimension 'user_agent' in --by" in result.stderr
    assert dimensions.listing() in result.stderr
