"""`orusage collect` against a local fake of GET /api/v1/generation, started by the test."""

from __future__ import annotations

import email.utils
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from click.testing import CliRunner

from conftest import ingest, lake_rows, record
from pipeline.cli.main import main
from pipeline.openrouter.collect import (
    CollectOptions,
    collect,
    ids_already_written,
    read_ids,
    retry_after_seconds,
)

KEY = "sk-or-v1-THIS-KEY-MUST-NEVER-BE-PRINTED-0123456789"
FAST = ["--backoff-base", "0.05", "--timeout", "0.5", "--not-found-patience", "1", "--max-attempts", "4", "--concurrency", "3"]


def rec(gen_id: str) -> dict:
    return record(7, id=gen_id)


def ok(gen_id: str, delay: float = 0.0) -> tuple:
    return (200, {}, json.dumps({"data": rec(gen_id)}).encode(), delay)


class FakeOpenRouter:
    """Answers each id from its script: the n-th request gets the n-th answer, the last repeats.
    An answer is (status, headers, body, delay seconds). Unknown ids get 404."""

    def __init__(self, scripts: dict[str, list[tuple]], key: str = KEY):
        self.scripts, self.key = scripts, key
        self.requests: list[tuple[str, float]] = []
        self.auth_headers: set[str] = set()
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep the test output clean
                pass

            def do_GET(self):
                url = urlparse(self.path)
                gen_id = parse_qs(url.query).get("id", [""])[0]
                with fake.lock:
                    n = sum(1 for i, _ in fake.requests if i == gen_id)
                    fake.requests.append((gen_id, time.monotonic()))
                    fake.auth_headers.add(self.headers.get("Authorization", ""))
                if url.path != "/api/v1/generation":
                    answer = (404, {}, b'{"error": "no route"}', 0)
                elif self.headers.get("Authorization") != f"Bearer {fake.key}":
                    answer = (401, {}, b'{"error": {"code": 401, "message": "No auth credentials found"}}', 0)
                else:
                    script = fake.scripts.get(gen_id, [(404, {}, b'{"error": {"code": 404}}', 0)])
                    answer = script[min(n, len(script) - 1)]
                status, headers, body, delay = answer
                if delay:
                    time.sleep(delay)
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/api/v1"

    def count(self, gen_id: str) -> int:
        return sum(1 for i, _ in self.requests if i == gen_id)

    def times(self, gen_id: str) -> list[float]:
        return [t for i, t in self.requests if i == gen_id]

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


NOT_FOUND = (404, {}, b'{"error": {"code": 404, "message": "Generation not found"}}', 0)
SCRIPTS = {
    "gen-1-ok": [ok("gen-1-ok")],
    "gen-2-late": [NOT_FOUND, NOT_FOUND, ok("gen-2-late")],
    "gen-3-429": [(429, {"Retry-After": "1"}, b'{"error": "rate limited"}', 0), ok("gen-3-429")],
    "gen-4-500s": [(500, {}, b"oops", 0), (502, {}, b"<html>bad gateway</html>", 0), (503, {}, b"", 0), ok("gen-4-500s")],
    "gen-5-slow": [ok("gen-5-slow", delay=1.5), ok("gen-5-slow")],
    "gen-6-malformed": [
        (200, {}, b'{"data": {"id": "gen-6-malf', 0),
        (200, {}, json.dumps({"data": rec("gen-other")}).encode(), 0),
        ok("gen-6-malformed"),
    ],
    "gen-7-never": [NOT_FOUND],
    "gen-8-broken": [(200, {}, b"not json at all", 0)],
    "gen-9-bad-request": [(400, {}, b'{"error": "bad id"}', 0)],
}
COLLECTED = ["gen-1-ok", "gen-2-late", "gen-3-429", "gen-4-500s", "gen-5-slow", "gen-6-malformed"]


def ids_file(tmp_path: Path, ids: list[str]) -> Path:
    path = tmp_path / "ids.txt"
    path.write_text("# ids captured at request time\n" + "\n".join(ids) + "\n\n")
    return path


def invoke(*args, key: str | None = KEY):
    env = {"OPENROUTER_API_KEY": key} if key is not None else {"OPENROUTER_API_KEY": ""}
    return CliRunner().invoke(main, ["collect", *map(str, args)], env=env)


def out_ids(path: Path) -> list[str]:
    return [json.loads(line)["id"] for line in path.read_text().splitlines()]


def test_collects_retries_and_reports_the_ids_that_never_came(tmp_path):
    ids = ids_file(tmp_path, list(SCRIPTS))
    out = tmp_path / "records.jsonl"
    with FakeOpenRouter(SCRIPTS) as fake:
        result = invoke(
            ids,
            "--out",
            out,
            "--base-url",
            fake.base_url,
            "--missing",
            tmp_path / "missing.txt",
            "--json",
            "-v",
            "--log-format",
            "json",
            *FAST,
        )
    assert result.exit_code == 5, result.output
    assert sorted(out_ids(out)) == sorted(COLLECTED)
    assert (tmp_path / "missing.txt").read_text().splitlines() == ["gen-7-never", "gen-8-broken", "gen-9-bad-request"]
    summary = json.loads(next(line for line in result.output.splitlines() if line.startswith('{"ids"')))
    assert (summary["ids"], summary["already"], summary["collected"], summary["missing"]) == (9, 0, 6, 3)
    assert summary["missing_ids"] == [
        {"id": "gen-7-never", "reason": "not found (404)"},
        {"id": "gen-8-broken", "reason": "malformed response body"},
        {"id": "gen-9-bad-request", "reason": "HTTP 400"},
    ]
    # Every record is the API's record, unwrapped from its envelope, one per line.
    assert json.loads(out.read_text().splitlines()[0]) == rec(out_ids(out)[0])
    # The retries the fake asked for.
    assert fake.count("gen-1-ok") == 1
    assert fake.count("gen-2-late") == 3
    assert fake.count("gen-4-500s") == 4
    assert fake.count("gen-5-slow") == 2  # the slow answer timed out, the retry came back
    assert fake.count("gen-6-malformed") == 3
    assert fake.count("gen-8-broken") == 4  # --max-attempts
    assert fake.count("gen-9-bad-request") == 1  # a 400 is not retried
    first, second = fake.times("gen-3-429")
    assert second - first >= 1.0  # Retry-After: 1 honoured
    never = fake.times("gen-7-never")
    # Retried for --not-found-patience (1 s), plus the time every worker paused for the 429 (1 s).
    assert len(never) >= 3 and 0.9 <= never[-1] - never[0] <= 3.5
    # The key went only into the Authorization header: never into the output or the logs.
    assert fake.auth_headers == {f"Bearer {KEY}"}
    assert KEY not in result.output and KEY not in out.read_text()
    events = [json.loads(line) for line in result.output.splitlines() if line.startswith('{"') and '"event"' in line]
    assert {"collect_start", "collect_retry", "collect_gave_up", "collect_summary"} <= {e["event"] for e in events}
    assert next(e for e in events if e["event"] == "collect_summary")["missing"] == 3


def test_resumes_where_it_stopped(tmp_path):
    out = tmp_path / "records.jsonl"
    scripts = {f"gen-{i}": [ok(f"gen-{i}")] for i in range(6)}
    with FakeOpenRouter(scripts) as fake:
        result = invoke(ids_file(tmp_path, ["gen-0", "gen-1", "gen-2"]), "--out", out, "--base-url", fake.base_url, *FAST)
        assert result.exit_code == 0, result.output
        # A run killed while writing leaves a torn last line: it is cut, its id fetched again.
        with open(out, "a") as fh:
            fh.write('{"id": "gen-3", "model": "x/y", "tot')
        result = invoke(
            ids_file(tmp_path, [f"gen-{i}" for i in range(6)]), "--out", out, "--base-url", fake.base_url, "--json", *FAST
        )
    assert result.exit_code == 0, result.output
    assert sorted(out_ids(out)[:3]) == ["gen-0", "gen-1", "gen-2"]  # kept as they were
    assert sorted(out_ids(out)[3:]) == ["gen-3", "gen-4", "gen-5"]
    assert [fake.count(f"gen-{i}") for i in range(6)] == [1, 1, 1, 1, 1, 1]
    summary = json.loads(result.output.strip().splitlines()[-1])
    assert (summary["already"], summary["collected"], summary["missing"]) == (3, 3, 0)


def test_collected_records_ingest(tmp_path):
    out = tmp_path / "records.jsonl"
    with FakeOpenRouter({"gen-1767225600-aaaaaaaaaaaaaaaaaaa1": [ok("gen-1767225600-aaaaaaaaaaaaaaaaaaa1")]}) as fake:
        ids = ids_file(tmp_path, ["gen-1767225600-aaaaaaaaaaaaaaaaaaa1"])
        assert invoke(ids, "--out", out, "--base-url", fake.base_url, *FAST).exit_code == 0
    summary = ingest([out], tmp_path / "lake")
    assert summary["rows_written"] == 1
    assert lake_rows(tmp_path / "lake")["id"].to_list() == ["gen-1767225600-aaaaaaaaaaaaaaaaaaa1"]


def test_a_refused_key_stops_the_run_without_showing_it(tmp_path):
    out = tmp_path / "records.jsonl"
    with FakeOpenRouter(SCRIPTS, key="another-key") as fake:
        result = invoke(ids_file(tmp_path, list(SCRIPTS)), "--out", out, "--base-url", fake.base_url, *FAST)
    assert result.exit_code == 1
    assert "Error: the API answered 401 Unauthorized at http://127.0.0.1:" in result.output
    assert "Check the key in $OPENROUTER_API_KEY" in result.output
    assert KEY not in result.output
    assert len(fake.requests) <= 3 + 3  # the run stopped: at most the requests already in flight


def test_no_key_and_no_ids_file(tmp_path):
    result = invoke(ids_file(tmp_path, ["gen-1"]), "--out", tmp_path / "o.jsonl", key=None)
    assert result.exit_code == 1
    assert result.output.strip() == (
        "Error: the environment variable OPENROUTER_API_KEY holding the API key is not set. "
        "Export it (export OPENROUTER_API_KEY=...) or name another with --api-key-env."
    )
    result = invoke(tmp_path / "nope.txt", "--out", tmp_path / "o.jsonl")
    assert result.exit_code == 1 and result.output.startswith(f"Error: {tmp_path / 'nope.txt'}: no such file.")


def test_api_key_env_names_another_variable(tmp_path, monkeypatch):
    monkeypatch.setenv("MY_OR_KEY", KEY)
    monkeypatch.delenv("OPENROUTER_API_KEY", raising=False)
    with FakeOpenRouter({"gen-a": [ok("gen-a")]}) as fake:
        summary = collect(
            ids_file(tmp_path, ["gen-a"]),
            tmp_path / "o.jsonl",
            CollectOptions(api_key_env="MY_OR_KEY", base_url=fake.base_url, backoff_base=0.01),
        )
    assert summary.collected == 1 and not summary.missing


# --- pieces ----------------------------------------------------------------------------------


def test_retry_after_seconds_and_http_date():
    now = 1_800_000_000.0
    assert retry_after_seconds("7", now) == 7.0
    assert retry_after_seconds("0", now) == 0.0
    later = email.utils.formatdate(now + 30, usegmt=True)
    assert retry_after_seconds(later, now) == pytest.approx(30.0)
    assert retry_after_seconds(email.utils.formatdate(now - 30, usegmt=True), now) == 0.0
    assert retry_after_seconds("soon", now) is None and retry_after_seconds(None, now) is None


def test_retry_after_http_date_is_honoured(tmp_path):
    when = email.utils.formatdate(time.time() + 2, usegmt=True)  # whole seconds: 1 to 2 s from now
    scripts = {"gen-d": [(429, {"Retry-After": when}, b"", 0), ok("gen-d")]}
    with FakeOpenRouter(scripts) as fake:
        result = invoke(ids_file(tmp_path, ["gen-d"]), "--out", tmp_path / "o.jsonl", "--base-url", fake.base_url, *FAST)
    assert result.exit_code == 0
    first, second = fake.times("gen-d")
    assert second - first >= 0.9


def test_ids_file_and_output_reading(tmp_path):
    path = tmp_path / "ids.txt"
    path.write_text("gen-a\n  gen-b  \n\n# comment\ngen-a\n")
    assert read_ids(path) == ["gen-a", "gen-b"]
    out = tmp_path / "o.jsonl"
    out.write_text(json.dumps({"data": {"id": "gen-x"}}) + "\n" + json.dumps({"id": "gen-y"}) + "\n" + '{"id": "gen-z", "mo')
    assert ids_already_written(out) == {"gen-x", "gen-y"}
    assert out.read_text().endswith('"gen-y"}\n')  # the torn line is gone


def test_help_documents_exit_codes():
    result = CliRunner().invoke(main, ["collect", "--help"])
    assert result.exit_code == 0
    assert "5   some ids never came" in result.output and "Example:" in result.output
    assert "--backoff-base" not in result.output
