"""Keeping the lake healthy: compaction of small files and retention by whole partitions.

Both write the way an ingest does, through `Lake.transaction`: take the lake lock, build a
private version from hard links of the current one, change files in it, and publish it with one
atomic swap of `current`. A reader holds the old version or the new one, never a mix; the old
version's files stay on disk (through their hard links) for a reader still on it.

Compaction rewrites the small files of a `date=` partition into as few files as it can
(`rows_per_file` rows at most each) through the declared Arrow schema, zstd-compressed, lineage
columns included, keeping each id once (the copy ingested first). Files already large are left
alone. Every row of the old files is accounted for before the new version is published.
"""

from __future__ import annotations

import re
import shutil
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
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
) -> dict:
    """Merge the small files of each partition (or of `partition`, a `YYYY-MM-DD` date) that has
    two or more of them; publish the result as one new version. Returns a summary whose
    `partitions` lists what was merged; when nothing needed merging nothing is published."""
    if partition is not None and not _DATE.match(partition):
        raise OrusageError(f"--partition {partition!r} is not a date", "Give it as YYYY-MM-DD, e.g. 2026-10-01.")
    clock = time.monotonic()
    lake = Lake(lake_root)
    # The summary has the keys of an ingest's (no input files, no rows read), so that `_runs/*.json`
    # and the `runs` view stay uniform; its `command` tells what the run did.
    with lake.transaction("compact", doing="compacting the lake", wait=wait) as tx:
        current = _require_version(lake)
        partitions = _partitions(current)
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
        if plan:
            con = _connect(tx.work)
            try:
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
    written: list[Path] = []
    writer: pq.ParquetWriter | None = None
    in_file = 0
    total = 0
    try:
        reader = sqlfiles.run_file(con, "compact_partition", params).to_arrow_reader(BATCH_ROWS)
        for batch in reader:
            table = pa.Table.from_batches([batch]).select(schema.names).cast(schema)
            offset = 0
            while offset < table.num_rows:
                if writer is None or in_file >= rows_per_file:
                    if writer is not None:
                        writer.close()
                    path = directory / f"part-{run_id}-c{len(written) + 1:05d}.parquet.tmp"
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
    if total != expected:
        raise LakeError(
            f"compacting date={day} wrote {total} rows where {expected} distinct ids were expected",
            "Nothing was published; please report this as a bug.",
        )
    for f in files:
        Path(f).unlink()
    final = []
    for path in written:
        target = path.with_name(path.name.removesuffix(".tmp"))
        path.rename(target)
        final.append(target.name)
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


# --- prune ---------------------------------------------------------------------------------------


def prune_plan(version: Path, cutoff: date) -> list[dict]:
    """Partitions of `version` whose date is before `cutoff`, with their files, rows and bytes
    (row counts from the Parquet footers)."""
    plan = []
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
        for item in plan:
            shutil.rmtree(lake_layout.partition_dir(tx.version, item["date"]))
        out = result(plan, tx.run_id)
        tx.summary.details.update(
            {k: out[k] for k in ("cutoff", "partitions", "older_than_days")},
            rows_pruned=out["rows"],
        )
        tx.summary.seconds = out["seconds"]
    return out
