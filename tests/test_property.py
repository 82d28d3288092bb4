"""Property tests: random valid records survive JSONL -> lake -> DuckDB with values and nulls
intact, and the fast and strict parsers agree on every record."""

from __future__ import annotations

import json
import math
import tempfile
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import ingest, lake_rows
from pipeline.ingest.parse import Parser
from pipeline.schema.table import load_table
from pipeline.sources.read import LineChunk

TABLE = load_table()
EPOCH = datetime(2020, 1, 1, tzinfo=UTC)

text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12)
instants = st.integers(min_value=0, max_value=10 * 365 * 86400 * 10**6).map(lambda us: EPOCH + timedelta(microseconds=us))


@st.composite
def iso(draw):
    moment = draw(instants)
    form = draw(st.sampled_from(["Z", "offset", "naive", "millis"]))
    if form == "Z":
        return moment, moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if form == "millis":
        moment = moment.replace(microsecond=moment.microsecond // 1000 * 1000)
        return moment, moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    if form == "naive":
        return moment, moment.strftime("%Y-%m-%dT%H:%M:%S.%f")
    hours = draw(st.integers(-11, 13))
    local = moment.astimezone(timezone(timedelta(hours=hours)))
    return moment, local.isoformat()


def scalar(field):
    if field.type == "string":
        return text.filter(lambda s: s != "") if field.nonempty else text
    if field.type == "int":
        return st.integers(0, 2**53) if field.ge0 else st.integers(-(2**62), 2**62)
    if field.type == "float":
        low = 0.0 if field.ge0 else None
        return st.floats(min_value=low, allow_nan=False, allow_infinity=False, width=64)
    if field.type == "bool":
        return st.booleans()
    raise AssertionError(field.type)


def attempt():
    members = {f.name: st.one_of(st.none(), scalar(f)) for f in TABLE.attempt_fields}
    return st.fixed_dictionaries({}, optional=members)


@st.composite
def records(draw, index):
    rec, expected = {}, {}
    for f in TABLE.fields:
        if f.absent_ok and draw(st.booleans()):
            expected[f.name] = None
            continue
        if f.nullable and draw(st.integers(0, 3)) == 0:
            rec[f.name] = expected[f.name] = None
            continue
        if f.type == "timestamp":
            moment, textual = draw(iso())
            rec[f.name], expected[f.name] = textual, moment
        elif f.type == "provider_responses":
            value = draw(st.lists(attempt(), max_size=3))
            rec[f.name] = value
            expected[f.name] = [{m.name: a.get(m.name) for m in TABLE.attempt_fields} for a in value]
        else:
            rec[f.name] = expected[f.name] = draw(scalar(f))
    rec["id"] = expected["id"] = f"gen-{index}-{rec['id']}"
    return rec, expected


def same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    return a == b


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.lists(st.integers(), min_size=1, max_size=20).flatmap(lambda xs: st.tuples(*[records(i) for i in range(len(xs))])))
def test_valid_records_round_trip_through_the_lake(pairs):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "in.jsonl"
        path.write_text("\n".join(json.dumps(r) for r, _ in pairs) + "\n", encoding="utf-8")
        summary = ingest([path], Path(tmp) / "lake")
        assert summary["rows_written"] == len(pairs), summary
        rows = {r["id"]: r for r in lake_rows(Path(tmp) / "lake").iter_rows(named=True)}
        for rec, expected in pairs:
            got = rows[rec["id"]]
            for name, value in expected.items():
                if name == "created_at":
                    assert got[name] == value, (name, got[name], value)
                else:
                    assert same(got[name], value), (name, got[name], value)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.lists(st.integers(), min_size=1, max_size=15).flatmap(lambda xs: st.tuples(*[records(i) for i in range(len(xs))])))
def test_fast_and_strict_paths_agree(pairs):
    body = ("\n".join(json.dumps(r) for r, _ in pairs) + "\n").encode()
    parser = Parser()
    try:
        chunk = LineChunk(np.frombuffer(body, dtype=np.uint8), 1)
        positions = np.arange(chunk.count, dtype=np.int64)
        fast = parser.parse_fast(chunk.body, positions)
        strict = parser.parse_strict(chunk.split.lines, positions)
    finally:
        parser.close()
    assert fast is not None, "the fast path refused valid records"
    assert strict.column("_errors").to_pylist() == [[] for _ in pairs]
    names = list(TABLE.names)
    assert fast.select(names).equals(strict.select(names)), "fast and strict parse differ"


def test_fast_path_refuses_what_the_strict_path_rejects():
    parser = Parser()
    try:
        for line in [
            (
                '{"id": "x", "model": "m", "created_at": "2026-01-01T00:00:00Z", "origin": "", '
                '"is_byok": "true", "total_cost": 0, "usage": 0}'
            ),
            '{"id": "x", "model": "m", "created_at": "2026-01-01", "origin": "", "is_byok": true, "total_cost": 0, "usage": 0}',
            (
                '{"id": "x", "model": 5, "created_at": "2026-01-01T00:00:00Z", "origin": "", '
                '"is_byok": true, "total_cost": 0, "usage": 0}'
            ),
            (
                '{"id": "x", "model": "m", "created_at": "2026-01-01T00:00:00Z", "origin": "", '
                '"is_byok": true, "total_cost": "0", "usage": 0}'
            ),
            '{"id": "x", "created_at": "2026-01-01T00:00:00Z", "origin": "", "is_byok": true, "total_cost": 0, "usage": 0}',
            (
                '{"id": "x", "model": "m", "created_at": "2026-01-01T00:00:00Z", "origin": "", '
                '"is_byok": true, "total_cost": 0, "usage": 0, "new": 1}'
            ),
        ]:
            body = pa.py_buffer((line + "\n").encode())
            assert parser.parse_fast(body, np.arange(1)) is None, line
    finally:
        parser.close()


canonical = st.builds(
    lambda moment, digits: (
        moment.strftime("%Y-%m-%dT%H:%M:%S") + (f".{moment.microsecond:06d}"[: digits + 1] if digits else "") + "Z"
    ),
    st.integers(min_value=-(3 * 10**16), max_value=2 * 10**17).map(lambda us: EPOCH + timedelta(microseconds=us)),
    st.integers(0, 6),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(canonical, min_size=1, max_size=30))
def test_created_at_read_by_arrow_agrees_with_duckdb(values):
    # The fast path reads the API's own instants with Arrow's cast; DuckDB's TIMESTAMPTZ cast is
    # the reference (the strict path uses it for every form).
    parser = Parser(TABLE)
    try:
        fast = parser._timestamps(pa.chunked_array([pa.array(values, pa.string())]))
        reference = (
            parser.con.sql("SELECT TRY_CAST(s AS TIMESTAMPTZ) AS ts FROM (SELECT unnest($v) AS s)", params={"v": values})
            .to_arrow_table()
            .column("ts")
        )
    finally:
        parser.close()
    assert fast.cast(pa.int64()).to_pylist() == reference.cast(pa.int64()).to_pylist()


def test_created_at_arrow_refuses_go_the_duckdb_way():
    parser = Parser(TABLE)
    try:
        # 24:00 is the next midnight for DuckDB; Arrow refuses it, so the batch takes DuckDB's reading.
        midnight = parser._timestamps(pa.chunked_array([pa.array(["2026-09-01T24:00:00Z"])]))
        assert midnight.cast(pa.int64()).to_pylist() == [int(datetime(2026, 9, 2, tzinfo=UTC).timestamp() * 10**6)]
        assert parser._timestamps(pa.chunked_array([pa.array(["2026-02-30T00:00:00Z"])])) is None
        offset = parser._timestamps(pa.chunked_array([pa.array(["2026-09-01T02:00:00+02:00", "2026-09-01T00:00:00Z"])]))
        assert offset.cast(pa.int64()).to_pylist() == [int(datetime(2026, 9, 1, tzinfo=UTC).timestamp() * 10**6)] * 2
    finally:
        parser.close()
