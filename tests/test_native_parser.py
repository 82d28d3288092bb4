"""The native parser (pipeline/ingest/jsonl_native.cpp) is sound: it never accepts a line that the
strict path refuses or keeps differently, and the rows it accepts equal the strict path's.

Every test runs on each fast path that is built here: the native one when the extension imports,
and Arrow's JSON reader always. CI sets ORUSAGE_EXPECT_NATIVE=1, and then the native parser must
be the one an ingest uses."""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import ingest, lake_rows, quarantine_rows, record, write_jsonl
from pipeline.ingest.native import chosen_parser, load_extension
from pipeline.ingest.parse import Parser, strict_json
from pipeline.schema.table import load_table
from pipeline.sources.read import LineChunk
from test_property import records

TABLE = load_table()
KINDS = ["native", "arrow"] if load_extension() is not None else ["arrow"]
NOT_JSON = ["line: not valid JSON"]


def test_the_expected_parser_is_the_one_used(tmp_path: Path):
    expected = "native" if os.environ.get("ORUSAGE_EXPECT_NATIVE") == "1" else chosen_parser()
    rows = [record(i) for i in range(3000)]  # enough for each step to take measurable CPU time
    summary = ingest([write_jsonl(tmp_path / "in.jsonl", rows)], tmp_path / "lake")
    assert summary["parser"] == expected
    assert summary["rows_written"] == 3000
    steps = summary["cpu_seconds"]
    assert set(steps) == {"read", "hash", "parse", "validate", "write", "duplicates", "other"}
    assert all(v >= 0 for v in steps.values()) and steps["parse"] > 0


def test_orusage_parser_selects_the_parser(monkeypatch):
    monkeypatch.setenv("ORUSAGE_PARSER", "arrow")
    assert chosen_parser() == "arrow"
    monkeypatch.setenv("ORUSAGE_PARSER", "auto")
    assert chosen_parser() == KINDS[0]


# --- helpers ---------------------------------------------------------------------------------


def _body(lines: list[str]) -> LineChunk:
    data = ("\n".join(lines) + "\n").encode("utf-8", errors="surrogatepass")
    return LineChunk(np.frombuffer(data, dtype=np.uint8), 1)


def _normal(table: pa.Table) -> list[dict]:
    """Rows with `_errors`/`_extra_keys` null (the fast paths' way of saying none) as []."""
    rows = table.to_pylist()
    for row in rows:
        for name in ("_errors", "_extra_keys"):
            row[name] = row[name] or []
    return rows


def _strict(parser: Parser, chunk: LineChunk) -> pa.Table:
    split = chunk.split
    return parser.parse_strict(split.lines, np.flatnonzero(~split.blank))


_PARSERS: dict[str, Parser] = {}


def _parser(kind: str) -> Parser:
    """One parser per kind for the whole module (a parser's DuckDB connection takes a while)."""
    if kind not in _PARSERS:
        _PARSERS[kind] = Parser(TABLE, kind=kind)
    return _PARSERS[kind]


def check_sound(lines: list[str], kind: str) -> tuple[int, int]:
    """The fast path's result equals the strict path's on every line, and every line the native
    parser accepts is one the strict path accepts unchanged. Returns (accepted, refused)."""
    parser = _parser(kind)
    fast = parser.parse_chunk(_body(lines))
    strict = _strict(parser, _body(lines))
    assert _normal(fast) == _normal(strict)
    if kind != "native":
        return 0, 0
    accepted, refused = parser.native.parse(_body(lines).body)
    by_pos = {row["pos"]: row for row in _normal(strict)}
    for row in _normal(accepted):
        other = by_pos[row["pos"]]
        assert other["_errors"] == [] and other["_extra"] is None, (lines[row["pos"]], other)
        assert row == other
    return accepted.num_rows, len(refused)


def _line(**overrides) -> str:
    return json.dumps(record(3, **overrides))


# --- crafted bad lines -----------------------------------------------------------------------

GOOD = _line()
BAD_LINES = [
    GOOD[:-1],  # cut off
    GOOD + " x",  # something after the object
    GOOD + "{}",
    GOOD + GOOD,
    GOOD[:-1] + ",}",  # trailing comma
    GOOD[:-1] + ', "cache_discount": NaN}',
    GOOD[:-1] + ', "latency": Infinity}',
    GOOD[:-1] + ', "latency": -Infinity}',
    GOOD[:-1] + ', "latency": nan}',
    "[" + GOOD + "]",
    '"just a string"',
    "42",
    "null",
    GOOD.replace('"model"', '"model", "model": "x", "model2"', 1),
    GOOD[:-1] + ', "model": "other"}',  # a key twice
    GOOD.replace('"id"', '"i\\u0064"', 1),  # an escaped key: the strict path unescapes it
    GOOD[:-1] + ', "id": "gen-x"}',
    GOOD[:-1] + ', "unknown_key": 1}',
    GOOD[:-1] + ', "app_id": 12.5}',
    GOOD[:-1] + ', "app_id": 12.0}',  # integral float: the strict path takes it as 12
    GOOD[:-1] + ', "app_id": 9223372036854775808}',
    GOOD[:-1] + ', "app_id": -9223372036854775809}',
    GOOD[:-1] + ', "app_id": 1e3}',
    GOOD[:-1] + ', "app_id": "12"}',
    GOOD[:-1] + ', "app_id": true}',
    GOOD[:-1] + ', "latency": "1.5"}',
    GOOD[:-1] + ', "latency": 1e400}',
    GOOD[:-1] + ', "latency": 123456789012345678901234567890}',
    # simdjson 3.0.1 read this as 1.26457e-22 (found by `make fuzz`): the strict path reads it.
    _line(total_cost=0).replace('"total_cost": 0', '"total_cost": 0.092233720368547758080126457'),
    GOOD[:-1] + ', "latency": 01}',
    GOOD[:-1] + ', "latency": .5}',
    GOOD[:-1] + ', "latency": 1.}',
    GOOD[:-1] + ', "latency": -}',
    GOOD[:-1] + ', "latency": +1}',
    GOOD[:-1] + ', "latency": 0x10}',
    GOOD[:-1] + ', "streamed": "true"}',
    GOOD[:-1] + ', "streamed": 1}',
    GOOD[:-1] + ', "streamed": True}',
    GOOD[:-1] + ', "streamed": nul}',
    GOOD[:-1] + ', "streamed": nullx}',
    GOOD[:-1] + ", \"router\": 'x'}",
    GOOD.replace('"is_byok": false', '"is_byok": null', 1),
    GOOD.replace('"model": ', '"model_": ', 1),  # a required key missing, an unknown one
    json.dumps({k: v for k, v in record(3).items() if k != "origin"}),
    _line(created_at="2026-09-01T10:00:00"),  # no zone
    _line(created_at="2026-09-01 10:00:00Z"),
    _line(created_at="2026-09-01T10:00:00z"),
    _line(created_at="2026-09-01T10:00:00+0200"),
    _line(created_at="2026-09-01T10:00:00.1234567Z"),
    _line(created_at="2026-09-01T24:00:00Z"),
    _line(created_at="2026-09-01T23:59:60Z"),
    _line(created_at="2025-02-29T10:00:00Z"),
    _line(created_at="2026-13-01T10:00:00Z"),
    _line(created_at="2026-09-01"),
    _line(created_at="0999-09-01T10:00:00Z"),
    _line(created_at="2026-09-01T10:00:00.Z"),
    _line(created_at=20260901),
    _line(provider_responses={"status": 200}),
    _line(provider_responses=[1, 2]),
    _line(provider_responses=[None]),
    _line(provider_responses=[{"status": 200, "extra_member": 1}]),
    _line(provider_responses=[{"status": "200"}]),
    _line(provider_responses=[{"status": 200.5}]),
    _line(provider_responses=[{"latency": "fast"}]),
    _line(provider_responses=[{"is_byok": 0}]),
    GOOD.replace('"provider_responses": [{', '"provider_responses": [{"status": 1, "status": 2, ', 1),
    GOOD.replace('"provider_responses": [{', '"provider_responses": [{"st\\u0061tus": 1, ', 1),
    GOOD.replace('"model": "', '"model": "\x01', 1),  # a raw control character in a string
    GOOD.replace('"model": "', '"model": "\\ud800', 1),  # a lone surrogate
    GOOD.replace('"model": "', '"model": "\\x41', 1),  # an invalid escape
    GOOD.replace('"model": "', '"model": "\\u12', 1),
    "\ufeff" + GOOD,  # a BOM in the middle of a file
    '{"data": ' + GOOD + ', "extra": 1}',  # an envelope holds `data` alone
    '{"data": ' + GOOD + ', "data": ' + GOOD + "}",
    '{"data": null}',
    '{"data": [' + GOOD + "]}",
    "{" + '"a":' * 0 + '"id": ' + "[" * 2000 + "]" * 2000 + "}",  # deep nesting
    "",
    "   ",
    "\t",
]


@pytest.mark.parametrize("kind", KINDS)
def test_crafted_bad_lines_are_never_accepted_by_the_native_parser(kind):
    accepted, refused = check_sound([GOOD, *BAD_LINES, GOOD], kind)
    if kind == "native":
        assert (accepted, refused) == (2, len(BAD_LINES))


def test_each_bad_line_alone_on_the_arrow_path():
    # Arrow's reader takes a block whole: alone, a line cannot hide behind its neighbours (a bare
    # `null` used to crash it). The native parser reads each line on its own anyway.
    for line in BAD_LINES:
        check_sound([line], "arrow")


def test_native_refuses_every_crafted_bad_line():
    if "native" not in KINDS:
        assert chosen_parser() == "arrow"
        return
    accepted, refused = _parser("native").native.parse(_body(BAD_LINES).body)
    assert accepted.num_rows == 0, [BAD_LINES[i] for i in accepted.column("pos").to_pylist()]
    assert refused.tolist() == list(range(len(BAD_LINES)))


@pytest.mark.parametrize("kind", KINDS)
def test_good_forms_are_accepted_as_the_strict_path_reads_them(kind):
    lines = [
        GOOD,
        GOOD.replace(", ", " ,\t").replace(": ", " :  "),
        json.dumps(record(4), separators=(",", ":")),
        '{"data": ' + GOOD + "}",
        GOOD + "\r",
        "  " + GOOD + "  ",
        _line(model='ünïcødé \\ " / \u2028 \U0001f600 \x00 end'),
        json.dumps(record(5, model="ünïcødé \u2028 \U0001f600 end"), ensure_ascii=False),
        _line(model="esc\\u00e9\\n\\t\\/"),
        _line(created_at="2026-09-01T10:00:00+02:00"),
        _line(created_at="2026-09-01T10:00:00-09:30"),
        _line(created_at="2026-09-01T10:00:00.5Z"),
        _line(created_at="2024-02-29T23:59:59.999999Z"),
        _line(app_id=-9223372036854775808),
        _line(app_id=9223372036854775807),
        _line(latency=18446744073709551615),
        _line(latency=-0.0),
        _line(latency=5e-324),
        _line(latency=1.7976931348623157e308),
        _line(cache_discount=0).replace('"cache_discount": 0', '"cache_discount": -0'),
        _line(provider_responses=[]),
        _line(provider_responses=None),
        _line(provider_responses=[{}, {"status": None}, {"status": 429, "latency": 1, "is_byok": False}]),
    ]
    accepted, refused = check_sound(lines, kind)
    if kind == "native":
        assert refused == 0 and accepted == len(lines)


# --- properties ------------------------------------------------------------------------------

MUTATIONS = [
    lambda rec, rnd: rec.update({"unknown": rnd.random()}),
    lambda rec, rnd: rec.update({"app_id": rnd.choice([1.0, 2.5, "3", True, 2**63, -(2**63) - 1, None])}),
    lambda rec, rnd: rec.update({"latency": rnd.choice(["1", False, 2**64 + 1, 10**400, None, [1], {}])}),
    lambda rec, rnd: rec.update({"model": rnd.choice([None, 5, "", "x\x7f", "\\", ["m"]])}),
    lambda rec, rnd: rec.pop(rnd.choice(TABLE.names), None),
    lambda rec, rnd: rec.update(
        {
            "created_at": rnd.choice(
                [
                    "2026-09-01T10:00:00",
                    "2026-09-01T10:00:00+02",
                    "2026-09-01T10:00:00.1234567Z",
                    "2026-02-29T00:00:00Z",
                    "2026-09-01T10:00Z",
                    "2026-09-01t10:00:00Z",
                    "2026-09-01T10:00:00+14:00",
                    None,
                ]
            )
        }
    ),
    lambda rec, rnd: rec.update({"provider_responses": [{"status": 200, "member": 1}, {"latency": rnd.random()}]}),
    lambda rec, rnd: rec.update({"provider_responses": rnd.choice([{}, [[]], "[]", [{"status": 1.5}], [{"id": 1}]])}),
]


def _mutate_text(line: str, rnd: random.Random) -> str:
    """A random edit of the text: a character dropped, doubled, or replaced by a JSON-ish one."""
    at = rnd.randrange(len(line))
    what = rnd.randrange(3)
    if what == 0:
        return line[:at] + line[at + 1 :]
    if what == 1:
        return line[:at] + line[at] + line[at:]
    return line[:at] + rnd.choice('{}[],:"\\ 0-.eE+nNtfIa\u00e9\x00\x1f') + line[at + 1 :]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(
    st.lists(st.integers(), min_size=1, max_size=12).flatmap(lambda xs: st.tuples(*[records(i) for i in range(len(xs))])),
    st.randoms(use_true_random=False),
    st.sampled_from(KINDS),
)
def test_native_never_accepts_what_strict_refuses_or_keeps_differently(pairs, rnd, kind):
    lines = []
    for rec, _ in pairs:
        choice = rnd.randrange(4)
        if choice == 1:
            rnd.choice(MUTATIONS)(rec, rnd)
        text = json.dumps(rec, ensure_ascii=rnd.random() < 0.5)
        if choice == 2:
            text = _mutate_text(text, rnd)
        if choice == 3:
            text = '{"data": ' + text + "}"
        lines.append(text.replace("\n", " "))
    check_sound(lines, kind)


# --- the two defects, on every path ----------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    "line",
    [
        _line()[:-1] + ", }",
        _line()[:-1] + ', "latency": NaN}',
        _line()[:-1] + ', "latency": Infinity}',
        _line()[:-1] + ', "provider_responses": [{"status": 200},]}',
    ],
)
def test_lenient_json_is_quarantined_as_not_valid_json(tmp_path: Path, monkeypatch, kind, line):
    monkeypatch.setenv("ORUSAGE_PARSER", kind)
    good = [json.dumps(record(i)) for i in range(5, 40)]
    path = write_jsonl(tmp_path / "in.jsonl", [*good, line])
    summary = ingest([path], tmp_path / "lake")
    assert summary["parser"] == kind
    assert (summary["rows_written"], summary["rows_quarantined"]) == (len(good), 1)
    assert quarantine_rows(tmp_path / "lake")["reasons"].to_list() == [NOT_JSON]
    assert not strict_json(line)


@pytest.mark.parametrize("kind", KINDS)
def test_unknown_attempt_members_are_kept_in_extra(tmp_path: Path, monkeypatch, kind):
    monkeypatch.setenv("ORUSAGE_PARSER", kind)
    attempts = [{"status": 429, "retry_after": 2}, {"status": 200}, {"status": 200, "note": {"x": None}, "zz": [1]}]
    rows = [record(1, provider_responses=attempts), record(2, new_top=True, provider_responses=attempts), record(3)]
    summary = ingest([write_jsonl(tmp_path / "in.jsonl", rows)], tmp_path / "lake")
    assert summary["rows_written"] == 3
    extra = {r["id"]: r["_extra"] for r in lake_rows(tmp_path / "lake").iter_rows(named=True)}
    kept = {"provider_responses[0]": {"retry_after": 2}, "provider_responses[2]": {"note": {"x": None}, "zz": [1]}}
    assert json.loads(extra[rows[0]["id"]]) == kept
    assert json.loads(extra[rows[1]["id"]]) == {"new_top": True, **kept}
    assert extra[rows[2]["id"]] is None
    warned = {w["value"] for w in summary["warnings"] if w["kind"] == "extra_key"}
    assert warned == {"new_top", "provider_responses[0]", "provider_responses[2]"}


def test_unknown_attempt_members_are_refused_by_the_freeze_contract(tmp_path: Path):
    rows = [record(1, provider_responses=[{"status": 200}, {"status": 200, "member": 1}])]
    summary = ingest([write_jsonl(tmp_path / "in.jsonl", rows)], tmp_path / "lake", schema_contract="freeze")
    assert summary["rows_quarantined"] == 1
    reasons = quarantine_rows(tmp_path / "lake")["reasons"].to_list()
    assert reasons == [["provider_responses[1].member: unknown key (schema contract is freeze)"]]
