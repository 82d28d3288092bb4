"""`orusage report --format html`: the numbers of the page against the text report, the window
and previous-period arithmetic, provider errors against the report's attempt counts, filters,
escaping, empty pages, the SQL files' contracts and the docs. The browser checks are in
tests/test_html_report_browser.py."""

from __future__ import annotations

import itertools
import re
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from click.testing import CliRunner

from conftest import ROOT, ingest, record, write_jsonl
from pipeline.cli.main import main
from pipeline.lake import views
from pipeline.query.report import ReportOptions, run_report
from pipeline.render.html import (
    HEADLINE,
    HEADLINE_DAYS,
    LABEL_HEIGHT,
    WIDE,
    _period_end,
    _time_axis,
    auto_granularity,
    headline,
    money_format,
    periods,
    span,
)
from pipeline.render.text import format_metric
from pipeline.schema import sqlfiles

HTML_SQL = [n for n in sqlfiles.names() if n.startswith("html_")]
FILTERED = (
    "--where",
    "model=openai/gpt-5",
    "--since",
    "2026-10-08",
    "--until",
    "2026-10-15",
    "--tz",
    "Europe/Berlin",
    "--top",
    "3",
)


def run(*args):
    result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    return SimpleNamespace(returncode=result.exit_code, stdout=result.stdout, stderr=result.stderr)


def query(lake: Path, name: str, **params) -> list[dict]:
    con = views.connect(lake)
    try:
        relation = sqlfiles.run_file(con, name, params)
        return [dict(zip(relation.columns, row, strict=True)) for row in relation.fetchall()]
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
    return ("-$" if value < 0 else "$") + format_metric(abs(value), "money")


def page_of(lake: Path, tmp: Path, *args) -> str:
    out = tmp / "page.html"
    result = run("report", "--lake", lake, "--format", "html", "--out", out, *args)
    assert result.returncode == 0, result.stderr
    return out.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def filtered_page(report_sample_lake, tmp_path_factory) -> str:
    return page_of(report_sample_lake, tmp_path_factory.mktemp("html"), *FILTERED)


@pytest.fixture(scope="module")
def default_page(report_sample_lake, tmp_path_factory) -> str:
    """The page of `make report`: no option but the lake."""
    return page_of(report_sample_lake, tmp_path_factory.mktemp("html"))


@pytest.fixture(scope="module")
def sample_total(report_sample_lake) -> dict:
    return run_report(report_sample_lake, ReportOptions(dims=("model",))).total


def figure(page: str, key: str) -> str:
    return page.split(f'id="chart-{key}"', 1)[1].split("</figure>", 1)[0]


def svg_texts(svg: str) -> list[str]:
    """The texts an SVG shows (Vega keeps a label it hides for overlap, with opacity 0)."""
    found = re.findall(r"<text([^>]*)>(.*?)</text>", svg, flags=re.DOTALL)
    return [re.sub(r"<[^>]+>", "", text) for attrs, text in found if 'opacity="0"' not in attrs]


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
    # --until is exclusive: the page names the last day it includes
    assert "<title>orusage report: 2026-10-08 .. 2026-10-14</title>" in filtered_page
    assert "period: 2026-10-08 .. 2026-10-14 (Europe/Berlin, 7 days)" in filtered_page
    assert "previous period of the same length, 2026-10-01 .. 2026-10-07 (Europe/Berlin, same filters)" in filtered_page


def test_title_names_the_last_day_included(default_page, sample_total, report_sample_lake, tmp_path):
    first = sample_total["first_created_at"].astimezone(UTC).date()
    last = sample_total["last_created_at"].astimezone(UTC).date()
    assert f"<title>orusage report: {first} .. {last}</title>" in default_page
    assert f"<h1>OpenRouter usage: {first} .. {last}</h1>" in default_page
    assert f"period: {first} .. {last} (UTC, {(last - first).days + 1} days)" in default_page
    until = last - timedelta(days=6)
    page = page_of(report_sample_lake, tmp_path, "--until", until)
    assert f"<title>orusage report: {first} .. {until - timedelta(days=1)}</title>" in page


def test_span_includes_the_last_day():
    assert span("2026-10-08 00:00:00", "2026-10-15 00:00:00") == "2026-10-08 .. 2026-10-14"
    assert span("2026-10-31 00:00:00", "2026-11-01 00:00:00") == "2026-10-31"
    assert span("2026-10-20 12:00:00", "2026-10-22 00:00:00") == "2026-10-20 12:00 .. 2026-10-21"
    assert span("2026-10-08 00:00:00", "2026-10-10 12:00:00") == "2026-10-08 .. 2026-10-10 12:00 (exclusive)"


def test_cards_compare_the_last_30_days_with_the_30_before_without_since(default_page, sample_total, report_sample_lake):
    end = sample_total["last_created_at"].astimezone(UTC).date() + timedelta(days=1)
    start, before_start = end - timedelta(days=HEADLINE_DAYS), end - timedelta(days=2 * HEADLINE_DAYS)
    options = ReportOptions(dims=("model",), since=str(start), until=str(end))
    now = run_report(report_sample_lake, options).total
    before = run_report(report_sample_lake, replace(options, since=str(before_start), until=str(start))).total
    assert before["requests"] and now["requests"] < sample_total["requests"]
    shown = cards(default_page)
    assert len(shown) == len(HEADLINE)
    assert not [label for label, (_v, change) in shown.items() if "no data in the previous period" in change]
    assert shown["Requests"][0] == f"{now['requests']:,}"
    assert shown["Spend"][0] == money(now["total_cost"])
    change = (now["total_cost"] - before["total_cost"]) / before["total_cost"] * 100
    assert shown["Spend"][1].endswith(f"{change:+.1f}% vs {money(before['total_cost'])}")
    points = (now["fallback_rate"] - before["fallback_rate"]) * 100
    assert f"{points:+.1f} pp vs {before['fallback_rate'] * 100:.1f}%" in shown["Fallback rate"][1]
    last, before_last = end - timedelta(days=1), start - timedelta(days=1)
    assert (
        f"The last {HEADLINE_DAYS} days of data, {start} .. {last}, against the {HEADLINE_DAYS} days before, "
        f"{before_start} .. {before_last} (UTC, same filters)"
    ) in default_page


def test_time_axes_label_every_period(default_page, sample_total):
    first = sample_total["first_created_at"].astimezone(UTC).date().replace(day=1)
    last = sample_total["last_created_at"].astimezone(UTC).date()
    months = []
    while first <= last:
        months.append(first.strftime("%b %Y"))
        first = _period_end(first, "month")
    assert "Spend per month" in default_page and len(months) > 12
    for key in ("spend-over-time", "cache"):
        texts = svg_texts(figure(default_page, key))
        missing = [m for m in months if m not in texts]
        assert not missing, f"{key}: no label for {missing}"


@pytest.mark.parametrize(
    ("granularity", "since", "until"),
    [
        ("month", "2025-01-13", "2026-10-17"),
        ("week", "2025-10-20", "2026-10-17"),
        ("day", "2026-08-18", "2026-10-17"),
        ("day", "2025-01-13", "2026-10-17 12:00:00"),
    ],
)
def test_time_axis_spec_labels_the_last_period(granularity, since, until):
    import altair as alt

    starts = periods(since, until, granularity)
    assert starts[0] <= date.fromisoformat(since) < _period_end(starts[0], granularity)
    last_day = date.fromisoformat(until[:10]) - timedelta(days=0 if until[10:] else 1)
    assert starts[-1] <= last_day < _period_end(starts[-1], granularity)
    axis = _time_axis(alt, granularity, starts).to_dict()
    domain, values = axis["scale"]["domain"], axis["axis"]["values"]
    assert domain == [p.isoformat() for p in starts] and values[-1] == domain[-1]
    assert axis["axis"]["labelOverlap"] is False and "toDate(datum.value)" in axis["axis"]["labelExpr"]
    if WIDE / len(domain) >= LABEL_HEIGHT:
        assert values == domain
    else:  # too many periods for a label each: every k-th, still at least LABEL_HEIGHT px apart
        k = domain.index(values[1]) - domain.index(values[0])
        assert all(domain.index(b) - domain.index(a) == k for a, b in itertools.pairwise(values))
        assert WIDE / len(domain) * k >= LABEL_HEIGHT and k > 1


def test_latency_axis_spans_the_data(default_page, report_sample_lake):
    pairs = [
        r
        for r in run_report(report_sample_lake, ReportOptions(dims=("model", "provider_name"), top=10)).rows
        if r["breakdown"] == "model+provider_name"
    ]
    low = min(r["latency_p50_ms"] for r in pairs if r["latency_p50_ms"])
    high = max(r["latency_p99_ms"] for r in pairs if r["latency_p99_ms"] is not None)
    label = re.search(
        r"aria-label=\"X-axis titled 'latency[^\"]*for a log scale with values from ([\d,.]+) to ([\d,.]+)\"",
        figure(default_page, "percentiles"),
    )
    assert label, "the latency axis is not a log axis with a described domain"
    start, end = (float(v.replace(",", "")) for v in label.groups())
    assert low / 1.5 <= start <= low and high <= end <= high * 1.5, (start, end, low, high)


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
        rows = query(
            report_sample_lake, "html_provider_errors", tz="UTC", since="2026-09-15", until=None, filters=filters, top=top
        )
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


BERLIN = "Europe/Berlin"


@pytest.mark.parametrize(
    ("since", "until", "first", "last", "expected"),
    [
        # both bounds given: the headline period is the window, the previous one the same length just before
        ("2026-10-08", "2026-10-15", None, None, ("2026-10-08", "2026-10-15", 7, "2026-10-08", "2026-10-15", "2026-10-01")),
        # across the end of summer time in Berlin (2026-10-25): still seven calendar days
        ("2026-10-26", "2026-11-02", None, None, ("2026-10-26", "2026-11-02", 7, "2026-10-26", "2026-11-02", "2026-10-19")),
        # no bounds: local days of the first and the last generation (22:30 UTC is the next day in
        # Berlin); the headline period: the 30 days up to the last one, against the 30 before
        (
            None,
            None,
            datetime(2026, 10, 24, 22, 30, tzinfo=UTC),
            datetime(2026, 10, 27, 12, tzinfo=UTC),
            ("2026-10-25", "2026-10-28", 3, "2026-09-28", "2026-10-28", "2026-08-29"),
        ),
        # 30 calendar days across the change of 2026-10-25 too
        (
            None,
            None,
            datetime(2026, 1, 5, 12, tzinfo=UTC),
            datetime(2026, 11, 5, 12, tzinfo=UTC),
            ("2026-01-05", "2026-11-06", 305, "2026-10-07", "2026-11-06", "2026-09-07"),
        ),
        # --since only: up to the day after the last generation, compared with the same length before
        (
            "2026-10-20 12:00",
            None,
            None,
            datetime(2026, 10, 21, 8, tzinfo=UTC),
            ("2026-10-20 12:00:00", "2026-10-22", 1.5, "2026-10-20 12:00:00", "2026-10-22", "2026-10-19"),
        ),
        # --until only: the last 30 days of data, which end at --until at the latest
        (
            None,
            "2026-10-10",
            datetime(2026, 9, 1, tzinfo=UTC),
            datetime(2026, 10, 9, 15, tzinfo=UTC),
            ("2026-09-01", "2026-10-10", 39, "2026-09-10", "2026-10-10", "2026-08-11"),
        ),
        (
            None,
            "2026-10-10 12:00",
            datetime(2026, 9, 1, tzinfo=UTC),
            datetime(2026, 10, 10, 9, tzinfo=UTC),
            ("2026-09-01", "2026-10-10 12:00:00", 39.5, "2026-09-10 12:00:00", "2026-10-10 12:00:00", "2026-08-11 12:00:00"),
        ),
        # the last generation days before --until: the headline period ends with it
        (
            None,
            "2026-12-01",
            datetime(2026, 9, 1, tzinfo=UTC),
            datetime(2026, 10, 9, 15, tzinfo=UTC),
            ("2026-09-01", "2026-12-01", 91, "2026-09-10", "2026-10-10", "2026-08-11"),
        ),
    ],
)
def test_window_and_previous_window(report_sample_lake, since, until, first, last, expected):
    (row,) = query(
        report_sample_lake,
        "html_window",
        tz=BERLIN,
        since=since,
        until=until,
        first_created_at=first,
        last_created_at=last,
        headline_days=HEADLINE_DAYS,
        headline_in_window=False,
    )

    def full(text):  # a date as the query writes it
        return text if len(text) > 10 else f"{text} 00:00:00"

    got = (row["since"], row["until"], row["days"], row["headline_since"], row["headline_until"], row["previous_since"])
    assert got == tuple(full(v) if isinstance(v, str) else v for v in expected)
    assert row["previous_until"] == row["headline_since"]


@pytest.mark.parametrize(
    ("since", "expected"),
    [
        # The scheduled page: 90 days; cards: the last 30 days of data against the 30 before.
        ("2026-07-19", ("2026-09-16 00:00:00", "2026-10-16 00:00:00", "2026-08-17 00:00:00")),
        # A window shorter than 30 days: the cards cover the window, never more.
        ("2026-10-05", ("2026-10-05 00:00:00", "2026-10-16 00:00:00", "2026-09-24 00:00:00")),
    ],
)
def test_headline_in_window(report_sample_lake, since, expected):
    (row,) = query(
        report_sample_lake,
        "html_window",
        tz=BERLIN,
        since=since,
        until=None,
        first_created_at=datetime(2026, 9, 1, tzinfo=UTC),
        last_created_at=datetime(2026, 10, 15, 12, tzinfo=UTC),
        headline_days=HEADLINE_DAYS,
        headline_in_window=True,
    )
    assert (row["headline_since"], row["headline_until"], row["previous_since"]) == expected
    assert row["since"] == f"{since} 00:00:00"


def test_last_run_is_the_run_that_wrote_rows(report_sample_lake):
    (run_row,) = query(report_sample_lake, "html_last_run")
    run_ids = [p.stem for p in (report_sample_lake / "_runs").glob("*.json")]
    assert run_ids == [run_row["run_id"]]
    assert run_row["rows_written"] == 3929 and run_row["files"] == 5 and run_row["runs"] == 1


def test_headline_changes():
    now = {
        "total_cost": 11.0,
        "requests": 90,
        "billed_tokens": 1000,
        "cache_discount": 1.5,
        "error_rate": 0.02,
        "fallback_rate": None,
    }
    before = {
        "total_cost": 10.0,
        "requests": 100,
        "billed_tokens": 0,
        "cache_discount": 2.0,
        "error_rate": 0.01,
        "fallback_rate": 0.1,
    }
    out = {h.label: h for h in headline(now, before)}
    assert (out["Spend"].value, out["Spend"].change, out["Spend"].tone, out["Spend"].arrow) == (
        "$11.00",
        "+10.0% vs $10.00",
        "neutral",
        "▲",
    )
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
    from pipeline.render.html import _scope_ids

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
