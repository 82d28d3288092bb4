"""Discover generation ids through the Analytics API: `POST /api/v1/analytics/query` with the
`generation_id` dimension, for a window of time.

OpenRouter has no endpoint that lists generations; the Analytics API can group its request
count by `generation_id` (a management key is required, and only for the last 31 days). An
answer holds at most `row_limit` rows (10,000) and says `metadata.truncated` when rows were cut:
then its window is split in halves, and each half asked again, until no answer is truncated
(down to `min_window`; a window that is still too full is an error). The API allows 64 requests
a minute: a client-side limiter keeps to it (its clock and sleep can be replaced, so tests do
not wait). 429 and 5xx are retried with backoff, honouring `Retry-After`; 401/403 stop at once
with one line that names the variable holding the key. The key itself is never logged.
"""

from __future__ import annotations

import collections
import json
import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import httpx

from pipeline import logs
from pipeline.errors import OrusageError
from pipeline.openrouter.collect import DEFAULT_BASE_URL, AuthError, backoff, retry_after_seconds

DEFAULT_MANAGEMENT_KEY_ENV = "OPENROUTER_MANAGEMENT_KEY"
MAX_AGE = timedelta(days=31)  # generation_id is a dimension only within the last 31 days
ROW_LIMIT = 10_000  # rows in one answer, at most
REQUESTS_PER_MINUTE = 64
CSV_DOCS = "docs/csv-import.md"
log = logs.get_logger()


class WindowTooOld(OrusageError):
    pass


# --- WHEN: a date, an instant or a duration ---------------------------------------------------

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(m|min|h|d|w)\s*$", re.IGNORECASE)
_UNITS = {"m": 60, "min": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_when(text: str, now: datetime) -> datetime:
    """An instant from `2026-11-30` (midnight UTC), `2026-11-30T12:00:00Z` (an instant; no
    offset: UTC) or a duration before `now` (`90m`, `2h`, `3d`, `1w`). ValueError otherwise."""
    value = text.strip()
    match = _DURATION.match(value)
    if match:
        return now - timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2).lower()])
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            day = date.fromisoformat(value)
            return datetime(day.year, day.month, day.day, tzinfo=UTC)
        when = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"expected a date (2026-11-30), an instant (2026-11-30T12:00:00Z) or a duration (2h, 3d), got {text!r}"
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC)


def iso(when: datetime) -> str:
    """`2026-11-30T12:00:00Z` (milliseconds when there are any)."""
    when = when.astimezone(UTC)
    text = when.isoformat(timespec="milliseconds" if when.microsecond else "seconds")
    return text.replace("+00:00", "Z")


def check_window(since: datetime, until: datetime, now: datetime) -> None:
    """Refuse a window the Analytics API cannot list (older than 31 days, or empty)."""
    if until <= since:
        raise OrusageError(f"the window {iso(since)} .. {iso(until)} is empty", "Give --until after --since.")
    oldest = now - MAX_AGE
    if since < oldest:
        raise WindowTooOld(
            f"generation ids can be listed only for the last 31 days, and the window starts at {iso(since)} "
            f"(before {iso(oldest)})",
            "For older generations export the dashboard's CSV (Activity > Export) and `orusage ingest` it, "
            f"see {CSV_DOCS}; or collect from a later --since.",
        )


# --- the rate limit ----------------------------------------------------------------------------


class RateLimiter:
    """At most `per_minute` requests in any 60 seconds (a sliding window of start times).
    `clock` and `sleep` default to time.monotonic and time.sleep; tests pass a fake pair."""

    def __init__(
        self,
        per_minute: int = REQUESTS_PER_MINUTE,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        if per_minute < 1:
            raise ValueError(per_minute)
        self.per_minute, self.clock, self.sleep = per_minute, clock, sleep
        self.starts: collections.deque[float] = collections.deque()
        self.waited = 0.0

    def acquire(self) -> None:
        while True:
            now = self.clock()
            while self.starts and now - self.starts[0] >= 60.0:
                self.starts.popleft()
            if len(self.starts) < self.per_minute:
                self.starts.append(now)
                return
            wait = 60.0 - (now - self.starts[0])
            self.waited += wait
            self.sleep(wait)

    def pause(self, seconds: float) -> None:
        """Wait `seconds` (a Retry-After) through the same clock."""
        if seconds > 0:
            self.waited += seconds
            self.sleep(seconds)


# --- discovery ---------------------------------------------------------------------------------


@dataclass
class DiscoverOptions:
    management_key_env: str = DEFAULT_MANAGEMENT_KEY_ENV
    base_url: str = DEFAULT_BASE_URL
    timeout: float = 30.0
    max_attempts: int = 8  # attempts per query for 429 / 5xx / timeouts / malformed answers
    backoff_base: float = 0.5
    backoff_cap: float = 30.0
    max_retry_after: float = 300.0
    row_limit: int = ROW_LIMIT
    min_window: timedelta = timedelta(seconds=1)  # a truncated window this short is an error


@dataclass
class Discovery:
    ids: list[str] = field(default_factory=list)  # distinct, in the order the answers gave them
    requests: int = 0  # HTTP requests, retries included
    windows: int = 0  # windows answered in full
    splits: int = 0  # truncated answers, each split in two
    waited_seconds: float = 0.0  # time spent waiting for the rate limit or a Retry-After


def list_generation_ids(
    since: datetime,
    until: datetime,
    key: str,
    options: DiscoverOptions | None = None,
    *,
    limiter: RateLimiter | None = None,
    rng: random.Random | None = None,
    transport: httpx.BaseTransport | None = None,
) -> Discovery:
    """The ids of the generations created in [since, until), listed window by window."""
    options = options or DiscoverOptions()
    limiter = limiter or RateLimiter()
    rng = rng or random.Random()
    found: dict[str, None] = {}
    result = Discovery()
    headers = {"Authorization": f"Bearer {key}", "Accept": "application/json", "User-Agent": "orusage-collect"}
    with httpx.Client(
        base_url=options.base_url.rstrip("/"), headers=headers, timeout=httpx.Timeout(options.timeout), transport=transport
    ) as client:
        pending = [(since, until)]  # a stack: the earlier half is asked first
        while pending:
            start, end = pending.pop()
            rows, truncated = _query(client, start, end, options, limiter, rng, result)
            if truncated:
                if end - start <= options.min_window:
                    raise OrusageError(
                        f"the Analytics API still truncates the window {iso(start)} .. {iso(end)} "
                        f"(more than {options.row_limit:,} generations in {end - start})",
                        "Nothing of that window can be listed completely; export the dashboard's CSV for it "
                        f"and `orusage ingest` it ({CSV_DOCS}).",
                    )
                middle = start + (end - start) / 2
                result.splits += 1
                log.debug("collect_window_split", start=iso(start), end=iso(end))
                pending.append((middle, end))
                pending.append((start, middle))
                continue
            result.windows += 1
            for gen_id in rows:
                found.setdefault(gen_id, None)
    result.ids = list(found)
    result.waited_seconds = round(limiter.waited, 3)
    return result


def _query(
    client: httpx.Client,
    start: datetime,
    end: datetime,
    options: DiscoverOptions,
    limiter: RateLimiter,
    rng: random.Random,
    result: Discovery,
) -> tuple[list[str], bool]:
    body = {
        "metrics": ["request_count"],
        "dimensions": ["generation_id"],
        "time_range": {"start": iso(start), "end": iso(end)},
        "limit": options.row_limit,
    }
    last = "no answer"
    for attempt in range(1, options.max_attempts + 1):
        limiter.acquire()
        result.requests += 1
        delay: float | None = None
        try:
            response = client.post("/analytics/query", json=body)
        except httpx.TimeoutException:
            response, last = None, "timed out"
        except httpx.TransportError as exc:
            response, last = None, f"connection failed ({type(exc).__name__})"
        if response is not None:
            status = response.status_code
            if status == 200:
                parsed = parse_answer(response.content, options.row_limit)
                if parsed is not None:
                    return parsed
                last = "malformed answer"
            elif status in (401, 403):
                raise AuthError(
                    f"the Analytics API answered {status} {response.reason_phrase} at {options.base_url}",
                    f"Set ${options.management_key_env} to a management key (API keys cannot query analytics).",
                )
            elif status == 429 or status >= 500:
                last = f"HTTP {status}"
                after = retry_after_seconds(response.headers.get("retry-after"))
                if after is not None:
                    delay = min(after, options.max_retry_after)
            else:
                raise OrusageError(
                    f"the Analytics API answered {status} {response.reason_phrase} to the query of "
                    f"{iso(start)} .. {iso(end)} ({_error_text(response)})",
                    "Check --base-url; if it is OpenRouter's, the API may have changed: please report it.",
                )
        if attempt == options.max_attempts:
            break
        if delay is None:
            delay = backoff(attempt, options, rng)
        log.debug("collect_retry", what="analytics query", reason=last, attempt=attempt, retry_in_s=round(delay, 3))
        limiter.pause(delay)
    raise OrusageError(
        f"the Analytics API gave no usable answer for {iso(start)} .. {iso(end)} after {options.max_attempts} attempts ({last})",
        "Run again later; nothing was lost (the next run lists the window again).",
    )


def _error_text(response: httpx.Response) -> str:
    try:
        doc = response.json()
    except ValueError:
        return response.text[:120]
    error = doc.get("error") if isinstance(doc, dict) else None
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return error["message"][:120]
    return json.dumps(doc)[:120]


def parse_answer(content: bytes, row_limit: int) -> tuple[list[str], bool] | None:
    """(ids, truncated) of an answer, or None when it is not the documented shape.

    Documented: `{"data": {"data": [row, ...], "metadata": {"truncated": bool, ...}}}`, each row
    holding the dimension `generation_id` and the metric `request_count` (a number, or a number
    in a string). `{"data": [...], "metadata": {...}}` is taken too. An answer of `row_limit`
    rows that does not say `truncated` is treated as truncated (rows may have been cut)."""
    try:
        doc = json.loads(content)
    except ValueError:
        return None
    if not isinstance(doc, dict):
        return None
    inner = doc.get("data")
    if isinstance(inner, dict):
        rows, metadata = inner.get("data"), inner.get("metadata")
    else:
        rows, metadata = inner, doc.get("metadata")
    if not isinstance(rows, list):
        return None
    truncated = isinstance(metadata, dict) and metadata.get("truncated") is True
    ids = []
    for row in rows:
        if not isinstance(row, dict):
            return None
        gen_id = row.get("generation_id")
        if not isinstance(gen_id, str) or not gen_id:
            return None
        count = row.get("request_count", 1)
        try:
            if isinstance(count, bool) or float(count) <= 0:
                continue
        except (TypeError, ValueError):
            return None
        ids.append(gen_id)
    if len(rows) >= row_limit:
        truncated = True
    return ids, truncated


def ids_in_lake(lake_root, ids: list[str], since: datetime, until: datetime) -> set[str]:
    """The ids of `ids` that the lake at `lake_root` holds already (none for a lake not yet made),
    looked up in the partitions of the days of [since, until] (one day more on each side)."""
    from pipeline.lake import views
    from pipeline.lake.store import Lake
    from pipeline.schema import sqlfiles

    if not ids or Lake(lake_root).current_version() is None:
        return set()
    con = views.connect(lake_root)
    try:
        params = {
            "ids": ids,
            "first_day": (since - timedelta(days=1)).date(),
            "last_day": (until + timedelta(days=1)).date(),
        }
        return {row[0] for row in sqlfiles.run_file(con, "collect_ids_in_lake", params).fetchall()}
    finally:
        con.close()


def collect_window(
    since: datetime,
    until: datetime,
    out,
    lake_root,
    collect_options=None,
    discover_options: DiscoverOptions | None = None,
    *,
    now: datetime | None = None,
    key_file=None,
    limiter: RateLimiter | None = None,
    seed: int | None = None,
):
    """`orusage collect --since`: list the ids of [since, until) through the Analytics API, and
    fetch each one that neither the lake nor `out` holds into `out`. Returns the CollectSummary,
    its `window` filled in (the window, ids listed, already in the lake, analytics requests)."""
    from pipeline.openrouter.collect import CollectOptions, collect_ids, read_key

    collect_options = collect_options or CollectOptions()
    discover_options = discover_options or DiscoverOptions(base_url=collect_options.base_url)
    now = now or datetime.now(UTC)
    until = min(until, now)
    check_window(since, until, now)
    management_key = read_key(discover_options.management_key_env, key_file, what="management key", option="--management-key-env")
    api_key = read_key(collect_options.api_key_env, key_file)
    clock = time.monotonic()
    log.info("collect_discover", since=iso(since), until=iso(until), base_url=discover_options.base_url)
    found = list_generation_ids(since, until, management_key, discover_options, limiter=limiter)
    in_lake = ids_in_lake(lake_root, found.ids, since, until) if lake_root is not None else set()
    summary = collect_ids(found.ids, out, collect_options, key=api_key, skip=in_lake, seed=seed)
    summary.window = {
        "since": iso(since),
        "until": iso(until),
        "listed": len(found.ids),
        "in_lake": len(in_lake),
        "analytics_requests": found.requests,
        "windows": found.windows,
        "splits": found.splits,
        "waited_seconds": found.waited_seconds,
    }
    summary.seconds = time.monotonic() - clock
    return summary
