"""Lines of JSON -> a typed batch, with the JSON-level checks that a typed frame cannot show.

One DuckDB query, generated from the field table, parses a chunk of raw lines. For each line it
unwraps the API envelope, checks that every present key holds its declared JSON type (a string is
never coerced into a number or a boolean, an integer field refuses 25.5), parses `created_at`,
collects unknown top-level keys into `_extra`, and returns the typed columns with a list of the
reasons the line failed (`_errors`, empty when none). Value rules (non-empty, >= 0, finite,
nullability) are left to the pandera schema in `validate.py`.

Two paths give the same result. The fast path hands a block's bytes to Arrow's JSON reader with
an explicit schema: it refuses any value of the wrong JSON type, an unknown key or a malformed
line, so a block it accepts is exactly what the strict path would produce (envelopes are
unwrapped, `created_at` goes through the same parse). A block it refuses goes to the strict path,
one DuckDB query generated from the field table that gives every reason for every line. Both are
vectorised; no line becomes a Python object here.
"""

from __future__ import annotations

import json
import re
from itertools import pairwise

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

from pipeline.ingest.native import NativeParser, chosen_parser
from pipeline.lake import views
from pipeline.schema.table import Field, FieldTable, attempt_duckdb_type, load_table, record_arrow_schema

# DuckDB's json_type names for each declared scalar type.
_JSON_TYPES = {
    "string": ("VARCHAR",),
    "int": ("BIGINT", "UBIGINT", "DOUBLE"),
    "float": ("BIGINT", "UBIGINT", "DOUBLE"),
    "bool": ("BOOLEAN",),
    "timestamp": ("VARCHAR",),
    "provider_responses": ("ARRAY",),
}
_EXPECTED = {
    "string": "string",
    "int": "integer",
    "float": "number",
    "bool": "boolean",
    "timestamp": "ISO 8601 string",
    "provider_responses": "array",
}
_JSON_NAMES = {
    "VARCHAR": "string",
    "BIGINT": "integer",
    "UBIGINT": "integer",
    "DOUBLE": "number",
    "BOOLEAN": "boolean",
    "ARRAY": "array",
    "OBJECT": "object",
    "NULL": "null",
}

# An ISO 8601 instant: date, `T` or space, time with optional fraction, optional `Z` or offset.
ISO_INSTANT = r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?([Zz]|[+-]\d{2}(:?\d{2})?)?$"

# The subset of ISO_INSTANT the API writes, which Arrow's cast reads the same way as DuckDB.
CANONICAL_INSTANT = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$"

INT64_MAX = 9223372036854775807


def _sql_str(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _json_name_sql(type_expr: str) -> str:
    cases = " ".join(f"WHEN {_sql_str(k)} THEN {_sql_str(v)}" for k, v in _JSON_NAMES.items())
    return f"(CASE {type_expr} {cases} ELSE lower({type_expr}) END)"


def _int_ok(value: str, jtype: str) -> str:
    """SQL that is true when a JSON number fits an int64 field (integral float allowed)."""
    return (
        f"(CASE WHEN {jtype} = 'BIGINT' THEN true "
        f"WHEN {jtype} = 'UBIGINT' THEN TRY_CAST({value} AS UBIGINT) <= {INT64_MAX} "
        f"WHEN {jtype} = 'DOUBLE' THEN (TRY_CAST({value} AS DOUBLE) = floor(TRY_CAST({value} AS DOUBLE)) "
        f"AND abs(TRY_CAST({value} AS DOUBLE)) < 9.2e18) ELSE false END)"
    )


def _typed_scalar(value: str, jtype: str, ftype: str) -> str:
    """SQL for the typed value of a JSON scalar whose type was checked; NULL otherwise."""
    if ftype == "string":
        return f"(CASE WHEN {jtype} = 'VARCHAR' THEN json_extract_string({value}, '$') END)"
    if ftype == "int":
        return (
            f"(CASE WHEN {jtype} IN ('BIGINT', 'UBIGINT') THEN TRY_CAST({value} AS BIGINT) "
            f"WHEN {jtype} = 'DOUBLE' AND {_int_ok(value, jtype)} THEN TRY_CAST(TRY_CAST({value} AS DOUBLE) AS BIGINT) END)"
        )
    if ftype == "float":
        return f"(CASE WHEN {jtype} IN ('BIGINT', 'UBIGINT', 'DOUBLE') THEN TRY_CAST({value} AS DOUBLE) END)"
    if ftype == "bool":
        return f"(CASE WHEN {jtype} = 'BOOLEAN' THEN TRY_CAST({value} AS BOOLEAN) END)"
    if ftype == "timestamp":
        text = f"json_extract_string({value}, '$')"
        return (
            f"(CASE WHEN {jtype} = 'VARCHAR' AND regexp_full_match({text}, {_sql_str(ISO_INSTANT)}) "
            f"THEN TRY_CAST({text} AS TIMESTAMPTZ) END)"
        )
    raise ValueError(ftype)


def _type_errors(label: str, value: str, jtype: str, field: Field) -> list[str]:
    """SQL expressions, each NULL or one reason string, for a value of `field` (absent = NULL)."""
    allowed = ", ".join(_sql_str(t) for t in _JSON_TYPES[field.type] + ("NULL",))
    errors = [
        (
            f"CASE WHEN {jtype} IS NOT NULL AND {jtype} NOT IN ({allowed}) THEN "
            f"{_sql_str(label + ': expected ' + _EXPECTED[field.type] + ', got ')} || {_json_name_sql(jtype)} END"
        )
    ]
    if field.type == "int":
        errors.append(
            f"CASE WHEN {jtype} IN ('BIGINT', 'UBIGINT', 'DOUBLE') AND NOT {_int_ok(value, jtype)} THEN "
            f"{_sql_str(label + ': expected integer, got ')} || {value}::VARCHAR END"
        )
    if field.type == "timestamp":
        errors.append(
            f"CASE WHEN {jtype} = 'VARCHAR' AND {_typed_scalar(value, jtype, 'timestamp')} IS NULL THEN "
            f"{_sql_str(label + ': not an ISO 8601 instant: ')} || {value}::VARCHAR END"
        )
    return errors


def build_parse_sql(table: FieldTable | None = None, *, relation: str = "lines") -> str:
    """The query that turns `relation(idx, line, strict_ok)` into typed columns plus `_errors`
    and `_extra`. `strict_ok` is false for a line that DuckDB's reader would take but that is not
    JSON (`NaN`, `Infinity`, a trailing comma; see `strict_json`)."""
    table = table or load_table()
    known = "[" + ", ".join(_sql_str(f.name) for f in table.fields) + "]"
    paths = "[" + ", ".join(_sql_str("/" + f.name) for f in table.fields) + "]"

    value_cols, typed_cols, error_exprs = [], [], []
    for i, f in enumerate(table.fields, start=1):
        v, t = f"v[{i}]", f"t_{i}"
        value_cols.append(f"json_type(v[{i}]) AS {t}")
        if not f.absent_ok:
            error_exprs.append(f"CASE WHEN {t} IS NULL THEN {_sql_str(f.name + ': key missing')} END")
        if f.type == "provider_responses":
            error_exprs += _attempt_errors(f.name, v, t, table)
            typed_cols.append(
                f"(CASE WHEN {t} = 'ARRAY' THEN json_transform({v}, "
                f'{_sql_str("[" + _attempt_structure(table) + "]")}) END)::{attempt_duckdb_type(table)}[] AS "{f.name}"'
            )
        else:
            error_exprs += _type_errors(f.name, v, t, f)
            typed_cols.append(f'{_typed_scalar(v, t, f.type)} AS "{f.name}"')

    errors = "list_filter([" + ", ".join(error_exprs) + "]::VARCHAR[], lambda e: e IS NOT NULL)"
    # A key given twice in one object: JSON parsers disagree on which value wins, so the line is
    # refused, whichever object holds it (the envelope, the record, a provider attempt).
    attempts = next((i for i, f in enumerate(table.fields, start=1) if f.type == "provider_responses"), None)
    duplicates = [
        _duplicate_keys("CASE WHEN enveloped THEN json_keys(line) ELSE [] END", "''"),
        _duplicate_keys("json_keys(rec)", "''"),
    ]
    if attempts is not None:
        label = _sql_str(table.fields[attempts - 1].name + "[].")
        each = f"json_extract(v[{attempts}], '$[*]')"
        keys = f"flatten(list_transform({each}, lambda e: {_repeated('json_keys(e)')}))"
        duplicates.append(f"(CASE WHEN t_{attempts} = 'ARRAY' THEN {_named(keys, label)} ELSE [] END)")
    errors = f"list_concat({errors}, {', '.join(duplicates)})"
    # Unknown members of a provider attempt are kept in `_extra` under the attempt's name
    # (`"provider_responses[2]": {...}`, counted from 0), named in `_extra_keys` as
    # `provider_responses[2].member`.
    attempt_extra, attempt_keys = "[]::VARCHAR[]", "[]::VARCHAR[]"
    if attempts is not None:
        name = table.fields[attempts - 1].name
        known_members = "[" + ", ".join(_sql_str(f.name) for f in table.attempt_fields) + "]"
        nulls = _sql_str(json.dumps(dict.fromkeys(f.name for f in table.attempt_fields)))
        each = f"json_extract(v[{attempts}], '$[*]')"
        unknown = f"list_filter(json_keys(e), lambda k: NOT list_contains({known_members}, k))"
        where = f"{_sql_str(name + '[')} || (i - 1) || ']'"
        attempt_extra = (
            f"(CASE WHEN t_{attempts} = 'ARRAY' THEN list_filter(list_transform({each}, lambda e, i: "
            f"CASE WHEN json_type(e) = 'OBJECT' AND len({unknown}) > 0 "
            f"THEN to_json({where}) || ':' || json_merge_patch(e, {nulls})::VARCHAR END), lambda x: x IS NOT NULL) "
            "ELSE []::VARCHAR[] END)"
        )
        attempt_keys = (
            f"(CASE WHEN t_{attempts} = 'ARRAY' THEN flatten(list_transform({each}, lambda e, i: "
            f"CASE WHEN json_type(e) = 'OBJECT' THEN list_transform({unknown}, lambda k: {where} || '.' || k) "
            "ELSE []::VARCHAR[] END)) ELSE []::VARCHAR[] END)"
        )
    top_extra = f"json_merge_patch(rec, {_sql_str(json.dumps(dict.fromkeys(table.names)))})::VARCHAR"
    return f"""
WITH src AS (
    SELECT idx, line, strict_ok AND json_valid(line) AS ok
    FROM {relation}
),
obj AS (
    SELECT idx, line, ok, top_type, enveloped,
        CASE
            WHEN NOT ok THEN NULL
            WHEN enveloped THEN json_extract(line, '/data')
            ELSE line::JSON
        END AS rec
    FROM (
        SELECT idx, line, ok,
            CASE WHEN ok THEN json_type(line) END AS top_type,
            CASE WHEN ok THEN coalesce(json_type(line) = 'OBJECT' AND json_type(line, '/data') = 'OBJECT'
                                       AND json_type(line, '/id') IS NULL, false)
                 ELSE false END AS enveloped
        FROM src
    )
),
vals AS (
    SELECT idx, line, ok, top_type, enveloped, rec,
        CASE WHEN top_type = 'OBJECT' THEN json_extract(rec, {paths}) END AS v,
        CASE WHEN top_type = 'OBJECT'
             THEN list_filter(json_keys(rec), lambda k: NOT list_contains({known}, k)) END AS extra_keys
    FROM obj
),
typed AS (
    SELECT idx, line, ok, top_type, enveloped, rec, v, extra_keys, {", ".join(value_cols)}
    FROM vals
),
extras AS (
    SELECT *, {attempt_extra} AS attempt_extra, {attempt_keys} AS attempt_keys
    FROM typed
)
, result AS (
SELECT
    idx,
    (NOT ok AND trim(line, ' \t\r\n') = '') AS _blank,
    CASE
        WHEN NOT ok THEN ['line: not valid JSON']
        WHEN top_type <> 'OBJECT' THEN ['line: expected a JSON object, got ' || {_json_name_sql("top_type")}]
        ELSE {errors}
    END AS _errors,
    CASE
        WHEN len(attempt_extra) > 0 AND len(extra_keys) > 0
        THEN substr({top_extra}, 1, length({top_extra}) - 1) || ',' || array_to_string(attempt_extra, ',') || '}}'
        WHEN len(attempt_extra) > 0 THEN '{{' || array_to_string(attempt_extra, ',') || '}}'
        WHEN len(extra_keys) > 0 THEN {top_extra}
    END AS _extra,
    CASE WHEN top_type = 'OBJECT' THEN list_concat(extra_keys, attempt_keys) END AS _extra_keys,
    {", ".join(typed_cols)}
FROM extras
)
SELECT * FROM result
ORDER BY idx
"""


def _repeated(keys: str) -> str:
    """SQL for the keys of a list that occur again after their first place."""
    return f"list_filter({keys}, lambda k, i: list_position({keys}, k) < i)"


def _named(keys: str, prefix: str) -> str:
    return f"list_transform(list_sort(list_distinct({keys})), lambda k: {prefix} || k || ': duplicate key')"


def _duplicate_keys(keys: str, prefix: str) -> str:
    """SQL for the reasons `key: duplicate key` of the keys listed twice in `keys`."""
    return _named(_repeated(keys), prefix)


def _attempt_structure(table: FieldTable) -> str:
    names = {"string": "VARCHAR", "int": "BIGINT", "float": "DOUBLE", "bool": "BOOLEAN"}
    return "{" + ", ".join(f'"{f.name}": "{names[f.type]}"' for f in table.attempt_fields) + "}"


def _attempt_errors(name: str, v: str, t: str, table: FieldTable) -> list[str]:
    """Reasons for a `provider_responses` value: an array of objects with declared member types."""
    errors = [
        (
            f"CASE WHEN {t} IS NOT NULL AND {t} NOT IN ('ARRAY', 'NULL') THEN "
            f"{_sql_str(name + ': expected array, got ')} || {_json_name_sql(t)} END"
        ),
        (
            f"CASE WHEN {t} = 'ARRAY' AND NOT list_bool_and(list_transform(json_extract({v}, '$[*]'), "
            f"lambda e: json_type(e) = 'OBJECT')) THEN {_sql_str(name + '[]: expected object')} END"
        ),
    ]
    for f in table.attempt_fields:
        label = f"{name}[].{f.name}"
        allowed = ", ".join(_sql_str(x) for x in _JSON_TYPES[f.type] + ("NULL",))
        member = f"json_type(e, {_sql_str('/' + f.name)})"
        check = f"coalesce({member} IN ({allowed}), true)"
        if f.type == "int":
            value = f"json_extract(e, {_sql_str('/' + f.name)})"
            check = f"({check} AND coalesce({member} NOT IN ('BIGINT', 'UBIGINT', 'DOUBLE') OR {_int_ok(value, member)}, true))"
        errors.append(
            f"CASE WHEN {t} = 'ARRAY' AND NOT list_bool_and(list_transform(json_extract({v}, '$[*]'), "
            f"lambda e: json_type(e) <> 'OBJECT' OR {check})) "
            f"THEN {_sql_str(label + ': expected ' + _EXPECTED[f.type])} END"
        )
    return errors


def parsed_schema(table: FieldTable) -> pa.Schema:
    """What both paths return: position in the chunk, the typed record, `_extra`, and (strict
    path only) the reasons and unknown key names."""
    fields = [pa.field("pos", pa.int64(), nullable=False)]
    fields += [f.with_nullable(True) for f in record_arrow_schema(table)]
    fields += [
        pa.field("_extra", pa.string()),
        pa.field("_errors", pa.list_(pa.string())),
        pa.field("_extra_keys", pa.list_(pa.string())),
    ]
    return pa.schema(fields)


def _fast_read_schemas(table: FieldTable) -> tuple[pa.Schema, pa.Schema]:
    """Arrow JSON reader schemas for bare records and for API envelopes (`{"data": {...}}`).
    `created_at` is read as text and parsed by the same rule as the strict path."""
    record = [pa.field(f.name, pa.string() if f.name == "created_at" else f.type) for f in record_arrow_schema(table)]
    return pa.schema(record), pa.schema([pa.field("data", pa.struct(record))])


_TIMESTAMP_SQL = f"""
SELECT CASE WHEN regexp_full_match(s, {_sql_str(ISO_INSTANT)}) THEN TRY_CAST(s AS TIMESTAMPTZ) END AS ts
FROM created
"""


def _not_json(constant: str):
    raise ValueError(f"{constant} is not JSON")


def strict_json(text: str | None) -> bool:
    """Whether a line is JSON by the standard (RFC 8259). DuckDB's and Arrow's readers also take
    `NaN`, `Infinity` and a trailing comma (`{"id": "x",}`); such a line is not valid JSON.
    Blank lines count as valid here (the query sets them apart)."""
    if text is None or not text.strip():
        return True
    try:
        json.loads(text, parse_constant=_not_json)
    except (ValueError, RecursionError):
        return False
    return True


# What a line that only DuckDB's or Arrow's reader takes may hold (and a few valid lines too,
# e.g. a string that holds `NaN`): a block where it occurs is left to the strict path.
_LENIENT_JSON = re.compile(rb"NaN|Infinity|,[ \t\r\n]*[}\]]")


def _standard_json(body: pa.Buffer) -> bool:
    """False when a line of the block holds what Arrow's reader takes but JSON does not (`NaN`,
    `Infinity`, a trailing comma). Only lines where the pattern occurs are checked in full."""
    view = memoryview(body)
    raw = None
    checked = -1
    for found in _LENIENT_JSON.finditer(view):
        if found.start() < checked:
            continue
        raw = raw if raw is not None else view.tobytes()
        start = raw.rfind(b"\n", 0, found.start()) + 1
        end = raw.find(b"\n", found.end())
        end = len(raw) if end < 0 else end
        if not strict_json(raw[start:end].decode("utf-8", errors="replace")):
            return False
        checked = end
    return True


class Parser:
    """Parses blocks of lines; one DuckDB connection per parser. `kind` is the fast path:
    `native` (native.py) or `arrow` (Arrow's JSON reader); by default ORUSAGE_PARSER decides."""

    FAST_BLOCK = 4 * 1024 * 1024

    def __init__(self, table: FieldTable | None = None, kind: str | None = None):
        self.table = table or load_table()
        self.sql = build_parse_sql(self.table)
        self.schema = parsed_schema(self.table)
        self.kind = kind or chosen_parser()
        self.native = NativeParser(self.table, self.schema) if self.kind == "native" else None
        self.bare_schema, self.envelope_schema = _fast_read_schemas(self.table)
        self.required = [f.name for f in self.table.fields if not f.nullable]
        self.con = views.memory_connection()
        self.con.execute("LOAD icu; SET TimeZone = 'UTC'")

    def parse_fast(self, body: pa.Buffer, positions: np.ndarray) -> pa.Table | None:
        """Typed rows of a block whose non-blank lines are at `positions`, or None when the
        block needs the strict path (any bad value, unknown key, missing required key...).
        A block is read as bare records, or as envelopes when it starts like one; a block that
        mixes both goes piece by piece."""
        if not _standard_json(body):
            return None
        raw = np.frombuffer(body, dtype=np.uint8)
        starts = np.concatenate(([0], np.flatnonzero(raw[:-1] == 10) + 1))
        if len(raw) == 0 or np.any(raw[starts] != ord("{")):
            return None  # a line that is no object (Arrow's reader crashes on a bare `null`), or starts with a BOM
        enveloped = body.slice(0, min(16, body.size)).to_pybytes().replace(b" ", b"").startswith(b'{"data":')
        columns = self._read_envelopes(body) if enveloped else self._read(body, self.bare_schema)
        if columns is None:
            return None
        names = list(self.table.names)
        n = len(columns["id"])
        if n != len(positions) or any(columns[name].null_count for name in self.required):
            return None
        if any(pc.list_flatten(columns[f.name]).null_count for f in self.table.fields if f.type == "provider_responses"):
            return None  # a null attempt (`[null]`): the strict path refuses it
        stamps = self._timestamps(columns["created_at"])
        if stamps is None:
            return None
        columns["created_at"] = stamps
        out = {"pos": pa.array(positions, pa.int64())}
        out.update((name, columns[name]) for name in names)
        out["_extra"] = pa.nulls(n, pa.string())
        out["_errors"] = pa.nulls(n, pa.list_(pa.string()))
        out["_extra_keys"] = pa.nulls(n, pa.list_(pa.string()))
        return pa.table(out).cast(self.schema)

    @classmethod
    def json_options(cls, schema: pa.Schema) -> dict:
        """Arrow JSON reader options of the fast path: the declared schema, nothing else accepted."""
        return {
            "read_options": pj.ReadOptions(block_size=cls.FAST_BLOCK, use_threads=True),
            "parse_options": pj.ParseOptions(explicit_schema=schema, unexpected_field_behavior="error"),
        }

    def _read(self, body: pa.Buffer, schema: pa.Schema) -> dict | None:
        try:
            table = pj.read_json(pa.BufferReader(body), **self.json_options(schema))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
            return None
        return {name: table.column(name) for name in table.column_names}

    def _read_envelopes(self, body: pa.Buffer) -> dict | None:
        read = self._read(body, self.envelope_schema)
        if read is None:
            return None
        data = read["data"]
        if data.null_count:
            return None  # `{"data": null}` or a line without `data`: the strict path explains it
        combined = data.combine_chunks() if isinstance(data, pa.ChunkedArray) else data
        return {name: combined.field(name) for name in self.table.names}

    def _timestamps(self, text: pa.ChunkedArray) -> pa.ChunkedArray | None:
        if not text.null_count and pc.all(pc.match_substring_regex(text, CANONICAL_INSTANT)).as_py() is not False:
            # The API's own form (`2026-09-01T12:00:00.123Z`): Arrow's cast agrees with DuckDB's
            # wherever it succeeds; anything it refuses (2026-02-30, 24:00) goes the DuckDB way.
            try:
                return pc.cast(text, pa.timestamp("us", tz="UTC"))
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                pass
        self.con.register("created", pa.table({"s": text}))
        try:
            stamps = self.con.sql(_TIMESTAMP_SQL).to_arrow_table().column("ts")
        finally:
            self.con.unregister("created")
        return None if stamps.null_count else stamps

    def parse_strict(self, lines: pa.Array, positions: np.ndarray) -> pa.Table:
        """Every line at `positions` of `lines`, typed where possible, with `_errors`."""
        chosen = lines.take(pa.array(positions)) if len(positions) != len(lines) else lines
        strict_ok = pa.array([strict_json(text) for text in chosen.to_pylist()], pa.bool_())
        self.con.register("lines", pa.table({"idx": pa.array(positions, pa.int64()), "line": chosen, "strict_ok": strict_ok}))
        try:
            result = self.con.sql(self.sql).to_arrow_table()
        finally:
            self.con.unregister("lines")
        result = result.filter(pc.invert(result.column("_blank")))
        result = result.rename_columns(["pos" if c == "idx" else c for c in result.column_names])
        return result.select(self.schema.names).cast(self.schema)

    def parse_chunk(self, chunk, piece_bytes: int = 1024 * 1024) -> pa.Table:
        """The chunk's non-blank lines, typed. `pos` in the result indexes the chunk's lines.

        The fast path takes the whole chunk when it can; otherwise the chunk is split into lines
        and pieces of about `piece_bytes` are tried again, so that only the pieces holding a bad
        line go through the strict path."""
        if chunk.count == 0:
            return self.schema.empty_table()
        if self.native is not None:
            return self._parse_native(chunk)
        if not chunk.maybe_blank and chunk.utf8_valid():
            whole = self.parse_fast(chunk.body, np.arange(chunk.count, dtype=np.int64))
            if whole is not None:
                return whole
        split = chunk.split
        keep = np.flatnonzero(~split.blank)
        if len(keep) == 0:
            return self.schema.empty_table()
        total = len(split.line_numbers)
        starts = split.offsets[:-1]
        bounds = [0]
        while bounds[-1] < total:
            nxt = int(np.searchsorted(starts, starts[bounds[-1]] + piece_bytes, side="left"))
            bounds.append(min(max(nxt, bounds[-1] + 1), total))
        parts, refused = [], []
        for a, b in pairwise(bounds):
            positions = keep[(keep >= a) & (keep < b)]
            if len(positions) == 0:
                continue
            body = split.body.slice(int(split.offsets[a]), int(split.offsets[b] - split.offsets[a]))
            fast = self.parse_fast(body, positions)
            if fast is not None:
                parts.append(fast)
            else:
                refused.append(positions)
        if refused:
            # One strict query for all refused pieces: its cost is mostly per call.
            parts.append(self.parse_strict(split.lines, np.concatenate(refused)))
        if not parts:
            return self.schema.empty_table()
        table = pa.concat_tables(parts)
        return table.take(pc.sort_indices(table.column("pos"))) if refused and len(parts) > 1 else table

    def _parse_native(self, chunk) -> pa.Table:
        """The native path: the whole chunk at once; the lines it refuses (only those) go
        through the strict path."""
        accepted, refused = self.native.parse(chunk.body)
        if len(refused) == 0:
            return accepted
        split = chunk.split
        if split.bad_utf8:
            # The split left the lines that are not UTF-8 out: index the others as it does.
            numbers = split.line_numbers
            here = np.searchsorted(numbers, refused + chunk.first_line)
            inside = here < len(numbers)
            inside[inside] = numbers[here[inside]] == refused[inside] + chunk.first_line
            refused = here[inside]
            pos = accepted.column("pos").to_numpy() + chunk.first_line
            accepted = accepted.set_column(0, self.schema.field("pos"), pa.array(np.searchsorted(numbers, pos), pa.int64()))
        if len(refused) == 0:
            return accepted
        strict = self.parse_strict(split.lines, refused)
        table = pa.concat_tables([accepted, strict])
        return table.take(pc.sort_indices(table.column("pos")))

    def prepare(self, chunk) -> None:
        """Parse `chunk` in place (`chunk.parsed`); run by the reading thread."""
        chunk.parsed = self.parse_chunk(chunk)

    def close(self) -> None:
        self.con.close()
