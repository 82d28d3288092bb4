"""`orusage reconcile` and `orusage collect`: the lake against OpenRouter's own numbers, and
generation records fetched by id. Options are parsed here; the work is in reconcile.py and
collect.py."""

from __future__ import annotations

import json
from pathlib import Path

import click

from pipeline.cli.options import (
    CONTEXT,
    config_option,
    epilog,
    json_option,
    lake_option,
    lake_root,
)
from pipeline.errors import EXIT_INCOMPLETE, EXIT_MISMATCH
from pipeline.ops.config import settings

RECONCILE_EXIT_CODES = {
    0: "the lake agrees with the activity within tolerance on every day x model x provider of the compared days",
    1: (
        "could not proceed (a missing or malformed activity file, an empty lake; with --fetch: no key, the key "
        "refused with 401/403, no usable answer): one line `Error: ...`"
    ),
    2: "usage error (neither or both of --activity and --fetch, a bad option value), or a bad setting",
    4: "some key differs beyond tolerance (or is on one side only)",
}

COLLECT_EXIT_CODES = {
    0: "every id is in --out or (with --since) in the lake (fetched now or by an earlier run)",
    1: (
        "could not proceed (no key, unreadable ids file, the API refused the key with 401/403, a --since "
        "window older than 31 days): one line `Error: ...`"
    ),
    2: "usage error (a bad option or option value, neither or both of IDS_FILE and --since)",
    5: (
        "some ids never came (404 past --not-found-patience, or errors past --max-attempts); "
        "run the same command later: it resumes"
    ),
}


def _base_url(ctx, param, value: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise click.BadParameter(f"expected an http:// or https:// URL, got {value!r}")
    return value


@click.command(
    context_settings=CONTEXT,
    options_metavar="--activity FILE [FILE]... | --fetch [OPTIONS]",
    epilog=epilog(
        RECONCILE_EXIT_CODES,
        """
        curl -s -H "Authorization: Bearer $OPENROUTER_MANAGEMENT_KEY" \\
            https://openrouter.ai/api/v1/activity > activity.json
        orusage reconcile --activity activity.json --lake ./lake --tolerance-usd 0.01
        orusage reconcile --fetch --days 7 --lake ./lake --tolerance-usd 0.01
        """,
        title="Example:",
    ),
)
@click.option(
    "--activity",
    "activity",
    multiple=True,
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE",
    help='An export of GET /api/v1/activity ({"data": [...]} or a list). Repeat it, or list more files after it.',
)
@click.argument("more", nargs=-1, type=click.Path(dir_okay=False, path_type=Path), metavar="")
@click.option(
    "--fetch",
    is_flag=True,
    help="Instead of --activity: GET /api/v1/activity now (a management key in --management-key-env) "
    "and compare the last --days completed UTC days.",
)
@click.option(
    "--days",
    type=click.IntRange(1, 30),
    default=30,
    show_default=True,
    help="With --fetch: the completed UTC days compared, ending yesterday.",
)
@click.option(
    "--base-url",
    default="https://openrouter.ai/api/v1",
    show_default=True,
    callback=_base_url,
    help="With --fetch: API base URL.",
)
@click.option(
    "--management-key-env",
    default="OPENROUTER_MANAGEMENT_KEY",
    show_default=True,
    metavar="NAME",
    help="With --fetch: the environment variable that holds the management key.",
)
@lake_option
@config_option
@click.option(
    "--tolerance-usd",
    type=click.FloatRange(min=0),
    default=0.000001,
    show_default=True,
    help="A money difference up to this many USD agrees.",
)
@click.option(
    "--tolerance-pct",
    type=click.FloatRange(min=0),
    default=0.0,
    show_default=True,
    help="Any difference up to this percent of the activity's value agrees (counts and money).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json", "csv"]),
    default="table",
    show_default=True,
    help="table: for people; json: one object (differences, unmatched names, totals, days); "
    "csv: the differing keys, then a TOTAL row.",
)
@click.pass_context
def reconcile(ctx, activity, more, fetch, days, base_url, management_key_env, lake, config, tolerance_usd, tolerance_pct, fmt):
    """Compare the lake with OpenRouter's own daily numbers (GET /api/v1/activity).

    Per UTC day x model x provider: requests with the count of records, prompt / completion /
    reasoning / cached tokens with the sums of native_tokens_*, usage with the sum of usage, and
    byok_usage_inference with the sum of upstream_inference_cost of BYOK records. Only the days
    each activity file covers (its first to its last date) are compared; the output names the
    lake's other days. Models are matched by slug, then by permaslug, providers by endpoint id,
    then by name (case, spaces and punctuation ignored); names that match nothing are reported,
    never dropped. With --fetch, the activity is fetched from the API instead of read from files.
    docs/reconcile.md has the rules.
    """
    from pipeline.openrouter.reconcile import reconcile as run_reconcile
    from pipeline.openrouter.reconcile import render_table, to_csv, to_json

    files = list(activity) + list(more)
    if bool(files) == fetch:
        raise click.UsageError("give either --activity FILE... or --fetch (not both)")
    root = lake_root(settings(config, lake=lake))
    if fetch:
        from datetime import UTC, datetime

        from pipeline.openrouter.collect import read_key
        from pipeline.openrouter.reconcile import completed_days, reconcile_fetched

        key = read_key(management_key_env, what="management key", option="--management-key-env")
        compared = completed_days(days, datetime.now(UTC).date())
        result = reconcile_fetched(root, base_url, key, management_key_env, compared, tolerance_usd, tolerance_pct)
    else:
        result = run_reconcile(files, root, tolerance_usd, tolerance_pct)
    if fmt == "json":
        click.echo(to_json(result))
    elif fmt == "csv":
        click.echo(to_csv(result), nl=False)
    else:
        render_table(result, click.echo)
    if not result.agrees:
        ctx.exit(EXIT_MISMATCH)


@click.command(
    context_settings=CONTEXT,
    epilog=epilog(
        COLLECT_EXIT_CODES,
        """
        export OPENROUTER_API_KEY=...
        orusage collect ids.txt --out records.jsonl --concurrency 8
        orusage ingest records.jsonl
        export OPENROUTER_MANAGEMENT_KEY=...   # --since lists the ids (Analytics API)
        orusage collect --since 2h --out records.jsonl --lake ./lake
        """,
        title="Example:",
    ),
)
@click.argument("ids_file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="JSONL file the records are appended to."
)
@click.option(
    "--since",
    metavar="WHEN",
    default=None,
    help="Instead of IDS_FILE: list the ids created since WHEN through the Analytics API (a date "
    "2026-11-30, an instant 2026-11-30T12:00:00Z, or a duration before now: 90m, 2h, 3d; at most 31 days back).",
)
@click.option("--until", metavar="WHEN", default=None, help="With --since: the end of the window (default: now).")
@click.option(
    "--management-key-env",
    default="OPENROUTER_MANAGEMENT_KEY",
    show_default=True,
    metavar="NAME",
    help="With --since: the environment variable that holds the management key the Analytics API needs.",
)
@lake_option
@config_option
@click.option(
    "--api-key-env",
    default="OPENROUTER_API_KEY",
    show_default=True,
    metavar="NAME",
    help="Environment variable that holds the API key (the key itself is never an option).",
)
@click.option("--base-url", default="https://openrouter.ai/api/v1", show_default=True, callback=_base_url, help="API base URL.")
@click.option("--concurrency", type=click.IntRange(1, 64), default=4, show_default=True, help="Requests in flight.")
@click.option(
    "--not-found-patience",
    type=click.FloatRange(min=0),
    default=60.0,
    show_default=True,
    metavar="SECONDS",
    help="Keep retrying a 404 this long after the id's first request (records appear a few seconds late).",
)
@click.option(
    "--max-attempts",
    type=click.IntRange(min=1),
    default=8,
    show_default=True,
    help="Attempts per id for 429, 5xx, timeouts and malformed answers.",
)
@click.option(
    "--timeout", type=click.FloatRange(min=0.01), default=30.0, show_default=True, metavar="SECONDS", help="Per request."
)
@click.option("--backoff-base", type=click.FloatRange(min=0), default=0.5, hidden=True)
@click.option(
    "--missing",
    "missing_out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the ids that never came to this file, one per line.",
)
@json_option("the summary")
@click.option(
    "--log-format",
    type=click.Choice(["auto", "console", "json"]),
    default="auto",
    show_default=True,
    help="Log lines on stderr: auto = console on a terminal, JSON otherwise.",
)
@click.option("-v", "--verbose", is_flag=True, help="Log every retry.")
@click.pass_context
def collect(
    ctx,
    ids_file,
    out,
    since,
    until,
    management_key_env,
    lake,
    config,
    api_key_env,
    base_url,
    concurrency,
    not_found_patience,
    max_attempts,
    timeout,
    backoff_base,
    missing_out,
    as_json,
    log_format,
    verbose,
):
    """Fetch generation records by id from GET /api/v1/generation into a JSONL file.

    IDS_FILE holds one generation id per line (blank lines and # comments are skipped). Each
    record is appended to --out as one line (the record, without the {"data": ...} envelope)
    and flushed at once; ids already in --out are skipped, so an interrupted run resumes where
    it stopped. 404s are retried for --not-found-patience seconds, 429 / 5xx / timeouts with
    exponential backoff and jitter, honouring Retry-After. The key is read from the environment
    variable --api-key-env and never printed or logged. Then `orusage ingest FILE.jsonl`.

    With --since instead of IDS_FILE, the ids of the window are listed through the Analytics API
    (POST /api/v1/analytics/query, a management key in --management-key-env), and only the
    records that neither the lake (--lake) nor --out holds are fetched. docs/collect.md.
    """
    from datetime import UTC, datetime

    from pipeline import logs
    from pipeline.openrouter.collect import CollectOptions
    from pipeline.openrouter.collect import collect as run_collect

    if (ids_file is None) == (since is None):
        raise click.UsageError("give either IDS_FILE or --since WHEN (not both)")
    if until is not None and since is None:
        raise click.UsageError("--until needs --since")
    now = datetime.now(UTC)
    window = None
    if since is not None:
        from pipeline.openrouter.discover import parse_when

        try:
            window = (parse_when(since, now), parse_when(until, now) if until is not None else now)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="'--since' / '--until'") from None

    logs.configure(log_format, "debug" if verbose else "info")
    options = CollectOptions(
        api_key_env=api_key_env,
        base_url=base_url,
        concurrency=concurrency,
        not_found_patience=not_found_patience,
        max_attempts=max_attempts,
        timeout=timeout,
        backoff_base=backoff_base,
    )
    if window is None:
        summary = run_collect(ids_file, out, options)
    else:
        from pipeline.openrouter.discover import DiscoverOptions, collect_window

        discover_options = DiscoverOptions(
            management_key_env=management_key_env,
            base_url=base_url,
            timeout=timeout,
            max_attempts=max_attempts,
            backoff_base=backoff_base,
        )
        root = lake_root(settings(config, lake=lake))
        summary = collect_window(window[0], window[1], out, root, options, discover_options, now=now)
    if missing_out is not None:
        missing_out.write_text("".join(m.id + "\n" for m in summary.missing), encoding="utf-8")
    # The run's one summary line (each id that never came was logged as `collect_gave_up`).
    logs.get_logger().info("collect_summary", **{k: v for k, v in summary.as_dict().items() if k != "missing_ids"})
    if as_json:
        click.echo(json.dumps(summary.as_dict()))
    if summary.missing:
        ctx.exit(EXIT_INCOMPLETE)
