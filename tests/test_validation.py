"""Each rule of the validation contract: a bad value is quarantined with its reason, and the
other rows of the same file are kept."""

from __future__ import annotations

import json

import pytest

from conftest import BASE_RECORD, ingest, lake_rows, quarantine_rows, record, write_jsonl


def without(key: str, i: int) -> dict:
    rec = record(i)
    del rec[key]
    return rec


def attempt(i: int, **member) -> dict:
    rec = record(i)
    rec["provider_responses"] = [dict(BASE_RECORD["provider_responses"][1], **member)]
    return rec


# (case, line content, reason fragments that must all appear)
BAD = [
    ("not json", "{oops", ["line: not valid JSON"]),
    ("array line", "[1, 2]", ["line: expected a JSON object, got array"]),
    ("scalar line", "42", ["line: expected a JSON object, got integer"]),
    ("empty id", record(1, id=""), ["id: must be a non-empty string (got '')"]),
    ("id missing", without("id", 2), ["id: key missing"]),
    ("model missing", without("model", 3), ["model: key missing"]),
    ("model null", record(4, model=None), ["model: must not be null"]),
    ("model number", record(5, model=7), ["model: expected string, got integer"]),
    ("origin null", record(6, origin=None), ["origin: must not be null"]),
    ("is_byok string", record(7, is_byok="true"), ["is_byok: expected boolean, got string"]),
    ("is_byok number", record(8, is_byok=1), ["is_byok: expected boolean, got integer"]),
    ("is_byok missing", without("is_byok", 9), ["is_byok: key missing"]),
    ("created_at words", record(10, created_at="yesterday"), ["created_at: not an ISO 8601 instant"]),
    ("created_at date only", record(11, created_at="2026-09-01"), ["created_at: not an ISO 8601 instant"]),
    ("created_at bad month", record(12, created_at="2026-13-01T00:00:00Z"), ["created_at: not an ISO 8601 instant"]),
    ("created_at number", record(13, created_at=1767225600), ["created_at: expected ISO 8601 string, got integer"]),
    ("total_cost string", record(14, total_cost="0.5"), ["total_cost: expected number, got string"]),
    ("total_cost negative", record(15, total_cost=-0.5), ["total_cost: must be >= 0 (got -0.5)"]),
    ("usage missing", without("usage", 16), ["usage: key missing"]),
    (
        "usage NaN",
        json.dumps(record(17)).replace('"usage": 0.0123', '"usage": NaN'),
        ["line: not valid JSON"],
    ),
    (
        "latency Infinity",
        json.dumps(record(18)).replace('"latency": 350.0', '"latency": Infinity'),
        ["line: not valid JSON"],
    ),
    (
        "latency beyond float64",
        json.dumps(record(130)).replace('"latency": 350.0', '"latency": 1e999'),
        ["latency: must be a finite number (got inf)"],
    ),
    ("latency string", record(19, latency="350"), ["latency: expected number, got string"]),
    ("app_id fraction", record(20, app_id=12.5), ["app_id: expected integer, got 12.5"]),
    ("app_id string", record(21, app_id="12"), ["app_id: expected integer, got string"]),
    ("tokens negative", record(22, tokens_prompt=-3), ["tokens_prompt: must be >= 0"]),
    ("num negative", record(23, num_fetches=-1), ["num_fetches: must be >= 0"]),
    ("generation_time negative", record(24, generation_time=-1.0), ["generation_time: must be >= 0"]),
    ("tokens too large", record(25, native_tokens_prompt=2**64), ["native_tokens_prompt: expected integer"]),
    ("streamed string", record(26, streamed="yes"), ["streamed: expected boolean, got string"]),
    (
        "provider_responses object",
        record(27, provider_responses={"status": 200}),
        ["provider_responses: expected array, got object"],
    ),
    ("attempt not object", record(28, provider_responses=[1]), ["provider_responses[]: expected object"]),
    ("attempt status string", attempt(29, status="200"), ["provider_responses[].status: expected integer"]),
    ("attempt status negative", attempt(30, status=-1), ["provider_responses[].status: must be >= 0"]),
    ("attempt latency string", attempt(31, latency="5"), ["provider_responses[].latency: expected number"]),
    (
        "several at once",
        record(32, is_byok="no", tokens_prompt=-1, model=""),
        ["is_byok: expected boolean", "tokens_prompt: must be >= 0", "model: must be a non-empty string"],
    ),
]

GOOD = [
    ("integral float for int", record(100, app_id=25.0, tokens_prompt=100.0)),
    ("integer for float", record(101, total_cost=0, usage=0, latency=300)),
    ("exponent money", record(102, total_cost=3.6e-06, usage=3.6e-06)),
    ("negative discounts", record(103, cache_discount=-0.002, upstream_inference_cost=-0.01)),
    ("offset timestamp", record(104, created_at="2025-01-25T21:58:42.249238+00:00")),
    ("naive timestamp is UTC", record(105, created_at="2026-09-03T04:05:06")),
    ("empty origin", record(106, origin="")),
    (
        "old shape: keys absent",
        {
            k: v
            for k, v in record(107).items()
            if k
            not in (
                "data_region",
                "workspace_id",
                "router",
                "provider_responses",
                "http_referer",
                "user_agent",
                "request_id",
                "session_id",
                "service_tier",
            )
        },
    ),
    ("provider_responses null", record(108, provider_responses=None)),
    ("attempt without id", attempt(109, id=None)),
    ("envelope", json.dumps({"data": record(110)})),
    ("unknown region kept", record(111, data_region="mars")),
    ("unknown key kept", dict(record(112), beta_feature={"x": 1})),
]


@pytest.fixture(scope="module")
def outcome(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("validation")
    lines = [row for _, row, _ in BAD] + [row for _, row in GOOD]
    path = write_jsonl(tmp / "mixed.jsonl", lines)
    lake = tmp / "lake"
    summary = ingest([path], lake)
    return summary, lake_rows(lake), quarantine_rows(lake)


@pytest.mark.parametrize("index", range(len(BAD)), ids=[case for case, _, _ in BAD])
def test_bad_value_is_quarantined_with_its_reason(outcome, index):
    _, _, quarantine = outcome
    case, row, fragments = BAD[index]
    line = index + 1
    hit = quarantine.filter(quarantine["source_line"] == line)
    assert hit.height == 1, f"{case}: line {line} not quarantined"
    reasons = hit["reasons"][0].to_list()
    for fragment in fragments:
        assert any(fragment in r for r in reasons), f"{case}: {fragment!r} not in {reasons}"
    expected_raw = row if isinstance(row, str) else json.dumps(row)
    assert hit["raw"][0] == expected_raw
    assert hit["run_id"][0] and hit["source_file"][0].endswith("mixed.jsonl")


@pytest.mark.parametrize("index", range(len(GOOD)), ids=[case for case, _ in GOOD])
def test_valid_variant_is_kept(outcome, index):
    _, rows, _ = outcome
    case, row = GOOD[index]
    rec = json.loads(row)["data"] if isinstance(row, str) else row
    kept = rows.filter(rows["id"] == rec["id"])
    assert kept.height == 1, case
    assert kept["_source_line"][0] == len(BAD) + index + 1


def test_rows_add_up_and_warnings_are_counted(outcome):
    summary, rows, quarantine = outcome
    assert summary["rows_read"] == len(BAD) + len(GOOD)
    assert summary["rows_written"] == rows.height == len(GOOD)
    assert summary["rows_quarantined"] == quarantine.height == len(BAD)
    assert summary["rows_read"] == summary["rows_written"] + summary["rows_quarantined"] + summary["rows_duplicate"]
    warnings = {(w["kind"], w["field"], w["value"]): w["rows"] for w in summary["warnings"]}
    assert warnings[("unknown_enum_value", "data_region", "mars")] == 1
    assert warnings[("extra_key", "_extra", "beta_feature")] == 1


def test_values_are_stored_as_parsed(outcome):
    _, rows, _ = outcome
    by_id = {r["id"]: r for r in rows.iter_rows(named=True)}
    assert by_id[record(100)["id"]]["app_id"] == 25
    assert by_id[record(104)["id"]]["created_at"].isoformat() == "2025-01-25T21:58:42.249238+00:00"
    assert by_id[record(105)["id"]]["created_at"].isoformat() == "2026-09-03T04:05:06+00:00"
    old = by_id[record(107)["id"]]
    assert old["data_region"] is None and old["provider_responses"] is None and old["workspace_id"] is None
    assert json.loads(by_id[record(112)["id"]]["_extra"]) == {"beta_feature": {"x": 1}}
    assert by_id[record(110)["id"]]["_extra"] is None
    assert by_id[record(103)["id"]]["cache_discount"] == -0.002


def test_freeze_contract_quarantines_unknown_keys(tmp_path, lake):
    path = write_jsonl(tmp_path / "in.jsonl", [record(1), dict(record(2), surprise=1)])
    summary = ingest([path], lake, schema_contract="freeze")
    assert summary["rows_written"] == 1 and summary["rows_quarantined"] == 1
    reasons = quarantine_rows(lake)["reasons"][0].to_list()
    assert reasons == ["surprise: unknown key (schema contract is freeze)"]
