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


def written_texts(root: Path, *, but: tuple[Path, ...] = ()) -> list[str]:
    """The text of every file under `root` (Parquet decoded, since its pages are compressed)."""
    import pyarrow.parquet as pq

    texts = []
    for path in sorted(root.rglob("*")):
        if not path.is_file() or path in but:
            continue
        if path.suffix == ".parquet":
            texts.append(json.dumps(pq.read_table(path).to_pylist(), default=str))
        texts.append(path.read_bytes().decode("utf-8", errors="replace"))
    return texts


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
    texts = [result.output, *written_texts(tmp_path)]
    for key in (MANAGEMENT_KEY, API_KEY):
        assert not any(key in text for text in texts)


def test_iso_instants():
    assert iso(datetime(2026, 12, 1, 10, 0, tzinfo=UTC)) == "2026-12-01T10:00:00Z"
    assert iso(datetime(2026, 12, 1, 10, 0, 0, 5000, tzinfo=UTC)) == "2026-12-01T10:00:00.005Z"


# --- the scheduled run ([collect] in orusage.toml) ---------------------------------------------------


def feed_config(tmp_path: Path, base_url: str, **extra) -> Path:
    """orusage.toml of a scheduled run that collects from the fake; `extra`: more [collect] keys."""
    (tmp_path / "inbox").mkdir(exist_ok=True)
    collect = {
        "enabled": True,
        "base_url": base_url,
        "lookback_hours": 48.0,
        "overlap_minutes": 120.0,
        "not_found_patience_seconds": 3.0,
        **extra,
    }
    lines = [
        'lake = "lake"',
        "[inbox]",
        'paths = ["inbox"]',
        "[report]",
        'dir = "reports"',
        'formats = ["csv"]',
        "[anomaly]",
        "enabled = false",
        "[collect]",
        *(f"{k} = {json.dumps(v)}" for k, v in collect.items()),
    ]
    path = tmp_path / "orusage.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def run_events(config: Path, env: dict | None = None) -> tuple[int, list[dict]]:
    result = CliRunner().invoke(main, ["run", "--log-format", "json", "--config", str(config)], env=KEYS if env is None else env)
    log = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    return result.exit_code, log


def lake_ids(lake: Path) -> list[str]:
    rows = lake_rows(lake)
    return [] if rows.is_empty() else rows["id"].to_list()


def watermark(lake: Path) -> datetime | None:
    from pipeline.openrouter.feed import read_state

    return read_state(lake).watermark


def test_two_overlapping_scheduled_runs_hold_every_generation_once(tmp_path):
    now = datetime.now(UTC)
    records = synthetic_records(150, days=1, now=now)
    late = {records[-1]["id"]: 2, records[-2]["id"]: 1}  # 404 for a while, then there
    lake = tmp_path / "lake"
    with FakeOpenRouter(records, late=late, rate_limit_every=40) as fake:
        config = feed_config(tmp_path, fake.base_url)
        code, log = run_events(config)
        assert code == 0, log
        first = watermark(lake)
        assert sorted(lake_ids(lake)) == sorted(r["id"] for r in records)
        summary = log[-1]
        assert summary["collected"] == len(records) and summary["collect_missing"] == 0 and summary["published"]
        assert not (tmp_path / "inbox" / ".orusage-collect" / "feed.jsonl").exists()
        # New generations, then a second run whose window overlaps the first by two hours.
        newer = [record(i, created_at=iso(datetime.now(UTC) - timedelta(seconds=30 + i))) for i in range(20)]
        fake.add(newer)
        code, log = run_events(config)
        assert code == 0, log
        window = next(e for e in log if e["event"] == "collect")
        assert window["in_lake"] > 0 and window["collected"] == 20  # listed again, fetched only the new ones
        assert iso(first - timedelta(hours=2)) == window["since"]
        second = watermark(lake)
        # Nothing new: the run publishes only its summary, and the watermark still moves.
        code, log = run_events(config)
        assert code == 0 and any(e["event"] == "collect_recorded" for e in log), log
        third = watermark(lake)
        requested = dict(fake.generation_requests)
        agree = reconcile_fetch(lake, fake.base_url, "--days", "2")
    assert agree.exit_code == 0, agree.output
    assert first < second < third
    ids = lake_ids(lake)
    assert len(ids) == len(set(ids)) == len(records) + 20
    assert set(ids) == {r["id"] for r in records + newer}
    assert all(requested[i] == 1 + late.get(i, 0) for i in set(ids))  # each record was fetched once


def test_a_run_killed_mid_fetch_then_rerun_loses_nothing_and_counts_nothing_twice(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    from conftest import ROOT

    records = synthetic_records(200, days=1)
    lake = tmp_path / "lake"
    spool = tmp_path / "inbox" / ".orusage-collect" / "feed.jsonl"
    with FakeOpenRouter(records, generation_delay=0.02) as fake:
        config = feed_config(tmp_path, fake.base_url, concurrency=2)
        env = {**os.environ, **KEYS, "ORUSAGE_LOG_FORMAT": "json"}
        proc = subprocess.Popen(
            [sys.executable, "-m", "pipeline", "run", "--config", str(config)],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while len(fake.generation_requests) < 40 and time.monotonic() < deadline:
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        assert proc.returncode == -signal.SIGKILL
        fetched_before = set(fake.generation_requests)
        assert 0 < len(fetched_before) < len(records)
        assert spool.exists() and not (lake / "current").exists()  # killed before anything was published
        fake.generation_delay = 0
        code, log = run_events(config)
        assert code == 0, log
        requested = dict(fake.generation_requests)
        agree = reconcile_fetch(lake, fake.base_url, "--days", "2")
    assert agree.exit_code == 0, agree.output  # OpenRouter's own daily numbers agree with the lake
    ids = lake_ids(lake)
    assert sorted(ids) == sorted(r["id"] for r in records)  # every generation, once
    assert not spool.exists()
    # What the killed run had written to the spool file was not fetched again (at most the
    # requests in flight when it was killed, whose answers it never wrote, are asked twice).
    assert sum(1 for i in fetched_before if requested[i] > 1) <= 2


def test_a_refused_key_stops_the_scheduled_run_with_one_line_naming_the_variable(tmp_path):
    records = synthetic_records(10, days=1)
    with FakeOpenRouter(records) as fake:
        config = feed_config(tmp_path, fake.base_url)
        code, log = run_events(config, env={**KEYS, "OPENROUTER_MANAGEMENT_KEY": API_KEY})
    assert code == 1
    errors = [e for e in log if e["event"] == "error"]
    assert len(errors) == 1 and "$OPENROUTER_MANAGEMENT_KEY" in errors[0]["message"]
    assert not (tmp_path / "lake" / "current").exists()
    texts = [json.dumps(log), *written_texts(tmp_path)]
    assert not any(API_KEY in t or MANAGEMENT_KEY in t for t in texts)


def test_keys_from_a_key_file_and_never_written_anywhere(tmp_path):
    records = synthetic_records(30, days=1)
    keys = tmp_path / "keys.env"
    keys.write_text(f"export OPENROUTER_MANAGEMENT_KEY={MANAGEMENT_KEY}\nOPENROUTER_API_KEY='{API_KEY}'\n")
    with FakeOpenRouter(records, never={records[3]["id"]}) as fake:
        config = feed_config(tmp_path, fake.base_url, key_file=str(keys))
        code, log = run_events(config, env={"OPENROUTER_MANAGEMENT_KEY": "", "OPENROUTER_API_KEY": ""})
    assert code == 0, log
    assert any(e["event"] == "collect_gave_up" and e["id"] == records[3]["id"] for e in log)
    assert len(lake_ids(tmp_path / "lake")) == len(records) - 1
    texts = [json.dumps(log), *written_texts(tmp_path, but=(keys,))]
    # The search reads what was written: a record's id inside the lake's compressed Parquet, the summary's watermark.
    assert any(records[5]["id"] in t for t in texts[1:]) and any('"until"' in t for t in texts[1:])
    assert not any(API_KEY in t or MANAGEMENT_KEY in t for t in texts)


def test_a_watermark_older_than_31_days_is_refused_naming_the_csv_import(tmp_path):
    from pipeline.openrouter.feed import record_summary

    lake = tmp_path / "lake"
    ingest([write_jsonl(tmp_path / "old.jsonl", [record(1)])], lake)
    old = datetime.now(UTC) - timedelta(days=40)
    record_summary(lake, {"since": iso(old - timedelta(hours=1)), "until": iso(old), "first_since": iso(old)})
    assert watermark(lake) == old.replace(microsecond=old.microsecond // 1000 * 1000)
    records = synthetic_records(10, days=1)
    with FakeOpenRouter(records) as fake:
        config = feed_config(tmp_path, fake.base_url)
        code, log = run_events(config)
        assert code == 1
        error = next(e for e in log if e["event"] == "error")["message"]
        assert "more than 31 days ago" in error and "docs/csv-import.md" in error and "resume_after_gap" in error
        config = feed_config(tmp_path, fake.base_url, resume_after_gap=True)
        code, log = run_events(config)
    assert code == 0, log
    assert any(e["event"] == "collect_gap_skipped" for e in log)
    assert len(lake_ids(lake)) == len(records) + 1


def test_two_scheduled_runs_started_together_take_turns_and_hold_every_generation_once(tmp_path):
    import os
    import subprocess
    import sys

    from conftest import ROOT

    records = synthetic_records(120, days=1)
    with FakeOpenRouter(records, generation_delay=0.005) as fake:
        config = feed_config(tmp_path, fake.base_url)
        config.write_text(config.read_text().replace('lake = "lake"', 'lake = "lake"\nlock_wait_seconds = 120.0'))
        env = {**os.environ, **KEYS, "ORUSAGE_LOG_FORMAT": "json"}
        command = [sys.executable, "-m", "pipeline", "run", "--config", str(config)]
        pipes = dict(stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        procs = [subprocess.Popen(command, cwd=ROOT, env=env, **pipes) for _ in range(2)]
        outs = [p.communicate(timeout=240) for p in procs]
        requested = dict(fake.generation_requests)
    assert [p.returncode for p in procs] == [0, 0], [o[1][-2000:] for o in outs]
    collected = sorted(json.loads(o[1].strip().splitlines()[-1])["collected"] for o in outs)
    assert collected == [0, len(records)]  # the second waited for the lock, then found everything in the lake
    ids = lake_ids(tmp_path / "lake")
    assert sorted(ids) == sorted(r["id"] for r in records)
    assert all(n == 1 for n in requested.values())


# --- reconcile --fetch, and the daily reconcile of the scheduled run -----------------------------------


def reconcile_fetch(lake: Path, base_url: str, *args, env: dict | None = None):
    return CliRunner().invoke(
        main, ["reconcile", "--fetch", "--lake", str(lake), "--base-url", base_url, *args], env=KEYS if env is None else env
    )


def test_reconcile_fetch_agrees_with_a_collected_lake_and_names_a_difference(tmp_path):
    records = synthetic_records(150, days=3)
    lake = tmp_path / "lake"
    with FakeOpenRouter(records, generation_delay=0.01) as fake:
        config = feed_config(tmp_path, fake.base_url, lookback_hours=96.0)
        code, _ = run_events(config)
        assert code == 0
        agree = reconcile_fetch(lake, fake.base_url, "--days", "4", "--format", "json")
        one_day = reconcile_fetch(lake, fake.base_url, "--days", "1", "--format", "json")
        # A generation the lake lacks (and one OpenRouter would not list) makes it differ: exit 4.
        fake.activity_extra.append(
            {"date": str(datetime.now(UTC).date() - timedelta(days=1)), "model": "x-ai/grok-9", "provider_name": "xAI",
             "requests": 1, "prompt_tokens": 10, "completion_tokens": 1, "reasoning_tokens": 0, "cached_tokens": 0,
             "usage": 0.5, "byok_usage_inference": 0.0}
        )  # fmt: skip
        differ = reconcile_fetch(lake, fake.base_url, "--days", "4")
        refused = reconcile_fetch(lake, fake.base_url, env={"OPENROUTER_MANAGEMENT_KEY": API_KEY})
    assert agree.exit_code == 0, agree.output
    result = json.loads(agree.output)
    assert len(result["compared_days"]) == 4 and result["agrees"] is True
    # Fewer days than the activity holds: only those are compared, on both sides.
    assert one_day.exit_code == 0, one_day.output
    result = json.loads(one_day.output)
    assert result["compared_days"] == [str(datetime.now(UTC).date() - timedelta(days=1))] and result["agrees"] is True
    assert differ.exit_code == 4 and "x-ai/grok-9" in differ.output
    assert "Lake days not compared (outside --days): " in differ.output
    assert refused.exit_code == 1 and "$OPENROUTER_MANAGEMENT_KEY" in refused.output and API_KEY not in refused.output
    assert reconcile_fetch(lake, "http://127.0.0.1:9/api/v1", "--activity", "a.json").exit_code == 2


def test_the_first_run_of_a_day_reconciles_and_alerts_like_check(tmp_path):
    records = synthetic_records(150, days=3)
    lake = tmp_path / "lake"
    with FakeOpenRouter(records) as fake:
        config = feed_config(tmp_path, fake.base_url, lookback_hours=96.0, reconcile_daily=True)
        fake.activity_extra.append(
            {"date": str(datetime.now(UTC).date() - timedelta(days=1)), "model": "x-ai/grok-9", "provider_name": "xAI",
             "requests": 3, "usage": 0.5}
        )  # fmt: skip
        code, log = run_events(config)
        assert code == 3, log  # an alert, as `check` gives
        alert = next(e for e in log if e["event"] == "alert")
        assert alert["key"].startswith("reconcile:") and "differ on 1 of" in alert["message"]
        assert log[-1]["reconciled"] == "differs" and log[-1]["alerts"] == 1
        # Reconciled once a UTC day: the next run of the day does not ask again.
        fake.activity_extra.clear()
        before = fake.count("/api/v1/activity")
        code, log = run_events(config)
        assert code == 0 and log[-1]["reconciled"] is None, log
        assert fake.count("/api/v1/activity") == before
    assert sorted(lake_ids(lake)) == sorted(r["id"] for r in records)


def test_reconcile_days_are_the_completed_days_collected_in_full():
    from types import SimpleNamespace

    from pipeline.openrouter.feed import State, reconcile_days

    c = SimpleNamespace(reconcile_daily=True, overlap_minutes=120.0)
    now = datetime(2026, 12, 5, 8, 0, tzinfo=UTC)
    d = lambda day: datetime(2026, 12, day, tzinfo=UTC).date()  # noqa: E731
    first = State(first_since=datetime(2026, 12, 1, 6, 0, tzinfo=UTC))
    assert reconcile_days(first, now, now, c, now) == [d(2), d(3), d(4)]
    assert reconcile_days(State(first_since=datetime(2026, 12, 2, tzinfo=UTC)), now, now, c, now) == [d(2), d(3), d(4)]
    early = datetime(2026, 12, 5, 1, 0, tzinfo=UTC)  # yesterday's last two hours are not settled yet
    assert reconcile_days(first, early, early, c, early) == [d(2), d(3)]
    assert reconcile_days(State(first_since=now - timedelta(hours=3), reconciled_on=None), now, now, c, now) == []
    assert reconcile_days(State(first_since=first.first_since, reconciled_on=d(5)), now, now, c, now) == []
    assert reconcile_days(first, now, now, SimpleNamespace(reconcile_daily=False, overlap_minutes=0), now) == []
    long_ago = State(first_since=now - timedelta(days=90))
    assert len(reconcile_days(long_ago, now, now, c, now)) == 30


def test_an_unusable_api_answer_still_ingests_the_inbox_and_fails_the_run(tmp_path):
    import os

    records = synthetic_records(20, days=1)
    lake = tmp_path / "lake"
    with FakeOpenRouter(records) as fake:
        config = feed_config(tmp_path, fake.base_url)
        export = write_jsonl(tmp_path / "inbox" / "export.jsonl", [record(i) for i in range(5)])
        os.utime(export, (0, 0))  # old enough for the inbox scan
        fake.analytics_status = 400
        code, log = run_events(config)
        assert code == 1, log
        assert [e["event"] for e in log].count("error") == 1
        error = next(e for e in log if e["event"] == "error")["message"]
        assert error.startswith("Error: the Analytics API answered 400 Bad Request")
        assert log[-1]["rows_written"] == 5 and log[-1]["published"] and watermark(lake) is None  # inbox in, no watermark
        fake.analytics_status = None
        code, log = run_events(config)
    assert code == 0, log
    assert watermark(lake) is not None and len(lake_ids(lake)) == 5 + len(records)


def test_a_quarantined_record_is_not_fetched_again_by_the_next_run(tmp_path):
    records = synthetic_records(40, days=1)
    # Ten minutes old (so inside the next run's overlap), a money field as a string: quarantined.
    bad = record(99, created_at=iso(datetime.now(UTC) - timedelta(minutes=10)), total_cost="0.5")
    records.append(bad)
    with FakeOpenRouter(records) as fake:
        config = feed_config(tmp_path, fake.base_url)
        code, log = run_events(config)
        assert code == 0, log
        assert log[-1]["rows_quarantined"] == 1 and log[-1]["rows_written"] == len(records) - 1
        fake.add([record(i, created_at=iso(datetime.now(UTC) - timedelta(seconds=5 + i))) for i in range(3)])
        code, log = run_events(config)
        requested = dict(fake.generation_requests)
    assert code == 0, log
    window = next(e for e in log if e["event"] == "collect")
    assert window["listed"] == window["in_lake"] + 3 and window["collected"] == 3
    assert datetime.fromisoformat(window["since"]) < datetime.now(UTC) - timedelta(minutes=10)  # the bad one was listed
    assert requested[bad["id"]] == 1  # listed again (in the overlap), but the quarantine holds it


def test_the_window_of_a_run():
    from types import SimpleNamespace

    from pipeline.openrouter.feed import State, window

    c = SimpleNamespace(lookback_hours=24.0, overlap_minutes=120.0, resume_after_gap=False)
    now = datetime(2026, 12, 5, 8, 0, tzinfo=UTC)
    assert window(State(), c, now) == (now - timedelta(hours=24), now)
    mark = now - timedelta(hours=1)
    assert window(State(watermark=mark), c, now) == (mark - timedelta(hours=2), now)
    # A watermark just inside the 31 days: the overlap is cut at the limit, not refused.
    edge = now - timedelta(days=31) + timedelta(minutes=30)
    since, _ = window(State(watermark=edge), c, now)
    assert edge - timedelta(hours=2) < since <= edge
    with pytest.raises(WindowTooOld):
        window(State(watermark=now - timedelta(days=32)), c, now)
    c.resume_after_gap = True
    assert window(State(watermark=now - timedelta(days=32)), c, now)[0] > now - timedelta(days=31)
