"""The lake on disk: versions published by one atomic step, the writer lock, and the manifest.

Layout (a user-facing contract, see the README):

    <lake>/generations/date=YYYY-MM-DD/*.parquet   the records
    <lake>/quarantine/<run_id>.parquet             rows that failed, with reasons and raw text
    <lake>/_manifest/<run_id>.parquet              ingested files: path, size, sha256, counts
    <lake>/_runs/<run_id>.json                     one summary per run
    <lake>/current -> _versions/<run_id>           the published version

`generations`, `quarantine`, `_manifest` and `_runs` are symbolic links through `current`, and a
run publishes by swapping `current` in one rename. A new version is built beside the old one from
hard links of its files plus the run's new files, so a reader (ours, DuckDB, polars, Spark) sees
the whole old version or the whole new one, and a crash at any moment leaves `current` on the old.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import secrets
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.errors import LakeError, LockHeld
from pipeline.lake import layout as lake_layout
from pipeline.lake import rollup
from pipeline.schema.table import lake_arrow_schema

TREES = lake_layout.TREES
KEEP_OLD_VERSIONS = 1  # versions kept besides the current one, for readers still on them

# _runs/<run_id>.json: the keys in the order they are written, the common ones (read by
# sql/views/runs.sql) among each command's own.
RUN_SUMMARY_KEYS = (
    "run_id",
    "command",
    "started_at",
    "lake",
    "schema_contract",
    "replayed_runs",
    "files",
    "files_skipped",
    "files_ignored",
    "rows_read",
    "rows_written",
    "rows_quarantined",
    "rows_duplicate",
    "rows_kept_unreplayable",
    "rows_skipped_same_line",
    "rows_reasons_changed",
    "quarantine_before",
    "quarantine_after",
    "warnings",
    "seconds",
    "file_details",
    "sources",
    "published",
    "cutoff",
    "partitions",
    "older_than_days",
    "rows_pruned",
)


def new_run_id(now: datetime) -> str:
    """`20261004T101500123Z-a1b2c3`: sorts by start time; names the run's version and files."""
    return now.strftime("%Y%m%dT%H%M%S") + f"{now.microsecond // 1000:03d}Z-" + secrets.token_hex(3)


@dataclass
class RunSummary:
    """What one run did: `_runs/<run_id>.json`, the `runs` view and every writer's `--json`.

    Every run writes the common fields; `command` is left out for an ingest (its summaries have
    never had it), `files_ignored` is written only when set (an ingest's files left out of the
    directories given), and `details` holds the command's own keys (compact's `partitions`, ...)."""

    run_id: str
    command: str
    started_at: datetime
    lake: str
    schema_contract: str | None = None
    files: int = 0
    files_skipped: int = 0
    files_ignored: list[dict] | None = None
    rows_read: int = 0
    rows_written: int = 0
    rows_quarantined: int = 0
    rows_duplicate: int = 0
    warnings: list[dict] = field(default_factory=list)
    seconds: float = 0.0
    file_details: list[dict] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "run_id": self.run_id,
            "command": self.command,
            "started_at": self.started_at.isoformat().replace("+00:00", "Z"),
            "lake": self.lake,
            "schema_contract": self.schema_contract,
            "files": self.files,
            "files_skipped": self.files_skipped,
            "files_ignored": self.files_ignored,
            "rows_read": self.rows_read,
            "rows_written": self.rows_written,
            "rows_quarantined": self.rows_quarantined,
            "rows_duplicate": self.rows_duplicate,
            "warnings": self.warnings,
            "seconds": self.seconds,
            "file_details": self.file_details,
        }
        if self.command == "ingest":
            del out["command"]
        if self.files_ignored is None:
            del out["files_ignored"]
        out.update(self.details)
        order = {key: n for n, key in enumerate(RUN_SUMMARY_KEYS)}
        return {key: out[key] for key in sorted(out, key=lambda key: order.get(key, len(order)))}

    def write(self, version: Path) -> Path:
        """Write the summary into `version` (a version directory) as `_runs/<run_id>.json`."""
        path = lake_layout.run_summary_file(version, self.run_id)
        path.parent.mkdir(exist_ok=True)
        path.write_text(json.dumps(self.to_dict(), indent=2) + "\n")
        return path


def write_schema_file(version: Path) -> Path:
    """Give `version` the empty Parquet file of the declared generation columns that the views
    read first (pipeline/lake/layout.py: schema_file), unless it has it already, as declared."""
    path = lake_layout.schema_file(version)
    schema = lake_arrow_schema()
    if path.is_file():
        try:
            if pq.read_schema(path).equals(schema, check_metadata=False):
                return path
        except (OSError, pa.ArrowInvalid):
            pass
        path.unlink()  # a hard link shared with older versions: never rewritten in place
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(schema.empty_table(), path)
    return path


def disk_error(exc: OSError, what: str) -> LakeError:
    if exc.errno == errno.ENOSPC:
        return LakeError(f"the disk is full while {what}", "Free some space and run again; the lake was not changed.")
    if exc.errno == errno.EROFS:
        return LakeError(
            f"the file system is read-only while {what} ({exc.filename})",
            "Use a lake on a writable file system, or remount it read-write; "
            "report, sql and quarantine only read and still work.",
        )
    if exc.errno in (errno.EACCES, errno.EPERM):
        return LakeError(f"permission denied while {what} ({exc.filename})", "Check the lake directory's permissions.")
    return LakeError(f"{what} failed ({exc})", "Check the lake directory and the disk, then run again.")


class Lake:
    def __init__(self, root: Path):
        self.root = Path(root)

    # --- paths ----------------------------------------------------------------------------
    @property
    def versions(self) -> Path:
        return self.root / lake_layout.VERSIONS

    @property
    def staging(self) -> Path:
        return self.root / lake_layout.STAGING

    @property
    def current_link(self) -> Path:
        return self.root / lake_layout.CURRENT

    def current_version(self) -> Path | None:
        """The published version directory, or None for a lake that has none yet."""
        return lake_layout.current_version(self.root)

    def tree(self, name: str) -> Path:
        return self.root / name

    # --- lock -----------------------------------------------------------------------------
    @contextmanager
    def lock(self, wait: float = 0.0):
        """Exclusive writer lock (flock on `<lake>/.lock`); released when the process dies."""
        existed = self.root.is_dir()
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise disk_error(exc, f"creating the lake at {self.root}") from exc
        try:
            fd = os.open(self.root / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            what = "taking the write lock of the lake at" if existed else "creating the lake at"
            raise disk_error(exc, f"{what} {self.root}") from exc
        try:
            deadline = time.monotonic() + max(wait, 0.0)
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        pid, started = _read_holder(fd)
                        raise LockHeld(pid, started) from None
                    time.sleep(0.2)
            holder = json.dumps({"pid": os.getpid(), "started": _now_iso()}).encode()
            os.ftruncate(fd, 0)
            os.pwrite(fd, holder, 0)
            yield
        finally:
            os.close(fd)  # releases the flock

    # --- versions -------------------------------------------------------------------------
    def clean_stale(self) -> None:
        """Remove what an interrupted run left: unpublished versions and staging areas, and
        published versions older than the ones kept. Call under the lock."""
        current = self.current_version()
        if self.staging.exists():
            shutil.rmtree(self.staging, ignore_errors=True)
        if not self.versions.exists():
            return
        published = sorted(p for p in self.versions.iterdir() if not p.name.endswith(".tmp"))
        for path in self.versions.iterdir():
            if path.name.endswith(".tmp"):
                shutil.rmtree(path, ignore_errors=True)
        keep = {current} if current else set()
        older = [p for p in published if p.resolve() != current]
        keep.update(p.resolve() for p in older[-KEEP_OLD_VERSIONS:] if KEEP_OLD_VERSIONS)
        for path in published:
            if path.resolve() not in keep:
                shutil.rmtree(path, ignore_errors=True)

    def new_version(self, run_id: str) -> Path:
        """A private copy of the current version (hard links), to which a run adds files."""
        target = self.versions / f"{run_id}.tmp"
        try:
            target.mkdir(parents=True)
            current = self.current_version()
            for name in TREES:
                (target / name).mkdir()
                if current is None or not (current / name).exists():
                    continue
                for src_dir, dirs, files in os.walk(current / name):
                    rel = Path(src_dir).relative_to(current)
                    for d in dirs:
                        (target / rel / d).mkdir(exist_ok=True)
                    for f in files:
                        os.link(Path(src_dir) / f, target / rel / f)
        except OSError as exc:
            shutil.rmtree(target, ignore_errors=True)
            raise disk_error(exc, "preparing a new lake version") from exc
        return target

    def publish(self, version_dir: Path) -> Path:
        """Make `version_dir` the current version in one atomic rename."""
        final = version_dir.with_name(version_dir.name.removesuffix(".tmp"))
        try:
            _fsync_tree(version_dir)
            os.rename(version_dir, final)
            link_tmp = self.root / f"{lake_layout.CURRENT}.tmp"
            if link_tmp.is_symlink() or link_tmp.exists():
                link_tmp.unlink()
            os.symlink(os.path.relpath(final, self.root), link_tmp)
            for name in TREES:
                link = self.tree(name)
                if not link.is_symlink():
                    if link.exists():
                        raise LakeError(
                            f"{link} exists and is not the lake's link",
                            "Move it away; orusage manages that path.",
                        )
                    os.symlink(os.path.join(lake_layout.CURRENT, name), link)
            os.replace(link_tmp, self.current_link)
            fsync_path(self.root)
        except OSError as exc:
            raise disk_error(exc, "publishing the new lake version") from exc
        return final

    # --- one writer's change ----------------------------------------------------------------
    @contextmanager
    def transaction(
        self,
        command: str,
        *,
        doing: str,
        wait: float = 0.0,
        lock: bool = True,
        started: datetime | None = None,
    ) -> Iterator[Transaction]:
        """One run's change to the lake, published whole or not at all.

        Takes the writer lock (`lock=False`: the caller holds it already), removes what an
        interrupted run left, and yields a `Transaction` whose `version` is the run's private
        new version. On a clean exit with something to publish (the version was used and the
        body did not call `nothing_changed()`), it writes `tx.summary` into the version,
        publishes it in one rename, removes stale versions and calls the `after_publish`
        callbacks, still under the lock. On any failure (KeyboardInterrupt and Terminated too),
        or with nothing to publish, the unpublished version and the staging area are removed and
        the lake stays as it was. An OSError of the body becomes a LakeError about `doing`
        ("compacting the lake"). A lake directory this run created and left without a published
        version is removed again."""
        created = not self.root.exists()
        tx = Transaction(self, command, started or datetime.now(UTC))
        try:
            with self.lock(wait=wait) if lock else nullcontext():
                self.clean_stale()
                try:
                    try:
                        yield tx
                        if tx.publishing:
                            write_schema_file(tx.version)
                            # The rollup of every day the run changed, in the version it publishes.
                            rollup.update(tx.current, tx.version)
                            tx.summary.write(tx.version)
                    except OSError as exc:
                        raise disk_error(exc, doing) from exc
                    if tx.publishing:
                        self.publish(tx.version)
                        tx.published = True
                finally:
                    if not tx.published and tx.opened and tx.version.exists():
                        shutil.rmtree(tx.version, ignore_errors=True)
                    if self.staging.exists():
                        shutil.rmtree(self.staging, ignore_errors=True)
                self.clean_stale()
                if tx.published:
                    for callback in tx.callbacks:
                        callback()
        finally:
            if created and self.current_version() is None:
                # A run that fails, or finds nothing new, on a lake it created leaves no trace.
                shutil.rmtree(self.root, ignore_errors=True)

    # --- reads ----------------------------------------------------------------------------
    def generation_files(self) -> list[Path]:
        root = self.current_version()
        if root is None:
            return []
        return lake_layout.generation_files(root)

    def manifest(self) -> pa.Table | None:
        root = self.current_version()
        files = lake_layout.manifest_files(root) if root else []
        if not files:
            return None
        return pa.concat_tables([pq.read_table(f) for f in files])

    def ingested_hashes(self) -> dict[str, str]:
        """sha256 -> run id of every file in the manifest."""
        table = self.manifest()
        if table is None:
            return {}
        return dict(zip(table.column("sha256").to_pylist(), table.column("run_id").to_pylist(), strict=True))

    def ingested_sizes(self) -> set[int]:
        """The byte sizes of the files in the manifest (a file of another size is new)."""
        table = self.manifest()
        return set() if table is None else set(table.column("size").to_pylist())


class Transaction:
    """The run in progress inside `Lake.transaction`: its id, its private version and summary."""

    def __init__(self, lake: Lake, command: str, started: datetime):
        self.lake = lake
        self.run_id = new_run_id(started)
        self.started = started
        self.summary = RunSummary(self.run_id, command, started, str(lake.root.resolve()))
        self.changed = True
        self.published = False
        self.callbacks: list[Callable[[], None]] = []
        self._version: Path | None = None

    @property
    def current(self) -> Path | None:
        """The version published when the run started, or None for a lake that has none yet."""
        return self.lake.current_version()

    @property
    def opened(self) -> bool:
        return self._version is not None

    @property
    def version(self) -> Path:
        """The run's private new version: hard links of the current one, made on first use."""
        if self._version is None:
            self._version = self.lake.new_version(self.run_id)
        return self._version

    @property
    def work(self) -> Path:
        """The run's scratch directory under the staging area, removed when the run ends."""
        path = self.lake.staging / self.run_id
        path.mkdir(parents=True, exist_ok=True)
        return path

    @property
    def publishing(self) -> bool:
        return self.changed and self.opened

    def nothing_changed(self) -> None:
        """Publish nothing: the lake stays exactly as it was, and no summary is written."""
        self.changed = False

    def after_publish(self, callback: Callable[[], None]) -> None:
        """Call `callback` once the version is published, under the lock; not when nothing is."""
        self.callbacks.append(callback)


def _read_holder(fd: int) -> tuple[int | None, str | None]:
    try:
        data = json.loads(os.pread(fd, 4096, 0).decode() or "{}")
        return data.get("pid"), data.get("started")
    except (OSError, ValueError):
        return None, None


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def fsync_path(path: Path) -> None:
    """Flush a file's or a directory's data to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_tree(root: Path) -> None:
    """Flush the files a run wrote (not the hard links it made) and every directory."""
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            path = Path(dirpath) / name
            if os.stat(path).st_nlink == 1:
                fsync_path(path)
        fsync_path(Path(dirpath))
