"""`orusage report --format html`: the numbers of the page against the text report, the window
and previous-period arithmetic, provider errors against the report's attempt counts, filters,
escaping, empty pages, the SQL files' contracts and the docs. The browser checks are in
tests/test_html_report_browser.py."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest
from click.testing import CliRunner
from conftest import ROOT, ingest, record, write_jsonl

from pipeline import sqlfiles, views
from pipeline.cli import main
from pipeline.html_report import (
    HEADLINE,
    _period_end,
    auto_granularity,
    headline,
    money_format,
)
from pipeline.report import ReportOptions, _fmt, run_report

HTML_SQL = [n for n in sqlfiles.names() if n.startswith("html_")]
FILTERED = ("--where", "model=openai/gpt-5", "--since", "2026-10-08", "--until", "2026-10-15", "--tz", "Europe/Berlin", "--top", "3")


def run(*args):
    result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    return SimpleNamespace(returncode=result.exit_code, stdout=result.stdout, stderr=result.stderr)


def query(lake: Path, name: str, **params) -> list[dict]:
    con = views.connect(lake)
    try:
        relation = sqlfiles.run_file(con, name, params)
        return [dict(zip(relation.columns, row)) for row in relation.fetchall()]
    finally:
        con.close()


def cards(page: str) -> dict[str, tuple[str, str]]:
    """{label: (value, change)} of the headline cards."""
    found = re.findall(
        r'<div class="card" data-metric="([^"]+)">\s*<div class="label">.*?</div>\s*'
        r'<div class="value">(.*?)</div>\s*<div class="change [a-z]+">(.*?)</div>',
        page,
        flags=re.DOTALL,
    )
    return {label: (value, change) for label, value, change in found}


def money(value: float) -> str:
    return ("-$" if value < 0 else "$") + _fmt(abs(value), "money")


@pytest.fixture(scope="module")
def filtered_page(report_sample_lake, tmp_path_factory) -> str:
    out = tmp_path_factory.mktemp("html") / "filtered.html"
    result = run("report", "--lake", report_sample_lake, "--format", "html", "--out", out, *FILTERED)
    assert result.returncode == 0, result.stderr
    return out.read_text(encoding="utf-8")


# --- the numbers -----------------------------------------------------------------------------


def test_headline_matches_the_text_report_for_the_window_and_the_previous_one(filtered_page, report_sample_lake):
    options = ReportOptions(
        dims=("model",), since="2026-10-08", until="2026-10-15", tz="Europe/Berlin", where=(("model", "openai/gpt-5"),)
    )
    now = run_report(report_sample_lake, options).total
    before = run_report(report_sample_lake, replace(options, since="2026-10-01", until="2026-10-08")).total
    assert now["requests"] and before["requests"]
    shown = cards(filtered_page)
    assert list(shown) == [label for label, *_ in HEADLINE]
    assert shown["Spend"][0] == money(now["total_cost"])
    assert shown["Requests"][0] == f"{now['requests']:,}"
    assert shown["Cache savings"][0] == money(now["cache_discount"])
    change = (now["total_cost"] - before["total_cost"]) / before["total_cost"] * 100
    assert shown["Spend"][1].endswith(f"{change:+.1f}% vs {money(before['total_cost'])}")
    points = (now["error_rate"] - before["error_rate"]) * 100
    assert f"{points:+.1f} pp vs {before['error_rate'] * 100:.1f}%" in shown["Error rate"][1]
    assert "period: 2026-10-08 → 2026-10-15 (Europe/Berlin, 7 days)" in filtered_page
    assert "2026-10-01 → 2026-10-08 (Europe/Berlin)" in filtered_page


def test_filters_reach_every_chart_and_table(filtered_page):
    # --where model=openai/gpt-5: no other model anywhere on the page, in a chart or a table
    assert filtered_page.count("openai/gpt-5") > 5
    for other in ("anthropic/claude", "google/gemini", "openai/gpt-5-mini", "openai/gpt-4o"):
        assert other not in filtered_page, other
    figures = re.findall(r'<figure class="chart[^"]*" id="chart-([a-z-]+)"', filtered_page)
    assert len(figures) == 8
    # --top 3 folds providers beyond the third into (other)
    provider_chart = filtered_page.split('id="chart-spend-by-provider"')[1].split("</figure>")[0]
    assert "(other)" in provider_chart


def test_provider_errors_add_up_to_the_reports_attempts(report_sample_lake):
    for where, top in (((), None), ((("data_region", "europe"), ("is_byok", "false")), 3)):
        filters = {}
        for name, value in where:
            filters.setdefault(name, []).append(value)
        rows = query(report_sample_lake, "html_provider_errors", tz="UTC", since="2026-09-15", until=None, filters=filters, top=top)
        total = run_report(report_sample_lake, ReportOptions(dims=("model",), since="2026-09-15", where=where)).total
        assert sum(r["attempts"] for r in rows) == total["attempts"]
        for column in ("attempt_429_share", "attempt_5xx_share", "attempt_other_failed_share"):
            failed = sum(r[column] * r["attempts"] for r in rows)
            assert failed == pytest.approx(total[column] * total["attempts"]), column
        if top:
            assert len(rows) == top + 1 and rows[-1]["provider_name"] == "(other)" and rows[-1]["is_other"]
        else:
            assert not any(r["is_other"] for r in rows)
        # attempts go to the provider tried, not only to the one that served
        assert any(r["failed_attempts"] for r in rows)


@pytest.mark.parametrize(
    ("since", "until", "first", "last", "expected"),
    [
        # both bounds given: the previous window is the same length just before
        ("2026-10-08", "2026-10-15", None, None, ("2026-10-08 00:00:00", "2026-10-15 00:00:00", "2026-10-01 00:00:00", 7)),
        # across the end of summer time in Berlin (2026-10-25): still seven calendar days
        ("2026-10-26", "2026-11-02", None, None, ("2026-10-26 00:00:00", "2026-11-02 00:00:00", "2026-10-19 00:00:00", 7)),
        # no bounds: local days of the first and the last generation (22:30 UTC is the next day in Berlin)
        (None, None, datetime(2026, 10, 24, 22, 30, tzinfo=UTC), datetime(2026, 10, 27, 12, tzinfo=UTC),
         ("2026-10-25 00:00:00", "2026-10-28 00:00:00", "2026-10-22 00:00:00", 3)),
        # --since only: up to the day after the last generation
        ("2026-10-20 12:00", None, None, datetime(2026, 10, 21, 8, tzinfo=UTC),
         ("2026-10-20 12:00:00", "2026-10-22 00:00:00", "2026-10-19 00:00:00", 1.5)),
    ],
)
def test_window_and_previous_window(report_sample_lake, since, until, first, last, expected):
    (row,) = query(report_sample_lake, "html_window", tz="Europe/Berlin", since=since, until=until,
                   first_created_at=first, last_created_at=last)
    assert (row["since"], row["until"], row["previous_since"], row["days"]) == expected
    assert row["previous_until"] == row["since"]


def test_last_run_is_the_run_that_wrote_rows(report_sample_lake):
    (run_row,) = query(report_sample_lake, "html_last_run")
    run_ids = [p.stem for p in (report_sample_lake / "_runs").glob("*.json")]
    assert run_ids == [run_row["run_id"]]
    assert run_row["rows_written"] == 3929 and run_row["files"] == 5 and run_row["runs"] == 1


def test_headline_changes():
    now = {"total_cost": 11.0, "requests": 90, "billed_tokens": 1000, "cache_discount": 1.5, "error_rate": 0.02, "fallback_rate": None}
    before = {"total_cost": 10.0, "requests": 100, "billed_tokens": 0, "cache_discount": 2.0, "error_rate": 0.01, "fallback_rate": 0.1}
    out = {h.label: h for h in headline(now, before)}
    assert (out["Spend"].value, out["Spend"].change, out["Spend"].tone, out["Spend"].arrow) == ("$11.00", "+10.0% vs $10.00", "neutral", "▲")
    assert out["Requests"].change == "-10.0% vs 100" and out["Requests"].arrow == "▼"
    assert out["Billed tokens"].change == "vs 0"  # no relative change from zero
    assert out["Cache savings"].tone == "bad" and out["Cache savings"].change == "-25.0% vs $2.00"
    assert out["Error rate"].change == "+1.0 pp vs 1.0%" and out["Error rate"].tone == "bad"
    assert out["Fallback rate"].value == "–" and out["Fallback rate"].tone == "none"
    assert all(h.change == "no data in the previous period" for h in headline(now, None))


def test_time_helpers():
    from datetime import date

    assert _period_end(date(2026, 12, 1), "month") == date(2027, 1, 1)
    assert _period_end(date(2026, 2, 1), "month") == date(2026, 3, 1)
    assert _period_end(date(2026, 10, 26), "week") == date(2026, 11, 2)
    assert [auto_granularity(ReportOptions(), d) for d in (7, 62, 63, 366, 642)] == ["day", "day", "week", "week", "month"]
    assert auto_granularity(ReportOptions(granularity="day"), 642) == "day"
    assert money_format([0.004, None]) == "$,.5f" and money_format([-36.5]) == "$,.0f"


def test_svg_ids_are_scoped_per_chart_in_tags_only():
    from pipeline.html_report import _scope_ids

    assert _scope_ids('<clipPath id="clip1">', "c1") == '<clipPath id="c1-clip1">'
    assert _scope_ids('<path clip-path="url(#clip1)" href="#g"/>', "c2") == '<path clip-path="url(#c2-clip1)" href="#c2-g"/>'
    assert _scope_ids('<g aria-roledescription="x">', "c3") == '<g aria-roledescription="x">'


# --- escaping, empty pages, errors -----------------------------------------------------------


def test_labels_from_the_data_cannot_inject_markup(tmp_path):
    evil = 'evil/<img src=x onerror="alert(1)">&'
    write_jsonl(tmp_path / "in.jsonl", [record(i, model=evil if i % 2 else "ok/model", app_id=i % 3) for i in range(12)])
    ingest([tmp_path / "in.jsonl"], tmp_path / "lake")
    out = tmp_path / "page.html"
    result = run("report", "--lake", tmp_path / "lake", "--format", "html", "--out", out)
    assert result.returncode == 0, result.stderr
    page = out.read_text(encoding="utf-8")
    assert "<img" not in page  # the label is text wherever it appears, never a tag
    assert "evil/&lt;img src=x onerror=" in page  # in the tables (and as SVG text)
    assert page.count("<script>") == 1  # the page's own sorting script only


def test_empty_lake_gives_a_page_that_says_so(tmp_path):
    (tmp_path / "lake").mkdir()
    out = tmp_path / "page.html"
    result = run("report", "--lake", tmp_path / "lake", "--format", "html", "--out", out)
    assert result.returncode == 0
    assert "holds no generations yet" in result.stderr
    page = out.read_text(encoding="utf-8")
    assert 'id="empty-message"' in page and "holds no generations yet" in page
    assert "<figure" not in page and "<svg" not in page


def test_empty_filter_gives_a_page_that_says_so(report_sample_lake, tmp_path):
    out = tmp_path / "page.html"
    result = run("report", "--lake", report_sample_lake, "--where", "model=nope/none", "--format", "html", "--out", out)
    assert result.returncode == 0
    page = out.read_text(encoding="utf-8")
    assert "No generation in" in page and "model = nope/none" in page and "<figure" not in page
    assert "last fed by run" in page  # the header still tells which lake and run


def test_html_to_stdout_and_errors(tmp_path):
    (tmp_path / "lake").mkdir()
    result = run("report", "--lake", tmp_path / "lake", "--format", "html")
    assert result.returncode == 0 and result.stdout.startswith("<!DOCTYPE html>")
    result = run("report", "--lake", tmp_path / "missing", "--format", "html", "--out", tmp_path / "x.html")
    assert result.returncode == 1
    assert result.stderr.startswith("Error: no lake at ")
    assert not (tmp_path / "x.html").exists()
    result = run("report", "--lake", tmp_path / "lake", "--format", "html", "--tz", "Mars/Olympus")
    assert result.returncode == 2 and "--tz 'Mars/Olympus' is not a known time zone" in result.stderr


# --- contracts -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", HTML_SQL)
def test_html_sql_files_open_with_their_contract(name):
    text = sqlfiles.load(name)
    head = sqlfiles.header(text)
    assert head.splitlines()[0].startswith(f"{name}:"), name
    for part in ("Purpose", "Grain", "Inputs", "Output", "Params"):
        assert part in head, f"{name}: header lacks {part}"
    declared = set(sqlfiles.parameters(head.split("Params", 1)[1]))
    assert set(sqlfiles.parameters(text)) == declared, name


def test_docs_and_help_describe_the_page(filtered_page):
    docs = (ROOT / "docs" / "html-report.md").read_text(encoding="utf-8")
    for key in re.findall(r'id="chart-([a-z-]+)"', filtered_page):
        assert f"`{key}`" in docs, key
    for name in HTML_SQL:
        assert f"{name}.sql" in docs, name
    help_text = run("report", "--help").stdout
    assert "html" in help_text and "--format html" in help_text
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert "--format html --out reports/latest.html" in makefile
