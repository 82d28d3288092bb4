"""The `orusage` command line: parses options, calls the library, turns errors into exit codes.

Exit codes (the common ones; each command's --help lists its own, `orusage --help` all of them):
  0    done (quarantined rows are counted, not failures)
  1    could not proceed: one line `Error: ...` on stderr, and a write that fails leaves the lake
       as it was; or `ingest` / `run` quarantined more than max_quarantine_ratio of the rows read
       (the good rows were kept)
  2    usage error (a bad option, argument or option value), or a bad setting
  75   another run holds the lake lock (retry later)
  130  stopped by Ctrl-C, 143 by SIGTERM: nothing of the run was published
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from pathlib import Path

import click

from pipeline.cli.options import (
    CONTEXT,
    STOP_CODES,
    config_option,
    epilog,
    inherited,
    json_option,
    lake_option,
    lake_root,
    schema_contract_option,
    wait_option,
)
from pipeline.errors import EXIT_FAILED, OrusageError, Terminated, interruption, note_signal
from pipeline.hints import command
from pipeline.ops.config import settings


class OneLineUsageError(click.UsageError):
    """A usage error shown as one line, `Error: what. How to fix it.` (no usage block)."""

    def __init__(self, message: str, fix: str):
        super().__init__(message)
        self.fix = fix

    def show(self, file=None) -> None:
        click.echo(f"Error: {self.format_message().rstrip('.')}. {self.fix}", err=True)


def _one_line(exc: click.UsageError) -> click.UsageError:
    if isinstance(exc, (OneLineUsageError, click.exceptions.NoArgsIsHelpError)):
        return exc
    path = exc.ctx.command_path if exc.ctx is not None else "orusage"
    return OneLineUsageError(exc.format_message(), f"See `{path} --help`.")


class Listing(click.Group):
    """Lists its commands with their whole short description (click cuts them at ~45 columns)."""

    def format_commands(self, ctx, formatter) -> None:
        rows = []
        for name in self.list_commands(ctx):
            cmd = self.get_command(ctx, name)
            if cmd is not None and not cmd.hidden:
                rows.append((name, cmd.get_short_help_str(limit=1000)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


def _on_signal(signum, frame):
    note_signal(signum)
    raise KeyboardInterrupt() if signum == signal.SIGINT else Terminated()


def _stop_on_signals() -> None:
    """Ctrl-C and SIGTERM stop a command the same way: the run's unpublished work is removed,
    the lock released, one line, and the exit code is 130 or 143."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _on_signal)
        signal.signal(signal.SIGINT, _on_signal)


class Group(Listing):
    """Turns library errors into one line and an exit code, never a traceback."""

    def make_context(self, info_name, args, parent=None, **extra):
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except click.UsageError as exc:
            raise _one_line(exc) from None

    def invoke(self, ctx):
        _stop_on_signals()
        try:
            return super().invoke(ctx)
        except click.UsageError as exc:
            raise _one_line(exc) from None
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
  2   usage error (a bad option, argument or option value), or a bad
      setting in the configuration
  3   check/run: a budget is exceeded or an anomaly was found
  4   reconcile: the lake and OpenRouter's numbers differ beyond tolerance
  5   collect: some ids never came
  75  another run holds the lake lock; retry later or use --wait
  130 stopped by Ctrl-C, 143 stopped by SIGTERM: nothing of the run was
      published, the lock is released; run it again
"""


@click.group(cls=Group, context_settings=CONTEXT, epilog=ALL_EXIT_CODES_HELP)
@click.version_option(package_name="orusage")
def main():
    """orusage: OpenRouter generation exports -> a validated Parquet lake -> usage and cost reports.

    Every command that uses a lake finds it the same way: --lake DIR, else $ORUSAGE_LAKE, else
    `lake` of the settings file (--config FILE, else $ORUSAGE_CONFIG, else ./orusage.toml when
    present), else ./lake.

    \b
    Quick start:
      orusage ingest data/sample          # build ./lake from the bundled sample
      orusage report                      # spend, tokens, latency by model, provider, region, app
      orusage quarantine                  # what was set aside, and why
    """


INGEST_EXIT_CODES = {
    0: "done (quarantined rows are counted, not failures)",
    1: "the run could not proceed (a missing path; nothing ingestible in a directory; an "
    "unsupported, unreadable, corrupt or binary file, or one with no JSON object; a full disk): "
    "one line `Error: ...`, and the lake is unchanged; or more than --max-quarantine-ratio of "
    "the rows read was quarantined (the good rows were kept)",
    2: "usage error (a bad option or option value), or a bad setting",
    75: "another run holds the lake lock; retry later or pass --wait SECONDS",
    **STOP_CODES,
}


@main.command(epilog=epilog(INGEST_EXIT_CODES, "orusage ingest exports/ --lake ./lake --json"))
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@lake_option
@config_option
@json_option("the run summary")
@click.option("--force", is_flag=True, help="Read files even if a file with the same sha256 was ingested before.")
@schema_contract_option
@wait_option
@click.option(
    "--max-quarantine-ratio",
    type=click.FloatRange(0.0, 1.0),
    default=None,
    metavar="R",
    help="Exit 1 (after keeping the good rows) when more than this share of the rows read was "
    "quarantined; 1 turns the check off. Default: max_quarantine_ratio of the settings "
    "($ORUSAGE_MAX_QUARANTINE_RATIO, the config file), else 0.05, as for `orusage run`.",
)
def ingest(paths, lake, config, as_json, force, schema_contract, wait, max_quarantine_ratio):
    """Validate JSONL exports of generation records and add them to the lake.

    PATHS are files or directories (searched recursively) of .jsonl, .ndjson or .json (one JSON
    record per line), plain or compressed (.gz, .zst), and dashboard CSV exports
    (openrouter_activity_*.csv, recognised by their header; see docs/csv-import.md). A line is a
    bare record or the API envelope {"data": {...}}. Valid rows are published to <lake>/generations/date=YYYY-MM-DD/ in
    one atomic step; invalid rows go to <lake>/quarantine/ with every reason; records identical to
    one already kept are counted as duplicates. A file already ingested (same sha256) is skipped.
    """
    from pipeline.ingest.run import Options
    from pipeline.ingest.run import ingest as run_ingest

    found = settings(
        config, lake=lake, lock_wait_seconds=wait, schema_contract=schema_contract, max_quarantine_ratio=max_quarantine_ratio
    )
    summary = run_ingest(
        list(paths),
        found.lake,
        Options(force=force, schema_contract=found.schema_contract, wait=found.lock_wait_seconds),
    )
    from pipeline.ops.runner import quarantine_ratio_error

    ratio_error = quarantine_ratio_error(summary, found.max_quarantine_ratio, found.lake)
    if as_json:
        click.echo(json.dumps(summary))
    else:
        from pipeline.render.summary import render_summary

        render_summary(summary, hint=command("quarantine", *(["--lake", lake] if lake is not None else [])))
    if ratio_error is not None:
        raise ratio_error


QUARANTINE_EXIT_CODES = {
    0: "done (also when the quarantine is empty)",
    1: "could not proceed (no lake at the path): one line `Error: ...`",
    2: "usage error (a bad option or option value), or a bad setting",
}


@main.group(
    cls=Listing,
    invoke_without_command=True,
    epilog=epilog(
        QUARANTINE_EXIT_CODES,
        """
        orusage quarantine                       # the latest rows, one line each
        orusage quarantine --run 20261126T0500   # one run's rows
        orusage quarantine show bad-lines.jsonl:7
        """,
    ),
)
@lake_option
@config_option
@click.option("--run", "run_id", default=None, metavar="ID", help="Only rows of the runs whose id starts with ID.")
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True, help="Rows to list.")
@json_option("the rows", lines=True)
@click.pass_context
def quarantine(ctx, lake, config, run_id, limit, as_json):
    """Quarantined rows with their reasons (newest run first); `show` one in full, `replay` them.

    Without a subcommand, lists the latest quarantined rows: run, file:line, id and every reason.
    The options --lake and --config may also be given after the subcommand.
    """
    if ctx.invoked_subcommand is not None:
        return
    from pipeline.query.quarantine import list_rows
    from pipeline.render.quarantine import render_rows

    root = lake_root(settings(config, lake=lake))
    rows = list_rows(root, run_id=run_id, limit=limit)
    if as_json:
        for row in rows:
            click.echo(json.dumps(row, default=str))
    else:
        render_rows(rows, root)


SHOW_EXIT_CODES = {
    0: "done",
    1: "could not proceed (no lake at the path, or no quarantined row matches): one line `Error: ...`",
    2: "usage error (a missing WHERE, a bad option value), or a bad setting",
}


@quarantine.command("show", epilog=epilog(SHOW_EXIT_CODES, "orusage quarantine show bad-lines.jsonl:7"))
@click.argument("where")
@lake_option
@config_option
@click.pass_context
def quarantine_show(ctx, where, lake, config):
    """One quarantined row in full, with its reasons and raw text: WHERE is an id or FILE:LINE.

    FILE may be a suffix of the stored path (bad-lines.jsonl:7 matches data/sample/bad-lines.jsonl
    line 7).
    """
    from pipeline.query.quarantine import find_rows
    from pipeline.render.quarantine import render_full

    found = settings(inherited(ctx, "config", config), lake=inherited(ctx, "lake", lake))
    render_full(find_rows(lake_root(found), where))


from pipeline.cli.report import report, sql, views  # noqa: E402

main.add_command(report)
main.add_command(sql)
main.add_command(views)


from pipeline.cli.ops import register as _register_ops  # noqa: E402  (run, check, compact, prune, quarantine replay)

_register_ops(main, quarantine)


from pipeline.cli.openrouter import collect, reconcile  # noqa: E402

main.add_command(reconcile)
main.add_command(collect)

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
