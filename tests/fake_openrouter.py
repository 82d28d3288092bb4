"""A fake OpenRouter on 127.0.0.1 for the collection tests, and for trying collection by hand.

A real HTTP server (the standard library's, in a thread) that follows the documented shapes:

    POST /api/v1/analytics/query   management key; the `generation_id` dimension over
                                   `time_range` [start, end); at most `row_limit` rows, then
                                   `metadata.truncated: true`; `request_count` as a string
    GET  /api/v1/generation?id=    API key; `{"data": record}`; an id of `late` answers 404 for
                                   its first N requests; an id of `never` is listed by analytics
                                   but always 404
    GET  /api/v1/activity          management key; one item per UTC date x model x provider of
                                   the last 30 completed UTC days, sums as OpenRouter documents

Every `rate_limit_every`-th request answers 429 with `Retry-After: 1`; `generation_delay` slows
the record answers (a test kills a run mid-fetch). By hand:

    python -m tests.fake_openrouter --port 8099 --records 2000 --days 3
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

MANAGEMENT_KEY = "sk-or-v1-mgmt-FAKE-0123456789abcdef0123456789abcdef"
API_KEY = "sk-or-v1-api-FAKE-fedcba9876543210fedcba9876543210"


def synthetic_records(n: int, *, days: int = 1, now: datetime | None = None, seed: int = 5) -> list[dict]:
    """About `n` realistic records (tools/synth.py) created in the `days` whole days before `now`
    (from 5 minutes after its start, so that `--since 1d` a moment later still holds them all)."""
    from tools import synth

    now = now or datetime.now(UTC)
    start = now - timedelta(days=days) + timedelta(minutes=5)
    return [r for r in synth.iter_records(n, seed=seed, start=start, days=days) if _created(r) < now]


def _created(record: dict) -> datetime:
    return datetime.fromisoformat(record["created_at"].replace("Z", "+00:00")).astimezone(UTC)


def _parse_instant(text: str) -> datetime:
    when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return when if when.tzinfo else when.replace(tzinfo=UTC)


class FakeOpenRouter:
    def __init__(
        self,
        records: list[dict],
        *,
        management_key: str = MANAGEMENT_KEY,
        api_key: str = API_KEY,
        row_limit: int = 10_000,
        late: dict[str, int] | None = None,
        never: set[str] | None = None,
        rate_limit_every: int = 0,
        generation_delay: float = 0.0,
        port: int = 0,
    ):
        self.management_key, self.api_key, self.row_limit = management_key, api_key, row_limit
        self.late = dict(late or {})
        self.never = set(never or ())
        self.rate_limit_every = rate_limit_every
        self.generation_delay = generation_delay  # seconds before each record is answered
        self.activity_extra: list[dict] = []  # items added to the activity (a test's disagreement)
        self.analytics_status: int | None = None  # answer every analytics query with this status
        self.lock = threading.Lock()
        self.records: dict[str, dict] = {}
        self.created: dict[str, datetime] = {}
        self.add(records)
        self.calls: list[tuple[str, str]] = []  # (route, generation id or window)
        self.generation_requests: dict[str, int] = defaultdict(int)
        self.auth_headers: set[str] = set()
        self.answers: dict[int, int] = defaultdict(int)  # status -> count
        self.truncated = 0
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                fake._handle(self, "GET", b"")

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                fake._handle(self, "POST", self.rfile.read(length))

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, name="fake-openrouter", daemon=True)

    # --- the data -------------------------------------------------------------------------------
    def add(self, records: list[dict]) -> None:
        """Generations that happen now (a test adds more between two runs)."""
        with self.lock:
            for r in records:
                self.records[r["id"]] = r
                self.created[r["id"]] = _created(r)

    def ids_between(self, start: datetime, end: datetime) -> list[str]:
        with self.lock:
            return sorted((i for i, t in self.created.items() if start <= t < end), key=lambda i: (self.created[i], i))

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/api/v1"

    def count(self, route: str) -> int:
        with self.lock:
            return sum(1 for r, _ in self.calls if r == route)

    def __enter__(self) -> FakeOpenRouter:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)

    # --- the routes -----------------------------------------------------------------------------
    def _handle(self, handler: BaseHTTPRequestHandler, method: str, body: bytes) -> None:
        url = urlparse(handler.path)
        auth = handler.headers.get("Authorization", "")
        with self.lock:
            self.auth_headers.add(auth)
            n = len(self.calls) + 1
            limited = self.rate_limit_every and n % self.rate_limit_every == 0
            self.calls.append((url.path, ""))
        if limited:
            return self._send(handler, 429, {"error": {"code": 429, "message": "Rate limit exceeded"}}, {"Retry-After": "1"})
        route = (method, url.path.removeprefix("/api/v1"))
        if route == ("POST", "/analytics/query"):
            if auth != f"Bearer {self.management_key}":
                return self._refuse(handler, auth)
            return self._analytics(handler, body)
        if route == ("GET", "/generation"):
            if auth not in (f"Bearer {self.api_key}", f"Bearer {self.management_key}"):
                return self._refuse(handler, auth)
            return self._generation(handler, parse_qs(url.query).get("id", [""])[0])
        if route == ("GET", "/activity"):
            if auth != f"Bearer {self.management_key}":
                return self._refuse(handler, auth)
            return self._send(handler, 200, {"data": self.activity()})
        return self._send(handler, 404, {"error": {"code": 404, "message": "Not Found"}})

    def _refuse(self, handler, auth: str) -> None:
        if not auth:
            return self._send(handler, 401, {"error": {"code": 401, "message": "No auth credentials found"}})
        if auth in (f"Bearer {self.api_key}",):
            return self._send(handler, 403, {"error": {"code": 403, "message": "Only management keys can use this endpoint"}})
        return self._send(handler, 401, {"error": {"code": 401, "message": "User not found."}})

    def _analytics(self, handler, body: bytes) -> None:
        if self.analytics_status is not None:
            return self._send(
                handler, self.analytics_status, {"error": {"code": self.analytics_status, "message": "Bad Request"}}
            )
        try:
            query = json.loads(body)
            assert query["dimensions"] == ["generation_id"], query["dimensions"]
            assert "request_count" in query["metrics"]
            start = _parse_instant(query["time_range"]["start"])
            end = _parse_instant(query["time_range"]["end"])
            limit = min(int(query.get("limit", 1000)), self.row_limit)
        except (ValueError, KeyError, TypeError, AssertionError) as exc:
            return self._send(handler, 400, {"error": {"code": 400, "message": f"bad query: {exc}"}})
        if datetime.now(UTC) - start > timedelta(days=31):
            return self._send(handler, 400, {"error": {"code": 400, "message": "generation_id is limited to 31 days"}})
        ids = self.ids_between(start, end)
        truncated = len(ids) > limit
        with self.lock:
            self.truncated += truncated
        rows = [{"generation_id": i, "request_count": "1"} for i in ids[:limit]]
        answer = {"data": {"data": rows, "metadata": {"queryTimeMs": 3.5, "rowCount": len(rows), "truncated": truncated}}}
        return self._send(handler, 200, answer)

    def _generation(self, handler, gen_id: str) -> None:
        with self.lock:
            self.generation_requests[gen_id] += 1
            n = self.generation_requests[gen_id]
            record = self.records.get(gen_id)
            hold = self.late.get(gen_id, 0)
        if self.generation_delay:
            time.sleep(self.generation_delay)
        if record is None or gen_id in self.never or n <= hold:
            return self._send(handler, 404, {"error": {"code": 404, "message": "Generation not found"}})
        return self._send(handler, 200, {"data": record})

    def activity(self) -> list[dict]:
        """Items of the last 30 completed UTC days, per date x model x provider."""
        today = datetime.now(UTC).date()
        first = today - timedelta(days=30)
        sums: dict[tuple, dict] = {}
        with self.lock:
            records = [r for i, r in self.records.items() if i not in self.never]
        for r in records:
            day = _created(r).date()
            if not first <= day < today:
                continue
            attempts = r.get("provider_responses") or []
            last = attempts[-1] if attempts else {}
            key = (day.isoformat(), r["model"], r.get("provider_name"))
            item = sums.setdefault(
                key,
                {
                    "date": day.isoformat(),
                    "model": r["model"],
                    "model_permaslug": last.get("model_permaslug") or r["model"],
                    "endpoint_id": last.get("endpoint_id") or f"ep-{r.get('provider_name')}",
                    "provider_name": r.get("provider_name"),
                    "usage": 0.0,
                    "byok_usage_inference": 0.0,
                    "requests": 0,
                    "prompt_tokens": 0,
                    "completion_tokens": 0,
                    "reasoning_tokens": 0,
                    "cached_tokens": 0,
                },
            )
            item["requests"] += 1
            item["usage"] += r.get("usage") or 0
            if r.get("is_byok"):
                item["byok_usage_inference"] += r.get("upstream_inference_cost") or 0
            item["prompt_tokens"] += r.get("native_tokens_prompt") or 0
            item["completion_tokens"] += r.get("native_tokens_completion") or 0
            item["reasoning_tokens"] += r.get("native_tokens_reasoning") or 0
            item["cached_tokens"] += r.get("native_tokens_cached") or 0
        return [sums[k] for k in sorted(sums, key=lambda k: tuple(str(p) for p in k))] + list(self.activity_extra)

    def _send(self, handler, status: int, doc, headers: dict | None = None) -> None:
        data = json.dumps(doc).encode()
        with self.lock:
            self.answers[status] += 1
        try:
            handler.send_response(status)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(data)))
            for k, v in (headers or {}).items():
                handler.send_header(k, v)
            handler.end_headers()
            handler.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.fake_openrouter", description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=8099)
    parser.add_argument("--records", type=int, default=2000, help="generations over the last --days days")
    parser.add_argument("--days", type=int, default=3)
    parser.add_argument("--row-limit", type=int, default=10_000, help="rows per analytics answer before truncation")
    parser.add_argument("--rate-limit-every", type=int, default=0, help="answer every N-th request 429 with Retry-After: 1")
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args(argv)
    records = synthetic_records(args.records, days=args.days, seed=args.seed)
    with FakeOpenRouter(records, row_limit=args.row_limit, rate_limit_every=args.rate_limit_every, port=args.port) as fake:
        print(f"fake OpenRouter with {len(records):,} generations over the last {args.days:g} days at {fake.base_url}")
        print("use it with:")
        print(f"  export OPENROUTER_MANAGEMENT_KEY={fake.management_key}")
        print(f"  export OPENROUTER_API_KEY={fake.api_key}")
        print(f"  orusage collect --since 1d --out records.jsonl --base-url {fake.base_url}")
        print("Ctrl-C stops it.", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
