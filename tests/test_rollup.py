"""The daily rollup: kept by every writer in the transaction that publishes the rows, equal to the
rows' sums (property tests across --tz, --granularity, --top, --by, --since/--until), and read
by the page's trend when it answers exactly."""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import replace
from datetime import date
from pathlib import Path

import pyarrow as pa
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import ROOT, SAMPLE, ingest, record, write_jsonl
from pipeline.cli.main import main
from pipeline.lake import layout, rollup
from pipeline.lake.views import connect
from pipeline.query.report import ROLLUP_SOURCE, ROWS_SOURCE, ReportOptions, gather_page, open_lake, query_report
from pipeline.schema import dimensions

# Every additive column of the report (its shares and rates are ratios of them).
SUMS = (
    "requests", "total_cost", "usage", "upstream_inference_cost", "cache_discount", "tokens_prompt",
    "tokens_completion", "native_tokens_prompt", "native_tokens_completion", "native_tokens_reasoning",
    "native_tokens_cached", "billed_tokens", "spend_share", "cost_per_request", "cost_per_million_billed_tokens",
    "cache_hit_rate", "cancelled_share", "streamed_share", "byok_share", "finish_reason_stop_share",
    "finish_reason_length_share", "finish_reason_tool_calls_share", "finish_reason_content_filter_share",
    "finish_reason_error_share", "finish_reason_other_share", "finish_reason_null_share", "error_rate",
    "requests_with_attempts", "fallback_rate", "attempts", "attempt_429_share", "attempt_5xx_share",
    "attempt_other_failed_share", "response_cache_hits", "response_cache_hit_share", "first_created_at",
    "last_created_at",
)  # fmt: skip
KEYS = ("breakdown", "period", "is_other")


def rollup_table(lake: Path) -> pa.Table:
    con = connect(lake)
    try:
        return con.sql("select * from daily_rollup order by all").to_arrow_table()
    finally:
        con.close()


def assert_tables_close(got: pa.Table, expected: pa.Table) -> None:
    assert got.schema.names == expected.schema.names
    assert got.num_rows == expected.num_rows
    for name in got.schema.names:
        a, b = got.column(name).to_pylist(), expected.column(name).to_pylist()
        if pa.types.is_floating(got.schema.field(name).type):
            assert [x is None for x in a] == [x is None for x in b], name
            assert [x for x in a if x is not None] == pytest.approx([x for x in b if x is not None], rel=1e-9), name
        else:
            assert a == b, name


def assert_rebuilt_equal(lake: Path) -> None:
    """The lake's rollup equals one built from scratch from every row of the current version."""
    version = layout.current_version(lake)
    days = sorted(layout.partition_dirs(version))
    fresh = rollup.compute(version, days).sort_by([(n, "ascending") for n in ("day", *dimensions.rollup_names())])
    kept = rollup_table(lake).sort_by([(n, "ascending") for n in ("day", *dimensions.rollup_names())])
    assert_tables_close(kept, fresh)


def test_the_grain_is_one_row_per_day_and_rollup_dimension(report_sample_lake):
    con = connect(report_sample_lake)
    try:
        dims = ", ".join(dimensions.rollup_names())
        rows, distinct, requests, records = con.execute(
            f"select count(*), count(distinct (day, {dims})), sum(requests), "  # names from the registry
            "(select count(*) from generations) from daily_rollup"
        ).fetchone()
    finally:
        con.close()
    assert rows == distinct
    assert requests == records > rows
    # sql/rollup_daily.sql groups by the dimensions the registry marks rollup=True.
    sql = (ROOT / "sql" / "rollup_daily.sql").read_text()
    assert f"group by date, {dims}\n" in sql


def test_every_writer_keeps_the_rollup_in_its_transaction(tmp_path):
    lake = tmp_path / "lake"
    first = [SAMPLE / "legacy-2025.jsonl", SAMPLE / "generations-2026-09.jsonl"]
    rest = [p for p in SAMPLE.iterdir() if p.suffix in (".jsonl", ".ndjson", ".gz") and p not in first]
    ingest(first, lake)
    assert_rebuilt_equal(lake)
    before = {m: p.stat().st_ino for m, p in layout.rollup_files(lake).items()}
    ingest(rest, lake)
    assert_rebuilt_equal(lake)
    after = {m: p.stat().st_ino for m, p in layout.rollup_files(lake).items()}
    # Only the months the second ingest touched were written again.
    kept = [m for m in before if before[m] == after[m]]
    assert kept and len(kept) < len(before), "only the months the ingest touched are written again"
    # A late record on an old day: that day's month is rolled up again.
    late = write_jsonl(tmp_path / "late.jsonl", [record(424242, created_at="2025-03-03T03:03:03Z", total_cost=2.5)])
    ingest([late], lake)
    assert_rebuilt_equal(lake)
    runner = CliRunner()
    for args in (["compact"], ["prune", "--older-than", "400d"], ["quarantine", "replay"]):
        out = runner.invoke(main, [*args, "--lake", str(lake)])
        assert out.exit_code in (0, 1), out.output
        assert_rebuilt_equal(lake)
    assert not [m for m in layout.rollup_files(lake) if m < "2025-11"], "pruned months leave the rollup"


def test_a_lake_without_a_rollup_gets_one_at_its_next_write(tmp_path):
    lake = tmp_path / "lake"
    ingest([write_jsonl(tmp_path / "a.jsonl", [record(i) for i in range(20)])], lake)
    version = layout.current_version(lake)
    shutil.rmtree(version / layout.ROLLUP)
    (lake / "orusage.duckdb").unlink(missing_ok=True)
    con = open_lake(lake)
    try:
        report = query_report(con, lake, ReportOptions(dims=("model",)), sums_only=True)
    finally:
        con.close()
    assert report.source == ROWS_SOURCE and report.total["requests"] == 20
    ingest([write_jsonl(tmp_path / "b.jsonl", [record(100 + i) for i in range(3)])], lake)
    assert_rebuilt_equal(lake)
    assert int(pa.compute.sum(rollup_table(lake)["requests"]).as_py()) == 23


DIMS = st.lists(st.sampled_from(dimensions.rollup_names()), min_size=1, max_size=3, unique=True).map(tuple)
DAYS = st.sampled_from([None, "2025-03-01", "2026-09-10", "2026-10-01"])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    dims=DIMS,
    granularity=st.sampled_from([None, "day", "week", "month"]),
    top=st.sampled_from([None, 1, 3]),
    tz=st.sampled_from(["UTC", "UTC", "Europe/Berlin", "Asia/Kolkata"]),
    since=DAYS,
    until=st.sampled_from([None, "2026-10-05"]),
    where=st.sampled_from([(), (("data_region", "europe"),), (("finish_reason", "stop"),)]),
)
def test_the_rollup_gives_the_rows_sums(report_sample_lake, dims, granularity, top, tz, since, until, where):
    options = ReportOptions(dims=dims, granularity=granularity, top=top, tz=tz, since=since, until=until, where=where)
    con = open_lake(report_sample_lake)
    try:
        rows = query_report(con, report_sample_lake, options)
        sums = query_report(con, report_sample_lake, options, sums_only=True)
    finally:
        con.close()
    exact = tz == "UTC" and all(name in dimensions.rollup_names() for name, _ in where)
    assert sums.source == (ROLLUP_SOURCE if exact else ROWS_SOURCE)
    assert rows.source == ROWS_SOURCE
    assert rows.columns == sums.columns
    assert [tuple(r[k] for k in (*KEYS, *dims)) for r in sums.rows] == [tuple(r[k] for k in (*KEYS, *dims)) for r in rows.rows]
    for got, expected in zip(sums.rows, rows.rows, strict=True):
        for column in SUMS:
            if isinstance(expected[column], float):
                assert got[column] == pytest.approx(expected[column], rel=1e-9, abs=1e-12), column
            else:
                assert got[column] == expected[column], column
        if exact:
            assert got["latency_p50_ms"] is None  # the rollup keeps no values
        else:
            p50 = expected["latency_p50_ms"]
            assert got["latency_p50_ms"] == (None if p50 is None else pytest.approx(p50, rel=1e-9))


def test_the_page_says_which_source_added_the_trend_up(report_sample_lake, tmp_path):
    utc = gather_page(report_sample_lake, ReportOptions(top=10))
    assert utc.timeline.source == ROLLUP_SOURCE
    berlin = gather_page(report_sample_lake, ReportOptions(top=10, tz="Europe/Berlin"))
    assert berlin.timeline.source == ROWS_SOURCE
    out = tmp_path / "page.html"
    result = CliRunner().invoke(main, ["report", "--lake", str(report_sample_lake), "--format", "html", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "added up from the daily rollup." in out.read_text()
    # The trend's numbers are the rows' numbers.
    rows_timeline = query_report(*_con(report_sample_lake), replace(utc.timeline.options))
    by_key = {(r["breakdown"], r["period"], r["model"]): r["total_cost"] for r in rows_timeline.rows}
    for r in utc.timeline.rows:
        assert r["total_cost"] == pytest.approx(by_key[(r["breakdown"], r["period"], r["model"])], rel=1e-9)


def _con(lake: Path):
    return open_lake(lake), lake


def test_monthly_spend_by_model_from_the_rollup_equals_the_rows(report_sample_lake):
    out = CliRunner().invoke(main, ["sql", "--lake", str(report_sample_lake), "rollup_monthly_spend", "--format", "json"])
    assert out.exit_code == 0, out.output
    got = {(r["month"], r["model"]): r["total_cost"] for r in json.loads(out.stdout)}
    con = connect(report_sample_lake)
    try:
        sums = con.execute("select date_trunc('month', day), model, sum(total_cost) from generations group by all")
        expected = {(str(m)[:7], model): cost for m, model, cost in sums.fetchall()}
    finally:
        con.close()
    assert set(got) == set(expected)
    for key, cost in expected.items():
        assert got[key] == pytest.approx(cost, rel=1e-9), key
    assert re.fullmatch(r"\d{4}-\d{2}", next(iter(got))[0])
    assert date.fromisoformat(next(iter(got))[0] + "-01")
