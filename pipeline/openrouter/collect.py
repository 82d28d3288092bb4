"""Collect generation records by id: `GET /api/v1/generation?id=...` for each id of a file.

There is no bulk endpoint: callers keep the ids of their completions and fetch each record
later. A record appears a few seconds after its completion, so a 404 is retried until
`not_found_patience` seconds have passed since the id's first request; 429, 5xx, timeouts,
dropped connections and malformed bodies are retried with exponential backoff and full jitter,
honouring `Retry-After` (seconds or an HTTP date; a 429 pauses every worker). A 401 or 403 stops
the run (the key is wrong for every id); another 4xx gives the id up.

Each record is appended to the output as one JSON line (the record itself, without the
`{"data": ...}` envelope) and flushed at once, so an interrupted run loses nothing it fetched;
a new run skips the ids already in the output (a torn last line from a kill is cut off first).
The API key is read from an environment variable and sent only in the Authorization header;
it is never logged, printed or written.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import os
import random
import time
from dataclasses import dataclass, field
from datetime import UTC
from pathlib import Path

import httpx

from pipeline import logs
from pipeline.errors import InputError, OrusageError

DEFAULT_BASE_URL = "https://openrouter.ai/api/v1"
DEFAULT_KEY_ENV = "OPENROUTER_API_KEY"
log = logs.get_logger()


@dataclass
class CollectOptions:
    api_key_env: str = DEFAULT_KEY_ENV
    base_url: str = DEFAULT_BASE_URL
    concurrency: int = 4
    not_found_patience: float = 60.0  # seconds a 404 is retried, from the id's first request
    max_attempts: int = 8  # attempts for 429 / 5xx / timeout / malformed body, per id
    timeout: float = 30.0  # seconds per request
    backoff_base: float = 0.5  # first backoff, seconds; doubles each retry (full jitter)
    backoff_cap: float = 30.0  # longest backoff, seconds
    max_retry_after: float = 300.0  # a longer Retry-After is cut to this


@dataclass
class Missing:
    id: str
    reason: str


@dataclass
class CollectSummary:
    ids: int = 0  # distinct ids in the ids file
    already: int = 0  # in the output before this run
    collected: int = 0  # fetched and written by this run
    missing: list[Missing] = field(default_factory=list)
    requests: int = 0
    seconds: float = 0.0
    window: dict | None = None  # collect --since: since, until, in_lake, analytics requests, ...

    def as_dict(self) -> dict:
        out = {
            "ids": self.ids,
            "already": self.already,
            "collected": self.collected,
            "missing": len(self.missing),
            "missing_ids": [{"id": m.id, "reason": m.reason} for m in self.missing],
            "requests": self.requests,
            "seconds": round(self.seconds, 3),
        }
        if self.window is not None:
            out["window"] = self.window
        return out


class AuthError(OrusageError):
    """The API refused a key (401/403)."""


class KeyMissing(OrusageError):
    """The variable that should hold a key is not set (nor in the key file)."""


# --- ids and the output ----------------------------------------------------------------------


def read_ids(path: Path) -> list[str]:
    """Ids, one per line; blank lines and lines starting with # are skipped; first copy kept."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise InputError(str(path), "no such file", "Give a file with one generation id per line.") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(str(path), f"cannot be read ({exc})", "Give a UTF-8 text file, one id per line.") from exc
    out: dict[str, None] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        token = line.strip()
        if not token or token.startswith("#"):
            continue
        if any(c.isspace() for c in token):
            raise InputError(str(path), f"line {number} holds more than one word: {token[:60]!r}", "Give one id per line.")
        out.setdefault(token, None)
    return list(out)


def record_id(line: str) -> str | None:
    """The id of a JSON line holding a record or an envelope, or None."""
    try:
        doc = json.loads(line)
    except ValueError:
        return None
    if isinstance(doc, dict) and isinstance(doc.get("data"), dict) and "id" not in doc:
        doc = doc["data"]
    value = doc.get("id") if isinstance(doc, dict) else None
    return value if isinstance(value, str) else None


def ids_already_written(out: Path) -> set[str]:
    """Ids of the records in `out`; a torn last line (no newline: the writer was killed) is cut."""
    if not out.exists():
        return set()
    with open(out, "rb+") as fh:
        data = fh.read()
        end = data.rfind(b"\n") + 1
        if end < len(data):
            log.warning("collect_torn_line_cut", out=str(out), bytes=len(data) - end)
            fh.truncate(end)
            data = data[:end]
    found = set()
    for line in data.decode("utf-8", errors="replace").splitlines():
        if line.strip():
            rid = record_id(line)
            if rid is not None:
                found.add(rid)
    return found


# --- retries ---------------------------------------------------------------------------------


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP date; None if unusable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    now = time.time() if now is None else now
    return max(0.0, when.timestamp() - now)


def backoff(attempt: int, options: CollectOptions, rng: random.Random) -> float:
    """Full jitter: uniform in [0, min(cap, base * 2**attempt)]."""
    return rng.uniform(0, min(options.backoff_cap, options.backoff_base * (2**attempt)))


# --- the run ---------------------------------------------------------------------------------


class _Collector:
    def __init__(self, key: str, options: CollectOptions, out_fh, summary: CollectSummary, rng: random.Random):
        self.key, self.options, self.out, self.summary, self.rng = key, options, out_fh, summary, rng
        self.pause_until = 0.0  # monotonic time before which no request starts (after a 429)
        self.auth_error: str | None = None

    async def fetch(self, client: httpx.AsyncClient, sem: asyncio.Semaphore, gen_id: str) -> None:
        o = self.options
        first: float | None = None  # when the id's first request went out
        transient = 0  # retries of 429 / 5xx / network / malformed
        not_found = 0
        last = "no answer"
        while self.auth_error is None:
            wait = self.pause_until - time.monotonic()
            if wait > 0:  # a 429 paused every worker; that time does not count against 404 patience
                await asyncio.sleep(wait)
                if first is not None:
                    first += wait
            async with sem:
                if self.auth_error is not None:
                    return
                if first is None:
                    first = time.monotonic()
                self.summary.requests += 1
                try:
                    response = await client.get("/generation", params={"id": gen_id})
                except httpx.TimeoutException:
                    response, last = None, "timed out"
                except httpx.TransportError as exc:
                    response, last = None, f"connection failed ({type(exc).__name__})"
            delay: float | None = None
            if response is not None:
                status = response.status_code
                if status == 200:
                    record = _record_of(response, gen_id)
                    if record is not None:
                        self._write(record)
                        return
                    last = "malformed response body"
                elif status in (401, 403):
                    self.auth_error = f"the API answered {status} {response.reason_phrase}"
                    return
                elif status == 404:
                    last = "not found (404)"
                    if time.monotonic() - first >= o.not_found_patience:
                        break
                    not_found += 1
                    delay = min(backoff(not_found, o, self.rng) + o.backoff_base, o.backoff_cap)
                    delay = min(delay, max(0.0, o.not_found_patience - (time.monotonic() - first)) + 0.01)
                    log.debug("collect_retry", id=gen_id, reason=last, retry_in_s=round(delay, 3))
                    await asyncio.sleep(delay)
                    continue
                elif status == 429 or status >= 500:
                    last = f"HTTP {status}"
                    after = retry_after_seconds(response.headers.get("retry-after"))
                    if after is not None:
                        delay = min(after, o.max_retry_after) + self.rng.uniform(0, o.backoff_base)
                        if status == 429:
                            self.pause_until = max(self.pause_until, time.monotonic() + delay)
                else:
                    self.summary.missing.append(Missing(gen_id, f"HTTP {status}"))
                    log.warning("collect_gave_up", id=gen_id, reason=f"HTTP {status}")
                    return
            transient += 1
            if transient >= o.max_attempts:
                break
            if delay is None:
                delay = backoff(transient, o, self.rng)
            log.debug("collect_retry", id=gen_id, reason=last, attempt=transient, retry_in_s=round(delay, 3))
            await asyncio.sleep(delay)
        if self.auth_error is None:
            self.summary.missing.append(Missing(gen_id, last))
            log.warning("collect_gave_up", id=gen_id, reason=last)

    def _write(self, record: dict) -> None:
        self.out.write(json.dumps(record, separators=(",", ":"), ensure_ascii=False) + "\n")
        self.out.flush()
        self.summary.collected += 1


def _record_of(response: httpx.Response, gen_id: str) -> dict | None:
    """The record of a 200 answer, or None when the body is not `{"data": {...}}` for the id."""
    try:
        doc = response.json()
    except ValueError:
        return None
    record = doc.get("data") if isinstance(doc, dict) else None
    if not isinstance(record, dict) or record.get("id") != gen_id:
        return None
    return record


def read_key(env_name: str, key_file: Path | None = None, *, what: str = "API key", option: str = "--api-key-env") -> str:
    """The key held by the environment variable `env_name`, else by the line `env_name=...` of
    `key_file` (an env-style file named in the settings). Raises OrusageError naming the variable."""
    key = os.environ.get(env_name, "").strip()
    if not key and key_file is not None:
        try:
            for line in Path(key_file).read_text(encoding="utf-8").splitlines():
                name, sep, value = line.strip().removeprefix("export ").partition("=")
                if sep and name.strip() == env_name:
                    key = value.strip().strip("'\"")
        except (OSError, UnicodeDecodeError) as exc:
            raise OrusageError(
                f"the key file {key_file} cannot be read ({type(exc).__name__})",
                f"Check collect.key_file, or export {env_name}=... instead.",
            ) from exc
    if not key:
        where = f" nor in {key_file}" if key_file is not None else ""
        raise KeyMissing(
            f"the environment variable {env_name} holding the {what} is not set{where}",
            f"Export it (export {env_name}=...) or name another with {option}.",
        )
    return key


def collect(ids_file: Path, out: Path, options: CollectOptions | None = None, *, seed: int | None = None) -> CollectSummary:
    """Fetch every id of `ids_file` not yet in `out` and append the records to `out`.

    Raises OrusageError when the run cannot proceed (no key, unreadable ids file, a 401/403);
    ids that never came are listed in the summary."""
    options = options or CollectOptions()
    key = read_key(options.api_key_env)
    return collect_ids(read_ids(ids_file), out, options, key=key, seed=seed)


def collect_ids(
    ids: list[str],
    out: Path,
    options: CollectOptions,
    *,
    key: str,
    skip: set[str] | frozenset[str] = frozenset(),
    seed: int | None = None,
) -> CollectSummary:
    """Fetch each of `ids` that is neither in `skip` (already in the lake) nor in `out`, and
    append the records to `out`; returns the summary (`already` counts both kinds)."""
    if options.concurrency < 1:
        raise OrusageError("--concurrency must be at least 1", "Give --concurrency 1 or more.")
    clock = time.monotonic()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    done = ids_already_written(out)
    todo = [i for i in ids if i not in done and i not in skip]
    summary = CollectSummary(ids=len(ids), already=len(ids) - len(todo))
    log.info("collect_start", ids=len(ids), already=summary.already, to_fetch=len(todo), out=str(out), base_url=options.base_url)
    if todo:
        with open(out, "a", encoding="utf-8") as fh:
            collector = _Collector(key, options, fh, summary, random.Random(seed))
            asyncio.run(_run(collector, todo))
        if collector.auth_error:
            raise AuthError(
                f"{collector.auth_error} at {options.base_url}; {summary.collected} records were written before",
                f"Check the key in ${options.api_key_env} (a management or API key with access to these generations).",
            )
    order = {i: n for n, i in enumerate(ids)}
    summary.missing.sort(key=lambda m: order.get(m.id, 0))
    summary.seconds = time.monotonic() - clock
    return summary


async def _run(collector: _Collector, ids: list[str]) -> None:
    o = collector.options
    limits = httpx.Limits(max_connections=o.concurrency, max_keepalive_connections=o.concurrency)
    headers = {"Authorization": f"Bearer {collector.key}", "Accept": "application/json", "User-Agent": "orusage-collect"}
    sem = asyncio.Semaphore(o.concurrency)
    async with httpx.AsyncClient(
        base_url=o.base_url.rstrip("/"), headers=headers, timeout=httpx.Timeout(o.timeout), limits=limits
    ) as client:
        # One task per id, at most `window` alive at once: an id waiting out a 404 backoff holds
        # no connection, and the semaphore bounds the requests in flight.
        window = asyncio.Semaphore(max(1, o.concurrency * 50))
        tasks: set[asyncio.Task] = set()

        def done(task: asyncio.Task) -> None:
            tasks.discard(task)
            window.release()

        for gen_id in ids:
            await window.acquire()
            if collector.auth_error is not None:
                window.release()
                break
            task = asyncio.create_task(collector.fetch(client, sem, gen_id))
            tasks.add(task)
            task.add_done_callback(done)
        if tasks:
            await asyncio.gather(*list(tasks))
