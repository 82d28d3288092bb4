"""Relative periods (`--since 7d`, `--until 1d`, `--month`, `--as-of`) and the scheduled run's
bounded period (`report.days`): written again when the day changes, reading only its days."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, date, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest
from click.testing import CliRunner

from pipeline.cli.main import main
from pipeline.query.report import last_days, resolve_period
from test_pruning import assert_same, spoil_outside

AS_OF = datetime(2026, 10, 16, 13, 0, tzinfo=UTC)


def run(*args):
    result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    return SimpleNamespace(returncode=result.exit_code, stdout=result.stdout, stderr=result.stderr)


@pytest.mark.parametrize(
    ("since", "until", "month", "tz", "expected"),
    [
        ("7d", None, None, "UTC", ("2026-10-09 13:00:00", None)),
        ("2w", "1d", None, "UTC", ("2026-10-02 13:00:00", "2026-10-15 13:00:00")),
        # Counted in the zone's calendar: 15:00 in Berlin (CEST), the same wall-clock time across
        # the change to CET on 2026-10-25.
        ("30d", None, None, "Europe/Berlin", ("2026-09-16 15:00:00", None)),
        ("2026-10-01", "3d", None, "UTC", ("2026-10-01", "2026-10-13 13:00:00")),
        (None, None, "2026-02", "UTC", ("2026-02-01 00:00:00", "2026-03-01 00:00:00")),
        (None, None, "2026-12", "UTC", ("2026-12-01 00:00:00", "2027-01-01 00:00:00")),
    ],
)
def test_resolve_period(since, until, month, tz, expected):
    assert resolve_period(since, until, month=month, as_of=AS_OF, tz=tz) == expected


def test_a_duration_across_dst_keeps_the_wall_clock_time():
    as_of = datetime(2026, 10, 26, 14, 0, tzinfo=UTC)  # 15:00 CET, the day after the change
    assert resolve_period("7d", None, as_of=as_of, tz="Europe/Berlin") == ("2026-10-19 15:00:00", None)


def test_last_days_counts_today():
    assert last_days(90, AS_OF, "UTC") == "2026-07-19"
    assert last_days(1, datetime(2026, 10, 16, 23, 30, tzinfo=UTC), "Asia/Tokyo") == "2026-10-17"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--month", "2026-13"], "Error: --month '2026-13' is not a month. Write --month YYYY-MM, e.g. --month 2026-10."),
        (["--month", "2026-10", "--since", "3d"], "Error: --month is given with --since or --until."),
        (["--since", "7x"], "Error: --since '7x' is not a date."),
        (["--as-of", "yesterday"], "Error: --as-of 'yesterday' is not a date-time."),
        (["--since", "1d", "--until", "7d"], "Error: --since 2026-"),  # the instants the durations name
    ],
)
def test_bad_periods_are_usage_errors(report_sample_lake, args, message):
    out = run("report", "--lake", report_sample_lake, *args)
    assert out.returncode == 2
    assert out.stderr.startswith(message), out.stderr


def test_relative_and_absolute_periods_give_the_same_report(report_sample_lake):
    relative = run(
        "report",
        "--lake",
        report_sample_lake,
        "--format",
        "json",
        "--since",
        "14d",
        "--until",
        "2d",
        "--as-of",
        "2026-10-16T13:00",
    )
    absolute = run(
        "report", "--lake", report_sample_lake, "--format", "json", "--since", "2026-10-02 13:00", "--until", "2026-10-14 13:00"
    )
    assert relative.returncode == 0, relative.stderr
    assert_same(relative.stdout, absolute.stdout)
    month = run("report", "--lake", report_sample_lake, "--format", "json", "--month", "2026-09")
    explicit = run("report", "--lake", report_sample_lake, "--format", "json", "--since", "2026-09-01", "--until", "2026-10-01")
    assert_same(month.stdout, explicit.stdout)
    total = next(r for r in json.loads(month.stdout) if r["breakdown"] == "total")
    assert total["requests"] > 0
    assert total["first_created_at"].startswith("2026-09") and total["last_created_at"].startswith("2026-09")


def _scheduled(tmp_path: Path, lake: Path, days: int) -> Path:
    (tmp_path / "inbox").mkdir(exist_ok=True)
    config = tmp_path / "orusage.toml"
    config.write_text(
        f'lake = "{lake}"\n[inbox]\npaths = ["inbox"]\n[report]\ndir = "reports"\nformats = ["csv", "html"]\ndays = {days}\n'
    )
    return config


def _run(config: Path, as_of: str) -> dict:
    out = CliRunner().invoke(main, ["run", "--config", str(config), "--as-of", as_of, "--json", "--log-format", "json"])
    assert out.exit_code in (0, 3), out.output
    return json.loads(out.stdout)


def test_the_scheduled_reports_cover_report_days_and_are_written_again_the_next_day(report_sample_lake, tmp_path):
    lake = tmp_path / "lake"
    shutil.copytree(report_sample_lake, lake, symlinks=True)
    config = _scheduled(tmp_path, lake, days=30)
    assert _run(config, "2026-10-16T13:00:00Z")["reports_written"] == 2
    rows = list(csvrows(tmp_path / "reports" / "report.csv"))
    total = next(r for r in rows if r["breakdown"] == "total")
    assert total["first_created_at"] >= "2026-09-17"  # the last 30 days, today included
    assert (tmp_path / "reports" / ".lake-version").read_text().split()[1:] == ["since", "2026-09-17"]
    # An idle lake: the same day writes nothing; the next day moves the period and writes again.
    assert _run(config, "2026-10-16T20:00:00Z")["reports_written"] == 0
    assert _run(config, "2026-10-17T01:00:00Z")["reports_written"] == 2
    assert (tmp_path / "reports" / ".lake-version").read_text().split()[1:] == ["since", "2026-09-18"]


def test_the_scheduled_run_reads_only_its_period(report_sample_lake, tmp_path):
    """`orusage run` on a lake whose partitions outside the page's period are garbage: the reports
    and checks still succeed, with the intact lake's numbers. As of 2026-10-31 with
    report.days = 30 the window is 2026-10-02.., its data ends on 10-16, so the cards compare
    10-02..10-17 with 09-17..10-02; the check finds no data for 10-30 in the lake's last day."""
    pages = []
    for name in ("intact", "spoiled"):
        lake = tmp_path / name / "lake"
        shutil.copytree(report_sample_lake, lake, symlinks=True)
        if name == "spoiled":
            assert spoil_outside(lake, date(2026, 9, 16), date(2026, 10, 17)) > 10
        config = _scheduled(tmp_path / name, lake, days=30)
        summary = _run(config, "2026-10-31T13:00:00Z")
        assert summary["error"] is None and summary["reports_written"] == 2
        pages.append((tmp_path / name / "reports" / "report.html").read_text().replace(str(lake), "LAKE"))
    assert_same(pages[1], pages[0])


def csvrows(path: Path):
    import csv

    with path.open(newline="") as f:
        yield from csv.DictReader(f)
