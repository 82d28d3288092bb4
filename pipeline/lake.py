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
import shutil
import time
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.errors import LakeError, LockHeld

TREES = ("generations", "quarantine", "_manifest", "_runs")
KEEP_OLD_VERSIONS = 1  # versions kept besides the current one, for readers still on them


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
        return self.root / "_versions"

    @property
    def staging(self) -> Path:
        return self.root / "_staging"

    @property
    def current_link(self) -> Path:
        return self.root / "current"

    def current_version(self) -> Path | None:
        """The published version directory, or None for a lake that has none yet."""
        if not self.current_link.is_symlink():
            return None
        return (self.root / os.readlink(self.current_link)).resolve()

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
            raise disk_error(exc, "preparing a new lake version") from exc
        return target

    def publish(self, version_dir: Path) -> Path:
        """Make `version_dir` the current version in one atomic rename."""
        final = version_dir.with_name(version_dir.name.removesuffix(".tmp"))
        try:
            _fsync_tree(version_dir)
            os.rename(version_dir, final)
            link_tmp = self.root / "current.tmp"
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
                    os.symlink(os.path.join("current", name), link)
            os.replace(link_tmp, self.current_link)
            fsync_path(self.root)
        except OSError as exc:
            raise disk_error(exc, "publishing the new lake version") from exc
        return final

    # --- reads ----------------------------------------------------------------------------
    def generation_files(self) -> list[Path]:
        root = self.current_version()
        if root is None:
            return []
        return sorted((root / "generations").glob("date=*/*.parquet"))

    def manifest(self) -> pa.Table | None:
        root = self.current_version()
        files = sorted((root / "_manifest").glob("*.parquet")) if root else []
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
