"""Command line of the scheduled operation: `run`, `check`, `compact`, `prune`, `quarantine replay`.

Thin: each command parses its options, loads the settings (pipeline/ops/config.py: defaults < file <
ORUSAGE_* < flags) and calls the library (runner, checks, maintain, replay). `register()` attaches
them to the `orusage` group; nothing heavy is imported until a command runs.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import click

from pipeline.cli.options import (
    STOP_CODES,
    config_option,
    epilog,
    json_option,
    lake_option,
    schema_contract_option,
    wait_option,
)


def _settings(config: Path | None, **overrides):
    from pipeline.ops.config import settings

    return settings(config, **overrides)


def _instant(ctx, param, text: str | None) -> datetime | None:
    """An ISO 8601 instant; without an offset it is UTC."""
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(f"expected an ISO 8601 date-time such as 2026-10-28T07:00:00Z, got {text!r}") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _day(ctx, param, text: str | None) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(f"expected a date YYYY-MM-DD, got {text!r}") from None


def _duration(ctx, param, text: str | None) -> int | None:
    if text is None:
        return None
    from pipeline.ops.maintain import parse_duration

    try:
        return parse_duration(text)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


USAGE_CODE = "usage error (a bad option or option value), or a bad setting (the message names the key and where it came from)"
LOCK_CODE = "another run holds the lake lock; retry later or pass --wait SECONDS"


# --- run -----------------------------------------------------------------------------------------

RUN_EXIT_CODES = {
    0: "done, nothing to report",
    1: "could not proceed, or the share of quarantined rows exceeded max_quarantine_ratio (the good "
    "rows were kept; the message names the worst files and reasons), or (with [collect]) a key is "
    "missing or refused, the watermark is older than 31 days, or the API could not be used",
    2: USAGE_CODE,
    3: "alert: a budget exceeded, an anomaly found, or (collect.reconcile_daily) the lake and "
    "OpenRouter's activity differ (after 1 in precedence)",
    75: LOCK_CODE,
    **STOP_CODES,
}


@click.command(
    "run",
    epilog=epilog(
        RUN_EXIT_CODES,
        "17 * * * * /opt/orusage/.venv/bin/orusage run --config /etc/orusage/orusage.toml >>/var/log/orusage/run.log 2>&1",
        title="Example (crontab, hourly):",
    ),
)
@lake_option
@config_option
@wait_option
@click.option(
    "--max-quarantine-ratio",
    type=click.FloatRange(0, 1),
    default=None,
    metavar="R",
    help="Exit 1 when the run quarantines more than this share of the rows it read. Default: "
    "max_quarantine_ratio of the settings, 0.05.",
)
@schema_contract_option
@click.option(
    "--log-format",
    type=click.Choice(["auto", "console", "json"]),
    default=None,
    help="Log lines on stderr: auto = console on a terminal, JSON otherwise. Default: log.format of the settings.",
)
@click.option(
    "--as-of", default=None, metavar="INSTANT", callback=_instant,
    help="Run the checks as if it were INSTANT (ISO 8601; no offset: UTC).",
)  # fmt: skip
@json_option("the run summary (the fields of the run_summary log line)")
@click.pass_context
def run_command(ctx, config, lake, wait, max_quarantine_ratio, schema_contract, log_format, as_of, as_json):
    """The scheduled run: ingest the inbox, refresh the views and reports, run the checks.

    New or changed files of the inbox (inbox.paths, inbox.globs) are ingested; a file already
    ingested is skipped without being read again. The views (<lake>/orusage.duckdb) and the
    report files (report.dir) are rebuilt only when the lake changed. Budgets and anomalies are
    then checked as `orusage check` does, and alerts go to the webhook if one is configured.

    With [collect] enabled, each run first lists the generations created since the lake's
    watermark through OpenRouter's Analytics API, fetches those the lake lacks and ingests them
    with the inbox; see docs/collect.md.

    Logs go to stderr: readable lines on a terminal, JSON lines otherwise (cron), ending with
    exactly one `run_summary` line (files, rows read/written/quarantined/duplicate, seconds,
    exit code); --json prints the same summary on stdout. Settings: defaults < --config FILE <
    ORUSAGE_* variables < these flags.
    """
    from pipeline.ops.runner import run_command as run

    overrides = {
        "lake": lake,
        "lock_wait_seconds": wait,
        "max_quarantine_ratio": max_quarantine_ratio,
        "schema_contract": schema_contract,
    }
    outcome = run(config, overrides, as_of=as_of, log_format=log_format)
    if as_json:
        click.echo(json.dumps(outcome.summary, default=str))
    ctx.exit(outcome.exit_code)


# --- check ---------------------------------------------------------------------------------------

CHECK_EXIT_CODES = {
    0: "all is well; also when there is not enough baseline yet, or no data to check in the "
    "periods checked (the output says so: `no data to check`, status no_data)",
    1: "could not proceed (no lake, a bad lake): one line `Error: ...`",
    2: USAGE_CODE,
    3: "a budget is exceeded or an anomaly was found",
}


@click.command("check", epilog=epilog(CHECK_EXIT_CODES, "orusage check --config orusage.toml --json"))
@lake_option
@config_option
@json_option("the result")
@click.option(
    "--as-of", default=None, metavar="INSTANT", callback=_instant,
    help="Check as if it were INSTANT (ISO 8601; no offset: UTC; default now).",
)  # fmt: skip
@click.option(
    "--day", default=None, metavar="DATE", callback=_day,
    help="Day the anomalies are judged for (YYYY-MM-DD; default: the day before --as-of).",
)  # fmt: skip
@click.option("--no-webhook", is_flag=True, help="Do not post the alerts, even with webhook.url set.")
@click.pass_context
def check_command(ctx, config, lake, as_json, as_of, day, no_webhook):
    """Budgets and anomalies: exit 3 when something needs a person.

    Budgets (budgets.* of the settings): daily and monthly spend limits (Σ total_cost, USD), in
    total and per app_id, model or external_user, with the month-end projection at the current
    pace. Anomalies: the day's spend, requests, error rate and p95 latency against the same
    weekday of the previous weeks (anomaly.weeks, default 4; robust z-score on median and MAD;
    at least anomaly.min_baseline_days, default 3, are needed); an alert names the models, apps
    and providers that drove the change with their share of it. docs/operations.md explains the
    method. Days and months are in the configured time zone. When the lake has no requests in the
    periods checked, the output says there was no data to check (and which period), which is not
    the same as passing.

    With webhook.url set, each new alert is POSTed once (JSON with a Slack `text`); a failed
    webhook is reported and does not change the exit code.
    """
    from pipeline.logs import configure, get_logger
    from pipeline.ops.checks import notify, render_checks, run_checks

    settings = _settings(config, lake=lake)
    result = run_checks(settings.lake, settings, as_of=as_of, day=day)
    if not no_webhook:
        configure(settings.log.format, settings.log.level)
        result["webhook"] = notify(result, settings, settings.lake, log=get_logger())
    if as_json:
        click.echo(json.dumps(result, default=str))
    else:
        render_checks(result)
    ctx.exit(result["exit_code"])


# --- compact / prune -----------------------------------------------------------------------------

WRITE_EXIT_CODES = {
    0: "done",
    1: "could not proceed (one line `Error: ...`; the lake is unchanged)",
    2: USAGE_CODE,
    75: LOCK_CODE,
    **STOP_CODES,
}


def _partition(ctx, param, text: str | None) -> str | None:
    if text is not None:
        _day(ctx, param, text)
    return text


@click.command("compact", epilog=epilog(WRITE_EXIT_CODES, "orusage compact --lake ./lake --months-older-than 60d"))
@lake_option
@config_option
@click.option(
    "--partition", default=None, metavar="DATE", callback=_partition,
    help="Only this partition (YYYY-MM-DD, a UTC day).",
)  # fmt: skip
@click.option(
    "--months-older-than", "months_days", default=None, metavar="DURATION", callback=_duration,
    help="Also merge each UTC month that ended more than DURATION ago (Nd or Nw, e.g. 60d) into one "
    "file per month (generations/month=YYYY-MM/), the date column kept in the file.",
)  # fmt: skip
@wait_option
@json_option("the result")
def compact_command(config, lake, partition, months_days, wait, as_json):
    """Merge the small Parquet files of each partition into few large ones, atomically.

    A partition (generations/date=YYYY-MM-DD) with two or more files under 64 MB has them
    rewritten into files of up to 1,000,000 rows through the declared schema (zstd), every
    column kept (lineage included), each id once. With --months-older-than, every whole UTC
    month that ended more than DURATION before today (UTC) and still has daily partitions is
    first merged with them into generations/month=YYYY-MM/ (files of up to 1,000,000 rows that
    store the `date` column), so that a report over years of small days opens a few files per
    month instead of one per day. The change is published as one new lake version under the lake
    lock: readers see the old files or the new ones, never a mix.
    """
    from pipeline.ops.maintain import compact

    settings = _settings(config, lake=lake, lock_wait_seconds=wait)
    result = compact(settings.lake, partition, wait=settings.lock_wait_seconds, months_older_than=months_days)
    if as_json:
        click.echo(json.dumps(result))
        return
    months = result.get("months") or []
    if not result["partitions"] and not months:
        if months_days is not None:
            click.echo(
                f"Nothing to compact: no month ending before {result['months_cutoff']} has daily partitions, "
                "and no partition has two or more small files."
            )
        else:
            click.echo("Nothing to compact: no partition has two or more small files.")
        return
    for item in months:
        click.echo(
            f"month={item['month']}: {item['days']} days, {item['files_before']} files -> {item['files_after']}, "
            f"{item['rows_after']:,} rows"
            + (f" ({item['duplicates_dropped']:,} duplicate ids dropped)" if item["duplicates_dropped"] else "")
        )
    for item in result["partitions"]:
        click.echo(
            f"date={item['date']}: {item['files_merged']} files -> {len(item['new_files'])}, "
            f"{item['rows_after']:,} rows"
            + (f" ({item['duplicates_dropped']:,} duplicate ids dropped)" if item["duplicates_dropped"] else "")
        )
    click.echo(f"published version {result['run_id']} in {result['seconds']:.2f} s")


@click.command("prune", epilog=epilog(WRITE_EXIT_CODES, "orusage prune --older-than 400d --dry-run"))
@lake_option
@config_option
@click.option(
    "--older-than", "days", required=True, metavar="DURATION", callback=_duration,
    help="Age of the partitions to drop: Nd or Nw (e.g. 400d).",
)  # fmt: skip
@click.option("--dry-run", is_flag=True, help="List what would be dropped; change nothing (takes no lock).")
@wait_option
@json_option("the result")
def prune_command(config, lake, days, dry_run, wait, as_json):
    """Drop whole partitions older than a duration (retention).

    A partition generations/date=D is dropped when D (a UTC day) is more than DURATION before
    today (UTC); a merged month (generations/month=YYYY-MM/, see `orusage compact`) is dropped
    whole when it ends before that, or rewritten without those days when the cutoff falls in it.
    The manifest keeps the files' sha256, so a pruned export found again in the inbox is not
    ingested again. --dry-run lists the same partitions the real run would drop.
    """
    from pipeline.ops.maintain import prune

    settings = _settings(config, lake=lake, lock_wait_seconds=wait)
    result = prune(settings.lake, days, dry_run=dry_run, wait=settings.lock_wait_seconds)
    if as_json:
        click.echo(json.dumps(result))
        return
    verb = "would drop" if dry_run else "dropped"
    for item in result["partitions"]:
        if "month" in item and item["rewritten"]:
            click.echo(
                f"month={item['month']}: {item['rows']:,} rows of the days before the cutoff "
                f"({item['rewritten']} files rewritten)"
            )
        elif "month" in item:
            click.echo(f"month={item['month']}: {item['files']} files, {item['rows']:,} rows, {item['bytes']:,} bytes")
        else:
            click.echo(f"date={item['date']}: {item['files']} files, {item['rows']:,} rows, {item['bytes']:,} bytes")
    click.echo(
        f"{verb} {len(result['partitions'])} partition(s) before {result['cutoff']}: "
        f"{result['files']} files, {result['rows']:,} rows"
    )


# --- quarantine replay ---------------------------------------------------------------------------


@click.command("replay", epilog=epilog(WRITE_EXIT_CODES, "orusage quarantine replay --schema-contract evolve"))
@lake_option
@config_option
@click.option("--run", "run_id", default=None, metavar="ID", help="Only rows of the runs whose id starts with ID.")
@schema_contract_option
@wait_option
@json_option("the result")
@click.pass_context
def replay_command(ctx, config, lake, run_id, schema_contract, wait, as_json):
    """Re-validate quarantined rows; move the rows that now pass into the lake.

    Each quarantined line goes through the ingest's own parsing, validation and duplicate rules
    under the current schema and contract: rows that pass are added to the lake (once: an id
    already kept is a duplicate, another content under it a conflict) and leave the quarantine
    in the same published version; the others stay where they were with their current reasons.
    Lines that were not valid UTF-8, and rows of dashboard CSV exports, are not replayed.
    """
    from pipeline.cli.options import inherited
    from pipeline.ingest.replay import replay

    settings = _settings(
        inherited(ctx, "config", config),
        lake=inherited(ctx, "lake", lake),
        lock_wait_seconds=wait,
        schema_contract=schema_contract,
    )
    result = replay(settings.lake, run_id, schema_contract=settings.schema_contract, wait=settings.lock_wait_seconds)
    if as_json:
        click.echo(json.dumps(result))
        return
    moved = result["rows_written"] + result["rows_duplicate"]
    click.echo(
        f"replayed {result['rows_read']:,} rows: {result['rows_written']:,} written, "
        f"{result['rows_duplicate']:,} duplicate, {result['rows_quarantined']:,} still quarantined"
        + (f", {result['rows_kept_unreplayable']:,} not replayable" if result["rows_kept_unreplayable"] else "")
    )
    if result["published"]:
        click.echo(
            f"quarantine {result['quarantine_before']:,} -> {result['quarantine_after']:,} rows; "
            f"published version {result['run_id']}"
        )
    else:
        click.echo(f"nothing changed ({moved} rows moved)")


def register(main: click.Group, quarantine: click.Group) -> None:
    """Attach the commands to the `orusage` group and `replay` to its `quarantine` group."""
    for command in (run_command, check_command, compact_command, prune_command):
        main.add_command(command)
    quarantine.add_command(replay_command)
