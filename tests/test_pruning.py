"""Partition pruning: every time-bounded read opens only the files of its period.

The proof: a copy of the sample lake whose every partition outside the period is replaced by
garbage bytes (a file DuckDB cannot read; chmod 000 would not stop a root user) still gives the
period's report, page and checks, with the same numbers as the intact lake."""

from __future__ import annotations

import json
import re
import shutil
from datetime import date, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from click.testing import CliRunner

from conftest import ingest, record, write_jsonl
from pipeline.cli.main import main
from pipeline.lake import layout
from pipeline.lake.views import connect

GARBAGE = b"not a parquet file " * 64


NUMBER = re.compile(r"\d+\.\d+(?:e-?\d+)?")
GENERATED = re.compile(r"generated \d{4}-\d\d-\d\d \d\d:\d\d UTC")


def assert_same(got: str, expected: str) -> None:
    """The same text, decimals equal within 1e-9 relative: DuckDB adds floating-point sums in
    parallel, so the last digits of a sum may differ from one run to the next on the same files."""
    assert NUMBER.split(got) == NUMBER.split(expected)
    pairs = list(zip(NUMBER.findall(got), NUMBER.findall(expected), strict=True))
    assert [float(a) for a, _ in pairs] == pytest.approx([float(b) for _, b in pairs], rel=1e-9)


def run(*args):
    result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    return SimpleNamespace(returncode=result.exit_code, stdout=result.stdout, stderr=result.stderr)


def spoil_outside(lake: Path, first: date, last: date, keep: tuple[date, ...] = ()) -> int:
    """Replace every file of a partition outside [first, last] (and not in `keep`) with garbage;
    returns how many were spoiled."""
    spoiled = 0
    for day, directory in layout.partition_dirs(lake).items():
        d = date.fromisoformat(day)
        if first <= d <= last or d in keep:
            continue
        for path in directory.glob("*.parquet"):
            path.unlink()  # a hard link of older versions: give this path a file of its own
            path.write_bytes(GARBAGE)
            spoiled += 1
    return spoiled


@pytest.fixture
def copies(report_sample_lake, tmp_path):
    """(intact, spoilable): two copies of the sample lake (files copied, not linked)."""
    intact = tmp_path / "intact"
    spoilable = tmp_path / "spoiled"
    shutil.copytree(report_sample_lake, intact, symlinks=True)
    shutil.copytree(report_sample_lake, spoilable, symlinks=True)
    return intact, spoilable


def test_a_spoiled_partition_is_seen_by_an_unbounded_report(copies):
    """The garbage is real: a report over all of history fails on it."""
    _intact, spoiled = copies
    assert spoil_outside(spoiled, date(2026, 10, 1), date(2026, 10, 31)) > 10
    out = run("report", "--lake", spoiled, "--format", "csv")
    assert out.returncode == 1
    assert "Error:" in out.stderr


@pytest.mark.parametrize("fmt", ["csv", "json", "md"])
def test_the_report_of_a_period_opens_only_its_partitions(copies, fmt):
    intact, spoiled = copies
    # Local days of Berlin: the UTC partitions one day wider on each side must be enough.
    period = ["--since", "2026-10-03", "--until", "2026-10-12", "--tz", "Europe/Berlin", "--granularity", "day"]
    spoil_outside(spoiled, date(2026, 10, 2), date(2026, 10, 13))
    expected = run("report", "--lake", intact, "--format", fmt, *period)
    assert expected.returncode == 0 and expected.stdout
    got = run("report", "--lake", spoiled, "--format", fmt, *period)
    assert got.returncode == 0, got.stderr
    assert_same(got.stdout.replace(str(spoiled), str(intact)), expected.stdout)


def test_the_page_opens_only_its_period_and_the_period_before(copies, tmp_path):
    intact, spoiled = copies
    # The page compares 2026-10-02..10-16 with the same length before: 2026-09-17..10-02.
    spoil_outside(spoiled, date(2026, 9, 16), date(2026, 10, 17))
    pages = []
    for lake in (intact, spoiled):
        out = tmp_path / f"{lake.name}.html"
        result = run("report", "--lake", lake, "--since", "2026-10-02", "--until", "2026-10-16", "--format", "html", "--out", out)
        assert result.returncode == 0, result.stderr
        # the time the page was made may fall in another minute for each copy
        pages.append(GENERATED.sub("generated TIME", out.read_text().replace(str(lake), "LAKE")))
    assert_same(pages[1], pages[0])


def test_check_opens_only_the_days_it_judges(copies, tmp_path):
    intact, spoiled = copies
    config = tmp_path / "orusage.toml"
    config.write_text('timezone = "UTC"\n[budgets]\ndaily_usd = 1\nmonthly_usd = 5\n[anomaly]\nmin_baseline_days = 1\n')
    # as of 2026-10-16 13:00 UTC: the day judged is 10-15, its baseline the 4 Thursdays before,
    # the budgets the month from 10-01; the daily rollup tells where the lake's data starts.
    judged = date(2026, 10, 15)
    spoil_outside(spoiled, judged - timedelta(weeks=4), date(2026, 10, 16))
    results = []
    for lake in (intact, spoiled):
        out = run("check", "--lake", lake, "--config", config, "--as-of", "2026-10-16T13:00:00Z", "--json")
        assert out.returncode in (0, 3), out.stderr
        result = json.loads(out.stdout)
        result.pop("lake")
        result.pop("seconds", None)
        results.append(json.dumps(result, sort_keys=True))
    assert json.loads(results[0])["budgets"], "the budgets were checked"
    assert_same(results[1], results[0])


def test_the_date_column_prunes_ad_hoc_sql(copies):
    intact, spoiled = copies
    spoil_outside(spoiled, date(2026, 10, 1), date(2026, 10, 31))
    sql = "select count(*), sum(total_cost) from generations where date between '2026-10-01' and '2026-10-31'"
    counts = []
    for lake in (intact, spoiled):
        con = connect(lake)
        try:
            n, cost = con.execute(sql).fetchone()
            counts.append((n, round(cost, 9)))
        finally:
            con.close()
    assert counts[0][0] > 0
    assert counts[0] == counts[1]


def test_a_lake_without_the_schema_file_is_read_until_its_next_write(tmp_path):
    """A lake published before the schema file existed: its views read every file's columns
    (union_by_name); its next write adds the file, and the pruned view takes over."""
    rows = [record(i, created_at=f"2026-10-0{1 + i % 3}T10:00:00Z", total_cost=0.5) for i in range(6)]
    lake = tmp_path / "lake"
    ingest([write_jsonl(tmp_path / "a.jsonl", rows)], lake)
    version = layout.current_version(lake)
    schema = layout.schema_file(version)
    assert schema.is_file()
    shutil.rmtree(schema.parent.parent)
    (lake / "orusage.duckdb").unlink(missing_ok=True)  # built by the older orusage's SQL: not used
    out = run("report", "--lake", lake, "--format", "json")
    assert out.returncode == 0, out.stderr
    before = json.loads(out.stdout)
    assert [r["requests"] for r in before if r["breakdown"] == "total"] == [6]
    ingest([write_jsonl(tmp_path / "b.jsonl", [record(100, created_at="2026-10-05T10:00:00Z", total_cost=1.0)])], lake)
    assert layout.schema_file(layout.current_version(lake)).is_file()
    out = run("report", "--lake", lake, "--format", "json")
    assert [r["requests"] for r in json.loads(out.stdout) if r["breakdown"] == "total"] == [7]


def test_reconcile_opens_only_the_days_it_compares(tmp_path):
    from pipeline.openrouter.reconcile import reconcile
    from test_reconcile import activity_items, lake_records

    results = []
    for name in ("intact", "spoiled"):
        lake = tmp_path / name / "lake"
        ingest([write_jsonl(tmp_path / name / "records.jsonl", lake_records())], lake)
        if name == "spoiled":  # the activity covers 2026-09-01..03; the lake also holds 08-31 and 09-04
            assert spoil_outside(lake, date(2026, 9, 1), date(2026, 9, 3)) == 2
        activity = tmp_path / name / "activity.json"
        activity.write_text(json.dumps({"data": activity_items()}))
        result = reconcile([activity], lake)
        results.append((result.rows, result.lake_days_skipped))
    assert results[0][1] == {date(2026, 8, 31): 1, date(2026, 9, 4): 1}
    assert results[0] == results[1]
