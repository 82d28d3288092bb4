"""The scheduled run's collection: a lake that feeds itself (`[collect]` of the settings).

Each `orusage run` with `collect.enabled`, under the lake lock:

    1. reads the watermark from the lake (`sql/collect_state.sql` over the run summaries);
    2. lists the generation ids created since the watermark minus `overlap_minutes` (the first
       time: `lookback_hours` back) until now, through the Analytics API (discover.py);
    3. fetches each id that neither the lake nor the spool file holds into the spool file
       (`<first inbox path>/.orusage-collect/feed.jsonl`, hidden, so the inbox scan leaves it to
       the feed); a kill mid-fetch leaves a file that the next run resumes (a torn last line is cut);
    4. hands the spool file to the run's ingest with `collect` in the run summary: the watermark
       moves in the same step that publishes the records, and only then. A run that found nothing
       new publishes a version that only adds its summary (`record_summary`), so the watermark
       still moves;
    5. once published, removes the spool file (its records are in the lake).

A failed or killed run publishes nothing, so its window is listed again by the next run; ids the
lake already holds are not fetched again. A window older than 31 days cannot be listed: the run
stops with an error that says to import the dashboard CSV (or to set `collect.resume_after_gap`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from pipeline import logs
from pipeline.errors import OrusageError
from pipeline.openrouter.collect import CollectOptions, CollectSummary, collect_ids, ids_already_written, read_key
from pipeline.openrouter.discover import (
    CSV_DOCS,
    MAX_AGE,
    DiscoverOptions,
    RateLimiter,
    WindowTooOld,
    check_window,
    ids_in_lake,
    iso,
    list_generation_ids,
)

SPOOL_DIR = ".orusage-collect"
SPOOL_FILE = "feed.jsonl"
MISSING_IDS_KEPT = 100  # ids that never came, named in the summary (all are counted and logged)
RECONCILE_DAYS = 30  # GET /api/v1/activity covers the last 30 completed UTC days


@dataclass
class State:
    watermark: datetime | None = None
    first_since: datetime | None = None
    reconciled_on: date | None = None
    runs: int = 0


@dataclass
class Fed:
    spool: Path  # the spool file
    file: Path | None  # the spool file to ingest, or None when it holds no record
    details: dict  # the `collect` key of the run summary
    summary: CollectSummary
    reconcile_days: list[date] = field(default_factory=list)  # due this run (empty: not due)


def read_state(lake_root: Path) -> State:
    """The collection state kept in the lake's run summaries (an empty State for a new lake)."""
    from pipeline.lake import views
    from pipeline.lake.store import Lake
    from pipeline.schema import sqlfiles

    if Lake(lake_root).current_version() is None:
        return State()
    con = views.connect(lake_root)
    try:
        con.execute("SET TimeZone = 'UTC'")
        row = sqlfiles.run_file(con, "collect_state").fetchall()[0]
    finally:
        con.close()
    watermark, first_since, reconciled_on, runs = row
    return State(_utc(watermark), _utc(first_since), reconciled_on, int(runs or 0))


def _utc(value: datetime | None) -> datetime | None:
    return None if value is None else value.astimezone(UTC)


def spool_file(inbox_paths) -> Path:
    """Where the feed keeps the records of a run until they are published."""
    if not inbox_paths:
        raise OrusageError("collect.enabled needs an inbox", "Set inbox.paths to a directory.")
    inbox = Path(inbox_paths[0])
    if inbox.exists() and not inbox.is_dir():
        raise OrusageError(
            f"the first inbox path {inbox} is a file; the collection keeps its records in a directory of it",
            "Make the first of inbox.paths a directory.",
        )
    return inbox / SPOOL_DIR / SPOOL_FILE


def window(state: State, collect, now: datetime, log=None) -> tuple[datetime, datetime]:
    """[since, until) of this run: from the watermark minus the overlap (the first time:
    lookback_hours back) to now. Raises WindowTooOld when the watermark is more than 31 days old
    (unless collect.resume_after_gap)."""
    log = log or logs.get_logger()
    oldest = now - MAX_AGE + timedelta(minutes=1)
    if state.watermark is None:
        since = max(now - timedelta(hours=collect.lookback_hours), oldest)
    else:
        since = state.watermark - timedelta(minutes=collect.overlap_minutes)
        if state.watermark >= oldest:
            since = max(since, oldest)  # only (part of) the overlap is out of reach: it was collected
        elif since < oldest:
            if not collect.resume_after_gap:
                raise WindowTooOld(
                    f"the last collection ended at {iso(state.watermark)}, more than 31 days ago, and the Analytics API "
                    "lists generation ids only for the last 31 days",
                    f"Export the dashboard's CSV of {iso(state.watermark)} .. {iso(oldest)} and `orusage ingest` it "
                    f"({CSV_DOCS}), then set collect.resume_after_gap = true for one run (it starts 31 days back).",
                )
            log.warning("collect_gap_skipped", gap_start=iso(since), gap_end=iso(oldest), docs=CSV_DOCS)
            since = oldest
    return since, now


def reconcile_days(state: State, since: datetime, until: datetime, collect, now: datetime) -> list[date]:
    """The completed UTC days to compare with GET /api/v1/activity this run: none unless
    collect.reconcile_daily and no run reconciled today; else the days collected in full (from
    the first collection on, ending at least overlap_minutes before `until`), at most the last 30."""
    today = now.date()
    if not collect.reconcile_daily or (state.reconciled_on is not None and state.reconciled_on >= today):
        return []
    first = state.first_since or since
    first_day = first.date() if first.time() == datetime.min.time() else first.date() + timedelta(days=1)
    last_day = min((until - timedelta(minutes=collect.overlap_minutes)).date() - timedelta(days=1), today - timedelta(days=1))
    first_day = max(first_day, today - timedelta(days=RECONCILE_DAYS))
    if last_day < first_day:
        return []
    return [first_day + timedelta(days=n) for n in range((last_day - first_day).days + 1)]


def feed(
    lake_root: Path,
    inbox_paths,
    collect,
    now: datetime,
    *,
    log=None,
    limiter: RateLimiter | None = None,
) -> Fed:
    """Steps 1-3 of the module's docstring; the caller ingests `Fed.file` with `Fed.details`."""
    log = log or logs.get_logger()
    state = read_state(lake_root)
    since, until = window(state, collect, now, log)
    check_window(since, until, now)
    spool = spool_file(inbox_paths)
    management_key = read_key(
        collect.management_key_env, collect.key_file, what="management key", option="collect.management_key_env"
    )
    api_key = read_key(collect.api_key_env, collect.key_file, option="collect.api_key_env")
    base_url = collect.base_url or DiscoverOptions.base_url
    log.info("collect_window", since=iso(since), until=iso(until), watermark=iso(state.watermark) if state.watermark else None)
    found = list_generation_ids(
        since,
        until,
        management_key,
        DiscoverOptions(management_key_env=collect.management_key_env, base_url=base_url),
        limiter=limiter,
    )
    in_lake = ids_in_lake(lake_root, found.ids, since, until)
    options = CollectOptions(
        api_key_env=collect.api_key_env,
        base_url=base_url,
        concurrency=collect.concurrency,
        not_found_patience=collect.not_found_patience_seconds,
    )
    summary = collect_ids(found.ids, spool, options, key=api_key, skip=in_lake)
    days = reconcile_days(state, since, until, collect, now)
    details = {
        "since": iso(since),
        "until": iso(until),
        "first_since": iso(state.first_since or since),
        "listed": len(found.ids),
        "in_lake": len(in_lake),
        "collected": summary.collected,
        "missing": len(summary.missing),
        "missing_ids": [{"id": m.id, "reason": m.reason} for m in summary.missing[:MISSING_IDS_KEPT]],
        "analytics_requests": found.requests,
        "record_requests": summary.requests,
    }
    if days:
        details["reconciled_on"] = now.date().isoformat()
    held = spool if spool.exists() and ids_already_written(spool) else None
    log.info("collect", **{k: v for k, v in details.items() if k != "missing_ids"}, spool_records=bool(held))
    return Fed(spool, held, details, summary, days)


def record_summary(lake_root: Path, details: dict) -> str:
    """Publish a version that only adds this run's summary with `collect` (a run that found
    nothing new), so the watermark moves; the caller holds the lake lock. Returns the run id."""
    from pipeline.lake.store import Lake

    with Lake(lake_root).transaction("collect", doing="recording the collection", lock=False) as tx:
        tx.version  # noqa: B018 - the run's version: the current one's files, and the summary
        tx.summary.details["collect"] = details
    return tx.run_id


def finish(fed: Fed) -> None:
    """After the version with the run's records is published: the spool file is not needed."""
    fed.spool.unlink(missing_ok=True)
