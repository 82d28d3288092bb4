"""Command line of the scheduled operation: `run`, `check`, `compact`, `prune`, `quarantine replay`.

Thin: each command parses its options, loads the settings (pipeline/config.py: defaults < file <
ORUSAGE_* < flags) and calls the library (runner, checks, maintain, replay). `register()` attaches
them to the `orusage` group; nothing heavy is imported until a command runs.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timezone
from pathlib import Path

import click


def config_option(func):
    return click.option(
        "--config",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help="Settings file. Default: $ORUSAGE_CONFIG, else ./orusage.toml when present.",
    )(func)


def lake_option(func):
    return click.option(
        "--lake",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        help="Lake directory (overrides `lake` of the settings and $ORUSAGE_LAKE).",
    )(func)


def wait_option(func):
    return click.option(
        "--wait",
        type=click.FloatRange(min=0),
        default=None,
        metavar="SECONDS",
        help="Wait up to SECONDS for the lake lock (default: lock_wait_seconds, 0).",
    )(func)


def json_option(func):
    return click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object on stdout.")(func)


def _settings(config: Path | None, **overrides):
    from pipeline.config import load_settings

    return load_settings(config, overrides=overrides)


def _instant(text: str | None) -> datetime | None:
    """An ISO 8601 instant; without an offset it is UTC."""
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(f"expected an ISO 8601 date-time, got {text!r}", param_hint="--as-of") from None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def _day(text: str | None) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(f"expected a date YYYY-MM-DD, got {text!r}", param_hint="--day") from None


# --- run -----------------------------------------------------------------------------------------


@click.command("run")
@config_option
@lake_option
@wait_option
@click.option(
    "--max-quarantine-ratio",
    type=click.FloatRange(0, 1),
    default=None,
    metavar="R",
    help="Exit 1 when the run quarantines more than this share of the rows it read (default 0.05).",
)
@click.option("--schema-contract", type=click.Choice(["evolve", "freeze"]), default=None, help="Override schema_contract.")
@click.option(
    "--log-format", type=click.Choice(["auto", "console", "json"]), default=None, help="Override log.format."
)
@click.option("--as-of", default=None, metavar="INSTANT", help="Run the checks as if it were INSTANT (ISO 8601; no offset: UTC).")
@click.pass_context
def run_command(ctx, config, lake, wait, max_quarantine_ratio, schema_contract, log_format, as_of):
    """The scheduled run: ingest what is new in the inbox, refresh the views, write the reports,
    run the checks.

    New or changed files of the inbox (inbox.paths, inbox.globs) are ingested; a file already
    ingested is skipped without being read again. The views (<lake>/orusage.duckdb) and the
    report files (report.dir) are rebuilt only when the lake changed. Budgets and anomalies are
    then checked as `orusage check` does, and alerts go to the webhook if one is configured.

    Logs go to stderr: readable lines on a terminal, JSON lines otherwise (cron), ending with
    exactly one `run_summary` line (files, rows read/written/quarantined/duplicate, seconds,
    exit code). Settings: defaults < --config FILE < ORUSAGE_* variables < these flags.

    \b
    Exit codes:
      0   done, nothing to report
      1   could not proceed, or the share of quarantined rows exceeded
          max_quarantine_ratio (the good rows were kept; the message names
          the worst files and reasons)
      2   usage error, or a bad configuration key or value
      3   alert: a budget exceeded or an anomaly found (after 1 in precedence)
      75  another run holds the lake lock (retry later, or use --wait)

    \b
    Example (crontab, hourly):
      17 * * * * /opt/orusage/.venv/bin/orusage run --config /etc/orusage/orusage.toml >>/var/log/orusage/run.log 2>&1
    """
    from pipeline.runner import run_command as run

    overrides = {
        "lake": lake,
        "lock_wait_seconds": wait,
        "max_quarantine_ratio": max_quarantine_ratio,
        "schema_contract": schema_contract,
    }
    instant = _instant(as_of)
    outcome = run(config, overrides, as_of=instant, log_format=log_format)
    ctx.exit(outcome.exit_code)


# --- check ---------------------------------------------------------------------------------------


@click.command("check")
@config_option
@lake_option
@json_option
@click.option("--as-of", default=None, metavar="INSTANT", help="Check as if it were INSTANT (ISO 8601; no offset: UTC; default now).")
@click.option("--day", default=None, metavar="DATE", help="Day the anomalies are judged for (default: the day before --as-of).")
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
    method. Days and months are in the configured time zone.

    With webhook.url set, each new alert is POSTed once (JSON with a Slack `text`); a failed
    webhook is reported and does not change the exit code.

    \b
    Exit codes:
      0   all is well (also: not enough baseline yet)
      1   could not proceed (no lake, bad lake)
      2   usage error, or a bad configuration key or value
      3   a budget is exceeded or an anomaly was found

    \b
    Example:
      orusage check --config orusage.toml --json
    """
    from pipeline.checks import notify, render_checks, run_checks
    from pipeline.logs import configure, get_logger

    settings = _settings(config, lake=lake)
    result = run_checks(settings.lake, settings, as_of=_instant(as_of), day=_day(day))
    if not no_webhook:
        configure(settings.log.format, settings.log.level)
        result["webhook"] = notify(result, settings, settings.lake, log=get_logger())
    if as_json:
        click.echo(json.dumps(result, default=str))
    else:
        render_checks(result)
    ctx.exit(result["exit_code"])


# --- compact / prune -----------------------------------------------------------------------------


@click.command("compact")
@config_option
@lake_option
@click.option("--partition", default=None, metavar="DATE", help="Only this partition (YYYY-MM-DD, a UTC day).")
@wait_option
@json_option
def compact_command(config, lake, partition, wait, as_json):
    """Merge the small Parquet files of each partition into few large ones, atomically.

    A partition (generations/date=YYYY-MM-DD) with two or more files under 64 MB has them
    rewritten into files of up to 1,000,000 rows through the declared schema (zstd), every
    column kept (lineage included), each id once. The change is published as one new lake
    version under the lake lock: readers see the old files or the new ones, never a mix.

    \b
    Exit codes:
      0   done
      1   could not proceed (one line `Error: ...`; the lake is unchanged)
      2   usage error, or a bad configuration key or value
      75  another run holds the lake lock; retry later or use --wait

    \b
    Example:
      orusage compact --lake ./lake --partition 2026-10-01
    """
    from pipeline.maintain import compact

    settings = _settings(config, lake=lake, lock_wait_seconds=wait)
    result = compact(settings.lake, partition, wait=settings.lock_wait_seconds)
    if as_json:
        click.echo(json.dumps(result))
        return
    if not result["partitions"]:
        click.echo("Nothing to compact: no partition has two or more small files.")
        return
    for item in result["partitions"]:
        click.echo(
            f"date={item['date']}: {item['files_merged']} files -> {len(item['new_files'])}, "
            f"{item['rows_after']:,} rows" + (f" ({item['duplicates_dropped']:,} duplicate ids dropped)" if item["duplicates_dropped"] else "")
        )
    click.echo(f"published version {result['run_id']} in {result['seconds']:.2f} s")


@click.command("prune")
@config_option
@lake_option
@click.option("--older-than", "older_than", required=True, metavar="DURATION", help="Age of the partitions to drop: Nd or Nw (e.g. 400d).")
@click.option("--dry-run", is_flag=True, help="List what would be dropped; change nothing.")
@wait_option
@json_option
def prune_command(config, lake, older_than, dry_run, wait, as_json):
    """Drop whole partitions older than a duration (retention).

    A partition generations/date=D is dropped when D (a UTC day) is more than DURATION before
    today (UTC). The manifest keeps the files' sha256, so a pruned export found again in the inbox
    is not ingested again. --dry-run lists the same partitions the real run would drop.

    \b
    Exit codes:
      0   done
      1   could not proceed (one line `Error: ...`; the lake is unchanged)
      2   usage error, or a bad configuration key or value
      75  another run holds the lake lock; retry later or use --wait

    \b
    Example:
      orusage prune --older-than 400d --dry-run
    """
    from pipeline.maintain import parse_duration, prune

    try:
        days = parse_duration(older_than)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--older-than") from None
    settings = _settings(config, lake=lake, lock_wait_seconds=wait)
    result = prune(settings.lake, days, dry_run=dry_run, wait=settings.lock_wait_seconds)
    if as_json:
        click.echo(json.dumps(result))
        return
    verb = "would drop" if dry_run else "dropped"
    for item in result["partitions"]:
        click.echo(f"date={item['date']}: {item['files']} files, {item['rows']:,} rows, {item['bytes']:,} bytes")
    click.echo(
        f"{verb} {len(result['partitions'])} partition(s) before {result['cutoff']}: "
        f"{result['files']} files, {result['rows']:,} rows"
    )


# --- quarantine replay ---------------------------------------------------------------------------


@click.command("replay")
@config_option
@lake_option
@click.option("--run", "run_id", default=None, help="Only rows quarantined by runs whose id starts with this.")
@click.option("--schema-contract", type=click.Choice(["evolve", "freeze"]), default=None, help="Contract to validate under (default: schema_contract of the settings, evolve).")
@wait_option
@json_option
@click.pass_context
def replay_command(ctx, config, lake, run_id, schema_contract, wait, as_json):
    """Re-validate quarantined rows; move the rows that now pass into the lake.

    Each quarantined line goes through the ingest's own parsing, validation and duplicate rules
    under the current schema and contract: rows that pass are added to the lake (once: an id
    already kept is a duplicate, another content under it a conflict) and leave the quarantine
    in the same published version; the others stay where they were with their current reasons.
    Lines that were not valid UTF-8, and rows of dashboard CSV exports, are not replayed.

    \b
    Exit codes:
      0   done
      1   could not proceed (one line `Error: ...`; the lake is unchanged)
      2   usage error, or a bad configuration key or value
      75  another run holds the lake lock; retry later or use --wait

    \b
    Example:
      orusage quarantine replay --schema-contract evolve
    """
    from pipeline.replay import replay

    if lake is None and ctx.parent is not None:  # `orusage quarantine --lake DIR replay`
        lake = ctx.parent.params.get("lake")
    settings = _settings(config, lake=lake, lock_wait_seconds=wait, schema_contract=schema_contract)
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
        click.echo(f"quarantine {result['quarantine_before']:,} -> {result['quarantine_after']:,} rows; published version {result['run_id']}")
    else:
        click.echo(f"nothing changed ({moved} rows moved)")


def register(main: click.Group, quarantine: click.Group) -> None:
    """Attach the commands to the `orusage` group and `replay` to its `quarantine` group."""
    for command in (run_command, check_command, compact_command, prune_command):
        main.add_command(command)
    quarantine.add_command(replay_command)

