"""Discovery of generation ids through the Analytics API (`orusage collect --since`), against the
fake OpenRouter of tests/fake_openrouter.py (a real HTTP server on 127.0.0.1)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import ingest, lake_rows, record, write_jsonl
from pipeline.cli.main import main
from pipeline.errors import OrusageError
from pipeline.openrouter.discover import (
    DiscoverOptions,
    RateLimiter,
    WindowTooOld,
    check_window,
    iso,
    list_generation_ids,
    parse_answer,
    parse_when,
)
from tests.fake_openrouter import API_KEY, MANAGEMENT_KEY, FakeOpenRouter, synthetic_records

FAST = ["--backoff-base", "0.01", "--timeout", "5", "--not-found-patience", "2", "--max-attempts", "6", "--concurrency", "4"]
KEYS = {"OPENROUTER_MANAGEMENT_KEY": MANAGEMENT_KEY, "OPENROUTER_API_KEY": API_KEY}


def invoke(*args, env: dict | None = None):
    return CliRunner().invoke(main, ["collect", *map(str, args)], env=KEYS if env is None else env)


def out_ids(path: Path) -> list[str]:
    return [json.loads(line)["id"] for line in path.read_text().splitlines()]


class FakeClock:
    def __init__(self):
        self.now = 1000.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


# --- pieces ----------------------------------------------------------------------------------------


def test_parse_when_dates_instants_and_durations():
    now = datetime(2026, 12, 5, 8, 30, tzinfo=UTC)
    assert parse_when("2026-12-01", now) == datetime(2026, 12, 1, tzinfo=UTC)
    assert parse_when("2026-12-01T10:15:00Z", now) == datetime(2026, 12, 1, 10, 15, tzinfo=UTC)
    assert parse_when("2026-12-01T11:15:00+01:00", now) == datetime(2026, 12, 1, 10, 15, tzinfo=UTC)
    assert parse_when("2026-12-01T10:15:00", now) == datetime(2026, 12, 1, 10, 15, tzinfo=UTC)
    assert parse_when("2h", now) == now - timedelta(hours=2)
    assert parse_when("90m", now) == now - timedelta(minutes=90)
    assert parse_when("3d", now) == now - timedelta(days=3)
    assert parse_when("1w", now) == now - timedelta(days=7)
    for bad in ("yesterday", "2026-13-45", "2x", ""):
        with pytest.raises(ValueError, match="expected a date"):
            parse_when(bad, now)


def test_rate_limiter_keeps_64_a_minute_without_sleeping_for_real():
    fake = FakeClock()
    limiter = RateLimiter(64, clock=fake.clock, sleep=fake.sleep)
    starts = []
    for _ in range(200):
        limiter.acquire()
        starts.append(fake.now)
    # No 60-second window holds more than 64 starts, and the limiter waited no longer than needed.
    for i in range(len(starts) - 64):
        assert starts[i + 64] - starts[i] >= 60.0
    assert starts[-1] - starts[0] == pytest.approx(180.0)
    assert limiter.waited == pytest.approx(sum(fake.slept))


def test_parse_answer_shapes():
    ok = json.dumps({"data": {"data": [{"generation_id": "gen-1", "request_count": "1"}], "metadata": {"truncated": False}}})
    assert parse_answer(ok.encode(), 10) == (["gen-1"], False)
    flat = json.dumps({"data": [{"generation_id": "gen-2", "request_count": 3}], "metadata": {"truncated": True}})
    assert parse_answer(flat.encode(), 10) == (["gen-2"], True)
    zero = json.dumps({"data": {"data": [{"generation_id": "gen-3", "request_count": "0"}], "metadata": {}}})
    assert parse_answer(zero.encode(), 10) == ([], False)
    full = json.dumps({"data": {"data": [{"generation_id": f"gen-{i}", "request_count": "1"} for i in range(3)]}})
    assert parse_answer(full.encode(), 3) == (["gen-0", "gen-1", "gen-2"], True)  # as many rows as the limit: cut
    for bad in (b"not json", b"[]", b'{"data": {"rows": []}}', b'{"data": [{"generation_id": 5}]}'):
        assert parse_answer(bad, 10) is None


def test_windows_older_than_31_days_are_refused_naming_the_csv_import():
    now = datetime(2026, 12, 5, tzinfo=UTC)
    check_window(now - timedelta(days=30), now, now)
    with pytest.raises(WindowTooOld) as caught:
        check_window(now - timedelta(days=32), now, now)
    assert "docs/csv-import.md" in caught.value.message()
    with pytest.raises(OrusageError, match="empty"):
        check_window(now, now, now)


# --- discovery against the fake --------------------------------------------------------------------


def test_truncated_answers_split_the_window_until_every_id_is_listed_once():
    now = datetime.now(UTC)
    records = synthetic_records(400, days=1, now=now)
    fake_clock = FakeClock()
    limiter = RateLimiter(64, clock=fake_clock.clock, sleep=fake_clock.sleep)
    with FakeOpenRouter(records, row_limit=50) as fake:
        found = list_generation_ids(
            now - timedelta(days=1), now, MANAGEMENT_KEY, DiscoverOptions(base_url=fake.base_url), limiter=limiter
        )
        expected = fake.ids_between(now - timedelta(days=1), now)
    assert sorted(found.ids) == sorted(expected) and len(found.ids) == len(set(found.ids)) == len(records)
    assert fake.truncated == found.splits > 0
    assert found.requests == found.windows + found.splits
    if found.requests > 64:  # the limiter waited on its fake clock, not for real
        assert fake_clock.slept


def test_a_window_that_cannot_be_split_further_is_a_clear_error():
    now = datetime.now(UTC)
    # Three generations in the same millisecond, and one row an answer.
    records = [record(i, created_at=(now - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S.000Z")) for i in range(3)]
    with FakeOpenRouter(records, row_limit=1) as fake, pytest.raises(OrusageError) as caught:
        list_generation_ids(now - timedelta(hours=2), now, MANAGEMENT_KEY, DiscoverOptions(base_url=fake.base_url))
    message = caught.value.message()
    assert "still truncates the window" in message and "docs/csv-import.md" in message


def test_collect_since_fetches_only_what_the_lake_and_the_output_lack(tmp_path):
    now = datetime.now(UTC)
    records = synthetic_records(120, days=1, now=now)
    lake = tmp_path / "lake"
    ingest([write_jsonl(tmp_path / "first.jsonl", records[:40])], lake)  # already in the lake
    out = tmp_path / "records.jsonl"
    write_jsonl(out, records[40:50])  # already in the output (an earlier, interrupted collect)
    late = {r["id"]: 2 for r in records[60:63]}  # 404 twice, then there
    never = {records[70]["id"]}  # listed, never fetchable
    with FakeOpenRouter(records, late=late, never=never, rate_limit_every=25) as fake:
        result = invoke("--since", "1d", "--out", out, "--lake", lake, "--base-url", fake.base_url, "--json", *FAST)
    assert result.exit_code == 5, result.output
    summary = json.loads(result.output.strip().splitlines()[-1])
    assert summary["window"]["listed"] == len(records) and summary["window"]["in_lake"] == 40
    assert summary["already"] == 50 and summary["collected"] == len(records) - 51 and summary["missing"] == 1
    assert summary["missing_ids"] == [{"id": records[70]["id"], "reason": "not found (404)"}]
    fetched = set(fake.generation_requests)
    assert not fetched & {r["id"] for r in records[:50]}  # nothing the lake or the output held was asked for
    assert sorted(out_ids(out)) == sorted(r["id"] for r in records[40:] if r["id"] not in never)
    assert fake.answers[429] > 0  # 429s were answered, and waited out
    ingest([out], lake)
    assert lake_rows(lake)["id"].n_unique() == lake_rows(lake).height == len(records) - 1


def test_collect_since_refuses_old_windows_and_bad_usage(tmp_path):
    out = tmp_path / "o.jsonl"
    result = invoke("--since", "40d", "--out", out, "--lake", tmp_path / "lake")
    assert result.exit_code == 1
    assert result.output.startswith("Error: generation ids can be listed only for the last 31 days")
    assert "docs/csv-import.md" in result.output and len(result.output.strip().splitlines()) == 1
    ids = write_jsonl(tmp_path / "ids.txt", ["gen-1"])
    for args in (["--out", out], [ids, "--since", "2h", "--out", out], ["--until", "1h", ids, "--out", out]):
        assert invoke(*args).exit_code == 2
    result = invoke("--since", "yesterday", "--out", out)
    assert result.exit_code == 2 and "expected a date" in result.output
    assert not out.exists()


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"OPENROUTER_MANAGEMENT_KEY": "sk-or-v1-wrong-key-0000", "OPENROUTER_API_KEY": API_KEY}, "OPENROUTER_MANAGEMENT_KEY"),
        ({"OPENROUTER_MANAGEMENT_KEY": API_KEY, "OPENROUTER_API_KEY": API_KEY}, "OPENROUTER_MANAGEMENT_KEY"),
        ({"OPENROUTER_MANAGEMENT_KEY": "", "OPENROUTER_API_KEY": API_KEY}, "OPENROUTER_MANAGEMENT_KEY"),
        ({"OPENROUTER_MANAGEMENT_KEY": MANAGEMENT_KEY, "OPENROUTER_API_KEY": "sk-or-v1-wrong-key-1111"}, "OPENROUTER_API_KEY"),
    ],
)
def test_a_refused_or_missing_key_is_one_line_naming_the_variable(tmp_path, env, variable):
    records = synthetic_records(5, days=1)
    out = tmp_path / "o.jsonl"
    with FakeOpenRouter(records) as fake:
        result = invoke("--since", "1d", "--out", out, "--lake", tmp_path / "lake", "--base-url", fake.base_url, *FAST, env=env)
    assert result.exit_code == 1, result.output
    lines = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1 and variable in lines[0]
    for key in (*env.values(), MANAGEMENT_KEY, API_KEY):
        if key:
            assert key not in result.output


def test_keys_never_appear_in_output_logs_or_files(tmp_path):
    records = synthetic_records(30, days=1)
    out = tmp_path / "o.jsonl"
    with FakeOpenRouter(records, never={records[0]["id"]}) as fake:
        result = invoke(
            "--since", "1d", "--out", out, "--lake", tmp_path / "lake", "--base-url", fake.base_url,
            "-v", "--log-format", "json", "--json", *FAST,
        )  # fmt: skip
    assert result.exit_code == 5
    assert fake.auth_headers == {f"Bearer {MANAGEMENT_KEY}", f"Bearer {API_KEY}"}  # the keys were sent, only as headers
    texts = [result.output, *(p.read_text(errors="replace") for p in tmp_path.rglob("*") if p.is_file())]
    for key in (MANAGEMENT_KEY, API_KEY):
        assert not any(key in text for text in texts)


def test_iso_instants():
    assert iso(datetime(2026, 12, 1, 10, 0, tzinfo=UTC)) == "2026-12-01T10:00:00Z"
    assert iso(datetime(2026, 12, 1, 10, 0, 0, 5000, tzinfo=UTC)) == "2026-12-01T10:00:00.005Z"
