"""`orusage compact --months-older-than`: whole old UTC months merged into one file per month
(generations/month=YYYY-MM/) that stores the `date` column. Every reader gives the same answers
before and after; a filter on `date` still skips the other months; a later ingest, a second
compaction, a prune and a replay work on such a lake; every row is still in exactly one place."""

from __future__ import annotations

import json
import os
import shutil
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from conftest import ingest, lake_rows, quarantine_rows, record, write_jsonl
from pipeline.cli.main import main
from pipeline.lake import layout
from pipeline.lake.views import connect
from pipeline.ops.maintain import compact, month_schema, prune
from test_pruning import assert_same, run, spoil_outside

# The sample holds 2025-01..2025-05 and 2026-09..2026-10-16: as of this day, every month but
# 2026-10 ended more than 10 days before.
TODAY = date(2026, 10, 20)


def merge(lake: Path, days: int = 10, today: date = TODAY) -> dict:
    return compact(lake, months_older_than=days, today=today)


def reports(lake: Path) -> list[str]:
    """The report in the shapes that read most of the lake's data: all of history by day and by
    month in another zone, a period inside a merged month, and the rollup's monthly spend."""
    out = []
    for args in (
        ("--format", "json"),
        ("--format", "csv", "--granularity", "month", "--tz", "America/New_York", "--by", "model"),
        ("--format", "csv", "--since", "2026-09-10", "--until", "2026-09-20", "--tz", "Europe/Berlin", "--granularity", "day"),
    ):
        result = run("report", "--lake", lake, *args)
        assert result.returncode == 0, result.stderr
        out.append(result.stdout)
    con = connect(lake)
    try:
        out.append(repr(con.execute("select * from daily_rollup order by all").fetchall()))
        out.append(
            repr(con.execute("select date, count(*), sum(total_cost) from generations group by date order by date").fetchall())
        )
    finally:
        con.close()
    return out


@pytest.fixture
def sample_copy(report_sample_lake, tmp_path) -> Path:
    lake = tmp_path / "lake"
    shutil.copytree(report_sample_lake, lake, symlinks=True)
    (lake / "orusage.duckdb").unlink(missing_ok=True)
    return lake


def test_merged_months_give_the_same_answers_and_keep_every_row_once(sample_copy):
    lake = sample_copy
    before_rows = lake_rows(lake)
    before = reports(lake)
    days_before = layout.partition_dirs(lake)
    result = merge(lake)
    merged = {m["month"]: m for m in result["months"]}
    assert sorted(merged) == ["2025-01", "2025-02", "2025-03", "2025-04", "2025-05", "2026-09"]
    assert sum(m["days"] for m in merged.values()) == sum(1 for d in days_before if d[:7] in merged)
    assert all(m["files_after"] == 1 and m["duplicates_dropped"] == 0 for m in merged.values())
    # The merged months' days are gone; October stays daily.
    assert {d[:7] for d in layout.partition_dirs(lake)} == {"2026-10"}
    assert sorted(layout.month_dirs(lake)) == sorted(merged)
    for month, directory in layout.month_dirs(lake).items():
        (path,) = directory.glob("*.parquet")
        assert pq.read_schema(path).remove_metadata().equals(month_schema())
        table = pq.read_table(path, partitioning=None)
        assert table.num_rows == merged[month]["rows_after"]
        # `date` is the UTC day of created_at, every row of the month's own days.
        con = duckdb.connect()
        con.execute("SET TimeZone = 'UTC'")
        wrong = con.execute(
            "select count(*) from read_parquet(?) where date <> cast(created_at as date) or strftime(date, '%Y-%m') <> ?",
            [str(path), month],
        ).fetchone()[0]
        con.close()
        assert wrong == 0
    after_rows = lake_rows(lake)
    assert after_rows.equals(before_rows)  # every column, lineage included, every row once
    for got, expected in zip(reports(lake), before, strict=True):
        assert_same(got, expected)
    summary = json.loads((lake / "_runs" / f"{result['run_id']}.json").read_text())
    assert summary["command"] == "compact" and summary["months_cutoff"] == "2026-10-10"
    # Nothing left to merge: nothing published.
    current = os.readlink(lake / "current")
    again = merge(lake)
    assert again["months"] == [] and again["partitions"] == []
    assert os.readlink(lake / "current") == current


def spoil_pages(path: Path) -> None:
    """Overwrite a Parquet file's data pages with garbage, keeping its footer (and so its
    statistics): the file can be skipped by its statistics, never read."""
    data = path.read_bytes()
    footer = int.from_bytes(data[-8:-4], "little") + 8
    path.unlink()  # a hard link of older versions: give this path a file of its own
    path.write_bytes(data[:4] + b"\xa5" * (len(data) - 4 - footer) + data[-footer:])


def test_a_date_filter_skips_the_other_merged_months(sample_copy, tmp_path):
    intact = sample_copy
    merge(intact)
    spoiled = tmp_path / "spoiled"
    shutil.copytree(intact, spoiled, symlinks=True)
    # The period: 2026-09-10..09-20 in Berlin, inside the merged September. Every other merged
    # month has its pages spoiled, every daily partition (October) its whole files.
    assert spoil_outside(spoiled, date(2026, 9, 1), date(2026, 9, 30)) > 10
    others = [p for m, d in layout.month_dirs(spoiled).items() if m != "2026-09" for p in d.glob("*.parquet")]
    assert len(others) == 5
    for path in others:
        spoil_pages(path)
    everything = run("report", "--lake", spoiled, "--format", "csv")
    assert everything.returncode == 1 and "Error:" in everything.stderr  # the spoiled pages are real
    period = ["--since", "2026-09-10", "--until", "2026-09-20", "--tz", "Europe/Berlin", "--granularity", "day"]
    for fmt in ("csv", "json"):
        expected = run("report", "--lake", intact, "--format", fmt, *period)
        got = run("report", "--lake", spoiled, "--format", fmt, *period)
        assert got.returncode == 0, got.stderr
        assert_same(got.stdout.replace(str(spoiled), str(intact)), expected.stdout)
    sql = "select count(*), sum(total_cost) from generations where date between '2025-03-01' and '2025-03-31'"
    counts = []
    for lake in (intact, spoiled):
        if lake == spoiled:  # now March is the month asked: spoil September and restore March
            for path in layout.month_dirs(spoiled)["2025-03"].glob("*.parquet"):
                path.unlink()
                shutil.copy(layout.month_dirs(intact)["2025-03"] / path.name, path)
            for path in layout.month_dirs(spoiled)["2026-09"].glob("*.parquet"):
                spoil_pages(path)
        con = connect(lake)
        try:
            n, cost = con.execute(sql).fetchone()
            counts.append((n, round(cost, 9)))
        finally:
            con.close()
    assert counts[0][0] > 0 and counts[0] == counts[1]


def test_a_later_ingest_into_a_merged_month_then_a_second_merge(tmp_path):
    lake = tmp_path / "lake"
    first = [record(i, created_at=f"2026-08-{1 + i % 28:02d}T10:{i % 60:02d}:00Z", total_cost=0.01 * i) for i in range(40)]
    ingest([write_jsonl(tmp_path / "a.jsonl", first)], lake)
    assert merge(lake, today=date(2026, 9, 15))["months"][0]["month"] == "2026-08"
    assert layout.partition_dirs(lake) == {}
    # Late records of August, an identical copy of a merged record, and another content under a merged id.
    late = [record(100 + i, created_at=f"2026-08-{10 + i:02d}T09:00:00Z", total_cost=1.0) for i in range(3)]
    late += [first[5], {**first[6], "total_cost": 99.0}]
    summary = ingest([write_jsonl(tmp_path / "late.jsonl", late)], lake)
    assert (summary["rows_read"], summary["rows_written"], summary["rows_quarantined"], summary["rows_duplicate"]) == (5, 3, 1, 1)
    # The new rows' days (the ingest leaves the dropped rows' days as empty directories).
    days = {d for d, p in layout.partition_dirs(lake).items() if any(p.glob("*.parquet"))}
    assert sorted(days) == ["2026-08-10", "2026-08-11", "2026-08-12"]
    rows = lake_rows(lake)
    assert rows.height == 43 and rows["id"].n_unique() == 43
    assert rows.height + quarantine_rows(lake).height + summary["rows_duplicate"] == 40 + 5
    con = connect(lake)
    try:
        by_day = con.execute(
            "select day, requests, total_cost from daily_rollup where day = '2026-08-10' order by all"
        ).fetchall()
        from_rows = con.execute(
            "select date, count(*), sum(total_cost) from generations where date = '2026-08-10' group by date"
        ).fetchall()
        assert [(d, sum(r for _, r, _ in by_day), pytest.approx(sum(c for _, _, c in by_day))) for d, _, _ in by_day[:1]] == [
            tuple(from_rows[0])
        ]
    finally:
        con.close()
    before = reports_of(lake)
    second = merge(lake, today=date(2026, 9, 15))
    (month,) = second["months"]
    assert (month["month"], month["days"], month["files_before"], month["files_after"]) == ("2026-08", 3, 4, 1)
    assert layout.partition_dirs(lake) == {}
    assert lake_rows(lake).equals(rows)
    for got, expected in zip(reports_of(lake), before, strict=True):
        assert_same(got, expected)


def reports_of(lake: Path) -> list[str]:
    out = [run("report", "--lake", lake, "--format", "json").stdout]
    con = connect(lake)
    try:
        out.append(repr(con.execute("select * from daily_rollup order by all").fetchall()))
    finally:
        con.close()
    return out


def test_prune_drops_whole_merged_months_and_cuts_the_one_it_falls_in(sample_copy):
    lake = sample_copy
    merge(lake)
    rows = lake_rows(lake)
    cutoff = date(2025, 3, 15)
    today = date(2026, 10, 20)
    days = (today - cutoff).days
    dry = prune(lake, days, dry_run=True, today=today)
    real = prune(lake, days, today=today)
    for key in ("partitions", "files", "rows", "bytes", "cutoff"):
        assert dry[key] == real[key]
    by_month = {p["month"]: p for p in real["partitions"]}
    assert sorted(by_month) == ["2025-01", "2025-02", "2025-03"]
    assert by_month["2025-03"]["rewritten"] == 1 and by_month["2025-03"]["files"] == 0
    assert by_month["2025-01"]["rewritten"] == 0 and by_month["2025-01"]["files"] == 1
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    kept = rows.filter(rows["created_at"].dt.date() >= cutoff)
    assert real["rows"] == rows.height - kept.height > 0
    assert lake_rows(lake)["id"].to_list() == kept["id"].to_list()
    assert sorted(layout.month_dirs(lake)) == ["2025-03", "2025-04", "2025-05", "2026-09"]
    lake_con = connect(lake)
    try:
        first_day = lake_con.execute("select min(day) from daily_rollup").fetchone()[0]
        assert first_day >= cutoff
        assert lake_con.execute("select count(*) from generations where date < ?", [cutoff]).fetchone()[0] == 0
    finally:
        lake_con.close()
    out = CliRunner().invoke(
        main, ["prune", "--lake", str(lake), "--older-than", f"{(datetime.now(UTC).date() - date(2025, 4, 15)).days}d"]
    )
    assert out.exit_code == 0, out.output
    assert "month=2025-03: 1 files" in out.stdout and "month=2025-04:" in out.stdout and "rewritten" in out.stdout


def test_replay_on_a_lake_with_merged_months(tmp_path):
    lake = tmp_path / "lake"
    rows = [record(i, beta_feature=i) if i % 4 == 0 else record(i) for i in range(20)]
    first = ingest([write_jsonl(tmp_path / "export.jsonl", rows)], lake, schema_contract="freeze")
    assert (first["rows_written"], first["rows_quarantined"]) == (15, 5)
    merge(lake, today=date(2026, 11, 15))
    assert sorted(layout.month_dirs(lake)) == ["2026-09"] and layout.partition_dirs(lake) == {}
    out = CliRunner().invoke(main, ["quarantine", "--lake", str(lake), "replay", "--schema-contract", "evolve", "--json"])
    assert out.exit_code == 0, out.output
    moved = json.loads(out.stdout)
    assert (moved["rows_written"], moved["rows_duplicate"], moved["quarantine_after"]) == (5, 0, 0)
    now = lake_rows(lake)
    assert now.height == 20 and now["id"].n_unique() == 20
    merge(lake, today=date(2026, 11, 15))
    assert layout.partition_dirs(lake) == {} and lake_rows(lake).equals(now)


def test_the_cli_and_the_duckdb_views_of_a_lake_with_merged_months(sample_copy):
    lake = sample_copy
    before = run("report", "--lake", lake, "--format", "csv")
    both = run("compact", "--lake", lake, "--partition", "2026-10-01", "--months-older-than", "10d")
    assert both.returncode == 1 and both.stderr.startswith("Error: --partition and --months-older-than cannot be combined.")
    out = run("compact", "--lake", lake, "--months-older-than", f"{(datetime.now(UTC).date() - date(2026, 10, 10)).days}d")
    assert out.returncode == 0, out.stderr
    assert "month=2026-09: 30 days, 30 files -> 1, 2,368 rows" in out.stdout
    again = run("compact", "--lake", lake, "--months-older-than", f"{(datetime.now(UTC).date() - date(2026, 10, 10)).days}d")
    assert again.stdout.startswith("Nothing to compact: no month ending before 2026-10-10 has daily partitions")
    assert_same(run("report", "--lake", lake, "--format", "csv").stdout, before.stdout)
    # `orusage views --dialect duckdb` prints the views a stock DuckDB opened in the lake runs.
    views = run("views", "--lake", lake, "--dialect", "duckdb")
    assert views.returncode == 0 and "generations/month=*/*.parquet" in views.stdout
    con = duckdb.connect(config={"file_search_path": str(lake.resolve())})
    con.execute("LOAD icu")
    con.execute(views.stdout)  # the whole script, as `duckdb < views.sql` runs it
    assert con.execute("select count(*) from generations").fetchone()[0] == lake_rows(lake).height
    con.close()
    # The data tests of sql/tests (each must return no row) hold on the merged lake.
    from pipeline.schema import sqlfiles

    con = connect(lake)
    try:
        for name in (n for n in sqlfiles.names() if n.startswith("tests/")):
            assert sqlfiles.run_file(con, name).fetchall() == [], name
    finally:
        con.close()


def test_a_lake_of_merged_months_only(tmp_path):
    lake = tmp_path / "lake"
    rows = [record(i, created_at=f"2026-0{7 + i % 2}-{1 + i % 28:02d}T10:00:00Z", total_cost=0.5) for i in range(30)]
    ingest([write_jsonl(tmp_path / "a.jsonl", rows)], lake)
    before = run("report", "--lake", lake, "--format", "json").stdout
    merge(lake, today=date(2026, 10, 20))
    assert layout.partition_dirs(lake) == {} and sorted(layout.month_dirs(lake)) == ["2026-07", "2026-08"]
    assert_same(run("report", "--lake", lake, "--format", "json").stdout, before)
    check = run("check", "--lake", lake, "--as-of", "2026-08-20T12:00:00Z", "--json")
    assert check.returncode in (0, 3), check.stderr


def test_bench_files_measures_both_lakes(tmp_path, capsys):
    from tools import bench_files

    assert bench_files.main(["--days", "70", "--per-day", "20", "--dir", str(tmp_path), "--repeat", "1"]) == 0
    out = capsys.readouterr().out
    results = json.loads((tmp_path / "last.json").read_text())
    assert results["files"]["daily"] == 70 and results["files"]["monthly"] < 70
    assert results["all_ratio"] == results["all_daily"]["seconds"] / results["all_monthly"]["seconds"]
    assert f"{results['all_ratio']:.2f}x" in out and f"{results['since_ratio']:.2f}x" in out
    daily, monthly = (tmp_path / "work" / "all-daily.csv").read_text(), (tmp_path / "work" / "all-monthly.csv").read_text()
    assert_same(monthly, daily)
    assert layout.month_dirs(tmp_path / "monthly") and not layout.month_dirs(tmp_path / "daily")
