"""`Lake.transaction`: the one way every writer (ingest, compact, prune, replay) changes the lake."""

from __future__ import annotations

import errno
import json
import os
import re
from datetime import UTC, datetime
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from conftest import ROOT, ingest, lake_rows, record, write_jsonl
from pipeline.errors import LakeError, LockHeld, Terminated
from pipeline.lake.store import RUN_SUMMARY_KEYS, Lake, RunSummary
from pipeline.schema.table import lake_arrow_schema

STARTED = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def snapshot(lake: Path) -> dict:
    """What a reader and the next writer see: the published version and every file."""
    files = sorted(str(p.relative_to(lake)) for p in lake.rglob("*") if p.is_file() and p.name != ".lock")
    return {"current": os.readlink(lake / "current"), "files": files}


def lock_is_free(lake: Path) -> bool:
    try:
        with Lake(lake).lock(wait=0):
            return True
    except LockHeld:
        return False


def add_file(tx) -> Path:
    path = tx.version / "generations" / "date=2026-01-01" / f"part-{tx.run_id}-00001.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    # A Parquet file of the declared columns and no rows: the transaction rolls its day up.
    pq.write_table(lake_arrow_schema().empty_table(), path)
    return path


@pytest.mark.parametrize(
    "error", [RuntimeError("boom"), KeyboardInterrupt(), Terminated()], ids=lambda error: type(error).__name__
)
def test_a_failure_in_the_body_leaves_the_lake_as_it_was_and_the_lock_free(tmp_path, lake, error):
    ingest([write_jsonl(tmp_path / "a.jsonl", [record(1)])], lake)
    before = snapshot(lake)
    called = []
    with pytest.raises(type(error)), Lake(lake).transaction("test", doing="testing") as tx:
        add_file(tx)
        tx.work.joinpath("scratch").write_text("x")
        tx.after_publish(lambda: called.append(True))
        assert not lock_is_free(lake)
        raise error
    assert snapshot(lake) == before
    assert lock_is_free(lake)
    assert not (lake / "_staging").exists()
    assert not any(p.name.endswith(".tmp") for p in (lake / "_versions").iterdir())
    assert called == []
    assert lake_rows(lake).height == 1


def test_a_body_that_says_nothing_changed_publishes_nothing(tmp_path, lake):
    ingest([write_jsonl(tmp_path / "a.jsonl", [record(1)])], lake)
    before = snapshot(lake)
    with Lake(lake).transaction("test", doing="testing") as tx:
        add_file(tx)
        tx.nothing_changed()
    assert not tx.published
    assert snapshot(lake) == before
    assert not (lake / "_runs" / f"{tx.run_id}.json").exists()


def test_a_body_that_never_uses_the_version_publishes_nothing(tmp_path, lake):
    ingest([write_jsonl(tmp_path / "a.jsonl", [record(1)])], lake)
    before = snapshot(lake)
    with Lake(lake).transaction("test", doing="testing") as tx:
        assert tx.current == Lake(lake).current_version()
    assert not tx.published and snapshot(lake) == before


def test_a_published_run_writes_its_summary_with_the_declared_keys(tmp_path, lake):
    ingest([write_jsonl(tmp_path / "a.jsonl", [record(1)])], lake)
    old = os.readlink(lake / "current")
    seen = []
    with Lake(lake).transaction("test", doing="testing") as tx:
        new = add_file(tx)
        tx.summary.details["partitions"] = []
        tx.after_publish(lambda: seen.append((os.readlink(lake / "current"), lock_is_free(lake))))
    assert tx.published
    assert os.readlink(lake / "current") != old and os.readlink(lake / "current").endswith(tx.run_id)
    assert seen == [(os.readlink(lake / "current"), False)]  # after the swap, under the lock
    assert (lake / "generations" / new.relative_to(tx.version / "generations")).exists()
    written = json.loads((lake / "_runs" / f"{tx.run_id}.json").read_text())
    assert list(written) == [
        "run_id",
        "command",
        "started_at",
        "lake",
        "schema_contract",
        "files",
        "files_skipped",
        "rows_read",
        "rows_written",
        "rows_quarantined",
        "rows_duplicate",
        "warnings",
        "seconds",
        "file_details",
        "partitions",
    ]
    assert (written["run_id"], written["command"], written["lake"]) == (tx.run_id, "test", str(lake.resolve()))
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z", written["started_at"])
    assert not any(p.name.endswith(".tmp") for p in (lake / "_versions").iterdir())
    assert not (lake / "_staging").exists()


def test_the_summary_keys_are_the_ones_the_runs_view_reads():
    view = (ROOT / "sql" / "views" / "runs.sql").read_text()
    read = set(re.findall(r"summary ->>? '\$\.(\w+)'", view))
    assert read and read <= set(RunSummary("r", "ingest", STARTED, "/lake").to_dict())
    assert read <= set(RUN_SUMMARY_KEYS)
    ingest_keys = RunSummary("r", "ingest", STARTED, "/lake", files_ignored=[]).to_dict()
    assert "command" not in ingest_keys and list(ingest_keys)[:3] == ["run_id", "started_at", "lake"]


def test_an_os_error_in_the_body_is_one_lake_error(tmp_path, lake):
    ingest([write_jsonl(tmp_path / "a.jsonl", [record(1)])], lake)
    before = snapshot(lake)
    with pytest.raises(LakeError) as err, Lake(lake).transaction("test", doing="testing the lake") as tx:
        add_file(tx)
        raise OSError(errno.ENOSPC, "No space left on device")
    assert err.value.message() == (
        "Error: the disk is full while testing the lake. Free some space and run again; the lake was not changed."
    )
    assert snapshot(lake) == before and lock_is_free(lake)


def test_a_new_lake_that_publishes_nothing_leaves_no_directory(tmp_path):
    lake = tmp_path / "new-lake"
    with Lake(lake).transaction("test", doing="testing") as tx:
        add_file(tx)
        tx.nothing_changed()
    assert not lake.exists()
    with pytest.raises(RuntimeError), Lake(lake).transaction("test", doing="testing") as tx:
        add_file(tx)
        raise RuntimeError("boom")
    assert not lake.exists()
    with Lake(lake).transaction("test", doing="testing") as tx:
        add_file(tx)
    assert (lake / "current").is_symlink() and (lake / "_runs" / f"{tx.run_id}.json").exists()


def test_lock_false_is_for_a_caller_that_holds_the_lock(tmp_path, lake):
    ingest([write_jsonl(tmp_path / "a.jsonl", [record(1)])], lake)
    with Lake(lake).lock():
        with pytest.raises(LockHeld), Lake(lake).transaction("test", doing="testing"):
            pass
        with Lake(lake).transaction("test", doing="testing", lock=False) as tx:
            add_file(tx)
    assert tx.published and lock_is_free(lake)
