"""One ingest run: input files -> validated rows in a new lake version, published atomically.

A row walks one way: bytes -> typed batch (parse.py) -> valid or quarantined (validate.py) ->
staged Parquet in the run's private version -> duplicates settled against the run and the lake
-> published. Every row read ends in exactly one place: written, quarantined or counted as an
identical duplicate, and the run refuses to publish if those do not add up.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

import duckdb
import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pipeline.errors import InputError, LakeError
from pipeline.ingest.parse import Parser
from pipeline.ingest.steps import StepClock
from pipeline.ingest.threads import Background, prefetch
from pipeline.ingest.validate import failure_reasons
from pipeline.lake import layout as lake_layout
from pipeline.lake import views
from pipeline.lake.formats import MANIFEST_SCHEMA, QUARANTINE_SCHEMA
from pipeline.lake.store import Lake, RunSummary, Transaction, fsync_path
from pipeline.schema.table import FieldTable, dictionary_columns, lake_arrow_schema, load_table
from pipeline.sources.csv_import import csv_agreement_sql, csv_source_sql
from pipeline.sources.files import describe_ignored, discover, iter_chunks
from pipeline.sources.read import (
    DEFAULT_CHUNK_BYTES,
    LONG_LINE_KEEP,
    MAX_LINE_BYTES,
    LineChunk,
    hashes_while_reading,
    sha256_of,
)

SCHEMA_CONTRACTS = ("evolve", "freeze")
BATCH_ROWS = 100_000  # rows validated per pandera call


@dataclass
class Options:
    force: bool = False
    schema_contract: str = "evolve"
    chunk_bytes: int = DEFAULT_CHUNK_BYTES
    wait: float = 0.0
    # More keys of the run summary, published with the run's version (in the same step) and
    # only if it publishes: the scheduled run's collection watermark (pipeline/openrouter/feed.py).
    summary_details: dict | None = None


@dataclass
class FileStats:
    path: str
    size: int
    sha256: str
    rows_read: int = 0
    rows_written: int = 0
    rows_quarantined: int = 0
    rows_duplicate: int = 0
    rows_not_json: int = 0  # lines that are not a JSON object at all (not JSON, not UTF-8, too long)
    skipped: str | None = None  # why the file was not read (already ingested)


@dataclass
class RunState:
    run_id: str
    started: datetime
    table: FieldTable
    contract: str
    files: list[FileStats] = field(default_factory=list)
    ignored: list[tuple[Path, str]] = field(default_factory=list)  # left out of the directories given


class ParsedLines(Protocol):
    """Parsed lines of one source, as `validate_batch` takes them: a `read.LineChunk` after
    `Parser.prepare`, or other lines typed by `parse_lines` (a quarantine replay's)."""

    parsed: pa.Table | None  # typed rows; `pos` indexes the lines
    bad_utf8: Sequence[tuple[int, str]]  # (line number, text) of lines that are not UTF-8
    too_long: Sequence[tuple[int, int, str]]  # (line number, size, text kept) of lines over the limit

    def line_numbers_at(self, positions: np.ndarray) -> np.ndarray: ...

    def raw_at(self, positions: np.ndarray) -> list[str]: ...


class QuarantineSink(Protocol):
    """Where rows that fail go: `QuarantineWriter`, or a replay's collector of verdicts."""

    def add(
        self, source_file: str, lines: list[int], ids: list[str | None], reasons: list[list[str]], raws: list[str]
    ) -> None: ...


# raw_lines(source_file, line numbers) -> {line number: raw text}
RawLines = Callable[[str, set[int]], dict[int, str]]


# --- writers ---------------------------------------------------------------------------------


class PartitionWriter:
    """Writes valid rows into the partitions of the version at `root`
    (`generations/date=YYYY-MM-DD/part-<run>-<n>.parquet`) through the declared Arrow schema,
    buffering per date so that row groups stay large."""

    FLUSH_ROWS = 100_000  # rows buffered before a write: bounds the memory held by the writer
    MAX_OPEN = 64

    def __init__(self, root: Path, run_id: str, schema: pa.Schema):
        self.root, self.run_id, self.schema = root, run_id, schema
        self.pending: dict[str, list[pa.Table]] = {}
        self.pending_rows = 0
        self.writers: dict[str, pq.ParquetWriter] = {}
        self.open_paths: dict[str, Path] = {}
        self.seq = 0
        self.paths: list[Path] = []
        self.dictionary = dictionary_columns()

    def add(self, rows: pa.Table) -> None:
        if rows.num_rows == 0:
            return
        micros = pc.cast(rows.column("created_at"), pa.int64()).to_numpy()
        days = micros // 86_400_000_000  # floor division: the UTC day, also before 1970
        if len(days) > 1 and np.any(days[1:] < days[:-1]):
            # Out of time order: group the days together (stable, so lines keep their order).
            order = np.argsort(days, kind="stable")
            rows, days = rows.take(pa.array(order)), days[order]
        # Each day is now one run of rows: hand on zero-copy slices.
        starts = np.concatenate(([0], np.flatnonzero(np.diff(days)) + 1))
        ends = np.append(starts[1:], len(days))
        for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
            date = (np.datetime64(0, "D") + np.timedelta64(int(days[start]), "D")).astype(str)
            self.pending.setdefault(date, []).append(rows.slice(start, end - start))
        self.pending_rows += rows.num_rows
        if self.pending_rows >= self.FLUSH_ROWS:
            self.flush()

    def flush(self) -> None:
        for date, parts in self.pending.items():
            writer = self.writers.get(date)
            if writer is None:
                if len(self.writers) >= self.MAX_OPEN:
                    self._close_writers()
                self.seq += 1
                path = lake_layout.partition_dir(self.root, date) / f"part-{self.run_id}-{self.seq:05d}.parquet"
                path.parent.mkdir(parents=True, exist_ok=True)
                writer = pq.ParquetWriter(path, self.schema, compression="zstd", use_dictionary=self.dictionary)
                self.writers[date] = writer
                self.open_paths[date] = path
                self.paths.append(path)
            writer.write_table(pa.concat_tables(parts))
        self.pending.clear()
        self.pending_rows = 0

    def _close_writers(self) -> None:
        for date, writer in self.writers.items():
            writer.close()
            fsync_path(self.open_paths[date])  # here, beside the parsing, rather than all at publish
        self.writers.clear()
        self.open_paths.clear()

    def close(self) -> list[Path]:
        self.flush()
        self._close_writers()
        return self.paths

    def abort(self) -> None:
        """Close without flushing, ignoring write errors (the run is being abandoned)."""
        self.pending.clear()
        for writer in self.writers.values():
            with contextlib.suppress(Exception):
                writer.close()
        self.writers.clear()
        self.open_paths.clear()


class QuarantineWriter:
    def __init__(self, path: Path, run_id: str, now: datetime):
        self.path, self.run_id, self.now = path, run_id, now
        self.writer: pq.ParquetWriter | None = None
        self.rows = 0

    def add(self, source_file: str, lines: list[int], ids: list[str | None], reasons: list[list[str]], raws: list[str]) -> None:
        if not lines:
            return
        n = len(lines)
        table = pa.table(
            {
                "run_id": pa.array([self.run_id] * n, pa.string()),
                "source_file": pa.array([source_file] * n, pa.string()),
                "source_line": pa.array(lines, pa.int64()),
                "id": pa.array(ids, pa.string()),
                "reasons": pa.array(reasons, pa.list_(pa.string())),
                "raw": pa.array(raws, pa.string()),
                "quarantined_at": pa.array([self.now] * n, pa.timestamp("us", tz="UTC")),
            },
            schema=QUARANTINE_SCHEMA,
        )
        if self.writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.writer = pq.ParquetWriter(self.path, QUARANTINE_SCHEMA, compression="zstd")
        self.writer.write_table(table)
        self.rows += n

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None

    def abort(self) -> None:
        if self.writer is not None:
            with contextlib.suppress(Exception):
                self.writer.close()
            self.writer = None


# --- the run ---------------------------------------------------------------------------------


def ingest(paths: list[Path], lake_root: Path, options: Options | None = None, *, lock: bool = True) -> dict:
    """Ingest `paths` into the lake at `lake_root`; returns the run summary (also written to
    `<lake>/_runs/<run_id>.json`). Raises OrusageError when the run cannot proceed; then the
    lake is left as it was. `lock=False` is for a caller that already holds the lake lock."""
    options = options or Options()
    if options.schema_contract not in SCHEMA_CONTRACTS:
        raise ValueError(options.schema_contract)
    clock = time.monotonic()
    ignored: list[tuple[Path, str]] = []
    files = discover([Path(p) for p in paths], ignored)
    if not files:
        raise InputError(
            ", ".join(str(p) for p in paths),
            f"no file to ingest ({describe_ignored([(p.name, why) for p, why in ignored])})",
            "Give .jsonl, .ndjson or .json files (optionally .gz or .zst) or the dashboard's .csv export.",
        )
    started = datetime.now(UTC)
    table = load_table()
    lake = Lake(lake_root)
    use_system_allocator()
    parser = Parser(table)  # ORUSAGE_PARSER decides which parser (an error here, before the lock)
    steps = StepClock()
    try:
        with lake.transaction("ingest", doing="writing the run's files", wait=options.wait, lock=lock, started=started) as tx:
            state = RunState(tx.run_id, started, table, options.schema_contract)
            state.ignored = ignored
            _run(tx, files, state, options, clock, parser, steps)
            if options.summary_details:
                tx.summary.details.update(options.summary_details)
            tx.after_publish(lambda: _refresh_views(lake.root))
    finally:
        parser.close()
    summary = tx.summary.to_dict()
    if tx.published:
        summary["seconds"] = round(time.monotonic() - clock, 3)
    summary["parser"] = parser.kind  # native (simdjson) or arrow (Arrow's JSON reader)
    summary["cpu_seconds"] = steps.totals()
    return summary


def use_system_allocator() -> None:
    """Arrow's buffers from the C library's allocator instead of Arrow's default pool (mimalloc),
    which holds on to freed memory: measured with writes flushed every 100,000 rows, the ingest's
    peak RSS was 813 MB at 1M records and 850 MB at 5M with it, 903 MB at 1M with mimalloc, at
    the same CPU time. `ARROW_DEFAULT_MEMORY_POOL`, when set, still decides. The pool is the
    process's: every later Arrow allocation of the process uses it too."""
    if not os.environ.get("ARROW_DEFAULT_MEMORY_POOL") and pa.default_memory_pool().backend_name != "system":
        pa.set_memory_pool(pa.system_memory_pool())


def _refresh_views(lake_root: Path) -> None:
    """Rebuild `<lake>/orusage.duckdb` for the new version (the data is already published)."""
    from pipeline.lake.views import refresh_views

    try:
        refresh_views(lake_root)
    except (OSError, duckdb.Error) as exc:
        raise LakeError(
            f"the lake was updated, but rebuilding {lake_root / 'orusage.duckdb'} failed ({exc})",
            "orusage commands still work; the next ingest that adds data rebuilds it.",
        ) from exc


def _run(
    tx: Transaction, files: list[Path], state: RunState, options: Options, clock: float, parser: Parser, steps: StepClock
) -> None:
    """Read, validate and stage `files` into the transaction's version and fill its summary;
    the CPU time of each step is counted in `steps`."""
    lake = tx.lake
    known = {} if options.force else lake.ingested_hashes()
    version = tx.version
    work = tx.work
    schema = lake_arrow_schema(state.table)
    writer = PartitionWriter(version, state.run_id, schema)
    quarantine = QuarantineWriter(lake_layout.quarantine_file(version, state.run_id), state.run_id, state.started)
    background = Background(steps.timed("write", writer.add), depth=2)
    seen_hashes: dict[str, str] = {}
    # A file's sha256 decides whether it is skipped, so it is known before the file is read,
    # except when no other file can match it: no file of the same size is in the manifest or
    # elsewhere in this run. Then it is hashed from the blocks as they are read (one pass over
    # the file instead of two), and recorded when the file is done.
    sizes = {path: path.stat().st_size for path in files}
    same_size = Counter(sizes.values())
    known_sizes = set() if options.force else lake.ingested_sizes()
    try:
        for path in files:
            size = sizes[path]
            inline = hashes_while_reading(path) and same_size[size] == 1 and size not in known_sizes
            stats = FileStats(str(path.resolve()), size, "" if inline else steps.timed("hash", sha256_of)(path))
            state.files.append(stats)
            if stats.sha256 in known:
                stats.skipped = f"already ingested by run {known[stats.sha256]}"
                continue
            if stats.sha256 in seen_hashes:
                stats.skipped = f"same content as {seen_hashes[stats.sha256]} in this run"
                continue
            digest = hashlib.sha256() if inline else None
            batch: list = []
            rows = 0
            # Three stages run at once: one thread reads (and hashes) the next blocks, another
            # parses, and this one validates and hands on to the writer, in batches of about
            # BATCH_ROWS rows (pandera's cost is mostly per call).
            chunks = prefetch(
                lambda path=path, digest=digest: prefetch(
                    lambda: steps.iterate("read", iter_chunks(path, options.chunk_bytes, steps.digest(digest)))
                ),
                depth=2,
                prepare=steps.timed("parse", parser.prepare),
            )
            with contextlib.closing(chunks):  # a failure here stops the reading threads at once
                for chunk in chunks:
                    batch.append(chunk)
                    rows += chunk.parsed.num_rows
                    if rows >= BATCH_ROWS:
                        with steps.step("validate"):
                            validate_batch(batch, stats, state, background.submit, quarantine, schema)
                        batch, rows = [], 0
            if batch:
                with steps.step("validate"):
                    validate_batch(batch, stats, state, background.submit, quarantine, schema)
            if stats.rows_read and stats.rows_not_json == stats.rows_read:
                raise InputError(
                    stats.path,
                    f"no line is a JSON object ({stats.rows_read:,} lines read); it is not an export of generation records",
                    "Give JSON lines exports (one record per line); remove this file from the input.",
                )
            if digest is not None:
                stats.sha256 = digest.hexdigest()
            seen_hashes[stats.sha256] = stats.path
        background.close()
        with steps.step("write"):
            new_files = writer.close()
        # The warnings query reads the staged files beside the duplicate check; it is run again
        # only when the check rewrote some of them (waiting first, so no file changes under it).
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="orusage-warnings") as pool:
            pending = pool.submit(unknown_value_warnings, new_files, state.table)
            with steps.step("duplicates"):
                dropped = settle_duplicates(version, new_files, state, quarantine, schema, work, before_rewrite=pending.result)
            warnings = pending.result()
        if dropped:
            warnings = unknown_value_warnings(new_files, state.table)
        quarantine.close()
        check_conservation(state.files)
        _fill_summary(tx.summary, state, warnings, clock)
        if tx.summary.files == 0:
            tx.nothing_changed()  # nothing new: the lake stays exactly as it was
            return
        _write_manifest(version, state)
    except BaseException:
        # Nothing of this run is published: release the open files (the transaction drops its version).
        background.abort()
        writer.abort()
        quarantine.abort()
        raise


def parse_lines(parser: Parser, lines: Sequence[str]) -> pa.Table:
    """Type `lines` (JSON text) as the ingest types a block it read: one row per non-blank line,
    `pos` its index in `lines`."""
    data = np.frombuffer(("\n".join(lines) + "\n").encode("utf-8"), dtype=np.uint8)
    return parser.parse_chunk(LineChunk(data, 1))


def validate_batch(
    chunks: Sequence[ParsedLines],
    stats: FileStats,
    state: RunState,
    submit: Callable[[pa.Table], None],
    quarantine: QuarantineSink,
    schema: pa.Schema,
) -> None:
    """Validate the parsed rows of consecutive chunks of one file in one pandera call; quarantine
    the rows that fail with every reason, `submit` the others (as `schema`) with their lineage."""
    source = stats.path
    for chunk in chunks:
        for number, text in chunk.bad_utf8:
            stats.rows_read += 1
            stats.rows_quarantined += 1
            stats.rows_not_json += 1
            quarantine.add(source, [number], [None], [["line: not valid UTF-8"]], [text])
        for number, size, text in chunk.too_long:
            stats.rows_read += 1
            stats.rows_quarantined += 1
            stats.rows_not_json += 1
            reason = f"line: too long ({size:,} bytes; the limit is {MAX_LINE_BYTES:,}; raw text cut to {LONG_LINE_KEEP:,} bytes)"
            quarantine.add(source, [number], [None], [[reason]], [text])
    parts = [c.parsed for c in chunks if c.parsed.num_rows]
    if not parts:
        return
    parsed = pa.concat_tables(parts)
    owner = np.repeat(np.arange(len(parts)), [p.num_rows for p in parts])
    owners = [c for c in chunks if c.parsed.num_rows]
    for chunk in chunks:
        chunk.parsed = None  # the batch holds the rows now
    stats.rows_read += parsed.num_rows
    positions = parsed.column("pos").to_numpy()

    reasons: dict[int, list[str]] = {}
    errors = parsed.column("_errors")
    for row in pc.indices_nonzero(pc.fill_null(pc.greater(pc.list_value_length(errors), 0), False)).to_pylist():
        reasons[row] = errors[row].as_py()
        stats.rows_not_json += reasons[row][0].startswith("line:")
    if state.contract == "freeze":
        extra = parsed.column("_extra_keys")
        for row in pc.indices_nonzero(pc.fill_null(pc.greater(pc.list_value_length(extra), 0), False)).to_pylist():
            reasons.setdefault(row, []).extend(f"{k}: unknown key (schema contract is freeze)" for k in extra[row].as_py())

    record = parsed.select(list(state.table.names))
    for row, found in failure_reasons(pl.from_arrow(record, rechunk=False), state.table).items():
        already = reasons.get(row, [])
        if any(r.startswith("line:") for r in already):
            continue
        flagged = {r.split(":", 1)[0].split("[", 1)[0] for r in already}
        more = [r for r in found if r.split(":", 1)[0].split("[", 1)[0] not in flagged]
        if more:
            reasons.setdefault(row, []).extend(more)

    lines = np.empty(parsed.num_rows, dtype=np.int64)
    for i, chunk in enumerate(owners):
        mask = owner == i
        lines[mask] = chunk.line_numbers_at(positions[mask])
    if reasons:
        bad = np.array(sorted(reasons))
        raws: list[str] = []
        for i, chunk in enumerate(owners):
            mine = bad[owner[bad] == i]
            if len(mine):
                raws += chunk.raw_at(positions[mine])
        quarantine.add(
            source,
            lines[bad].tolist(),
            pc.take(parsed.column("id"), pa.array(bad)).to_pylist(),
            [reasons[r] for r in bad.tolist()],
            raws,
        )
        stats.rows_quarantined += len(bad)
        keep = np.ones(parsed.num_rows, dtype=bool)
        keep[bad] = False
        parsed = parsed.filter(pa.array(keep))
        lines = lines[keep]
    if parsed.num_rows == 0:
        return
    n = parsed.num_rows
    rows = parsed.select([*state.table.names, "_extra"])
    rows = rows.append_column("_source_file", pa.repeat(pa.scalar(source, pa.string()), n))
    rows = rows.append_column("_source_line", pa.array(lines))
    rows = rows.append_column("_run_id", pa.repeat(pa.scalar(state.run_id, pa.string()), n))
    rows = rows.append_column("_ingested_at", pa.repeat(pa.scalar(state.started, pa.timestamp("us", tz="UTC")), n))
    submit(rows.select(schema.names).cast(schema))
    stats.rows_written += n


# --- duplicates ------------------------------------------------------------------------------


def duplicates_sql(table: FieldTable) -> str:
    """Rows of the run's new files whose id was kept before (earlier in the run, or in the lake),
    with the verdict: `duplicate` when the content (every record field and `_extra`) is identical
    to the copy kept, else `conflict`. Only ids seen twice are ever compared in full.

    Dashboard CSV rows (csv_import.py) hold fewer fields: when either copy came from a CSV file
    it is a `duplicate` when both agree on the fields the CSV fills (`csv_agreement_sql`), and
    within a run a JSONL copy is kept before a CSV copy of the same record."""
    content = ", ".join(f'"{name}" := "{name}"' for name in table.names) + ", _extra := _extra"
    # CSV copies (csv_import.py): compared on the fields the CSV fills.
    kept = "coalesce(o.content, r.first_content)"
    new_csv = csv_source_sql("r._source_file")
    kept_csv = csv_source_sql("coalesce(o._source_file, r.first_file)")
    return f"""
WITH new_ids AS (
    SELECT id, _source_file FROM read_parquet($new_files)
),
old_ids AS (
    SELECT id FROM read_parquet($old_files) WHERE $has_old AND id IN (SELECT id FROM new_ids)
),
repeated AS (
    SELECT id FROM new_ids GROUP BY id HAVING count(*) > 1
    UNION
    SELECT id FROM old_ids
),
old AS (
    SELECT id, struct_pack({content}) AS content, _run_id, _source_file, _source_line
    FROM read_parquet($old_files)
    WHERE $has_old AND id IN (SELECT id FROM old_ids)
),
cand AS (
    SELECT n.id, n.filename, n._source_file, n._source_line, f.ord, struct_pack({content}) AS content
    FROM read_parquet($new_files, filename = true) n JOIN files f USING (_source_file)
    WHERE n.id IN (SELECT id FROM repeated)
),
ranked AS (
    SELECT c.*,
        row_number() OVER w AS rn,
        first_value(c.content) OVER w AS first_content,
        first_value(c._source_file) OVER w AS first_file,
        first_value(c._source_line) OVER w AS first_line
    FROM cand c
    WINDOW w AS (PARTITION BY c.id ORDER BY {csv_source_sql("c._source_file")}, c.ord, c._source_line
                 ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)
)
SELECT r.id, r.filename, r._source_file, r._source_line,
    CASE WHEN {new_csv} OR {kept_csv}
         THEN CASE WHEN {csv_agreement_sql("r.content", kept, new_csv, kept_csv)} THEN 'duplicate' ELSE 'conflict' END
         WHEN coalesce(o.content, r.first_content) IS NOT DISTINCT FROM r.content
         THEN 'duplicate' ELSE 'conflict' END AS verdict,
    coalesce(o._source_file, r.first_file) AS kept_file,
    coalesce(o._source_line, r.first_line) AS kept_line,
    o._run_id AS kept_run
FROM ranked r LEFT JOIN old o USING (id)
WHERE o.id IS NOT NULL OR r.rn > 1
ORDER BY r._source_file, r._source_line
"""


def settle_duplicates(
    version: Path,
    new_files: list[Path],
    state: RunState,
    quarantine: QuarantineSink,
    schema: pa.Schema,
    work: Path,
    *,
    raw_lines: RawLines | None = None,
    before_rewrite: Callable[[], object] | None = None,
) -> int:
    """Drop identical duplicates and quarantine conflicting ones, by id, within the run and
    against the lake; the copy kept first stays. `raw_lines(source_file, line_numbers) -> {line:
    text}` gives the raw text of conflicting rows (default: read from the source file; a
    quarantine replay passes the quarantined text instead). `before_rewrite()` is called before
    any staged file is rewritten. Returns the number of rows dropped from the staged files."""
    if not new_files:
        return 0
    new_set = set(new_files)
    old_files = [p for p in lake_layout.generation_files(version) if p not in new_set]
    con = duckdb.connect()
    try:
        con.execute("SET memory_limit = '256MB'")
        con.execute("SET temp_directory = ?", [str(work / "duckdb-tmp")])
        order = pa.table(
            {
                "_source_file": pa.array([f.path for f in state.files], pa.string()),
                "ord": pa.array(range(len(state.files)), pa.int64()),
            }
        )
        con.register("files", order)
        found = con.sql(
            duplicates_sql(state.table),
            params={
                "new_files": [str(p) for p in new_files],
                "old_files": [str(p) for p in old_files] or [str(new_files[0])],
                "has_old": bool(old_files),
            },
        ).to_arrow_table()
    finally:
        con.close()
    if found.num_rows == 0:
        return 0
    if before_rewrite is not None:
        before_rewrite()
    by_path = {s.path: s for s in state.files}
    rows = found.to_pylist()
    conflicts: dict[str, list[dict]] = {}
    for row in rows:
        stats = by_path[row["_source_file"]]
        stats.rows_written -= 1
        if row["verdict"] == "duplicate":
            stats.rows_duplicate += 1
        else:
            stats.rows_quarantined += 1
            conflicts.setdefault(row["_source_file"], []).append(row)
    # Rewrite the staged files that held dropped rows, without them.
    for filename in sorted({row["filename"] for row in rows}):
        drop = {(row["_source_file"], row["_source_line"]) for row in rows if row["filename"] == filename}
        table = pq.read_table(filename, schema=schema)
        keys = list(zip(table.column("_source_file").to_pylist(), table.column("_source_line").to_pylist(), strict=True))
        mask = pa.array([k not in drop for k in keys])
        kept = table.filter(mask)
        os.unlink(filename)
        if kept.num_rows:
            pq.write_table(kept, filename, compression="zstd")
    for source, items in conflicts.items():
        wanted = {row["_source_line"] for row in items}
        raws = raw_lines(source, wanted) if raw_lines is not None else _fetch_lines(Path(source), wanted)
        quarantine.add(
            source,
            [row["_source_line"] for row in items],
            [row["id"] for row in items],
            [[_conflict_reason(row)] for row in items],
            [raws.get(row["_source_line"], "") for row in items],
        )
    return found.num_rows


def _conflict_reason(row: dict) -> str:
    where = f"{row['kept_file']}:{row['kept_line']}"
    if row["kept_run"]:
        where += f" (run {row['kept_run']})"
    return f"id: conflicting duplicate, other content than the record kept from {where}"


def _fetch_lines(path: Path, wanted: set[int]) -> dict[int, str]:
    """The raw text of a few lines of a file (for rows found bad after they were staged)."""
    out: dict[int, str] = {}
    for chunk in iter_chunks(path):
        last = chunk.first_line + chunk.count
        if not any(chunk.first_line <= n < last for n in wanted):
            continue
        numbers = chunk.split.line_numbers
        hits = np.flatnonzero(np.isin(numbers, list(wanted)))
        for number, text in zip(numbers[hits].tolist(), chunk.raw_at(hits), strict=True):
            out[int(number)] = text
        if len(out) == len(wanted):
            break
    return out


# --- summary ---------------------------------------------------------------------------------


def unknown_value_warnings(new_files: list[Path], table: FieldTable) -> list[dict]:
    """Unknown values of open enums and unknown top-level keys among the rows written."""
    files = [str(p) for p in new_files if p.exists()]
    if not files:
        return []
    parts = []
    for path, f in table.enum_fields:
        known = ", ".join("'" + v.replace("'", "''") + "'" for v in f.enum)
        if path.startswith("provider_responses[]."):
            column = f"unnest(provider_responses).{f.name}"
            source = f"(SELECT {column} AS v FROM read_parquet($files))"
        else:
            source = f'(SELECT "{f.name}" AS v FROM read_parquet($files))'
        parts.append(
            f"SELECT 'unknown_enum_value' AS kind, '{path}' AS field, v AS value, count(*) AS rows "
            f"FROM {source} WHERE v IS NOT NULL AND v NOT IN ({known}) GROUP BY v"
        )
    parts.append(
        "SELECT 'extra_key' AS kind, '_extra' AS field, k AS value, count(*) AS rows FROM "
        "(SELECT unnest(json_keys(_extra)) AS k FROM read_parquet($files) WHERE _extra IS NOT NULL) GROUP BY k"
    )
    con = views.memory_connection()
    try:
        result = con.sql(" UNION ALL ".join(parts) + " ORDER BY kind, field, value", params={"files": files})
        return [dict(zip(("kind", "field", "value", "rows"), r, strict=True)) for r in result.fetchall()]
    finally:
        con.close()


def _fill_summary(summary: RunSummary, state: RunState, warnings: list[dict], clock: float) -> None:
    read = [f for f in state.files if f.skipped is None]
    total = Counter()
    for f in read:
        total.update(
            rows_read=f.rows_read,
            rows_written=f.rows_written,
            rows_quarantined=f.rows_quarantined,
            rows_duplicate=f.rows_duplicate,
        )
    summary.schema_contract = state.contract
    summary.files = len(read)
    summary.files_skipped = len(state.files) - len(read)
    summary.files_ignored = [{"path": str(path), "reason": reason} for path, reason in state.ignored]
    summary.rows_read = total["rows_read"]
    summary.rows_written = total["rows_written"]
    summary.rows_quarantined = total["rows_quarantined"]
    summary.rows_duplicate = total["rows_duplicate"]
    summary.warnings = warnings
    summary.seconds = round(time.monotonic() - clock, 3)
    summary.file_details = [
        {
            "path": f.path,
            "size": f.size,
            "sha256": f.sha256,
            "skipped": f.skipped,
            "rows_read": f.rows_read,
            "rows_written": f.rows_written,
            "rows_quarantined": f.rows_quarantined,
            "rows_duplicate": f.rows_duplicate,
        }
        for f in state.files
    ]


def check_conservation(files: Sequence[FileStats]) -> None:
    """Every row read is written, quarantined or an identical duplicate, in each file and in the
    run; raises LakeError (nothing is published) when not."""
    total = FileStats("the run", 0, "")
    for f in files:
        total.rows_read += f.rows_read
        total.rows_written += f.rows_written
        total.rows_quarantined += f.rows_quarantined
        total.rows_duplicate += f.rows_duplicate
    for item in [*files, total]:
        accounted = item.rows_written + item.rows_quarantined + item.rows_duplicate
        if item.rows_read != accounted:
            raise LakeError(
                f"rows do not add up for {item.path}: read {item.rows_read}, written + quarantined + duplicate = {accounted}",
                "Nothing was published; please report this as a bug with the input file.",
            )


def _write_manifest(version: Path, state: RunState) -> None:
    read = [f for f in state.files if f.skipped is None]
    if not read:
        return
    columns = {name: [getattr(f, name) for f in read] for name in ("path", "size", "sha256")}
    columns.update({name: [getattr(f, name) for f in read] for name in MANIFEST_SCHEMA.names if name.startswith("rows_")})
    columns["run_id"] = [state.run_id] * len(read)
    columns["ingested_at"] = [state.started] * len(read)
    table = pa.table({name: columns[name] for name in MANIFEST_SCHEMA.names}, schema=MANIFEST_SCHEMA)
    pq.write_table(table, lake_layout.manifest_file(version, state.run_id))
