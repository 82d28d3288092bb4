"""Keeping the lake healthy: compaction of small files and retention by whole partitions.

Both write the way an ingest does, through `Lake.transaction`: take the lake lock, build a
private version from hard links of the current one, change files in it, and publish it with one
atomic swap of `current`. A reader holds the old version or the new one, never a mix; the old
version's files stay on disk (through their hard links) for a reader still on it.

Compaction rewrites the small files of a `date=` partition into as few files as it can
(`rows_per_file` rows at most each) through the declared Arrow schema, zstd-compressed, lineage
columns included, keeping each id once (the copy ingested first). Files already large are left
alone. Every row of the old files is accounted for before the new version is published.

With `months_older_than`, it also merges every whole UTC month that ended more than that many
days ago into the files of `generations/month=YYYY-MM/` (the declared columns plus `date`,
stored in the file): a lake of years of small days then opens a few files per month instead of
one or more per day (docs/operations.md measures what that saves). A later ingest into a merged
month writes daily partitions beside it, which the next monthly compaction merges in.
"""

from __future__ import annotations

import re
import shutil
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pipeline.errors import LakeError, OrusageError
from pipeline.lake import layout as lake_layout
from pipeline.lake.store import Lake
from pipeline.schema import sqlfiles
from pipeline.schema.table import dictionary_columns, lake_arrow_schema

ROWS_PER_FILE = 1_000_000
SMALL_FILE_BYTES = 64 * 1024 * 1024
BATCH_ROWS = 100_000
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DURATION = re.compile(r"^\s*(\d+)\s*([dw])\s*$")


def parse_duration(text: str) -> int:
    """`400d` -> 400, `8w` -> 56 (days); raises ValueError otherwise."""
    match = _DURATION.match(text or "")
    if not match:
        raise ValueError(f"expected a duration like 400d or 8w, got {text!r}")
    count, unit = int(match.group(1)), match.group(2)
    return count * (7 if unit == "w" else 1)


def _partitions(version: Path) -> dict[str, list[Path]]:
    return {day: sorted(directory.glob("*.parquet")) for day, directory in lake_layout.partition_dirs(version).items()}


def _months(version: Path) -> dict[str, list[Path]]:
    """month (YYYY-MM) -> the files of its merged month directory."""
    return {month: sorted(directory.glob("*.parquet")) for month, directory in lake_layout.month_dirs(version).items()}


def _month_end(month: str) -> date:
    """The last day of the month `month` (YYYY-MM)."""
    first = date.fromisoformat(f"{month}-01")
    return date(first.year + first.month // 12, first.month % 12 + 1, 1) - timedelta(days=1)


def month_schema() -> pa.Schema:
    """The columns of a merged month's files: the declared ones, then `date` (the UTC day)."""
    return lake_arrow_schema().append(pa.field("date", pa.date32(), nullable=False))


def _require_version(lake: Lake) -> Path:
    version = lake.current_version()
    if version is None:
        raise OrusageError(f"no lake at {lake.root}", "Run `orusage ingest PATH` first, or pass --lake DIR.")
    return version


def _connect(work: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET memory_limit = '1GB'")
    work.mkdir(parents=True, exist_ok=True)
    con.execute("SET temp_directory = ?", [str(work / "duckdb-tmp")])
    return con


# --- compact -------------------------------------------------------------------------------------


def compact(
    lake_root: Path,
    partition: str | None = None,
    *,
    wait: float = 0.0,
    rows_per_file: int = ROWS_PER_FILE,
    small_file_bytes: int = SMALL_FILE_BYTES,
    months_older_than: int | None = None,
    today: date | None = None,
) -> dict:
    """Merge the small files of each partition (or of `partition`, a `YYYY-MM-DD` date) that has
    two or more of them; with `months_older_than` (days), first merge every UTC month whose last
    day is more than that many days before `today` (UTC) and that has daily files into
    `generations/month=YYYY-MM/`. Publish the result as one new version. Returns a summary whose
    `partitions` and `months` list what was merged; when nothing needed merging nothing is
    published."""
    if partition is not None and not _DATE.match(partition):
        raise OrusageError(f"--partition {partition!r} is not a date", "Give it as YYYY-MM-DD, e.g. 2026-10-01.")
    if partition is not None and months_older_than is not None:
        raise OrusageError(
            "--partition and --months-older-than cannot be combined",
            "Merge old months with --months-older-than alone, or one day's files with --partition alone.",
        )
    cutoff = None
    if months_older_than is not None:
        if months_older_than < 0:
            raise ValueError(months_older_than)
        cutoff = (today or datetime.now(UTC).date()) - timedelta(days=months_older_than)
    clock = time.monotonic()
    lake = Lake(lake_root)
    # The summary has the keys of an ingest's (no input files, no rows read), so that `_runs/*.json`
    # and the `runs` view stay uniform; its `command` tells what the run did.
    with lake.transaction("compact", doing="compacting the lake", wait=wait) as tx:
        current = _require_version(lake)
        partitions = _partitions(current)
        month_plan: dict[str, tuple[list[Path], list[Path]]] = {}
        empty: list[str] = []
        if cutoff is not None:
            existing = _months(current)
            for day, files in partitions.items():
                month = day[:7]
                if _DATE.match(day) and files and _month_end(month) < cutoff:
                    month_plan.setdefault(month, ([], existing.get(month, [])))[0].extend(files)
            # A merged month's empty day directories (an ingest whose rows of a day were all
            # duplicates leaves one) go with its files.
            empty = [day for day, files in partitions.items() if not files and day[:7] in month_plan]
            partitions = {day: files for day, files in partitions.items() if day[:7] not in month_plan}
        if partition is not None:
            if partition not in partitions:
                raise OrusageError(
                    f"the lake has no partition date={partition}",
                    "List them with `ls <lake>/generations/`, or leave out --partition.",
                )
            partitions = {partition: partitions[partition]}
        plan = {}
        for day, files in partitions.items():
            small = [f for f in files if f.stat().st_size < small_file_bytes]
            if len(small) >= 2:
                plan[day] = (small, [f for f in files if f not in small])
        tx.summary.details["partitions"] = merged = []
        if cutoff is not None:
            tx.summary.details["months_cutoff"] = cutoff.isoformat()
            tx.summary.details["months"] = merged_months = []
        if plan or month_plan:
            con = _connect(tx.work)
            try:
                for month, (daily, monthly) in sorted(month_plan.items()):
                    merged_months.append(_compact_month(con, tx.version, month, daily, monthly, tx.run_id, rows_per_file))
                for day in empty:
                    lake_layout.partition_dir(tx.version, day).rmdir()
                for day, (small, large) in plan.items():
                    merged.append(_compact_partition(con, tx.version, day, small, large, tx.run_id, rows_per_file))
            finally:
                con.close()
        tx.summary.seconds = round(time.monotonic() - clock, 3)
    return tx.summary.to_dict()


def _compact_partition(
    con, version: Path, day: str, small: list[Path], large: list[Path], run_id: str, rows_per_file: int
) -> dict:
    """Rewrite one partition's small files (as hard links in `version`) into few large ones."""
    schema = lake_arrow_schema()
    directory = lake_layout.partition_dir(version, day)
    files = [str(directory / f.name) for f in small]
    large_files = [str(directory / f.name) for f in large]
    params = {"files": files, "large": large_files or files[:1], "has_large": bool(large_files)}
    rows_before, expected = sqlfiles.run_file(con, "compact_expected", params).fetchall()[0]
    reader = sqlfiles.run_file(con, "compact_partition", params).to_arrow_reader(BATCH_ROWS)
    written, total = _write_files(reader, directory, f"part-{run_id}-c", schema, rows_per_file)
    if total != expected:
        raise LakeError(
            f"compacting date={day} wrote {total} rows where {expected} distinct ids were expected",
            "Nothing was published; please report this as a bug.",
        )
    for f in files:
        Path(f).unlink()
    final = _finish(written)
    return {
        "date": day,
        "files_before": len(small) + len(large),
        "files_merged": len(small),
        "files_after": len(large) + len(final),
        "rows_before": rows_before,
        "rows_after": total,
        "duplicates_dropped": rows_before - total,
        "new_files": final,
    }


def _write_files(reader, directory: Path, prefix: str, schema: pa.Schema, rows_per_file: int) -> tuple[list[Path], int]:
    """Write the batches of `reader` through `schema` into `directory` as `<prefix>NNNNN.parquet.tmp`
    files of up to `rows_per_file` rows (zstd, the ingest's dictionary columns). Returns the files
    and the rows written."""
    written: list[Path] = []
    writer: pq.ParquetWriter | None = None
    in_file = 0
    total = 0
    try:
        for batch in reader:
            table = pa.Table.from_batches([batch]).select(schema.names).cast(schema)
            offset = 0
            while offset < table.num_rows:
                if writer is None or in_file >= rows_per_file:
                    if writer is not None:
                        writer.close()
                    path = directory / f"{prefix}{len(written) + 1:05d}.parquet.tmp"
                    writer = pq.ParquetWriter(path, schema, compression="zstd", use_dictionary=dictionary_columns())
                    written.append(path)
                    in_file = 0
                take = min(rows_per_file - in_file, table.num_rows - offset)
                writer.write_table(table.slice(offset, take))
                offset += take
                in_file += take
                total += take
    finally:
        if writer is not None:
            writer.close()
    return written, total


def _finish(written: list[Path]) -> list[str]:
    """Give the files written their final names (drop `.tmp`)."""
    final = []
    for path in written:
        target = path.with_name(path.name.removesuffix(".tmp"))
        path.rename(target)
        final.append(target.name)
    return final


def _compact_month(
    con, version: Path, month: str, daily: list[Path], monthly: list[Path], run_id: str, rows_per_file: int
) -> dict:
    """Merge the daily files of the UTC month `month` (and its merged files, if any) of `version`
    into the files of generations/month=YYYY-MM/, each id once, with the `date` column."""
    schema = month_schema()
    directory = lake_layout.month_dir(version, month)
    daily_files = [
        str(lake_layout.partition_dir(version, f.parent.name.removeprefix(lake_layout.PARTITION_PREFIX)) / f.name) for f in daily
    ]
    monthly_files = [str(directory / f.name) for f in monthly]
    params = {"daily": daily_files, "monthly": monthly_files or daily_files[:1], "has_monthly": bool(monthly_files)}
    rows_before, expected, first_day, last_day = sqlfiles.run_file(con, "compact_month_expected", params).fetchall()[0]
    if first_day is not None and (first_day.strftime("%Y-%m") != month or last_day.strftime("%Y-%m") != month):
        raise LakeError(
            f"the files of month {month} hold rows of {first_day} .. {last_day}",
            "Nothing was published; please report this as a bug.",
        )
    directory.mkdir(parents=True, exist_ok=True)
    reader = sqlfiles.run_file(con, "compact_month", params).to_arrow_reader(BATCH_ROWS)
    written, total = _write_files(reader, directory, f"part-{run_id}-m", schema, rows_per_file)
    if total != expected:
        raise LakeError(
            f"compacting month {month} wrote {total} rows where {expected} distinct ids were expected",
            "Nothing was published; please report this as a bug.",
        )
    days = sorted({Path(f).parent for f in daily_files})
    for path in days:
        shutil.rmtree(path)
    for f in monthly_files:
        Path(f).unlink()
    return {
        "month": month,
        "days": len(days),
        "files_before": len(daily_files) + len(monthly_files),
        "files_after": len(written),
        "rows_before": rows_before,
        "rows_after": total,
        "duplicates_dropped": rows_before - total,
        "new_files": _finish(written),
    }


# --- prune ---------------------------------------------------------------------------------------


def prune_plan(version: Path, cutoff: date) -> list[dict]:
    """Partitions of `version` whose date is before `cutoff`, with their files, rows and bytes
    (row counts from the Parquet footers); then the merged months with days before `cutoff`: a
    month that ends before it is dropped whole, one that the cutoff cuts has its files rewritten
    without the earlier days (`rewritten` files; `rows` counts the rows dropped, `files` and
    `bytes` what is removed whole)."""
    plan = []
    for month, files in _months(version).items():
        if not files or date.fromisoformat(f"{month}-01") >= cutoff:
            continue
        if _month_end(month) < cutoff:
            rows = sum(pq.ParquetFile(f).metadata.num_rows for f in files)
            plan.append(
                {"month": month, "files": len(files), "rows": rows, "bytes": sum(f.stat().st_size for f in files), "rewritten": 0}
            )
            continue
        scalar = pa.scalar(cutoff, pa.date32())
        rows = sum(pc.sum(pc.less(pq.read_table(f, columns=["date"])["date"], scalar)).as_py() or 0 for f in files)
        if rows:
            plan.append({"month": month, "files": 0, "rows": rows, "bytes": 0, "rewritten": len(files)})
    for day, files in _partitions(version).items():
        try:
            when = date.fromisoformat(day)
        except ValueError:
            continue
        if when < cutoff:
            plan.append(
                {
                    "date": day,
                    "files": len(files),
                    "rows": sum(pq.ParquetFile(f).metadata.num_rows for f in files),
                    "bytes": sum(f.stat().st_size for f in files),
                }
            )
    return plan


def _prune_month(con, version: Path, item: dict, cutoff: date, run_id: str) -> None:
    """Rewrite the merged month of `item` in `version` without its days before `cutoff`."""
    directory = lake_layout.month_dir(version, item["month"])
    files = sorted(directory.glob("*.parquet"))
    before = sum(pq.ParquetFile(f).metadata.num_rows for f in files)
    params = {"files": [str(f) for f in files], "cutoff": cutoff}
    reader = sqlfiles.run_file(con, "prune_month", params).to_arrow_reader(BATCH_ROWS)
    written, total = _write_files(reader, directory, f"part-{run_id}-p", month_schema(), ROWS_PER_FILE)
    if total != before - item["rows"]:
        raise LakeError(
            f"pruning month {item['month']} kept {total} of {before} rows where {before - item['rows']} were expected",
            "Nothing was published; please report this as a bug.",
        )
    for f in files:
        f.unlink()
    _finish(written)
    if total == 0:
        shutil.rmtree(directory)


def prune(
    lake_root: Path,
    older_than_days: int,
    *,
    dry_run: bool = False,
    wait: float = 0.0,
    today: date | None = None,
) -> dict:
    """Drop every partition whose UTC date is more than `older_than_days` days before `today`
    (UTC). A dry run only reads (no lock, nothing written) and returns the same plan the real run
    would carry out on the same lake."""
    if older_than_days < 0:
        raise ValueError(older_than_days)
    clock = time.monotonic()
    today = today or datetime.now(UTC).date()
    cutoff = today - timedelta(days=older_than_days)
    lake = Lake(lake_root)

    def result(plan: list[dict], run_id: str | None) -> dict:
        return {
            "run_id": run_id,
            "dry_run": dry_run,
            "older_than_days": older_than_days,
            "cutoff": cutoff.isoformat(),
            "partitions": plan,
            "files": sum(p["files"] for p in plan),
            "rows": sum(p["rows"] for p in plan),
            "bytes": sum(p["bytes"] for p in plan),
            "seconds": round(time.monotonic() - clock, 3),
        }

    if dry_run:
        return result(prune_plan(_require_version(lake), cutoff), None)
    with lake.transaction("prune", doing="pruning the lake", wait=wait) as tx:
        plan = prune_plan(_require_version(lake), cutoff)
        if not plan:
            return result(plan, None)
        con = None
        try:
            for item in plan:
                if "date" in item:
                    shutil.rmtree(lake_layout.partition_dir(tx.version, item["date"]))
                elif not item["rewritten"]:
                    shutil.rmtree(lake_layout.month_dir(tx.version, item["month"]))
                else:
                    con = con or _connect(tx.work)
                    _prune_month(con, tx.version, item, cutoff, tx.run_id)
        finally:
            if con is not None:
                con.close()
        out = result(plan, tx.run_id)
        tx.summary.details.update(
            {k: out[k] for k in ("cutoff", "partitions", "older_than_days")},
            rows_pruned=out["rows"],
        )
        tx.summary.seconds = out["seconds"]
    return out
