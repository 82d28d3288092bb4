"""`orusage reconcile`: a crafted lake against crafted activity exports, with known differences."""

from __future__ import annotations

import csv
import io
import json
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import ingest, record, write_jsonl
from pipeline.cli.main import main
from pipeline.openrouter.reconcile import compared_days, load_activity, reconcile

SONNET = "anthropic/claude-sonnet-4.5"
SONNET_PERMA = "anthropic/claude-4.5-sonnet-20250929"
GPT5_PERMA = "openai/gpt-5-2025-08-07"
TOKENS = {"native_tokens_prompt": 110, "native_tokens_completion": 55, "native_tokens_reasoning": 10, "native_tokens_cached": 20}


def attempt(endpoint: str, perma: str, provider: str) -> list[dict]:
    return [
        {
            "id": "a",
            "endpoint_id": endpoint,
            "model_permaslug": perma,
            "provider_name": provider,
            "status": 200,
            "latency": 300.0,
            "is_byok": False,
            "routed_service_tier": None,
        }
    ]


def lake_records() -> list[dict]:
    small = {"native_tokens_prompt": 10, "native_tokens_completion": 5, "native_tokens_reasoning": 0, "native_tokens_cached": 0}
    return [
        # 09-01: sonnet on Anthropic, three records; the third under an alias slug, matched by permaslug.
        record(1, created_at="2026-09-01T10:00:00Z", **TOKENS),
        record(2, created_at="2026-09-01T11:00:00Z", **TOKENS),
        record(3, created_at="2026-09-01T12:00:00Z", model="anthropic/claude-sonnet-latest", **TOKENS),
        # 09-01: a BYOK gpt-5 request: usage 0, the provider's cost in upstream_inference_cost.
        record(
            4,
            created_at="2026-09-01T13:00:00Z",
            model="openai/gpt-5",
            provider_name="OpenAI",
            provider_responses=attempt("ep-oa", GPT5_PERMA, "OpenAI"),
            is_byok=True,
            total_cost=0.0,
            usage=0.0,
            upstream_inference_cost=0.5,
            native_tokens_prompt=100,
            native_tokens_completion=50,
            native_tokens_reasoning=0,
            native_tokens_cached=0,
        ),
        # 09-02: sonnet on Amazon Bedrock (the activity spells it amazon-bedrock, another endpoint).
        record(
            5,
            created_at="2026-09-02T10:00:00Z",
            provider_name="Amazon Bedrock",
            provider_responses=attempt("ep-1", SONNET_PERMA, "Amazon Bedrock"),
            **TOKENS,
        ),
        # 09-02: a model the activity does not know.
        record(
            6,
            created_at="2026-09-02T11:00:00Z",
            model="mistral/secret-model",
            provider_name="Mistral",
            provider_responses=None,
            total_cost=0.001,
            usage=0.001,
            **small,
        ),
        # 09-02: a :free variant of gpt-5.
        record(
            7,
            created_at="2026-09-02T12:00:00Z",
            model="openai/gpt-5:free",
            provider_name="OpenAI",
            provider_responses=None,
            total_cost=0.0,
            usage=0.0,
            **small,
        ),
        # 09-03: a row imported from the dashboard CSV: model holds the permaslug, no attempts.
        record(8, created_at="2026-09-03T10:00:00Z", model=SONNET_PERMA, provider_responses=None, **TOKENS),
        # 09-03: a provider whose names differ, matched by endpoint id.
        record(
            9,
            created_at="2026-09-03T11:00:00Z",
            model="meta/llama",
            provider_name="Together",
            provider_responses=attempt("ep-t", "meta/llama-3", "Together"),
            **TOKENS,
        ),
        # Outside the activity's days: listed, not compared.
        record(10, created_at="2026-09-04T10:00:00Z", **TOKENS),
        record(11, created_at="2026-08-31T23:59:59Z", **TOKENS),
    ]


def item(day, model, perma, endpoint, provider, requests, p, c, r, cached, usage, byok=0.0) -> dict:
    return {
        "date": day,
        "model": model,
        "model_permaslug": perma,
        "endpoint_id": endpoint,
        "provider_name": provider,
        "usage": usage,
        "byok_usage_inference": byok,
        "requests": requests,
        "prompt_tokens": p,
        "completion_tokens": c,
        "reasoning_tokens": r,
        "cached_tokens": cached,
    }


def activity_items() -> list[dict]:
    return [
        item("2026-09-01", SONNET, SONNET_PERMA, "ep-2", "Anthropic", 3, 330, 165, 30, 60, 0.0369),
        item("2026-09-01", "openai/gpt-5", GPT5_PERMA, "ep-oa", "OpenAI", 1, 100, 50, 0, 0, 0.0, byok=0.52),
        item("2026-09-02", SONNET, SONNET_PERMA, "ep-1b", "amazon-bedrock", 1, 110, 55, 10, 20, 0.0123),
        item("2026-09-02", "openai/gpt-5", GPT5_PERMA, "ep-oa", "OpenAI", 2, 10, 5, 0, 0, 0.0),
        item("2026-09-03", SONNET, SONNET_PERMA, "ep-2", "Anthropic", 1, 110, 55, 10, 20, 0.0123),
        item("2026-09-03", "meta/llama", "meta/llama-3", "ep-t", "TogetherAI Inc", 1, 110, 55, 10, 20, 0.0123),
        item("2026-09-03", "google/gemini-x", "google/gemini-x-001", "ep-g", "Google AI Studio", 5, 1000, 100, 0, 0, 0.1),
    ]


@pytest.fixture(scope="module")
def crafted(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("reconcile")
    lake = root / "lake"
    ingest([write_jsonl(root / "records.jsonl", lake_records())], lake)
    activity = root / "activity.json"
    activity.write_text(json.dumps({"data": activity_items()}))
    return lake, activity


def run(*args) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["reconcile", *map(str, args)])
    return result.exit_code, result.output


def _key(row: dict) -> tuple:
    return (str(row["day"]), row["model"], row["provider"])


# --- the comparison --------------------------------------------------------------------------


def test_known_differences_give_exactly_these_rows(crafted):
    lake, activity = crafted
    result = reconcile([activity], lake)
    assert not result.agrees
    got = [
        (
            _key(r),
            r["missing_in"],
            r["note"],
            {m: r[f"diff_{m}"] for m in ("requests", "prompt_tokens", "usage", "byok_usage_inference") if r[f"diff_{m}"]},
        )
        for r in result.differing
    ]
    assert got == [
        (("2026-09-01", "openai/gpt-5", "OpenAI"), None, None, {"byok_usage_inference": pytest.approx(-0.02)}),
        (
            ("2026-09-02", "mistral/secret-model", "Mistral"),
            "activity",
            "model not matched to any activity model",
            {"requests": 1, "prompt_tokens": 10, "usage": pytest.approx(0.001)},
        ),
        (("2026-09-02", "openai/gpt-5", "OpenAI"), None, None, {"requests": -1}),
        (
            ("2026-09-03", "google/gemini-x", "Google AI Studio"),
            "lake",
            "model not found in the lake",
            {"requests": -5, "prompt_tokens": -1000, "usage": pytest.approx(-0.1)},
        ),
    ]
    byok = result.differing[0]
    assert (byok["activity_byok_usage_inference"], byok["lake_byok_usage_inference"]) == (0.52, 0.5)
    assert result.compared_days == [date(2026, 9, 1), date(2026, 9, 2), date(2026, 9, 3)]
    assert result.lake_days_skipped == {date(2026, 8, 31): 1, date(2026, 9, 4): 1}
    assert len(result.rows) == 8  # every key of the compared days, agreeing or not
    assert result.totals["requests"] == {"activity": 14, "lake": 9, "diff": -5}
    assert result.totals["byok_usage_inference"]["diff"] == pytest.approx(-0.02)
    assert [(u["side"], u["kind"], u["name"], u["requests"]) for u in result.unmatched] == [
        ("activity", "model", "google/gemini-x", 5),
        ("lake", "model", "mistral/secret-model", 1),
    ]


def test_name_matching_rules(crafted):
    lake, activity = crafted
    rows = {_key(r): r for r in reconcile([activity], lake).rows}
    # slug, and an alias slug matched by the served attempt's permaslug.
    sonnet = rows[("2026-09-01", SONNET, "Anthropic")]
    assert sonnet["model_match"] == "permaslug,slug" and sonnet["agrees"] and sonnet["lake_requests"] == 3
    assert sonnet["lake_models"] == "anthropic/claude-sonnet-4.5,anthropic/claude-sonnet-latest"
    # Provider names compared without case, spaces or punctuation: Amazon Bedrock = amazon-bedrock.
    bedrock = rows[("2026-09-02", SONNET, "amazon-bedrock")]
    assert bedrock["agrees"] and bedrock["missing_in"] is None
    # A CSV-imported row holds the permaslug as its model.
    csv_row = rows[("2026-09-03", SONNET, "Anthropic")]
    assert csv_row["model_match"] == "model_is_permaslug" and csv_row["agrees"]
    # A :variant suffix falls back to the base slug.
    assert rows[("2026-09-02", "openai/gpt-5", "OpenAI")]["model_match"] == "variant"
    # Names that differ (Together / TogetherAI Inc) but share the served endpoint id.
    llama = rows[("2026-09-03", "meta/llama", "TogetherAI Inc")]
    assert llama["agrees"] and llama["lake_requests"] == 1
    assert rows[("2026-09-02", "mistral/secret-model", "Mistral")]["model_match"] == "unmatched"


def test_tolerances(crafted):
    lake, activity = crafted

    def keys(res):
        return [_key(r) for r in res.differing]

    loose_usd = reconcile([activity], lake, tolerance_usd=0.05)
    assert ("2026-09-01", "openai/gpt-5", "OpenAI") not in keys(loose_usd)
    loose_pct = reconcile([activity], lake, tolerance_pct=50)
    assert ("2026-09-02", "openai/gpt-5", "OpenAI") not in keys(loose_pct)  # 1 of 2 requests is 50 %
    assert ("2026-09-01", "openai/gpt-5", "OpenAI") not in keys(loose_pct)  # 0.02 of 0.52 < 50 %
    # A key on one side only never agrees by percent: 0 is the activity's value.
    assert ("2026-09-02", "mistral/secret-model", "Mistral") in keys(loose_pct)


def test_cli_table_exit_4_and_the_days(crafted):
    lake, activity = crafted
    code, out = run("--activity", activity, "--lake", lake)
    assert code == 4
    assert "Compared days (UTC): 2026-09-01..2026-09-03 (3 days)" in out
    assert "Lake days not compared (outside the activity files): 2026-08-31, 2026-09-04 (2 days, 2 records)" in out
    assert "4 of 8 day x model x provider keys differ:" in out
    assert "(model not matched to any activity model)" in out
    assert "  lake model mistral/secret-model: 1 requests" in out
    assert out.rstrip().endswith("Result: 4 keys differ beyond tolerance.")


def test_cli_csv_and_json(crafted):
    lake, activity = crafted
    code, out = run("--activity", activity, "--lake", lake, "--format", "csv")
    assert code == 4
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [(r["day"], r["model"], r["provider"], r["missing_in"]) for r in rows] == [
        ("2026-09-01", "openai/gpt-5", "OpenAI", ""),
        ("2026-09-02", "mistral/secret-model", "Mistral", "activity"),
        ("2026-09-02", "openai/gpt-5", "OpenAI", ""),
        ("2026-09-03", "google/gemini-x", "Google AI Studio", "lake"),
        ("TOTAL", "", "", ""),
    ]
    assert (rows[2]["activity_requests"], rows[2]["lake_requests"], rows[2]["diff_requests"]) == ("2", "1", "-1")
    assert rows[-1]["diff_requests"] == "-5"
    code, out = run("--activity", activity, "--lake", lake, "--format", "json")
    doc = json.loads(out)
    assert code == 4 and doc["agrees"] is False
    assert doc["compared_days"] == ["2026-09-01", "2026-09-02", "2026-09-03"]
    assert doc["lake_days_not_compared"] == {"2026-08-31": 1, "2026-09-04": 1}
    assert len(doc["differences"]) == 4 and doc["keys_compared"] == 8


def test_matching_activity_exits_0(tmp_path):
    lake = tmp_path / "lake"
    ingest([write_jsonl(tmp_path / "r.jsonl", lake_records()[:3] + lake_records()[9:])], lake)
    activity = tmp_path / "activity.json"
    activity.write_text(json.dumps(activity_items()[:1]))  # a bare list is accepted too
    code, out = run("--activity", activity, "--lake", lake)
    assert code == 0, out
    assert "All 1 day x model x provider keys agree within tolerance." in out
    assert "Result: agrees within tolerance." in out
    code, out = run("--activity", activity, "--lake", lake, "--format", "csv")
    assert code == 0 and out.splitlines()[1].startswith("TOTAL,")


# --- activity files --------------------------------------------------------------------------


def test_several_files_overlap_and_gaps(tmp_path, crafted):
    lake, _ = crafted
    items = activity_items()
    a = tmp_path / "a.json"
    b = tmp_path / "b.json"
    a.write_text(json.dumps({"data": items[:4]}))  # 09-01..09-02
    b.write_text(json.dumps({"data": items[2:]}))  # 09-02..09-03, overlapping a on 09-02
    table, files = load_activity([a, b])
    assert table.num_rows == len(items)  # the items both files hold count once
    assert compared_days(files) == [date(2026, 9, 1), date(2026, 9, 2), date(2026, 9, 3)]
    code, out = run("--activity", a, b, "--lake", lake, "--format", "json")
    assert code == 4 and len(json.loads(out)["differences"]) == 4
    # Disjoint files: only each file's own days are compared.
    c = tmp_path / "c.json"
    c.write_text(json.dumps({"data": [items[0]]}))
    d = tmp_path / "d.json"
    d.write_text(json.dumps({"data": [items[-1]]}))
    assert compared_days(load_activity([c, d])[1]) == [date(2026, 9, 1), date(2026, 9, 3)]


def test_conflicting_overlap_and_malformed_files_exit_1(tmp_path, crafted):
    lake, _ = crafted
    one = tmp_path / "one.json"
    one.write_text(json.dumps({"data": activity_items()[:1]}))
    other = dict(activity_items()[0], requests=99)
    two = tmp_path / "two.json"
    two.write_text(json.dumps({"data": [other]}))
    code, out = run("--activity", one, "--activity", two, "--lake", lake)
    assert code == 1 and "has other numbers than the same item in" in out
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"data": [dict(activity_items()[0], requests="3")]}))
    code, out = run("--activity", bad, "--lake", lake)
    assert code == 1
    assert out.strip() == (
        f'Error: {bad}: data[0].requests: expected a number, got "3". '
        'Give the JSON saved from GET /api/v1/activity ({"data": [...]} or a list of items).'
    )
    notjson = tmp_path / "x.json"
    notjson.write_text("<html>")
    code, out = run("--activity", notjson, "--lake", lake)
    assert code == 1 and out.startswith(f"Error: {notjson}: is not readable JSON")
    code, out = run("--activity", one, "--lake", tmp_path / "empty-lake")
    assert code == 1 and "has no generation records" in out


def test_help_documents_exit_codes():
    result = CliRunner().invoke(main, ["reconcile", "--help"])
    assert result.exit_code == 0
    assert "4   some key differs beyond tolerance" in result.output and "Example:" in result.output
