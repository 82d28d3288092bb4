"""Quarantine replay: re-validate quarantined rows under the current schema and contract.

The quarantined raw lines walk the ingest's own path: `parse_lines` types them, `validate_batch`
applies the JSON-type checks, the schema contract and the pandera schema (`failure_reasons`),
`PartitionWriter` stages the rows that pass, and `settle_duplicates` applies the duplicate rules
against the lake (an identical copy is a duplicate, another content under a kept id a conflict).
A row keeps its lineage: `_source_file` and `_source_line` are the original ones; `_run_id` and
`_ingested_at` are the replay run's, which writes `_runs/<run_id>.json` like any run.

In the same published version the rows that now pass (written, or dropped as duplicates) leave
the quarantine, and the rows that still fail stay in their quarantine file (same run, same
source_file/source_line) with the reasons of this validation. So, across all runs,

    rows in the lake + rows in the quarantine + Σ duplicates = Σ rows read by the ingest runs

and a second replay with nothing new to accept changes nothing. Lines quarantined as not valid
UTF-8 are never replayed (their stored text is lossy), nor rows of a dashboard CSV export (their
stored text is the CSV record, not the JSON line); when one input line was quarantined twice
(a file ingested again with --force) it is replayed once and its copies follow its outcome.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.errors import LakeError, OrusageError
from pipeline.ingest.parse import Parser
from pipeline.ingest.run import (
    BATCH_ROWS,
    SCHEMA_CONTRACTS,
    FileStats,
    PartitionWriter,
    RunState,
    check_conservation,
    parse_lines,
    settle_duplicates,
    unknown_value_warnings,
    validate_batch,
)
from pipeline.lake import layout as lake_layout
from pipeline.lake.formats import QUARANTINE_SCHEMA
from pipeline.lake.store import Lake, Transaction
from pipeline.schema import sqlfiles
from pipeline.schema.table import FieldTable, lake_arrow_schema, load_table
from pipeline.sources.read import input_kind

UNREPLAYABLE = "line: not valid UTF-8"


@dataclass
class _Row:
    file: str  # quarantine file name (in the version's quarantine/ directory)
    file_row: int
    source_file: str
    source_line: int
    raw: str
    reasons: list[str]


@dataclass
class QuarantinedLines:
    """Parsed quarantined lines (`ingest.ParsedLines`): their line numbers and raw text are
    those of the original input file; a stored line is never too long or not UTF-8."""

    parsed: pa.Table | None
    lines: np.ndarray
    raws: list[str]
    bad_utf8: tuple[tuple[int, str], ...] = ()
    too_long: tuple[tuple[int, int, str], ...] = ()

    def line_numbers_at(self, positions: np.ndarray) -> np.ndarray:
        return self.lines[positions]

    def raw_at(self, positions: np.ndarray) -> list[str]:
        return [self.raws[int(p)] for p in positions]


@dataclass
class Verdicts:
    """The rows the ingest stages quarantine again (`ingest.QuarantineSink`):
    (source_file, line) -> reasons."""

    failed: dict[tuple[str, int], list[str]] = field(default_factory=dict)

    def add(self, source_file: str, lines: list[int], ids: list[str | None], reasons: list[list[str]], raws: list[str]) -> None:
        for line, why in zip(lines, reasons, strict=True):
            self.failed[(source_file, int(line))] = list(why)


def replay(
    lake_root: Path,
    run_id: str | None = None,
    *,
    schema_contract: str = "evolve",
    wait: float = 0.0,
    table: FieldTable | None = None,
) -> dict:
    """Replay the quarantine (or the rows of runs whose id starts with `run_id`); returns the
    replay run's summary. Nothing is published when no row changes."""
    if schema_contract not in SCHEMA_CONTRACTS:
        raise ValueError(schema_contract)
    clock = time.monotonic()
    lake = Lake(lake_root)
    with lake.transaction("replay", doing="replaying the quarantine", wait=wait) as tx:
        current = tx.current
        if current is None:
            raise OrusageError(f"no lake at {lake.root}", "Run `orusage ingest PATH` first, or pass --lake DIR.")
        state = RunState(tx.run_id, tx.started, table or load_table(), schema_contract)
        rows = _select(current, run_id)
        if run_id is not None and not rows:
            raise OrusageError(
                f"no quarantined row belongs to a run starting with {run_id!r}",
                "List the runs with `orusage quarantine`.",
            )
        _replay(tx, state, rows, run_id, clock)
        if not tx.summary.details["published"]:
            tx.nothing_changed()
    summary = tx.summary.to_dict()
    summary["seconds"] = round(time.monotonic() - clock, 3)
    return summary


def replayable(row: _Row) -> bool:
    """A row whose stored text is the exact JSON line: not a line that was not UTF-8 (stored
    with replacement characters), not a line too long to keep whole, not a blank one, not a
    CSV record (stored as CSV text)."""
    if UNREPLAYABLE in row.reasons or not row.raw.strip():
        return False
    if any(reason.startswith("line: too long") for reason in row.reasons):
        return False
    kind = input_kind(Path(row.source_file))
    return kind is None or kind[0] != "csv"


def _select(current: Path, run_id: str | None) -> list[_Row]:
    files = lake_layout.quarantine_files(current)
    if not files:
        return []
    con = duckdb.connect()
    try:
        params = {"files": [str(f) for f in files], "run": run_id}
        result = sqlfiles.run_file(con, "quarantine_replay_rows", params).fetchall()
    finally:
        con.close()
    return [
        _Row(Path(filename).name, int(file_row), source_file, int(source_line), raw, list(reasons))
        for (_run, source_file, source_line, _id, reasons, raw, _at, filename, file_row) in result
    ]


def _replay(tx: Transaction, state: RunState, rows: list[_Row], run_filter: str | None, clock: float) -> None:
    """Replay `rows` in the transaction's version and fill its summary."""
    version, work = tx.version, tx.work
    # One input line is replayed once: group the rows by (source_file, source_line); the newest
    # is the primary, identical copies follow it, a different text under the same place waits.
    primaries: list[_Row] = []
    copies: dict[int, list[_Row]] = defaultdict(list)
    kept_unreplayable = skipped = 0
    groups: dict[tuple[str, int], list[_Row]] = defaultdict(list)
    for row in rows:
        groups[(row.source_file, row.source_line)].append(row)
    for group in groups.values():
        first = group[0]
        if not replayable(first):
            kept_unreplayable += len(group)
            continue
        primaries.append(first)
        for other in group[1:]:
            if other.raw == first.raw:
                copies[id(first)].append(other)
            else:
                skipped += 1

    schema = lake_arrow_schema(state.table)
    writer = PartitionWriter(version, state.run_id, schema)
    verdicts = Verdicts()
    by_source: dict[str, list[_Row]] = defaultdict(list)
    for row in primaries:
        by_source[row.source_file].append(row)
    parser = Parser(state.table)
    try:
        for source, items in by_source.items():
            stats = FileStats(source, 0, "")
            state.files.append(stats)
            for start in range(0, len(items), BATCH_ROWS):
                batch = items[start : start + BATCH_ROWS]
                raws = [r.raw for r in batch]
                lines = np.array([r.source_line for r in batch], dtype=np.int64)
                parsed = parse_lines(parser, raws)
                if parsed.num_rows != len(batch):
                    raise LakeError(
                        f"replaying {len(batch)} quarantined lines of {source} parsed {parsed.num_rows} rows",
                        "Nothing was published; please report this as a bug.",
                    )
                chunk = QuarantinedLines(parsed, lines, raws)
                validate_batch([chunk], stats, state, writer.add, verdicts, schema)
        new_files = writer.close()
    finally:
        parser.close()
    raw_of = {(r.source_file, r.source_line): r.raw for r in primaries}
    settle_duplicates(
        version,
        new_files,
        state,
        verdicts,
        schema,
        work,
        raw_lines=lambda source, wanted: {n: raw_of[(source, n)] for n in wanted},
    )

    # Outcomes: a primary not quarantined again passed (written or duplicate); copies follow it.
    remove: dict[str, set[int]] = defaultdict(set)
    new_reasons: dict[str, dict[int, list[str]]] = defaultdict(dict)
    by_path = {s.path: s for s in state.files}
    for row in primaries:
        why = verdicts.failed.get((row.source_file, row.source_line))
        stats = by_path[row.source_file]
        followers = copies.get(id(row), [])
        stats.rows_read += len(followers)
        if why is None:
            stats.rows_duplicate += len(followers)
            for r in [row, *followers]:
                remove[r.file].add(r.file_row)
        else:
            stats.rows_quarantined += len(followers)
            for r in [row, *followers]:
                if r.reasons != why:
                    new_reasons[r.file][r.file_row] = why

    counts = {
        k: sum(getattr(s, k) for s in state.files) for k in ("rows_read", "rows_written", "rows_quarantined", "rows_duplicate")
    }
    quarantine_before = _rows(lake_layout.quarantine_files(version))
    lake_before = _rows(lake_layout.generation_files(version), exclude=set(new_files))
    for name in sorted(set(remove) | set(new_reasons)):
        path = lake_layout.quarantine_file(version, name.removesuffix(".parquet"))
        _rewrite_quarantine(path, remove.get(name, set()), new_reasons.get(name, {}))
    moved = counts["rows_written"] + counts["rows_duplicate"]
    summary = tx.summary
    summary.schema_contract = state.contract
    summary.rows_read = counts["rows_read"]
    summary.rows_written = counts["rows_written"]
    summary.rows_quarantined = counts["rows_quarantined"]
    summary.rows_duplicate = counts["rows_duplicate"]
    summary.warnings = unknown_value_warnings(new_files, state.table)
    summary.seconds = round(time.monotonic() - clock, 3)
    changed = sum(len(v) for v in new_reasons.values())
    summary.details = {
        "replayed_runs": run_filter,
        "rows_kept_unreplayable": kept_unreplayable,
        "rows_skipped_same_line": skipped,
        "rows_reasons_changed": changed,
        "quarantine_before": quarantine_before,
        "quarantine_after": quarantine_before - moved,
        "sources": [
            {
                "source_file": s.path,
                "rows_read": s.rows_read,
                "rows_written": s.rows_written,
                "rows_quarantined": s.rows_quarantined,
                "rows_duplicate": s.rows_duplicate,
            }
            for s in state.files
        ],
        "published": bool(moved or changed),
    }
    check_conservation(state.files)
    quarantine_after = _rows(lake_layout.quarantine_files(version))
    lake_after = _rows(lake_layout.generation_files(version))
    if quarantine_after != quarantine_before - moved or lake_after != lake_before + counts["rows_written"]:
        raise LakeError(
            f"replay does not add up: quarantine {quarantine_before} -> {quarantine_after} rows "
            f"(expected {quarantine_before - moved}), lake {lake_before} -> {lake_after} rows "
            f"(expected + {counts['rows_written']})",
            "Nothing was published; please report this as a bug.",
        )


def _rows(files: list[Path], exclude: set[Path] = frozenset()) -> int:
    return sum(pq.ParquetFile(f).metadata.num_rows for f in files if f not in exclude and f.exists())


def _rewrite_quarantine(path: Path, drop: set[int], reasons: dict[int, list[str]]) -> None:
    """Write `path` (a hard link in the private version) anew without the rows at `drop` and with
    the new reasons at the positions in `reasons`; only replayed rows are touched one by one."""
    table = pq.read_table(path, schema=QUARANTINE_SCHEMA)
    if reasons:
        column = table.column("reasons").to_pylist()
        for position, why in reasons.items():
            column[position] = why
        index = table.schema.get_field_index("reasons")
        table = table.set_column(index, QUARANTINE_SCHEMA.field("reasons"), pa.array(column, pa.list_(pa.string())))
    if drop:
        keep = np.ones(table.num_rows, dtype=bool)
        keep[list(drop)] = False
        table = table.filter(pa.array(keep))
    path.unlink()
    if table.num_rows:
        pq.write_table(table.cast(QUARANTINE_SCHEMA), path, compression="zstd")
