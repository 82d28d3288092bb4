"""The lake's promises: every row in one place, reruns never double a row, publishes are atomic
and a killed run leaves the lake as before (and a rerun completes it)."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import signal
import subprocess
import sys
import time

import polars as pl
import pytest

from conftest import ROOT, SAMPLE, ingest, lake_rows, quarantine_rows, record, write_jsonl
from pipeline.lake.store import Lake

LINEAGE = ["_run_id", "_ingested_at", "_source_file"]


def content(rows: pl.DataFrame) -> pl.DataFrame:
    return rows.drop([c for c in LINEAGE if c in rows.columns]).sort("id")


def test_sample_conserves_every_row(lake):
    summary = ingest([SAMPLE], lake)
    assert summary["rows_read"] == summary["rows_written"] + summary["rows_quarantined"] + summary["rows_duplicate"]
    assert summary["rows_written"] == lake_rows(lake).height
    assert summary["rows_quarantined"] == quarantine_rows(lake).height
    assert summary["rows_quarantined"] > 0 and summary["rows_duplicate"] > 0
    for item in summary["file_details"]:
        assert item["rows_read"] == item["rows_written"] + item["rows_quarantined"] + item["rows_duplicate"]
    runs = json.loads((lake / "_runs" / f"{summary['run_id']}.json").read_text())
    assert runs["rows_read"] == summary["rows_read"]
    manifest = pl.read_parquet(lake / "_manifest" / f"{summary['run_id']}.parquet")
    assert manifest["rows_read"].sum() == summary["rows_read"] and manifest["sha256"].n_unique() == manifest.height


def test_partitions_follow_the_utc_date(tmp_path, lake):
    rows = [record(1, created_at="2026-09-01T23:30:00-02:00"), record(2, created_at="2026-09-02T00:30:00+02:00")]
    ingest([write_jsonl(tmp_path / "in.jsonl", rows)], lake)
    dates = sorted(p.name for p in (lake / "generations").iterdir())
    assert dates == ["date=2026-09-01", "date=2026-09-02"]
    assert sorted(p.parent.name for p in (lake / "generations").glob("*/*.parquet")) == dates


def test_ingesting_twice_gives_the_same_lake(tmp_path, lake):
    first = ingest([SAMPLE], lake)
    before = lake_rows(lake)
    second = ingest([SAMPLE], lake)
    assert second["files"] == 0 and second["files_skipped"] == first["files"]
    assert lake_rows(lake).equals(before)
    forced = ingest([SAMPLE], lake, force=True)
    assert forced["rows_written"] == 0
    assert forced["rows_duplicate"] + forced["rows_quarantined"] == forced["rows_read"]
    assert content(lake_rows(lake)).equals(content(before))


def test_duplicates_within_a_run_and_against_the_lake(tmp_path, lake):
    a = write_jsonl(tmp_path / "a.jsonl", [record(1), record(2), record(1)])
    summary = ingest([a], lake)
    assert (summary["rows_written"], summary["rows_duplicate"], summary["rows_quarantined"]) == (2, 1, 0)
    # The same id again, once identical (dropped) and once with other content (quarantined),
    # the conflicting copy dated another day so that it would land in another partition.
    b = write_jsonl(
        tmp_path / "b.jsonl",
        [json.dumps({"data": record(2)}), record(1, created_at="2026-10-20T00:00:00Z"), record(3)],
    )
    summary = ingest([b], lake)
    assert (summary["rows_written"], summary["rows_duplicate"], summary["rows_quarantined"]) == (1, 1, 1)
    rows = lake_rows(lake)
    assert rows["id"].to_list() == [record(i)["id"] for i in (1, 2, 3)]
    kept = rows.filter(rows["id"] == record(1)["id"])
    assert kept["created_at"][0].isoformat().startswith("2026-09-02")
    q = quarantine_rows(lake)
    assert q["source_line"].to_list() == [2]
    assert "conflicting duplicate" in q["reasons"][0][0] and "a.jsonl:1" in q["reasons"][0][0]
    assert q["raw"][0] == json.dumps(record(1, created_at="2026-10-20T00:00:00Z"))


def test_manifest_holds_each_file_s_sha256_however_it_was_hashed(tmp_path, lake):
    # A file of a size not yet in the lake is hashed while it is read; a BOM, a gzip file and a
    # file sharing its size with another are hashed before. The manifest must not tell them apart.
    inputs = tmp_path / "in"
    plain = write_jsonl(inputs / "plain.jsonl", [record(i) for i in range(30)])
    bom = inputs / "bom.jsonl"
    bom.write_bytes(b"\xef\xbb\xbf" + write_jsonl(tmp_path / "b.jsonl", [record(i) for i in range(40, 45)]).read_bytes())
    packed = inputs / "packed.jsonl.gz"
    packed.write_bytes(gzip.compress(write_jsonl(tmp_path / "g.jsonl", [record(i) for i in range(50, 55)]).read_bytes()))
    twin_a = write_jsonl(inputs / "twin_a.jsonl", [record(60)])
    twin_b = write_jsonl(inputs / "twin_b.jsonl", [record(61)])
    assert twin_a.stat().st_size == twin_b.stat().st_size
    summary = ingest([inputs], lake)
    assert summary["rows_written"] == 42
    by_path = {d["path"]: d["sha256"] for d in summary["file_details"]}
    for path in (plain, bom, packed, twin_a, twin_b):
        assert by_path[str(path.resolve())] == hashlib.sha256(path.read_bytes()).hexdigest()
    manifest = pl.read_parquet(lake / "_manifest" / f"{summary['run_id']}.parquet")
    assert dict(zip(manifest["path"], manifest["sha256"], strict=True)) == by_path
    # A copy under another name has a size the manifest knows: hashed first, and skipped.
    copy = tmp_path / "copy.jsonl"
    copy.write_bytes(plain.read_bytes())
    again = ingest([copy], lake)
    assert again["files"] == 0 and again["files_skipped"] == 1
    assert lake_rows(lake).height == 42


def test_same_content_in_two_files_of_one_run_is_read_once(tmp_path, lake):
    a = write_jsonl(tmp_path / "a.jsonl", [record(1)])
    b = tmp_path / "copy.jsonl"
    b.write_bytes(a.read_bytes())
    summary = ingest([a, b], lake)
    assert summary["files"] == 1 and summary["files_skipped"] == 1 and lake_rows(lake).height == 1


def test_nothing_new_changes_nothing(tmp_path, lake):
    a = write_jsonl(tmp_path / "a.jsonl", [record(1)])
    ingest([a], lake)
    version = Lake(lake).current_version()
    listing = sorted(str(p.relative_to(lake)) for p in lake.rglob("*"))
    summary = ingest([a], lake)
    assert summary["files_skipped"] == 1
    assert Lake(lake).current_version() == version
    assert sorted(str(p.relative_to(lake)) for p in lake.rglob("*")) == listing


def test_publish_swaps_the_whole_version_at_once(tmp_path, lake):
    ingest([write_jsonl(tmp_path / "a.jsonl", [record(1)])], lake)
    old = Lake(lake).current_version()
    old_files = sorted(p.name for p in old.rglob("*.parquet"))
    ingest([write_jsonl(tmp_path / "b.jsonl", [record(2)])], lake)
    new = Lake(lake).current_version()
    assert new != old
    assert (lake / "current").is_symlink() and (lake / "generations").is_symlink()
    # The previous version is kept whole for readers still on it.
    assert sorted(p.name for p in old.rglob("*.parquet")) == old_files
    assert lake_rows(lake).height == 2


CRASH_SCRIPT = """
import os, sys
from pathlib import Path
import pipeline.lake.store as lake_module
from pipeline.ingest.run import ingest, Options
point = sys.argv[3]
original = getattr(lake_module.Lake, point)
def crash(self, *args, **kwargs):
    if point == "publish":
        os.kill(os.getpid(), 9)
    result = original(self, *args, **kwargs)
    os.kill(os.getpid(), 9)
setattr(lake_module.Lake, point, crash)
ingest([Path(sys.argv[1])], Path(sys.argv[2]), Options(chunk_bytes=2048))
"""


@pytest.mark.parametrize("point", ["new_version", "publish"])
def test_killed_run_leaves_lake_as_before_and_rerun_completes(tmp_path, point):
    first = write_jsonl(tmp_path / "first.jsonl", [record(i) for i in range(5)])
    second = write_jsonl(tmp_path / "second.jsonl", [record(i) for i in range(5, 40)] + ["{bad"])
    lake = tmp_path / "lake"
    ingest([first], lake)
    before = lake_rows(lake)
    proc = subprocess.run([sys.executable, "-c", CRASH_SCRIPT, str(second), str(lake), point], cwd=ROOT, capture_output=True)
    assert proc.returncode == -signal.SIGKILL
    assert lake_rows(lake).equals(before), "a killed run must not show any of its rows"
    summary = ingest([second], lake)
    assert summary["rows_written"] == 35 and summary["rows_quarantined"] == 1
    clean = tmp_path / "clean"
    ingest([first], clean)
    ingest([second], clean)
    assert content(lake_rows(lake)).equals(content(lake_rows(clean)))
    assert not any(p.name.endswith(".tmp") for p in (lake / "_versions").iterdir())


def test_kill_at_a_random_moment_never_leaves_a_half_state(tmp_path):
    rows = [record(i) for i in range(3000)]
    data = write_jsonl(tmp_path / "big.jsonl", rows)
    lake = tmp_path / "lake"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for delay in (0.3, 0.8, 1.5):
        proc = subprocess.Popen([sys.executable, "-m", "pipeline", "ingest", str(data), "--lake", str(lake)], cwd=ROOT, env=env)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        count = lake_rows(lake).height
        assert count in (0, 3000), f"half state after kill at {delay}s: {count} rows"
    ingest([data], lake)
    assert lake_rows(lake).height == 3000


def test_second_writer_is_refused_while_the_lock_is_held(tmp_path, lake):
    from pipeline.errors import LockHeld

    a = write_jsonl(tmp_path / "a.jsonl", [record(1)])
    with Lake(lake).lock(), pytest.raises(LockHeld) as err:
        ingest([a], lake)
    assert err.value.exit_code == 75
    assert f"another run (pid {os.getpid()}, started " in err.value.message()
    assert ingest([a], lake)["rows_written"] == 1


def test_warnings_count_only_the_rows_kept(tmp_path, lake):
    # The warnings query runs beside the duplicate check; when that check drops rows the
    # warnings are counted again, so a dropped copy is never counted.
    odd = record(7, data_region="mars")
    first = write_jsonl(tmp_path / "a.jsonl", [odd, record(8, data_region="mars")])
    second = write_jsonl(tmp_path / "b.jsonl", [odd, record(9)])
    summary = ingest([first, second], lake)
    assert summary["rows_duplicate"] == 1 and summary["rows_written"] == 3
    warnings = {(w["kind"], w["field"], w["value"]): w["rows"] for w in summary["warnings"]}
    assert warnings[("unknown_enum_value", "data_region", "mars")] == 2
    again = ingest([write_jsonl(tmp_path / "c.jsonl", [record(10, data_region="venus")])], lake)
    assert [(w["value"], w["rows"]) for w in again["warnings"]] == [("venus", 1)]
