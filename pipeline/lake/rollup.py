"""The daily rollup: every count and sum the report uses, per UTC day and combination of the
rollup's dimensions (sql/rollup_daily.sql), kept with the lake as
`rollup/month=YYYY-MM/rollup.parquet` and read through the view `daily_rollup`.

`update(before, version)` is called by `Lake.transaction` (pipeline/lake/store.py) for every
writer (ingest, compact, prune, replay) before it publishes `version`, so rows and rollup always
belong to the same version and a kill -9 leaves both old. The days it rolls up again are those
whose partition files differ from the version before (a new version is made of hard links: a
file that is the same inode is unchanged), and it reads only those days' files; their months'
files are rewritten with the other days' rows kept as they were. A version without a rollup (a
lake written before the rollup existed), or whose rollup has other columns than
sql/rollup_daily.sql gives, gets the rollup of every day.
"""

from __future__ import annotations

import os
import threading
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pipeline.lake import layout as lake_layout
from pipeline.lake import views
from pipeline.schema import sqlfiles


def _month_days(month: str) -> list[str]:
    first = date.fromisoformat(f"{month}-01")
    following = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return [date.fromordinal(n).isoformat() for n in range(first.toordinal(), following.toordinal())]


# connect_generations's views live in a catalog that the process shares: one rollup at a time.
_COMPUTING = threading.Lock()


def _files(directory: Path) -> dict[int, str]:
    """inode -> name of the Parquet files of one directory (the inode from the directory
    listing: no stat per file)."""
    with os.scandir(directory) as entries:
        return {entry.inode(): entry.name for entry in entries if entry.name.endswith(".parquet")}


def _partition_files(root: Path | None) -> dict[str, dict[int, str]]:
    """day -> inode -> path (relative to `root`) of the files that may hold its rows: its daily
    partition's, and those of its merged month (generations/month=YYYY-MM/), which count for
    every day of the month."""
    if root is None:
        return {}
    base = lake_layout.generations_dir(root)
    if not base.is_dir():
        return {}
    found: dict[str, dict[int, str]] = {}
    months: dict[str, dict[int, str]] = {}
    with os.scandir(base) as entries:
        directories = sorted((entry.name, entry.path) for entry in entries if entry.is_dir())
    for name, path in directories:
        tree = f"{lake_layout.GENERATIONS}/{name}"
        if name.startswith(lake_layout.PARTITION_PREFIX):
            day = name.removeprefix(lake_layout.PARTITION_PREFIX)
            found.setdefault(day, {}).update((inode, f"{tree}/{file}") for inode, file in _files(path).items())
        elif name.startswith(lake_layout.MONTH_PREFIX):
            months[name.removeprefix(lake_layout.MONTH_PREFIX)] = {
                inode: f"{tree}/{file}" for inode, file in _files(path).items()
            }
    for month, files in months.items():
        if files:
            for day in _month_days(month):
                found.setdefault(day, {}).update(files)
    return found


def changed_days(before: Path | None, version: Path, after: dict[str, dict[int, str]] | None = None) -> list[str]:
    """The UTC days (YYYY-MM-DD) whose files differ between `before` and `version`; every day of
    `version` when it has no rollup yet."""
    after = _partition_files(version) if after is None else after
    if not lake_layout.rollup_files(version):
        return sorted(after)
    old = _partition_files(before)
    return sorted(day for day in set(old) | set(after) if old.get(day, {}).keys() != after.get(day, {}).keys())


def _day_files(files: dict[str, dict[int, str]], days: list[str]) -> tuple[list[str], list[str]]:
    """(daily files, merged months' files) that hold the rows of `days`."""
    daily, monthly = set(), set()
    for day in days:
        for path in files.get(day, {}).values():
            (monthly if path.startswith(f"{lake_layout.GENERATIONS}/{lake_layout.MONTH_PREFIX}") else daily).add(path)
    return sorted(daily), sorted(monthly)


def compute(version: Path, days: list[str], files: tuple[list[str], list[str]] | None = None) -> pa.Table:
    """The rollup rows of `days`, from the rows of `version`: only those days' files are read
    (`files`, as `_day_files` gives them, or found through the partition column)."""
    with _COMPUTING:
        con = views.connect_generations(version, files)
        try:
            con.execute("SET TimeZone = 'UTC'")
            return sqlfiles.run_file(con, "rollup_daily", {"days": [date.fromisoformat(d) for d in days]}).to_arrow_table()
        finally:
            con.close()


def _write(path: Path, table: pa.Table) -> None:
    if path.exists():
        path.unlink()  # a hard link shared with older versions: never rewritten in place
    if table.num_rows == 0:
        if path.parent.is_dir() and not any(path.parent.iterdir()):
            path.parent.rmdir()
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path, compression="zstd")


def update(before: Path | None, version: Path) -> int:
    """Roll up again the days that changed between `before` and `version`, in `version`;
    returns how many days were rolled up."""
    files = _partition_files(version)
    days = changed_days(before, version, files)
    if not days:
        return 0
    fresh = compute(version, days, _day_files(files, days))
    existing = lake_layout.rollup_files(version)
    # An update writes every file it touches with the same columns, and a change of columns
    # rewrites them all: the first file and those of the months rewritten stand for the rest.
    months = sorted({day[:7] for day in days})
    checked = [path for i, (month, path) in enumerate(existing.items()) if i == 0 or month in months]
    if any(not pq.read_schema(path).equals(fresh.schema, check_metadata=False) for path in checked):
        days = sorted(files)  # another rollup's columns: build it again whole
        fresh = compute(version, days, _day_files(files, days))
        for path in existing.values():
            _write(path, fresh.slice(0, 0))
        existing = {}
        months = sorted({day[:7] for day in days})
    for month in months:
        month_days = pa.array([date.fromisoformat(d) for d in days if d.startswith(month)], pa.date32())
        rows = [fresh.filter(pc.is_in(fresh["day"], value_set=month_days))]
        if month in existing:
            old = pq.read_table(existing[month])
            rows.insert(0, old.filter(pc.invert(pc.is_in(old["day"], value_set=month_days))))
        merged = pa.concat_tables(rows).sort_by([("day", "ascending")])
        _write(lake_layout.rollup_file(version, month), merged)
    return len(days)
