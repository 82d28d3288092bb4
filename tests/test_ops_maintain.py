"""Compaction (every row once, the declared schema, readers see old or new) and retention (the
dry run matches the real run)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from conftest import ROOT, ingest, lake_rows, record, write_jsonl
from pipeline.cli.main import main
from pipeline.lake.store import Lake
from pipeline.ops.maintain import compact, parse_duration
from pipeline.schema.table import lake_arrow_schema

DAYS = 4


def many_small_files(tmp_path: Path, runs: int = 3, per_run: int = 40) -> Path:
    """`runs` ingests of `per_run` records over DAYS days of October: DAYS partitions with one
    small file per run each."""
    lake = tmp_path / "lake"
    for r in range(runs):
        rows = [
            record(r * 1000 + i, created_at=f"2026-10-{1 + i % DAYS:02d}T{r:02d}:{i % 60:02d}:00.000Z", app_id=r)
            for i in range(per_run)
        ]
        ingest([write_jsonl(tmp_path / "in" / f"run-{r}.jsonl", rows)], lake)
    return lake


def partition_files(lake: Path) -> dict[str, int]:
    out: dict[str, int] = {}
    for path in Lake(lake).generation_files():
        out[path.parent.name] = out.get(path.parent.name, 0) + 1
    return out


def test_compaction_keeps_every_row_once_with_the_declared_schema(tmp_path):
    lake = many_small_files(tmp_path)
    before = lake_rows(lake)
    assert partition_files(lake) == {f"date=2026-10-0{d}": 3 for d in range(1, DAYS + 1)}
    # A stray copy of one file (as a hand-made fix could leave): its ids are in the lake twice.
    version = Lake(lake).new_version("stray-copy")
    victim = sorted((version / "generations" / "date=2026-10-02").glob("*.parquet"))[0]
    (victim.parent / "part-stray-copy.parquet").write_bytes(victim.read_bytes())
    copied = pq.ParquetFile(victim).metadata.num_rows
    Lake(lake).publish(version)

    out = CliRunner().invoke(main, ["compact", "--lake", str(lake), "--json"])
    assert out.exit_code == 0, out.output
    result = json.loads(out.stdout)
    merged = {p["date"]: p for p in result["partitions"]}
    assert set(merged) == {f"2026-10-0{d}" for d in range(1, DAYS + 1)}
    assert merged["2026-10-02"]["duplicates_dropped"] == copied
    assert all(p["files_after"] == 1 for p in merged.values())
    assert partition_files(lake) == {f"date=2026-10-0{d}": 1 for d in range(1, DAYS + 1)}

    after = lake_rows(lake)
    assert after["id"].n_unique() == after.height == before.height == 120
    # Every column of every row unchanged, lineage included.
    assert after.sort("id").equals(before.sort("id"))
    for path in Lake(lake).generation_files():
        assert pq.read_schema(path).remove_metadata().equals(lake_arrow_schema())
        meta = pq.ParquetFile(path).metadata
        assert {meta.row_group(0).column(i).compression for i in range(meta.num_columns)} == {"ZSTD"}
    runs = json.loads((lake / "_runs" / f"{result['run_id']}.json").read_text())
    assert (runs["command"], runs["rows_read"], runs["rows_written"]) == ("compact", 0, 0)

    # Nothing left to merge: nothing published.
    current = os.readlink(lake / "current")
    assert compact(lake)["partitions"] == []
    assert os.readlink(lake / "current") == current


def test_compact_one_partition_and_bad_partition(tmp_path):
    lake = many_small_files(tmp_path, runs=3, per_run=8)
    out = CliRunner().invoke(main, ["compact", "--lake", str(lake), "--partition", "2026-10-03"])
    assert out.exit_code == 0, out.output
    assert out.stdout.startswith("date=2026-10-03: 3 files -> 1, 6 rows\npublished version ")
    assert partition_files(lake)["date=2026-10-03"] == 1 and partition_files(lake)["date=2026-10-01"] == 3
    out = CliRunner().invoke(main, ["compact", "--lake", str(lake), "--partition", "2026-11-30"])
    assert out.exit_code == 1
    assert out.stderr == (
        "Error: the lake has no partition date=2026-11-30. List them with `ls <lake>/generations/`, or leave out --partition.\n"
    )
    out = CliRunner().invoke(main, ["compact", "--lake", str(lake), "--partition", "yesterday"])
    assert out.exit_code == 2 and "Invalid value for '--partition': expected a date YYYY-MM-DD, got 'yesterday'" in out.stderr


READER = """
import sys, duckdb
from pathlib import Path
from pipeline.lake.store import Lake
lake, expected = Path(sys.argv[1]), int(sys.argv[2])
seen, reads = set(), 0
print("ready", flush=True)
while True:
    files = [str(f) for f in Lake(lake).generation_files()]
    try:
        rows, ids = duckdb.sql("SELECT count(*), count(DISTINCT id) FROM read_parquet($f)", params={"f": files}).fetchall()[0]
    except duckdb.IOException:
        continue  # a version two publishes old was cleaned away while we were slow: read again
    assert rows == ids == expected, (rows, ids, len(files))
    seen.add(len(files))
    reads += 1
    if sys.stdin in __import__("select").select([sys.stdin], [], [], 0)[0]:
        break
print(reads, sorted(seen), flush=True)
"""


def test_readers_see_the_old_or_the_new_files_during_compaction(tmp_path):
    lake = many_small_files(tmp_path, runs=3, per_run=40)
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, str(lake), "120"],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert reader.stdout.readline().strip() == "ready"
        for partition in ("2026-10-01", "2026-10-02", "2026-10-03", "2026-10-04"):
            compact(lake, partition)  # four publishes while the reader reads
        out, err = reader.communicate("stop\n", timeout=60)
    finally:
        reader.kill()
    assert reader.returncode == 0, err
    reads, seen = out.split(" ", 1)
    assert int(reads) >= 2
    assert set(json.loads(seen)) <= {12, 10, 8, 6, 4}  # whole versions only: 3 files per partition, then 1


def test_parse_duration():
    assert parse_duration("400d") == 400 and parse_duration("8w") == 56
    for bad in ("400", "d", "1y", "-3d", ""):
        with pytest.raises(ValueError):
            parse_duration(bad)


def test_prune_dry_run_matches_the_real_run(tmp_path):
    lake = tmp_path / "lake"
    today = datetime.now(UTC).date()
    days = [today - timedelta(days=n) for n in (500, 450, 401, 400, 399, 10)]
    rows = [record(i, created_at=f"{d.isoformat()}T12:{i:02d}:00.000Z") for i, d in enumerate(days) for _ in range(1)]
    rows += [record(100 + i, created_at=f"{days[0].isoformat()}T13:{i:02d}:00.000Z") for i in range(3)]
    ingest([write_jsonl(tmp_path / "old.jsonl", rows)], lake)
    ingest([write_jsonl(tmp_path / "more.jsonl", [record(200, created_at=f"{days[1].isoformat()}T09:00:00.000Z")])], lake)
    before = os.readlink(lake / "current")

    dry = CliRunner().invoke(main, ["prune", "--lake", str(lake), "--older-than", "400d", "--dry-run", "--json"])
    assert dry.exit_code == 0, dry.output
    plan = json.loads(dry.stdout)
    assert os.readlink(lake / "current") == before  # the dry run changed nothing
    assert plan["cutoff"] == (today - timedelta(days=400)).isoformat()
    assert [p["date"] for p in plan["partitions"]] == [d.isoformat() for d in days[:3]]
    assert [(p["files"], p["rows"]) for p in plan["partitions"]] == [(1, 4), (2, 2), (1, 1)]
    assert (plan["files"], plan["rows"], plan["run_id"], plan["dry_run"]) == (4, 7, None, True)

    real = CliRunner().invoke(main, ["prune", "--lake", str(lake), "--older-than", "400d", "--json"])
    assert real.exit_code == 0, real.output
    done = json.loads(real.stdout)
    assert {k: v for k, v in done.items() if k not in ("run_id", "dry_run", "seconds")} == {
        k: v for k, v in plan.items() if k not in ("run_id", "dry_run", "seconds")
    }
    assert done["run_id"] is not None and os.readlink(lake / "current") != before
    remaining = lake_rows(lake)
    assert remaining.height == 10 - 7
    assert sorted(remaining["created_at"].dt.date().to_list()) == days[3:]
    assert sorted(p.name for p in (lake / "generations").iterdir()) == [f"date={d.isoformat()}" for d in sorted(days[3:])]
    summary = json.loads((lake / "_runs" / f"{done['run_id']}.json").read_text())
    assert (summary["command"], summary["rows_pruned"]) == ("prune", 7)

    # Again: nothing older than 400 days is left; the human form says so.
    again = CliRunner().invoke(main, ["prune", "--lake", str(lake), "--older-than", "58w", "--dry-run"])
    assert again.exit_code == 0
    assert again.stdout.startswith("would drop 0 partition(s) before ")
    bad = CliRunner().invoke(main, ["prune", "--lake", str(lake), "--older-than", "a year"])
    assert bad.exit_code == 2 and "expected a duration like 400d or 8w" in bad.stderr


def test_maintenance_refuses_while_the_lock_is_held(tmp_path):
    lake = many_small_files(tmp_path, runs=2, per_run=4)
    with Lake(lake).lock():
        for args in (["compact"], ["prune", "--older-than", "1d"], ["quarantine", "replay"]):
            if args[0] == "quarantine":
                out = CliRunner().invoke(main, ["quarantine", "--lake", str(lake), "replay"])
            else:
                out = CliRunner().invoke(main, [*args, "--lake", str(lake)])
            assert out.exit_code == 75, (args, out.output)
            assert out.stderr.startswith(f"Error: another run (pid {os.getpid()}, started ")
    assert partition_files(lake) == {f"date=2026-10-0{d}": 2 for d in range(1, DAYS + 1)}
    assert lake_rows(lake).height == 8  # the lake is intact after the refusals
