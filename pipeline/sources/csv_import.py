"""The dashboard's per-generation CSV export -> JSON lines -> the same path as any JSONL input.

OpenRouter's dashboard exports one CSV per day (`openrouter_activity_YYYY-MM-DD.csv`). Such a file
is recognised by its header (it names `generation_id` and `created_at`), never by its file name,
and its columns are taken by name, so columns that move between versions of the export do not
matter. Each CSV record becomes one JSON object line: the columns that map to record fields fill
them (`CSV_FIELDS` below is the mapping; docs/csv-import.md explains each choice), every other
column becomes an extra key (so it lands in `_extra`). The lines then walk the same path as a
JSONL file: parse.py (every JSON-type rule), validate.py, quarantine, duplicates, lake.

Line numbers stay physical. The generated text has exactly one line per physical line of the
CSV: a record that spans k lines (a quoted value holding line breaks) becomes its JSON line
followed by k - 1 empty lines, and an empty CSV line stays an empty line, which the parser skips
as it skips blank lines of a JSONL file. So a quarantined or stored row's `_source_line` is the
line where its CSV record starts (the first data record is line 2, after the header).

The chunks are `CsvChunk`s, `LineChunk`s that remember the CSV text of their records: the
quarantine keeps a row's CSV text as `raw` (not the generated JSON), both for rows rejected while
parsing and for conflicting duplicates found later (`ingest._fetch_lines` re-reads through
`files.iter_chunks`, which dispatches here).

How a block is converted, without a Python step per row:
  * numpy finds record boundaries (newlines outside quotes: the count of `"` before a newline is
    even; RFC 4180 doubled quotes keep the parity) and counts each record's fields the same way;
  * pyarrow.csv reads the well-formed records columnar, every column as a string;
  * one DuckDB query builds each JSON line by concatenation (`to_json` escapes strings);
  * Arrow kernels join the lines and the padding newlines into one buffer.
A value that cannot be converted is passed on as a JSON string (`"maybe"` for a boolean, `"n/a"`
for a number), so the strict parser rejects it with its usual reason (`cancelled: expected
boolean, got string`). A record whose field count differs from the header's (a truncated last
line, an unbalanced quote) cannot be mapped to a record: it becomes a JSON array, which the
parser rejects as `line: expected a JSON object, got array`, with the CSV text as raw.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

from pipeline.errors import InputError
from pipeline.schema.table import load_table
from pipeline.sources.read import (
    BOM,
    COMPRESSIONS,
    DEFAULT_CHUNK_BYTES,
    LineChunk,
    input_kind,
    open_stream,
    read_blocks,
    utf8_valid,
)

CSV_SUFFIX = ".csv"  # read.input_kind: a `.csv` name (optionally .gz/.zst) is of kind "csv"
HEADER_SNIFF_BYTES = 64 * 1024
SNIFF_COLUMNS = ("generation_id", "created_at")  # a header naming both is a dashboard export


@dataclass(frozen=True)
class CsvField:
    """One record field filled from one CSV column.

    kind  string     the cell's text; an empty cell is null
          number     the cell's text when it is a JSON number, else the text as a JSON string
                     (rejected by the parser); an empty cell is null
          bool       "true" / "false"; an empty cell is null; anything else as a JSON string
          timestamp  the text as is: the parser reads an instant without offset as UTC
    """

    column: str
    field: str
    kind: str
    note: str


# The mapping, one line per record field filled from the CSV (docs/csv-import.md renders the
# same list and a test compares them). `is_byok`, `upstream_inference_cost` and `origin` are
# derived, see `_derived_sql`.
CSV_FIELDS: tuple[CsvField, ...] = (
    CsvField("generation_id", "id", "string", "the generation id"),
    CsvField("created_at", "created_at", "timestamp", "`2026-06-28 03:46:57.713`, no offset: read as UTC"),
    CsvField("cost_total", "total_cost", "number", "what the generation cost in credits"),
    CsvField("cost_total", "usage", "number", "`usage` equals `total_cost` in every real record"),
    CsvField("tokens_prompt", "native_tokens_prompt", "number", "the dashboard shows billed (native) tokens"),
    CsvField("tokens_completion", "native_tokens_completion", "number", "billed completion tokens"),
    CsvField("tokens_reasoning", "native_tokens_reasoning", "number", "part of the completion tokens"),
    CsvField("tokens_cached", "native_tokens_cached", "number", "part of the prompt tokens"),
    CsvField("model_permaslug", "model", "string", "the CSV has no slug: `model` holds the permaslug"),
    CsvField("provider_name", "provider_name", "string", "as written"),
    CsvField("cancelled", "cancelled", "bool", "`true` / `false`"),
    CsvField("streamed", "streamed", "bool", "`true` / `false`"),
    CsvField("user", "external_user", "string", "the caller's `user` identifier"),
    CsvField("finish_reason_normalized", "finish_reason", "string", "normalized finish reason"),
    CsvField("finish_reason_raw", "native_finish_reason", "string", "the provider's finish reason"),
    CsvField("generation_time_ms", "generation_time", "number", "ms"),
    CsvField("time_to_first_token_ms", "latency", "number", "ms; `latency` behaves like time to first token"),
)
BYOK_COLUMN = "byok_usage_inference"  # -> upstream_inference_cost under BYOK, and is_byok
IS_BYOK_COLUMN = "is_byok"  # used as is when a version of the export has it
# Columns a file must have: without them every row would lack a required field.
REQUIRED_COLUMNS = ("generation_id", "created_at", "cost_total", "model_permaslug")
EXTRA_PREFIX = "csv:"  # an unmapped column named like a record field keeps this prefix in _extra

JSON_NUMBER = r"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?"


def _compression(path: Path) -> str | None:
    kind = input_kind(path)
    return kind[1] if kind else None


def csv_source_sql(column: str) -> str:
    """SQL that is true when the path in `column` is a CSV input (how the lake tells CSV rows)."""
    codecs = "|".join(re.escape(s) for s in COMPRESSIONS)
    pattern = re.escape(CSV_SUFFIX) + f"({codecs})?$"
    return f"regexp_matches(lower({column}), '{pattern}')"


# --- the header ------------------------------------------------------------------------------


def read_header(path: Path) -> list[str] | None:
    """The column names of the first line of a (possibly compressed) CSV file, or None when the
    file does not start with a parseable header line."""
    compression = _compression(path)
    stream = open_stream(path, compression)
    try:
        try:
            head = stream.read(HEADER_SNIFF_BYTES)
        except OSError as exc:
            raise InputError(str(path), f"cannot be read ({exc})", "Check the file; re-export it if it is corrupt.") from exc
    finally:
        stream.close()
    head = head.removeprefix(BOM)
    end = head.find(b"\n")
    line = head if end < 0 else head[:end]
    try:
        text = line.decode("utf-8").rstrip("\r")
    except UnicodeDecodeError:
        return None
    rows = list(csv.reader(io.StringIO(text)))
    if len(rows) != 1:
        return None
    return [name.strip() for name in rows[0]]


def is_dashboard_csv(path: Path) -> bool:
    """True when the file's header names at least `generation_id` and `created_at`."""
    header = read_header(path)
    return header is not None and all(name in header for name in SNIFF_COLUMNS)


# --- the conversion query --------------------------------------------------------------------


def _sql_str(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _value_sql(column: str, kind: str) -> str:
    """SQL for the JSON text of one cell converted by `kind` (see CsvField)."""
    c = _ident(column)
    as_string = f"to_json({c})::VARCHAR"
    if kind in ("string", "timestamp"):
        return f"(CASE WHEN {c} = '' THEN 'null' ELSE {as_string} END)"
    if kind == "number":
        return (
            f"(CASE WHEN {c} = '' THEN 'null' WHEN regexp_full_match({c}, {_sql_str(JSON_NUMBER)}) THEN {c} ELSE {as_string} END)"
        )
    if kind == "bool":
        return f"(CASE WHEN {c} = '' THEN 'null' WHEN {c} IN ('true', 'false') THEN {c} ELSE {as_string} END)"
    raise ValueError(kind)


def _derived_sql(header: list[str]) -> list[tuple[str, str]]:
    """(field, JSON SQL) of the derived fields: is_byok, upstream_inference_cost, origin.

    is_byok: the `is_byok` column when the export has one, else true when byok_usage_inference
    is a non-zero number (negative on a BYOK refund), else false.
    upstream_inference_cost: byok_usage_inference when the row is BYOK, else null (the CSV does
    not hold the upstream cost of a request paid with OpenRouter credits). A cell that is not a
    number is passed on as a string, so the row is rejected whatever is_byok says.
    origin: required but not in the export: "" (the API's own value for an unknown origin)."""
    out = []
    byok = _ident(BYOK_COLUMN) if BYOK_COLUMN in header else None
    byok_number = f"regexp_full_match({byok}, {_sql_str(JSON_NUMBER)})" if byok else None
    if IS_BYOK_COLUMN in header:
        out.append(("is_byok", _value_sql(IS_BYOK_COLUMN, "bool")))
        is_byok = f"({_ident(IS_BYOK_COLUMN)} = 'true')"
    elif byok:
        is_byok = f"({byok_number} AND TRY_CAST({byok} AS DOUBLE) <> 0)"
        out.append(("is_byok", f"(CASE WHEN {is_byok} THEN 'true' ELSE 'false' END)"))
    else:
        is_byok = "false"
        out.append(("is_byok", "'false'"))
    if byok:
        out.append(
            (
                "upstream_inference_cost",
                (
                    f"(CASE WHEN {byok} = '' THEN 'null' WHEN NOT {byok_number} THEN to_json({byok})::VARCHAR "
                    f"WHEN {is_byok} THEN {byok} ELSE 'null' END)"
                ),
            )
        )
    out.append(("origin", "'\"\"'"))
    return out


def consumed_columns(header: list[str]) -> set[str]:
    """The header's columns that fill record fields (the others go to `_extra`)."""
    used = {f.column for f in CSV_FIELDS} | {BYOK_COLUMN, IS_BYOK_COLUMN}
    return {name for name in header if name in used}


def extra_key(column: str, taken: set[str]) -> str:
    return EXTRA_PREFIX + column if column in taken else column


def build_convert_sql(header: list[str]) -> str:
    """The query that turns `csv_rows(__i, <header columns as VARCHAR>)` into `line`, one JSON
    object per row, in order."""
    table = load_table()
    pieces: list[tuple[str, str]] = [(f.field, _value_sql(f.column, f.kind)) for f in CSV_FIELDS if f.column in header]
    pieces += _derived_sql(header)
    emitted = {name for name, _ in pieces}
    taken = set(table.names) | emitted
    used = consumed_columns(header)
    for column in header:
        if column not in used:
            pieces.append((extra_key(column, taken), _value_sql(column, "string")))
    parts = []
    for i, (key, value) in enumerate(pieces):
        prefix = ("{" if i == 0 else ",") + json.dumps(key) + ":"
        parts.append(f"{_sql_str(prefix)} || {value}")
    body = " || ".join(parts) + " || '}'"
    return f"SELECT {body} AS line FROM csv_rows ORDER BY __i"


# --- reading -----------------------------------------------------------------------------------


class CsvChunk(LineChunk):
    """The generated JSON lines of a block of CSV records, with the CSV text of each record.

    `raw_at` and `bad_utf8` answer with the CSV text of the record that starts on the line, so
    the quarantine keeps what the user's file holds."""

    def __init__(
        self, data: np.ndarray, first_line: int, source: np.ndarray, starts: np.ndarray, ends: np.ndarray, lines: np.ndarray
    ):
        super().__init__(data, first_line)
        self._source = source  # the block's CSV bytes
        self._starts, self._ends = starts, ends  # byte span of each record in `source`
        self._lines = lines  # first physical line of each record (increasing)

    def csv_text(self, number: int) -> str:
        i = int(np.searchsorted(self._lines, number, side="right")) - 1
        piece = self._source[self._starts[i] : self._ends[i]].tobytes()
        return piece.decode("utf-8", errors="replace").rstrip("\r\n")

    def raw_at(self, positions: np.ndarray) -> list[str]:
        numbers = self.split.line_numbers[np.asarray(positions, dtype=np.int64)]
        return [self.csv_text(int(n)) for n in numbers]

    @property
    def bad_utf8(self) -> list[tuple[int, str]]:
        return [(number, self.csv_text(number)) for number, _ in super().bad_utf8]


class _Block:
    """Record boundaries and field counts of a block of CSV bytes that starts outside quotes."""

    def __init__(self, data: np.ndarray, at_end: bool):
        quotes = np.flatnonzero(data == 34)
        newlines = np.flatnonzero(data == 10)
        outside = (np.searchsorted(quotes, newlines) & 1) == 0
        bounds = newlines[outside]
        ends = bounds + 1
        self.unbalanced = False
        if at_end and (len(ends) == 0 or ends[-1] != len(data)) and len(data):
            ends = np.append(ends, len(data))  # the last record has no line ending
            self.unbalanced = bool(len(quotes) & 1)
        self.size = int(ends[-1]) if len(ends) else 0  # bytes that form whole records
        self.ends = ends.astype(np.int64)
        self.starts = np.concatenate(([0], self.ends[:-1])).astype(np.int64)
        # Physical lines: every newline counts, quoted or not.
        nl_before_end = np.searchsorted(newlines, self.ends)  # newlines inside [0, end)
        nl_before_start = np.searchsorted(newlines, self.starts)
        inside = nl_before_end - nl_before_start
        terminated = (self.ends > 0) & (data[np.maximum(self.ends - 1, 0)] == 10)
        self.line_count = (inside - terminated + 1).astype(np.int64)  # physical lines per record
        commas = np.flatnonzero(data == 44)
        commas = commas[(np.searchsorted(quotes, commas) & 1) == 0]
        self.fields = (np.searchsorted(commas, self.ends) - np.searchsorted(commas, self.starts) + 1).astype(np.int64)
        content = self.ends - self.starts - terminated
        has_cr = (content > 0) & (data[np.maximum(self.starts + content - 1, 0)] == 13)
        self.content_len = content - has_cr  # bytes without the line ending


def _cut_after_last_record(data: np.ndarray) -> int | None:
    """Where a block of CSV ends: after its last line ending outside quotes (None: none yet)."""
    quotes = np.flatnonzero(data == 34)
    newlines = np.flatnonzero(data == 10)
    outside = newlines[(np.searchsorted(quotes, newlines) & 1) == 0]
    return int(outside[-1]) + 1 if len(outside) else None


class _Converter:
    def __init__(self, path: Path, header: list[str]):
        self.path, self.header = path, header
        self.sql = build_convert_sql(header)
        self.con = duckdb.connect()
        self.width = len(header)

    def close(self) -> None:
        self.con.close()

    def convert(self, data: np.ndarray, block: _Block, first: int, first_line: int) -> CsvChunk | None:
        """The chunk of records `first`.. of `block` (record `first` starts on `first_line`)."""
        starts, ends = block.starts[first:], block.ends[first:]
        if len(starts) == 0:
            return None
        fields, content = block.fields[first:], block.content_len[first:]
        n = len(starts)
        empty = content == 0
        kind = np.zeros(n, dtype=np.int8)  # 0 good, 1 empty line, 2 wrong field count, 3 bad UTF-8
        kind[empty] = 1
        maybe_blank = np.flatnonzero(~empty & (fields == 1))
        for i in maybe_blank.tolist():  # whitespace-only lines are blank lines, as in JSONL
            if not data[starts[i] : ends[i]].tobytes().strip():
                kind[i] = 1
        kind[(kind == 0) & (fields != self.width)] = 2
        if block.unbalanced:
            kind[n - 1] = 2
        good = np.flatnonzero(kind == 0)
        if len(good) and not utf8_valid(data[starts[good[0]] : ends[good[-1]]]):
            for i in good.tolist():
                try:
                    data[starts[i] : ends[i]].tobytes().decode("utf-8")
                except UnicodeDecodeError:
                    kind[i] = 3
            good = np.flatnonzero(kind == 0)
        lines = first_line + np.concatenate(([0], np.cumsum(block.line_count[first:])[:-1])).astype(np.int64)
        json_lines = self._json_lines(data, starts, ends, good, lines)
        texts = self._texts(n, kind, good, json_lines, fields)
        pads = pc.binary_repeat(pa.repeat(pa.scalar(b"\n", pa.large_binary()), n), pa.array(block.line_count[first:]))
        joined = pc.binary_join_element_wise(texts, pads, pa.scalar(b"", pa.large_binary()))
        offsets = np.frombuffer(joined.buffers()[1], dtype=np.int64)[joined.offset : joined.offset + n + 1]
        body = np.frombuffer(joined.buffers()[2], dtype=np.uint8)[int(offsets[0]) : int(offsets[-1])]
        return CsvChunk(body, first_line, data, starts, ends, lines)

    def _json_lines(self, data, starts, ends, good, lines) -> pa.Array:
        if len(good) == 0:
            return pa.array([], pa.large_binary())
        contiguous = np.all(starts[good[1:]] == ends[good[:-1]]) if len(good) > 1 else True
        if contiguous:
            source = data[starts[good[0]] : ends[good[-1]]]
        else:
            source = np.concatenate([data[starts[i] : ends[i]] for i in good.tolist()])
        names = [f"c{i}" for i in range(self.width)]
        try:
            table = pcsv.read_csv(
                pa.BufferReader(pa.py_buffer(source)),
                read_options=pcsv.ReadOptions(column_names=names, block_size=max(1 << 20, min(len(source) + 1, 64 << 20))),
                parse_options=pcsv.ParseOptions(newlines_in_values=True, ignore_empty_lines=True),
                convert_options=pcsv.ConvertOptions(
                    column_types={name: pa.string() for name in names},
                    strings_can_be_null=False,
                    quoted_strings_can_be_null=False,
                ),
            )
        except pa.ArrowInvalid as exc:
            raise InputError(
                str(self.path),
                f"lines {lines[good[0]]}-{lines[good[-1]]} are not valid CSV ({exc})",
                "Check the file; re-export it from the dashboard.",
            ) from exc
        if table.num_rows != len(good):
            raise InputError(
                str(self.path),
                f"lines {lines[good[0]]}-{lines[good[-1]]} split into {table.num_rows} CSV records, expected {len(good)} "
                "(a bare carriage return or a quote inside an unquoted value?)",
                "Check the file; re-export it from the dashboard.",
            )
        table = table.rename_columns(self.header).append_column("__i", pa.array(np.arange(len(good), dtype=np.int64)))
        self.con.register("csv_rows", table)
        try:
            out = self.con.sql(self.sql).to_arrow_table().column("line")
        finally:
            self.con.unregister("csv_rows")
        return out.combine_chunks().cast(pa.large_binary())

    def _texts(self, n, kind, good, json_lines, fields) -> pa.Array:
        if len(good) == n:
            return json_lines
        bad = np.flatnonzero(kind == 2)
        specials = [b"", b"\xff"]  # an empty line; a line that is not UTF-8 (the parser says so)
        specials += [f'["CSV record with {fields[i]} fields, the header has {self.width}"]'.encode() for i in bad.tolist()]
        pool = pa.concat_arrays([json_lines, pa.array(specials, pa.large_binary())])
        index = np.empty(n, dtype=np.int64)
        index[good] = np.arange(len(good))
        index[kind == 1] = len(good)
        index[kind == 3] = len(good) + 1
        index[bad] = len(good) + 2 + np.arange(len(bad))
        return pool.take(pa.array(index))


def iter_csv_chunks(path: Path, chunk_bytes: int = DEFAULT_CHUNK_BYTES) -> Iterator[LineChunk]:
    """The records of a dashboard CSV export as chunks of JSON lines (see the module doc).

    Raises InputError when the file is not a dashboard export, lacks a required column, names a
    column twice, or cannot be split into CSV records."""
    compression = _compression(path)
    stream = open_stream(path, compression)
    converter: _Converter | None = None
    next_line = 1
    try:
        for data, at_end in read_blocks(stream, path, chunk_bytes, compression, _cut_after_last_record):
            block = _Block(data, at_end)
            first = 0
            if converter is None:
                converter = _start(path, data, block)
                next_line += int(block.line_count[0])
                first = 1
            chunk = converter.convert(data, block, first, next_line)
            if chunk is not None:
                next_line += chunk.count
                yield chunk
    finally:
        stream.close()
        if converter is not None:
            converter.close()


def _start(path: Path, data: np.ndarray, block: _Block) -> _Converter:
    """Check the header (the block's first record) and make the converter for the file."""
    text = data[block.starts[0] : block.ends[0]].tobytes()
    try:
        rows = list(csv.reader(io.StringIO(text.decode("utf-8").rstrip("\r\n"))))
    except (UnicodeDecodeError, csv.Error):
        rows = []
    header = [name.strip() for name in rows[0]] if len(rows) == 1 else []
    if not all(name in header for name in SNIFF_COLUMNS):
        raise InputError(
            str(path),
            "is not an OpenRouter dashboard export (its header lacks generation_id and created_at)",
            "Give the per-generation CSV from the dashboard's Activity page, or JSONL records.",
        )
    twice = sorted({name for name in header if header.count(name) > 1})
    if twice:
        raise InputError(str(path), f"the header names {', '.join(twice)} more than once", "Re-export the file.")
    missing = [name for name in REQUIRED_COLUMNS if name not in header]
    if missing:
        raise InputError(
            str(path),
            f"the header lacks {', '.join(missing)}, which required fields come from",
            "Re-export the file with every column; docs/csv-import.md lists the mapping.",
        )
    return _Converter(path, header)


# --- duplicates: a CSV copy of a record kept from JSONL, or the other way round ----------------

# Per compared field: how two values agree. A null on either side asserts nothing (the CSV has
# no value for many fields, an older JSONL record lacks others).
_MONEY = 1e-9  # USD: the dashboard may print fewer digits than the API
_MS = 1.0  # ms: the dashboard prints whole milliseconds


def csv_agreement_sql(new: str, kept: str, new_csv: str, kept_csv: str) -> str:
    """SQL true when two copies of a record agree on every field the CSV fills.

    `new` / `kept` are struct expressions of the two copies' record fields (as in
    ingest.duplicates_sql), `new_csv` / `kept_csv` SQL booleans telling which copy came from a
    CSV file. `model`: a CSV copy holds the permaslug, so it agrees with the other copy's model,
    or with the permaslug of the other copy's served attempt, or (when that copy has no
    attempts) it cannot be checked and agrees."""
    checks = []
    fields = sorted({f.field for f in CSV_FIELDS} | {"is_byok", "upstream_inference_cost"})
    table = load_table()
    for name in fields:
        if name in ("id", "model"):
            continue
        a, b = f'{new}."{name}"', f'{kept}."{name}"'
        ftype = table.field(name).type
        if name == "created_at":
            same = f"abs(epoch_us({a}) - epoch_us({b})) < 1000"
        elif ftype == "float" and name in ("generation_time", "latency"):
            same = f"abs({a} - {b}) <= {_MS}"
        elif ftype == "float":
            same = f"abs({a} - {b}) <= {_MONEY}"
        else:
            same = f"{a} = {b}"
        checks.append(f"({a} IS NULL OR {b} IS NULL OR {same})")

    def served(x: str) -> str:
        return f"{x}.provider_responses[len({x}.provider_responses)].model_permaslug"

    model = (
        f"({new}.model = {kept}.model"
        f" OR ({new_csv} AND NOT {kept_csv} AND coalesce({new}.model = {served(kept)}, true))"
        f" OR ({kept_csv} AND NOT {new_csv} AND coalesce({kept}.model = {served(new)}, true)))"
    )
    return "(" + " AND ".join([*checks, model]) + ")"
