"""The field table is the one declaration: everything else is generated from it and agrees."""

from __future__ import annotations

import tomllib

import pyarrow as pa
import pyarrow.parquet as pq

from conftest import ROOT, ingest, record, write_jsonl
from pipeline.ingest.validate import pandera_schema
from pipeline.schema.table import duckdb_columns, lake_arrow_schema, load_table, render_markdown


def test_docs_field_table_matches_the_schema_file():
    committed = (ROOT / "docs" / "fields.md").read_text(encoding="utf-8")
    assert committed == render_markdown(), "docs/fields.md drifted from schemas/generation.toml: run `make docs`"


# The fields of the API's GenerationResponseData table (mid-2026), plus what it documents since.
API_FIELDS = [
    "api_type",
    "app_id",
    "cache_discount",
    "cancelled",
    "created_at",
    "data_region",
    "external_user",
    "finish_reason",
    "generation_time",
    "http_referer",
    "id",
    "is_byok",
    "latency",
    "model",
    "moderation_latency",
    "native_finish_reason",
    "native_tokens_cached",
    "native_tokens_completion",
    "native_tokens_completion_images",
    "native_tokens_prompt",
    "native_tokens_reasoning",
    "num_fetches",
    "num_input_audio_prompt",
    "num_media_completion",
    "num_media_prompt",
    "num_search_results",
    "origin",
    "preset_id",
    "provider_name",
    "provider_responses",
    "request_id",
    "response_cache_source_id",
    "router",
    "service_tier",
    "session_id",
    "streamed",
    "tokens_completion",
    "tokens_prompt",
    "total_cost",
    "upstream_id",
    "upstream_inference_cost",
    "usage",
    "user_agent",
    "web_search_engine",
    "workspace_id",
]


def test_table_covers_every_field_of_the_api_reference_and_newer_ones():
    raw = tomllib.loads((ROOT / "schemas" / "generation.toml").read_text())
    names = [f["name"] for f in raw["field"]]
    assert sorted(names) == sorted(API_FIELDS)
    assert len(names) == len(set(names))
    attempt = {f["name"] for f in raw["attempt_field"]}
    assert attempt == {
        "id",
        "endpoint_id",
        "model_permaslug",
        "provider_name",
        "status",
        "latency",
        "is_byok",
        "routed_service_tier",
    }


def test_every_field_states_its_nullability_and_absence():
    raw = tomllib.loads((ROOT / "schemas" / "generation.toml").read_text())
    for f in raw["field"]:
        assert "nullable" in f and "absent_ok" in f and f["description"], f["name"]


def test_arrow_schema_is_spark_readable():
    schema = lake_arrow_schema()
    for field in schema:
        t = field.type
        assert not pa.types.is_unsigned_integer(t), field.name
        assert not pa.types.is_large_string(t), field.name
        if pa.types.is_timestamp(t):
            assert t.unit == "us" and t.tz == "UTC", field.name
    assert schema.field("created_at").type == pa.timestamp("us", tz="UTC")
    assert pa.types.is_list(schema.field("provider_responses").type)
    for f in load_table().fields:
        assert schema.field(f.name).nullable == f.nullable


def test_duckdb_columns_follow_the_table():
    cols = duckdb_columns()
    assert list(cols) == list(load_table().names)
    assert cols["created_at"] == "TIMESTAMPTZ"
    assert cols["app_id"] == "BIGINT" and cols["total_cost"] == "DOUBLE" and cols["is_byok"] == "BOOLEAN"
    assert cols["provider_responses"].startswith("STRUCT(") and cols["provider_responses"].endswith("[]")


def test_pandera_schema_holds_every_rule_of_the_table():
    schema = pandera_schema()
    table = load_table()
    assert list(schema.columns) == list(table.names)
    for f in table.fields:
        column = schema.columns[f.name]
        assert column.nullable == f.nullable, f.name
        names = " ".join(str(c.error or c.name) for c in column.checks)
        if f.nonempty:
            assert "non-empty" in names, f.name
        if f.ge0:
            assert ">= 0" in names, f.name
        if f.type == "float":
            assert "finite" in names, f.name
    attempt_rules = " ".join(str(c.error) for c in schema.columns["provider_responses"].checks)
    assert "[].status must be >= 0" in attempt_rules and "[].latency must be >= 0" in attempt_rules


def test_written_parquet_schema_equals_the_declared_one(tmp_path, lake):
    write_jsonl(tmp_path / "in.jsonl", [record(0), record(1, provider_responses=None, app_id=None)])
    ingest([tmp_path / "in.jsonl"], lake)
    files = sorted((lake / "generations").glob("date=*/*.parquet"))
    assert files
    for path in files:
        assert pq.read_schema(path).remove_metadata() == lake_arrow_schema(), path
        assert pq.ParquetFile(path).metadata.row_group(0).column(0).compression == "ZSTD"
