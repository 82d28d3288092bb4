"""`orusage run`: one scheduled run, made to be boring.

    1. log the settings in use (`settings` event);
    1b. with [collect] enabled, under the lake lock: list the generations created since the lake's
       watermark (minus the overlap) through the Analytics API and fetch the missing records into
       the spool file (pipeline/openrouter/feed.py), which the ingest below takes with the inbox;
       the watermark is published with the run's version (alone, when nothing new was found);
    2. find the inbox files (inbox.paths × inbox.globs, supported types only, older than
       inbox.min_age_seconds); a file whose path and size match an ingested file and that was not
       modified since its ingest is skipped without being read (inbox.skip_unchanged); the rest
       go to the ingest, which skips by sha256 what it has seen before;
    3. under the lake lock: ingest, then refresh `<lake>/orusage.duckdb` (the views) and write the
       report files — both only when the lake changed since they were last built;
    4. without the lock (checks only read): budgets and anomalies, and the webhook;
    5. one `run_summary` event, always the last line, with the exit code.

Exit codes: 0 ok; 1 could not proceed, or the quarantined share exceeded max_quarantine_ratio
(the good rows are kept); 2 bad configuration; 3 an alert (budget or anomaly); 75 the lake lock
is held by another run. When several apply: 75 or 2 (nothing ran), then 1, then 3.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from pipeline import logs
from pipeline.errors import (
    EXIT_ALERT,
    EXIT_FAILED,
    EXIT_OK,
    ConfigError,
    OrusageError,
    QuarantineRatioExceeded,
    interruption,
)
from pipeline.ops.config import Settings, load_settings

REPORT_STAMP = ".lake-version"


@dataclass
class Inbox:
    files: list[Path] = field(default_factory=list)  # handed to the ingest
    unchanged: int = 0  # already ingested, not modified since: not read at all
    too_new: int = 0  # modified less than min_age_seconds ago: left for the next run
    unsupported: int = 0  # matched a glob but is not an input the ingest reads


def scan_inbox(settings: Settings, lake_root: Path, now: float | None = None) -> Inbox:
    """The inbox files to hand to the ingest this run."""
    from pipeline.lake.store import Lake
    from pipeline.sources.files import discover

    now = time.time() if now is None else now
    inbox = Inbox()
    matched: dict[Path, Path] = {}
    supported: set[Path] = set()
    for root in settings.inbox.paths:
        if not root.exists():
            raise OrusageError(
                f"the inbox {root} does not exist",
                "Create it, or fix inbox.paths in the configuration (or $ORUSAGE_INBOX_PATHS).",
            )
        if root.is_file():
            candidates = [root]
        else:
            candidates = []
            for pattern in settings.inbox.globs:
                for path in root.glob(pattern):
                    rel = path.relative_to(root).parts
                    if path.is_file() and not any(part.startswith(".") for part in rel):
                        candidates.append(path)
        for path in candidates:
            matched.setdefault(path.resolve(), path)
        supported.update(p.resolve() for p in discover([root]))
    known = _ingested_stats(Lake(lake_root)) if settings.inbox.skip_unchanged else {}
    for key in sorted(matched):
        path = matched[key]
        if key not in supported:
            inbox.unsupported += 1
            continue
        stat = path.stat()
        if now - stat.st_mtime < settings.inbox.min_age_seconds:
            inbox.too_new += 1
            continue
        seen = known.get(str(key))
        if seen is not None and seen[0] == stat.st_size and stat.st_mtime < seen[1]:
            inbox.unchanged += 1
            continue
        inbox.files.append(path)
    return inbox


def _ingested_stats(lake) -> dict[str, tuple[int, float]]:
    """path -> (size, ingest start as a Unix time) of the latest ingest of each manifest path."""
    from pipeline.lake import views
    from pipeline.schema import sqlfiles

    if lake.current_version() is None:
        return {}
    con = views.connect(lake.root)
    try:
        rows = sqlfiles.run_file(con, "manifest_latest").fetchall()
    finally:
        con.close()
    return {path: (int(size), float(at)) for path, size, at in rows}


# --- after the ingest ---------------------------------------------------------------------------


def views_fresh(lake_root: Path) -> bool:
    """Whether `<lake>/orusage.duckdb` was built for the current version by the current SQL."""
    from pipeline.lake import views

    return views.fresh(lake_root)


def report_since(settings: Settings, as_of: datetime | None) -> str | None:
    """The start of the scheduled reports' period: the last `report.days` local days up to
    `as_of` (default: now), today included; None (all of history) when report.days is 0."""
    from pipeline.query.report import last_days

    return last_days(settings.report.days, as_of, settings.timezone) if settings.report.days else None


def report_stamp(version: str | None, since: str | None) -> str:
    """What the report files show: the lake version, and the start of their period (a new local
    day moves it, so an idle lake's reports are still written again the next day)."""
    return f"{version or ''} since {since}" if since else (version or "")


def reports_fresh(settings: Settings, version: str | None, since: str | None = None) -> bool:
    stamp = settings.report.dir / REPORT_STAMP
    if not settings.report.formats:
        return True
    try:
        return stamp.read_text().strip() == report_stamp(version, since)
    except OSError:
        return False


REPORT_EXTENSIONS = {"table": "txt"}
# The formats `orusage report` folds beyond its default --top (DEFAULT_TOP_ON_SCREEN groups, as
# `make report` shows them); the others keep every group.
FOLDED_FORMATS = ("table", "md", "html")


def write_reports(lake_root: Path, settings: Settings, version: str | None, since: str | None = None) -> list[str]:
    """Write `report.<format>` into `report.dir` for each configured format, as
    `orusage report --tz TIMEZONE --since SINCE --format F --out FILE` would (pipeline.query.report;
    `since`: report_since, None for all of history), each file written beside the old one and
    renamed over it; then stamp the directory with the lake version and period the files show.
    The page's cards compare the last 30 days of the period with the 30 before."""
    from pipeline.query.report import DEFAULT_TOP_ON_SCREEN, ReportOptions, gather_page, run_report
    from pipeline.render.output import render

    out = settings.report.dir
    out.mkdir(parents=True, exist_ok=True)
    written = []
    report = run_report(lake_root, ReportOptions(tz=settings.timezone, since=since))
    folded = page = None
    for fmt in settings.report.formats:
        shown = report
        if fmt in FOLDED_FORMATS:
            if folded is None:
                options = ReportOptions(tz=settings.timezone, since=since, top=DEFAULT_TOP_ON_SCREEN)
                if "html" in settings.report.formats:  # the page and its report on one connection
                    page = gather_page(lake_root, options, headline_in_window=True)
                    folded = page.report
                else:
                    folded = run_report(lake_root, options)
            shown = page if fmt == "html" else folded
        target = out / f"report.{REPORT_EXTENSIONS.get(fmt, fmt)}"
        tmp = target.with_name(f".{target.name}.tmp")
        render(shown, fmt, out=tmp)
        tmp.replace(target)
        written.append(str(target))
    stamp = out / REPORT_STAMP
    tmp = stamp.with_name(stamp.name + ".tmp")
    tmp.write_text(report_stamp(version, since) + "\n")
    tmp.replace(stamp)
    return written


# --- the run ------------------------------------------------------------------------------------


@dataclass
class Outcome:
    exit_code: int
    summary: dict


def run(settings: Settings, *, as_of: datetime | None = None, log=None) -> Outcome:
    """One scheduled run with already loaded settings; logs its events, the summary last."""
    from pipeline.lake.store import Lake

    log = log or logs.get_logger()
    clock = time.monotonic()
    summary = {
        "run_id": None,
        "lake": str(settings.lake),
        "files": 0,
        "files_skipped": 0,
        "files_waiting": 0,
        "rows_read": 0,
        "rows_written": 0,
        "rows_quarantined": 0,
        "rows_duplicate": 0,
        "quarantine_ratio": None,
        "published": False,
        "collected": None,
        "collect_missing": None,
        "reconciled": None,
        "views_refreshed": False,
        "reports_written": 0,
        "alerts": 0,
        "error": None,
    }
    exit_code = EXIT_OK
    pending: dict = {}
    try:
        try:
            log.info("settings", **settings.public())
            _update(settings, summary, log, pending, as_of=as_of)
        except Exception as exc:  # noqa: BLE001 - every failure ends in the summary line
            exit_code = _failed(exc, summary, log)
        extra: list[dict] = []
        if pending.get("reconcile_days") and exit_code == EXIT_OK:
            try:
                extra = _reconcile(settings, pending["reconcile_days"], summary, log)
            except Exception as exc:  # noqa: BLE001 - a failed reconcile ends in the summary line too
                exit_code = _failed(exc, summary, log)
        if exit_code in (EXIT_OK, EXIT_FAILED) and Lake(settings.lake).current_version() is not None:
            try:
                alerts = _check(settings, as_of, log, extra)
            except Exception as exc:  # noqa: BLE001 - a failed check ends in the summary line too
                failed = _failed(exc, summary, log)
                exit_code = exit_code or failed
            else:
                summary["alerts"] = alerts
                if alerts and exit_code == EXIT_OK:
                    exit_code = EXIT_ALERT
    except BaseException as exc:
        # Ctrl-C or SIGTERM: the ingest removed its unpublished work and the lock is released;
        # the summary line is still written, with the signal's exit code.
        stopped = interruption(exc)
        if stopped is None:
            raise
        what, exit_code = stopped
        message = f"Error: {what}. Nothing unpublished was kept and the lake lock is released; run it again."
        summary["error"] = summary["error"] or message
        log.error("error", message=message, exit_code=exit_code)
    summary["seconds"] = round(time.monotonic() - clock, 3)
    summary["exit_code"] = exit_code
    log.info("run_summary", **summary)
    return Outcome(exit_code, summary)


def _failed(exc: Exception, summary: dict, log) -> int:
    """Log a failure as one `error` event; returns its exit code (unexpected errors: 1). An
    error that a stop signal caused is raised again, to end the run as stopped."""
    if interruption(exc) is not None:
        raise exc
    if isinstance(exc, OrusageError):
        message, code = exc.message(), exc.exit_code
    elif isinstance(exc, OSError):
        name = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
        message, code = f"Error: {name}{exc.strerror or exc}. Check the path, permissions and free disk space.", EXIT_FAILED
    else:
        if os.environ.get("ORUSAGE_DEBUG"):
            raise exc
        message = (
            f"Error: internal error ({type(exc).__name__}: {exc}). Nothing half-done was published; "
            "run again with ORUSAGE_DEBUG=1 for the traceback and report it."
        )
        code = EXIT_FAILED
    summary["error"] = summary["error"] or message
    log.error("error", message=message, exit_code=code)
    return code


def _update(settings: Settings, summary: dict, log, pending: dict, as_of: datetime | None = None) -> None:
    """Under the lake lock: ingest the new inbox files, then views and reports if the lake
    changed; raises QuarantineRatioExceeded after all of that when the share is too high."""
    from pipeline.lake.store import Lake

    lake_root = settings.lake
    lake = Lake(lake_root)
    with lake.lock(wait=settings.lock_wait_seconds):
        fed, collect_error = _collect(settings, summary, log) if settings.collect.enabled else (None, None)
        if fed is not None:
            pending["reconcile_days"] = fed.reconcile_days
        inbox = scan_inbox(settings, lake_root)
        summary["files_skipped"] = inbox.unchanged
        summary["files_waiting"] = inbox.too_new
        log.info(
            "inbox",
            new_or_changed=len(inbox.files),
            unchanged=inbox.unchanged,
            too_new=inbox.too_new,
            unsupported=inbox.unsupported,
            new_files=[str(p) for p in inbox.files[:20]] + (["…"] if len(inbox.files) > 20 else []),
        )
        files = [*inbox.files, *([fed.file] if fed is not None and fed.file is not None else [])]
        if files:
            from pipeline.ingest.run import Options, ingest  # polars and pandera: only when needed

            options = Options(
                schema_contract=settings.schema_contract,
                summary_details={"collect": fed.details} if fed is not None else None,
            )
            result = ingest(files, lake_root, options, lock=False)
            for key in ("run_id", "files", "rows_read", "rows_written", "rows_quarantined", "rows_duplicate"):
                summary[key] = result[key]
            summary["files_skipped"] += result["files_skipped"]
            summary["published"] = result["files"] > 0
            counts = (
                "run_id",
                "files",
                "files_skipped",
                "rows_read",
                "rows_written",
                "rows_quarantined",
                "rows_duplicate",
                "seconds",
            )
            log.info("ingest", **{k: result[k] for k in counts})
            for warning in result["warnings"]:
                log.warning("ingest_warning", **warning)
        if fed is not None:
            from pipeline.openrouter.feed import finish, record_summary

            if not summary["published"]:  # nothing new was published: the watermark moves alone
                summary["run_id"] = record_summary(lake_root, fed.details)
                log.info("collect_recorded", run_id=summary["run_id"], until=fed.details["until"])
            finish(fed)
        ratio_error = _quarantine_ratio(summary, settings, lake_root, log)
        version = lake.current_version()
        if version is not None:
            # The ingest rebuilds the views whenever it publishes; they are refreshed here when
            # the lake changed otherwise (compact, prune, replay) or the file is missing or stale.
            summary["views_refreshed"] = _refresh_views(lake_root, log, published=summary["published"])
            summary["reports_written"] = _reports(lake_root, settings, version.name, log, as_of)
    if collect_error is not None:
        if ratio_error is not None:
            _failed(ratio_error, summary, log)
        raise collect_error
    if ratio_error is not None:
        raise ratio_error


def _collect(settings: Settings, summary: dict, log) -> tuple:
    """The scheduled collection (pipeline/openrouter/feed.py): new records into the spool file.
    Returns (fed, None), or (None, the error) when the API could not be used for a passing
    reason (unreachable, 5xx, an unexpected answer): then the inbox is still ingested, and the
    error ends the run with exit 1 afterwards. A missing or refused key, a watermark older than 31
    days and a bad setting stop the run at once."""
    from pipeline.openrouter.collect import AuthError, KeyMissing
    from pipeline.openrouter.discover import WindowTooOld
    from pipeline.openrouter.feed import feed

    try:
        fed = feed(settings.lake, settings.inbox.paths, settings.collect, datetime.now(UTC), log=log)
    except (AuthError, KeyMissing, WindowTooOld, ConfigError):
        raise
    except OrusageError as exc:
        log.warning("collect_failed", message=exc.message())
        return None, exc
    summary["collected"] = fed.details["collected"]
    summary["collect_missing"] = fed.details["missing"]
    return fed, None


def _reconcile(settings: Settings, days: list, summary: dict, log) -> list[dict]:
    """The daily reconcile with GET /api/v1/activity (collect.reconcile_daily); returns its alert
    (none when the lake agrees within collect.reconcile_tolerance_usd)."""
    from pipeline.openrouter.collect import read_key
    from pipeline.openrouter.reconcile import reconcile_fetched

    c = settings.collect
    key = read_key(c.management_key_env, c.key_file, what="management key", option="collect.management_key_env")
    result = reconcile_fetched(settings.lake, c.base_url, key, c.management_key_env, days, c.reconcile_tolerance_usd)
    differing = result.differing
    span = f"{days[0]} .. {days[-1]}"
    summary["reconciled"] = "agrees" if result.agrees else "differs"
    log.info("reconcile", days=span, keys=len(result.rows), differing=len(differing), agrees=result.agrees)
    if result.agrees:
        return []
    message = (
        f"the lake and OpenRouter's activity differ on {len(differing)} of {len(result.rows)} day x model x provider "
        f"keys of {span} (UTC), beyond {c.reconcile_tolerance_usd:g} USD; see `orusage reconcile --fetch --days "
        f"{len(days)}`"
    )
    return [{"key": f"reconcile:{days[-1]}", "kind": "reconcile", "message": message}]


def _check(settings: Settings, as_of: datetime | None, log, extra: list[dict] | None = None) -> int:
    """The checks (a reader: no lock) and the webhook, with the `extra` alerts of this run (the
    daily reconcile); returns the number of alerts."""
    from pipeline.ops.checks import notify, run_checks

    result = run_checks(settings.lake, settings, as_of=as_of)
    result["alerts"] = [*result["alerts"], *(extra or [])]
    notes = dict.fromkeys(
        (item["status"], item["message"])
        for item in result["budgets"] + result["anomalies"]
        if item["status"] != "ok" and not item.get("alert")
    )
    for status, message in notes:
        log.info("check", status=status, message=message)
    for alert in result["alerts"]:
        log.warning("alert", key=alert["key"], message=alert["message"])
    hook = notify(result, settings, settings.lake, log=log)
    if hook is not None:
        (log.info if hook["ok"] else log.error)("webhook", **hook)
    return len(result["alerts"])


def _quarantine_ratio(summary: dict, settings: Settings, lake_root: Path, log) -> QuarantineRatioExceeded | None:
    error = quarantine_ratio_error(summary, settings.max_quarantine_ratio, lake_root)
    if error is not None:
        log.error(
            "quarantine_ratio_exceeded",
            ratio=summary["quarantine_ratio"],
            max=settings.max_quarantine_ratio,
            worst_files=error.worst_files,
            worst_reasons=error.worst_reasons,
        )
    return error


def quarantine_ratio_error(summary: dict, max_ratio: float, lake_root: Path) -> QuarantineRatioExceeded | None:
    """The error to raise when a run quarantined more than `max_ratio` of its rows (its good rows
    are kept either way); sets `summary["quarantine_ratio"]`."""
    if not summary["rows_read"]:
        return None
    ratio = summary["rows_quarantined"] / summary["rows_read"]
    summary["quarantine_ratio"] = round(ratio, 6)
    if ratio <= max_ratio:
        return None
    from pipeline.hints import command
    from pipeline.render.summary import display_path

    worst_files, worst_reasons = _worst(lake_root, summary["run_id"])
    shown = display_path(str(lake_root))
    files = "; ".join(f"{Path(f).name} {q:,}/{n:,}" for f, q, n in worst_files)
    reasons = "; ".join(f"{r} ({c:,})" for r, c in worst_reasons)
    error = QuarantineRatioExceeded(
        f"run {summary['run_id']} quarantined {summary['rows_quarantined']:,} of {summary['rows_read']:,} rows "
        f"({ratio:.1%}, more than max_quarantine_ratio {max_ratio:.1%}); the good rows were kept. "
        f"Worst files: {files}. Top reasons: {reasons}",
        f"See them with `{command('quarantine', '--run', summary['run_id'], '--lake', shown)}`; fix the export "
        f"or the schema, then `{command('quarantine', 'replay', '--lake', shown)}`.",
    )
    error.worst_files, error.worst_reasons = worst_files, worst_reasons
    return error


def _worst(lake_root: Path, run_id: str) -> tuple[list, list]:
    """The run's files with the most quarantined rows (file, quarantined, read) and its most
    frequent reasons (reason, rows), from the lake's views of its current version."""
    from pipeline.lake import views
    from pipeline.schema import sqlfiles

    if views.current_version(lake_root) is None:
        return [], []
    con = views.connect(lake_root)
    try:
        params = {"run": run_id}
        files = [tuple(row) for row in sqlfiles.run_file(con, "quarantine_worst_files", params).fetchall()]
        reasons = [tuple(row) for row in sqlfiles.run_file(con, "quarantine_worst_reasons", params).fetchall()]
    finally:
        con.close()
    return files, reasons


def _refresh_views(lake_root: Path, log, published: bool = False) -> bool:
    """Whether `<lake>/orusage.duckdb` was rebuilt by this run (by its ingest, or here)."""
    from pipeline.lake import views

    if views_fresh(lake_root):
        if published:
            log.info("views_refreshed", database=str(Path(lake_root) / views.DB_NAME), by="ingest")
        return published
    path = views.refresh_views(lake_root)
    log.info("views_refreshed", database=str(path))
    return True


def _reports(lake_root: Path, settings: Settings, version: str, log, as_of: datetime | None = None) -> int:
    since = report_since(settings, as_of)
    if reports_fresh(settings, version, since):
        return 0
    written = write_reports(lake_root, settings, version, since)
    log.info("reports_written", dir=str(settings.report.dir), files=written)
    return len(written)


def run_command(config: Path | None, overrides: dict, *, as_of: datetime | None = None, log_format: str | None = None) -> Outcome:
    """`orusage run`: load the settings (a bad one is logged like any error, exit 2), configure
    the logs, run."""
    try:
        settings = load_settings(config, overrides=overrides)
    except ConfigError as exc:
        logs.configure(log_format or "auto")
        log = logs.get_logger()
        log.error("error", message=exc.message(), exit_code=exc.exit_code)
        summary = {"run_id": None, "error": exc.message(), "seconds": 0.0, "exit_code": exc.exit_code}
        log.info("run_summary", **summary)
        return Outcome(exc.exit_code, summary)
    logs.configure(log_format or settings.log.format, settings.log.level)
    return run(settings, as_of=as_of or datetime.now(UTC))
