"""Shared helpers for the tests: valid records, JSONL files, real ingests into tmp lakes."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import polars as pl
import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample"

BASE_RECORD = {
    "id": "gen-1767225600-aaaaaaaaaaaaaaaaaaaa",
    "model": "anthropic/claude-sonnet-4.5",
    "created_at": "2026-09-01T10:00:00.123Z",
    "origin": "https://app.example.com/",
    "is_byok": False,
    "total_cost": 0.0123,
    "usage": 0.0123,
    "data_region": "global",
    "api_type": "completions",
    "app_id": 12345,
    "workspace_id": "ws-1",
    "provider_name": "Anthropic",
    "router": None,
    "external_user": "user-1",
    "preset_id": None,
    "request_id": "req-1",
    "session_id": None,
    "response_cache_source_id": None,
    "upstream_id": "msg_01",
    "finish_reason": "stop",
    "native_finish_reason": "end_turn",
    "cancelled": False,
    "streamed": True,
    "service_tier": None,
    "web_search_engine": None,
    "http_referer": "https://app.example.com/chat",
    "user_agent": "Mozilla/5.0",
    "cache_discount": 0.0001,
    "upstream_inference_cost": None,
    "latency": 350.0,
    "generation_time": 1200.0,
    "moderation_latency": None,
    "tokens_prompt": 100,
    "tokens_completion": 50,
    "native_tokens_prompt": 110,
    "native_tokens_completion": 55,
    "native_tokens_completion_images": 0,
    "native_tokens_reasoning": 10,
    "native_tokens_cached": 20,
    "num_fetches": 0,
    "num_input_audio_prompt": 0,
    "num_media_completion": 0,
    "num_media_prompt": 0,
    "num_search_results": 0,
    "provider_responses": [
        {
            "id": "msg_00",
            "endpoint_id": "ep-1",
            "model_permaslug": "anthropic/claude-4.5-sonnet-20250929",
            "provider_name": "Amazon Bedrock",
            "status": 429,
            "latency": 80.0,
            "is_byok": False,
            "routed_service_tier": None,
        },
        {
            "id": "msg_01",
            "endpoint_id": "ep-2",
            "model_permaslug": "anthropic/claude-4.5-sonnet-20250929",
            "provider_name": "Anthropic",
            "status": 200,
            "latency": 350.0,
            "is_byok": False,
            "routed_service_tier": "priority",
        },
    ],
}


def record(i: int = 0, **overrides) -> dict:
    """A valid record with a unique id per `i`; keyword overrides replace fields."""
    rec = copy.deepcopy(BASE_RECORD)
    rec["id"] = f"gen-1767225600-{i:020d}"
    rec["created_at"] = f"2026-09-{1 + i % 28:02d}T10:{i % 60:02d}:00.123Z"
    rec.update(overrides)
    return rec


def write_jsonl(path: Path, rows: list, newline: str = "\n") -> Path:
    """Rows are dicts (dumped as JSON) or raw strings (written as they are)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = newline.join(r if isinstance(r, str) else json.dumps(r) for r in rows) + newline
    path.write_text(text, encoding="utf-8", newline="")
    return path


def ingest(paths, lake: Path, **options) -> dict:
    from pipeline.ingest.run import Options
    from pipeline.ingest.run import ingest as run

    return run([Path(p) for p in paths], lake, Options(**options))


def lake_rows(lake: Path) -> pl.DataFrame:
    """Every published row, read through DuckDB from the lake's public paths."""
    files = sorted((lake / "generations").glob("date=*/*.parquet"))
    merged = sorted((lake / "generations").glob("month=*/*.parquet"))  # `orusage compact --months-older-than`
    if not files + merged:
        return pl.DataFrame()
    con = duckdb.connect()
    if not merged:
        return con.sql(
            "SELECT * FROM read_parquet($files, hive_partitioning = false) ORDER BY id", params={"files": [str(f) for f in files]}
        ).pl()
    # The merged months' files also store `date`: the same columns as the daily files, without it.
    return con.sql(
        "SELECT * EXCLUDE (date) FROM read_parquet($files, hive_partitioning = false, union_by_name = true) ORDER BY id",
        params={"files": [str(f) for f in files + merged]},
    ).pl()


def quarantine_rows(lake: Path) -> pl.DataFrame:
    files = sorted((lake / "quarantine").glob("*.parquet"))
    if not files:
        return pl.DataFrame()
    return pl.concat([pl.read_parquet(f) for f in files]).sort(["source_file", "source_line"])


def cli(*args, cwd: Path | None = None, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run `python -m pipeline ARGS` as a user would, in a subprocess.

    The tests' files are small, so a few deliberately bad lines are a large share of them:
    `ingest` runs with the quarantine-ratio check off unless the test sets the option or its
    variable (the default itself is tested in test_hardening.py)."""
    full_env = {**os.environ, **(env or {})}
    if args and args[0] == "ingest" and "--max-quarantine-ratio" not in map(str, args):
        full_env.setdefault("ORUSAGE_MAX_QUARANTINE_RATIO", "1")
    full_env.pop("ORUSAGE_DEBUG", None)
    return subprocess.run(
        [sys.executable, "-m", "pipeline", *map(str, args)],
        cwd=cwd or ROOT,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture
def lake(tmp_path: Path) -> Path:
    return tmp_path / "lake"


# --- the report and SQL tests (tests/test_report*.py, tests/test_sql*.py) ---------------------


@pytest.fixture(scope="session")
def report_sample_lake(tmp_path_factory) -> Path:
    """data/sample ingested once, with its views database; shared, so tests only read it."""
    from pipeline.lake.views import refresh_views

    lake = tmp_path_factory.mktemp("report-sample") / "lake"
    ingest([SAMPLE], lake)
    refresh_views(lake)
    return lake
