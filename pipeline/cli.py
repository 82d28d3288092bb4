"""The `orusage` command line: parses options, calls the library, turns errors into exit codes.

Exit codes (every command):
  0  done (quarantined rows are counted, not failures)
  1  the run could not proceed: one line `Error: ...` on stderr; the lake is unchanged
  2  usage error (a bad option or argument)
  75 another run holds the lake lock (retry later)
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from pathlib import Path

import click

from pipeline.errors import DEFAULT_MAX_QUARANTINE_RATIO, EXIT_FAILED, OrusageError, Terminated, interruption, note_signal
from pipeline.options import lake_option, resolve_lake

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}

EXIT_CODES_HELP = """
\b
Exit codes:
  0   done (quarantined rows are counted, not failures)
  1   the run could not proceed (missing path, unreadable or corrupt
      file, disk full): one line `Error: ...`; the lake is unchanged;
      or more than --max-quarantine-ratio of the rows was quarantined
      (the good rows were kept)
  2   usage error
  75  another run holds the lake lock; retry later or use --wait
"""


def _on_signal(signum, frame):
    note_signal(signum)
    raise KeyboardInterrupt() if signum == signal.SIGINT else Terminated()


def _stop_on_signals() -> None:
    """Ctrl-C and SIGTERM stop a command the same way: the run's unpublished work is removed,
    the lock released, one line, and the exit code is 130 or 143."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _on_signal)
        signal.signal(signal.SIGINT, _on_signal)


class Group(click.Group):
    """Turns library errors into one line and an exit code, never a traceback."""

    def invoke(self, ctx):
        _stop_on_signals()
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except BaseException as exc:
            stopped = interruption(exc)
            if stopped is not None:
                what, code = stopped
                click.echo(
                    f"Error: {what}. Nothing of this run was published and the lake lock is released; run it again.",
                    err=True,
                )
                ctx.exit(code)
            if isinstance(exc, OrusageError):
                click.echo(exc.message(), err=True)
                ctx.exit(exc.exit_code)
            if isinstance(exc, OSError):
                name = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
                click.echo(f"Error: {name}{exc.strerror or exc}. Check the path, permissions and free disk space.", err=True)
                ctx.exit(EXIT_FAILED)
            if not isinstance(exc, Exception) or os.environ.get("ORUSAGE_DEBUG"):
                raise
            click.echo(
                f"Error: internal error ({type(exc).__name__}: {exc}). Nothing was published; "
                "run again with ORUSAGE_DEBUG=1 for the traceback and report it.",
                err=True,
            )
            ctx.exit(EXIT_FAILED)


ALL_EXIT_CODES_HELP = """
\b
Exit codes (each command's --help lists its own):
  0   done (quarantined rows are counted, not failures)
  1   could not proceed: one line `Error: what. How to fix it.`
      (the lake is unchanged), or the quarantined share exceeded
      --max-quarantine-ratio (the good rows were kept)
  2   usage or configuration error
  3   check/run: a budget is exceeded or an anomaly was found
  4   reconcile: the lake and OpenRouter's numbers differ beyond tolerance
  5   collect: some ids never came
  75  another run holds the lake lock; retry later or use --wait
"""


@click.group(cls=Group, context_settings=CONTEXT, epilog=ALL_EXIT_CODES_HELP)
@click.version_option(package_name="orusage")
def main():
    """orusage: OpenRouter generation exports -> a validated Parquet lake -> usage and cost reports.

    The lake is ./lake unless $ORUSAGE_LAKE is set; --lake overrides both.

    \b
    Quick start:
      orusage ingest data/sample          # build ./lake from the bundled sample
      orusage report                      # spend, tokens, latency by model, provider, region, app
      orusage quarantine                  # what was set aside, and why
    """


@main.command(epilog=EXIT_CODES_HELP)
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@lake_option
@click.option("--json", "as_json", is_flag=True, help="Print the run summary as one JSON object on stdout.")
@click.option("--force", is_flag=True, help="Read files even if a file with the same sha256 was ingested before.")
@click.option(
    "--schema-contract",
    type=click.Choice(["evolve", "freeze"]),
    default="evolve",
    show_default=True,
    help="evolve: keep unknown top-level keys in the `_extra` column; freeze: quarantine such rows.",
)
@click.option("--wait", type=float, default=0.0, metavar="SECONDS", help="Wait up to SECONDS for the lake lock.")
@click.option(
    "--max-quarantine-ratio",
    type=click.FloatRange(0.0, 1.0),
    default=DEFAULT_MAX_QUARANTINE_RATIO,
    show_default=True,
    envvar="ORUSAGE_MAX_QUARANTINE_RATIO",
    metavar="R",
    help="Exit 1 (after keeping the good rows) when more than this share of the rows read was "
    "quarantined; 1 turns the check off. Also $ORUSAGE_MAX_QUARANTINE_RATIO.",
)
def ingest(paths, lake, as_json, force, schema_contract, wait, max_quarantine_ratio):
    """Validate JSONL exports of generation records and add them to the lake.

    PATHS are files or directories (searched recursively) of .jsonl, .ndjson or .json (one JSON
    record per line), plain or compressed (.gz, .zst), and dashboard CSV exports
    (openrouter_activity_*.csv, recognised by their header; see docs/csv-import.md). A line is a
    bare record or the API envelope {"data": {...}}. Valid rows are published to <lake>/generations/date=YYYY-MM-DD/ in
    one atomic step; invalid rows go to <lake>/quarantine/ with every reason; records identical to
    one already kept are counted as duplicates. A file already ingested (same sha256) is skipped.

    \b
    Example:
      orusage ingest exports/ --lake ./lake --json
    """
    from pipeline.ingest import Options
    from pipeline.ingest import ingest as run_ingest

    summary = run_ingest(
        list(paths), resolve_lake(lake), Options(force=force, schema_contract=schema_contract, wait=wait)
    )
    from pipeline.runner import quarantine_ratio_error

    ratio_error = quarantine_ratio_error(summary, max_quarantine_ratio, resolve_lake(lake))
    if as_json:
        click.echo(json.dumps(summary))
    else:
        from pipeline.summary import render_summary

        render_summary(summary)
    if ratio_error is not None:
        raise ratio_error


@main.group(invoke_without_command=True, epilog=EXIT_CODES_HELP)
@lake_option
@click.option("--run", "run_id", default=None, help="Only rows quarantined by this run.")
@click.option("--limit", type=int, default=50, show_default=True, help="Rows to list.")
@click.option("--json", "as_json", is_flag=True, help="Print rows as JSON lines.")
@click.pass_context
def quarantine(ctx, lake, run_id, limit, as_json):
    """List quarantined rows with their reasons (newest run first).

    \b
    Examples:
      orusage quarantine                       # the latest rows, one line each
      orusage quarantine --run 20261126T0500   # one run's rows
      orusage quarantine show FILE:LINE        # one row in full, with its raw text
    """
    ctx.ensure_object(dict)
    ctx.obj["lake"] = resolve_lake(lake)
    if ctx.invoked_subcommand is not None:
        return
    from pipeline.quarantine import list_rows, render_rows

    rows = list_rows(ctx.obj["lake"], run_id=run_id, limit=limit)
    if as_json:
        for row in rows:
            click.echo(json.dumps(row, default=str))
    else:
        render_rows(rows, ctx.obj["lake"])


@quarantine.command("show")
@click.argument("where")
@click.pass_context
def quarantine_show(ctx, where):
    """Show quarantined rows in full: WHERE is an id, or FILE:LINE (FILE may be a suffix of the path).

    \b
    Example:
      orusage quarantine show bad-lines.jsonl:7
    """
    from pipeline.quarantine import find_rows, render_full

    render_full(find_rows(ctx.obj["lake"], where))


from pipeline.report_cli import report, sql  # noqa: E402

main.add_command(report)
main.add_command(sql)


from pipeline.ops_cli import register as _register_ops  # noqa: E402  (run, check, compact, prune, quarantine replay)

_register_ops(main, quarantine)


from pipeline.integrations_cli import collect, reconcile  # noqa: E402

main.add_command(reconcile)
main.add_command(collect)

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
