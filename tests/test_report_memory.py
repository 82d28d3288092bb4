"""The report's memory: it runs under a DuckDB memory_limit far below what the values of its
percentiles would take held all at once.

The lake holds 500,000 generated records (tools/bench_lake.py). Under a memory_limit of 64MB,
the way the report took its percentiles before (the latency, generation-time and throughput
values of each finest group kept as lists, a breakdown's percentiles taken over the
concatenated lists, all in one statement) runs out of memory: that control shows the limit is
tight enough to catch such a query. The report, which takes its percentiles one breakdown and
one measure per statement (sql/report_percentiles.sql), succeeds under the same limit, with the
same numbers as without it.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from conftest import cli
from pipeline.query import report
from pipeline.query.report import ReportOptions, gather_page, open_lake, run_report

LIMIT = "64MB"

# The percentiles as sql/report.sql computed them before: value lists per finest group.
LIST_PERCENTILES = """
with fine as (
    select
        d1, d2, d3, d4,
        list(latency) as latency_values,
        list(generation_time) as generation_time_values,
        list(throughput) as throughput_values
    from labelled_generations(['model', 'provider_name', 'data_region', 'app_id'], map {})
    group by d1, d2, d3, d4
)
select
    d1,
    list_aggregate(flatten(list(latency_values)), 'quantile_cont', [0.5, 0.9, 0.99]),
    list_aggregate(flatten(list(generation_time_values)), 'quantile_cont', [0.5, 0.9, 0.99]),
    list_aggregate(flatten(list(throughput_values)), 'quantile_cont', [0.5, 0.9, 0.99])
from fine
group by d1
"""


@pytest.fixture(scope="module")
def big_lake(tmp_path_factory) -> Path:
    from tools import bench_lake

    lake = tmp_path_factory.mktemp("memory") / "lake"
    assert bench_lake.generate(lake, 500_000, 60) == 500_000
    return lake


@pytest.fixture
def tight(monkeypatch):
    """Every report connection under LIMIT, on 2 threads (DuckDB's buffers grow with threads)."""
    real = report.limit_memory

    def limited(con, memory_limit=None):
        real(con, LIMIT)
        con.execute("SET threads = 2")

    monkeypatch.setattr(report, "limit_memory", limited)


def test_the_list_percentiles_run_out_of_memory_under_the_limit(big_lake, tight):
    con = open_lake(big_lake)
    try:
        assert con.execute("select current_setting('threads')").fetchone()[0] == 2
        with pytest.raises(duckdb.OutOfMemoryException):
            con.execute(LIST_PERCENTILES).fetchall()
    finally:
        con.close()


@pytest.mark.parametrize("batch", [report.PERCENTILE_BATCH_ROWS, 100_000], ids=["measures-together", "measure-by-measure"])
@pytest.mark.parametrize(
    "options",
    [ReportOptions(), ReportOptions(dims=("model", "app_id"), granularity="week", top=5)],
    ids=["default", "week-top5"],
)
def test_the_report_runs_under_the_limit_with_the_same_numbers(big_lake, options, batch, monkeypatch):
    """Without the limit, then under it; the percentiles of all three measures per statement (a
    selection of up to PERCENTILE_BATCH_ROWS generations), or one measure per statement."""
    free = run_report(big_lake, options)
    monkeypatch.setattr(report, "PERCENTILE_BATCH_ROWS", batch)
    assert len(report.measure_batches(500_000)) == (1 if batch > 500_000 else 3)
    real = report.limit_memory
    monkeypatch.setattr(report, "limit_memory", lambda con, memory_limit=None: (real(con, LIMIT), con.execute("SET threads = 2")))
    tight = run_report(big_lake, options)
    assert tight.total["requests"] == 500_000
    assert len(tight.rows) == len(free.rows) > 10
    percentiles = {name for names in report.PERCENTILE_COLUMNS.values() for name in names}
    for a, b in zip(tight.rows, free.rows, strict=True):
        assert a.keys() == b.keys()
        for name, value in a.items():
            if isinstance(value, float) and name not in percentiles:  # sums: in any order
                assert value == pytest.approx(b[name], rel=1e-9), name
            else:
                assert value == b[name], name  # the percentiles: exactly
    assert all(row["latency_p99_ms"] is not None for row in tight.rows)


def test_the_page_runs_under_the_limit(big_lake, tight):
    page = gather_page(big_lake, ReportOptions(top=10), headline_in_window=False)
    assert page.report.total["requests"] == 500_000
    assert page.timeline is not None and page.model_provider is not None
    assert page.report.total["latency_p50_ms"] is not None
    assert all(row["latency_p50_ms"] is not None for row in page.model_provider.rows_of("model+provider_name"))


def test_a_report_beyond_the_limit_is_one_error(big_lake, monkeypatch):
    monkeypatch.setenv("ORUSAGE_REPORT_MEMORY", "8MB")  # the limit a user sets, far too small here
    with pytest.raises(report.OrusageError) as info:
        run_report(big_lake, ReportOptions())
    assert str(info.value).startswith("the report needs more memory than DuckDB's limit of 7.6 MiB ")
    assert "--since" in info.value.fix and "ORUSAGE_REPORT_MEMORY=2GB" in info.value.fix


def test_the_limit_is_500MB_unless_the_variable_gives_another(report_sample_lake, monkeypatch):
    def limit() -> str:
        con = open_lake(report_sample_lake)
        try:
            return con.execute("select current_setting('memory_limit')").fetchone()[0]
        finally:
            con.close()

    monkeypatch.delenv("ORUSAGE_REPORT_MEMORY", raising=False)
    assert limit() == "476.8 MiB"
    monkeypatch.setenv("ORUSAGE_REPORT_MEMORY", " 2GB ")
    assert limit() == "1.8 GiB"


def test_a_variable_that_is_no_memory_size_is_one_error_line(report_sample_lake):
    result = cli("report", "--lake", report_sample_lake, env={"ORUSAGE_REPORT_MEMORY": "lots"})
    assert result.returncode == 1 and result.stdout == ""
    expected = (
        "Error: ORUSAGE_REPORT_MEMORY='lots' is not a memory size (Parser Error: Memory must have a number (e.g. 1GB)). "
        "Give it a size such as 2GB or 800MB, or unset it for the default of 500MB."
    )
    assert result.stderr.splitlines() == [expected]
